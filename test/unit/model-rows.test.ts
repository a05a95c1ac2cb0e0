/**
 * The model's row check (src/verify/model-rows.ts): each layer recomputed at chosen rows from
 * the "GPU's" own input. The GPU here is the f64 forward reference's own trace
 * (forwardReference, a whole-sequence pass through other code: attentionForward's banded
 * products and its own softmax), exact or rounded to f32; then single values are perturbed and
 * exactly the rows that read them must fail. The row choice is checked against the policy.
 */
import { describe, expect, it } from 'vitest';
import { makeRng } from '../../src/reference/random';
import { sampleRows } from '../../src/reference/attention';
import { forwardReference, type GptTrace } from '../../src/model/forward-reference';
import type { GptConfig, GptParams } from '../../src/model/schema';
import { gaussian, initParams } from '../../src/train/init';
import { FULL_REFERENCE_BUDGET, SAMPLED_ROWS } from '../../src/verify/policy';
import { MODEL_TOLERANCES } from '../../src/verify/model';
import {
  MODEL_ROWS_READ,
  ModelRowsError,
  modelRowsCost,
  modelRowsPlan,
  pickModelRows,
  verifyModelRows,
  type ModelRowsTensors,
  type ModelRowsVerification,
} from '../../src/verify/model-rows';
import { thrown } from './expect-thrown';

const config: GptConfig = { vocabSize: 40, context: 16, dModel: 12, heads: 3, layers: 2, dMlp: 20 };
const T = 9;
const d = config.dModel;
const H = config.heads;

/** Random parameters larger than the init's, so every layer moves the residual stream. */
function randomParams(seed: number, scale = 0.4): GptParams {
  const normal = gaussian(makeRng(seed));
  const params = initParams(config, seed);
  for (const [name, data] of params) {
    const isGain = /ln_(1|2|f)\.weight$/.test(name);
    for (let i = 0; i < data.length; i++) data[i] = (isGain ? 1 : 0) + scale * normal();
  }
  return params;
}

const params = randomParams(17);
const tokens = [3, 17, 5, 39, 0, 17, 5, 22, 8];
const trace = forwardReference(config, params, tokens);

/** The trace as a GPU run's read-back: rounded to f32 (like the GPU's arrays), or the exact f64 values. */
function gpuFrom(t: GptTrace, f32: boolean, scores = true): ModelRowsTensors {
  const copy = (a: Float64Array) => (f32 ? Float32Array.from(a) : a.slice());
  return {
    embed: copy(t.embed),
    layers: t.layers.map((l) => ({
      q: copy(l.q),
      k: copy(l.k),
      v: copy(l.v),
      ...(scores ? { scores: copy(l.scores) } : {}),
      weights: copy(l.weights),
      attn: copy(l.attn),
      resid1: copy(l.resid1),
      resid2: copy(l.resid2),
    })),
    logits: copy(t.logits),
  };
}

const LAYER_NAMES = ['q', 'k', 'v', 'scores', 'weights', 'attn', 'resid1', 'resid2'];

/** "L1 attn" for every failing row of the card. */
function failing(v: ModelRowsVerification): string[] {
  return v.rows.filter((r) => !r.comparison.pass).map((r) => `${r.layer === null ? 'out' : `L${r.layer}`} ${r.name}`);
}

function row(v: ModelRowsVerification, layer: number | null, name: string) {
  const found = v.rows.find((r) => r.layer === layer && r.name === name);
  expect(found, `${layer} ${name}`).toBeDefined();
  return found!.comparison;
}

describe('verifyModelRows on the reference’s own tensors', () => {
  it('every row of a short sequence is checked, and the f32-rounded trace passes every tensor', () => {
    const v = verifyModelRows(config, params, gpuFrom(trace, true), tokens);
    expect(v.sampledRows).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(v.rows.map((r) => `${r.layer === null ? 'out' : `L${r.layer}`} ${r.name}`)).toEqual([
      'L0 embed',
      ...LAYER_NAMES.map((n) => `L0 ${n}`),
      ...LAYER_NAMES.map((n) => `L1 ${n}`),
      'out logits',
    ]);
    expect(failing(v)).toEqual([]);
    expect(v.pass).toBe(true);
    // The lengths compared: T rows of d, maps H × T × T, logits T × vocab.
    expect(row(v, 1, 'q').length).toBe(T * d);
    expect(row(v, 1, 'weights').length).toBe(H * T * T);
    expect(row(v, null, 'logits').length).toBe(T * config.vocabSize);
    // f32 rounding of the inputs is all that differs: far inside the tolerances.
    for (const r of v.rows) expect(r.comparison.maxAbsErr, `${r.layer} ${r.name}`).toBeLessThan(1e-5);
  });

  it('agrees with the whole f64 forward to rounding when fed its exact tensors', () => {
    const v = verifyModelRows(config, params, gpuFrom(trace, false), tokens);
    for (const r of v.rows) expect(r.comparison.maxAbsErr, `${r.layer} ${r.name}`).toBeLessThan(1e-12);
    // Masked scores are −∞ on both sides (equal infinities count as exact), masked weights 0.
    expect(row(v, 0, 'scores').failures).toBe(0);
  });

  it('compares no scores when the run did not read them (keep: weights)', () => {
    const v = verifyModelRows(config, params, gpuFrom(trace, true, false), tokens);
    expect(v.rows.some((r) => r.name === 'scores')).toBe(false);
    expect(v.rows.length).toBe(1 + 2 * 7 + 1);
    expect(v.pass).toBe(true);
  });

  it('on sampled rows, compares only those rows: heads × rows × T maps, rows × d activations', () => {
    const rows = [0, 4, 8];
    const v = verifyModelRows(config, params, gpuFrom(trace, true), tokens, rows);
    expect(v.sampledRows).toEqual(rows);
    expect(v.pass).toBe(true);
    expect(row(v, 0, 'k').length).toBe(3 * d);
    expect(row(v, 0, 'weights').length).toBe(H * 3 * T);
    expect(row(v, null, 'logits').length).toBe(3 * config.vocabSize);
  });
});

describe('verifyModelRows: a wrong value fails exactly the rows that read it', () => {
  it('layer 1’s v at an unchecked row fails the attention of the sampled queries that read it, and what follows in that layer only', () => {
    const gpu = gpuFrom(trace, true);
    gpu.layers[1].v[2 * d + 4] += 0.5; // key 2, head 1 (columns 4…7)
    // Rows 0, 4, 8: query 0 never reads key 2; 4 and 8 do. Row 2 itself is not compared.
    const v = verifyModelRows(config, params, gpu, tokens, [0, 4, 8]);
    expect(failing(v)).toEqual(['L1 attn', 'L1 resid1', 'L1 resid2']);
    // attn rows × d: column 4 (head 1's first, the one changed) of rows 4 and 8 (picked rows 1 and 2).
    const attn = row(v, 1, 'attn');
    expect(attn.failures).toBe(2);
    expect(Math.floor(attn.worstIndex / d)).toBeGreaterThanOrEqual(1);
    expect(attn.worstIndex % d).toBe(4);
    // Layer 2 does not exist; the logits read the GPU's own last resid2, untouched: they pass.
    expect(row(v, null, 'logits').pass).toBe(true);
  });

  it('the same v value with every row checked fails v itself too', () => {
    const gpu = gpuFrom(trace, true);
    gpu.layers[1].v[2 * d + 4] += 0.5;
    const v = verifyModelRows(config, params, gpu, tokens);
    expect(failing(v)).toEqual(['L1 v', 'L1 attn', 'L1 resid1', 'L1 resid2']);
    expect(row(v, 1, 'v').failures).toBe(1);
    expect(row(v, 1, 'v').worstIndex).toBe(2 * d + 4);
  });

  it('one weight of layer 0 fails that weights row only', () => {
    const gpu = gpuFrom(trace, true);
    const at = (1 * T + 4) * T + 2; // head 1, query 4, key 2
    gpu.layers[0].weights[at] += 0.01;
    const v = verifyModelRows(config, params, gpu, tokens);
    expect(failing(v)).toEqual(['L0 weights']);
    expect(row(v, 0, 'weights').failures).toBe(1);
    expect(row(v, 0, 'weights').worstIndex).toBe(at);
  });

  it('one value of the last layer’s resid2 fails that row and the logits it feeds', () => {
    const gpu = gpuFrom(trace, true);
    gpu.layers[1].resid2[4 * d + 3] += 0.5;
    const v = verifyModelRows(config, params, gpu, tokens);
    expect(failing(v)).toEqual(['L1 resid2', 'out logits']);
    expect(row(v, 1, 'resid2').failures).toBe(1);
    // Only row 4's logits move.
    expect(Math.floor(row(v, null, 'logits').worstIndex / config.vocabSize)).toBe(4);
  });

  it('one value of layer 0’s resid2 fails it and layer 1 at that row only (layer 1 starts from the GPU’s input)', () => {
    const gpu = gpuFrom(trace, true);
    gpu.layers[0].resid2[4 * d + 3] += 0.5;
    const v = verifyModelRows(config, params, gpu, tokens);
    expect(failing(v)).toEqual(['L0 resid2', ...LAYER_NAMES.map((n) => `L1 ${n}`)]);
    for (const name of ['q', 'k', 'v', 'attn', 'resid1', 'resid2']) expect(Math.floor(row(v, 1, name).worstIndex / d), `L1 ${name}`).toBe(4);
    for (const name of ['scores', 'weights']) expect(Math.floor(row(v, 1, name).worstIndex / T) % T, `L1 ${name}`).toBe(4);
    // The logits read the GPU's last resid2, which is right.
    expect(row(v, null, 'logits').pass).toBe(true);
  });

  it('one logit fails the logits only', () => {
    const gpu = gpuFrom(trace, true);
    const at = 7 * config.vocabSize + 11;
    gpu.logits[at] -= 0.01;
    const v = verifyModelRows(config, params, gpu, tokens);
    expect(failing(v)).toEqual(['out logits']);
    expect(row(v, null, 'logits').failures).toBe(1);
    expect(row(v, null, 'logits').worstIndex).toBe(at);
    expect(row(v, null, 'logits').tolerance).toEqual(MODEL_TOLERANCES.logits);
  });

  it('a wrong embedding row fails embed and the layer-0 rows built on it; layer 1 starts from the GPU’s resid2', () => {
    const gpu = gpuFrom(trace, true);
    gpu.embed[6 * d] += 0.5;
    const v = verifyModelRows(config, params, gpu, tokens, [0, 6, 8]);
    expect(failing(v)).toEqual(['L0 embed', ...LAYER_NAMES.map((n) => `L0 ${n}`)]);
    expect(row(v, 0, 'embed').worstIndex).toBe(1 * d); // picked row 1 is row 6
    expect(Math.floor(row(v, 0, 'q').worstIndex / d)).toBe(1);
  });
});

describe('which rows the model check compares (the shared policy)', () => {
  it('counts the multiply-adds per row by hand', () => {
    // d 12, dMlp 20, 2 layers, vocab 40; row r: 2·(4·144 + 2·12·20 + 2·(r + 1)·12) + 12·40.
    const perRow = (r: number) => 2 * (576 + 480 + 24 * (r + 1)) + 480;
    expect(modelRowsCost(config, [0])).toBe(perRow(0));
    expect(modelRowsCost(config, [0, 4, 8])).toBe(perRow(0) + perRow(4) + perRow(8));
    expect(perRow(0)).toBe(2640);
  });

  it('checks every row while under the budget', () => {
    expect(modelRowsPlan(config, T)).toMatchObject({ mode: 'all-rows', rows: [0, 1, 2, 3, 4, 5, 6, 7, 8] });
  });

  it('samples SAMPLED_ROWS rows of GPT-2 small at 1024 tokens, the first and the last among them', () => {
    const gpt2: GptConfig = { vocabSize: 50257, context: 1024, dModel: 768, heads: 12, layers: 12, dMlp: 3072 };
    const all = Array.from({ length: 1024 }, (_, i) => i);
    expect(modelRowsCost(gpt2, all)).toBeGreaterThan(FULL_REFERENCE_BUDGET);
    const plan = modelRowsPlan(gpt2, 1024);
    expect(plan.mode).toBe('sampled-rows');
    expect(plan.rows).toEqual(sampleRows(1024, SAMPLED_ROWS));
    expect(plan.rows.length).toBe(SAMPLED_ROWS);
    expect(plan.rows[0]).toBe(0);
    expect(plan.rows[SAMPLED_ROWS - 1]).toBe(1023);
    // Per row 12 × (4·768² + 2·768·3072) + 768·50257 = 123 532 032, plus the attention 12 × 2·(r + 1)·768:
    // 1024 rows: 126.497 G + 12·768·1024·1025 = 9.672 G → 136.2 G.
    expect(plan.reason).toContain('136.2 G');
    // The sampled rows 0, 64, …, 895, 1023 instead: 16 × 123 532 032 + 18 432 × Σ(r + 1) (= 7753) = 2.119 G.
    expect(plan.rows).toEqual([0, 64, 128, 192, 256, 320, 384, 448, 512, 575, 639, 703, 767, 831, 895, 1023]);
    expect(modelRowsCost(gpt2, plan.rows)).toBe(16 * 123_532_032 + 18_432 * 7753);
  });

  it('the budget edge: the longest sequence under it is checked whole, one more token is sampled', () => {
    let t = SAMPLED_ROWS + 1;
    while (modelRowsCost(config, Array.from({ length: t + 1 }, (_, i) => i)) <= FULL_REFERENCE_BUDGET) t++;
    expect(modelRowsPlan(config, t).mode).toBe('all-rows');
    const over = modelRowsPlan(config, t + 1);
    expect(over.mode).toBe('sampled-rows');
    expect(over.rows[0]).toBe(0);
    expect(over.rows[over.rows.length - 1]).toBe(t);
  });
});

describe('pickModelRows and the errors of the row check', () => {
  it('cuts maps to heads × rows × T and activations to rows × d, keeping k and v whole', () => {
    const gpu = gpuFrom(trace, true);
    const picked = pickModelRows(config, gpu, T, [2, 7]);
    expect(picked.rows).toEqual([2, 7]);
    expect(picked.layers[1].k).toBe(gpu.layers[1].k);
    // head 2, picked row 1 (= query 7), key 5.
    expect(picked.layers[1].weights[(2 * 2 + 1) * T + 5]).toBe(gpu.layers[1].weights[(2 * T + 7) * T + 5]);
    expect(picked.layers[0].resid1[1 * d + 3]).toBe(gpu.layers[0].resid1[7 * d + 3]);
    expect(picked.logits.length).toBe(2 * config.vocabSize);
    expect(picked.logits[config.vocabSize + 9]).toBe(gpu.logits[7 * config.vocabSize + 9]);
  });

  it('names the tensor whose length is wrong, the rows out of order or range, and a missing layer', () => {
    const gpu = gpuFrom(trace, true);
    const short = { ...gpu, layers: gpu.layers.map((l, i) => (i === 1 ? { ...l, q: l.q.subarray(1) } : l)) };
    const e = thrown(ModelRowsError, () => verifyModelRows(config, params, short, tokens));
    expect(e.field).toBe('gpu.layers[1].q');
    expect(e.message).toContain(`length ${T * d - 1}`);
    expect(e.message).toContain(MODEL_ROWS_READ.join(', '));
    expect(thrown(ModelRowsError, () => verifyModelRows(config, params, gpu, tokens, [3, 3])).field).toBe('rows[1]');
    expect(thrown(ModelRowsError, () => verifyModelRows(config, params, gpu, tokens, [0, T])).field).toBe('rows[1]');
    expect(thrown(ModelRowsError, () => verifyModelRows(config, params, gpu, tokens, [])).field).toBe('rows');
    expect(thrown(ModelRowsError, () => verifyModelRows(config, params, { ...gpu, layers: gpu.layers.slice(0, 1) }, tokens)).field).toBe('gpu.layers');
    const noWeights = { ...gpu, layers: gpu.layers.map((l) => ({ ...l, weights: undefined as unknown as Float32Array })) };
    expect(thrown(ModelRowsError, () => verifyModelRows(config, params, noWeights, tokens)).field).toBe('gpu.layers[0].weights');
  });
});
