// The checkpoint `npm run train` wrote and the repository ships (public/models/tiny-stories):
// it loads, it has learnt the corpus (held-out loss by the f64 reference, against a unigram
// model of the same corpus), it has a previous-token head, measured on random words built here
// (where only position can guide a head), and an induction head, measured on the project's probe
// (a repeated random span of 24 words after a random prefix, src/model/heads.ts projectProbe)
// by the f64 reference; its training log records when that head formed.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readCheckpoint } from '../../src/model/checkpoint';
import { generateCorpus } from '../../src/model/corpus';
import { EOS_ID, wordIds } from '../../src/model/corpus-words';
import { forwardReference } from '../../src/model/forward-reference';
import { inductionScore, makeInductionProbe, previousTokenScore, projectProbe } from '../../src/model/heads';
import { makeRng } from '../../src/reference/random';

const FILE = 'public/models/tiny-stories/model.safetensors';
const checkpoint = readCheckpoint(readFileSync(FILE), FILE);
const { config, params } = checkpoint;

/** Mean next-token cross-entropy (nats) of consecutive windows of `stream`, by the f64 reference. */
function referenceLoss(stream: ArrayLike<number>, windows: number): number {
  const length = config.context;
  let total = 0;
  let count = 0;
  for (let w = 0; w < windows; w++) {
    const tokens = Array.from({ length: length + 1 }, (_, t) => stream[w * length + t]);
    const { logits } = forwardReference(config, params, tokens.slice(0, length));
    for (let t = 0; t < length; t++) {
      const row = logits.subarray(t * config.vocabSize, (t + 1) * config.vocabSize);
      let max = -Infinity;
      for (const v of row) max = Math.max(max, v);
      let sum = 0;
      for (const v of row) sum += Math.exp(v - max);
      total += max + Math.log(sum) - row[tokens[t + 1]];
      count++;
    }
  }
  return total / count;
}

describe('the shipped model', () => {
  it('is the configuration the README states, with its vocabulary', () => {
    expect(config).toEqual({ vocabSize: 331, context: 128, dModel: 64, heads: 4, layers: 2, dMlp: 256, tiedEmbeddings: false });
    expect(checkpoint.vocab?.slice(0, 8)).toEqual(['<eos>', '.', ',', '?', '!', "'s", 'the', 'cat']);
    expect(readFileSync(FILE).length).toBeLessThanOrEqual(4 * 2 ** 20);
  });

  it('beats a unigram model of the same corpus by more than 1.5 nats per token on held-out text', () => {
    // Unigram: add-one-smoothed frequencies of 1M training tokens, on the first 4096 held-out
    // tokens; the model on the same tokens by the f64 forward reference.
    const corpus = generateCorpus(1, { trainTokens: 1_000_000, heldOutTokens: 4096 + 1 });
    const counts = new Float64Array(config.vocabSize).fill(1);
    for (const id of corpus.train) counts[id]++;
    const all = counts.reduce((a, b) => a + b, 0);
    let unigram = 0;
    for (let i = 1; i <= 4096; i++) unigram -= Math.log(counts[corpus.heldOut[i]] / all);
    unigram /= 4096;
    const model = referenceLoss(corpus.heldOut, 4096 / config.context);
    console.info(`[model] held-out loss ${model.toFixed(4)} nats by the f64 reference; unigram ${unigram.toFixed(4)}; the log says ${checkpoint.metadata.heldOutLoss}`);
    expect(unigram).toBeGreaterThan(4.5);
    expect(model).toBeLessThan(unigram - 1.5);
    // The training log's held-out loss (all 32768 held-out tokens) is the same measure.
    expect(Math.abs(model - Number(checkpoint.metadata.heldOutLoss))).toBeLessThan(0.15);
    // A million corpus tokens and 32 f64 forwards: seconds alone, 10 s or more on a loaded machine.
  }, 60_000);
});

/** One head's seqLen × seqLen weights from a trace. */
function headMap(weights: Float64Array, head: number, n: number): Float64Array {
  return weights.subarray(head * n * n, (head + 1) * n * n);
}

describe("the shipped model's heads", () => {
  it('has a previous-token head: ≥ 0.8 of its weight on the previous word, on random words', () => {
    // 127 distinct random words after <eos>: no pattern but position, so a high score means
    // the head looks one position back wherever it is.
    const rng = makeRng(21);
    const pool = wordIds();
    for (let k = pool.length - 1; k > 0; k--) {
      const r = Math.floor(rng() * (k + 1));
      [pool[k], pool[r]] = [pool[r], pool[k]];
    }
    const tokens = [EOS_ID, ...pool.slice(0, config.context - 1)];
    const trace = forwardReference(config, params, tokens);
    const n = tokens.length;
    const scores = trace.layers.flatMap((layer, l) => Array.from({ length: config.heads }, (_, h) => ({ head: `L${l}H${h}`, score: previousTokenScore(headMap(layer.weights, h, n), n) })));
    const best = scores.reduce((a, b) => (b.score > a.score ? b : a));
    console.info(`[model] previous-token scores on random words: ${scores.map((s) => `${s.head} ${s.score.toFixed(3)}`).join(', ')}`);
    expect(best.score).toBeGreaterThanOrEqual(0.8);
    // The same head on the corpus's first 128 held-out tokens (real sentences): still ≥ 0.8.
    const text = Array.from(generateCorpus(1, { trainTokens: 1, heldOutTokens: config.context }).heldOut);
    const onText = forwardReference(config, params, text);
    const [layer, head] = best.head.slice(1).split('H').map(Number);
    const textScore = previousTokenScore(headMap(onText.layers[layer].weights, head, text.length), text.length);
    console.info(`[model] ${best.head} on held-out text: ${textScore.toFixed(3)}`);
    expect(textScore).toBeGreaterThanOrEqual(0.8);
  });
});

describe("the shipped model's induction head", () => {
  it('a head puts ≥ 0.5 of its weight on the token after the previous occurrence, on the project probe (f64 reference)', () => {
    const probe = projectProbe(config.vocabSize, config.context, EOS_ID, wordIds());
    // The probe as the issue states it: <eos>, 8 random words, a span of 24 random words twice.
    expect(probe.tokens).toHaveLength(57);
    expect(probe.tokens.slice(9, 33)).toEqual(probe.tokens.slice(33, 57));
    const trace = forwardReference(config, params, probe.tokens);
    const n = probe.tokens.length;
    const scores = trace.layers.flatMap((layer, l) =>
      Array.from({ length: config.heads }, (_, h) => ({ head: `L${l}H${h}`, score: inductionScore(headMap(layer.weights, h, n), probe.tokens) })),
    );
    console.info(`[model] induction scores on the probe: ${scores.map((s) => `${s.head} ${s.score.toFixed(3)}`).join(', ')}`);
    const best = scores.reduce((a, b) => (b.score > a.score ? b : a));
    expect(best.score).toBeGreaterThanOrEqual(0.5);
    // Layer 1 reads what layer 0's previous-token head wrote: no layer-0 head does induction.
    expect(best.head.startsWith('L1')).toBe(true);
    // On other random spans too (seeds the probe does not use): not one lucky draw.
    for (const seed of [101, 102, 103]) {
      const other = makeInductionProbe(makeRng(seed), config.vocabSize, 24, { first: EOS_ID, pool: wordIds(), prefixLength: 8 });
      const t = forwardReference(config, params, other.tokens);
      const [l, h] = best.head.slice(1).split('H').map(Number);
      expect(inductionScore(headMap(t.layers[l].weights, h, other.tokens.length), other.tokens), `seed ${seed}`).toBeGreaterThanOrEqual(0.5);
    }
  });

  it('the training log names the step where it formed, and ends with the scores measured here', () => {
    const log = JSON.parse(readFileSync('public/models/tiny-stories/training-log.json', 'utf8')) as {
      inductionCrossed: { step: number; layer: number; head: number } | null;
      heads: Array<{ step: number; heads: Array<[number, number]> }>;
    };
    expect(log.inductionCrossed).not.toBeNull();
    const { step, layer, head } = log.inductionCrossed!;
    const at = log.heads.findIndex((p) => p.step === step);
    expect(at).toBeGreaterThan(0);
    // The first measurement at or above 0.5, for that head; the one before it below.
    expect(log.heads[at].heads[layer * config.heads + head][1]).toBeGreaterThanOrEqual(0.5);
    expect(Math.max(...log.heads[at - 1].heads.map((h) => h[1]))).toBeLessThan(0.5);
    // The log's last induction scores are the reference's on the probe, to the log's 4 decimals.
    const probe = projectProbe(config.vocabSize, config.context, EOS_ID, wordIds());
    const trace = forwardReference(config, params, probe.tokens);
    const n = probe.tokens.length;
    const last = log.heads[log.heads.length - 1].heads;
    trace.layers.forEach((layerTrace, l) => {
      for (let h = 0; h < config.heads; h++) expect(last[l * config.heads + h][1]).toBeCloseTo(inductionScore(headMap(layerTrace.weights, h, n), probe.tokens), 3);
    });
  });
});
