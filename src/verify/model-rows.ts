/**
 * The model's per-layer check on query rows, from the GPU's own intermediate tensors: the check
 * a real model (GPT-2 small at 1024 tokens) can afford. The whole f64 forward reference
 * (forward-reference.ts) costs ~300 G multiply-adds there; this costs O(rows) per layer.
 *
 * Each layer l is checked from its input as the GPU computed it (layer 0: the GPU's `embed`,
 * else the GPU's `resid2` of layer l − 1), so an error in one layer shows in that layer and does
 * not compound through the rest. At each checked row r, in Float64 (parameters widened as read):
 *   LN1(x_l[r]) → q, k, v rows (c_attn + bias)                       compared with the GPU's q, k, v rows;
 *   query r against the GPU's K and V rows 0…r → scores row (scaled,
 *   causal, −∞ past r) → softmax → P·V                               compared with the GPU's scores (when
 *                                                                     read), weights (every head) and attn rows;
 *   attn·c_proj + bias + x_l[r] → resid1; LN2 → c_fc → gelu_new →
 *   c_proj + bias + resid1 → resid2                                  compared with the GPU's resid1 and resid2 rows.
 * Within a layer each stage reads the previous stage's f64 result (not the GPU's), so a wrong
 * GPU q fails q and the weights, attn, resid1 and resid2 rows after it, in that layer only; the
 * first failing tensor of a layer names the stage. The logits of each checked row come from the
 * GPU's last resid2 row (ln_f, x·wteᵀ, or x·lm_headᵀ untied). The embedding rows (wte[token] + wpe[r]) are checked
 * too, reported under layer 0: every layer-0 row rests on them.
 *
 * What this does not see: the attention of query r reads the GPU's K and V at every key 0…r, and
 * only the keys at checked rows were themselves compared with the reference. With all rows
 * checked (short sequences, see {@link modelRowsPlan}) that covers every key; with sampled rows
 * a K or V error at an unchecked row shows only through the attention rows that read it.
 *
 * Which rows: all of them while checking all costs at most FULL_REFERENCE_BUDGET multiply-adds
 * (policy.ts), else SAMPLED_ROWS rows by the policy's sampler (first and last row always in).
 * Pure TypeScript (Node and the reference worker).
 */
import { AttentionInputError, type InputErrorKind } from '../core/errors';
import { sampleRows } from '../reference/attention';
import { embeddingForward, geluForward, layerNormForward, linearForward, outputForward } from '../model/layers';
import { matmulNT, Scratch } from '../model/matmul';
import { byRole, checkModelParams, checkTokenIds, validateConfig, type Floats, type GptConfig } from '../model/schema';
import { checkLlamaConfig, isLlamaConfig, type LlamaConfig } from '../model/llama-schema';
import { llamaRowsCost, verifyLlamaPickedRows } from './llama-rows';
import { compareArrays, type Tolerance } from './compare';
import { MODEL_TOLERANCES, type ModelCheckRow, type ModelRowsLayer, type ModelRowsVerification, type PickedModelRows } from './model';

export type { ModelRowsLayer, ModelRowsVerification, PickedModelRows } from './model';
import { FULL_REFERENCE_BUDGET, SAMPLED_ROWS } from './policy';

/** A GPU run's tensors: `createGpuModel(...).run(ids, { read: MODEL_ROWS_READ })` returns them. */
export interface ModelRowsTensors {
  /** seqLen × dModel. */
  embed: Floats;
  layers: readonly ModelRowsLayer[];
  /** seqLen × vocabSize. */
  logits: Floats;
}

/** What a GPU run must read back for {@link verifyModelRows} (add 'scores' to have them compared too). */
export const MODEL_ROWS_READ = ['embed', 'q', 'k', 'v', 'weights', 'attn', 'resid1', 'resid2', 'logits'] as const;

/** Which rows the check compares, and why (see {@link modelRowsPlan}). */
export interface ModelRowsPlan {
  mode: 'all-rows' | 'sampled-rows';
  rows: number[];
  /** For people: why these rows. */
  reason: string;
}

/** A tensor or row list the check cannot use; the message says what to pass instead. */
export class ModelRowsError extends AttentionInputError {
  override name = 'ModelRowsError';
  constructor(field: string, given: string, allowed: string, kind: InputErrorKind, advice: string) {
    super(field, given, allowed, kind);
    this.message += `. ${advice}`;
  }
}

const READ_ADVICE = `Pass the arrays of one GPU run of these tokens, read with ${MODEL_ROWS_READ.join(', ')}`;

/**
 * Multiply-adds of checking `rows` of a sequence of `seqLen` tokens: per row and layer c_attn
 * (3d²), c_proj (d²), the MLP (2·d·dMlp) and the attention over keys 0…r (2·(r + 1)·d); per row
 * the logits (d·vocabSize).
 */
export function modelRowsCost(config: GptConfig | LlamaConfig, rows: readonly number[]): number {
  if (isLlamaConfig(config)) return llamaRowsCost(config, rows);
  const { dModel: d, dMlp, layers, vocabSize } = config;
  let cost = 0;
  for (const r of rows) cost += layers * (4 * d * d + 2 * d * dMlp + 2 * (r + 1) * d) + d * vocabSize;
  return cost;
}

/** The policy for a model: every row while that costs ≤ FULL_REFERENCE_BUDGET, else SAMPLED_ROWS sampled rows. */
export function modelRowsPlan(config: GptConfig | LlamaConfig, seqLen: number): ModelRowsPlan {
  if (!Number.isInteger(seqLen) || seqLen < 1) throw new ModelRowsError('seqLen', String(seqLen), 'an integer ≥ 1', 'shape', 'Pass the number of tokens the GPU ran.');
  const all = Array.from({ length: seqLen }, (_, i) => i);
  const cost = modelRowsCost(config, all);
  if (cost <= FULL_REFERENCE_BUDGET || seqLen <= SAMPLED_ROWS) return { mode: 'all-rows', rows: all, reason: `all ${seqLen} rows (${(cost / 1e6).toFixed(1)} M multiply-adds)` };
  return {
    mode: 'sampled-rows',
    rows: sampleRows(seqLen, SAMPLED_ROWS),
    reason: `checking all ${seqLen} rows would take ${(cost / 1e9).toFixed(1)} G multiply-adds (more than ${FULL_REFERENCE_BUDGET / 1e9} G)`,
  };
}

/** One line for the verification card: which rows were compared. */
export function describeModelRows(rows: readonly number[], seqLen: number): string {
  if (rows.length === seqLen) return `All ${seqLen} rows of every layer compared (each layer from the GPU's own input)`;
  return `${rows.length} sampled rows (${rows[0]}, …, ${rows[rows.length - 1]}) of ${seqLen} compared per layer, each layer from the GPU's own input; attention reads the GPU's K and V at every key`;
}

function checkLength(field: string, array: unknown, length: number, what: string): void {
  if (!(array instanceof Float32Array || array instanceof Float64Array)) {
    throw new ModelRowsError(field, array === undefined ? 'nothing' : typeof array, `a Float32Array of ${length} values (${what})`, 'type', READ_ADVICE);
  }
  if (array.length !== length) throw new ModelRowsError(field, `length ${array.length}`, `length ${length} (${what})`, 'length', READ_ADVICE);
}

function checkRows(rows: unknown, seqLen: number): number[] {
  const allowed = `ascending distinct integers from 0 to ${seqLen - 1}, at least one`;
  const advice = 'Pass modelRowsPlan(config, tokens.length).rows, or leave rows out.';
  if (!Array.isArray(rows) || rows.length === 0) throw new ModelRowsError('rows', Array.isArray(rows) ? 'an empty list' : typeof rows, allowed, 'type', advice);
  rows.forEach((r: unknown, i) => {
    if (typeof r !== 'number' || !Number.isInteger(r) || r < 0 || r >= seqLen || (i > 0 && r <= (rows[i - 1] as number))) {
      throw new ModelRowsError(`rows[${i}]`, String(r), allowed, 'shape', advice);
    }
  });
  return rows as number[];
}

/** An array like `like` (Float32 or Float64) of `n` zeros. */
const alike = (like: Floats, n: number): Floats => (like instanceof Float64Array ? new Float64Array(n) : new Float32Array(n));

/**
 * The tensors at `rows` only, for sending to the worker. `k` and `v` (and nothing else) are the
 * caller's arrays, not copies. Checks every length against the config and seqLen.
 */
export function pickModelRows(config: GptConfig | LlamaConfig, gpu: ModelRowsTensors, seqLen: number, rows: readonly number[]): PickedModelRows {
  let c: { dModel: number; heads: number; vocabSize: number; layers: number };
  // q, k, v and attn are heads · headDim wide (dModel for GPT-2); the residual stream dModel.
  let w: number;
  if (isLlamaConfig(config)) {
    checkLlamaConfig(config);
    c = config;
    w = config.heads * config.headDim;
  } else {
    c = validateConfig(config);
    w = c.dModel;
  }
  const { dModel: d, heads, vocabSize } = c;
  const picked = checkRows([...rows], seqLen);
  const T = seqLen;
  const n = picked.length;
  if (typeof gpu !== 'object' || gpu === null) throw new ModelRowsError('gpu', String(gpu), 'the tensors of a GPU run ({ embed, layers, logits })', 'type', READ_ADVICE);
  /** Rows of width w (row-major). */
  const rowsOf = (field: string, a: Floats, w: number): Floats => {
    checkLength(field, a, T * w, `${T} rows of ${w}`);
    const out = alike(a, n * w);
    picked.forEach((r, i) => out.set(a.subarray(r * w, (r + 1) * w), i * w));
    return out;
  };
  /** heads × T × T maps → heads × rows × T. */
  const mapRows = (field: string, a: Floats): Floats => {
    checkLength(field, a, heads * T * T, `${heads} heads × ${T} × ${T}`);
    const out = alike(a, heads * n * T);
    for (let h = 0; h < heads; h++) picked.forEach((r, i) => out.set(a.subarray((h * T + r) * T, (h * T + r + 1) * T), (h * n + i) * T));
    return out;
  };
  if (!Array.isArray(gpu.layers) || gpu.layers.length !== c.layers) {
    throw new ModelRowsError('gpu.layers', Array.isArray(gpu.layers) ? `${gpu.layers.length} layers` : typeof gpu.layers, `${c.layers} (the config's layers)`, 'length', READ_ADVICE);
  }
  const layers = gpu.layers.map((l, i): ModelRowsLayer => {
    const at = `gpu.layers[${i}]`;
    checkLength(`${at}.k`, l.k, T * w, `${T} rows of ${w}`);
    checkLength(`${at}.v`, l.v, T * w, `${T} rows of ${w}`);
    const layer: ModelRowsLayer = {
      q: rowsOf(`${at}.q`, l.q, w),
      k: l.k,
      v: l.v,
      weights: mapRows(`${at}.weights`, l.weights),
      attn: rowsOf(`${at}.attn`, l.attn, w),
      resid1: rowsOf(`${at}.resid1`, l.resid1, d),
      resid2: rowsOf(`${at}.resid2`, l.resid2, d),
    };
    if (l.scores !== undefined) layer.scores = mapRows(`${at}.scores`, l.scores);
    return layer;
  });
  return { seqLen: T, rows: picked, embed: rowsOf('gpu.embed', gpu.embed, d), layers, logits: rowsOf('gpu.logits', gpu.logits, vocabSize) };
}

/**
 * Check a GPU run of `tokens` at `rows` (default: {@link modelRowsPlan}'s), every layer from
 * the GPU's own input (see the module comment). `gpu` holds whole tensors of the run
 * ({@link MODEL_ROWS_READ}; `scores` per layer optional). Returns verifyModel's shape: per layer
 * embed (layer 0 only), q, k, v, scores (when read), weights, attn, resid1, resid2, then the
 * logits (layer null), and the rows compared. Throws {@link ModelRowsError} (a tensor of the
 * wrong length, a bad row) and schema errors for a bad config, parameters or token.
 */
export function verifyModelRows(config: GptConfig | LlamaConfig, params: ReadonlyMap<string, Floats>, gpu: ModelRowsTensors, tokens: readonly number[], rows?: readonly number[]): ModelRowsVerification {
  const chosen = rows ?? modelRowsPlan(config, tokens.length).rows;
  return verifyPickedRows(config, params, pickModelRows(config, gpu, tokens.length, chosen), tokens);
}

/** {@link verifyModelRows} on tensors already cut to their rows ({@link pickModelRows}): what the reference worker runs. */
export function verifyPickedRows(config: GptConfig | LlamaConfig, params: ReadonlyMap<string, Floats>, picked: PickedModelRows, tokens: readonly number[]): ModelRowsVerification {
  if (isLlamaConfig(config)) {
    if (!Array.isArray(tokens) || tokens.length < 1 || tokens.length > config.context) {
      throw new ModelRowsError('tokens', Array.isArray(tokens) ? `length ${tokens.length}` : typeof tokens, `from 1 to ${config.context} token ids (the context)`, 'length', 'Pass the ids the GPU ran.');
    }
    if (picked.seqLen !== tokens.length) throw new ModelRowsError('picked.seqLen', String(picked.seqLen), `${tokens.length} (the tokens' length)`, 'length', 'Pick the rows of the run of these tokens.');
    checkRows(picked.rows, tokens.length);
    return verifyLlamaPickedRows(config, params, picked, tokens);
  }
  const c = validateConfig(config);
  checkModelParams(c, params, { finite: true });
  if (!Array.isArray(tokens) || tokens.length < 1 || tokens.length > c.context) {
    throw new ModelRowsError('tokens', Array.isArray(tokens) ? `length ${tokens.length}` : typeof tokens, `from 1 to ${c.context} token ids (the context)`, 'length', 'Pass the ids the GPU ran.');
  }
  checkTokenIds('tokens', tokens, c.vocabSize);
  const T = tokens.length;
  if (picked.seqLen !== T) throw new ModelRowsError('picked.seqLen', String(picked.seqLen), `${T} (the tokens' length)`, 'length', 'Pick the rows of the run of these tokens.');
  const rows = checkRows(picked.rows, T);
  const { dModel: d, heads, dMlp, vocabSize } = c;
  const dHead = d / heads;
  const n = rows.length;
  const p = byRole(c, params);
  const scratch = new Scratch((len) => new Float64Array(len));
  const f64 = (len: number) => new Float64Array(len);
  const what = `${n} rows of ${d}`;
  checkLength('picked.embed', picked.embed, n * d, what);
  checkLength('picked.logits', picked.logits, n * vocabSize, `${n} rows of ${vocabSize}`);
  if (picked.layers.length !== c.layers) throw new ModelRowsError('picked.layers', `${picked.layers.length} layers`, `${c.layers}`, 'length', READ_ADVICE);

  const out: ModelCheckRow[] = [];
  const compare = (layer: number | null, name: ModelCheckRow['name'], actual: Floats, expected: Float64Array, tolerance: Tolerance) =>
    out.push({ layer, name, comparison: compareArrays(actual, expected, tolerance) });

  // The embedding rows: wte[token] + wpe[r], one row at a time (rows need not be contiguous).
  const embed = f64(n * d);
  rows.forEach((r, i) => embeddingForward([tokens[r]], p.wte, p.wpe.subarray(r * d, (r + 1) * d), embed.subarray(i * d, (i + 1) * d), 1, 1, d));
  compare(0, 'embed', picked.embed, embed, MODEL_TOLERANCES.activations);

  const mean = f64(n);
  const rstd = f64(n);
  const scale = 1 / Math.sqrt(dHead);
  let x: Floats = picked.embed; // the layer's input at the checked rows, as the GPU computed it
  picked.layers.forEach((g, l) => {
    const at = `picked.layers[${l}]`;
    for (const name of ['q', 'attn', 'resid1', 'resid2'] as const) checkLength(`${at}.${name}`, g[name], n * d, what);
    for (const name of ['k', 'v'] as const) checkLength(`${at}.${name}`, g[name], T * d, `${T} rows of ${d}`);
    checkLength(`${at}.weights`, g.weights, heads * n * T, `${heads} heads × ${n} rows × ${T}`);
    if (g.scores !== undefined) checkLength(`${at}.scores`, g.scores, heads * n * T, `${heads} heads × ${n} rows × ${T}`);
    const w = p.blocks[l];

    const ln1 = f64(n * d);
    layerNormForward(x, w.ln1w, w.ln1b, ln1, mean, rstd, n, d);
    const qkv = f64(n * 3 * d);
    linearForward(ln1, w.attnW, w.attnB, qkv, n, d, 3 * d, scratch);
    const part = (from: number) => {
      const a = f64(n * d);
      for (let i = 0; i < n; i++) a.set(qkv.subarray(i * 3 * d + from, i * 3 * d + from + d), i * d);
      return a;
    };
    const q = part(0);
    const gpuRows = (a: Floats) => {
      const o = alike(a, n * d);
      rows.forEach((r, i) => o.set(a.subarray(r * d, (r + 1) * d), i * d));
      return o;
    };
    compare(l, 'q', g.q, q, MODEL_TOLERANCES.activations);
    compare(l, 'k', gpuRows(g.k), part(d), MODEL_TOLERANCES.activations);
    compare(l, 'v', gpuRows(g.v), part(2 * d), MODEL_TOLERANCES.activations);

    // Query row r of each head against the GPU's keys and values 0…r.
    const scores = f64(heads * n * T);
    const weights = f64(heads * n * T);
    const attn = f64(n * d);
    for (let h = 0; h < heads; h++) {
      rows.forEach((r, i) => {
        const row = (h * n + i) * T;
        matmulNT(q, i * d + h * dHead, d, g.k, h * dHead, d, scores, row, T, 1, r + 1, dHead, false);
        softmaxCausalRow(scores, weights, row, r, T, scale);
        const o = i * d + h * dHead;
        for (let j = 0; j <= r; j++) {
          const pj = weights[row + j];
          const vj = j * d + h * dHead;
          for (let e = 0; e < dHead; e++) attn[o + e] += pj * g.v[vj + e];
        }
      });
    }
    if (g.scores !== undefined) compare(l, 'scores', g.scores, scores, MODEL_TOLERANCES.scores);
    compare(l, 'weights', g.weights, weights, MODEL_TOLERANCES.weights);
    compare(l, 'attn', g.attn, attn, MODEL_TOLERANCES.activations);

    const resid1 = f64(n * d);
    linearForward(attn, w.projW, w.projB, resid1, n, d, d, scratch);
    for (let i = 0; i < n * d; i++) resid1[i] += x[i];
    compare(l, 'resid1', g.resid1, resid1, MODEL_TOLERANCES.activations);
    const ln2 = f64(n * d);
    layerNormForward(resid1, w.ln2w, w.ln2b, ln2, mean, rstd, n, d);
    const pre = f64(n * dMlp);
    linearForward(ln2, w.fcW, w.fcB, pre, n, d, dMlp, scratch);
    geluForward(pre, pre, n * dMlp);
    const resid2 = f64(n * d);
    linearForward(pre, w.mlpW, w.mlpB, resid2, n, dMlp, d, scratch);
    for (let i = 0; i < n * d; i++) resid2[i] += resid1[i];
    compare(l, 'resid2', g.resid2, resid2, MODEL_TOLERANCES.activations);
    x = g.resid2; // the next layer starts from the GPU's output, not ours: errors do not compound
  });

  const lnF = f64(n * d);
  layerNormForward(x, p.lnfW, p.lnfB, lnF, mean, rstd, n, d);
  const logits = f64(n * vocabSize);
  outputForward(lnF, p.lmHead, logits, n, d, vocabSize);
  compare(null, 'logits', picked.logits, logits, MODEL_TOLERANCES.logits);
  return { rows: out, pass: out.every((r) => r.comparison.pass), sampledRows: rows };
}

/**
 * scores[row + j] (j ≤ r, the raw dot products) scaled, −∞ past r; weights their softmax (0
 * past r), with the max subtracted and the sum in double as attentionForward (layers.ts) does
 * for a whole map. One row here: the model's layers have no row-wise softmax to call.
 */
function softmaxCausalRow(scores: Float64Array, weights: Float64Array, row: number, r: number, T: number, scale: number): void {
  let max = -Infinity;
  for (let j = 0; j <= r; j++) {
    const s = scores[row + j] * scale;
    scores[row + j] = s;
    if (s > max) max = s;
  }
  for (let j = r + 1; j < T; j++) scores[row + j] = -Infinity;
  let sum = 0;
  for (let j = 0; j <= r; j++) {
    const e = Math.exp(scores[row + j] - max);
    weights[row + j] = e;
    sum += e;
  }
  const inv = 1 / sum;
  for (let j = 0; j <= r; j++) weights[row + j] *= inv;
}
