// The attention kernels with the device's tuning against the f64 reference: many shapes (odd
// sizes included), cross-attention, the lesson's values, typed errors for bad inputs, and
// reading parts of a run back. Every tuning variant: attention-tunings.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AttentionInputError,
  GpuLimitError,
  attentionCpu,
  attentionCpuRows,
  sampleRows,
  createGpuAttention,
  makeRandomInputs,
  verifyAttention,
  type AttentionShape,
  type GpuAttention,
} from '../../src/index';
import { check, describeFailure, reportWorstErrors } from './attention-fixture';
import { gpu, useGpuDevice } from './gpu-fixture';

useGpuDevice();
reportWorstErrors();

let attention: GpuAttention;
beforeAll(async () => {
  attention = await createGpuAttention(gpu());
});
afterAll(() => attention.destroy());

// Shapes: sizes that are not multiples of the 32-wide workgroup tiles, or of 4, included.
const shapes: AttentionShape[] = [
  { seqLen: 1, dModel: 1, heads: 1, dHead: 1 },
  { seqLen: 1, dModel: 8, heads: 3, dHead: 3, causal: true },
  { seqLen: 3, dModel: 3, heads: 1, dHead: 3 },
  { seqLen: 3, dModel: 5, heads: 2, dHead: 1, causal: true },
  { seqLen: 17, dModel: 16, heads: 4, dHead: 3 },
  { seqLen: 17, dModel: 33, heads: 5, dHead: 64, causal: true },
  { seqLen: 255, dModel: 64, heads: 1, dHead: 64 },
  { seqLen: 255, dModel: 48, heads: 8, dHead: 3, causal: true },
  { seqLen: 255, dModel: 100, heads: 2, dHead: 100 },
  { seqLen: 1000, dModel: 64, heads: 1, dHead: 64, causal: true },
  { seqLen: 1000, dModel: 32, heads: 2, dHead: 100 },
  { seqLen: 100, dModel: 24, heads: 6, dHead: 7 },
  { seqLen: 64, dModel: 96, heads: 8, dHead: 12, causal: true },
];

describe('GPU attention equals the f64 reference', () => {
  for (const shape of shapes) {
    it(`self-attention ${JSON.stringify(shape)}`, async () => {
      await check(attention, shape);
    });
  }
});

describe('cross-attention (kvLen ≠ seqLen)', () => {
  const crossShapes: AttentionShape[] = [
    { seqLen: 3, kvLen: 17, dModel: 8, heads: 2, dHead: 4 },
    { seqLen: 17, kvLen: 3, dModel: 8, heads: 2, dHead: 4, causal: true },
    { seqLen: 1, kvLen: 255, dModel: 16, heads: 4, dHead: 5 },
    { seqLen: 200, kvLen: 33, dModel: 20, heads: 3, dHead: 64 },
  ];
  for (const shape of crossShapes) {
    it(JSON.stringify(shape), async () => {
      await check(attention, shape, 5);
    });
  }
});

describe('values the lesson gives', () => {
  it('"cat sat": the row of sat has weights ≈ [0.478, 0.522] on the GPU', async () => {
    const f32 = (v: number[]) => new Float32Array(v);
    const result = await attention.run(
      { seqLen: 2, dModel: 3, heads: 1, dHead: 3 },
      {
        x: f32([1.0, 0.5, 0.2, 0.3, 1.0, 0.8]),
        wq: f32([0.5, 0, 0, 0, 0.5, 0, 0, 0, 0.5]),
        wk: f32([0.4, 0.1, 0, 0.1, 0.4, 0, 0, 0, 0.5]),
        wv: f32([0.8, 0, 0, 0, 0.8, 0, 0, 0, 0.8]),
      },
      { read: ['weights', 'scores'] },
    );
    // Hand-computed: sat·cat = 0.2575, sat·sat = 0.408, scaled by 1/√3.
    expect(result.scores[2]).toBeCloseTo(0.2575 / Math.sqrt(3), 6);
    expect(result.scores[3]).toBeCloseTo(0.408 / Math.sqrt(3), 6);
    expect(result.weights[2]).toBeCloseTo(0.4783, 4);
    expect(result.weights[3]).toBeCloseTo(0.5217, 4);
    expect(Object.keys(result).sort()).toEqual(['scores', 'timings', 'weights']);
  });

  it('huge logits (×1e4) give finite, normalised weights', async () => {
    const shape = { seqLen: 4, dModel: 2, heads: 1, dHead: 2, causal: true };
    const inputs = makeRandomInputs(shape, 9);
    for (const w of [inputs.wq, inputs.wk]) for (let i = 0; i < w.length; i++) w[i] *= 100;
    const result = await attention.run(shape, inputs, { read: ['weights'] });
    const reference = attentionCpu(shape, inputs);
    for (let i = 0; i < result.weights.length; i++) {
      expect(Number.isFinite(result.weights[i])).toBe(true);
      expect(result.weights[i]).toBeCloseTo(reference.weights[i], 4);
    }
  });

  it('masked scores come back as −∞ and their weights as exactly 0', async () => {
    const shape = { seqLen: 5, dModel: 4, heads: 2, dHead: 2, causal: true };
    const result = await attention.run(shape, makeRandomInputs(shape, 2), { read: ['scores', 'weights'] });
    for (let h = 0; h < 2; h++) {
      for (let i = 0; i < 5; i++) {
        for (let j = i + 1; j < 5; j++) {
          expect(result.scores[h * 25 + i * 5 + j]).toBe(-Infinity);
          expect(result.weights[h * 25 + i * 5 + j]).toBe(0);
        }
      }
    }
  });
});

describe('bad inputs throw typed errors', () => {
  const shape = { seqLen: 4, dModel: 4, heads: 1, dHead: 4 };
  const inputs = makeRandomInputs(shape, 1);

  it('zero, negative, fractional and NaN sizes', async () => {
    for (const [field, value] of [['seqLen', 0], ['dModel', -2], ['heads', 1.5], ['dHead', Number.NaN]] as const) {
      const error = await attention.run({ ...shape, [field]: value }, inputs).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AttentionInputError);
      expect((error as AttentionInputError).field).toBe(field);
    }
  });

  it('lengths that do not match the shape, and non-finite values', async () => {
    let error = await attention.run(shape, { ...inputs, wv: new Float32Array(15) }).catch((e: unknown) => e);
    expect((error as AttentionInputError).field).toBe('wv');
    const x = inputs.x.slice();
    x[3] = Number.POSITIVE_INFINITY;
    error = await attention.run(shape, { ...inputs, x }).catch((e: unknown) => e);
    expect((error as AttentionInputError).field).toBe('x[3] (row 0, column 3)');
  });

  it('a map larger than the device allows names the buffer, the bytes needed and allowed', async () => {
    const limit = gpu().limits.maxStorageBufferBindingSize;
    // Smallest square map over the limit: seqLen² · 4 bytes > limit.
    const seqLen = Math.floor(Math.sqrt(limit / 4)) + 1;
    const big = { seqLen, dModel: 1, heads: 1, dHead: 1 };
    const bigInputs = makeRandomInputs(big, 1);
    const error = await attention.run(big, bigInputs).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GpuLimitError);
    const limitError = error as GpuLimitError;
    expect(limitError.field).toBe('scores');
    expect(limitError.bytesNeeded).toBe(seqLen * seqLen * 4);
    expect(limitError.bytesAllowed).toBe(limit);
    expect(limitError.message).toContain(String(seqLen * seqLen * 4));
    // The instance still works after the refusal.
    await check(attention, shape);
  });
});

describe('reading parts of a run back', () => {
  it('readRows at seqLen 4096 (causal, 2 heads) matches the reference on sampled rows', async () => {
    const shape = { seqLen: 4096, dModel: 32, heads: 2, dHead: 16, causal: true };
    const inputs = makeRandomInputs(shape, 21);
    const run = await attention.run(shape, inputs, { read: ['output'] });
    console.info(`[gpu] seqLen 4096 × 2 heads causal: ${JSON.stringify(run.timings)}`);
    const rows = sampleRows(shape.seqLen, 12);
    expect(rows[0]).toBe(0);
    expect(rows.at(-1)).toBe(4095);
    const gpuRows = await attention.readRows(rows);
    const reference = attentionCpuRows(shape, inputs, rows);
    const report = verifyAttention({ ...shape, kvLen: shape.seqLen, seqLen: rows.length }, gpuRows, reference);
    expect(report.pass, describeFailure(report)).toBe(true);
    expect(report.stages.map((s) => s.name)).toEqual(['scores', 'weights', 'output']);
  });

  it('readEntries returns the same values as the full readback, which equals the f64 reference', async () => {
    const shape = { seqLen: 37, kvLen: 21, dModel: 8, heads: 3, dHead: 5, causal: true };
    const inputs = makeRandomInputs(shape, 4);
    const full = await attention.run(shape, inputs, { read: ['scores', 'weights'] });
    // The full readback is anchored to the reference, so entries equal to it are too.
    const report = verifyAttention(shape, full, attentionCpu(shape, inputs));
    expect(report.pass, describeFailure(report)).toBe(true);
    const cells = [[0, 0, 0], [2, 36, 20], [1, 5, 9], [1, 20, 3]] as const;
    const entries = await attention.readEntries(cells);
    cells.forEach(([head, query, key], index) => {
      const at = (head * 37 + query) * 21 + key;
      expect(entries[index].score).toBe(full.scores[at]);
      expect(entries[index].weight).toBe(full.weights[at]);
    });
    // Head 1, query 5, key 9: above the causal diagonal (9 > 5).
    expect(entries[2].score).toBe(-Infinity);
    expect(entries[2].weight).toBe(0);
    await expect(attention.readEntries([[3, 0, 0]])).rejects.toBeInstanceOf(AttentionInputError);
  });
});
