import type { AttentionInputs, AttentionResult, AttentionShape, ModelConfig } from '../core/types';
import type { GptTrace } from '../model/forward-reference';
import type { VerificationReport } from '../verify/compare';

/**
 * Compute the f64 reference (whole, or only the given query rows) and verify `actual` against
 * it, all in the worker: at large sizes both the reference and the comparison take long
 * enough to freeze a page.
 */
export interface VerifyRequest {
  id: number;
  shape: AttentionShape;
  inputs: AttentionInputs;
  /** The arrays to check; with `rows`, maps are heads × rows × kvLen and output rows × width. */
  actual: Partial<AttentionResult>;
  rows?: number[];
  /** Send the reference back (for readouts beside the GPU values). */
  returnReference?: boolean;
}

export type VerifyResponse =
  | { id: number; ok: true; report: VerificationReport; referenceMs: number; reference?: AttentionResult }
  | { id: number; ok: false; error: { name: string; message: string } };

/** Run the trained model's f64 forward reference (src/model/forward-reference.ts) on one sequence. */
export interface ModelForwardRequest {
  id: number;
  kind: 'model-forward';
  config: ModelConfig;
  params: Map<string, Float32Array>;
  /** One or more sequences (e.g. the text and the induction probe), each run separately. */
  sequences: number[][];
}

export type ModelForwardResponse =
  | { id: number; ok: true; traces: GptTrace[]; /** Milliseconds of each forward pass. */ forwardMs: number[] }
  | { id: number; ok: false; error: { name: string; message: string } };
