/**
 * How a GPU result is checked against the f64 reference: one rule for the app and the
 * benchmark. The whole result while the reference is cheap enough to compute (a worker does it
 * in about a second here), else whole query rows sampled across the sequence, which is also
 * all the fused path can offer (it never stores the map).
 */
import { resolveShape, type AttentionShape } from '../core/types';
import { sampleRows } from '../reference/attention';

/**
 * Multiply-adds of the reference for a shape: the projections ((seqLen + 2·kvLen)·dModel·width)
 * plus QKᵀ and P·V (2·heads·seqLen·kvLen·dHead).
 */
export function referenceCost(shape: AttentionShape): number {
  const s = resolveShape(shape);
  return 2 * s.heads * s.seqLen * s.kvLen * s.dHead + (s.seqLen + 2 * s.kvLen) * s.dModel * s.width;
}

/** The full reference is computed up to this many multiply-adds (seqLen 2048 at 4 × 16 or 1 × 64). */
export const FULL_REFERENCE_BUDGET = 6e8;

/** Query rows compared when the reference is sampled (row 0, the last row, and spread between). */
export const SAMPLED_ROWS = 16;

/** What to compare. */
export type VerificationPlan =
  | { mode: 'full' }
  | {
      mode: 'sampled-rows';
      /** Query rows, ascending; every head and key of each is compared. */
      rows: number[];
      /** Why rows and not everything, for people. */
      reason: string;
    };

/**
 * The check for a result of `shape`. `storesMap` false: the path never holds scores and
 * weights (the fused path), so only rows recomputed from its log-sum-exps can be compared.
 */
export function verificationPlan(shape: AttentionShape, path: { storesMap: boolean } = { storesMap: true }): VerificationPlan {
  const s = resolveShape(shape);
  if (!path.storesMap) {
    return {
      mode: 'sampled-rows',
      rows: sampleRows(s.seqLen, SAMPLED_ROWS),
      reason: 'the fused path never stores scores or weights: rows are rebuilt from its q, k and log-sum-exps',
    };
  }
  const cost = referenceCost(s);
  if (cost <= FULL_REFERENCE_BUDGET) return { mode: 'full' };
  return {
    mode: 'sampled-rows',
    rows: sampleRows(s.seqLen, SAMPLED_ROWS),
    reason: `the full reference would take ${(cost / 1e9).toFixed(1)} G multiply-adds (more than ${FULL_REFERENCE_BUDGET / 1e9} G)`,
  };
}

/** One line for the verification card: what was compared. */
export function describePlan(plan: VerificationPlan, shape: AttentionShape): string {
  const s = resolveShape(shape);
  if (plan.mode === 'full') return `All ${s.heads}×${s.seqLen}×${s.kvLen}${s.causal ? ' causal' : ''} entries and Q, K, V, output compared`;
  const last = plan.rows[plan.rows.length - 1];
  return `${plan.rows.length} sampled query rows (${plan.rows[0]}, …, ${last}) × all heads and keys compared; ${plan.reason}`;
}
