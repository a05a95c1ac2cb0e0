/**
 * What a benchmarked path is, for the sweep (sweep.ts, registry.ts) and for the paths it loads
 * on demand (peer-tfjs.ts): how a repeat is timed, the reference it is checked against, the
 * runner interface, the error for a path that cannot run here, and making the reference
 * (whole, or picked rows) by the app's verification policy. A module of its own so that a path
 * module never imports the sweep that loads it (no import cycle).
 */
import type { AttentionInputs, AttentionResult, AttentionShape, StageName } from '../core/types';
import { AttentionError } from '../core/errors';
import { attentionCpu, attentionCpuRows, sampleRows } from '../reference/attention';
import { SAMPLED_ROWS, verificationPlan } from '../verify/policy';

/** How a path's `total` was measured. */
export type TimingSource =
  /** GPU timestamps around each compute pass: device time only, no upload, readback or submit. */
  | 'timestamp-query'
  /** `performance.now()` around each stage (or the whole run), on the page's main thread. */
  | 'wall-clock'
  /** `performance.now()` around compute plus the readback of the output (a peer with no stage split). */
  | 'wall-clock+readback';

/** The timings of one repeat of one path. All in milliseconds. */
export interface RepeatTiming {
  /** Per stage, or null for a path that cannot split its work into our four stages. */
  stages: Record<StageName, number> | null;
  /** The path's primary time (see `source`). */
  total: number;
  /**
   * From the call to the result in JavaScript: uploads, submission, readback of the output
   * and (CPU) worker start-up included. Every path has one, so wall ratios compare like with like.
   */
  wall: number;
  source: TimingSource;
  /** Extra measurements a path offers (e.g. tfjs `kernelMs` from its own timestamp queries). */
  extra?: Record<string, number>;
}

/** The reference a path is checked against at one size. */
export type Reference =
  | { mode: 'full'; rows: null; expected: AttentionResult }
  | { mode: 'sampled-rows'; rows: number[]; expected: Pick<AttentionResult, 'scores' | 'weights' | 'output'> };

/** One benchmarked implementation, ready for a sweep. */
export interface PathRunner {
  /** One run on this shape; `timed` false for warm-up runs (a runner may skip extras then). */
  run(shape: AttentionShape, inputs: AttentionInputs, timed: boolean, signal?: AbortSignal): Promise<RepeatTiming>;
  /**
   * The arrays of the last run in the reference's layout (full arrays, or the reference's rows:
   * maps heads × rows × kvLen, output rows × width). Only what the path can produce.
   */
  actual(shape: AttentionShape, inputs: AttentionInputs, reference: Reference): Promise<Partial<AttentionResult>>;
  /**
   * Set when the path can only be checked on sampled rows (it never holds the full maps): the
   * sweep then hands {@link actual} a sampled-rows reference at every size, and records why.
   */
  sampledRowsOnly?: { reason: string };
  dispose(): void;
}

/** Thrown by a path's `create` when it cannot run on this browser or adapter. */
export class PathUnavailableError extends AttentionError {
  override name = 'PathUnavailableError';
  constructor(readonly path: string, readonly reason: string) {
    super(`${path}: unavailable: ${reason}`);
  }
}

/**
 * Scores, weights and output of chosen query rows out of full arrays, in the layout of
 * `attentionCpuRows` (maps heads × rows × kvLen, output rows × width). Arrays absent from
 * `full` stay absent.
 */
export function pickRows(shape: AttentionShape, full: Partial<AttentionResult>, rows: readonly number[]): Partial<AttentionResult> {
  const seqLen = shape.seqLen;
  const kvLen = shape.kvLen ?? seqLen;
  const width = shape.heads * shape.dHead;
  const out: Partial<AttentionResult> = {};
  const pickMap = (map: Float32Array) => {
    const picked = new Float32Array(shape.heads * rows.length * kvLen);
    for (let h = 0; h < shape.heads; h++) {
      rows.forEach((row, r) => {
        const from = (h * seqLen + row) * kvLen;
        picked.set(map.subarray(from, from + kvLen), (h * rows.length + r) * kvLen);
      });
    }
    return picked;
  };
  if (full.scores) out.scores = pickMap(full.scores);
  if (full.weights) out.weights = pickMap(full.weights);
  if (full.output) {
    const output = full.output;
    const picked = new Float32Array(rows.length * width);
    rows.forEach((row, r) => picked.set(output.subarray(row * width, (row + 1) * width), r * width));
    out.output = picked;
  }
  return out;
}

/**
 * A sampled-rows reference: `reference` itself when it is one, else the rows the verification
 * policy samples for a path that never stores the map, picked out of the full one (no
 * recomputation).
 */
export function sampledReference(shape: AttentionShape, reference: Reference): Extract<Reference, { mode: 'sampled-rows' }> {
  if (reference.mode === 'sampled-rows') return reference;
  const plan = verificationPlan(shape, { storesMap: false });
  const rows = plan.mode === 'sampled-rows' ? plan.rows : sampleRows(shape.seqLen, SAMPLED_ROWS);
  const { scores, weights, output } = pickRows(shape, reference.expected, rows);
  return { mode: 'sampled-rows', rows, expected: { scores: scores!, weights: weights!, output: output! } };
}

/**
 * The reference for a shape, by the verification policy the app uses (src/verify/policy.ts):
 * the whole f64 result while it is cheap enough, sampled rows above.
 */
export function makeReference(shape: AttentionShape, inputs: AttentionInputs): Reference {
  const plan = verificationPlan(shape);
  if (plan.mode === 'full') return { mode: 'full', rows: null, expected: attentionCpu(shape, inputs) };
  const rows = plan.rows;
  const { scores, weights, output } = attentionCpuRows(shape, inputs, rows);
  return { mode: 'sampled-rows', rows, expected: { scores, weights, output } };
}
