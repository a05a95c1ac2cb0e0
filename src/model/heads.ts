/**
 * What a head does, measured from its attention map rather than written by hand: how much
 * weight it puts on the previous token, on the token after the previous occurrence of the
 * current token (induction), on earlier occurrences of the current token itself (duplicate
 * token), on the first token, and how spread out its rows are. Each label a
 * head gets in the landing view is `headLabels` of these numbers, computed from the map it
 * actually produced on the input.
 *
 * Every function takes ONE head's weights: seqLen × seqLen, row-major (row = query, column =
 * key), the softmax output of a causal head, so row i sums to 1 over keys 0…i (this is how the
 * kernels lay out one head's slice of `weights`). Plain TypeScript, runs in Node.
 */
import { AttentionInputError } from '../core/errors';
import { makeRng, type Rng } from '../reference/random';

/** One head's weights: seqLen × seqLen, row-major. */
export type HeadMap = ArrayLike<number>;

function checkMap(w: HeadMap, seqLen: number): void {
  if (!Number.isInteger(seqLen) || seqLen < 1) throw new AttentionInputError('seqLen', String(seqLen), 'an integer ≥ 1', 'shape');
  if (w.length !== seqLen * seqLen) throw new AttentionInputError('weights', `length ${w.length}`, `seqLen² = ${seqLen * seqLen}`, 'length');
}

/**
 * Mean over queries i = 1 … seqLen−1 of w[i][i−1]: the share of attention on the previous
 * token. Query 0 has no previous token and is left out. NaN when seqLen = 1 (no such query).
 */
export function previousTokenScore(w: HeadMap, seqLen: number): number {
  checkMap(w, seqLen);
  let sum = 0;
  for (let i = 1; i < seqLen; i++) sum += w[i * seqLen + i - 1];
  return seqLen > 1 ? sum / (seqLen - 1) : NaN;
}

/**
 * Mean over queries i = 1 … seqLen−1 of w[i][0]: the share of attention on the first token
 * (`<eos>` in the model's inputs, a common "nowhere else to look" sink). Query 0 is left out
 * because the causal mask gives it no choice (w[0][0] = 1). NaN when seqLen = 1.
 */
export function firstTokenShare(w: HeadMap, seqLen: number): number {
  checkMap(w, seqLen);
  let sum = 0;
  for (let i = 1; i < seqLen; i++) sum += w[i * seqLen];
  return seqLen > 1 ? sum / (seqLen - 1) : NaN;
}

/**
 * Mean over ALL rows i = 0 … seqLen−1 of the row entropy −Σ_j w[i][j]·ln w[i][j], in nats, with
 * 0·ln 0 = 0 (masked keys have weight 0 and add nothing). 0 for a head that always picks one
 * key; a uniform causal map gives the mean of ln(i+1), the largest a causal map can have.
 */
export function meanEntropy(w: HeadMap, seqLen: number): number {
  checkMap(w, seqLen);
  let total = 0;
  for (let i = 0; i < seqLen; i++) {
    for (let j = 0; j < seqLen; j++) {
      const p = w[i * seqLen + j];
      if (p > 0) total -= p * Math.log(p);
    }
  }
  return total / seqLen;
}

/** A query and the key an induction head would attend to from it. */
export interface QueryKey {
  query: number;
  key: number;
}

/**
 * The pairs the induction score averages over: every query i whose token occurred before, with
 * key = (the latest earlier position p < i holding the same token) + 1 — the token that
 * followed the previous occurrence, which is the one to copy to predict what comes next.
 * On [first] + prefix + R + R with distinct tokens in prefix and R (what `makeInductionProbe`
 * builds), these are exactly the queries of the second copy of R: query s+L+m → key s+m+1 for
 * m = 0 … L−1, where R starts at s (the last one's key, s+L, is the second copy's first token:
 * that is what followed R's last token the first time).
 */
export function inductionPairs(tokens: ArrayLike<number>): QueryKey[] {
  const last = new Map<number, number>();
  const pairs: QueryKey[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const previous = last.get(tokens[i]);
    if (previous !== undefined) pairs.push({ query: i, key: previous + 1 });
    last.set(tokens[i], i);
  }
  return pairs;
}

/**
 * The induction score of a head on `tokens` (seqLen = tokens.length): the mean of w[query][key]
 * over `inductionPairs(tokens)`. 1 for a perfect induction head; NaN when no token repeats
 * (nothing to measure). Meant for a probe from `makeInductionProbe`, where a head can only
 * score high by looking up the previous occurrence, since random tokens have no other pattern.
 */
export function inductionScore(w: HeadMap, tokens: ArrayLike<number>): number {
  const seqLen = tokens.length;
  checkMap(w, seqLen);
  const pairs = inductionPairs(tokens);
  let sum = 0;
  for (const { query, key } of pairs) sum += w[query * seqLen + key];
  return pairs.length > 0 ? sum / pairs.length : NaN;
}

/**
 * The duplicate-token score of a head on `tokens`: over every query whose token occurred
 * before, the mean of the total weight on those earlier occurrences (all of them, not the
 * current position). 1 for a head that looks only at earlier copies of its own token; NaN when
 * no token repeats. On an induction probe these are the second copy's queries, each with one
 * earlier copy (its key is the induction key − 1).
 */
export function duplicateTokenScore(w: HeadMap, tokens: ArrayLike<number>): number {
  const seqLen = tokens.length;
  checkMap(w, seqLen);
  const seen = new Map<number, number[]>();
  let sum = 0;
  let queries = 0;
  for (let i = 0; i < seqLen; i++) {
    const earlier = seen.get(tokens[i]);
    if (earlier) {
      for (const j of earlier) sum += w[i * seqLen + j];
      queries++;
      earlier.push(i);
    } else {
      seen.set(tokens[i], [i]);
    }
  }
  return queries > 0 ? sum / queries : NaN;
}

/** A sequence with one repeated random span, and the pairs its induction score averages over. */
export interface InductionProbe {
  /** [first] + prefix + R + R. */
  tokens: number[];
  /** `inductionPairs(tokens)`: the second copy's queries and their keys. */
  pairs: QueryKey[];
  /** Position of R's first copy (its second copy starts at spanStart + spanLength). */
  spanStart: number;
  spanLength: number;
}

export interface InductionProbeOptions {
  /** The token at position 0 (default 0, the corpus's `<eos>`); null for none. Never drawn again. */
  first?: number | null;
  /** Ids never drawn (special tokens, punctuation…). */
  avoid?: readonly number[];
  /** Draw only from these ids (default: 0 … vocabSize−1); `avoid` and `first` still apply. */
  pool?: readonly number[];
  /** Random tokens between the first token and R (default 0). */
  prefixLength?: number;
}

/**
 * [first] + prefix + R + R: R is `spanLength` random tokens, repeated once. All prefix and R
 * tokens are distinct (drawn without replacement) and differ from `first`, so each token of the
 * second copy has exactly one earlier occurrence and the induction target is unambiguous.
 */
export function makeInductionProbe(rng: Rng, vocabSize: number, spanLength: number, options: InductionProbeOptions = {}): InductionProbe {
  if (!Number.isInteger(vocabSize) || vocabSize < 1) throw new AttentionInputError('vocabSize', String(vocabSize), 'an integer ≥ 1', 'shape');
  if (!Number.isInteger(spanLength) || spanLength < 1) throw new AttentionInputError('spanLength', String(spanLength), 'an integer ≥ 1', 'shape');
  const prefixLength = options.prefixLength ?? 0;
  if (!Number.isInteger(prefixLength) || prefixLength < 0) throw new AttentionInputError('prefixLength', String(prefixLength), 'an integer ≥ 0', 'shape');
  const first = options.first === undefined ? 0 : options.first;
  const excluded = new Set(options.avoid ?? []);
  if (first !== null) excluded.add(first);
  const pool = (options.pool ?? Array.from({ length: vocabSize }, (_, id) => id)).filter((id) => id >= 0 && id < vocabSize && !excluded.has(id));
  const needed = prefixLength + spanLength;
  if (needed > pool.length) throw new AttentionInputError('spanLength', `${spanLength} (+ prefix ${prefixLength})`, `at most ${pool.length} distinct drawable tokens`, 'too-large');
  // Partial Fisher–Yates: the first `needed` entries become a uniform draw without replacement.
  for (let k = 0; k < needed; k++) {
    const r = k + Math.floor(rng() * (pool.length - k));
    [pool[k], pool[r]] = [pool[r], pool[k]];
  }
  const prefix = pool.slice(0, prefixLength);
  const span = pool.slice(prefixLength, needed);
  const tokens = [...(first === null ? [] : [first]), ...prefix, ...span, ...span];
  return { tokens, pairs: inductionPairs(tokens), spanStart: tokens.length - 2 * spanLength, spanLength };
}

/** The project's induction probe: seed, span and prefix lengths (README, "The trained model"). */
export const PROJECT_PROBE = { seed: 12, span: 24, prefix: 8 } as const;

/**
 * The probe every induction score in the project is measured on (the app's head labels, the
 * training log, the tests): `first`, then PROJECT_PROBE.prefix random words, then a random span
 * of PROJECT_PROBE.span words twice (57 tokens), all drawn from `pool` with PROJECT_PROBE.seed;
 * shortened to fit a smaller context (the span first keeps ≥ 1, the prefix shrinks to what is left).
 */
export function projectProbe(vocabSize: number, context: number, first: number, pool: readonly number[]): InductionProbe {
  const room = Math.max(0, context - 1);
  const span = Math.max(1, Math.min(PROJECT_PROBE.span, Math.floor(room / 2)));
  const prefixLength = Math.max(0, Math.min(PROJECT_PROBE.prefix, room - 2 * span));
  return makeInductionProbe(makeRng(PROJECT_PROBE.seed), vocabSize, span, { first, pool, prefixLength });
}

/** A head's five measured numbers. */
export interface HeadScores {
  previousToken: number;
  /** On an induction probe (or any input with repeats); NaN when nothing repeats. */
  induction: number;
  /** Weight on earlier copies of the query's own token (on the probe too); NaN when nothing repeats. */
  duplicateToken: number;
  firstToken: number;
  /** Mean row entropy, nats. */
  entropy: number;
}

/** All five scores of one head on `tokens` (seqLen = tokens.length). */
export function scoreHead(w: HeadMap, tokens: ArrayLike<number>): HeadScores {
  const seqLen = tokens.length;
  return {
    previousToken: previousTokenScore(w, seqLen),
    induction: inductionScore(w, tokens),
    duplicateToken: duplicateTokenScore(w, tokens),
    firstToken: firstTokenShare(w, seqLen),
    entropy: meanEntropy(w, seqLen),
  };
}

/**
 * When a score earns its label: the head puts on average at least this share of a row's weight
 * on that one key. For scale, a uniform causal map over 16 tokens puts (H₁₆ − 1)/15 ≈ 0.16 on
 * the previous (or first) token, so 0.4 is well above what a head gets by spreading evenly.
 */
export const LABEL_THRESHOLDS = { previousToken: 0.4, induction: 0.4, duplicateToken: 0.4, firstToken: 0.4 } as const;

/** The scores a label can come from, with their thresholds. */
export type LabelThresholds = { previousToken: number; induction: number; duplicateToken: number; firstToken: number };

/**
 * Short labels derived from the numbers, strongest first: 'previous-token 0.92',
 * 'induction 0.71', 'duplicate-token 0.55', 'first-token 0.64' for each score at or above its threshold (NaN never
 * passes); when none does, the spread instead: 'entropy 1.83 nats'. Two decimals.
 */
export function headLabels(scores: HeadScores, thresholds: LabelThresholds = LABEL_THRESHOLDS): string[] {
  const candidates: Array<[string, number, number]> = [
    ['previous-token', scores.previousToken, thresholds.previousToken],
    ['induction', scores.induction, thresholds.induction],
    ['duplicate-token', scores.duplicateToken, thresholds.duplicateToken],
    ['first-token', scores.firstToken, thresholds.firstToken],
  ];
  const labels = candidates
    .filter(([, score, threshold]) => score >= threshold)
    .sort((a, b) => b[1] - a[1])
    .map(([name, score]) => `${name} ${score.toFixed(2)}`);
  return labels.length > 0 ? labels : [`entropy ${scores.entropy.toFixed(2)} nats`];
}
