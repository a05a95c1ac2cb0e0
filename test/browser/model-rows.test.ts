// The model's row check (src/verify/model-rows.ts) on real GPU tensors: a random model of odd
// sizes and the shipped checkpoint run by createGpuModel (src/kernels/model.ts), checked in the
// page and through the reference worker (src/workers/reference-client.ts), which must get the
// parameters once per worker: with the first request, not with the next, and again after cancel.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGpuModel, type GpuModel, type GpuModelResult } from '../../src/kernels/model';
import { forwardReference } from '../../src/model/forward-reference';
import type { GptConfig, GptParams } from '../../src/model/schema';
import { gaussian, initParams } from '../../src/train/init';
import { makeRng } from '../../src/reference/random';
import { MODEL_ROWS_READ, verifyModelRows, type ModelRowsTensors, type ModelRowsVerification } from '../../src/verify/model-rows';
import { createReferenceClient, type ReferenceClient } from '../../src/workers/reference-client';
import { gpu, useGpuDevice } from './gpu-fixture';
import { fetchShippedCheckpoint } from './model-fixture';

useGpuDevice();

const ODD: GptConfig = { vocabSize: 29, context: 37, dModel: 30, heads: 3, layers: 2, dMlp: 50 };

/** A random model with non-trivial biases and gains and a softmax that is not flat (as model-forward.test.ts). */
function oddParams(seed: number): GptParams {
  const params = initParams(ODD, seed);
  const normal = gaussian(makeRng(seed + 1));
  for (const [name, data] of params) {
    if (name.endsWith('.bias')) for (let i = 0; i < data.length; i++) data[i] = 0.3 * normal();
    else if (/ln_(1|2|f)\.weight$/.test(name)) for (let i = 0; i < data.length; i++) data[i] = 1 + 0.3 * normal();
    else if (name.endsWith('c_attn.weight')) for (let i = 0; i < data.length; i++) data[i] *= 12;
    else if (name === 'wte.weight') for (let i = 0; i < data.length; i++) data[i] *= 25;
  }
  return params;
}

/** A run's arrays as the row check takes them. */
function tensorsOf(result: GpuModelResult): ModelRowsTensors {
  return {
    embed: result.embed!,
    layers: result.layers.map((l) => ({ q: l.q!, k: l.k!, v: l.v!, scores: l.scores, weights: l.weights!, attn: l.attn!, resid1: l.resid1!, resid2: l.resid2! })),
    logits: result.logits!,
  };
}

function expectPass(label: string, v: ModelRowsVerification): void {
  const bad = v.rows.filter((r) => !r.comparison.pass).map((r) => `L${r.layer} ${r.name}: ${r.comparison.failures} off, max |Δ| ${r.comparison.maxAbsErr}`);
  expect(bad, label).toEqual([]);
  expect(v.pass).toBe(true);
  const worst = Math.max(...v.rows.map((r) => r.comparison.maxAbsErr));
  console.info(`[model-rows] ${label}: ${v.rows.length} tensors on ${v.sampledRows.length} rows, worst |Δ| ${worst.toExponential(2)}`);
}

describe('the row check of a random model’s GPU run', () => {
  const params = oddParams(11);
  const tokens = Array.from({ length: 37 }, (_, i) => (i * 7 + 3) % ODD.vocabSize);
  let model: GpuModel;
  let client: ReferenceClient;
  beforeAll(async () => {
    model = await createGpuModel(gpu(), ODD, params);
    client = createReferenceClient();
  });
  afterAll(() => {
    model?.destroy();
    client?.cancel();
  });

  it('passes every row, and the same check fails a GPU tensor changed after the run', async () => {
    const result = await model.run(tokens, { read: [...MODEL_ROWS_READ, 'scores'] });
    const gpuTensors = tensorsOf(result);
    const v = verifyModelRows(ODD, params, gpuTensors, tokens);
    expect(v.sampledRows).toHaveLength(37);
    expect(v.rows.some((r) => r.name === 'scores')).toBe(true);
    expectPass('odd model, 37 tokens, all rows', v);
    expectPass('odd model, rows 0, 18, 36', verifyModelRows(ODD, params, gpuTensors, tokens, [0, 18, 36]));
    // The GPU values are checked, not just passed through: one changed attention row fails it.
    gpuTensors.layers[1].attn[18 * ODD.dModel] += 0.05;
    const broken = verifyModelRows(ODD, params, gpuTensors, tokens);
    expect(broken.rows.filter((r) => !r.comparison.pass).map((r) => `L${r.layer} ${r.name}`)).toEqual(['L1 attn']);
  });

  it('runs in the reference worker, sending the parameters once per worker', async () => {
    const result = await model.run(tokens, { read: MODEL_ROWS_READ });
    const inPage = verifyModelRows(ODD, params, tensorsOf(result), tokens);
    const first = await client.verifyModelRows(ODD, params, tensorsOf(result), tokens);
    expect(first.sentParams).toBe(true);
    expect(first.verification.rows.map((r) => r.comparison.maxAbsErr)).toEqual(inPage.rows.map((r) => r.comparison.maxAbsErr));
    expectPass('odd model in the worker', first.verification);
    // Later requests name the parameters by key; the f64 forward reads the same ones.
    const second = await client.verifyModelRows(ODD, params, tensorsOf(result), tokens, { rows: [0, 36] });
    expect(second.sentParams).toBe(false);
    expect(second.verification.sampledRows).toEqual([0, 36]);
    const { traces } = await client.forwardModel(ODD, params, [tokens]);
    expect(Array.from(traces[0].logits)).toEqual(Array.from(forwardReference(ODD, params, tokens).logits));
    // transfer: K and V move to the worker (detached here), the rest of the run stays.
    const moved = tensorsOf(result);
    const third = await client.verifyModelRows(ODD, params, moved, tokens, { transfer: true });
    expect(third.verification.pass).toBe(true);
    expect(moved.layers[0].k.length).toBe(0);
    expect(moved.layers[0].q.length).toBe(37 * ODD.dModel);
    // Cancel ends the worker and its copy: the next request carries the parameters again.
    client.cancel();
    const again = await model.run(tokens, { read: MODEL_ROWS_READ });
    const fourth = await client.verifyModelRows(ODD, params, tensorsOf(again), tokens);
    expect(fourth.sentParams).toBe(true);
    expect(fourth.verification.pass).toBe(true);
  });

  it('rejects tensors of the wrong size before sending anything', async () => {
    const result = await model.run(tokens.slice(0, 5), { read: MODEL_ROWS_READ });
    await expect(client.verifyModelRows(ODD, params, tensorsOf(result), tokens)).rejects.toMatchObject({ name: 'ModelRowsError', field: 'gpu.layers[0].k' });
    // The worker still holds the parameters of the last test: nothing was sent or reset.
    const right = await model.run(tokens, { read: MODEL_ROWS_READ });
    const next = await client.verifyModelRows(ODD, params, tensorsOf(right), tokens, { rows: [36] });
    expect(next.sentParams).toBe(false);
    expect(next.verification.pass).toBe(true);
  });
});

describe('the row check of the shipped checkpoint', () => {
  it('passes on 128 tokens, every layer', async () => {
    const checkpoint = await fetchShippedCheckpoint();
    const rng = makeRng(5);
    const tokens = Array.from({ length: Math.min(128, checkpoint.config.context) }, () => Math.floor(rng() * checkpoint.config.vocabSize));
    const model = await createGpuModel(gpu(), checkpoint.config, checkpoint.params);
    try {
      const result = await model.run(tokens, { read: MODEL_ROWS_READ });
      expectPass(`shipped model, ${tokens.length} tokens`, verifyModelRows(checkpoint.config, checkpoint.params, tensorsOf(result), tokens));
    } finally {
      model.destroy();
    }
  });
});
