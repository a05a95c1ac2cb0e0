/**
 * The Llama family (Llama 2/3, TinyLlama, SmolLM2, Qwen2/2.5) in Float64: its configuration, the
 * names and shapes of its tensors as Hugging Face checkpoints write them, and the forward
 * reference of one sequence with every intermediate, so a GPU forward can be checked layer by
 * layer and in the logits. Written from the architecture (transformers' modeling_llama.py and
 * modeling_qwen2.py describe it), independently of the GPT-2 path.
 *
 * One block, x the residual stream (T tokens × dModel):
 *   h = RMSNorm(x)·w₁  (x / √(mean(x²) + ε), then the weight; no mean, no bias)
 *   q = h·W_qᵀ (+ b_q), k = h·W_kᵀ (+ b_k), v = h·W_vᵀ (+ b_v)   nn.Linear weights are [out, in]
 *   q, k ← RoPE by position (rope.ts); v is not rotated
 *   query head i attends with key/value head ⌊i / (heads / kvHeads)⌋ (grouped-query attention:
 *   HF's repeat_kv repeats each kv head for a run of consecutive query heads)
 *   P = causal softmax(q·kᵀ / √headDim), a = P·v, x ← x + a·W_oᵀ (+ b_o)
 *   h = RMSNorm(x)·w₂, x ← x + W_down·(silu(W_gate·h) ⊙ W_up·h)     SwiGLU, silu(z) = z·σ(z)
 * then logits = RMSNorm(x)·w_f · W_lmᵀ, with W_lm = embed_tokens when the embeddings are tied.
 * The input is embed_tokens[token]: no position embedding (RoPE carries positions), no scaling.
 *
 * The config type and the tensor schema are in llama-schema.ts (the GPU forward reads them too).
 *
 * Pure TypeScript: runs in Node and in workers (no DOM, no WebGPU).
 */
import { AttentionInputError } from '../core/errors';
import { checkLlamaParams, type LlamaConfig } from './llama-schema';
import { matmulNT } from './matmul';
import { applyRope, ropeInverseFrequencies } from './rope';
import { checkTokenIds, describeValue, type Floats } from './schema';
import type { GptTrace } from './forward-reference';

export { checkLlamaConfig, checkLlamaParams, llamaTensorShapes, type LlamaConfig, type LlamaModelType } from './llama-schema';

/**
 * Every intermediate of one block for T tokens, in Float64, row-major. "Heads side by side"
 * means head h owns columns h·headDim…(h+1)·headDim − 1 of its row.
 */
export interface LlamaLayerTrace {
  /** The block's input x, T × dModel. */
  input: Float64Array;
  /** RMSNorm(input)·input_layernorm.weight, T × dModel. */
  norm1: Float64Array;
  /** q_proj(norm1) before RoPE, T × heads·headDim, heads side by side. */
  qPre: Float64Array;
  /** k_proj(norm1) before RoPE, T × kvHeads·headDim, heads side by side. */
  kPre: Float64Array;
  /** qPre rotated by position (what the scores use), T × heads·headDim. */
  q: Float64Array;
  /** kPre rotated by position, T × kvHeads·headDim (key/value heads, not repeated). */
  k: Float64Array;
  /** v_proj(norm1), T × kvHeads·headDim (not rotated, not repeated). */
  v: Float64Array;
  /** heads × T × T, per query head: q·kᵀ/√headDim with its kv head, −Infinity where key j > query i. */
  scores: Float64Array;
  /** heads × T × T: row softmax of scores, 0 where masked. */
  weights: Float64Array;
  /** weights·v per query head, T × heads·headDim, heads side by side (o_proj's input). */
  attn: Float64Array;
  /** o_proj(attn), T × dModel. */
  attnOut: Float64Array;
  /** input + attnOut, T × dModel. */
  resid1: Float64Array;
  /** RMSNorm(resid1)·post_attention_layernorm.weight, T × dModel. */
  norm2: Float64Array;
  /** silu(gate_proj(norm2)) ⊙ up_proj(norm2), T × dMlp (down_proj's input). */
  mlpAct: Float64Array;
  /** down_proj(mlpAct), T × dModel. */
  mlpOut: Float64Array;
  /** resid1 + mlpOut, T × dModel: the block's output (the next block's input). */
  output: Float64Array;
}

/** The whole forward pass of one sequence, in Float64 (see {@link llamaForwardReference}). */
export interface LlamaTrace {
  config: LlamaConfig;
  tokens: number[];
  /** The rotation frequencies used, length headDim / 2 (ropeInverseFrequencies(config)). */
  invFreq: Float64Array;
  /** embed_tokens[token], T × dModel: the first block's input. */
  embed: Float64Array;
  layers: LlamaLayerTrace[];
  /** RMSNorm(last block's output)·model.norm.weight, T × dModel. */
  finalNorm: Float64Array;
  /** finalNorm·W_lmᵀ, T × vocabSize (row t predicts token t + 1). */
  logits: Float64Array;
}

/** x (rows × width) normalised by each row's root mean square, times `weight` (width). */
function rmsNorm(x: Float64Array, weight: Floats, rows: number, width: number, eps: number): Float64Array {
  const out = new Float64Array(rows * width);
  for (let t = 0; t < rows; t++) {
    const at = t * width;
    let sumSq = 0;
    for (let j = 0; j < width; j++) sumSq += x[at + j] * x[at + j];
    const scale = 1 / Math.sqrt(sumSq / width + eps);
    for (let j = 0; j < width; j++) out[at + j] = x[at + j] * scale * weight[j];
  }
  return out;
}

/** y (rows × nOut) = x (rows × nIn) · Wᵀ + b, W in nn.Linear's [nOut, nIn] layout: matmulNT reads it as is. */
function linear(x: Float64Array, w: Floats, b: Floats | undefined, rows: number, nIn: number, nOut: number): Float64Array {
  const y = new Float64Array(rows * nOut);
  // Sums are kept in double whatever the storage of W (matmul.ts), so Float32 weights lose nothing here.
  matmulNT(x, 0, nIn, w, 0, nIn, y, 0, nOut, rows, nOut, nIn, false);
  if (b !== undefined) for (let t = 0; t < rows; t++) for (let j = 0; j < nOut; j++) y[t * nOut + j] += b[j];
  return y;
}

/** a + b, elementwise, into a new array. */
function add(a: Float64Array, b: Float64Array): Float64Array {
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] + b[i];
  return out;
}

/**
 * Causal grouped-query attention of one block: fills scores and weights (heads × T × T) and
 * returns attn (T × heads·headDim). Query head h reads kv head ⌊h / group⌋.
 */
function attention(config: LlamaConfig, q: Float64Array, k: Float64Array, v: Float64Array, T: number, scores: Float64Array, weights: Float64Array): Float64Array {
  const { heads, kvHeads, headDim: hd } = config;
  const group = heads / kvHeads;
  const qWidth = heads * hd;
  const kvWidth = kvHeads * hd;
  const scale = 1 / Math.sqrt(hd);
  const attn = new Float64Array(T * qWidth);
  for (let h = 0; h < heads; h++) {
    const g = Math.floor(h / group);
    const map = h * T * T;
    for (let i = 0; i < T; i++) {
      const row = map + i * T;
      let max = -Infinity;
      for (let j = 0; j <= i; j++) {
        let dot = 0;
        for (let c = 0; c < hd; c++) dot += q[i * qWidth + h * hd + c] * k[j * kvWidth + g * hd + c];
        scores[row + j] = dot * scale;
        if (scores[row + j] > max) max = scores[row + j];
      }
      for (let j = i + 1; j < T; j++) scores[row + j] = -Infinity;
      // Subtracting the row's maximum keeps exp() from overflowing; the softmax is unchanged.
      let sum = 0;
      for (let j = 0; j <= i; j++) {
        weights[row + j] = Math.exp(scores[row + j] - max);
        sum += weights[row + j];
      }
      for (let j = 0; j <= i; j++) weights[row + j] /= sum;
      const out = i * qWidth + h * hd;
      for (let j = 0; j <= i; j++) {
        const p = weights[row + j];
        for (let c = 0; c < hd; c++) attn[out + c] += p * v[j * kvWidth + g * hd + c];
      }
    }
  }
  return attn;
}

/**
 * The forward pass of one sequence in Float64 with every intermediate (module comment for the
 * computation, {@link LlamaTrace} for the layouts). Tokens sit at positions 0…T−1. Throws
 * {@link AttentionInputError} for a config {@link checkLlamaConfig} refuses, parameters
 * {@link checkLlamaParams} refuses, `tokens` empty or longer than the context (`tokens`), or an
 * id outside [0, vocabSize) (`tokens[i]`).
 */
export function llamaForwardReference(config: LlamaConfig, params: ReadonlyMap<string, Floats>, tokens: readonly number[] | Int32Array): LlamaTrace {
  checkLlamaParams(config, params);
  if (tokens === null || typeof tokens !== 'object' || typeof tokens.length !== 'number') {
    throw new AttentionInputError('tokens', describeValue(tokens), 'an array of token ids', 'type');
  }
  if (tokens.length < 1 || tokens.length > config.context) {
    throw new AttentionInputError('tokens', `length ${tokens.length}`, `from 1 to ${config.context} tokens (the model's context)`, 'length');
  }
  checkTokenIds('tokens', tokens, config.vocabSize);

  const { dModel: d, heads, kvHeads, headDim: hd, dMlp, rmsNormEps: eps } = config;
  const T = tokens.length;
  const get = (name: string): Floats => params.get(name)!;
  const invFreq = ropeInverseFrequencies(config);
  const positions = Array.from({ length: T }, (_, t) => t);
  const embedTable = get('model.embed_tokens.weight');

  const embed = new Float64Array(T * d);
  for (let t = 0; t < T; t++) for (let j = 0; j < d; j++) embed[t * d + j] = embedTable[tokens[t] * d + j];

  const layers: LlamaLayerTrace[] = [];
  let x: Float64Array = embed;
  for (let i = 0; i < config.layers; i++) {
    const p = `model.layers.${i}`;
    const bias = (name: string): Floats | undefined => params.get(`${p}.self_attn.${name}_proj.bias`);
    const norm1 = rmsNorm(x, get(`${p}.input_layernorm.weight`), T, d, eps);
    const qPre = linear(norm1, get(`${p}.self_attn.q_proj.weight`), bias('q'), T, d, heads * hd);
    const kPre = linear(norm1, get(`${p}.self_attn.k_proj.weight`), bias('k'), T, d, kvHeads * hd);
    const v = linear(norm1, get(`${p}.self_attn.v_proj.weight`), bias('v'), T, d, kvHeads * hd);
    const q = applyRope(qPre, positions, hd, invFreq);
    const k = applyRope(kPre, positions, hd, invFreq);
    const scores = new Float64Array(heads * T * T);
    const weights = new Float64Array(heads * T * T);
    const attn = attention(config, q, k, v, T, scores, weights);
    const attnOut = linear(attn, get(`${p}.self_attn.o_proj.weight`), bias('o'), T, heads * hd, d);
    const resid1 = add(x, attnOut);
    const norm2 = rmsNorm(resid1, get(`${p}.post_attention_layernorm.weight`), T, d, eps);
    const gate = linear(norm2, get(`${p}.mlp.gate_proj.weight`), undefined, T, d, dMlp);
    const up = linear(norm2, get(`${p}.mlp.up_proj.weight`), undefined, T, d, dMlp);
    const mlpAct = new Float64Array(T * dMlp);
    for (let j = 0; j < mlpAct.length; j++) mlpAct[j] = (gate[j] / (1 + Math.exp(-gate[j]))) * up[j];
    const mlpOut = linear(mlpAct, get(`${p}.mlp.down_proj.weight`), undefined, T, dMlp, d);
    const output = add(resid1, mlpOut);
    layers.push({ input: x, norm1, qPre, kPre, q, k, v, scores, weights, attn, attnOut, resid1, norm2, mlpAct, mlpOut, output });
    x = output;
  }
  const finalNorm = rmsNorm(x, get('model.norm.weight'), T, d, eps);
  const head = config.tiedEmbeddings ? embedTable : get('lm_head.weight');
  const logits = linear(finalNorm, head, undefined, T, d, config.vocabSize);
  return { config, tokens: Array.from(tokens), invFreq, embed, layers, finalNorm, logits };
}

/** Key/value rows (T × kvHeads·headDim) repeated per query head (T × heads·headDim), as the GPU and the scene lay them out. */
export function repeatKvRows(config: LlamaConfig, kv: Float64Array, T: number): Float64Array {
  const { heads, kvHeads, headDim: hd } = config;
  const group = heads / kvHeads;
  const out = new Float64Array(T * heads * hd);
  for (let t = 0; t < T; t++) {
    for (let h = 0; h < heads; h++) {
      const g = Math.floor(h / group);
      out.set(kv.subarray((t * kvHeads + g) * hd, (t * kvHeads + g + 1) * hd), (t * heads + h) * hd);
    }
  }
  return out;
}

/**
 * A Llama trace in the layout the app draws from (GptTrace, the CPU path without WebGPU): ln1 and
 * ln2 are the RMSNorms' outputs, k and v repeated per query head (heads · headDim wide, like q),
 * mlpAct silu(gate) ⊙ up, resid2 the block's output; mlpPre is empty (the SwiGLU has two
 * pre-activations, gate and up, and the app reads neither).
 */
export function llamaTraceForView(trace: LlamaTrace): GptTrace {
  const T = trace.tokens.length;
  const { config } = trace;
  return {
    config,
    tokens: trace.tokens,
    embed: trace.embed,
    lnF: trace.finalNorm,
    logits: trace.logits,
    layers: trace.layers.map((l) => ({
      ln1: l.norm1,
      q: l.q,
      k: repeatKvRows(config, l.k, T),
      v: repeatKvRows(config, l.v, T),
      scores: l.scores,
      weights: l.weights,
      attn: l.attn,
      attnOut: l.attnOut,
      resid1: l.resid1,
      ln2: l.norm2,
      mlpPre: new Float64Array(0),
      mlpAct: l.mlpAct,
      mlpOut: l.mlpOut,
      resid2: l.output,
    })),
  };
}
