/**
 * The map of a view as CSV or JSON text (pure: the UI downloads it). Scores are QKᵀ/√dHead
 * (-Infinity in CSV and null in JSON where masked), weights the row softmax.
 */
import type { ResolvedShape } from '../core/types';
import type { AppState } from './state';

/** What the export needs of a view. */
export interface MapExport {
  shape: ResolvedShape;
  state: AppState;
  tokens: string[];
  keyTokens: string[];
  /** heads × seqLen × kvLen each. */
  scores: Float32Array;
  weights: Float32Array;
  /** The adapter the map was computed on, for the JSON's record. */
  adapter: string;
}

/** File name stem: `attention-2x64x64`. */
export function exportStem(shape: ResolvedShape | null): string {
  return `attention-${shape ? `${shape.heads}x${shape.seqLen}x${shape.kvLen}` : 'view'}`;
}

function csvText(text: string | undefined): string {
  return text === undefined ? '' : `"${text.replaceAll('"', '""')}"`;
}

/** One line per entry: head, query, key, their tokens, score, weight. */
export function mapToCsv(map: MapExport): string {
  const { heads, seqLen, kvLen } = map.shape;
  const lines = ['head,query,key,query_token,key_token,score,weight'];
  for (let head = 0; head < heads; head++) {
    for (let i = 0; i < seqLen; i++) {
      for (let j = 0; j < kvLen; j++) {
        const at = (head * seqLen + i) * kvLen + j;
        lines.push(`${head},${i},${j},${csvText(map.tokens[i])},${csvText(map.keyTokens[j])},${map.scores[at]},${map.weights[at]}`);
      }
    }
  }
  return lines.join('\n') + '\n';
}

/** The shape, state, tokens and per-head matrices of scores and weights. */
export function mapToJson(map: MapExport): string {
  const { heads, seqLen, kvLen } = map.shape;
  const rowsOf = (values: Float32Array, head: number) =>
    Array.from({ length: seqLen }, (_, i) => Array.from(values.subarray((head * seqLen + i) * kvLen, (head * seqLen + i + 1) * kvLen), (v) => (Number.isFinite(v) ? v : null)));
  return JSON.stringify({
    shape: map.shape,
    state: map.state,
    tokens: map.tokens,
    keyTokens: map.keyTokens,
    adapter: map.adapter,
    note: 'scores = QKᵀ/√dHead (null where masked); weights = row softmax',
    heads: Array.from({ length: heads }, (_, head) => ({ head, scores: rowsOf(map.scores, head), weights: rowsOf(map.weights, head) })),
  });
}
