/**
 * What a forward pass of a model on the GPU (GPT-2's, src/kernels/model.ts; the Llama family's,
 * src/kernels/llama-model.ts) takes and gives back: the run options, the arrays read back, the
 * device buffers the scene draws from, and the checks both runners make of the tokens.
 */
import { AttentionInputError } from '../core/errors';
import type { ModelConfig } from '../core/types';
import type { HoldResult } from '../gpu/runner';
import { WEIGHT_FORMATS, type WeightFormat } from './shader-variants';

export type { WeightFormat } from './shader-variants';

/** Per-layer tensors a run can read back. */
export const MODEL_LAYER_TENSORS = ['ln1', 'q', 'k', 'v', 'scores', 'weights', 'attn', 'resid1', 'ln2', 'mlpAct', 'resid2'] as const;
export type ModelLayerTensor = (typeof MODEL_LAYER_TENSORS)[number];
/** What a run can read back: per-layer tensors (for every layer), and the embedding, ln_f and logits. */
export type ModelReadName = ModelLayerTensor | 'embed' | 'lnF' | 'logits';
/** The default of `read`: every layer's q, k, v, scores, weights and attn, and the logits. */
export const DEFAULT_MODEL_READ: readonly ModelReadName[] = ['q', 'k', 'v', 'scores', 'weights', 'attn', 'logits'];
export const MODEL_READ_NAMES: readonly ModelReadName[] = [...MODEL_LAYER_TENSORS, 'embed', 'lnF', 'logits'];

export interface GpuModelRunOptions<H extends boolean = boolean> {
  /** What to copy back (default {@link DEFAULT_MODEL_READ}). */
  read?: readonly ModelReadName[];
  /** Cancels the run before submission or before the readback (rejects with an `AbortError`). */
  signal?: AbortSignal;
  /** Hold the run's buffers until `held.release()`: later runs write into another set (see gpu/runner). */
  hold?: H;
  /**
   * Which attention maps the run keeps per layer (default 'all'): 'all' keeps every layer's
   * scores and weights; 'weights' keeps every layer's weights (what the scene draws) and
   * computes the scores of every layer in ONE scratch buffer, so a real model at its full
   * context needs half the map memory (GPT-2 small at 1024 tokens: 12 × 48 MiB less). Reading
   * 'scores' is then refused with an AttentionInputError. 'none' computes every layer's scores
   * and weights in scratch buffers (timing runs, and long sequences whose maps the scene does not
   * draw): reading 'scores' or 'weights' is refused.
   */
  keep?: ModelKeep;
  /**
   * How attention runs (the Llama family's runner; GPT-2's computes maps only): 'maps' (default)
   * scores → softmax → P·V with the heads × T × T maps kept as `keep` says; 'fused' the fused
   * kernel (shaders/flash.wgsl) for every head of every layer, no T × T buffer at all, in
   * submissions of about a quarter second on a software adapter so progress is reported and a
   * cancel takes effect between them. Reading 'scores' or 'weights' is then refused.
   */
  attention?: 'maps' | 'fused';
  /** With 'fused': each layer's weights reduced to heads × rows × cols block maxima or means (`grids` of the result; recomputes every q·k once more). */
  reduce?: { rows: number; cols: number; mode: 'max' | 'mean' };
  /** With 'fused': called after each submission with the submissions done and in all. */
  onProgress?: (done: number, total: number) => void;
  /**
   * Rows to sample for a later check (the Llama family's runner): the run copies these rows of
   * embed, and per layer of q, attn, resid1 and resid2, and of the logits into one small buffer
   * as it goes and reads it back (`sample` of the result), and keeps every layer's packed q | k | v
   * (`layers[l].qkv` of the buffers) so keys and values can be read layer by layer afterwards
   * (GpuLlamaModel.readKeysValues). What a long run needs to be verified without its maps.
   */
  sampleRows?: readonly number[];
  /**
   * The first row whose logits are computed (the Llama family's runner; default 0): the logits
   * of a long run are T × vocab (8192 × 49152 floats is 1.5 GiB, past a storage binding), so a
   * long run computes them for its last rows only; `logits` of the result is then
   * (T − logitsFrom) × vocab. Sampled rows get their own logits either way.
   */
  logitsFrom?: number;
  /**
   * With attention 'fused': single entries of every layer's weights, w[head, query, key] for
   * each (query, key) pair (0 where the causal mask hides the key), recomputed on the GPU from
   * q, k and the rows' log-sum-exps: `weightsAt` of the result. What a long run's head scores
   * read (the weight on the previous token and on the first one, every row) without any map.
   * Pairs of integers 0 ≤ key, query < T; at most {@link MAX_WEIGHT_PAIRS}.
   */
  weightsAt?: ReadonlyArray<readonly [query: number, key: number]>;
  /**
   * With attention 'fused': every row's entropy −Σ w·ln w (nats) in every layer and head, which
   * the fused kernel computes alongside its log-sum-exps: `rowEntropy` of the result.
   */
  rowEntropy?: boolean;
}

/** Most pairs one run's `weightsAt` may ask for. */
export const MAX_WEIGHT_PAIRS = 1 << 20;

/** The sampled rows of a run (see {@link GpuModelRunOptions.sampleRows}): rows × width each, in the order given. */
export interface ModelRowSample {
  rows: number[];
  /** rows × dModel. */
  embed: Float32Array;
  /** Per layer: q and attn rows × heads·headDim, resid1 and resid2 rows × dModel. */
  layers: Array<{ q: Float32Array; attn: Float32Array; resid1: Float32Array; resid2: Float32Array }>;
  /** rows × vocabSize. */
  logits: Float32Array;
}

/** What a run keeps per layer: see {@link GpuModelRunOptions.keep}. */
export type ModelKeep = 'all' | 'weights' | 'none';
export const MODEL_KEEPS: readonly ModelKeep[] = ['all', 'weights', 'none'];

/** What a run resolves to: the arrays asked for (Float32, GptTrace's layouts) and the wall clock. */
export interface GpuModelResult {
  seqLen: number;
  /** One entry per layer, holding the per-layer tensors asked for. */
  layers: Array<Partial<Record<ModelLayerTensor, Float32Array>>>;
  embed?: Float32Array;
  lnF?: Float32Array;
  logits?: Float32Array;
  /** With attention 'fused' and `reduce`: each layer's heads × rows × cols reduced weights (cell (r, c) covers queries ⌊r·T/rows⌋… and keys ⌊c·T/cols⌋…). */
  grids?: Float32Array[];
  /** With `sampleRows`: those rows of every layer's tensors. */
  sample?: ModelRowSample;
  /** With `weightsAt`: per layer, heads × pairs weights (head h's entry for pair n at h · pairs + n). */
  weightsAt?: Float32Array[];
  /** With `rowEntropy`: per layer, heads × T row entropies in nats. */
  rowEntropy?: Float32Array[];
  /** The first row of `logits` (the run's logitsFrom; 0 when every row's). */
  logitsFrom?: number;
  /** Milliseconds from the start of encoding until the device finished the passes (wall clock, before the readback). */
  gpuMs: number;
}

/** The device buffers of a completed run (valid until a later run writes into them, its release when held, or destroy). */
export interface GpuModelBuffers {
  seqLen: number;
  layers: Array<{
    /** q | k | v packed: q at 0, k at `kOffset`, v at `vOffset` (f32 elements), each seqLen × dModel. */
    qkv: GPUBuffer;
    kOffset: number;
    vOffset: number;
    /**
     * heads × seqLen × seqLen; −∞ where masked. With keep 'weights' every layer's entry is the
     * same scratch buffer, holding the last layer's scores.
     */
    scores: GPUBuffer;
    /** heads × seqLen × seqLen softmax weights (0 where masked): what the 3D scene draws. */
    weights: GPUBuffer;
    /** P·V, seqLen × dModel. */
    attn: GPUBuffer;
  }>;
  /** seqLen × vocabSize. */
  logits: GPUBuffer;
  /** Increases whenever one of the run's buffers is replaced (bind groups built on the old ones are stale). */
  generation: number;
  /** The run's `keep` (absent: 'all'): with 'weights' the per-layer `scores` share one scratch buffer. */
  keep?: ModelKeep;
  /** 'fused': the run stored no maps (each layer's `scores` and `weights` name its attention output; draw the run's `grids`). Absent: maps. */
  attention?: 'fused';
}

/** How {@link createGpuModel} holds a model on the GPU. */
export interface GpuModelOptions {
  /**
   * Storage of the weight matrices and the token embedding: 'f32' (default), or the checkpoint's
   * own 16 bits ('f16', 'bf16'), packed two to a u32 and widened exactly in the kernels (every sum
   * in f32), which halves their memory and needs no 'shader-f16'. Parameters given as float32 are
   * rounded to the format (exactly the file's values when the file stored that format). The Llama
   * family only; norms and biases stay f32.
   */
  weights?: WeightFormat;
  /**
   * The most bytes one weight buffer may hold (default: the device's maxStorageBufferBindingSize
   * or maxBufferSize, whichever is smaller; a smaller value lowers it, e.g. to test the split).
   * The Llama family's token embedding and lm_head, when larger, are split by rows across
   * bindings (GpuLlamaModel.pieces); any other weight larger is refused naming it.
   */
  maxBindingBytes?: number;
}

/** Check `options.weights` (absent: 'f32'). Throws AttentionInputError naming the field. */
export function checkWeightFormat(value: unknown): WeightFormat {
  if (value === undefined) return 'f32';
  if (typeof value !== 'string' || !(WEIGHT_FORMATS as readonly string[]).includes(value)) {
    throw new AttentionInputError('options.weights', typeof value === 'string' ? JSON.stringify(value) : describe(value), WEIGHT_FORMATS.map((f) => `'${f}'`).join(', '), 'type');
  }
  return value as WeightFormat;
}

/** The budget of one weight buffer: what {@link GpuModelOptions}.maxBindingBytes asks, else the device's storage limit, and the limit's name for errors. */
export interface BindingBudget {
  bytes: number;
  limit: string;
}

/**
 * Check `options.maxBindingBytes` against the device's limit (`device`: maxStorageBytes of
 * src/gpu/buffers.ts). Absent: the device's. Throws AttentionInputError naming the field for a
 * value that is not an integer from 16 to the device's limit.
 */
export function checkBindingBudget(value: unknown, device: { bytes: number; limit: string }): BindingBudget {
  if (value === undefined) return device;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 16 || value > device.bytes) {
    throw new AttentionInputError('options.maxBindingBytes', describe(value), `an integer from 16 to ${device.bytes} (the device's ${device.limit})`, 'shape');
  }
  return { bytes: value, limit: 'options.maxBindingBytes' };
}

/** The model on one device. Create with {@link createGpuModel}. */
export interface GpuModel<C = ModelConfig> {
  readonly device: GPUDevice;
  readonly config: C;
  /** How its weight matrices are stored ({@link GpuModelOptions}.weights). */
  readonly weights: WeightFormat;
  /** Run the forward pass of `tokens` (1 … context ids in [0, vocabSize)); runs are queued. */
  run<H extends boolean = false>(tokens: readonly number[], options?: GpuModelRunOptions<H>): Promise<GpuModelResult & HoldResult<H, GpuModelBuffers>>;
  /** Buffers of the last completed run (null before the first, or while a run writes over them). */
  buffers(): GpuModelBuffers | null;
  /** How many buffer sets this model has now (1 without holds). */
  readonly bufferSets: number;
  /** Free every GPU object this made (the device stays the caller's). */
  destroy(): void;
}

function describe(value: unknown): string {
  if (typeof value === 'number') return Number.isNaN(value) ? 'NaN' : String(value);
  if (value === null) return 'null';
  return value === undefined ? 'undefined' : typeof value;
}

/**
 * Check a run's `weightsAt` against its length T: an array of 1 … {@link MAX_WEIGHT_PAIRS}
 * [query, key] pairs of integers in [0, T). Returns them flat (query, key, …) as the GPU reads
 * them. Throws AttentionInputError naming the entry.
 */
export function checkWeightPairs(pairs: unknown, T: number): Uint32Array {
  if (!Array.isArray(pairs)) throw new AttentionInputError('weightsAt', describe(pairs), 'an array of [query, key] pairs', 'type');
  if (pairs.length < 1 || pairs.length > MAX_WEIGHT_PAIRS) throw new AttentionInputError('weightsAt', `${pairs.length} pairs`, `from 1 to ${MAX_WEIGHT_PAIRS} pairs`, 'length');
  const flat = new Uint32Array(2 * pairs.length);
  pairs.forEach((pair: unknown, n) => {
    const ok = Array.isArray(pair) && pair.length === 2 && pair.every((v) => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < T);
    if (!ok) throw new AttentionInputError(`weightsAt[${n}]`, Array.isArray(pair) ? `[${pair.map(describe).join(', ')}]` : describe(pair), `[query, key], integers from 0 to ${T - 1}`, 'shape');
    flat[2 * n] = pair[0];
    flat[2 * n + 1] = pair[1];
  });
  return flat;
}

/** Check the tokens: 1 … context integers in [0, vocabSize). */
export function checkTokens(c: { context: number; vocabSize: number }, tokens: readonly number[]): void {
  if (!Array.isArray(tokens)) throw new AttentionInputError('tokens', describe(tokens), 'an array of token ids', 'type');
  if (tokens.length < 1 || tokens.length > c.context) {
    throw new AttentionInputError('tokens', `length ${tokens.length}`, `from 1 to ${c.context} tokens (the context)`, 'length');
  }
  tokens.forEach((id, i) => {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= c.vocabSize) {
      throw new AttentionInputError(`tokens[${i}]`, describe(id), `an integer from 0 to ${c.vocabSize - 1} (the vocabulary)`, 'shape');
    }
  });
}

/** Element offset rounded up to a multiple of 64 (256 bytes), as the attention kernels pack q | k | v. */
export const align64 = (elements: number) => Math.ceil(elements / 64) * 64;

/**
 * Check a run's `read` and `keep` (names from {@link MODEL_READ_NAMES}; a keep of
 * {@link MODEL_KEEPS}; no map read that the keep does not keep). Returns the names to read,
 * without duplicates, and the keep. Throws {@link AttentionInputError} naming the option.
 */
export function checkRunOptions(options: GpuModelRunOptions): { wanted: ModelReadName[]; keep: ModelKeep } {
  const wanted = [...new Set(options.read ?? DEFAULT_MODEL_READ)];
  for (const name of wanted) {
    if (!(MODEL_READ_NAMES as readonly string[]).includes(name)) {
      throw new AttentionInputError('read', JSON.stringify(name), `names from ${MODEL_READ_NAMES.join(', ')}`, 'type');
    }
  }
  const keep = options.keep ?? 'all';
  if (!MODEL_KEEPS.includes(keep)) throw new AttentionInputError('keep', JSON.stringify(keep), `one of ${MODEL_KEEPS.map((k) => `'${k}'`).join(', ')}`, 'type');
  if (keep !== 'all' && wanted.includes('scores')) {
    throw new AttentionInputError('read', `'scores' with keep '${keep}'`, `read without 'scores' (keep '${keep}' computes every layer's scores in one scratch buffer), or keep 'all' (the default) to read them`, 'type');
  }
  const attention = options.attention ?? 'maps';
  if (attention !== 'maps' && attention !== 'fused') throw new AttentionInputError('attention', JSON.stringify(attention), "'maps' or 'fused'", 'type');
  if (attention === 'fused') {
    for (const name of ['scores', 'weights'] as const) {
      if (wanted.includes(name)) throw new AttentionInputError('read', `'${name}' with attention 'fused'`, "no maps: the fused path stores none (ask for `reduce` grids instead)", 'type');
    }
  } else if (options.reduce !== undefined) {
    throw new AttentionInputError('reduce', JSON.stringify(options.reduce), "only with attention 'fused' (with maps, reduce the weights you read)", 'type');
  } else if (options.rowEntropy === true) {
    throw new AttentionInputError('rowEntropy', "true with attention 'maps'", "only with attention 'fused' (with maps, read the weights)", 'type');
  } else if (options.weightsAt !== undefined) {
    const given = Array.isArray(options.weightsAt) ? `${options.weightsAt.length} pairs` : describe(options.weightsAt);
    throw new AttentionInputError('weightsAt', `${given} with attention 'maps'`, "only with attention 'fused' (with maps, read the weights)", 'type');
  }
  if (keep === 'none' && wanted.includes('weights')) {
    throw new AttentionInputError('read', "'weights' with keep 'none'", "read without 'weights' (keep 'none' computes every layer's maps in scratch buffers), or keep 'weights' or 'all' to read them", 'type');
  }
  return { wanted, keep };
}
