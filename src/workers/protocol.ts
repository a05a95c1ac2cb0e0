import type { AttentionInputs, AttentionResult, AttentionShape } from '../core/types';
import type { AttentionRows } from '../reference/attention';

/** Compute the whole reference, or only the given query rows. */
export interface ReferenceRequest {
  id: number;
  shape: AttentionShape;
  inputs: AttentionInputs;
  rows?: number[];
}

export type ReferenceResponse =
  | { id: number; ok: true; result: AttentionResult | AttentionRows; ms: number }
  | { id: number; ok: false; error: { name: string; message: string } };
