import { describe, expect, it } from 'vitest';
import { DEFAULT_STATE, parseState, serializeState, describeProblem } from '../../src/app/state';

/** The defaults, written out: a bad URL value falls back to these (not to whatever DEFAULT_STATE holds). */
const DEFAULTS = {
  input: 'sentence',
  text: 'The cat sat on the mat',
  seqLen: 64,
  dModel: 32,
  heads: 2,
  dHead: 16,
  causal: false,
  seed: 1,
  weights: 'random',
  head: 0,
  stage: 'weights',
  lesson: '',
  step: 1,
} as const;

describe('URL state', () => {
  it('starts from the documented defaults', () => {
    expect(DEFAULT_STATE).toEqual(DEFAULTS);
    const { state, problems } = parseState('');
    expect(problems).toEqual([]);
    expect(state).toEqual(DEFAULTS);
  });

  it('round-trips every field through the query string', () => {
    const state = { ...DEFAULT_STATE, input: 'random' as const, seqLen: 2048, dModel: 64, heads: 4, dHead: 32, causal: true, seed: 9, weights: 'identity' as const, head: -1, stage: 'masked' as const, text: 'a "quoted" text & more' };
    const query = serializeState(state);
    expect(query).toContain('seqLen=2048');
    expect(query).toContain('head=all');
    expect(query).toContain('causal=1');
    const { state: back, problems } = parseState(`?${query}`);
    expect(problems).toEqual([]);
    expect(back).toEqual(state);
  });

  it('leaves defaults out of the URL', () => {
    expect(serializeState(DEFAULT_STATE)).toBe('');
    expect(serializeState({ ...DEFAULT_STATE, seed: 2 })).toBe('seed=2');
  });

  const bad: Array<[string, string, string]> = [
    ['seqLen=-5', 'seqLen', '-5'],
    ['seqLen=0', 'seqLen', '0'],
    ['seqLen=2.5', 'seqLen', '2.5'],
    ['seqLen=abc', 'seqLen', 'abc'],
    ['seqLen=', 'seqLen', ''],
    ['seqLen=1', 'seqLen', '1'],
    ['seqLen=999999', 'seqLen', '999999'],
    ['dModel=NaN', 'dModel', 'NaN'],
    ['heads=0', 'heads', '0'],
    ['dHead=-1', 'dHead', '-1'],
    ['seed=-3', 'seed', '-3'],
    ['causal=maybe', 'causal', 'maybe'],
    ['input=video', 'input', 'video'],
    ['stage=final', 'stage', 'final'],
    ['weights=huge', 'weights', 'huge'],
    ['head=1.5', 'head', '1.5'],
  ];
  for (const [query, field, given] of bad) {
    it(`?${query} is reported, naming ${field}, and falls back to the default`, () => {
      const { state, problems } = parseState(`?${query}`);
      expect(problems).toHaveLength(1);
      expect(problems[0].field).toBe(field);
      expect(problems[0].given).toBe(given);
      expect(state[field as keyof typeof state]).toEqual(DEFAULTS[field as keyof typeof DEFAULTS]);
      expect(describeProblem(problems[0])).toContain(field);
    });
  }

  it('a head beyond the number of heads is reported and reset to 0', () => {
    const { state, problems } = parseState('?heads=2&head=5');
    expect(state.head).toBe(0);
    expect(problems.map((p) => p.field)).toEqual(['head']);
    expect(problems[0].allowed).toContain('0 to 1');
  });

  it('keeps good values when others are bad', () => {
    const { state, problems } = parseState('?seqLen=128&dModel=-1&causal=true');
    expect(state.seqLen).toBe(128);
    expect(state.causal).toBe(true);
    expect(state.dModel).toBe(32);
    expect(problems.map((p) => p.field)).toEqual(['dModel']);
  });
});
