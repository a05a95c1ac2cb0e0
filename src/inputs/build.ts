/**
 * From the app state to a runnable example: shape, inputs and token labels.
 */
import { AttentionInputError } from '../core/errors';
import { validateShape } from '../core/validate';
import { makeRng, makeUniform } from '../reference/random';
import { catSatExample, embedTokens, lessonWeights, makeWeights, sinusoidalPositions, tokenize, twoDExample, type Example, type WeightKind } from './examples';

/** Where x comes from. */
export type InputKind = 'cat-sat' | 'two-d' | 'sentence' | 'random' | 'sinusoidal';
/** Which matrices: the kind of random/identity weights, or the lesson's own (examples only). */
export type WeightChoice = WeightKind | 'lesson';

/**
 * What an example is built from: the input fields of the app state (src/app/state.ts's
 * AppState has them all, so the app passes its state as it is).
 */
export interface ExampleSettings {
  input: InputKind;
  /** The sentence, for input = sentence. */
  text: string;
  seqLen: number;
  dModel: number;
  heads: number;
  dHead: number;
  causal: boolean;
  seed: number;
  weights: WeightChoice;
}

/** The longest sequence any input scales to, a sentence included (the fused path's reach). */
export const MAX_SEQ_LEN = 65536;

/**
 * Generated text that continues a sentence: exactly `count` tokens (as {@link tokenize} splits
 * them), a pure function of `seed`, and a prefix of the tokens for any larger count (so a
 * longer seqLen extends the same text). src/app/continuation.ts draws it from the corpus
 * generator; src/inputs cannot import src/model (model imports inputs' file readers).
 */
export type Continuation = (seed: number, count: number) => readonly string[];

/** A sentence at a length: its tokens, and how many of them are the user's own words. */
export interface ScaledSentence {
  tokens: string[];
  userTokens: number;
}

/** Sentence ends after which the continuation starts directly (else a '.' closes the sentence first). */
const SENTENCE_ENDS = ['.', '?', '!'];

/**
 * The user's sentence at exactly `seqLen` tokens: its own tokens first (cut when there are more),
 * then — when seqLen asks for more — a '.' closing it if it is open, and `continuation`'s tokens.
 * Throws AttentionInputError for empty text, or a seqLen that is not an integer from 2 to
 * {@link MAX_SEQ_LEN}.
 */
export function scaleSentence(text: string, seqLen: number, seed: number, continuation: Continuation): ScaledSentence {
  const own = tokenize(text);
  if (own.length === 0) throw new AttentionInputError('text', JSON.stringify(text), 'at least one word or symbol', 'shape');
  if (!Number.isInteger(seqLen) || seqLen < 2 || seqLen > MAX_SEQ_LEN) {
    throw new AttentionInputError('seqLen', String(seqLen), `an integer from 2 to ${MAX_SEQ_LEN}: a sentence is continued with generated text up to the sequence length`, seqLen > MAX_SEQ_LEN ? 'too-large' : 'shape');
  }
  if (own.length >= seqLen) return { tokens: own.slice(0, seqLen), userTokens: seqLen };
  const tokens = [...own];
  if (!SENTENCE_ENDS.includes(own[own.length - 1])) tokens.push('.');
  const more = continuation(seed, seqLen - tokens.length);
  for (let i = 0; tokens.length < seqLen; i++) tokens.push(more[i]);
  return { tokens, userTokens: own.length };
}

/**
 * Build the example the settings describe. Throws AttentionInputError naming the bad field.
 * A sentence scales with seqLen when a `continuation` is given (the explorer, see
 * {@link scaleSentence}); without one it is exactly its own tokens (the sentence lesson, and
 * any caller that wants the words alone).
 */
export function buildExample(state: ExampleSettings, continuation?: Continuation): Example {
  if (state.input === 'cat-sat') return catSatExample();
  if (state.input === 'two-d') return twoDExample();

  // The seed draws the continued text too, so it is checked first.
  if (!Number.isInteger(state.seed) || state.seed < 0) throw new AttentionInputError('seed', String(state.seed), 'an integer ≥ 0', 'shape');
  let tokens: string[];
  let seqLen: number;
  let userTokens: number | undefined;
  if (state.input === 'sentence') {
    if (continuation) {
      ({ tokens, userTokens } = scaleSentence(state.text, state.seqLen, state.seed, continuation));
    } else {
      tokens = tokenize(state.text);
      if (tokens.length === 0) throw new AttentionInputError('text', JSON.stringify(state.text), 'at least one word or symbol', 'shape');
      if (tokens.length > MAX_SEQ_LEN) throw new AttentionInputError('text', `${tokens.length} tokens`, `at most ${MAX_SEQ_LEN} tokens`, 'too-large');
      userTokens = tokens.length;
    }
    seqLen = tokens.length;
  } else {
    seqLen = state.seqLen;
    tokens = Array.from({ length: Math.min(seqLen, 4096) }, (_, i) => String(i));
  }
  const { dModel, heads, dHead, causal, seed } = state;
  const shape = { seqLen, dModel, heads, dHead, causal };
  // Check the sizes before allocating anything from them (a negative or huge size must give a
  // message naming it, not a RangeError from a typed-array constructor).
  validateShape(shape, { storesMap: false }); // the map may go to the fused path
  let x: Float32Array;
  if (state.input === 'sentence') x = embedTokens(tokens, dModel, true);
  else if (state.input === 'sinusoidal') x = sinusoidalPositions(seqLen, dModel);
  else x = makeUniform(makeRng(seed), seqLen * dModel);

  // Sinusoidal positions make diagonal bands through q·k ≈ PE_i·PE_j, a function of i − j;
  // sharper weights make the bands visible.
  const sharpness = state.input === 'sinusoidal' ? 2 : 1;
  const w = state.weights === 'lesson' ? lessonWeights(dModel, heads, dHead) : makeWeights(state.weights, dModel, heads, dHead, seed, sharpness);
  return { shape, inputs: { x, ...w }, tokens, ...(userTokens === undefined ? {} : { userTokens }) };
}
