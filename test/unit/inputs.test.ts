import { describe, expect, it } from 'vitest';
import { AttentionInputError } from '../../src/index';
import { MAX_SEQ_LEN, buildExample, scaleSentence, type Continuation } from '../../src/inputs/build';
import { embedTokens, hashToken, lessonWeights, sinusoidalPositions, tokenize } from '../../src/inputs/examples';
import { CHUNK_TOKENS, chunkSeed, corpusContinuation, prepareContinuation } from '../../src/app/continuation';
import { DEFAULT_STATE } from '../../src/app/state';
import { sampleText } from '../../src/model/corpus';
import { makeRng, makeUniform } from '../../src/reference/random';

/** A continuation whose every token says which seed and place it came from. */
const numbered: Continuation = (seed, count) => Array.from({ length: count }, (_, i) => `s${seed}w${i}`);

describe('tokenize', () => {
  it('splits words and punctuation', () => {
    expect(tokenize('I like NLP, a lot !')).toEqual(['I', 'like', 'NLP', ',', 'a', 'lot', '!']);
    expect(tokenize('The cat sat on the mat')).toEqual(['The', 'cat', 'sat', 'on', 'the', 'mat']);
    expect(tokenize('   ')).toEqual([]);
  });
});

describe('embeddings', () => {
  it('equal words embed equally without positions and differently with them', () => {
    const plain = embedTokens(['the', 'cat', 'the'], 4, false);
    expect(Array.from(plain.subarray(0, 4))).toEqual(Array.from(plain.subarray(8, 12)));
    expect(Array.from(plain.subarray(0, 4))).not.toEqual(Array.from(plain.subarray(4, 8)));
    const withPositions = embedTokens(['the', 'cat', 'the'], 4, true);
    expect(Array.from(withPositions.subarray(0, 4))).not.toEqual(Array.from(withPositions.subarray(8, 12)));
    // Each word's vector is its own seeded draw, scaled by √3 (case does not matter).
    expect(Array.from(embedTokens(['The', 'cat'], 4, false).subarray(4, 8))).toEqual(Array.from(makeUniform(makeRng(hashToken('cat')), 4, Math.sqrt(3))));
    expect(Array.from(plain.subarray(0, 4))).toEqual(Array.from(makeUniform(makeRng(hashToken('THE')), 4, Math.sqrt(3))));
  });

  it('sinusoidal positions follow sin/cos of p / 10000^(2i/d)', () => {
    const pe = sinusoidalPositions(3, 4);
    // position 2, dims 0..3: sin(2), cos(2), sin(2/100), cos(2/100) (10000^(2/4) = 100).
    expect(pe[8]).toBeCloseTo(Math.sin(2), 6);
    expect(pe[9]).toBeCloseTo(Math.cos(2), 6);
    expect(pe[10]).toBeCloseTo(Math.sin(0.02), 6);
    expect(pe[11]).toBeCloseTo(Math.cos(0.02), 6);
    expect(pe[0]).toBe(0);
    expect(pe[1]).toBe(1);
    // Longer and shorter tables after it (the rows are remembered) hold the same formula, and a
    // caller writing into its array does not change the next one.
    const longer = sinusoidalPositions(300, 4);
    expect(longer[299 * 4 + 2]).toBeCloseTo(Math.sin(2.99), 6);
    expect(Array.from(longer.subarray(0, 12))).toEqual(Array.from(pe));
    longer[8] = 42;
    expect(sinusoidalPositions(3, 4)[8]).toBeCloseTo(Math.sin(2), 6);
    expect(sinusoidalPositions(2, 6)[6 + 2]).toBeCloseTo(Math.sin(1 / 10000 ** (2 / 6)), 6);
  });
});

describe("the lessons' matrices, generalised", () => {
  it('reproduce the lesson exactly at d = 3, one head', () => {
    const w = lessonWeights(3, 1, 3);
    expect(Array.from(w.wq)).toEqual([0.5, 0, 0, 0, 0.5, 0, 0, 0, 0.5]);
    expect(Array.from(w.wk)).toEqual([0.4, 0.1, 0, 0.1, 0.4, 0, 0, 0, 0.5].map((v) => expect.closeTo(v, 7)));
    expect(Array.from(w.wv)).toEqual([0.8, 0, 0, 0, 0.8, 0, 0, 0, 0.8].map((v) => expect.closeTo(v, 7)));
  });
});

describe('buildExample', () => {
  it('builds a sentence with one token per word', () => {
    const ex = buildExample({ ...DEFAULT_STATE, input: 'sentence', text: 'The cat sat on the mat', dModel: 8, heads: 2, dHead: 4 });
    expect(ex.tokens).toEqual(['The', 'cat', 'sat', 'on', 'the', 'mat']);
    expect(ex.shape).toMatchObject({ seqLen: 6, dModel: 8, heads: 2, dHead: 4 });
    expect(ex.inputs.x.length).toBe(48);
    expect(ex.inputs.wq.length).toBe(64);
  });

  it('refuses an empty sentence and bad sizes before allocating, naming the field', () => {
    expect(() => buildExample({ ...DEFAULT_STATE, input: 'sentence', text: '  ' })).toThrow(AttentionInputError);
    for (const [field, value] of [['seqLen', -5], ['dModel', 0], ['heads', 1.5], ['dHead', Number.NaN]] as const) {
      try {
        buildExample({ ...DEFAULT_STATE, input: 'random', [field]: value });
        throw new Error('no error');
      } catch (error) {
        expect(error).toBeInstanceOf(AttentionInputError);
        expect((error as AttentionInputError).field).toBe(field);
      }
    }
  });

  it('is deterministic for a seed', () => {
    const a = buildExample({ ...DEFAULT_STATE, input: 'random', seqLen: 10, seed: 4 });
    const b = buildExample({ ...DEFAULT_STATE, input: 'random', seqLen: 10, seed: 4 });
    const c = buildExample({ ...DEFAULT_STATE, input: 'random', seqLen: 10, seed: 5 });
    expect(Array.from(a.inputs.x)).toEqual(Array.from(b.inputs.x));
    expect(Array.from(a.inputs.x)).not.toEqual(Array.from(c.inputs.x));
  });
});

describe('a sentence scales with seqLen', () => {
  it("the user's words first, a '.' closing an open sentence, then the continuation: exactly seqLen tokens", () => {
    expect(scaleSentence('The cat sat on the mat', 10, 3, numbered)).toEqual({ tokens: ['The', 'cat', 'sat', 'on', 'the', 'mat', '.', 's3w0', 's3w1', 's3w2'], userTokens: 6 });
    // Already closed: the continuation follows directly.
    expect(scaleSentence('I like NLP, a lot !', 9, 1, numbered)).toEqual({ tokens: ['I', 'like', 'NLP', ',', 'a', 'lot', '!', 's1w0', 's1w1'], userTokens: 7 });
    // Shorter than the sentence: cut, every token the user's.
    expect(scaleSentence('The cat sat on the mat', 4, 3, numbered)).toEqual({ tokens: ['The', 'cat', 'sat', 'on'], userTokens: 4 });
    // One more than the sentence: only the closing '.' is added.
    expect(scaleSentence('The cat sat on the mat', 7, 3, numbered).tokens.slice(5)).toEqual(['mat', '.']);
  });

  it('refuses a seqLen over 65536 (and under 2, or fractional), and empty text, naming the field', () => {
    for (const [seqLen, kind] of [[MAX_SEQ_LEN + 1, 'too-large'], [1, 'shape'], [2.5, 'shape']] as const) {
      try {
        scaleSentence('The cat', seqLen, 1, numbered);
        throw new Error('no error');
      } catch (error) {
        expect(error).toBeInstanceOf(AttentionInputError);
        const e = error as AttentionInputError;
        expect([e.field, e.given, e.kind]).toEqual(['seqLen', String(seqLen), kind]);
        expect(e.allowed).toContain('an integer from 2 to 65536');
      }
    }
    expect(() => buildExample({ ...DEFAULT_STATE, seqLen: 65537 }, corpusContinuation)).toThrow(/seqLen: got 65537; allowed: an integer from 2 to 65536/);
    expect(() => scaleSentence(' ', 8, 1, numbered)).toThrow(AttentionInputError);
  });

  it("the explorer's example: the corpus generator's text, deterministic by seed, one length extending another", () => {
    const example = buildExample({ ...DEFAULT_STATE, seqLen: 300, seed: 5 }, corpusContinuation);
    expect(example.shape.seqLen).toBe(300);
    expect(example.tokens).toHaveLength(300);
    expect(example.inputs.x).toHaveLength(300 * DEFAULT_STATE.dModel);
    expect(example.userTokens).toBe(6);
    expect(example.tokens.slice(0, 7)).toEqual(['The', 'cat', 'sat', 'on', 'the', 'mat', '.']);
    // The rest is the corpus generator's story for chunk 0 of seed 5, as the explorer splits it.
    expect(example.tokens.slice(7)).toEqual(tokenize(sampleText(chunkSeed(5, 0), CHUNK_TOKENS)).slice(0, 293));
    // The same seed gives the same tokens and inputs; another seed other text.
    const again = buildExample({ ...DEFAULT_STATE, seqLen: 300, seed: 5 }, corpusContinuation);
    expect(again.tokens).toEqual(example.tokens);
    expect(Array.from(again.inputs.x)).toEqual(Array.from(example.inputs.x));
    expect(buildExample({ ...DEFAULT_STATE, seqLen: 300, seed: 6 }, corpusContinuation).tokens.slice(7)).not.toEqual(example.tokens.slice(7));
    // A longer seqLen extends the same text.
    const longer = buildExample({ ...DEFAULT_STATE, seqLen: 5000, seed: 5 }, corpusContinuation);
    expect(longer.tokens.slice(0, 300)).toEqual(example.tokens);
    expect(longer.userTokens).toBe(6);
    // Without a continuation (the sentence lesson) a sentence is its own tokens, whatever seqLen says.
    expect(buildExample({ ...DEFAULT_STATE, seqLen: 300 }).tokens).toEqual(['The', 'cat', 'sat', 'on', 'the', 'mat']);
  });

  it('reaches exactly 65536 tokens; preparing in chunks gives the same tokens', async () => {
    await prepareContinuation(11, MAX_SEQ_LEN);
    const tokens = corpusContinuation(11, MAX_SEQ_LEN);
    expect(tokens).toHaveLength(MAX_SEQ_LEN);
    const chunk2 = tokenize(sampleText(chunkSeed(11, 2), CHUNK_TOKENS));
    const start = tokenize(sampleText(chunkSeed(11, 0), CHUNK_TOKENS)).length + tokenize(sampleText(chunkSeed(11, 1), CHUNK_TOKENS)).length;
    expect(tokens.slice(start, start + chunk2.length)).toEqual(chunk2);
    const { tokens: all, userTokens } = scaleSentence('The cat sat on the mat', MAX_SEQ_LEN, 11, corpusContinuation);
    expect(all).toHaveLength(MAX_SEQ_LEN);
    expect(userTokens).toBe(6);
    expect(all.slice(7)).toEqual(tokens.slice(0, MAX_SEQ_LEN - 7));
  });
});
