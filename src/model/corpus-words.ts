/**
 * The corpus's words (src/model/corpus.ts): the word lists its sentence templates draw from
 * (sentences.ts), grouped by the role a word can play, and the fixed corpus vocabulary built from
 * them. The lessons' words come first, so the landing view's sentences are in the vocabulary.
 */
import { END_OF_TEXT, makeVocabulary, type Vocabulary } from './vocab';

/** Which pronoun refers to a noun: it (animals, things, places), he, she, they (plurals). */
export type Gender = 'it' | 'he' | 'she' | 'they';

/** The pronoun forms of each gender. */
export const PRONOUNS: Readonly<Record<Gender, { subject: string; object: string; possessive: string }>> = {
  it: { subject: 'it', object: 'it', possessive: 'its' },
  he: { subject: 'he', object: 'him', possessive: 'his' },
  she: { subject: 'she', object: 'her', possessive: 'her' },
  they: { subject: 'they', object: 'them', possessive: 'their' },
};

/** A noun that can act: its word, the pronoun that refers to it, and whether it is a name (no article). */
export interface Actor {
  word: string;
  gender: Gender;
  name?: boolean;
}

const actors = (gender: Gender, words: string[], name = false): Actor[] => words.map((word) => ({ word, gender, name }));

/** Animals (and a robot): "it". The lessons' cat and dog come first. */
export const ANIMALS = actors('it', ['cat', 'dog', 'bird', 'fox', 'mouse', 'rabbit', 'horse', 'cow', 'duck', 'frog', 'owl', 'bear', 'lion', 'pig', 'goat', 'hen', 'wolf', 'puppy', 'kitten', 'robot']);
/** People and names that take "he". */
export const HE = [...actors('he', ['boy', 'man', 'king', 'prince', 'father', 'brother', 'uncle', 'grandpa']), ...actors('he', ['tom', 'sam', 'ben', 'max', 'leo', 'jack', 'paul'], true)];
/** People and names that take "she". */
export const SHE = [...actors('she', ['girl', 'woman', 'queen', 'princess', 'mother', 'sister', 'aunt', 'grandma']), ...actors('she', ['anna', 'mia', 'lily', 'emma', 'zoe', 'lucy', 'kate'], true)];
/** Plural nouns: "they". */
export const GROUPS = actors('they', ['kids', 'children', 'birds', 'dogs', 'cats', 'ducks', 'boys', 'girls', 'friends', 'rabbits', 'people']);
/** Every actor. */
export const ACTORS: readonly Actor[] = [...ANIMALS, ...HE, ...SHE, ...GROUPS];
/** Names (written without an article, capitalised by `sampleText`). */
export const NAMES: ReadonlySet<string> = new Set(ACTORS.filter((a) => a.name).map((a) => a.word));

/** Things one can hold (all "it"). */
export const THINGS = ['ball', 'book', 'box', 'hat', 'cup', 'key', 'toy', 'kite', 'stick', 'bone', 'bag', 'shoe', 'chair', 'bottle', 'letter', 'flower', 'stone', 'coin', 'ring', 'map', 'bell', 'clock', 'lamp', 'pen', 'basket', 'blanket', 'drum', 'sock', 'picture', 'shell'];
/** Food ("ate the cake"). */
export const FOOD = ['apple', 'cake', 'bread', 'cheese', 'carrot', 'fish', 'soup', 'cookie', 'banana', 'egg', 'pie', 'orange', 'sandwich'];
/** Drinks ("drank the milk"). */
export const DRINKS = ['milk', 'water', 'tea', 'juice'];

/** Where something is: preposition → the places it goes with ("on the mat", "in the garden"). */
export const STATIC_PLACES: Readonly<Record<string, readonly string[]>> = {
  on: ['mat', 'table', 'bed', 'roof', 'chair', 'sofa', 'grass', 'floor', 'wall', 'hill', 'rug'],
  in: ['garden', 'house', 'box', 'park', 'kitchen', 'river', 'forest', 'room', 'car', 'tree', 'field', 'barn', 'pond', 'sun', 'rain', 'snow'],
  under: ['table', 'bed', 'tree', 'bridge', 'chair'],
  near: ['door', 'window', 'river', 'house', 'school', 'pond'],
  by: ['window', 'door', 'river', 'fire', 'road', 'sea'],
  behind: ['house', 'tree', 'door', 'wall', 'shop', 'barn'],
};
/** Where something goes: preposition → places ("into the garden", "to the park"). */
export const MOTION_PLACES: Readonly<Record<string, readonly string[]>> = {
  into: ['garden', 'house', 'forest', 'kitchen', 'room', 'river', 'barn', 'shop', 'pond'],
  to: ['park', 'school', 'market', 'shop', 'river', 'beach', 'farm', 'zoo', 'town', 'lake'],
  over: ['fence', 'wall', 'hill', 'bridge', 'road', 'log'],
  across: ['road', 'street', 'field', 'bridge', 'river'],
  through: ['forest', 'garden', 'park', 'field', 'door'],
};

/** Intransitive verbs (past tense) that take a place of being: "sat on the mat". */
export const STATIC_VERBS = ['sat', 'slept', 'stood', 'waited', 'played', 'sang', 'hid', 'rested', 'lay', 'stayed', 'danced'];
/** Intransitive verbs that take a place of going: "ran into the garden". */
export const MOTION_VERBS = ['ran', 'walked', 'jumped', 'went', 'hurried', 'raced', 'crawled', 'came', 'swam', 'rolled', 'climbed'];
/** Intransitive verbs on their own: "the boy smiled." */
export const BARE_VERBS = ['smiled', 'laughed', 'cried', 'slept', 'sang', 'danced', 'jumped', 'ran', 'waited', 'shouted', 'yawned', 'sneezed', 'stopped', 'listened', 'left', 'fell', 'woke', 'played'];
/** Transitive verbs whose object is an actor: "the dog chased the cat". */
export const ACTOR_VERBS = ['chased', 'saw', 'followed', 'watched', 'helped', 'called', 'met', 'liked', 'loved', 'heard', 'fed', 'hugged', 'found', 'pushed', 'visited', 'scared', 'bit'];
/** Transitive verbs whose object is a thing: "the girl found a ball". */
export const THING_VERBS = ['found', 'took', 'dropped', 'carried', 'held', 'lost', 'wanted', 'liked', 'saw', 'bought', 'made', 'painted', 'kicked', 'threw', 'hid', 'moved', 'cleaned', 'broke', 'fixed', 'kept', 'opened'];
/** Transitive verbs for food and drink. */
export const FOOD_VERBS = ['ate', 'cooked', 'wanted', 'bought', 'liked', 'shared', 'found', 'made'];
export const DRINK_VERBS = ['drank', 'wanted', 'liked', 'spilled'];

/** Adjectives before a noun: "the big dog", "a red ball". */
export const ADJECTIVES = ['big', 'small', 'little', 'old', 'young', 'happy', 'sad', 'red', 'blue', 'green', 'black', 'white', 'brown', 'yellow', 'grey', 'lazy', 'quick', 'tall', 'brave', 'kind', 'clever', 'sleepy', 'funny', 'pretty', 'tiny', 'shiny', 'new', 'warm', 'cold', 'wet', 'dirty', 'soft', 'fat'];
/** Adjectives after "was": "the cat was hungry." */
export const STATES = ['happy', 'sad', 'tired', 'hungry', 'sleepy', 'angry', 'scared', 'glad', 'cold', 'warm', 'wet', 'bored', 'sick', 'busy', 'brave', 'kind', 'quiet', 'lost'];
/** Adverbs after a bare verb: "the boy smiled happily." */
export const ADVERBS = ['quickly', 'slowly', 'quietly', 'happily', 'loudly', 'again', 'too', 'today', 'yesterday'];
/** Sentence openers, each followed by a comma: "one day, the cat …". */
export const OPENERS: readonly (readonly string[])[] = [['one', 'day'], ['then'], ['later'], ['yesterday'], ['today'], ['after', 'that'], ['at', 'night'], ['in', 'the', 'morning'], ['every', 'morning'], ['suddenly'], ['soon']];

/** The lessons' sentences, which the corpus repeats often. */
export const LESSON_SENTENCES: readonly string[] = ['the cat sat on the mat .', 'the dog chased the cat .', 'the cat sat .', 'the dog sat on the mat .', 'the cat chased the dog .', 'the dog chased the cat into the garden .'];

/** Words the templates write themselves. */
const FUNCTION_WORDS = ['the', 'a', 'an', 'and', 'but', 'because', 'when', 'was', 'were', 'is', 'are', 'where', 'who', 'what', 'look', 'oh', 'no', 'wow', 'then', 'very', 'not'];

/** Punctuation and the possessive, which attach to the word before them. */
const PUNCTUATION = ['.', ',', '?', '!', "'s"];

/** The lesson words first, so the vocabulary (and the unknown-word message's examples) opens with them. */
const LESSON_WORDS = ['the', 'cat', 'sat', 'on', 'mat', 'dog', 'chased'];

let cachedVocabulary: Vocabulary | undefined;

/**
 * The corpus vocabulary, fixed and in a deterministic order: `<eos>` (id 0), '.', ',', '?', '!',
 * "'s", the lesson words (the, cat, sat, on, mat, dog, chased), then every other word of the
 * lists above in the order they are written, each once. Well under 512 tokens, so ids fit a
 * Uint16Array and an embedding table stays small.
 */
export function makeCorpusVocabulary(): Vocabulary {
  if (cachedVocabulary) return cachedVocabulary;
  const words = [
    END_OF_TEXT,
    ...PUNCTUATION,
    ...LESSON_WORDS,
    ...FUNCTION_WORDS,
    ...Object.values(PRONOUNS).flatMap((p) => [p.subject, p.object, p.possessive]),
    ...ACTORS.map((a) => a.word),
    ...THINGS,
    ...FOOD,
    ...DRINKS,
    ...Object.entries(STATIC_PLACES).flatMap(([prep, places]) => [prep, ...places]),
    ...Object.entries(MOTION_PLACES).flatMap(([prep, places]) => [prep, ...places]),
    ...STATIC_VERBS,
    ...MOTION_VERBS,
    ...BARE_VERBS,
    ...ACTOR_VERBS,
    ...THING_VERBS,
    ...FOOD_VERBS,
    ...DRINK_VERBS,
    ...ADJECTIVES,
    ...STATES,
    ...ADVERBS,
    ...OPENERS.flat(),
    ...LESSON_SENTENCES.flatMap((s) => s.split(' ')),
  ];
  cachedVocabulary = makeVocabulary([...new Set(words)]);
  return cachedVocabulary;
}

/** The id of `<eos>` in the corpus vocabulary. */
export const EOS_ID = 0;

/**
 * The ids random spans draw from: every word of the vocabulary, not `<eos>`, punctuation or
 * "'s" (a span of random words, not random symbols). Also a good pool for induction probes.
 */
export function wordIds(vocab: Vocabulary = makeCorpusVocabulary()): number[] {
  return vocab.tokens.flatMap((t, id) => (t !== END_OF_TEXT && !PUNCTUATION.includes(t) ? [id] : []));
}
