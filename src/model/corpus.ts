/**
 * The training text of the project's own small transformer, written by the project: a seeded
 * generator of short English documents over the lessons' words ("the cat sat on the mat.") and
 * a few hundred more. Plain TypeScript, deterministic per seed, runs in Node and the browser.
 *
 * What the text is built to teach, so that the trained heads have something to find:
 *   - grammar with fixed slots (article → adjective → noun → verb → place): a head that looks
 *     at the previous token pays off;
 *   - pronouns that agree with an earlier noun ("the girl fed the dog and she laughed."): the
 *     other noun before the pronoun always has a different gender, so agreement alone says who
 *     the pronoun means and a head that looks back at the subject pays off;
 *   - questions answered by repeating words ("where is the cat? the cat is on the mat.");
 *   - repeated spans: in most documents a span of 8–24 tokens (random words, or a stretch of
 *     the document itself) appears again verbatim a little later. Random words cannot be
 *     predicted the first time, but the second time each one is the word that followed the
 *     previous occurrence of the current word: an induction head pays off;
 *   - the lessons' sentences, often, so the landing view's sentences are in-distribution.
 *
 * The token stream is `<eos> document <eos> document …`: every document starts after an
 * `<eos>`, which the model therefore also reads as "beginning of text".
 */
import { makeRng, type Rng } from '../reference/random';
import { AttentionInputError } from '../core/errors';
import { END_OF_TEXT, joinWords, makeVocabulary, type Vocabulary } from './vocab';

// ---------------------------------------------------------------------------------------------
// Words
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Sentences
// ---------------------------------------------------------------------------------------------

/** The templates. */
export type SentenceKind =
  | 'lesson'
  | 'simple'
  | 'place'
  | 'transitive'
  | 'state'
  | 'pronoun-clause'
  | 'pronoun-next'
  | 'possessive'
  | 'question'
  | 'compound'
  | 'exclamation';

/** How often each template is drawn (weights, summing to 100). */
const KIND_WEIGHTS: ReadonlyArray<readonly [SentenceKind, number]> = [
  ['lesson', 10],
  ['simple', 7],
  ['place', 13],
  ['transitive', 15],
  ['state', 6],
  ['pronoun-clause', 15],
  ['pronoun-next', 9],
  ['possessive', 8],
  ['question', 9],
  ['compound', 5],
  ['exclamation', 3],
];

/** A pronoun and what it refers to, as positions (in the document when in a CorpusDocument). */
export interface PronounLink {
  /** Position of the pronoun. */
  pronoun: number;
  /** Positions of the noun(s) it refers to (two for "the cat and the dog … they"). */
  antecedents: number[];
  gender: Gender;
  form: 'subject' | 'object' | 'possessive';
}

/** One generated sentence (or two, for 'pronoun-next' and 'question'), with its pronoun links. */
export interface CorpusSentence {
  kind: SentenceKind;
  /** Position of its first token in the document. */
  start: number;
  words: string[];
  pronouns: PronounLink[];
}

const pick = <T>(rng: Rng, items: readonly T[]): T => items[Math.floor(rng() * items.length)];
const chance = (rng: Rng, p: number) => rng() < p;
const be = (gender: Gender) => (gender === 'they' ? 'were' : 'was');
const bePresent = (gender: Gender) => (gender === 'they' ? 'are' : 'is');
const startsWithVowel = (word: string) => /^[aeiou]/.test(word);

/** An actor as a subject, with the lessons' cat and dog drawn more often than the rest. */
function pickActor(rng: Rng, exclude?: Gender): Actor {
  const pool = exclude ? ACTORS.filter((a) => a.gender !== exclude) : ACTORS;
  if (chance(rng, 0.2)) {
    const favourite = pick(rng, [ANIMALS[0], ANIMALS[1]]);
    if (favourite.gender !== exclude) return favourite;
  }
  return pick(rng, pool);
}

/** Builds one sentence's words, remembering pronoun links (positions within the sentence). */
class SentenceBuilder {
  readonly words: string[] = [];
  readonly pronouns: PronounLink[] = [];
  constructor(private readonly rng: Rng) {}

  add(...words: string[]): this {
    this.words.push(...words);
    return this;
  }

  /** "the", "a" or "an" before `next`; `indefinite` asks for a/an. */
  private article(next: string, indefinite: boolean) {
    this.add(indefinite ? (startsWithVowel(next) ? 'an' : 'a') : 'the');
  }

  /**
   * An actor's noun phrase ("the big dog", "a cat", "tom", "anna's dog", "the kids"); returns
   * the position of the noun. The owner of "anna's dog" never shares the dog's gender, so a
   * later pronoun still points at one noun only.
   */
  actor(actor: Actor, { adjectives = 0.25, owner = 0.08, indefinite = 0.15 } = {}): number {
    const rng = this.rng;
    if (actor.name) {
      this.add(actor.word);
      return this.words.length - 1;
    }
    const adjective = chance(rng, adjectives) ? pick(rng, ADJECTIVES) : undefined;
    if (actor.gender !== 'they' && chance(rng, owner)) {
      const ownerActor = pick(rng, [...HE, ...SHE].filter((a) => a.gender !== actor.gender));
      if (!ownerActor.name) this.add('the');
      this.add(ownerActor.word, "'s");
    } else if (actor.gender === 'they') {
      this.add('the');
    } else {
      this.article(adjective ?? actor.word, chance(rng, indefinite));
    }
    if (adjective) this.add(adjective);
    this.add(actor.word);
    return this.words.length - 1;
  }

  /** A thing's noun phrase: "the ball", "a red ball", "an apple". */
  thing(word: string, adjectives = 0.3): void {
    const adjective = chance(this.rng, adjectives) ? pick(this.rng, ADJECTIVES) : undefined;
    this.article(adjective ?? word, chance(this.rng, 0.35));
    if (adjective) this.add(adjective);
    this.add(word);
  }

  /** A pronoun referring back to the noun(s) at `antecedents`. */
  pronoun(gender: Gender, form: PronounLink['form'], antecedents: number[]): void {
    this.add(PRONOUNS[gender][form]);
    this.pronouns.push({ pronoun: this.words.length - 1, antecedents, gender, form });
  }

  staticPlace(): void {
    const prep = pick(this.rng, Object.keys(STATIC_PLACES));
    this.add(prep, 'the', pick(this.rng, STATIC_PLACES[prep]));
  }

  motionPlace(): void {
    const prep = pick(this.rng, Object.keys(MOTION_PLACES));
    this.add(prep, 'the', pick(this.rng, MOTION_PLACES[prep]));
  }

  /** An intransitive verb phrase; places only when `places` (a place is an "it" noun). */
  intransitive(places: boolean): void {
    const rng = this.rng;
    const r = rng();
    if (places && r < 0.35) this.add(pick(rng, STATIC_VERBS)).staticPlace();
    else if (places && r < 0.7) this.add(pick(rng, MOTION_VERBS)).motionPlace();
    else {
      this.add(pick(rng, BARE_VERBS));
      if (chance(rng, 0.3)) this.add(pick(rng, ADVERBS));
    }
  }

  /** A transitive verb with a thing, food or drink object (all "it" nouns). */
  thingObject(): void {
    const rng = this.rng;
    const r = rng();
    if (r < 0.6) {
      this.add(pick(rng, THING_VERBS));
      this.thing(pick(rng, THINGS));
    } else if (r < 0.85) {
      this.add(pick(rng, FOOD_VERBS));
      this.thing(pick(rng, FOOD), 0.15);
    } else {
      this.add(pick(rng, DRINK_VERBS), 'the', pick(rng, DRINKS));
    }
  }

  opener(p: number): void {
    if (chance(this.rng, p)) this.add(...pick(this.rng, OPENERS), ',');
  }
}

/** One sentence of the given template (random when not given). */
export function generateSentence(rng: Rng, kind: SentenceKind = pickKind(rng)): { kind: SentenceKind; words: string[]; pronouns: PronounLink[] } {
  const b = new SentenceBuilder(rng);
  switch (kind) {
    case 'lesson':
      b.add(...pick(rng, LESSON_SENTENCES).split(' '));
      break;
    case 'simple': {
      // "the boy smiled." / "a cat slept quietly."
      b.opener(0.1);
      b.actor(pickActor(rng));
      b.add(pick(rng, BARE_VERBS));
      if (chance(rng, 0.3)) b.add(pick(rng, ADVERBS));
      b.add('.');
      break;
    }
    case 'place': {
      // "the cat sat on the mat." / "one day, tom walked to the park."
      b.opener(0.15);
      b.actor(pickActor(rng));
      if (chance(rng, 0.5)) b.add(pick(rng, STATIC_VERBS)).staticPlace();
      else b.add(pick(rng, MOTION_VERBS)).motionPlace();
      b.add('.');
      break;
    }
    case 'transitive': {
      // "the dog chased the cat." / "anna found a red ball in the garden."
      b.opener(0.1);
      const subject = pickActor(rng);
      b.actor(subject);
      if (chance(rng, 0.5)) {
        b.add(pick(rng, ACTOR_VERBS));
        let object = pickActor(rng);
        // Not "zoe loved zoe": one redraw from everyone else.
        if (object === subject) object = pick(rng, ACTORS.filter((a) => a !== subject));
        b.actor(object, { owner: 0 });
      } else b.thingObject();
      if (chance(rng, 0.25)) b.staticPlace();
      b.add('.');
      break;
    }
    case 'state': {
      // "the cat was hungry." / "the kids were very happy." / "the ball was red."
      if (chance(rng, 0.8)) {
        const actor = pickActor(rng);
        b.actor(actor, { adjectives: 0.1 });
        b.add(be(actor.gender));
      } else {
        b.add('the', pick(rng, THINGS), 'was');
      }
      if (chance(rng, 0.2)) b.add(chance(rng, 0.7) ? 'very' : 'not');
      b.add(pick(rng, chance(rng, 0.8) ? STATES : ADJECTIVES), '.');
      break;
    }
    case 'pronoun-clause': {
      // Subject and object of different genders, then a pronoun that can only mean the subject
      // (or, in "… and she fed it.", one for each): "the girl chased the dog and she laughed."
      const subject = pickActor(rng);
      const object = pickActor(rng, subject.gender);
      const variant = rng();
      if (variant < 0.2) {
        // "when the dog saw the boy, it ran into the garden."
        b.add('when');
        const s = b.actor(subject, { owner: 0, indefinite: 0 });
        b.add(pick(rng, ACTOR_VERBS));
        b.actor(object, { owner: 0, indefinite: 0 });
        b.add(',');
        b.pronoun(subject.gender, 'subject', [s]);
        b.intransitive(true);
      } else {
        // No "anna's dog" here: the owner would be a third noun, of the object's gender maybe.
        const s = b.actor(subject, { owner: 0, indefinite: 0 });
        b.add(pick(rng, ACTOR_VERBS));
        const o = b.actor(object, { owner: 0, indefinite: 0 });
        if (variant < 0.55) {
          b.add('and');
          b.pronoun(subject.gender, 'subject', [s]);
          b.intransitive(true);
        } else if (variant < 0.8) {
          b.add(pick(rng, ['because', 'but']));
          b.pronoun(subject.gender, 'subject', [s]);
          b.add(be(subject.gender), pick(rng, STATES));
        } else {
          b.add('and');
          b.pronoun(subject.gender, 'subject', [s]);
          b.add(pick(rng, ['fed', 'hugged', 'helped', 'followed', 'called', 'watched']));
          b.pronoun(object.gender, 'object', [o]);
        }
      }
      b.add('.');
      break;
    }
    case 'pronoun-next': {
      // Two sentences; the second's pronoun means the first's subject: "the boy found a kite. he was happy."
      const subject = pickActor(rng);
      const s = b.actor(subject, { indefinite: 0.3 });
      const r = rng();
      if (r < 0.4) {
        b.add(pick(rng, ACTOR_VERBS));
        b.actor(pickActor(rng, subject.gender), { owner: 0 });
      } else if (r < 0.7 && subject.gender !== 'it') b.thingObject();
      else b.intransitive(subject.gender !== 'it');
      b.add('.');
      if (chance(rng, 0.25)) b.add('then');
      b.pronoun(subject.gender, 'subject', [s]);
      if (chance(rng, 0.5)) b.add(be(subject.gender), pick(rng, STATES));
      else b.intransitive(true);
      b.add('.');
      break;
    }
    case 'possessive': {
      // "the boy lost his ball." / "the kids found their kite in the garden."
      const subject = pickActor(rng);
      const s = b.actor(subject);
      b.add(pick(rng, THING_VERBS));
      b.pronoun(subject.gender, 'possessive', [s]);
      if (chance(rng, 0.2)) b.add(pick(rng, ADJECTIVES));
      b.add(pick(rng, THINGS));
      if (chance(rng, 0.3)) b.staticPlace();
      b.add('.');
      break;
    }
    case 'question': {
      const subject = pickActor(rng);
      if (chance(rng, 0.6)) {
        // "where is the cat? the cat is on the mat." (or "it is on the mat.")
        const past = chance(rng, 0.4);
        const verb = past ? be(subject.gender) : bePresent(subject.gender);
        b.add('where', verb);
        const s = b.actor(subject, { adjectives: 0.15, owner: 0, indefinite: 0 });
        const phrase = b.words.slice(2);
        b.add('?');
        if (chance(rng, 0.4)) b.pronoun(subject.gender, 'subject', [s]);
        else b.add(...phrase);
        b.add(verb);
        b.staticPlace();
      } else {
        // "who chased the cat? the dog chased the cat."
        b.add('who');
        const start = b.words.length;
        if (chance(rng, 0.5)) {
          b.add(pick(rng, ACTOR_VERBS));
          b.actor(pickActor(rng), { owner: 0, indefinite: 0 });
        } else b.thingObject();
        const predicate = b.words.slice(start);
        b.add('?');
        b.actor(subject, { owner: 0 });
        b.add(...predicate);
      }
      b.add('.');
      break;
    }
    case 'compound': {
      // "the cat and the dog sat on the rug." / "… and they slept."
      const first = pickActor(rng, 'they');
      const second = pickActor(rng, 'they');
      const a = b.actor(first, { owner: 0, indefinite: 0 });
      b.add('and');
      const c = b.actor(second, { owner: 0, indefinite: 0 });
      b.intransitive(true);
      if (chance(rng, 0.4)) {
        b.add('and');
        b.pronoun('they', 'subject', [a, c]);
        b.intransitive(false);
      }
      b.add('.');
      break;
    }
    case 'exclamation': {
      const r = rng();
      if (r < 0.4) {
        // "look, the dog ran into the garden!"
        b.add('look', ',');
        b.actor(pickActor(rng));
        b.intransitive(true);
      } else if (r < 0.7) {
        // "oh no, the cat ate the cake!"
        b.add('oh', 'no', ',');
        b.actor(pickActor(rng));
        b.thingObject();
      } else {
        // "wow, what a big dog!"
        const adjective = pick(rng, ADJECTIVES);
        b.add('wow', ',', 'what', startsWithVowel(adjective) ? 'an' : 'a', adjective, pick(rng, [...ANIMALS.map((a) => a.word), ...THINGS]));
      }
      b.add('!');
      break;
    }
  }
  return { kind, words: b.words, pronouns: b.pronouns };
}

function pickKind(rng: Rng): SentenceKind {
  let r = rng() * 100;
  for (const [kind, weight] of KIND_WEIGHTS) {
    r -= weight;
    if (r < 0) return kind;
  }
  return 'lesson';
}

// ---------------------------------------------------------------------------------------------
// Documents: sentences plus a repeated span
// ---------------------------------------------------------------------------------------------

/** Shortest and longest repeated span, in tokens. */
export const REPEAT_LENGTH = { min: 8, max: 24 } as const;
/** Chance that a corpus document gets a repeated span. */
export const REPEAT_PROBABILITY = 0.75;
/** Of the repeats, the share made of random words (the rest copy a stretch of the document). */
export const RANDOM_SPAN_SHARE = 0.6;
/** A corpus document's target length in tokens (drawn uniformly; it ends at the next sentence end). */
export const DOCUMENT_TOKENS = { min: 24, max: 96 } as const;

/**
 * A span that appears twice in a document: `length` tokens at `source` and again, verbatim, at
 * `target` (≥ source + length). 'random': random words (inserted twice); 'copy': a stretch of
 * the document's own text (it may start or end mid-sentence) repeated.
 */
export interface CorpusRepeat {
  kind: 'random' | 'copy';
  source: number;
  target: number;
  length: number;
}

/** A document: its token ids (without the `<eos>` around it), its sentences and repeats. */
export interface CorpusDocument {
  ids: number[];
  sentences: CorpusSentence[];
  repeats: CorpusRepeat[];
}

/** A piece of a document before it is flattened: a sentence, or one copy of a repeated span. */
interface Piece {
  words: string[];
  sentence?: { kind: SentenceKind; pronouns: PronounLink[] };
  /** Which repeat this piece is a copy of, and which copy. */
  repeat?: { index: number; copy: 'first' | 'second'; kind: CorpusRepeat['kind']; source?: number };
}

/**
 * A document of about `tokens` tokens with its structure: sentences are drawn until there are
 * at least `tokens` tokens (so it ends at a sentence end), then — with `repeats` (default true)
 * and REPEAT_PROBABILITY — one span of 8–24 tokens is repeated:
 *   - 'random' (RANDOM_SPAN_SHARE): random words (uniform over `wordIds`), inserted at a
 *     sentence boundary and again 0–2 sentences later (0: back to back);
 *   - 'copy': a stretch of the text so far (half the time starting at a sentence start),
 *     repeated at the first sentence boundary after it, or one sentence later.
 * Both copies sit close together (a few dozen tokens apart) so a short context sees both.
 */
export function generateDocumentDetail(rng: Rng, tokens: number, options: { repeats?: boolean } = {}): CorpusDocument {
  if (!(tokens >= 1) || !Number.isFinite(tokens)) throw new AttentionInputError('tokens', String(tokens), 'a finite number ≥ 1', 'shape');
  const vocab = makeCorpusVocabulary();
  const pieces: Piece[] = [];
  let length = 0;
  while (length < tokens) {
    const sentence = generateSentence(rng);
    pieces.push({ words: sentence.words, sentence: { kind: sentence.kind, pronouns: sentence.pronouns } });
    length += sentence.words.length;
  }
  if ((options.repeats ?? true) && chance(rng, REPEAT_PROBABILITY)) insertRepeat(rng, pieces, vocab);
  return flatten(pieces, vocab);
}

/** The ids of a document of about `tokens` tokens (see `generateDocumentDetail`). */
export function generateDocument(rng: Rng, tokens: number): number[] {
  return generateDocumentDetail(rng, tokens).ids;
}

/** The next document of the corpus stream: a target length drawn from DOCUMENT_TOKENS, then `generateDocumentDetail`. */
export function generateCorpusDocument(rng: Rng): CorpusDocument {
  const target = DOCUMENT_TOKENS.min + Math.floor(rng() * (DOCUMENT_TOKENS.max - DOCUMENT_TOKENS.min + 1));
  return generateDocumentDetail(rng, target);
}

function insertRepeat(rng: Rng, pieces: Piece[], vocab: Vocabulary): void {
  const length = REPEAT_LENGTH.min + Math.floor(rng() * (REPEAT_LENGTH.max - REPEAT_LENGTH.min + 1));
  const flat = pieces.flatMap((p) => p.words);
  if (chance(rng, RANDOM_SPAN_SHARE) || flat.length < length + 1) {
    const pool = wordIds(vocab);
    const words = Array.from({ length }, () => vocab.tokens[pick(rng, pool)]);
    const first = Math.floor(rng() * (pieces.length + 1));
    const second = Math.min(first + Math.floor(rng() * 3), pieces.length);
    // Second copy first, so inserting it does not move the first copy's boundary.
    pieces.splice(second, 0, { words, repeat: { index: 0, copy: 'second', kind: 'random' } });
    pieces.splice(first, 0, { words, repeat: { index: 0, copy: 'first', kind: 'random' } });
    return;
  }
  // Piece starts (in tokens), to align half the copies with a sentence start and to find the
  // boundary where the second copy goes.
  const starts: number[] = [];
  let at = 0;
  for (const p of pieces) {
    starts.push(at);
    at += p.words.length;
  }
  const aligned = starts.filter((s) => s + length <= flat.length);
  const source = chance(rng, 0.5) && aligned.length > 0 ? pick(rng, aligned) : Math.floor(rng() * (flat.length - length + 1));
  // First piece boundary at or after the end of the source span, then maybe one sentence more.
  let boundary = starts.findIndex((s) => s >= source + length);
  if (boundary < 0) boundary = pieces.length;
  boundary = Math.min(boundary + (chance(rng, 0.5) ? 1 : 0), pieces.length);
  pieces.splice(boundary, 0, { words: flat.slice(source, source + length), repeat: { index: 0, copy: 'second', kind: 'copy', source } });
}

function flatten(pieces: Piece[], vocab: Vocabulary): CorpusDocument {
  const ids: number[] = [];
  const sentences: CorpusSentence[] = [];
  let firstCopy = -1;
  const repeats: CorpusRepeat[] = [];
  for (const piece of pieces) {
    const start = ids.length;
    for (const word of piece.words) {
      const id = vocab.id(word);
      // A template wrote a word missing from the vocabulary: a bug here, not bad input.
      if (id === undefined) throw new Error(`corpus: "${word}" is not in the corpus vocabulary`);
      ids.push(id);
    }
    if (piece.sentence) {
      const shift = (p: PronounLink): PronounLink => ({ ...p, pronoun: p.pronoun + start, antecedents: p.antecedents.map((a) => a + start) });
      sentences.push({ kind: piece.sentence.kind, start, words: piece.words, pronouns: piece.sentence.pronouns.map(shift) });
    } else if (piece.repeat?.copy === 'first') {
      firstCopy = start;
    } else if (piece.repeat?.copy === 'second') {
      const source = piece.repeat.kind === 'copy' ? piece.repeat.source! : firstCopy;
      repeats.push({ kind: piece.repeat.kind, source, target: start, length: piece.words.length });
    }
  }
  return { ids, sentences, repeats };
}

// ---------------------------------------------------------------------------------------------
// The corpus
// ---------------------------------------------------------------------------------------------

/** The train and held-out token streams and their vocabulary. */
export interface Corpus {
  vocab: Vocabulary;
  train: Uint16Array;
  heldOut: Uint16Array;
}

/**
 * The seed of the held-out stream. makeRng (mulberry32) walks one cycle of 2³² states by a
 * fixed odd step, so two seeds are two starting points on the same cycle; flipping the top bit
 * of the seed starts exactly 2³¹ draws away, and the train stream would have to draw 2³¹
 * numbers (hundreds of millions of tokens) before it met the held-out one.
 */
export function heldOutSeed(seed: number): number {
  return (Math.floor(seed) ^ 0x80000000) | 0;
}

/**
 * The corpus of a seed: `trainTokens` and `heldOutTokens` token ids, each a stream
 * `<eos> doc <eos> doc …` cut at exactly that length. The held-out documents come from the
 * held-out RNG stream (`heldOutSeed`), so no document is shared with train except by chance.
 */
export function generateCorpus(seed: number, sizes: { trainTokens: number; heldOutTokens: number }): Corpus {
  for (const field of ['trainTokens', 'heldOutTokens'] as const) {
    const n = sizes[field];
    if (!Number.isInteger(n) || n < 1) throw new AttentionInputError(field, String(n), 'an integer ≥ 1', 'shape');
  }
  return {
    vocab: makeCorpusVocabulary(),
    train: corpusStream(makeRng(seed), sizes.trainTokens),
    heldOut: corpusStream(makeRng(heldOutSeed(seed)), sizes.heldOutTokens),
  };
}

function corpusStream(rng: Rng, tokens: number): Uint16Array {
  const out = new Uint16Array(tokens);
  let at = 0;
  while (at < tokens) {
    out[at++] = EOS_ID;
    const doc = generateCorpusDocument(rng).ids;
    const n = Math.min(doc.length, tokens - at);
    for (let k = 0; k < n; k++) out[at + k] = doc[k];
    at += n;
  }
  return out;
}

/**
 * The baseline the trained model must beat: the mean −log p(token), in nats, of the held-out
 * tokens under the unigram frequencies of train with add-one smoothing,
 * p(v) = (count_train(v) + 1) / (|train| + vocabSize).
 */
export function unigramLoss(train: ArrayLike<number>, heldOut: ArrayLike<number>, vocabSize: number): number {
  if (!Number.isInteger(vocabSize) || vocabSize < 1) throw new AttentionInputError('vocabSize', String(vocabSize), 'an integer ≥ 1', 'shape');
  if (heldOut.length === 0) throw new AttentionInputError('heldOut', 'length 0', 'at least one token', 'length');
  const counts = new Float64Array(vocabSize);
  const check = (name: string, ids: ArrayLike<number>, i: number) => {
    const id = ids[i];
    if (!Number.isInteger(id) || id < 0 || id >= vocabSize) throw new AttentionInputError(`${name}[${i}]`, String(id), `an integer in [0, ${vocabSize})`, 'type');
    return id;
  };
  for (let i = 0; i < train.length; i++) counts[check('train', train, i)]++;
  const total = train.length + vocabSize;
  let sum = 0;
  for (let i = 0; i < heldOut.length; i++) sum -= Math.log((counts[check('heldOut', heldOut, i)] + 1) / total);
  return sum / heldOut.length;
}

/**
 * Readable text of at least `minTokens` tokens (the corpus's sentences, no repeated spans),
 * with capitals at sentence starts and for names — for the landing view to lengthen
 * the input with more sentences. splitWords/encode read it back into the corpus's tokens.
 */
export function sampleText(seed: number, minTokens: number): string {
  const doc = generateDocumentDetail(makeRng(seed), Math.max(1, minTokens), { repeats: false });
  const words = doc.sentences.flatMap((s) => s.words);
  let sentenceStart = true;
  const cased = words.map((word) => {
    const out = sentenceStart || NAMES.has(word) ? word.charAt(0).toUpperCase() + word.slice(1) : word;
    sentenceStart = word === '.' || word === '?' || word === '!';
    return out;
  });
  return joinWords(cased);
}

// ---------------------------------------------------------------------------------------------
// Drills
// ---------------------------------------------------------------------------------------------

/**
 * Two kinds of token sequences of random words that training mixes with the documents, each
 * rewarding one kind of head directly, so that the heads form within the training budget (the
 * documents reward them too, but too weakly for a 15-minute CPU run; see README):
 *   - 'alternation': after two random words, each next word repeats the word two back with
 *     probability ALTERNATION_KEEP, else is a new random word ("fox hat fox hat fox pen hat
 *     pen …"). The word two back is exactly what the previous token's position holds one step
 *     earlier, and the switches come at random places, so only a head that looks at the
 *     previous token, at every position, predicts it: a previous-token head.
 *   - 'repeats': random spans of REPEAT_DRILL.span words, each followed by a gap of
 *     REPEAT_DRILL.gap random words and the same span again. In a span's second copy every word
 *     is the one that followed the previous occurrence of the word before it: an induction
 *     head (which needs the previous-token head) predicts it.
 * Each drill starts with `<eos>` like a document, and draws words from `wordIds`.
 */
export type DrillKind = 'alternation' | 'repeats';

/** Probability that an alternation drill's next word repeats the word two back. */
export const ALTERNATION_KEEP = 0.8;
/** Span and gap lengths (inclusive) of the repeats drill. */
export const REPEAT_DRILL = { span: { min: 4, max: 16 }, gap: { min: 0, max: 16 } } as const;

/** A drill of exactly `length` ids (`<eos>` first). */
export function generateDrill(rng: Rng, kind: DrillKind, length: number): number[] {
  if (!Number.isInteger(length) || length < 1) throw new AttentionInputError('length', String(length), 'an integer ≥ 1', 'shape');
  const pool = wordIds();
  const word = () => pool[Math.floor(rng() * pool.length)];
  const between = (range: { min: number; max: number }) => range.min + Math.floor(rng() * (range.max - range.min + 1));
  const ids = [EOS_ID];
  if (kind === 'alternation') {
    ids.push(word(), word());
    while (ids.length < length) ids.push(rng() < ALTERNATION_KEEP ? ids[ids.length - 2] : word());
  } else if (kind === 'repeats') {
    while (ids.length < length) {
      const span = Array.from({ length: between(REPEAT_DRILL.span) }, word);
      const gap = between(REPEAT_DRILL.gap);
      ids.push(...span);
      for (let k = 0; k < gap; k++) ids.push(word());
      ids.push(...span);
    }
  } else {
    throw new AttentionInputError('kind', String(kind), "'alternation' or 'repeats'", 'type');
  }
  return ids.slice(0, length);
}
