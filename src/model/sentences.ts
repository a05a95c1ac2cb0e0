/**
 * The corpus's sentence templates (src/model/corpus.ts): seeded, over the word lists of
 * corpus-words.ts, each sentence with the positions of its pronouns and what they refer to.
 * What they are built to teach is in corpus.ts's module comment.
 */
import type { Rng } from '../reference/random';
import {
  ACTORS,
  ADJECTIVES,
  ADVERBS,
  ANIMALS,
  BARE_VERBS,
  DRINKS,
  DRINK_VERBS,
  FOOD,
  FOOD_VERBS,
  HE,
  LESSON_SENTENCES,
  MOTION_PLACES,
  MOTION_VERBS,
  OPENERS,
  PRONOUNS,
  SHE,
  STATES,
  STATIC_PLACES,
  STATIC_VERBS,
  THINGS,
  THING_VERBS,
  ACTOR_VERBS,
  type Actor,
  type Gender,
} from './corpus-words';

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

/** A uniform pick from `items`. */
export const pick = <T>(rng: Rng, items: readonly T[]): T => items[Math.floor(rng() * items.length)];
/** True with probability `p`. */
export const chance = (rng: Rng, p: number) => rng() < p;
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
