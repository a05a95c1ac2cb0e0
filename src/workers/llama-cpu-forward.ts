/**
 * The f32 forward of a Llama-family model for timing it on the CPU (model-cpu.worker.ts), beside
 * GPT-2's (model-cpu-forward.ts), through the same matrix kernel (the WebAssembly SIMD matmulNT
 * of src/train/simd-matmul.ts where it runs). nn.Linear weights are already [out, in], the rows
 * matmulNT reads, so nothing is transposed; q/k/v and gate/up are stacked once when the model
 * arrives (one product each per block). Per block: RMSNorm, the stacked projection (+ biases),
 * RoPE on q and k from an f64 cos/sin table, causal grouped-query attention in blocks of
 * {@link QUERY_BLOCK} queries (each query head reads its key/value head directly; scores of one
 * block at a time, so memory is O(block · T), not heads · T², and 8192 tokens fit), o_proj,
 * RMSNorm, gate | up, silu(gate)·up, down_proj, residual adds in place; then RMSNorm and the logits.
 *
 * Pure TypeScript (no worker API): unit tests run it in Node against the f64 reference.
 */
import { checkLlamaConfig, type LlamaConfig } from '../model/llama-schema';
import { transpose, type MatmulKernel } from '../model/matmul';
import { ropeInverseFrequencies } from '../model/rope';

/** Queries per block of the attention: its scores are QUERY_BLOCK × T floats. */
export const QUERY_BLOCK = 64;

/** A Llama model as the CPU forward reads it ({@link prepareLlamaCpuModel}). */
export interface LlamaCpuModel {
  config: LlamaConfig;
  embed: Float32Array;
  blocks: Array<{ norm1: Float32Array; qkv: Float32Array; qkvBias: Float32Array | null; o: Float32Array; oBias: Float32Array | null; norm2: Float32Array; gateUp: Float32Array; down: Float32Array }>;
  norm: Float32Array;
  head: Float32Array;
}

function stack(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/**
 * The model for {@link createLlamaCpuForward}: `params` (checked Float32 tensors by their Hugging
 * Face names) with q/k/v and gate/up stacked. `release`: drop each stacked tensor from `params`
 * once copied (the worker's own map), so at most one block's weights are held twice at a time.
 */
export function prepareLlamaCpuModel(config: LlamaConfig, params: Map<string, Float32Array>, release = false): LlamaCpuModel {
  checkLlamaConfig(config);
  const get = (name: string) => params.get(name)!;
  const take = (names: string[]) => {
    const out = stack(names.map(get));
    if (release) names.forEach((n) => params.delete(n));
    return out;
  };
  const blocks: LlamaCpuModel['blocks'] = [];
  for (let l = 0; l < config.layers; l++) {
    const p = `model.layers.${l}`;
    const a = `${p}.self_attn`;
    blocks.push({
      norm1: get(`${p}.input_layernorm.weight`),
      qkv: take([`${a}.q_proj.weight`, `${a}.k_proj.weight`, `${a}.v_proj.weight`]),
      qkvBias: config.qkvBias ? take([`${a}.q_proj.bias`, `${a}.k_proj.bias`, `${a}.v_proj.bias`]) : null,
      o: get(`${a}.o_proj.weight`),
      oBias: config.oBias ? get(`${a}.o_proj.bias`) : null,
      norm2: get(`${p}.post_attention_layernorm.weight`),
      gateUp: take([`${p}.mlp.gate_proj.weight`, `${p}.mlp.up_proj.weight`]),
      down: get(`${p}.mlp.down_proj.weight`),
    });
  }
  const embed = get('model.embed_tokens.weight');
  return { config, embed, blocks, norm: get('model.norm.weight'), head: config.tiedEmbeddings ? embed : get('lm_head.weight') };
}

/**
 * A forward of `model` through `matmul`: call it with 1 to context token ids (checked by the
 * caller) and it returns the logits of rows logitsFrom…T−1 (default all, T × vocabSize), a view
 * of a buffer the next call overwrites. Buffers are made for the longest sequence seen.
 */
export function createLlamaCpuForward(model: LlamaCpuModel, matmul: MatmulKernel): (tokens: ArrayLike<number>, logitsFrom?: number) => Float32Array {
  const { dModel: d, heads, kvHeads, headDim: hd, dMlp, vocabSize, layers, rmsNormEps: eps } = model.config;
  const width = heads * hd;
  const kvWidth = kvHeads * hd;
  const qkvWidth = width + 2 * kvWidth;
  const group = heads / kvHeads;
  const half = hd / 2;
  const invFreq = ropeInverseFrequencies(model.config);
  const scale = 1 / Math.sqrt(hd);
  let capacity = 0;
  let buf: Record<'x' | 'h' | 'pre' | 'vT' | 'scores' | 'attn' | 'out' | 'gateUp' | 'act' | 'cos' | 'sin' | 'logits', Float32Array> | null = null;

  /**
   * Causal attention of every query head from `pre` (T rows of q | k | v, rotated) into attn
   * (T × heads·hd): per key/value head its v transposed once (hd rows of T), then per query head
   * and block of queries the scores against keys 0…last of the block (one matmul), the masked
   * softmax of each row, and P·V (one matmul).
   */
  const attention = (pre: Float32Array, vT: Float32Array, scores: Float32Array, attn: Float32Array, T: number) => {
    for (let g = 0; g < kvHeads; g++) transpose(pre, width + kvWidth + g * hd, qkvWidth, T, hd, vT, g * hd * T, T);
    for (let q = 0; q < heads; q++) {
      const g = Math.floor(q / group);
      for (let b0 = 0; b0 < T; b0 += QUERY_BLOCK) {
        const rowsHere = Math.min(QUERY_BLOCK, T - b0);
        const keys = b0 + rowsHere; // the block's last query sees keys 0…b0 + rowsHere − 1
        matmul(pre, b0 * qkvWidth + q * hd, qkvWidth, pre, width + g * hd, qkvWidth, scores, 0, keys, rowsHere, keys, hd, false);
        for (let r = 0; r < rowsHere; r++) {
          const at = r * keys;
          const visible = b0 + r + 1;
          let max = -Infinity;
          for (let j = 0; j < visible; j++) max = Math.max(max, scores[at + j] * scale);
          let sum = 0;
          for (let j = 0; j < visible; j++) sum += scores[at + j] = Math.exp(scores[at + j] * scale - max);
          const inv = 1 / sum;
          for (let j = 0; j < visible; j++) scores[at + j] *= inv;
          for (let j = visible; j < keys; j++) scores[at + j] = 0;
        }
        matmul(scores, 0, keys, vT, g * hd * T, T, attn, b0 * width + q * hd, width, rowsHere, hd, keys, false);
      }
    }
  };

  const rmsNorm = (x: Float32Array, w: Float32Array, y: Float32Array, T: number) => {
    for (let t = 0; t < T; t++) {
      const at = t * d;
      let sum = 0;
      for (let j = 0; j < d; j++) sum += x[at + j] * x[at + j];
      const scale = 1 / Math.sqrt(sum / d + eps);
      for (let j = 0; j < d; j++) y[at + j] = x[at + j] * scale * w[j];
    }
  };
  /** y (T × nOut) = x · Wᵀ (+ b), W [out, in]. */
  const linear = (x: Float32Array, w: Float32Array, b: Float32Array | null, y: Float32Array, T: number, nIn: number, nOut: number) => {
    matmul(x, 0, nIn, w, 0, nIn, y, 0, nOut, T, nOut, nIn, false);
    if (b !== null) for (let t = 0; t < T; t++) for (let j = 0; j < nOut; j++) y[t * nOut + j] += b[j];
  };
  /** Rotate `count` heads starting at column `from` of each row of `x` (stride `stride`). */
  const rotate = (x: Float32Array, stride: number, from: number, count: number, T: number, cos: Float32Array, sin: Float32Array) => {
    for (let t = 0; t < T; t++) {
      for (let h = 0; h < count; h++) {
        const at = t * stride + from + h * hd;
        for (let i = 0; i < half; i++) {
          const c = cos[t * half + i];
          const s = sin[t * half + i];
          const a = x[at + i];
          const b = x[at + i + half];
          x[at + i] = a * c - b * s;
          x[at + i + half] = b * c + a * s;
        }
      }
    }
  };

  return (tokens, logitsFrom = 0) => {
    const T = tokens.length;
    if (buf === null || T > capacity) {
      buf = null;
      const f = (n: number) => new Float32Array(n);
      buf = { x: f(T * d), h: f(T * d), pre: f(T * qkvWidth), vT: f(kvWidth * T), scores: f(QUERY_BLOCK * T), attn: f(T * width), out: f(T * d), gateUp: f(T * 2 * dMlp), act: f(T * dMlp), cos: f(T * half), sin: f(T * half), logits: f(T * vocabSize) };
      for (let t = 0; t < T; t++) {
        for (let i = 0; i < half; i++) {
          buf.cos[t * half + i] = Math.cos(t * invFreq[i]);
          buf.sin[t * half + i] = Math.sin(t * invFreq[i]);
        }
      }
      capacity = T;
    }
    const { x, h, pre, vT, scores, attn, out, gateUp, act, cos, sin, logits } = buf;
    for (let t = 0; t < T; t++) x.set(model.embed.subarray(tokens[t] * d, (tokens[t] + 1) * d), t * d);
    for (let l = 0; l < layers; l++) {
      const w = model.blocks[l];
      rmsNorm(x, w.norm1, h, T);
      linear(h, w.qkv, w.qkvBias, pre, T, d, qkvWidth);
      rotate(pre, qkvWidth, 0, heads, T, cos, sin);
      rotate(pre, qkvWidth, width, kvHeads, T, cos, sin);
      attention(pre, vT, scores, attn, T);
      linear(attn, w.o, w.oBias, out, T, width, d);
      for (let i = 0; i < T * d; i++) x[i] += out[i];
      rmsNorm(x, w.norm2, h, T);
      linear(h, w.gateUp, null, gateUp, T, d, 2 * dMlp);
      for (let t = 0; t < T; t++) {
        for (let j = 0; j < dMlp; j++) {
          const g = gateUp[t * 2 * dMlp + j];
          act[t * dMlp + j] = (g / (1 + Math.exp(-g))) * gateUp[t * 2 * dMlp + dMlp + j];
        }
      }
      linear(act, w.down, null, out, T, dMlp, d);
      for (let i = 0; i < T * d; i++) x[i] += out[i];
    }
    rmsNorm(x, model.norm, h, T);
    // Rows logitsFrom…T−1 only (a long run's whole logits are T × vocab).
    const rowsOut = T - logitsFrom;
    matmul(h, logitsFrom * d, d, model.head, 0, d, logits, 0, vocabSize, rowsOut, vocabSize, d, false);
    return logits.subarray(0, rowsOut * vocabSize);
  };
}
