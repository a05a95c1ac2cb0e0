/**
 * What hover, export and the numbers read of the view on screen, whichever mode made it: the
 * maps' shape and token labels, a cell, the whole map, and the inputs to export as tensors.
 * The explorer's views read through the view engine (memory or the device); the model's views
 * read the run's own per-layer maps. No DOM.
 */
import type { AttentionInputs, AttentionResult, AttentionShape, ResolvedShape } from '../core/types';
import type { CellInfo, UserTokens } from '../scene';
import type { ModelView } from './model-engine';
import type { ModelViewInfo } from './model-view';
import { explorerUserTokens, modelUserTokens } from './sources';
import type { CellValues, ComputedView, ViewEngine } from './view';

/** The inputs behind a view, for the tensor export, or why there are none. */
export type ExportInputs = { shape: AttentionShape; inputs: AttentionInputs } | { unavailable: string };

/** The view on screen as hover and export read it. */
export interface ShownMaps {
  /** The maps drawn: heads × seqLen × kvLen (dHead turns a score back into raw QKᵀ). */
  readonly shape: ResolvedShape;
  readonly tokens: string[];
  readonly keyTokens: string[];
  /** Which tokens (both axes) are the user's own words, the rest continued text; null: no such notion (hover says nothing). */
  readonly userTokens: UserTokens | null;
  /** The f64 reference when it was kept (hover shows it beside the GPU's values). */
  readonly reference: AttentionResult | null;
  /** Model mode: logits, head reports and which layer/head each surface is. */
  readonly model: ModelViewInfo | null;
  /** The score and weight of a cell (its first entry). */
  readCell(cell: CellInfo): Promise<CellValues>;
  /** Scores and weights of the whole map (heads × seqLen × kvLen). */
  readMap(): Promise<{ scores: Float32Array; weights: Float32Array }>;
  exportInputs(): ExportInputs;
}

/** An explorer view, read through its engine. */
export function explorerMaps(view: ComputedView, engine: ViewEngine): ShownMaps {
  return {
    shape: view.shape,
    tokens: view.example.tokens,
    keyTokens: view.example.keyTokens ?? view.example.tokens,
    userTokens: explorerUserTokens(view.example),
    // Verification may keep the reference after the view is shown: read it when asked.
    get reference() {
      return view.reference;
    },
    model: null,
    readCell: (cell) => engine.readCell(view, cell),
    readMap: () => engine.readMap(view),
    exportInputs: () => ({ shape: view.example.shape, inputs: view.example.inputs }),
  };
}

/** A model view, read from its run's per-layer maps (every layer's are kept in memory). */
export function modelMaps(view: ModelView): ShownMaps {
  const { run, info, shape } = view;
  const T = run.input.ids.length;
  const map = shape.heads === run.model.config.heads ? [view.selection.layer] : run.layers.map((_, l) => l);
  return {
    shape,
    tokens: run.input.words,
    keyTokens: run.input.words,
    userTokens: modelUserTokens(run.input),
    reference: null,
    model: info,
    async readCell(cell) {
      const { layer, head } = info.headOf(cell.head);
      const maps = run.layers[layer];
      const at = (head * T + cell.query) * T + cell.key;
      // A large real-model run keeps no raw scores (empty arrays): NaN says so.
      return { score: maps.scores.length > 0 ? maps.scores[at] : NaN, weight: maps.weights[at] };
    },
    async readMap() {
      // Layer-major, as the surfaces are numbered: surface i of every layer is layer ⌊i/H⌋.
      const stack = (name: 'scores' | 'weights') => {
        const size = run.layers[0][name].length;
        const out = new Float32Array(map.length * size);
        map.forEach((layer, i) => out.set(run.layers[layer][name], i * size));
        return out;
      };
      return { scores: stack('scores'), weights: stack('weights') };
    },
    exportInputs: () => ({
      unavailable: "In model mode the attention's inputs are the trained model's own (LayerNorm of the residual stream, c_attn with its biases): export the map as CSV or JSON, or the view as PNG; the checkpoint itself is models/tiny-stories/model.safetensors.",
    }),
  };
}
