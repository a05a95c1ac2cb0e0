/**
 * Rotary position embeddings (RoPE) as the Llama family computes them in Hugging Face
 * transformers, in Float64 for the reference (src/model/llama-reference.ts) and the tests.
 *
 * Convention ("rotate half", not interleaved): within one head of width d, entry i (i < d/2) is
 * paired with entry i + d/2, and the pair is rotated by the angle position · invFreq[i]:
 *   out[i]       = x[i]·cos θ − x[i + d/2]·sin θ
 *   out[i + d/2] = x[i + d/2]·cos θ + x[i]·sin θ
 * which is HF's `q·cos + rotate_half(q)·sin` with cos/sin repeated over both halves. Reading the
 * pair as the complex number x[i] + i·x[i + d/2], this multiplies it by e^{iθ}, so a rotation
 * keeps norms and q·k depends only on the difference of the two positions (the tests check both).
 *
 * Frequencies: invFreq[i] = θ_base^(−2i/d) for i < d/2 (`rope_theta`). Llama 3.x rescales them
 * for long contexts (`rope_scaling.rope_type = "llama3"`, HF's `_compute_llama3_parameters`):
 * with wavelength λ = 2π/f, L = original_max_position_embeddings,
 *   λ < L / high_freq_factor           (high frequencies, local detail): f unchanged
 *   λ > L / low_freq_factor            (low frequencies, long range):    f / factor
 *   otherwise, s = (L/λ − low)/(high − low):                            (1 − s)·f/factor + s·f
 * a smooth blend between the two, continuous at both band edges. Llama 3 scales neither cos nor
 * sin (its attention factor is 1), so nothing else changes.
 *
 * Pure TypeScript, imports only src/core and the schema's types: runs in Node and in workers.
 */
import { AttentionInputError } from '../core/errors';
import { describeValue, type Floats } from './schema';

/** Llama 3.x's long-context rescaling of the frequencies (config.json's `rope_scaling` of rope_type "llama3"). */
export interface Llama3RopeScaling {
  ropeType: 'llama3';
  /** How much longer the context got: low frequencies are divided by it (32 for Llama 3.2, 8 for 3.1). */
  factor: number;
  /** Wavelengths longer than L / lowFreqFactor are fully scaled (1 for Llama 3.x). */
  lowFreqFactor: number;
  /** Wavelengths shorter than L / highFreqFactor are left alone (4 for Llama 3.x). */
  highFreqFactor: number;
  /** L: the context the model was pretrained at before the extension (8192 for Llama 3.x). */
  originalContext: number;
}

/** What RoPE needs of a model's config (LlamaConfig extends it). */
export interface RopeConfig {
  /** Width of one attention head (config.json's head_dim, else hidden_size / heads); even. */
  headDim: number;
  /** The frequency base θ (config.json's rope_theta; 10000 when absent). */
  ropeTheta: number;
  /** Llama 3's frequency rescaling, or null for plain RoPE. */
  ropeScaling: Llama3RopeScaling | null;
}

/** Whether `value` is a finite number > 0. */
function positive(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0;
}

/**
 * Check a {@link RopeConfig}: headDim an even integer ≥ 2, ropeTheta finite and > 1 (θ ≤ 1 makes
 * every frequency ≥ 1, no longer a spread of wavelengths), and for llama3 scaling factor ≥ 1,
 * both frequency factors > 0 with low < high, and originalContext an integer ≥ 1. Throws
 * {@link AttentionInputError} naming the field (`headDim`, `ropeScaling.factor`, …).
 */
export function checkRopeConfig(config: RopeConfig): void {
  const { headDim, ropeTheta, ropeScaling } = config;
  if (!Number.isInteger(headDim) || headDim < 2 || headDim % 2 !== 0) {
    throw new AttentionInputError('headDim', describeValue(headDim), 'an even integer ≥ 2: RoPE rotates pairs of entries (i, i + headDim/2)', 'shape');
  }
  if (!positive(ropeTheta) || ropeTheta <= 1) {
    throw new AttentionInputError('ropeTheta', describeValue(ropeTheta), 'a finite number > 1 (10000 in most models, 500000 in Llama 3)', 'type');
  }
  if (ropeScaling === null) return;
  if (typeof ropeScaling !== 'object' || ropeScaling.ropeType !== 'llama3') {
    throw new AttentionInputError('ropeScaling', describeValue(ropeScaling), 'null, or { ropeType: "llama3", factor, lowFreqFactor, highFreqFactor, originalContext }', 'type');
  }
  const { factor, lowFreqFactor, highFreqFactor, originalContext } = ropeScaling;
  if (!positive(factor) || factor < 1) {
    throw new AttentionInputError('ropeScaling.factor', describeValue(factor), 'a finite number ≥ 1 (how many times longer the context got)', 'type');
  }
  if (!positive(lowFreqFactor)) {
    throw new AttentionInputError('ropeScaling.lowFreqFactor', describeValue(lowFreqFactor), 'a finite number > 0', 'type');
  }
  if (!positive(highFreqFactor) || highFreqFactor <= lowFreqFactor) {
    throw new AttentionInputError('ropeScaling.highFreqFactor', describeValue(highFreqFactor), `a finite number > lowFreqFactor ${lowFreqFactor} (the blend divides by their difference)`, 'type');
  }
  if (!Number.isInteger(originalContext) || originalContext < 1) {
    throw new AttentionInputError('ropeScaling.originalContext', describeValue(originalContext), 'an integer ≥ 1 (the pretraining context, 8192 for Llama 3.x)', 'type');
  }
}

/**
 * The rotation frequencies of one head, length headDim / 2: θ^(−2i/headDim), rescaled in three
 * bands by Llama 3's `rope_scaling` when the config has it (module comment). Throws
 * {@link AttentionInputError} for a config that {@link checkRopeConfig} refuses.
 */
export function ropeInverseFrequencies(config: RopeConfig): Float64Array {
  checkRopeConfig(config);
  const { headDim, ropeTheta, ropeScaling } = config;
  const half = headDim / 2;
  const inv = new Float64Array(half);
  for (let i = 0; i < half; i++) inv[i] = Math.pow(ropeTheta, (-2 * i) / headDim);
  if (ropeScaling === null) return inv;

  const { factor, lowFreqFactor: low, highFreqFactor: high, originalContext: context } = ropeScaling;
  const lowFreqWavelength = context / low;
  const highFreqWavelength = context / high;
  for (let i = 0; i < half; i++) {
    const f = inv[i];
    const wavelength = (2 * Math.PI) / f;
    // Short wavelengths resolve nearby tokens; stretching them would blur what the model learnt.
    if (wavelength < highFreqWavelength) continue;
    if (wavelength > lowFreqWavelength) {
      inv[i] = f / factor;
    } else {
      // s runs from 0 at the low-frequency edge to 1 at the high-frequency edge.
      const s = (context / wavelength - low) / (high - low);
      inv[i] = (1 - s) * (f / factor) + s * f;
    }
  }
  return inv;
}

/**
 * Rotate every head of every row of `x` by its row's position (module comment): `x` holds
 * positions.length rows one after another, each row `width` = x.length / positions.length wide,
 * made of width / headDim heads side by side (head h owns entries h·headDim…(h+1)·headDim − 1).
 * Returns a new Float64Array of the same layout; `x` is not changed. Positions may be any finite
 * numbers (token indices in practice). Throws {@link AttentionInputError} when invFreq is not
 * headDim / 2 long, headDim is odd, or x's length is not a whole number of rows of whole heads.
 */
export function applyRope(x: Floats, positions: ArrayLike<number>, headDim: number, invFreq: Float64Array): Float64Array {
  if (!Number.isInteger(headDim) || headDim < 2 || headDim % 2 !== 0) {
    throw new AttentionInputError('headDim', describeValue(headDim), 'an even integer ≥ 2', 'shape');
  }
  const half = headDim / 2;
  if (invFreq.length !== half) {
    throw new AttentionInputError('invFreq', `length ${invFreq.length}`, `length headDim / 2 = ${half} (ropeInverseFrequencies gives it)`, 'length');
  }
  const rows = positions.length;
  if (rows < 1 || x.length % (rows * headDim) !== 0) {
    throw new AttentionInputError('x', `length ${x.length} for ${rows} positions`, `a multiple of positions.length · headDim = ${rows * headDim} (whole heads per row)`, 'length');
  }
  const width = x.length / rows;
  const out = new Float64Array(x.length);
  const cos = new Float64Array(half);
  const sin = new Float64Array(half);
  for (let t = 0; t < rows; t++) {
    const p = positions[t];
    if (!Number.isFinite(p)) throw new AttentionInputError(`positions[${t}]`, describeValue(p), 'a finite number', 'non-finite');
    // One cos/sin per frequency per row, shared by every head of the row.
    for (let i = 0; i < half; i++) {
      const angle = p * invFreq[i];
      cos[i] = Math.cos(angle);
      sin[i] = Math.sin(angle);
    }
    for (let head = t * width; head < (t + 1) * width; head += headDim) {
      for (let i = 0; i < half; i++) {
        const a = x[head + i];
        const b = x[head + i + half];
        out[head + i] = a * cos[i] - b * sin[i];
        out[head + i + half] = b * cos[i] + a * sin[i];
      }
    }
  }
  return out;
}
