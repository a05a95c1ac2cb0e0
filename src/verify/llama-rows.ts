/**
 * The per-layer row check of a Llama-family GPU run (src/kernels/llama-model.ts), the same
 * policy as GPT-2's (model-rows.ts): each layer from its input as the GPU computed it (layer 0:
 * the GPU's `embed`, else its `resid2` of layer l − 1), so an error shows in its own layer. At each
 * checked row r, in Float64 (parameters widened as read), independently of the GPU's code:
 *   RMSNorm(x_l[r])·w₁ → q, k, v rows (nn.Linear [out, in] + biases) → q and k rotated at
 *   position r (src/model/rope.ts)                        compared with the GPU's q, k, v rows
 *                                                          (its k and v are repeated per query head);
 *   query r of head h against the GPU's K and V rows 0…r of that head (its key/value head,
 *   repeated) → scores → softmax → P·V                     compared with scores (when read), weights, attn;
 *   attn·W_oᵀ (+ b_o) + x_l[r] → resid1; RMSNorm·w₂ → silu(gate) ⊙ up → ·W_downᵀ + resid1 → resid2.
 * Then the logits of each row from the GPU's last resid2 (RMSNorm·w_f, lm_head or embed_tokens),
 * and the embedding rows (embed_tokens[token]) under layer 0. Pure TypeScript (Node, the worker).
 */
import { checkTokenIds, type Floats } from '../model/schema';
import { checkLlamaParams, type LlamaConfig } from '../model/llama-schema';
import { applyRope, ropeInverseFrequencies } from '../model/rope';
import { repeatKvRows } from '../model/llama-reference';
import { compareArrays, type Tolerance } from './compare';
import { MODEL_TOLERANCES, type ModelCheckRow, type ModelRowsVerification, type PickedModelRows } from './model';

/** Multiply-adds of checking `rows`: per row and layer the projections, o_proj, the SwiGLU MLP and attention over keys 0…r; per row the logits. */
export function llamaRowsCost(config: LlamaConfig, rows: readonly number[]): number {
  const { dModel: d, heads, kvHeads, headDim: hd, dMlp, layers, vocabSize } = config;
  const width = heads * hd;
  let cost = 0;
  for (const r of rows) cost += layers * (d * (width + 2 * kvHeads * hd) + width * d + 3 * d * dMlp + 2 * (r + 1) * width) + d * vocabSize;
  return cost;
}

/** y (n × out) = x (n × in)·Wᵀ (+ b), W [out, in], in f64. */
function linearT(x: Float64Array, w: Floats, b: Floats | undefined, n: number, nIn: number, nOut: number): Float64Array {
  const y = new Float64Array(n * nOut);
  for (let i = 0; i < n; i++) {
    for (let o = 0; o < nOut; o++) {
      let sum = b === undefined ? 0 : b[o];
      const wRow = o * nIn;
      const xRow = i * nIn;
      for (let k = 0; k < nIn; k++) sum += x[xRow + k] * w[wRow + k];
      y[i * nOut + o] = sum;
    }
  }
  return y;
}

function rmsNormRows(x: Floats, weight: Floats, n: number, d: number, eps: number): Float64Array {
  const out = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    let sumSq = 0;
    for (let j = 0; j < d; j++) sumSq += x[i * d + j] * x[i * d + j];
    const scale = 1 / Math.sqrt(sumSq / d + eps);
    for (let j = 0; j < d; j++) out[i * d + j] = x[i * d + j] * scale * weight[j];
  }
  return out;
}

/** The rows one layer's check reads from the GPU: q, attn, resid1, resid2 at the checked rows; k and v whole (T × heads·headDim). */
export interface LlamaLayerRows {
  q: Floats;
  k: Floats;
  v: Floats;
  /** heads × rows × T; compared when given (a fused run stores none). */
  scores?: Floats;
  weights?: Floats;
  attn: Floats;
  resid1: Floats;
  resid2: Floats;
}

/** The embedding rows (embed_tokens[token]) against the GPU's, reported under layer 0. */
export function checkLlamaEmbedRows(config: LlamaConfig, params: ReadonlyMap<string, Floats>, gpuEmbed: Floats, rows: readonly number[], tokens: readonly number[]): ModelCheckRow[] {
  const d = config.dModel;
  const table = params.get('model.embed_tokens.weight')!;
  const embed = new Float64Array(rows.length * d);
  rows.forEach((r, i) => {
    for (let j = 0; j < d; j++) embed[i * d + j] = table[tokens[r] * d + j];
  });
  return [{ layer: 0, name: 'embed', comparison: compareArrays(gpuEmbed, embed, MODEL_TOLERANCES.activations) }];
}

/**
 * One layer's check at `rows` from its input rows `x` as the GPU computed them (module comment),
 * against the GPU's tensors `g` of that layer (T = tokens in the run).
 */
export function checkLlamaLayerRows(config: LlamaConfig, params: ReadonlyMap<string, Floats>, l: number, x: Floats, g: LlamaLayerRows, rows: readonly number[], T: number): ModelCheckRow[] {
  const { dModel: d, heads, kvHeads, headDim: hd, dMlp, rmsNormEps: eps } = config;
  const width = heads * hd;
  const kvWidth = kvHeads * hd;
  const n = rows.length;
  const get = (name: string): Floats => params.get(name)!;
  const invFreq = ropeInverseFrequencies(config);
  const out: ModelCheckRow[] = [];
  const compare = (name: ModelCheckRow['name'], actual: Floats, expected: Float64Array, tolerance: Tolerance) => out.push({ layer: l, name, comparison: compareArrays(actual, expected, tolerance) });
  const scale = 1 / Math.sqrt(hd);
  const p = `model.layers.${l}`;
  const bias = (m: string) => params.get(`${p}.self_attn.${m}_proj.bias`);
  const h1 = rmsNormRows(x, get(`${p}.input_layernorm.weight`), n, d, eps);
  const q = applyRope(linearT(h1, get(`${p}.self_attn.q_proj.weight`), bias('q'), n, d, width), rows, hd, invFreq);
  const k = applyRope(linearT(h1, get(`${p}.self_attn.k_proj.weight`), bias('k'), n, d, kvWidth), rows, hd, invFreq);
  const v = linearT(h1, get(`${p}.self_attn.v_proj.weight`), bias('v'), n, d, kvWidth);
  const gpuRows = (a: Floats) => {
    const o = new Float64Array(n * width);
    rows.forEach((r, i) => o.set(a.subarray(r * width, (r + 1) * width), i * width));
    return o;
  };
  compare('q', g.q, q, MODEL_TOLERANCES.activations);
  compare('k', gpuRows(g.k), repeatKvRows(config, k, n), MODEL_TOLERANCES.activations);
  compare('v', gpuRows(g.v), repeatKvRows(config, v, n), MODEL_TOLERANCES.activations);

  // Query row r of each head against the GPU's keys and values 0…r (its key/value head, repeated).
  const scores = new Float64Array(heads * n * T);
  const weights = new Float64Array(heads * n * T);
  const attn = new Float64Array(n * width);
  for (let h = 0; h < heads; h++) {
    rows.forEach((r, i) => {
      const row = (h * n + i) * T;
      let max = -Infinity;
      for (let j = 0; j <= r; j++) {
        let dot = 0;
        for (let e = 0; e < hd; e++) dot += q[i * width + h * hd + e] * g.k[j * width + h * hd + e];
        scores[row + j] = dot * scale;
        if (scores[row + j] > max) max = scores[row + j];
      }
      for (let j = r + 1; j < T; j++) scores[row + j] = -Infinity;
      let sum = 0;
      for (let j = 0; j <= r; j++) sum += weights[row + j] = Math.exp(scores[row + j] - max);
      for (let j = 0; j <= r; j++) {
        weights[row + j] /= sum;
        for (let e = 0; e < hd; e++) attn[i * width + h * hd + e] += weights[row + j] * g.v[j * width + h * hd + e];
      }
    });
  }
  if (g.scores !== undefined) compare('scores', g.scores, scores, MODEL_TOLERANCES.scores);
  if (g.weights !== undefined) compare('weights', g.weights, weights, MODEL_TOLERANCES.weights);
  compare('attn', g.attn, attn, MODEL_TOLERANCES.activations);

  const resid1 = linearT(attn, get(`${p}.self_attn.o_proj.weight`), bias('o'), n, width, d);
  for (let i = 0; i < n * d; i++) resid1[i] += x[i];
  compare('resid1', g.resid1, resid1, MODEL_TOLERANCES.activations);
  const h2 = rmsNormRows(resid1, get(`${p}.post_attention_layernorm.weight`), n, d, eps);
  const gate = linearT(h2, get(`${p}.mlp.gate_proj.weight`), undefined, n, d, dMlp);
  const up = linearT(h2, get(`${p}.mlp.up_proj.weight`), undefined, n, d, dMlp);
  for (let i = 0; i < gate.length; i++) gate[i] = (gate[i] / (1 + Math.exp(-gate[i]))) * up[i];
  const resid2 = linearT(gate, get(`${p}.mlp.down_proj.weight`), undefined, n, dMlp, d);
  for (let i = 0; i < n * d; i++) resid2[i] += resid1[i];
  compare('resid2', g.resid2, resid2, MODEL_TOLERANCES.activations);
  return out;
}

/** The logits of the checked rows from the GPU's last resid2 rows `x` (RMSNorm·w_f, lm_head or embed_tokens). */
export function checkLlamaLogitsRows(config: LlamaConfig, params: ReadonlyMap<string, Floats>, x: Floats, gpuLogits: Floats, n: number): ModelCheckRow[] {
  const { dModel: d, vocabSize } = config;
  const finalNorm = rmsNormRows(x, params.get('model.norm.weight')!, n, d, config.rmsNormEps);
  const head = config.tiedEmbeddings ? params.get('model.embed_tokens.weight')! : params.get('lm_head.weight')!;
  const logits = linearT(finalNorm, head, undefined, n, d, vocabSize);
  return [{ layer: null, name: 'logits', comparison: compareArrays(gpuLogits, logits, MODEL_TOLERANCES.logits) }];
}

/**
 * The row check on tensors cut to their rows (model-rows.ts pickModelRows, with widths
 * heads·headDim for q, k, v and attn). `config` and `params` must pass the schema's checks.
 */
export function verifyLlamaPickedRows(config: LlamaConfig, params: ReadonlyMap<string, Floats>, picked: PickedModelRows, tokens: readonly number[]): ModelRowsVerification {
  checkLlamaParams(config, params);
  checkTokenIds('tokens', tokens, config.vocabSize);
  const rows = picked.rows;
  const out: ModelCheckRow[] = [...checkLlamaEmbedRows(config, params, picked.embed, rows, tokens)];
  let x: Floats = picked.embed;
  picked.layers.forEach((g, l) => {
    out.push(...checkLlamaLayerRows(config, params, l, x, g, rows, tokens.length));
    x = g.resid2;
  });
  out.push(...checkLlamaLogitsRows(config, params, x, picked.logits, rows.length));
  return { rows: out, pass: out.every((r) => r.comparison.pass), sampledRows: [...rows] };
}
