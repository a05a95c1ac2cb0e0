import type { AttentionInputs, AttentionResult, AttentionShape } from '../core/types';

export interface ReferenceRequest {
  id: number;
  shape: AttentionShape;
  inputs: AttentionInputs;
}

export type ReferenceResponse =
  | { id: number; ok: true; result: AttentionResult; ms: number }
  | { id: number; ok: false; error: { name: string; message: string; field?: string } };
