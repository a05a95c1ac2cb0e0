// Model mode's pure logic (src/app/model-input.ts, head-scores.ts, model-view.ts and src/verify/model.ts): what the model reads for a text and seqLen, the
// top-5 predictions of a logits row, the head scores and labels on hand-built maps, the layers ×
// heads grid, and the per-layer check against the reference. Expected values are computed by
// hand here (or by an independent route: splitWords of the corpus text, not encode).
import { describe, expect, it } from 'vitest';
import { inductionSummary, measureHeads, measureHeadsFromPairs, textScorePairs, type HeadReport } from '../../src/app/head-scores';
import { ContextLimitError, describeUnknownWords, editDistance, modelInput, seqLenForText, suggestWords } from '../../src/app/model-input';
import { combineLayers, gridCell, gridTitle, headName, topPredictions } from '../../src/app/model-view';
import { verifyModel, type LayerArrays } from '../../src/verify/model';
import { AttentionInputError } from '../../src/core/errors';
import { sampleText } from '../../src/model/corpus';
import { makeCorpusVocabulary } from '../../src/model/corpus-words';
import { UnknownWordsError, splitWords } from '../../src/model/vocab';

const vocab = makeCorpusVocabulary();
const CONTEXT = 128;

describe('what the model reads', () => {
  it('puts <eos> first, then the sentence, a period, and corpus sentences up to seqLen', () => {
    const input = modelInput('The cat sat on the mat', 32, 1, vocab, CONTEXT);
    expect(input.ids).toHaveLength(32);
    expect(input.words.slice(0, 8)).toEqual(['<eos>', 'the', 'cat', 'sat', 'on', 'the', 'mat', '.']);
    expect(input.words.slice(8)).toEqual(splitWords(sampleText(1, CONTEXT)).slice(0, 24));
    expect(input.ids[0]).toBe(0);
    expect(input.ids.map((id) => vocab.tokens[id])).toEqual(input.words);
    expect(input).toMatchObject({ textTokens: 6, extended: 25, cut: false });
  });

  it('a longer seqLen extends the same text; a shorter one cuts it', () => {
    const short = modelInput('The cat sat on the mat', 32, 1, vocab, CONTEXT);
    const long = modelInput('The cat sat on the mat', 100, 1, vocab, CONTEXT);
    expect(long.ids).toHaveLength(100);
    expect(long.ids.slice(0, 32)).toEqual(short.ids);
    const cut = modelInput('The cat sat on the mat', 4, 1, vocab, CONTEXT);
    expect(cut.words).toEqual(['<eos>', 'the', 'cat', 'sat']);
    expect(cut.cut).toBe(true);
    // A text that already ends a sentence gets no second period; another seed other sentences.
    const closed = modelInput('The dog ran .', 8, 1, vocab, CONTEXT);
    expect(closed.words.slice(0, 6)).toEqual(['<eos>', 'the', 'dog', 'ran', '.', splitWords(sampleText(1, CONTEXT))[0]]);
    expect(modelInput('The cat', 40, 2, vocab, CONTEXT).words.slice(4)).toEqual(splitWords(sampleText(2, CONTEXT)).slice(0, 36));
  });

  it('reads case-insensitively, exactly the full context at most', () => {
    expect(modelInput('THE Cat SAT', 4, 1, vocab, CONTEXT).words).toEqual(['<eos>', 'the', 'cat', 'sat']);
    expect(modelInput('the cat', CONTEXT, 1, vocab, CONTEXT).ids).toHaveLength(CONTEXT);
  });

  it('refuses a seqLen above the context with ContextLimitError, and below 2', () => {
    const error = (() => {
      try {
        modelInput('the cat', 129, 1, vocab, CONTEXT);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ContextLimitError);
    expect((error as ContextLimitError).field).toBe('seqLen');
    expect((error as ContextLimitError).allowed).toContain('at most 128 tokens');
    for (const bad of [1, 0, 2.5, Number.NaN]) expect(() => modelInput('the cat', bad, 1, vocab, CONTEXT), String(bad)).toThrow(AttentionInputError);
  });

  it('names every unknown word, suggests close known words, and says what is allowed', () => {
    let caught: unknown;
    try {
      modelInput('The kat sat on the zebra mat', 32, 1, vocab, CONTEXT);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(UnknownWordsError);
    expect((caught as UnknownWordsError).words).toEqual(['kat', 'zebra']);
    const text = describeUnknownWords(caught as UnknownWordsError, vocab);
    expect(text).toContain('"kat" (did you mean');
    expect(text).toMatch(/"kat" \(did you mean [^)]*\bcat\b/);
    expect(text).toContain('"zebra"');
    expect(text).toContain(`${vocab.tokens.length}-token vocabulary`);
  });

  it('refuses empty text and text longer than the context', () => {
    for (const empty of ['', '   ']) {
      expect(() => modelInput(empty, 32, 1, vocab, CONTEXT)).toThrow(/text/);
    }
    const long = Array.from({ length: 128 }, () => 'the').join(' ');
    expect(() => modelInput(long, 32, 1, vocab, CONTEXT)).toThrow(/at most 127 tokens/);
    expect(() => modelInput(Array.from({ length: 127 }, () => 'the').join(' '), 128, 1, vocab, CONTEXT)).not.toThrow();
  });

  it('seqLenForText grows seqLen to show the whole text, within the context', () => {
    expect(seqLenForText(6, 32, 128)).toBe(32);
    expect(seqLenForText(40, 32, 128)).toBe(41);
    expect(seqLenForText(200, 32, 128)).toBe(128);
  });

  it('edit distance and suggestions', () => {
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('cat', 'cat')).toBe(0);
    expect(editDistance('mta', 'mat')).toBe(1); // a swap of neighbours counts once
    expect(suggestWords('mta', vocab)[0]).toBe('mat');
    expect(suggestWords('dgo', vocab)).toContain('dog');
    expect(suggestWords('xqzwv', vocab)).toEqual([]);
  });
});

describe('top-5 next-token predictions', () => {
  it('is the softmax of the row, largest first (hand-computed)', () => {
    const tokens = ['a', 'b', 'c', 'd', 'e', 'f'];
    // Row 1 = ln of (1, 2, 3, 4, 0.5, 0.25): probabilities are those over their sum 10.75.
    const row1 = [1, 2, 3, 4, 0.5, 0.25].map(Math.log);
    const logits = [...[9, 9, 9, 9, 9, 9], ...row1.map((x) => x + 100)];
    const top = topPredictions(logits, 1, tokens);
    expect(top.map((p) => p.token)).toEqual(['d', 'c', 'b', 'a', 'e']);
    const expected = [4, 3, 2, 1, 0.5].map((x) => x / 10.75);
    top.forEach((p, i) => expect(p.probability).toBeCloseTo(expected[i], 12));
    expect(top[0].id).toBe(3);
    // Row 0 is uniform: 1/6 each, ties in id order.
    const uniform = topPredictions(logits, 0, tokens, 3);
    expect(uniform.map((p) => p.token)).toEqual(['a', 'b', 'c']);
    for (const p of uniform) expect(p.probability).toBeCloseTo(1 / 6, 12);
    expect(() => topPredictions(logits, 2, tokens)).toThrow(/row/);
  });
});

describe('head scores and labels from the maps', () => {
  // T = 3 text tokens; head 0 looks at the previous token (query 0 at itself), head 1 is uniform.
  const prev = [1, 0, 0, 1, 0, 0, 0, 1, 0];
  const uniform = [1, 0, 0, 0.5, 0.5, 0, 1 / 3, 1 / 3, 1 / 3];
  // Probe [eos, 5, 6, 5, 6]: queries 3 and 4 have earlier copies; the induction targets are keys 2 and 3.
  const probeIds = [0, 5, 6, 5, 6];
  const P = 5;
  const induction = new Array(P * P).fill(0);
  for (let i = 0; i < P; i++) induction[i * P] = 1;
  induction[3 * P] = 0;
  induction[3 * P + 2] = 1;
  induction[4 * P] = 0;
  induction[4 * P + 3] = 1;
  const none = new Array(P * P).fill(0);
  for (let i = 0; i < P; i++) none[i * P] = 1;

  it('previous-token, first-token and entropy from the text; induction from the probe', () => {
    const reports = measureHeads([[...prev, ...uniform]], [0, 7, 8], [[...induction, ...none]], probeIds, 2);
    expect(reports).toHaveLength(2);
    const [h0, h1] = reports;
    expect(h0).toMatchObject({ layer: 0, head: 0 });
    expect(h0.scores.previousToken).toBe(1);
    expect(h0.scores.firstToken).toBe(0.5);
    expect(h0.scores.entropy).toBe(0);
    expect(h0.scores.induction).toBe(1);
    // Its probe rows 3 and 4 sit on the induction keys, not on the earlier copies (keys 1 and 2).
    expect(h0.scores.duplicateToken).toBe(0);
    expect(h0.labels).toEqual(['previous-token 1.00', 'induction 1.00', 'first-token 0.50']);
    // Uniform causal rows: previous = first = (1/2 + 1/3)/2; entropy = (0 + ln 2 + ln 3)/3.
    expect(h1.scores.previousToken).toBeCloseTo(5 / 12, 12);
    expect(h1.scores.firstToken).toBeCloseTo(5 / 12, 12);
    expect(h1.scores.entropy).toBeCloseTo((Math.log(2) + Math.log(3)) / 3, 12);
    expect(h1.scores.induction).toBe(0);
    expect(h1.labels).toEqual(['previous-token 0.42', 'first-token 0.42']);
    expect(gridTitle(h1)).toBe('L0 H1\nprevious-token 0.42');
    // A gallery past 32 heads keeps the titles of heads with a pattern; the rest name rows and columns.
    expect(gridTitle(h1, 144)).toBe('L0 H1\nprevious-token 0.42');
    const plain = (layer: number, head: number): HeadReport => ({ layer, head, scores: h1.scores, labels: ['entropy 2.10 nats'] });
    expect([gridTitle(plain(0, 0), 144), gridTitle(plain(5, 0), 144), gridTitle(plain(0, 7), 144), gridTitle(plain(5, 7), 144)]).toEqual(['L0', 'L5', 'H7', '']);
    expect(gridTitle(plain(5, 7), 32)).toBe('L5 H7\nentropy 2.10 nats');
  });

  it('a run without maps: previous-token and first-token from its weights at textScorePairs, the rest from the probe', () => {
    expect(textScorePairs(1)).toEqual([]);
    expect(textScorePairs(2)).toEqual([[1, 0]]);
    expect(textScorePairs(4)).toEqual([[1, 0], [2, 1], [2, 0], [3, 2], [3, 0]]);
    // The entries of the maps above at the pairs (1, 0), (2, 1), (2, 0), head by head, as the GPU returns them.
    const at = (map: number[]) => textScorePairs(3).map(([i, j]) => map[i * 3 + j]);
    const reports = measureHeadsFromPairs([[...at(prev), ...at(uniform)]], 3, [[...induction, ...none]], probeIds, 2);
    const fromMaps = measureHeads([[...prev, ...uniform]], [0, 7, 8], [[...induction, ...none]], probeIds, 2);
    expect(reports.map((r) => [r.scores.previousToken, r.scores.firstToken, r.scores.induction, r.scores.duplicateToken])).toEqual(
      fromMaps.map((r) => [r.scores.previousToken, r.scores.firstToken, r.scores.induction, r.scores.duplicateToken]),
    );
    // Entropy is the probe's here (head 0's probe rows each put all weight on one key: 0).
    expect(reports[0].scores.entropy).toBe(0);
    expect(reports[0].labels).toEqual(['previous-token 1.00', 'induction 1.00', 'first-token 0.50']);
    // A longer text: head "sink" puts 0.6 on the first token and 0.4 on the previous one.
    const T = 50;
    const pairs = textScorePairs(T);
    const sink = pairs.map(([i, j]) => (i === 1 ? 1 : j === 0 ? 0.6 : 0.4));
    const [r] = measureHeadsFromPairs([sink], T, [none], probeIds, 1);
    expect(r.scores.firstToken).toBeCloseTo((1 + 48 * 0.6) / 49, 12);
    expect(r.scores.previousToken).toBeCloseTo((1 + 48 * 0.4) / 49, 12);
    // With the run's row entropies the entropy is theirs, averaged over every row (as meanEntropy).
    const rows = Float32Array.from({ length: T }, (_, i) => Math.log(i + 1));
    const [withEntropy] = measureHeadsFromPairs([sink], T, [none], probeIds, 1, [rows]);
    expect(withEntropy.scores.entropy).toBeCloseTo(rows.reduce((a, b) => a + b, 0) / T, 5);
    expect(() => measureHeadsFromPairs([sink], T, [none], probeIds, 1, [rows.subarray(1)])).toThrow(/rowEntropy\[0\]: got length 49; allowed: heads × T = 50/);
    expect(() => measureHeadsFromPairs([sink.slice(1)], T, [none], probeIds, 1)).toThrow(/pairWeights\[0\]: got length 96; allowed: heads × \(2T − 3\) = 97/);
  });

  it('summarises the best induction score against the label threshold', () => {
    const report = (induction: number): HeadReport => ({ layer: 0, head: 0, scores: { previousToken: 0, induction, duplicateToken: 0, firstToken: 0, entropy: 0 }, labels: [] });
    expect(inductionSummary([report(0.03), report(0.1), report(NaN)])).toEqual({ best: 0.1, threshold: 0.4, found: false });
    expect(inductionSummary([report(0.1), report(0.4)])).toEqual({ best: 0.4, threshold: 0.4, found: true });
    const none = inductionSummary([report(NaN)]);
    expect(none.best).toBeNaN();
    expect(none.found).toBe(false);
  });

  it('a head below every threshold is labelled by its entropy', () => {
    // Row 2 spread over keys 0..2 as 0.1/0.3/0.6; row 1 0.7/0.3: previous = (0.7+0.3)/2 = 0.5 → labelled; make it lower:
    const spread = [1, 0, 0, 0.65, 0.35, 0, 0.3, 0.3, 0.4];
    const [r] = measureHeads([spread], [0, 7, 8], [none], probeIds, 1);
    expect(r.scores.previousToken).toBeCloseTo((0.65 + 0.3) / 2, 12); // 0.475: previous-token
    const flat = [1, 0, 0, 0.35, 0.3, 0.35, 0.35, 0.3, 0.35]; // not causal, but the arithmetic is what counts
    const [f] = measureHeads([flat], [0, 7, 8], [none], probeIds, 1);
    const entropy = (0 + 2 * -(0.35 * Math.log(0.35)) * 2 - 2 * 0.3 * Math.log(0.3)) / 3;
    expect(f.scores.entropy).toBeCloseTo(entropy, 12);
    expect(f.labels).toEqual([`entropy ${entropy.toFixed(2)} nats`]);
  });
});

describe('the model view grid', () => {
  it('surface i is layer ⌊i/H⌋, head i mod H; names are 0-based', () => {
    expect(gridCell(0, 4)).toEqual({ layer: 0, head: 0 });
    expect(gridCell(3, 4)).toEqual({ layer: 0, head: 3 });
    expect(gridCell(6, 4)).toEqual({ layer: 1, head: 2 });
    expect(headName(1, 2)).toBe('L1 H2');
  });

  it('combines layers into one attention of L·H heads', () => {
    // T = 2, d = 2; layer l's values are 100·l + index so every position is distinguishable.
    const layer = (l: number): LayerArrays => ({
      q: [0, 1, 2, 3].map((x) => 100 * l + x),
      k: [10, 11, 12, 13].map((x) => 100 * l + x),
      v: [20, 21, 22, 23].map((x) => 100 * l + x),
      scores: [30, 31, 32, 33].map((x) => 100 * l + x),
      weights: [40, 41, 42, 43].map((x) => 100 * l + x),
      attn: [50, 51, 52, 53].map((x) => 100 * l + x),
    });
    const c = combineLayers([layer(0), layer(1)], 2, 2);
    expect(Array.from(c.q)).toEqual([0, 1, 100, 101, 2, 3, 102, 103]);
    expect(Array.from(c.k)).toEqual([10, 11, 110, 111, 12, 13, 112, 113]);
    expect(Array.from(c.output)).toEqual([50, 51, 150, 151, 52, 53, 152, 153]);
    expect(Array.from(c.scores)).toEqual([30, 31, 32, 33, 130, 131, 132, 133]);
    expect(Array.from(c.weights)).toEqual([40, 41, 42, 43, 140, 141, 142, 143]);
  });
});

describe('the per-layer check', () => {
  const layer = (): LayerArrays => ({ q: [1, 2], k: [3, 4], v: [5, 6], scores: [0.5, -Infinity], weights: [1, 0], attn: [7, 8] });
  it('passes equal arrays and fails exactly the row that differs beyond its tolerance', () => {
    const reference = { layers: [layer(), layer()], logits: [1, 2, 3] };
    const same = verifyModel({ layers: [layer(), layer()], logits: [1, 2, 3] }, reference);
    expect(same.pass).toBe(true);
    expect(same.rows.map((r) => `${r.layer}:${r.name}`)).toEqual([
      '0:q', '0:k', '0:v', '0:scores', '0:weights', '0:attn', '1:q', '1:k', '1:v', '1:scores', '1:weights', '1:attn', 'null:logits',
    ]);
    const off = layer();
    off.weights = [1 - 2e-3, 0]; // tolerance at 1: 2e-5 + 1e-3·1
    const bad = verifyModel({ layers: [layer(), off], logits: [1, 2, 3.00005] }, reference);
    expect(bad.pass).toBe(false);
    expect(bad.rows.filter((r) => !r.comparison.pass).map((r) => `${r.layer}:${r.name}`)).toEqual(['1:weights']);
    expect(bad.rows.find((r) => r.name === 'logits')!.comparison.maxAbsErr).toBeCloseTo(5e-5, 9);
  });
});
