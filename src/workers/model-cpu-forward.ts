/**
 * The f32 forward of the whole model for timing it on the CPU (model-cpu.worker.ts): the
 * layers of src/model/layers.ts in forwardPass's order (src/model/forward.ts), with two
 * changes that only an inference-only, repeated forward can afford:
 * - The Conv1D weights ([in, out]) are transposed ONCE, when the model arrives, into the
 *   [out, in] rows the matrix kernel reads (matmulNT's B). forwardPass's linearForward
 *   transposes them on every call, so it can share its parameters with training's optimizer:
 *   for GPT-2 small that is 85 M values per forward, about a third of a 128-token forward's time
 *   measured with the WebAssembly SIMD kernel.
 * - Nothing is kept for a backward: one residual stream updated in place and one block's
 *   buffers reused by every block (GPT-2 small at 1024 tokens: ~50 MB of attention maps, not
 *   every layer's 600 MB).
 * The arithmetic per value is forwardPass's (float32 storage, the same layer functions, the
 * residual adds rounded once each), so the result equals it up to the kernel's summation.
 *
 * Pure TypeScript (no worker API): unit tests run it in Node against the f64 reference.
 */
import { attentionForward, embeddingForward, geluForward, layerNormForward, outputForward } from '../model/layers';
import { Scratch, transpose, type MatmulKernel } from '../model/matmul';
import { isTied, validateConfig, type GptConfig } from '../model/schema';

/** One block's parameters, the linear weights transposed to [out, in]. */
export interface CpuBlock {
  ln1w: Float32Array;
  ln1b: Float32Array;
  /** c_attn.weight transposed: 3d rows of d. */
  attnWT: Float32Array;
  attnB: Float32Array;
  /** attn.c_proj.weight transposed: d rows of d. */
  projWT: Float32Array;
  projB: Float32Array;
  ln2w: Float32Array;
  ln2b: Float32Array;
  /** mlp.c_fc.weight transposed: dMlp rows of d. */
  fcWT: Float32Array;
  fcB: Float32Array;
  /** mlp.c_proj.weight transposed: d rows of dMlp. */
  mlpWT: Float32Array;
  mlpB: Float32Array;
}

/** The model as the CPU forward reads it (see {@link prepareCpuModel}). */
export interface CpuModel {
  config: GptConfig;
  wte: Float32Array;
  /** The output layer [vocab, d]: wte itself when tied, else lm_head.weight. */
  lmHead: Float32Array;
  wpe: Float32Array;
  blocks: CpuBlock[];
  lnfW: Float32Array;
  lnfB: Float32Array;
}

/**
 * The model for {@link createCpuForward}: `params` (checked Float32 parameters of `config`, schema
 * names) with every Conv1D weight transposed into a new array. `release`: take each transposed
 * weight out of `params` once copied (the worker's own copy of the map), so at most one weight is
 * held twice at a time.
 */
export function prepareCpuModel(config: GptConfig, params: Map<string, Float32Array>, release = false): CpuModel {
  const c = validateConfig(config);
  const get = (name: string): Float32Array => params.get(name)!;
  /** The [nIn, nOut] weight `name` as nOut rows of nIn. */
  const transposed = (name: string, nIn: number, nOut: number): Float32Array => {
    const out = new Float32Array(nIn * nOut);
    transpose(get(name), 0, nOut, nIn, nOut, out, 0, nIn);
    if (release) params.delete(name);
    return out;
  };
  const { dModel: d, dMlp } = c;
  const blocks: CpuBlock[] = [];
  for (let l = 0; l < c.layers; l++) {
    const h = `h.${l}`;
    blocks.push({
      ln1w: get(`${h}.ln_1.weight`),
      ln1b: get(`${h}.ln_1.bias`),
      attnWT: transposed(`${h}.attn.c_attn.weight`, d, 3 * d),
      attnB: get(`${h}.attn.c_attn.bias`),
      projWT: transposed(`${h}.attn.c_proj.weight`, d, d),
      projB: get(`${h}.attn.c_proj.bias`),
      ln2w: get(`${h}.ln_2.weight`),
      ln2b: get(`${h}.ln_2.bias`),
      fcWT: transposed(`${h}.mlp.c_fc.weight`, d, dMlp),
      fcB: get(`${h}.mlp.c_fc.bias`),
      mlpWT: transposed(`${h}.mlp.c_proj.weight`, dMlp, d),
      mlpB: get(`${h}.mlp.c_proj.bias`),
    });
  }
  const wte = get('wte.weight');
  return { config: c, wte, lmHead: isTied(c) ? wte : get('lm_head.weight'), wpe: get('wpe.weight'), blocks, lnfW: get('ln_f.weight'), lnfB: get('ln_f.bias') };
}

/**
 * A forward of `model` through `matmul` (matmulNT or a kernel with its contract): call it with
 * 1 to context token ids (checked by the caller) and it returns the tokens × vocabSize logits, a
 * view of a buffer the next call overwrites. Buffers are made for the longest sequence seen.
 */
export function createCpuForward(model: CpuModel, matmul: MatmulKernel): (tokens: ArrayLike<number>) => Float32Array {
  const { dModel: d, dMlp, heads, vocabSize, layers } = model.config;
  const scratch = new Scratch((n) => new Float32Array(n), matmul);
  let capacity = 0;
  let buf: Record<'x' | 'ln' | 'mean' | 'rstd' | 'qkv' | 'probs' | 'attn' | 'out' | 'mlp' | 'logits', Float32Array> | null = null;

  /** y (rows × nOut) = x · wTᵀ + b, the weight already [out, in]. */
  const linear = (x: Float32Array, wT: Float32Array, b: Float32Array, y: Float32Array, rows: number, nIn: number, nOut: number) => {
    matmul(x, 0, nIn, wT, 0, nIn, y, 0, nOut, rows, nOut, nIn, false);
    for (let i = 0; i < rows; i++) {
      const at = i * nOut;
      for (let j = 0; j < nOut; j++) y[at + j] += b[j];
    }
  };

  return (tokens) => {
    const T = tokens.length;
    if (buf === null || T > capacity) {
      buf = null; // let the smaller set go before the larger is made
      const f = (n: number) => new Float32Array(n);
      buf = { x: f(T * d), ln: f(T * d), mean: f(T), rstd: f(T), qkv: f(T * 3 * d), probs: f(heads * T * T), attn: f(T * d), out: f(T * d), mlp: f(T * dMlp), logits: f(T * vocabSize) };
      capacity = T;
    }
    const { x, ln, mean, rstd, qkv, probs, attn, out, mlp, logits } = buf;
    const n = T * d;
    embeddingForward(tokens, model.wte, model.wpe, x, 1, T, d);
    for (let l = 0; l < layers; l++) {
      const w = model.blocks[l];
      layerNormForward(x, w.ln1w, w.ln1b, ln, mean, rstd, T, d);
      linear(ln, w.attnWT, w.attnB, qkv, T, d, 3 * d);
      attentionForward(qkv, attn, probs, 1, T, heads, d / heads, scratch);
      linear(attn, w.projWT, w.projB, out, T, d, d);
      for (let i = 0; i < n; i++) x[i] += out[i];
      layerNormForward(x, w.ln2w, w.ln2b, ln, mean, rstd, T, d);
      linear(ln, w.fcWT, w.fcB, mlp, T, d, dMlp);
      geluForward(mlp, mlp, T * dMlp);
      linear(mlp, w.mlpWT, w.mlpB, out, T, dMlp, d);
      for (let i = 0; i < n; i++) x[i] += out[i];
    }
    layerNormForward(x, model.lnfW, model.lnfB, ln, mean, rstd, T, d);
    outputForward(ln, model.lmHead, logits, T, d, vocabSize, matmul);
    return logits.subarray(0, T * vocabSize);
  };
}
