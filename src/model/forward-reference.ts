/**
 * The Float64 forward reference of the decoder: one sequence through forward.ts's pass with the
 * parameters widened from Float32 and every product, sum and activation kept in double, with
 * every intermediate, so the WebGPU forward pass (src/kernels/model.ts) is checked layer by
 * layer. The reference worker (src/workers/reference.worker.ts) runs it off the main thread;
 * it imports no training code (src/train), so the worker's bundle stays small.
 *
 * Pure TypeScript: runs in Node and in the browser (no DOM, no WebGPU, no node: modules).
 */
import { AttentionInputError } from '../core/errors';
import { createActivations, floatMaker, forwardPass } from './forward';
import { Scratch } from './matmul';
import { byRole, checkModelParams, checkTokenIds, describeValue, paramsToFloat64, validateConfig, type Floats, type GptConfig, type GptParams } from './schema';

/**
 * Every intermediate of one block for one sequence of seqLen tokens, in Float64, row-major.
 * d = dModel = heads·dHead; "heads side by side" means head h owns columns h·dHead…(h+1)·dHead−1.
 */
export interface GptLayerTrace {
  /** ln_1(input), seqLen × d. */
  ln1: Float64Array;
  /** Q = ln1·W_Q + b_Q (c_attn's first d columns), seqLen × d, heads side by side. */
  q: Float64Array;
  /** K (c_attn's columns d…2d−1), seqLen × d, heads side by side. */
  k: Float64Array;
  /** V (c_attn's columns 2d…3d−1), seqLen × d, heads side by side. */
  v: Float64Array;
  /** heads × seqLen × seqLen: QKᵀ/√dHead per head, −Infinity where key j > query i. */
  scores: Float64Array;
  /** heads × seqLen × seqLen: row softmax of scores, 0 where masked. */
  weights: Float64Array;
  /** P·V per head, seqLen × d, heads side by side (c_proj's input). */
  attn: Float64Array;
  /** attn·c_proj.weight + c_proj.bias, seqLen × d. */
  attnOut: Float64Array;
  /** input + attnOut, seqLen × d. */
  resid1: Float64Array;
  /** ln_2(resid1), seqLen × d. */
  ln2: Float64Array;
  /** ln2·c_fc.weight + c_fc.bias, seqLen × dMlp. */
  mlpPre: Float64Array;
  /** GELU(mlpPre), seqLen × dMlp. */
  mlpAct: Float64Array;
  /** mlpAct·mlp.c_proj.weight + bias, seqLen × d. */
  mlpOut: Float64Array;
  /** resid1 + mlpOut, seqLen × d: the block's output (the next block's input). */
  resid2: Float64Array;
}

/** The whole forward pass of one sequence, in Float64 (see {@link forwardReference}). */
export interface GptTrace {
  config: GptConfig;
  tokens: number[];
  /** wte[token] + wpe[position], seqLen × d: the first block's input. */
  embed: Float64Array;
  layers: GptLayerTrace[];
  /** ln_f(last block's resid2), seqLen × d. */
  lnF: Float64Array;
  /** lnF·wteᵀ, seqLen × vocabSize (row t predicts token t + 1). */
  logits: Float64Array;
}

/**
 * The forward pass of one sequence in Float64 — parameters widened from Float32, every
 * product, sum and activation kept in double — with every intermediate, for checking the GPU
 * forward pass layer by layer. Throws {@link AttentionInputError} for a bad config or
 * parameters, a non-finite parameter value (`params["name"][i]`), `tokens` of length 0 or
 * beyond the context (`tokens`), or an id that is not an integer in [0, vocabSize)
 * (`tokens[i]`).
 */
export function forwardReference(config: GptConfig, params: GptParams<Floats>, tokens: readonly number[] | Int32Array): GptTrace {
  const c = validateConfig(config);
  checkModelParams(c, params, { finite: true });
  if (tokens === null || typeof tokens !== 'object' || typeof tokens.length !== 'number') {
    throw new AttentionInputError('tokens', describeValue(tokens), 'an array of token ids', 'type');
  }
  if (tokens.length < 1 || tokens.length > c.context) {
    throw new AttentionInputError('tokens', `length ${tokens.length}`, `from 1 to ${c.context} tokens (the context)`, 'length');
  }
  checkTokenIds('tokens', tokens, c.vocabSize);

  const seqLen = tokens.length;
  const ws = createActivations(c, 1, seqLen, { float64: true, scores: true });
  for (let t = 0; t < seqLen; t++) ws.inputs[t] = tokens[t];
  forwardPass(c, byRole(c, paramsToFloat64(params)), ws, new Scratch(floatMaker(true)), 1, seqLen);

  const d = c.dModel;
  const f64 = (a: Floats): Float64Array => a as Float64Array;
  /** Columns [from, from + d) of the seqLen × 3d qkv rows. */
  const columns = (qkv: Floats, from: number): Float64Array => {
    const out = new Float64Array(seqLen * d);
    for (let t = 0; t < seqLen; t++) out.set(f64(qkv).subarray(t * 3 * d + from, t * 3 * d + from + d), t * d);
    return out;
  };
  return {
    config: c,
    tokens: Array.from(tokens),
    embed: f64(ws.x0).slice(),
    layers: ws.layers.map((a) => ({
      ln1: f64(a.ln1).slice(),
      q: columns(a.qkv, 0),
      k: columns(a.qkv, d),
      v: columns(a.qkv, 2 * d),
      scores: f64(a.scores!).slice(),
      weights: f64(a.probs).slice(),
      attn: f64(a.attn).slice(),
      attnOut: f64(a.attnOut).slice(),
      resid1: f64(a.resid1).slice(),
      ln2: f64(a.ln2).slice(),
      mlpPre: f64(a.mlpPre).slice(),
      mlpAct: f64(a.mlpAct).slice(),
      mlpOut: f64(a.mlpOut).slice(),
      resid2: f64(a.resid2).slice(),
    })),
    lnF: f64(ws.lnF).slice(),
    logits: f64(ws.logits).slice(),
  };
}
