/**
 * The model's heads measured, without the DOM or WebGPU: the induction probe the app scores
 * on, every head's scores and labels, and whether any head earns the induction label. Pure
 * (tested in Node).
 */
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
