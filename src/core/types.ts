/**
 * The shapes and arrays every part of the product agrees on. Pure TypeScript: no WebGPU,
 * no DOM, so the CPU reference, the GPU pipeline, the app and the tests share one vocabulary.
 *
 * All arrays are row-major Float32Array:
 * - `x`        seqLen × dModel
 * - `xKV`      kvLen × dModel (cross-attention; defaults to `x`)
 * - `wq|wk|wv` dModel × (heads·dHead); head h owns columns h·dHead … (h+1)·dHead − 1
 * - `q`        seqLen × (heads·dHead)
 * - `k`, `v`   kvLen × (heads·dHead)
 * - `scores`   heads × seqLen × kvLen = QKᵀ/√dHead, −Infinity where masked
 * - `weights`  heads × seqLen × kvLen = row softmax of scores, 0 where masked
 * - `output`   seqLen × (heads·dHead) = P·V per head
 */

/** Sizes of one attention computation. Every size is an integer ≥ 1. */
export interface AttentionShape {
  /** Number of query tokens (rows of `x`). */
  seqLen: number;
  /** Number of key/value tokens (rows of `xKV`); defaults to `seqLen`. */
  kvLen?: number;
  /** Width of each token's embedding (columns of `x`, rows of the weight matrices). */
  dModel: number;
  /** Number of heads; all heads are computed in the same dispatches. */
  heads: number;
  /** Width of one head's query/key/value vectors; scores are scaled by 1/√dHead. */
  dHead: number;
  /** When true, key j is masked for query i whenever j > i. */
  causal?: boolean;
}

/** The inputs of one attention computation (see the module comment for layouts). */
export interface AttentionInputs {
  x: Float32Array;
  /** Key/value source for cross-attention; defaults to `x` (self-attention). */
  xKV?: Float32Array;
  wq: Float32Array;
  wk: Float32Array;
  wv: Float32Array;
}

/** Every intermediate of attention, in the layouts of the module comment. */
export interface AttentionResult {
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  scores: Float32Array;
  weights: Float32Array;
  output: Float32Array;
}

/** Name of one of the six arrays of {@link AttentionResult}. */
export type ResultName = keyof AttentionResult;

/** All six result names, in pipeline order. */
export const RESULT_NAMES: readonly ResultName[] = ['q', 'k', 'v', 'scores', 'weights', 'output'];

/** The four pipeline stages that are timed separately. */
export type StageName = 'projections' | 'scores' | 'softmax' | 'output';

/** The four stages in pipeline order. */
export const STAGE_NAMES: readonly StageName[] = ['projections', 'scores', 'softmax', 'output'];

/** Milliseconds per stage of one run, and where the numbers came from. */
export interface StageTimings {
  projections: number;
  scores: number;
  softmax: number;
  output: number;
  /** From the first stage's start to the last stage's end (GPU) or the whole run (wall clock). */
  total: number;
  /**
   * `'timestamp-query'`: GPU timestamps written at each compute pass's start and end.
   * `'wall-clock'`: `performance.now()` around each stage's submit-and-wait; includes
   * submission overhead, so it overstates short stages.
   */
  source: 'timestamp-query' | 'wall-clock';
}

/** A shape with every optional field filled in. */
export interface ResolvedShape {
  seqLen: number;
  kvLen: number;
  dModel: number;
  heads: number;
  dHead: number;
  causal: boolean;
  /** heads · dHead: the width of q, k, v and output rows. */
  width: number;
}

/** Fill in the optional fields of a shape (no validation: see `validateShape`). */
export function resolveShape(shape: AttentionShape): ResolvedShape {
  return {
    seqLen: shape.seqLen,
    kvLen: shape.kvLen ?? shape.seqLen,
    dModel: shape.dModel,
    heads: shape.heads,
    dHead: shape.dHead,
    causal: shape.causal ?? false,
    width: shape.heads * shape.dHead,
  };
}

/** Number of elements of each result array for a shape. */
export function resultLengths(shape: AttentionShape): Record<ResultName, number> {
  const s = resolveShape(shape);
  const map = s.heads * s.seqLen * s.kvLen;
  return {
    q: s.seqLen * s.width,
    k: s.kvLen * s.width,
    v: s.kvLen * s.width,
    scores: map,
    weights: map,
    output: s.seqLen * s.width,
  };
}

/**
 * Sizes of a GPT-2-style decoder: src/model trains one, src/kernels/model.ts runs its forward
 * pass on the GPU. Every field is an integer ≥ 1 and `heads` divides `dModel`.
 */
export interface ModelConfig {
  /** Number of token ids (rows of `wte`, columns of the logits). */
  vocabSize: number;
  /** Longest sequence: rows of `wpe` (GPT-2's n_positions). */
  context: number;
  /** Width of the residual stream (GPT-2's n_embd). */
  dModel: number;
  /** Attention heads per block; dHead = dModel / heads. */
  heads: number;
  /** Number of blocks (GPT-2's n_layer). */
  layers: number;
  /** Width of the MLP's hidden layer (GPT-2's n_inner, 4·dModel by default there). */
  dMlp: number;
  /**
   * Whether the logits reuse `wte` (GPT-2's tie_word_embeddings, the default: true). false: a
   * separate `lm_head.weight` [vocabSize, dModel], as GPT2LMHeadModel stores it untied.
   */
  tiedEmbeddings?: boolean;
}
