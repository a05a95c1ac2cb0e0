/**
 * The CPU forward split over several threads (tensor parallel, as Megatron-LM splits a GPT):
 * the model CPU worker (model-cpu.worker.ts) runs it with helper workers
 * (model-cpu-helper.worker.ts). Each of P parts holds a slice of every big weight:
 * - attention: heads [h0, h1) — their rows of c_attn (Q, K and V), their columns of c_proj;
 * - MLP: hidden units [f0, f1) — their rows of c_fc, their columns of the MLP's c_proj;
 * - logits: vocabulary rows [v0, v1) of the output layer (wte, or lm_head when untied).
 * Per block the coordinating part sends ln_1(x) to every part, each answers its heads' share of
 * c_proj's output (T × d, no bias), the coordinator adds the shares, the bias and the residual,
 * and does the same for the MLP with ln_2(x); at the end each part answers its columns of the
 * logits. Two exchanges of T × d values per block: at 128 tokens of GPT-2 small 0.4 MB each way
 * per part, against ~1.3 G multiply-adds per block shared among the parts.
 *
 * Without cross-origin isolation (no SharedArrayBuffer) the slices are the only copy each part
 * holds: the parameters are split, not duplicated (wte aside: the coordinator keeps it whole for
 * the embedding). Sums over parts are added in float32 after each part's own sums, so the logits
 * differ from the one-thread forward's by float32 rounding, not more.
 *
 * Pure TypeScript (no worker API): unit tests run the parts in one thread.
 */
import { attentionForward, embeddingForward, geluForward, layerNormForward } from '../model/layers';
import { Scratch, type MatmulKernel } from '../model/matmul';
import type { GptConfig } from '../model/schema';
import type { CpuModel } from './model-cpu-forward';

/** One block's slices held by one part. */
export interface CpuShardBlock {
  /** c_attn rows of the part's heads, [Q rows | K rows | V rows]: 3·width rows of d (width = heads·dHead). */
  attnWT: Float32Array;
  attnB: Float32Array;
  /** c_proj (transposed, d rows of d) cut to the part's heads' columns: d rows of width. */
  projWT: Float32Array;
  /** c_fc rows of the part's hidden units: (f1 − f0) rows of d. */
  fcWT: Float32Array;
  fcB: Float32Array;
  /** The MLP's c_proj (transposed, d rows of dMlp) cut to the part's hidden units: d rows of f1 − f0. */
  mlpWT: Float32Array;
}

/** What one part holds (see the module comment). */
export interface CpuShard {
  config: GptConfig;
  heads: [number, number];
  hidden: [number, number];
  vocab: [number, number];
  blocks: CpuShardBlock[];
  /** The output layer's rows [v0, v1) (wte's when tied, lm_head's when not). */
  wte: Float32Array;
}

/** [from, to) of part p of n items split into `parts` near-equal ranges. */
export function partRange(n: number, parts: number, p: number): [number, number] {
  return [Math.floor((p * n) / parts), Math.floor(((p + 1) * n) / parts)];
}

/** Columns [c0, c1) of each of `rows` rows of width `cols`, as a rows × (c1 − c0) array. */
function columns(a: Float32Array, rows: number, cols: number, c0: number, c1: number): Float32Array {
  const out = new Float32Array(rows * (c1 - c0));
  for (let r = 0; r < rows; r++) out.set(a.subarray(r * cols + c0, r * cols + c1), r * (c1 - c0));
  return out;
}

/** The slices of part `p` of `parts` (≥ 1; past `heads` parts a part may hold no heads) of a prepared model (copies). */
export function shardCpuModel(model: CpuModel, parts: number, p: number): CpuShard {
  const c = model.config;
  const { dModel: d, dMlp, heads, vocabSize } = c;
  const dHead = d / heads;
  const [h0, h1] = partRange(heads, parts, p);
  const [f0, f1] = partRange(dMlp, parts, p);
  const [v0, v1] = partRange(vocabSize, parts, p);
  const a0 = h0 * dHead;
  const a1 = h1 * dHead;
  const blocks = model.blocks.map((w): CpuShardBlock => {
    const attnWT = new Float32Array(3 * (a1 - a0) * d);
    const attnB = new Float32Array(3 * (a1 - a0));
    for (let s = 0; s < 3; s++) {
      attnWT.set(w.attnWT.subarray((s * d + a0) * d, (s * d + a1) * d), s * (a1 - a0) * d);
      attnB.set(w.attnB.subarray(s * d + a0, s * d + a1), s * (a1 - a0));
    }
    return {
      attnWT,
      attnB,
      projWT: columns(w.projWT, d, d, a0, a1),
      fcWT: w.fcWT.slice(f0 * d, f1 * d),
      fcB: w.fcB.slice(f0, f1),
      mlpWT: columns(w.mlpWT, d, dMlp, f0, f1),
    };
  });
  return { config: c, heads: [h0, h1], hidden: [f0, f1], vocab: [v0, v1], blocks, wte: model.lmHead.slice(v0 * d, v1 * d) };
}

/** One part's three steps; each returns a fresh array the caller may keep (or move to another thread). */
export interface ShardSteps {
  /** The part's heads' share of block `layer`'s c_proj output (T × d, without the bias) from ln_1(x). */
  attention(layer: number, ln: Float32Array, T: number): Float32Array;
  /** The part's hidden units' share of block `layer`'s MLP output (T × d, without the bias) from ln_2(x). */
  mlp(layer: number, ln: Float32Array, T: number): Float32Array;
  /** Logits columns [v0, v1) (T × (v1 − v0)) from ln_f(x). */
  logits(lnF: Float32Array, T: number): Float32Array;
}

/** The steps of one part through `matmul` (buffers kept for the longest T seen). */
export function createShardSteps(shard: CpuShard, matmul: MatmulKernel): ShardSteps {
  const { dModel: d, heads } = shard.config;
  const dHead = d / heads;
  const width = (shard.heads[1] - shard.heads[0]) * dHead;
  const hidden = shard.hidden[1] - shard.hidden[0];
  const vocab = shard.vocab[1] - shard.vocab[0];
  const scratch = new Scratch((n) => new Float32Array(n), matmul);
  const addBias = (y: Float32Array, b: Float32Array, rows: number, n: number) => {
    for (let i = 0; i < rows; i++) for (let j = 0; j < n; j++) y[i * n + j] += b[j];
  };
  return {
    attention(layer, ln, T) {
      const w = shard.blocks[layer];
      const out = new Float32Array(T * d);
      if (width === 0) return out;
      const qkv = scratch.take('qkv', T * 3 * width) as Float32Array;
      const attn = scratch.take('attn', T * width) as Float32Array;
      const probs = scratch.take('probs', (width / dHead) * T * T) as Float32Array;
      matmul(ln, 0, d, w.attnWT, 0, d, qkv, 0, 3 * width, T, 3 * width, d, false);
      addBias(qkv, w.attnB, T, 3 * width);
      attentionForward(qkv, attn, probs, 1, T, width / dHead, dHead, scratch);
      matmul(attn, 0, width, w.projWT, 0, width, out, 0, d, T, d, width, false);
      return out;
    },
    mlp(layer, ln, T) {
      const w = shard.blocks[layer];
      const out = new Float32Array(T * d);
      if (hidden === 0) return out;
      const h = scratch.take('hidden', T * hidden) as Float32Array;
      matmul(ln, 0, d, w.fcWT, 0, d, h, 0, hidden, T, hidden, d, false);
      addBias(h, w.fcB, T, hidden);
      geluForward(h, h, T * hidden);
      matmul(h, 0, hidden, w.mlpWT, 0, hidden, out, 0, d, T, d, hidden, false);
      return out;
    },
    logits(lnF, T) {
      const out = new Float32Array(T * vocab);
      if (vocab > 0) matmul(lnF, 0, d, shard.wte, 0, d, out, 0, vocab, T, vocab, d, false);
      return out;
    },
  };
}

/** A part as the coordinator drives it: in this thread or behind messages. */
export interface ShardRunner {
  attention(layer: number, ln: Float32Array, T: number): Promise<Float32Array>;
  mlp(layer: number, ln: Float32Array, T: number): Promise<Float32Array>;
  logits(lnF: Float32Array, T: number): Promise<Float32Array>;
}

/** What the coordinator keeps besides its parts: embeddings, LayerNorms and biases of the sums. */
export interface CpuTrunk {
  config: GptConfig;
  wte: Float32Array;
  wpe: Float32Array;
  lnfW: Float32Array;
  lnfB: Float32Array;
  blocks: Array<{ ln1w: Float32Array; ln1b: Float32Array; projB: Float32Array; ln2w: Float32Array; ln2b: Float32Array; mlpB: Float32Array }>;
}

/** The coordinator's part of a prepared model (shares its arrays). */
export function trunkOf(model: CpuModel): CpuTrunk {
  const { config, wte, wpe, lnfW, lnfB } = model;
  return { config, wte, wpe, lnfW, lnfB, blocks: model.blocks.map(({ ln1w, ln1b, projB, ln2w, ln2b, mlpB }) => ({ ln1w, ln1b, projB, ln2w, ln2b, mlpB })) };
}

/**
 * The forward of `tokens` over `parts` (part p holding shardCpuModel(…, parts.length, p)): the
 * tokens × vocabSize logits. `parts[0]` is usually the coordinator's own, run in this thread while
 * the others work.
 */
export async function shardedForward(trunk: CpuTrunk, parts: readonly ShardRunner[], tokens: ArrayLike<number>): Promise<Float32Array> {
  const { dModel: d, vocabSize } = trunk.config;
  const T = tokens.length;
  const n = T * d;
  const x = new Float32Array(n);
  const ln = new Float32Array(n);
  const mean = new Float32Array(T);
  const rstd = new Float32Array(T);
  /** x += Σ parts' shares + bias, the shares summed first (in float32, part order). */
  const addShares = (shares: Float32Array[], bias: Float32Array) => {
    const sum = shares[0];
    for (let p = 1; p < shares.length; p++) {
      const s = shares[p];
      for (let i = 0; i < n; i++) sum[i] += s[i];
    }
    for (let t = 0; t < T; t++) {
      for (let j = 0; j < d; j++) {
        const i = t * d + j;
        sum[i] += bias[j];
        x[i] += sum[i];
      }
    }
  };
  /**
   * One step on every part, the last parts first: parts[0] (the coordinator's own) computes
   * when called, so the others must have been sent their input by then.
   */
  const all = (step: (part: ShardRunner) => Promise<Float32Array>): Promise<Float32Array[]> => {
    const pending: Array<Promise<Float32Array>> = new Array(parts.length);
    for (let p = parts.length - 1; p >= 0; p--) pending[p] = step(parts[p]);
    return Promise.all(pending);
  };
  embeddingForward(tokens, trunk.wte, trunk.wpe, x, 1, T, d);
  for (let l = 0; l < trunk.blocks.length; l++) {
    const w = trunk.blocks[l];
    layerNormForward(x, w.ln1w, w.ln1b, ln, mean, rstd, T, d);
    addShares(await all((part) => part.attention(l, ln, T)), w.projB);
    layerNormForward(x, w.ln2w, w.ln2b, ln, mean, rstd, T, d);
    addShares(await all((part) => part.mlp(l, ln, T)), w.mlpB);
  }
  layerNormForward(x, trunk.lnfW, trunk.lnfB, ln, mean, rstd, T, d);
  const slabs = await all((part) => part.logits(ln, T));
  const logits = new Float32Array(T * vocabSize);
  let v0 = 0;
  for (const slab of slabs) {
    const width = slab.length / T;
    for (let t = 0; t < T; t++) logits.set(slab.subarray(t * width, (t + 1) * width), t * vocabSize + v0);
    v0 += width;
  }
  return logits;
}
