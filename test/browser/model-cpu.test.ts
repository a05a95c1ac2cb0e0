// The model's f32 CPU forward in its worker (src/workers/model-cpu-client.ts): its logits equal
// the f64 forward reference's (src/model/forward-reference.ts, a second implementation in double)
// within float32 tolerance, on a random model of odd sizes and on the shipped checkpoint, in the
// worker alone and split over helper workers; the parameters cross once per worker; cancel (or an
// aborted signal) rejects with AttentionAbortError and the next run works in a fresh worker.
import { afterAll, describe, expect, it } from 'vitest';
import { AttentionAbortError, AttentionInputError } from '../../src/core/errors';
import { forwardReference } from '../../src/model/forward-reference';
import { ModelParamsError, type GptConfig, type GptParams } from '../../src/model/schema';
import { makeRng } from '../../src/reference/random';
import { gaussian, initParams } from '../../src/train/init';
import { compareArrays } from '../../src/verify/compare';
import { createModelCpuClient, type ModelCpuRun } from '../../src/workers/model-cpu-client';
import { fetchShippedCheckpoint } from './model-fixture';

const ODD: GptConfig = { vocabSize: 29, context: 37, dModel: 30, heads: 3, layers: 3, dMlp: 50 };

/** A random model with non-trivial biases and gains and a softmax that is not flat (as model-rows.test.ts). */
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

/**
 * The worker's logits against the f64 reference's. Float32 storage and float32 sums (the
 * wasm-f32 kernel) over depths up to dMlp: |Δ| ≤ 2e-5·max|logit| + 1e-4·|logit| leaves room for
 * the rounding of a few layers (~2e-7·max|logit| measured here) and is far below a wrong row, column or head.
 */
function expectLogits(label: string, run: ModelCpuRun, config: GptConfig, params: GptParams, tokens: number[], threads: number): void {
  const expected = forwardReference(config, params, tokens).logits;
  expect(run.logits).toHaveLength(tokens.length * config.vocabSize);
  let scale = 0;
  for (const v of expected) scale = Math.max(scale, Math.abs(v));
  const c = compareArrays(run.logits, expected, { atol: 2e-5 * scale, rtol: 1e-4 });
  expect(c.failures, `${label}: worst [${c.worstIndex}] ${c.worstActual} vs ${c.worstExpected}`).toBe(0);
  // The reference's logits are not all alike: equal to them is a statement about the forward.
  expect(scale).toBeGreaterThan(1);
  expect(run.ms).toBeGreaterThan(0);
  expect(run.threads).toBe(threads);
  console.info(`[model-cpu] ${label}, ${threads} thread(s): max |Δ| ${c.maxAbsErr.toExponential(2)} of max |logit| ${scale.toFixed(2)}, ${run.ms.toFixed(1)} ms, ${run.kernel}`);
}

const client = createModelCpuClient();
const split = createModelCpuClient({ threads: 3 });
const alone = createModelCpuClient({ threads: 1 });
afterAll(() => [client, split, alone].forEach((c) => c.cancel()));

describe('the model’s f32 CPU forward in a worker', () => {
  const params = oddParams(5);
  const tokens = (n: number, step: number) => Array.from({ length: n }, (_, i) => (i * step + 3) % ODD.vocabSize);

  it('runs on one thread fewer than navigator.hardwareConcurrency by default (at least 1, at most 8)', () => {
    expect(client.threads).toBe(Math.max(1, Math.min(8, navigator.hardwareConcurrency - 1)));
    expect(() => createModelCpuClient({ threads: 0 })).toThrow(/threads.*an integer from 1 to 64/);
    expect(() => createModelCpuClient({ threads: 2.5 })).toThrow(AttentionInputError);
  });

  for (const [threads, cpu] of [[1, alone], [3, split]] as const) {
    it(`equals the f64 reference on a random model of odd sizes on ${threads} thread(s), at the full context and shorter`, async () => {
      const full = await cpu.forward(ODD, params, tokens(37, 7));
      expect(full.kernel).toBe('wasm-f32'); // Chromium has WebAssembly SIMD: the fast kernel is the one timed
      expectLogits('odd model, 37 tokens', full, ODD, params, tokens(37, 7), threads);
      // Shorter after longer (buffers reused) and a single token.
      expectLogits('odd model, 11 tokens', await cpu.forward(ODD, params, tokens(11, 5)), ODD, params, tokens(11, 5), threads);
      expectLogits('odd model, 1 token', await cpu.forward(ODD, params, [17]), ODD, params, [17], threads);
    });
  }

  it('sends the parameters once per worker, again after cancel, and for another parameters object', async () => {
    const own = createModelCpuClient();
    try {
      const other = oddParams(6);
      expect((await own.forward(ODD, params, tokens(9, 2))).sentParams).toBe(true);
      expect((await own.forward(ODD, params, tokens(9, 3))).sentParams).toBe(false);
      // A different parameters object is a different model, even of the same config.
      const second = await own.forward(ODD, other, tokens(9, 2));
      expect(second.sentParams).toBe(true);
      expectLogits('second model', second, ODD, other, tokens(9, 2), own.threads);
      expect((await own.forward(ODD, params, tokens(9, 2))).sentParams).toBe(true);
      own.cancel();
      const fresh = await own.forward(ODD, params, tokens(9, 2));
      expect(fresh.sentParams).toBe(true);
      expectLogits('after cancel', fresh, ODD, params, tokens(9, 2), own.threads);
      // Without logits only the time comes back.
      const timed = await own.forward(ODD, params, tokens(20, 3), { logits: false });
      expect(timed.logits).toHaveLength(0);
      expect(timed.sentParams).toBe(false);
      expect(timed.ms).toBeGreaterThan(0);
    } finally {
      own.cancel();
    }
  });

  it('cancel and an aborted signal reject with AttentionAbortError; the next run works (split over 2 threads)', async () => {
    const own = createModelCpuClient({ threads: 2 });
    try {
      const running = own.forward(ODD, params, tokens(37, 7));
      own.cancel();
      await expect(running).rejects.toBeInstanceOf(AttentionAbortError);
      const controller = new AbortController();
      const aborted = own.forward(ODD, params, tokens(37, 7), { signal: controller.signal });
      controller.abort();
      await expect(aborted).rejects.toBeInstanceOf(AttentionAbortError);
      await expect(own.forward(ODD, params, tokens(5, 1), { signal: controller.signal })).rejects.toBeInstanceOf(AttentionAbortError);
      const next = await own.forward(ODD, params, tokens(37, 7), { signal: new AbortController().signal });
      expect(next.sentParams).toBe(true);
      expectLogits('after abort', next, ODD, params, tokens(37, 7), own.threads);
    } finally {
      own.cancel();
    }
  });

  it('refuses bad requests before sending them, naming the field', async () => {
    await expect(client.forward(ODD, params, [])).rejects.toThrow(/tokens.*length 0.*from 1 to 37/);
    await expect(client.forward(ODD, params, tokens(38, 1))).rejects.toThrow(/length 38/);
    await expect(client.forward(ODD, params, [1, 29])).rejects.toThrow(AttentionInputError);
    await expect(client.forward(ODD, params, [1, 29])).rejects.toThrow(/tokens\[1\]/);
    const missing = new Map(params);
    missing.delete('h.2.mlp.c_fc.bias');
    await expect(client.forward(ODD, missing, [1])).rejects.toThrow(ModelParamsError);
    const f64 = new Map([...params].map(([name, data]) => [name, Float64Array.from(data)])) as unknown as GptParams;
    await expect(client.forward(ODD, f64, [1])).rejects.toThrow(/Float32Array parameters/);
  });
});

describe('the shipped checkpoint on the CPU forward', () => {
  for (const [threads, cpu] of [[1, alone], [3, split]] as const) {
    it(`equals the f64 reference at 128 tokens on ${threads} thread(s)`, async () => {
      const { config, params } = await fetchShippedCheckpoint();
      const rng = makeRng(17);
      const tokens = Array.from({ length: Math.min(128, config.context) }, () => Math.floor(rng() * config.vocabSize));
      const run = await cpu.forward(config, params, tokens);
      expect(run.sentParams).toBe(true);
      expectLogits(`shipped ${config.layers}×${config.heads}, d ${config.dModel}, ${tokens.length} tokens`, run, config, params, tokens, threads);
    });
  }
});
