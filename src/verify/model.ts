/**
 * The model's per-layer check: a forward pass's Q, K, V, scores, weights, attention output and
 * logits against the f64 reference (src/model/forward-reference.ts), with the tolerances the
 * browser tests use too. Pure (tested in Node).
 */
import { AttentionInputError } from '../core/errors';
import { compareArrays, type Comparison, type Tolerance } from './compare';

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
