// The app's policy (src/app/plan.ts): path choice, seqLen reach, CPU timing. Sizes worked out by hand.
import { describe, expect, it } from 'vitest';
import { AttentionInputError } from '../../src/core/errors';
import { resolveShape } from '../../src/core/types';
import { DEFAULT_STATE } from '../../src/app/state';
import { FUSED_MAX_SEQ_LEN, checkReach, cpuTimingPlan, maxFullSeqLen, planPath, seqLenReach, shapeIntoState } from '../../src/app/plan';

const GiB = 2 ** 30;
const swiftshader = { maxStorageBytes: GiB, fusedMaxDHead: 128 };

describe('seqLen reach', () => {
  it('the largest full map: √(bytes / 4 / heads)', () => {
    expect(maxFullSeqLen(swiftshader, 1)).toBe(16384); // √(2³⁰ / 4) = 2¹⁴
    expect(maxFullSeqLen(swiftshader, 4)).toBe(8192);
    expect(maxFullSeqLen({ maxStorageBytes: 128 * 2 ** 20, fusedMaxDHead: 128 }, 2)).toBe(4096);
    expect(maxFullSeqLen(null, 4)).toBe(2048);
  });
  it('the fused path extends it to 65536 where dHead ≤ 128', () => {
    expect(seqLenReach(swiftshader, 4, 64)).toBe(FUSED_MAX_SEQ_LEN);
    expect(seqLenReach(swiftshader, 4, 256)).toBe(8192);
    expect(seqLenReach(null, 4, 64)).toBe(2048);
  });
  it('refuses a seqLen beyond the reach, naming the field', () => {
    const random = { ...DEFAULT_STATE, input: 'random' as const, heads: 4, dHead: 256, seqLen: 9000 };
    expect(() => checkReach(random, swiftshader)).toThrow(AttentionInputError);
    expect(() => checkReach(random, swiftshader)).toThrow(/seqLen: got 9000; allowed: an integer from 2 to 8192/);
    expect(() => checkReach({ ...random, seqLen: 8192 }, swiftshader)).not.toThrow();
    // A sentence is continued to seqLen, so the same reach applies; the lessons' examples fix theirs.
    expect(() => checkReach({ ...random, input: 'sentence' }, swiftshader)).toThrow(/seqLen: got 9000; allowed: an integer from 2 to 8192/);
    expect(() => checkReach({ ...random, input: 'cat-sat' }, swiftshader)).not.toThrow();
    expect(() => checkReach({ ...random, input: 'two-d' }, swiftshader)).not.toThrow();
  });
});

describe('planPath', () => {
  it('full maps while one fits a storage buffer; all arrays copied back up to 2²¹ entries', () => {
    const small = planPath(resolveShape({ seqLen: 64, dModel: 32, heads: 2, dHead: 16 }), swiftshader);
    expect(small).toEqual({ path: 'full', read: ['q', 'k', 'v', 'scores', 'weights', 'output'], fusedFallback: true });
    // 4 · 1024² = 2²² entries: no maps copied back.
    const large = planPath(resolveShape({ seqLen: 1024, dModel: 32, heads: 4, dHead: 16 }), swiftshader);
    expect(large).toEqual({ path: 'full', read: ['q', 'k', 'v', 'output'], fusedFallback: true });
  });
  it('the fused path beyond, saying how many bytes were needed', () => {
    const plan = planPath(resolveShape({ seqLen: 16385, dModel: 64, heads: 1, dHead: 64 }), swiftshader);
    expect(plan.path).toBe('fused');
    // 4 · 16385² = 1 073 872 900 bytes > 2³⁰.
    if (plan.path === 'fused') expect(plan.why).toContain('1073872900 bytes');
  });
  it('the CPU reference without WebGPU, refused above its budget', () => {
    expect(planPath(resolveShape({ seqLen: 64, dModel: 8, heads: 1, dHead: 8 }), null)).toEqual({ path: 'cpu' });
    // 4 · 4096² · 16 = 1.07e9 > 6e8.
    expect(() => planPath(resolveShape({ seqLen: 4096, dModel: 8, heads: 4, dHead: 16 }), null)).toThrow(/CPU fallback/);
  });
});

describe('the rest of the policy', () => {
  it('the panel shows the example’s real sizes', () => {
    const shape = resolveShape({ seqLen: 6, dModel: 3, heads: 1, dHead: 3, causal: true });
    expect(shapeIntoState(DEFAULT_STATE, shape)).toMatchObject({ seqLen: 6, dModel: 3, heads: 1, dHead: 3, causal: true, text: DEFAULT_STATE.text });
  });
  it('times the CPU path automatically up to 2 GFLOP, never on the fused path', () => {
    expect(cpuTimingPlan('full', 1e9)).toEqual({ auto: true });
    expect(cpuTimingPlan('full', 3e9)).toMatchObject({ auto: false, offer: true });
    expect(cpuTimingPlan('fused', 1e6)).toMatchObject({ auto: false, offer: false });
  });
});
