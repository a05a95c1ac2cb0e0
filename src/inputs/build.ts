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

/** The most tokens a sentence may have (the text box is for reading, not for bulk data). */
export const MAX_SENTENCE_TOKENS = 4096;

/** Build the example the settings describe. Throws AttentionInputError naming the bad field. */
export function buildExample(state: ExampleSettings): Example {
  if (state.input === 'cat-sat') return catSatExample();
  if (state.input === 'two-d') return twoDExample();

  let tokens: string[];
  let seqLen: number;
  if (state.input === 'sentence') {
    tokens = tokenize(state.text);
    if (tokens.length === 0) throw new AttentionInputError('text', JSON.stringify(state.text), 'at least one word or symbol', 'shape');
    if (tokens.length > MAX_SENTENCE_TOKENS) {
      throw new AttentionInputError('text', `${tokens.length} tokens`, `at most ${MAX_SENTENCE_TOKENS} tokens`, 'too-large');
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
  if (!Number.isInteger(seed) || seed < 0) throw new AttentionInputError('seed', String(seed), 'an integer ≥ 0', 'shape');
  let x: Float32Array;
  if (state.input === 'sentence') x = embedTokens(tokens, dModel, true);
  else if (state.input === 'sinusoidal') x = sinusoidalPositions(seqLen, dModel);
  else x = makeUniform(makeRng(seed), seqLen * dModel);

  // Sinusoidal positions make diagonal bands through q·k ≈ PE_i·PE_j, a function of i − j;
  // sharper weights make the bands visible.
  const sharpness = state.input === 'sinusoidal' ? 2 : 1;
  const w = state.weights === 'lesson' ? lessonWeights(dModel, heads, dHead) : makeWeights(state.weights, dModel, heads, dHead, seed, sharpness);
  return { shape, inputs: { x, ...w }, tokens };
}
