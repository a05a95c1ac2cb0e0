/**
 * The model's heads measured, without the DOM or WebGPU: the induction probe the app scores
 * on, every head's scores and labels, and whether any head earns the induction label. Pure
 * (tested in Node).
 */
import { AttentionInputError } from '../core/errors';
import type { ModelConfig } from '../core/types';
import { EOS_ID, wordIds } from '../model/corpus-words';
import { LABEL_THRESHOLDS, headLabels, projectProbe, scoreHead, type HeadScores, type InductionProbe } from '../model/heads';
import { END_OF_TEXT, type Vocabulary } from '../model/vocab';

/** The repeated random span the induction scores are measured on (src/model/heads.ts's projectProbe, as scripts/heads.ts and the training log). */
export function inductionProbeFor(vocab: Vocabulary, config: ModelConfig): InductionProbe {
  return projectProbe(config.vocabSize, config.context, vocab.id(END_OF_TEXT) ?? EOS_ID, wordIds(vocab));
}

/** One head's measured scores and the labels they earn. */
export interface HeadReport {
  layer: number;
  head: number;
  scores: HeadScores;
  labels: string[];
}

/**
 * The best induction score among `heads` and whether it reaches the label threshold, so the
 * card can say plainly when a model has no induction head (rather than leave a column of
 * zeros unexplained). `best` is NaN when no head has a finite score.
 */
export function inductionSummary(heads: readonly HeadReport[]): { best: number; threshold: number; found: boolean } {
  let best = NaN;
  for (const { scores } of heads) if (Number.isFinite(scores.induction) && !(scores.induction <= best)) best = scores.induction;
  const threshold = LABEL_THRESHOLDS.induction;
  return { best, threshold, found: best >= threshold };
}

/**
 * Every head's scores: previous-token, first-token share and entropy from its map on the text
 * shown (`textWeights[layer]`: heads × T × T), induction
 * and duplicate-token from its map on the probe (`probeWeights[layer]`: heads × P × P, P = probe
 * length; random tokens, so only a real lookup of the repeat scores there); labels by `headLabels`.
 */
export function measureHeads(
  textWeights: ReadonlyArray<ArrayLike<number>>,
  textIds: readonly number[],
  probeWeights: ReadonlyArray<ArrayLike<number>>,
  probeIds: readonly number[],
  heads: number,
): HeadReport[] {
  const T = textIds.length;
  const P = probeIds.length;
  // A view, not a copy, where the map is a typed array (the run's are): a generic slice of a
  // Float32Array into a JS array was most of this function's time at 128 tokens.
  const slice = (map: ArrayLike<number>, head: number, n: number): ArrayLike<number> =>
    ArrayBuffer.isView(map) ? (map as Float32Array).subarray(head * n * n, (head + 1) * n * n) : (Array.prototype.slice.call(map, head * n * n, (head + 1) * n * n) as number[]);
  const reports: HeadReport[] = [];
  textWeights.forEach((map, layer) => {
    for (let head = 0; head < heads; head++) {
      const onText = scoreHead(slice(map, head, T), textIds);
      const onProbe = scoreHead(slice(probeWeights[layer], head, P), probeIds);
      const scores: HeadScores = { previousToken: onText.previousToken, induction: onProbe.induction, duplicateToken: onProbe.duplicateToken, firstToken: onText.firstToken, entropy: onText.entropy };
      reports.push({ layer, head, scores, labels: headLabels(scores) });
    }
  });
  return reports;
}

/**
 * The (query, key) pairs the text scores of a run without maps read (GpuModelRunOptions
 * `weightsAt` of a fused run): (i, i − 1) and (i, 0) for every query i = 1 … T − 1, the pair
 * (1, 0) once. 2T − 3 pairs for T ≥ 2; none for T = 1.
 */
export function textScorePairs(T: number): Array<[number, number]> {
  const pairs: Array<[number, number]> = [];
  for (let i = 1; i < T; i++) {
    pairs.push([i, i - 1]);
    if (i > 1) pairs.push([i, 0]);
  }
  return pairs;
}

/**
 * Every head's scores for a run that stored no maps: previous-token and first-token share on
 * the text itself, every row, from the run's weights at {@link textScorePairs}(T)
 * (`pairWeights[layer]`: heads × pairs, as the GPU returns them; the same means as
 * previousTokenScore and firstTokenShare); the mean row entropy on the text from the run's row
 * entropies (`rowEntropy[layer]`: heads × T, as meanEntropy averages them), or from the probe
 * without them; induction and duplicate-token from the maps on the probe (`probeWeights[layer]`:
 * heads × P × P), as {@link measureHeads} takes them. Labels by `headLabels`.
 */
export function measureHeadsFromPairs(
  pairWeights: ReadonlyArray<ArrayLike<number>>,
  T: number,
  probeWeights: ReadonlyArray<ArrayLike<number>>,
  probeIds: readonly number[],
  heads: number,
  rowEntropy?: ReadonlyArray<ArrayLike<number>>,
): HeadReport[] {
  const nPairs = Math.max(0, 2 * T - 3);
  const P = probeIds.length;
  const reports: HeadReport[] = [];
  pairWeights.forEach((weights, layer) => {
    if (weights.length !== heads * nPairs) throw new AttentionInputError(`pairWeights[${layer}]`, `length ${weights.length}`, `heads × (2T − 3) = ${heads * nPairs}`, 'length');
    const entropies = rowEntropy?.[layer];
    if (rowEntropy !== undefined && entropies?.length !== heads * T) throw new AttentionInputError(`rowEntropy[${layer}]`, `length ${entropies?.length ?? 0}`, `heads × T = ${heads * T}`, 'length');
    for (let head = 0; head < heads; head++) {
      const at = head * nPairs;
      let previous = 0;
      let first = 0;
      // Pair order of textScorePairs: (1, 0), then (i, i − 1), (i, 0) for i = 2 … T − 1.
      for (let i = 1; i < T; i++) {
        const n = i === 1 ? 0 : 2 * i - 3;
        previous += weights[at + n];
        first += i === 1 ? weights[at] : weights[at + n + 1];
      }
      const map = probeWeights[layer];
      const onProbe = scoreHead(ArrayBuffer.isView(map) ? (map as Float32Array).subarray(head * P * P, (head + 1) * P * P) : Array.prototype.slice.call(map, head * P * P, (head + 1) * P * P), probeIds);
      const scores: HeadScores = {
        previousToken: T > 1 ? previous / (T - 1) : NaN,
        induction: onProbe.induction,
        duplicateToken: onProbe.duplicateToken,
        firstToken: T > 1 ? first / (T - 1) : NaN,
        entropy: entropies ? meanOf(entropies, head * T, T) : onProbe.entropy,
      };
      reports.push({ layer, head, scores, labels: headLabels(scores) });
    }
  });
  return reports;
}

/** The mean of `n` values of `values` from `at`. */
function meanOf(values: ArrayLike<number>, at: number, n: number): number {
  let sum = 0;
  for (let i = 0; i < n; i++) sum += values[at + i];
  return sum / n;
}
