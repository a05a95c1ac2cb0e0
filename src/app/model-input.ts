/**
 * What the trained model reads, without the DOM or WebGPU: the user's sentence after `<eos>`,
 * extended with the corpus's sentences or cut to seqLen; the context limit; and the message for
 * words outside the vocabulary, with close known words. Pure (tested in Node).
 */
import { AttentionInputError } from '../core/errors';
import { sampleText } from '../model/corpus';
import { EOS_ID } from '../model/corpus-words';
import { END_OF_TEXT, UnknownWordsError, encode, type Vocabulary } from '../model/vocab';

/** Where the shipped checkpoint lies under the app's base URL. */
export const MODEL_PATH = 'models/tiny-stories/model.safetensors';

/**
 * A seqLen beyond the model's context: the page says so and offers the explorer's synthetic
 * inputs at that length instead.
 */
export class ContextLimitError extends AttentionInputError {
  override name = 'ContextLimitError';
  constructor(
    readonly seqLen: number,
    readonly context: number,
  ) {
    super('seqLen', String(seqLen), `an integer from 2 to ${context}: the model reads at most ${context} tokens (its context)`, 'too-large');
  }
}

/** What the model reads for a text and a sequence length. */
export interface ModelInput {
  /** Token ids: `<eos>`, the text's words, then (when seqLen asks for more) corpus sentences. */
  ids: number[];
  /** The token strings of `ids`. */
  words: string[];
  /** Tokens of the user's text (without `<eos>`). */
  textTokens: number;
  /** How many tokens came from the corpus's sentences (including a '.' closing the text). */
  extended: number;
  /** True when the text was longer than seqLen − 1 tokens and was cut. */
  cut: boolean;
}

/** Suggestions for an unknown word: the known words closest by edit distance (at most `count`). */
export function suggestWords(word: string, vocab: Vocabulary, count = 3): string[] {
  const known = vocab.tokens.filter((t) => /^[\p{L}\p{N}]/u.test(t));
  const scored = known.map((t) => ({ t, d: editDistance(word, t) }));
  const limit = Math.max(1, Math.ceil(word.length / 2));
  return scored
    .filter((s) => s.d <= limit)
    .sort((a, b) => a.d - b.d || Math.abs(a.t.length - word.length) - Math.abs(b.t.length - word.length) || a.t.localeCompare(b.t))
    .slice(0, count)
    .map((s) => s.t);
}

/** Edit distance (insert, delete, substitute, swap two neighbours: 1 each; optimal string alignment). */
export function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** The message for unknown words: each named, with close known words, and what is allowed. */
export function describeUnknownWords(error: UnknownWordsError, vocab: Vocabulary): string {
  const parts = error.words.map((word) => {
    const close = suggestWords(word, vocab);
    return close.length > 0 ? `"${word}" (did you mean ${close.join(', ')}?)` : `"${word}"`;
  });
  return (
    `The model does not know the word${error.words.length === 1 ? '' : 's'} ${parts.join(', ')}. ` +
    `Use words from the model's ${vocab.tokens.length}-token vocabulary (children's-story words such as the, cat, sat, on, mat, dog, chased, girl, ball, happy, and . , ? !). The previous view is kept.`
  );
}

/**
 * The tokens the model reads: `<eos>` (what every training document starts with), the text's
 * words, then — when seqLen asks for more — a '.' closing the text if it is open and sentences
 * from the corpus (`sampleText(seed, context)`, so a longer seqLen extends the same text and a
 * shorter one cuts it), to exactly seqLen tokens. Throws (AttentionInputError) for a seqLen that
 * is not an integer ≥ 2, {@link ContextLimitError} above the context, UnknownWordsError for
 * words outside the vocabulary, and for empty text or text longer than the context.
 */
export function modelInput(text: string, seqLen: number, seed: number, vocab: Vocabulary, context: number): ModelInput {
  if (!Number.isInteger(seqLen) || seqLen < 2) throw new AttentionInputError('seqLen', String(seqLen), `an integer from 2 to ${context} (the model's context)`, 'shape');
  if (seqLen > context) throw new ContextLimitError(seqLen, context);
  if (text.trim() === '') throw new AttentionInputError('text', 'empty text', 'a sentence of words the model knows, e.g. "The cat sat on the mat"', 'shape');
  const eos = vocab.id(END_OF_TEXT) ?? EOS_ID;
  const textIds = encode(text, vocab);
  if (textIds.length === 0) throw new AttentionInputError('text', JSON.stringify(text), 'at least one word the model knows', 'shape');
  if (textIds.length + 1 > context) {
    throw new AttentionInputError('text', `${textIds.length} tokens`, `at most ${context - 1} tokens (the model reads at most ${context}, and the first is ${END_OF_TEXT})`, 'too-large');
  }
  const ids = [eos, ...textIds];
  let extended = 0;
  if (ids.length < seqLen) {
    const last = vocab.tokens[ids[ids.length - 1]];
    const period = vocab.id('.');
    if (period !== undefined && !['.', '?', '!'].includes(last)) {
      ids.push(period);
      extended++;
    }
    const more = encode(sampleText(seed, context), vocab);
    for (let i = 0; ids.length < seqLen; i++) {
      ids.push(i < more.length ? more[i] : eos);
      extended++;
    }
  }
  const cut = ids.length > seqLen;
  if (cut) ids.length = seqLen;
  return { ids, words: ids.map((id) => vocab.tokens[id]), textTokens: textIds.length, extended, cut };
}

/** What {@link pretrainedInput} needs of a model's own tokenizer (src/pretrained/tokenizer.ts's ModelTokenizer). */
export interface TextTokenizer {
  encode(text: string): number[];
  pieces(ids: readonly number[]): string[];
  readonly eosId: number | null;
  /** What the model reads before a text (ModelTokenizer.startIds: its BOS, or GPT-2's <|endoftext|>). */
  readonly startIds: readonly number[];
}

/** The built-in text a real model's input is continued with, per tokenizer and seed: the corpus's story sentences as plain English. */
const continuations = new WeakMap<TextTokenizer, Map<number, number[]>>();

/**
 * What a real (pretrained) model reads: its end-of-text token first when it has one (GPT-2's
 * documents start after `<|endoftext|>`, and it gives every row the same first key, so the
 * first-token sink is measured the same way on every text), the text in the model's own tokens,
 * then — when seqLen asks for more — the built-in story text (`sampleText(seed, …)`, the same
 * text a longer seqLen extends), to exactly seqLen tokens. Same checks and errors as
 * {@link modelInput}, with the text's length in the model's tokens.
 */
export function pretrainedInput(text: string, seqLen: number, seed: number, tokenizer: TextTokenizer, context: number): ModelInput {
  if (!Number.isInteger(seqLen) || seqLen < 2) throw new AttentionInputError('seqLen', String(seqLen), `an integer from 2 to ${context} (the model's context)`, 'shape');
  if (seqLen > context) throw new ContextLimitError(seqLen, context);
  if (text.trim() === '') throw new AttentionInputError('text', 'empty text', 'some text, e.g. "The cat sat on the mat"', 'shape');
  const textIds = tokenizer.encode(text);
  const first = [...tokenizer.startIds];
  if (textIds.length + first.length > context) {
    throw new AttentionInputError('text', `${textIds.length} tokens`, `at most ${context - first.length} tokens (the model reads at most ${context})`, 'too-large');
  }
  const ids = [...first, ...textIds];
  let extended = 0;
  if (ids.length < seqLen) {
    let bySeed = continuations.get(tokenizer);
    if (!bySeed) continuations.set(tokenizer, (bySeed = new Map()));
    let more = bySeed.get(seed);
    if (!more || more.length < seqLen) {
      more = tokenizer.encode(` ${sampleText(seed, Math.max(seqLen, 64))}`);
      bySeed.set(seed, more);
    }
    for (let i = 0; ids.length < seqLen; i++) {
      ids.push(i < more.length ? more[i] : (tokenizer.eosId ?? more[i % more.length]));
      extended++;
    }
  }
  const cut = ids.length > seqLen;
  if (cut) ids.length = seqLen;
  return { ids, words: tokenizer.pieces(ids), textTokens: textIds.length, extended, cut };
}

/** The seqLen that shows all of a newly entered text: at least its tokens + `<eos>`, at most the context. */
export function seqLenForText(textTokens: number, seqLen: number, context: number): number {
  return Math.min(context, Math.max(seqLen, textTokens + 1));
}
