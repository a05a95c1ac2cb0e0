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
 *
 * This file makes documents and the corpus streams; the words and the vocabulary are in
 * corpus-words.ts, the sentence templates in sentences.ts, the training drills in drills.ts.
 */
import { AttentionError, AttentionInputError } from '../core/errors';
import { makeRng, type Rng } from '../reference/random';
import { EOS_ID, NAMES, makeCorpusVocabulary, wordIds } from './corpus-words';
import { chance, generateSentence, pick, type CorpusSentence, type PronounLink, type SentenceKind } from './sentences';
import { joinWords, type Vocabulary } from './vocab';

/**
 * A sentence template wrote a word that is not in the corpus vocabulary: a bug in the corpus's
 * word lists or templates, not in the caller's input.
 */
export class CorpusVocabularyError extends AttentionError {
  override name = 'CorpusVocabularyError';
  constructor(readonly word: string) {
    super(
      `The corpus generator wrote "${word}", which is not in the corpus vocabulary: add it to a word list in ` +
        'src/model/corpus-words.ts (the vocabulary is built from those lists), or change the template in src/model/sentences.ts.',
    );
  }
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
      if (id === undefined) throw new CorpusVocabularyError(word);
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
