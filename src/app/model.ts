/**
 * Model mode without the DOM or WebGPU: what the trained model reads (the user's sentence after
 * `<eos>`, extended with the corpus's sentences or cut to seqLen), the measured head labels, the
 * top next-token predictions of a row, the layers × heads grid of the model view, and the
 * per-layer comparison of a forward pass against the f64 reference. Pure (tested in Node).
 */
import { AttentionInputError } from '../core/errors';
import type { ModelConfig } from '../core/types';
import { EOS_ID, sampleText, wordIds } from '../model/corpus';
import { LABEL_THRESHOLDS, headLabels, makeInductionProbe, scoreHead, type HeadScores, type InductionProbe } from '../model/heads';
import { END_OF_TEXT, UnknownWordsError, encode, type Vocabulary } from '../model/vocab';
import { makeRng } from '../reference/random';
import { compareArrays, type Comparison, type Tolerance } from '../verify/compare';

/** Where the shipped checkpoint lies under the app's base URL. */
export const MODEL_PATH = 'models/tiny-stories/model.safetensors';

/**
 * A seqLen beyond the model's context: the page says so and offers the explorer's synthetic
 * inputs at that length instead.
 */
export class ContextLimitError extends AttentionInputError {
  override name = 'ContextLimitError';
  constructor(
    readonly seqLen: number,
    readonly context: number,
  ) {
    super('seqLen', String(seqLen), `an integer from 2 to ${context}: the model reads at most ${context} tokens (its context)`, 'too-large');
  }
}

/** What the model reads for a text and a sequence length. */
export interface ModelInput {
  /** Token ids: `<eos>`, the text's words, then (when seqLen asks for more) corpus sentences. */
  ids: number[];
  /** The token strings of `ids`. */
  words: string[];
  /** Tokens of the user's text (without `<eos>`). */
  textTokens: number;
  /** How many tokens came from the corpus's sentences (including a '.' closing the text). */
  extended: number;
  /** True when the text was longer than seqLen − 1 tokens and was cut. */
  cut: boolean;
}

/** Suggestions for an unknown word: the known words closest by edit distance (at most `count`). */
export function suggestWords(word: string, vocab: Vocabulary, count = 3): string[] {
  const known = vocab.tokens.filter((t) => /^[\p{L}\p{N}]/u.test(t));
  const scored = known.map((t) => ({ t, d: editDistance(word, t) }));
  const limit = Math.max(1, Math.ceil(word.length / 2));
  return scored
    .filter((s) => s.d <= limit)
    .sort((a, b) => a.d - b.d || Math.abs(a.t.length - word.length) - Math.abs(b.t.length - word.length) || a.t.localeCompare(b.t))
    .slice(0, count)
    .map((s) => s.t);
}

/** Edit distance (insert, delete, substitute, swap two neighbours: 1 each; optimal string alignment). */
export function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** The message for unknown words: each named, with close known words, and what is allowed. */
export function describeUnknownWords(error: UnknownWordsError, vocab: Vocabulary): string {
  const parts = error.words.map((word) => {
    const close = suggestWords(word, vocab);
    return close.length > 0 ? `"${word}" (did you mean ${close.join(', ')}?)` : `"${word}"`;
  });
  return (
    `The model does not know the word${error.words.length === 1 ? '' : 's'} ${parts.join(', ')}. ` +
    `Use words from the model's ${vocab.tokens.length}-token vocabulary (children's-story words such as the, cat, sat, on, mat, dog, chased, girl, ball, happy, and . , ? !). The previous view is kept.`
  );
}

/**
 * The tokens the model reads: `<eos>` (what every training document starts with), the text's
 * words, then — when seqLen asks for more — a '.' closing the text if it is open and sentences
 * from the corpus (`sampleText(seed, context)`, so a longer seqLen extends the same text and a
 * shorter one cuts it), to exactly seqLen tokens. Throws (AttentionInputError) for a seqLen that
 * is not an integer ≥ 2, {@link ContextLimitError} above the context, UnknownWordsError for
 * words outside the vocabulary, and for empty text or text longer than the context.
 */
export function modelInput(text: string, seqLen: number, seed: number, vocab: Vocabulary, context: number): ModelInput {
  if (!Number.isInteger(seqLen) || seqLen < 2) throw new AttentionInputError('seqLen', String(seqLen), `an integer from 2 to ${context} (the model's context)`, 'shape');
  if (seqLen > context) throw new ContextLimitError(seqLen, context);
  if (text.trim() === '') throw new AttentionInputError('text', 'empty text', 'a sentence of words the model knows, e.g. "The cat sat on the mat"', 'shape');
  const eos = vocab.id(END_OF_TEXT) ?? EOS_ID;
  const textIds = encode(text, vocab);
  if (textIds.length === 0) throw new AttentionInputError('text', JSON.stringify(text), 'at least one word the model knows', 'shape');
  if (textIds.length + 1 > context) {
    throw new AttentionInputError('text', `${textIds.length} tokens`, `at most ${context - 1} tokens (the model reads at most ${context}, and the first is ${END_OF_TEXT})`, 'too-large');
  }
  const ids = [eos, ...textIds];
  let extended = 0;
  if (ids.length < seqLen) {
    const last = vocab.tokens[ids[ids.length - 1]];
    const period = vocab.id('.');
    if (period !== undefined && !['.', '?', '!'].includes(last)) {
      ids.push(period);
      extended++;
    }
    const more = encode(sampleText(seed, context), vocab);
    for (let i = 0; ids.length < seqLen; i++) {
      ids.push(i < more.length ? more[i] : eos);
      extended++;
    }
  }
  const cut = ids.length > seqLen;
  if (cut) ids.length = seqLen;
  return { ids, words: ids.map((id) => vocab.tokens[id]), textTokens: textIds.length, extended, cut };
}

/** The seqLen that shows all of a newly entered text: at least its tokens + `<eos>`, at most the context. */
export function seqLenForText(textTokens: number, seqLen: number, context: number): number {
  return Math.min(context, Math.max(seqLen, textTokens + 1));
}

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

/** The repeated random span the induction scores are measured on (as scripts/heads.ts). */
export function inductionProbeFor(vocab: Vocabulary, config: ModelConfig): InductionProbe {
  const span = Math.max(1, Math.min(24, Math.floor((config.context - 1) / 2)));
  return makeInductionProbe(makeRng(12), config.vocabSize, span, { first: vocab.id(END_OF_TEXT) ?? EOS_ID, pool: wordIds(vocab) });
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
 * shown (`textWeights[layer]`: heads × T × T), induction from its map on the probe
 * (`probeWeights[layer]`: heads × P × P, P = probe length); labels by `headLabels`.
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
  const slice = (map: ArrayLike<number>, head: number, n: number) => Array.prototype.slice.call(map, head * n * n, (head + 1) * n * n) as number[];
  const reports: HeadReport[] = [];
  textWeights.forEach((map, layer) => {
    for (let head = 0; head < heads; head++) {
      const onText = scoreHead(slice(map, head, T), textIds);
      const onProbe = scoreHead(slice(probeWeights[layer], head, P), probeIds);
      const scores: HeadScores = { previousToken: onText.previousToken, induction: onProbe.induction, firstToken: onText.firstToken, entropy: onText.entropy };
      reports.push({ layer, head, scores, labels: headLabels(scores) });
    }
  });
  return reports;
}

/** What a model-mode view adds to a ComputedView (src/app/view.ts): hover and the cards read it. */
export interface ModelViewInfo {
  /** seqLen × vocabSize logits of the run (row t predicts token t + 1). */
  logits: Float32Array;
  /** Token strings by id. */
  vocab: readonly string[];
  /** Every head's measured scores. */
  reports: readonly HeadReport[];
  /** The layer and head shown alone, or null for the model view (every layer × head). */
  selection: { layer: number; head: number } | null;
  /** The model's layer and head of surface head `index`. */
  headOf(index: number): { layer: number; head: number };
}

/** The layer and head of surface `index` of the model view (rows = layers, columns = heads). */
export function gridCell(index: number, heads: number): { layer: number; head: number } {
  return { layer: Math.floor(index / heads), head: index % heads };
}

/** "L1 H2": a head's name in the model view, 0-based as the selectors. */
export function headName(layer: number, head: number): string {
  return `L${layer} H${head}`;
}

/** A surface title in the model view: the head's name, then its strongest label. */
export function gridTitle(report: HeadReport): string {
  return `${headName(report.layer, report.head)}\n${report.labels[0] ?? ''}`;
}

/** Per-layer tensors drawn and checked. */
export interface LayerArrays {
  q: ArrayLike<number>;
  k: ArrayLike<number>;
  v: ArrayLike<number>;
  scores: ArrayLike<number>;
  weights: ArrayLike<number>;
  attn: ArrayLike<number>;
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
    layers.forEach((layer, l) => out.set(Array.from(layer[name]), l * map));
    return out;
  };
  return { q: side('q'), k: side('k'), v: side('v'), scores: stack('scores'), weights: stack('weights'), output: side('attn') };
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
  /** The layer, or null for the logits. */
  layer: number | null;
  name: 'q' | 'k' | 'v' | 'scores' | 'weights' | 'attn' | 'logits';
  comparison: Comparison;
}

export interface ModelVerification {
  rows: ModelCheckRow[];
  pass: boolean;
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
