import { describe, expect, it } from 'vitest';
import { AttentionInputError } from '../../src/index';
import { buildExample } from '../../src/inputs/build';
import { embedTokens, lessonWeights, sinusoidalPositions, tokenize } from '../../src/inputs/examples';
import { DEFAULT_STATE } from '../../src/app/state';

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
