import { describe, expect, it } from 'vitest';
import { DEFAULT_STATE, parseState, serializeState, describeProblem } from '../../src/state';

describe('URL state', () => {
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
      expect(state[field as keyof typeof state]).toEqual(DEFAULT_STATE[field as keyof typeof DEFAULT_STATE]);
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
    expect(state.dModel).toBe(DEFAULT_STATE.dModel);
    expect(problems.map((p) => p.field)).toEqual(['dModel']);
  });
});
