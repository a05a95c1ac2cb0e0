// Per-run buffer ownership and cached bind groups of the shared runner (src/gpu/runner.ts), on
// the attention and fused runners: a held run's buffers keep its exact values while later runs
// (and a cancelled one) write elsewhere; a released set is reused; without holds a runner keeps
// one set and builds its bind groups once per buffer replacement, not once per run.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AttentionAbortError, AttentionError, GpuOutOfMemoryError } from '../../src/core/errors';
import type { AttentionShape } from '../../src/core/types';
import { createFlashAttention, type FlashAttention } from '../../src/kernels/flash';
import { createGpuAttention, type GpuAttention } from '../../src/kernels/attention';
import { validateAttention } from '../../src/core/validate';
import { attentionCpu64 } from '../../src/reference/attention';
import { makeRandomInputs } from '../../src/reference/random';
import { compareArrays } from '../../src/verify/compare';
import { gpu, useGpuDevice } from './gpu-fixture';
import { injectOutOfMemory } from './inject-oom';

useGpuDevice();

const SHAPE: AttentionShape = { seqLen: 24, dModel: 16, heads: 2, dHead: 8, causal: true };
const ALL_ROWS = Array.from({ length: SHAPE.seqLen }, (_, i) => i);

/** Count the bind groups `device` creates while `body` runs. */
async function countBindGroups(device: GPUDevice, body: () => Promise<unknown>): Promise<number> {
  const original = device.createBindGroup;
  let count = 0;
  device.createBindGroup = function (descriptor: GPUBindGroupDescriptor) {
    count++;
    return original.call(this, descriptor);
  };
  try {
    await body();
  } finally {
    device.createBindGroup = original;
  }
  return count;
}

/** The f64 reference's weights of `seed`'s inputs (an independent source for the GPU's values). */
function referenceWeights(seed: number, shape: AttentionShape = SHAPE): Float64Array {
  return attentionCpu64(validateAttention(shape, makeRandomInputs(shape, seed)), makeRandomInputs(shape, seed)).weights;
}

function expectClose(actual: Float32Array, expected: Float64Array, what: string): void {
  const c = compareArrays(actual, expected, { atol: 1e-5, rtol: 1e-4 });
  expect(c.pass, `${what}: worst [${c.worstIndex}] ${c.worstActual} vs ${c.worstExpected}`).toBe(true);
}

describe('GpuAttention: held runs', () => {
  let attention: GpuAttention;
  beforeAll(async () => {
    attention = await createGpuAttention(gpu());
  });
  afterAll(() => attention.destroy());

  it('keeps a held run’s values through a later run, reuses a released set, and never lets a cancelled run write a held set', async () => {
    const a = await attention.run(SHAPE, makeRandomInputs(SHAPE, 1), { hold: true });
    expect(a.held.released).toBe(false);
    expectClose(a.weights, referenceWeights(1), 'run A');
    const aBuffers = a.held.buffers;

    // B, unheld: another set, so A's buffers still hold A.
    const b = await attention.run(SHAPE, makeRandomInputs(SHAPE, 2));
    expect(b.held).toBeUndefined();
    const bBuffers = attention.buffers()!;
    expect(bBuffers.weights).not.toBe(aBuffers.weights);
    expect(attention.bufferSets).toBe(2);
    const aAfterB = await attention.readRows(ALL_ROWS, aBuffers);
    expect(Array.from(aAfterB.weights)).toEqual(Array.from(a.weights));
    expect(Array.from(aAfterB.output)).toEqual(Array.from(a.output));
    expectClose(b.weights, referenceWeights(2), 'run B');

    // A cancelled run after B: it may only write B's set (the unheld last one), never A's.
    const controller = new AbortController();
    const big: AttentionShape = { seqLen: 256, dModel: 64, heads: 4, dHead: 16, causal: false };
    const cancelled = attention.run(big, makeRandomInputs(big, 3), { signal: controller.signal, timing: 'wall-clock' });
    setTimeout(() => controller.abort(), 1);
    await expect(cancelled).rejects.toBeInstanceOf(AttentionAbortError);
    const aAfterCancel = await attention.readRows(ALL_ROWS, aBuffers);
    expect(Array.from(aAfterCancel.weights)).toEqual(Array.from(a.weights));
    expect(attention.bufferSets).toBe(2);

    // Hold B2 (on B's set, which the cancelled run may have grown), release A: the next run
    // takes A's set — no third set is made.
    const b2 = await attention.run(SHAPE, makeRandomInputs(SHAPE, 4), { hold: true });
    expect(b2.held.buffers.weights).not.toBe(aBuffers.weights);
    expect(attention.bufferSets).toBe(2);
    a.held.release();
    expect(a.held.released).toBe(true);
    await expect(attention.readRows([0], aBuffers)).rejects.toThrow(/released or overwritten/);
    const c = await attention.run(SHAPE, makeRandomInputs(SHAPE, 5));
    expect(attention.buffers()!.weights).toBe(aBuffers.weights);
    expect(attention.bufferSets).toBe(2);
    expectClose(c.weights, referenceWeights(5), 'run C');
    const b2After = await attention.readRows(ALL_ROWS, b2.held.buffers);
    expect(Array.from(b2After.weights)).toEqual(Array.from(b2.weights));
    expect((await attention.readEntries([[1, 5, 3]], b2.held.buffers))[0].weight).toBe(b2.weights[(1 * SHAPE.seqLen + 5) * SHAPE.seqLen + 3]);

    // Released, B2's set becomes the one spare: runs without holds stay on C's set.
    b2.held.release();
    b2.held.release();
    await attention.run(SHAPE, makeRandomInputs(SHAPE, 6));
    expect(attention.buffers()!.weights).toBe(aBuffers.weights);
    expect(attention.bufferSets).toBe(2);
  });

  it('an out-of-memory error beside a held run says to release it, and frees only unheld buffers', async () => {
    const fresh = await createGpuAttention(gpu());
    try {
      const a = await fresh.run(SHAPE, makeRandomInputs(SHAPE, 12), { hold: true });
      const undo = injectOutOfMemory(gpu(), 1);
      const error = await fresh.run(SHAPE, makeRandomInputs(SHAPE, 13)).catch((e: unknown) => e);
      expect(undo()).toBe(1);
      expect(error).toBeInstanceOf(GpuOutOfMemoryError);
      expect((error as Error).message).toMatch(/1 held run keeps its buffers allocated beside this one: release it \(held\.release\(\)\)/);
      const after = await fresh.readRows(ALL_ROWS, a.held.buffers);
      expect(Array.from(after.weights)).toEqual(Array.from(a.weights));
      a.held.release();
      const undoAgain = injectOutOfMemory(gpu(), 1);
      const plain = await fresh.run(SHAPE, makeRandomInputs(SHAPE, 13)).catch((e: unknown) => e);
      undoAgain();
      expect((plain as Error).message).toMatch(/Use a smaller seqLen, kvLen or heads, or the fused path\./);
      expectClose((await fresh.run(SHAPE, makeRandomInputs(SHAPE, 14))).weights, referenceWeights(14), 'the run after');
    } finally {
      fresh.destroy();
    }
  });

  it('builds bind groups once per buffer set and size, not once per run', async () => {
    const device = gpu();
    const fresh = await createGpuAttention(device);
    try {
      const inputs = makeRandomInputs(SHAPE, 8);
      expect(await countBindGroups(device, () => fresh.run(SHAPE, inputs))).toBe(4);
      expect(await countBindGroups(device, () => fresh.run(SHAPE, inputs))).toBe(0);
      expect(await countBindGroups(device, () => fresh.run(SHAPE, makeRandomInputs(SHAPE, 9)))).toBe(0);
      // A longer sequence grows the buffers: their bind groups are rebuilt once.
      const longer = { ...SHAPE, seqLen: 200 };
      expect(await countBindGroups(device, () => fresh.run(longer, makeRandomInputs(longer, 10)))).toBe(4);
      expect(await countBindGroups(device, () => fresh.run(SHAPE, inputs))).toBe(0);
      expect(fresh.bufferSets).toBe(1);
    } finally {
      fresh.destroy();
    }
  });

  it('refuses reads and runs after destroy, and a hold dies with its runner', async () => {
    const fresh = await createGpuAttention(gpu());
    const held = await fresh.run(SHAPE, makeRandomInputs(SHAPE, 11), { hold: true });
    fresh.destroy();
    expect(held.held.released).toBe(true);
    await expect(fresh.run(SHAPE, makeRandomInputs(SHAPE, 11))).rejects.toThrow(AttentionError);
    await expect(fresh.readRows([0], held.held.buffers)).rejects.toThrow(/destroyed/);
    held.held.release();
  });
});

describe('FlashAttention: held runs', () => {
  let flash: FlashAttention;
  beforeAll(async () => {
    flash = await createFlashAttention(gpu());
  });
  afterAll(() => flash.destroy());

  it('reduces and reads a held run after a later one, in its own set', async () => {
    const a = await flash.run(SHAPE, makeRandomInputs(SHAPE, 21), { hold: true });
    const gridA = await flash.reducedMap({ rows: 6, cols: 6, mode: 'max', from: a.held.buffers });
    const b = await flash.run(SHAPE, makeRandomInputs(SHAPE, 22));
    expect(flash.buffers()!.output).not.toBe(a.held.buffers.output);
    expect(flash.bufferSets).toBe(2);
    const gridB = await flash.reducedMap({ rows: 6, cols: 6, mode: 'max' });
    expect(Array.from(gridB)).not.toEqual(Array.from(gridA));
    expect(Array.from(await flash.reducedMap({ rows: 6, cols: 6, mode: 'max', from: a.held.buffers }))).toEqual(Array.from(gridA));
    const rowsA = await flash.readRows(ALL_ROWS, a.held.buffers);
    expect(Array.from(rowsA.output)).toEqual(Array.from(a.output));
    expectClose(rowsA.weights, referenceWeights(21), 'fused run A, recomputed rows');
    expect(Array.from(b.output)).not.toEqual(Array.from(a.output));
    a.held.release();
    await flash.run(SHAPE, makeRandomInputs(SHAPE, 23));
    expect(flash.bufferSets).toBe(2);
  });

  it('builds its bind groups once for repeated runs of one size', async () => {
    const device = gpu();
    const fresh = await createFlashAttention(device);
    try {
      const inputs = makeRandomInputs(SHAPE, 24);
      expect(await countBindGroups(device, () => fresh.run(SHAPE, inputs))).toBe(2);
      expect(await countBindGroups(device, () => fresh.run(SHAPE, inputs))).toBe(0);
    } finally {
      fresh.destroy();
    }
  });
});
