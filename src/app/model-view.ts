/**
 * The model view's readouts, without the DOM or WebGPU: what a model-mode view carries for
 * hover and the cards, the top next-token predictions of a row, the names and titles of the
 * layers × heads grid, and the layers stacked as one attention of L·H heads. Pure (tested in Node).
 */
import { AttentionInputError } from '../core/errors';
import type { LayerArrays } from '../verify/model';
import type { HeadReport } from './head-scores';

/** One next-token prediction. */
export interface Prediction {
  id: number;
  token: string;
  probability: number;
}

/**
 * The `k` most probable next tokens after position `row`: the softmax of that row of the logits
 * (seqLen × vocabSize), computed in f64 with the maximum subtracted; ties keep the lower id first.
 */
export function topPredictions(logits: ArrayLike<number>, row: number, vocab: readonly string[], k = 5): Prediction[] {
  const vocabSize = vocab.length;
  const base = row * vocabSize;
  if (!Number.isInteger(row) || row < 0 || base + vocabSize > logits.length) throw new AttentionInputError('row', String(row), `a row from 0 to ${logits.length / vocabSize - 1}`, 'shape');
  let max = -Infinity;
  for (let v = 0; v < vocabSize; v++) max = Math.max(max, logits[base + v]);
  let sum = 0;
  for (let v = 0; v < vocabSize; v++) sum += Math.exp(logits[base + v] - max);
  const order = Array.from({ length: vocabSize }, (_, v) => v).sort((a, b) => logits[base + b] - logits[base + a] || a - b);
  return order.slice(0, k).map((id) => ({ id, token: vocab[id], probability: Math.exp(logits[base + id] - max) / sum }));
}

/** What a model-mode view (ModelView, src/app/model-engine.ts) gives hover and the cards. */
export interface ModelViewInfo {
  /** seqLen × vocabSize logits of the run (row t predicts token t + 1); from row `logitsFrom` on when that is set. */
  logits: Float32Array;
  /** The first row `logits` holds (a long fused run computes its last rows' only); absent: 0. */
  logitsFrom?: number;
  /** Token strings by id. */
  vocab: readonly string[];
  /** Every head's measured scores. */
  reports: readonly HeadReport[];
  /** The layer and head shown alone, or null for the model view (every layer × head). */
  selection: { layer: number; head: number } | null;
  /** The model's layer and head of surface head `index`. */
  headOf(index: number): { layer: number; head: number };
  /** Grouped-query attention (fewer key/value heads than query heads): which query heads share each; absent otherwise. */
  kvGroups?: { heads: number; kvHeads: number };
}

/**
 * Grouped-query attention: "kv1 (H2–H3)", the key/value head query head `head` reads and the
 * query heads that share it (heads / kvHeads consecutive ones, as Hugging Face's repeat_kv).
 */
export function kvHeadName(head: number, heads: number, kvHeads: number): string {
  const group = heads / kvHeads;
  const g = Math.floor(head / group);
  return `kv${g} (H${g * group}–H${(g + 1) * group - 1})`;
}

/** The layer and head of surface `index` of the model view (rows = layers, columns = heads). */
export function gridCell(index: number, heads: number): { layer: number; head: number } {
  return { layer: Math.floor(index / heads), head: index % heads };
}

/** "L1 H2": a head's name in the model view, 0-based as the selectors. */
export function headName(layer: number, head: number): string {
  return `L${layer} H${head}`;
}

/** Past this many heads the model view titles only what stands out (GPT-2 small has 144). */
export const GALLERY_TITLE_LIMIT = 32;

/**
 * A surface title in the model view: the head's name, then its strongest label. In a gallery
 * of more than {@link GALLERY_TITLE_LIMIT} heads (`total`), 144 titles would cover the surfaces:
 * only heads with a measured pattern (a label other than entropy) keep theirs, and the rest
 * name the grid's rows and columns — `L{layer}` on each row's first head, `H{head}` on layer 0.
 */
export function gridTitle(report: HeadReport, total = 0, nameSuffix = ''): string {
  const full = `${headName(report.layer, report.head)}${nameSuffix}\n${report.labels[0] ?? ''}`;
  if (total <= GALLERY_TITLE_LIMIT) return full;
  const label = report.labels[0] ?? '';
  if (label !== '' && !label.startsWith('entropy')) return full;
  if (report.head === 0) return `L${report.layer}`;
  if (report.layer === 0) return `H${report.head}`;
  return '';
}

/**
 * Every layer's maps side by side as one attention of L·H heads (the model view): q and k
 * (T × L·d, layer l's heads in columns l·d … (l+1)·d − 1), scores and weights (L·H × T × T,
 * layer-major), and v and the output likewise. Head i of the result is layer ⌊i/H⌋, head i mod H.
 */
export function combineLayers(layers: readonly LayerArrays[], seqLen: number, dModel: number): { q: Float32Array; k: Float32Array; v: Float32Array; scores: Float32Array; weights: Float32Array; output: Float32Array } {
  const L = layers.length;
  const width = L * dModel;
  const map = layers.length > 0 ? layers[0].scores.length : 0;
  const side = (name: 'q' | 'k' | 'v' | 'attn') => {
    const out = new Float32Array(seqLen * width);
    layers.forEach((layer, l) => {
      for (let t = 0; t < seqLen; t++) for (let c = 0; c < dModel; c++) out[t * width + l * dModel + c] = layer[name][t * dModel + c];
    });
    return out;
  };
  const stack = (name: 'scores' | 'weights') => {
    const out = new Float32Array(L * map);
    // Straight from the typed arrays (a copy through a JS array took ~100 ms at 128 tokens).
    layers.forEach((layer, l) => out.set(layer[name], l * map));
    return out;
  };
  return { q: side('q'), k: side('k'), v: side('v'), scores: stack('scores'), weights: stack('weights'), output: side('attn') };
}

