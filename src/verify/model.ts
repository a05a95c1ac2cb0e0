/**
 * The model's per-layer check: a forward pass's Q, K, V, scores, weights, attention output and
 * logits against the f64 reference (src/model/forward-reference.ts), with the tolerances the
 * browser tests use too. Pure (tested in Node).
 */
import { AttentionInputError } from '../core/errors';
import { compareArrays, type Comparison, type Tolerance } from './compare';
import type { Floats } from '../model/schema';

/** Per-layer tensors drawn and checked. */
export interface LayerArrays {
  q: ArrayLike<number>;
  k: ArrayLike<number>;
  v: ArrayLike<number>;
  scores: ArrayLike<number>;
  weights: ArrayLike<number>;
  attn: ArrayLike<number>;
}

/** Tolerances of the model check (|gpu − ref| ≤ atol + rtol·|ref|), as test/browser/model-forward.test.ts. */
export const MODEL_TOLERANCES: Record<'activations' | 'scores' | 'weights' | 'logits', Tolerance> = {
  activations: { atol: 1e-4, rtol: 1e-3 },
  scores: { atol: 1e-4, rtol: 1e-3 },
  weights: { atol: 2e-5, rtol: 1e-3 },
  logits: { atol: 1e-4, rtol: 1e-3 },
};

/** One row of the per-layer verification card. */
export interface ModelCheckRow {
  /** The layer, or null for the logits (a row check reports the embedding under layer 0, whose input it is). */
  layer: number | null;
  /** resid1, resid2 and embed: checked by the row check (model-rows.ts), not by {@link verifyModel}. */
  name: 'embed' | 'q' | 'k' | 'v' | 'scores' | 'weights' | 'attn' | 'resid1' | 'resid2' | 'logits';
  comparison: Comparison;
}

export interface ModelVerification {
  rows: ModelCheckRow[];
  pass: boolean;
  /** The sequence rows compared (the row check, model-rows.ts); absent when every element was compared. */
  sampledRows?: number[];
}

/** Compare every layer's Q, K, V, scores, weights, attention output, and the logits with the reference. */
export function verifyModel(actual: { layers: readonly LayerArrays[]; logits: ArrayLike<number> }, reference: { layers: readonly LayerArrays[]; logits: ArrayLike<number> }): ModelVerification {
  if (actual.layers.length !== reference.layers.length) throw new AttentionInputError('layers', String(actual.layers.length), `${reference.layers.length} (the reference's)`, 'length');
  const rows: ModelCheckRow[] = [];
  const names = ['q', 'k', 'v', 'scores', 'weights', 'attn'] as const;
  actual.layers.forEach((layer, i) => {
    for (const name of names) {
      const tolerance = name === 'scores' || name === 'weights' ? MODEL_TOLERANCES[name] : MODEL_TOLERANCES.activations;
      rows.push({ layer: i, name, comparison: compareArrays(layer[name], reference.layers[i][name], tolerance) });
    }
  });
  rows.push({ layer: null, name: 'logits', comparison: compareArrays(actual.logits, reference.logits, MODEL_TOLERANCES.logits) });
  return { rows, pass: rows.every((r) => r.comparison.pass) };
}

/** One layer's tensors as the GPU read them back (GptTrace's layouts; `scores` optional: keep 'weights' never reads them). */
export interface ModelRowsLayer {
  /** seqLen × dModel each, heads side by side. */
  q: Floats;
  k: Floats;
  v: Floats;
  /** heads × seqLen × seqLen, −∞ where masked; compared when given. */
  scores?: Floats;
  /** heads × seqLen × seqLen, 0 where masked. */
  weights: Floats;
  /** P·V, seqLen × dModel. */
  attn: Floats;
  /** The block's residual stream after attention, and its output; seqLen × dModel. */
  resid1: Floats;
  resid2: Floats;
}

/**
 * The tensors at the checked rows only (what the reference worker is sent): `k` and `v` whole
 * (seqLen × dModel: every query reads keys 0…r); `embed`, `q`, `attn`, `resid1`, `resid2`
 * rows × dModel; `scores`, `weights` heads × rows × seqLen; `logits` rows × vocabSize.
 */
export interface PickedModelRows {
  seqLen: number;
  /** The checked rows, ascending. */
  rows: number[];
  embed: Floats;
  layers: ModelRowsLayer[];
  logits: Floats;
}

/** {@link ModelVerification} of a row check: the rows compared are always named. */
export interface ModelRowsVerification extends ModelVerification {
  sampledRows: number[];
}
