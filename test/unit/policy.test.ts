// The one verification policy of the app and the benchmark (src/verify/policy.ts).
import { describe, expect, it } from 'vitest';
import { FULL_REFERENCE_BUDGET, SAMPLED_ROWS, describePlan, referenceCost, verificationPlan } from '../../src/verify/policy';

describe('verification policy', () => {
  it('counts the reference’s multiply-adds', () => {
    // seqLen 2, kvLen 3, 1 head of 2, dModel 4: projections (2 + 6)·4·2 = 64, maps 2·1·2·3·2 = 24.
    expect(referenceCost({ seqLen: 2, kvLen: 3, dModel: 4, heads: 1, dHead: 2 })).toBe(88);
    // seqLen 2048, 4 heads of 16, dModel 64: 2·4·2048²·16 + 6144·64·64 = 536 870 912 + 25 165 824.
    expect(referenceCost({ seqLen: 2048, dModel: 64, heads: 4, dHead: 16 })).toBe(562_036_736);
  });
  it('checks everything up to the budget (seqLen 2048 at 4 × 16), sampled rows beyond', () => {
    expect(referenceCost({ seqLen: 2048, dModel: 64, heads: 4, dHead: 16 })).toBeLessThanOrEqual(FULL_REFERENCE_BUDGET);
    expect(verificationPlan({ seqLen: 2048, dModel: 64, heads: 4, dHead: 16 })).toEqual({ mode: 'full' });
    const plan = verificationPlan({ seqLen: 4096, dModel: 64, heads: 4, dHead: 16 });
    expect(plan.mode).toBe('sampled-rows');
    if (plan.mode !== 'sampled-rows') return;
    expect(plan.rows.length).toBe(SAMPLED_ROWS);
    expect(plan.rows[0]).toBe(0);
    expect(plan.rows[plan.rows.length - 1]).toBe(4095);
    expect(plan.reason).toContain('2.2 G'); // 2·4·4096²·16 + 12288·64·64 = 2.25e9
  });
  it('the fused path is always checked on sampled rows', () => {
    const plan = verificationPlan({ seqLen: 64, dModel: 8, heads: 1, dHead: 8 }, { storesMap: false });
    expect(plan.mode).toBe('sampled-rows');
    if (plan.mode === 'sampled-rows') expect(plan.rows.length).toBe(SAMPLED_ROWS);
    // Fewer rows than SAMPLED_ROWS: every row.
    const short = verificationPlan({ seqLen: 5, dModel: 8, heads: 1, dHead: 8 }, { storesMap: false });
    expect(short.mode === 'sampled-rows' && short.rows).toEqual([0, 1, 2, 3, 4]);
  });
  it('says what was compared', () => {
    expect(describePlan({ mode: 'full' }, { seqLen: 6, dModel: 8, heads: 2, dHead: 4, causal: true })).toBe('All 2×6×6 causal entries and Q, K, V, output compared');
    expect(describePlan({ mode: 'sampled-rows', rows: [0, 5, 9], reason: 'why' }, { seqLen: 10, dModel: 8, heads: 1, dHead: 4 })).toBe(
      '3 sampled query rows (0, …, 9) × all heads and keys compared; why',
    );
  });
});
