import { describe, expect, it } from 'vitest';
import { DEFAULT_MODEL_STATE, DEFAULT_STATE, EXPLORER_ONLY_PARAMS, defaultSeqLen, parseState, serializeState, describeProblem } from '../../src/app/state';

/** The defaults, written out: a bad URL value falls back to these (not to whatever DEFAULT_STATE holds). */
const DEFAULTS = {
  mode: 'explorer',
  input: 'sentence',
  text: 'The cat sat on the mat',
  seqLen: 6, // the sentence's own tokens: a sentence scales with seqLen, and starts at its length
  dModel: 32,
  heads: 2,
  dHead: 16,
  causal: false,
  seed: 1,
  weights: 'random',
  head: 0,
  layer: 0,
  stage: 'weights',
  lesson: '',
  step: 1,
  model: '',
  hub: '',
  qk: 'auto',
} as const;

/** The landing view's defaults: the trained model, 32 tokens, every layer × head (head = −1), a text that repeats a phrase (its induction head shows). */
const MODEL_DEFAULTS = { ...DEFAULTS, mode: 'model', seqLen: 32, head: -1, text: 'The cat sat on the mat. The dog saw a bird. The cat sat on the mat.' } as const;

describe('URL state', () => {
  it('starts from the documented defaults: an empty URL is the trained model', () => {
    expect(DEFAULT_STATE).toEqual(DEFAULTS);
    expect(DEFAULT_MODEL_STATE).toEqual(MODEL_DEFAULTS);
    const { state, problems } = parseState('');
    expect(problems).toEqual([]);
    expect(state).toEqual(MODEL_DEFAULTS);
    expect(parseState('?mode=explorer').state).toEqual(DEFAULTS);
  });

  it('round-trips every field through the query string', () => {
    const state = { ...DEFAULT_STATE, mode: 'explorer' as const, input: 'random' as const, seqLen: 2048, dModel: 64, heads: 4, dHead: 32, causal: true, seed: 9, weights: 'identity' as const, head: -1, stage: 'masked' as const, text: 'a "quoted" text & more' };
    const query = serializeState(state);
    expect(query).toContain('seqLen=2048');
    expect(query).toContain('head=all');
    expect(query).toContain('causal=1');
    const { state: back, problems } = parseState(`?${query}`);
    expect(problems).toEqual([]);
    expect(back).toEqual(state);
  });

  it('qk=1 / qk=0 open or close the Q/K panel in either mode; anything else is named and ignored', () => {
    expect(parseState('?qk=1').state.qk).toBe('on');
    expect(parseState('?mode=explorer&qk=0').state.qk).toBe('off');
    expect(parseState('').state.qk).toBe('auto');
    expect(serializeState({ ...DEFAULT_MODEL_STATE, qk: 'on' })).toBe('qk=1');
    expect(serializeState({ ...DEFAULT_STATE, qk: 'off' })).toBe('mode=explorer&qk=0');
    const { state, problems } = parseState('?qk=maybe');
    expect(state.qk).toBe('auto');
    expect(problems).toEqual([{ field: 'qk', given: 'maybe', allowed: '1 (show the Q/K panel) or 0 (hide it)' }]);
  });

  it('leaves defaults out of the URL; the explorer always names its mode', () => {
    expect(serializeState(DEFAULT_MODEL_STATE)).toBe('');
    expect(serializeState({ ...DEFAULT_MODEL_STATE, seed: 2 })).toBe('seed=2');
    expect(serializeState(DEFAULT_STATE)).toBe('mode=explorer');
    expect(serializeState({ ...DEFAULT_STATE, seed: 2 })).toBe('mode=explorer&seed=2');
  });

  it("an explorer URL without seqLen: a sentence's own length, 64 for synthetic inputs; a set length is written", () => {
    expect(defaultSeqLen('sentence', 'The cat sat on the mat')).toBe(6);
    expect(defaultSeqLen('sentence', 'I like NLP, a lot !')).toBe(7);
    expect(defaultSeqLen('sentence', 'Hi')).toBe(2); // at least 2, as every seqLen
    expect(defaultSeqLen('random', 'The cat sat on the mat')).toBe(64);
    expect(defaultSeqLen('sinusoidal', '')).toBe(64);
    expect(parseState('?mode=explorer&text=I+like+NLP%2C+a+lot+!').state.seqLen).toBe(7);
    expect(parseState('?input=random').state.seqLen).toBe(64);
    expect(parseState('?input=sinusoidal&seqLen=-5').state.seqLen).toBe(64);
    expect(parseState('?mode=explorer&seqLen=4096').state.seqLen).toBe(4096);
    // Written only when it differs from the input's own default, so old sentence URLs read back the same.
    expect(serializeState({ ...DEFAULT_STATE, text: 'I like NLP, a lot !', seqLen: 7 })).toBe('mode=explorer&text=I+like+NLP%2C+a+lot+%21');
    expect(serializeState({ ...DEFAULT_STATE, seqLen: 64 })).toBe('mode=explorer&seqLen=64');
    expect(serializeState({ ...DEFAULT_STATE, input: 'random', seqLen: 64 })).toBe('mode=explorer&input=random');
    expect(serializeState({ ...DEFAULT_STATE, input: 'random', seqLen: 6 })).toBe('mode=explorer&input=random&seqLen=6');
    for (const state of [{ ...DEFAULT_STATE, seqLen: 4096 }, { ...DEFAULT_STATE, input: 'random' as const, seqLen: 6 }, { ...DEFAULT_STATE, text: 'A longer sentence, of eight tokens .' }]) {
      expect(parseState(`?${serializeState(state)}`).state).toEqual(state);
    }
    // The model view keeps its own default (32) and is not affected.
    expect(parseState('?text=The+dog+ran').state.seqLen).toBe(32);
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
      const { state, problems } = parseState(`?mode=explorer&${query}`);
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
    // dModel is explorer-only, so this URL opens the explorer.
    const { state, problems } = parseState('?seqLen=128&dModel=-1&causal=true');
    expect(state.seqLen).toBe(128);
    expect(state.causal).toBe(true);
    expect(state.dModel).toBe(32);
    expect(problems.map((p) => p.field)).toEqual(['dModel']);
  });

  it('every explorer-only parameter opens the explorer (URLs written before model mode keep their view)', () => {
    const samples: Record<(typeof EXPLORER_ONLY_PARAMS)[number], string> = { input: 'random', dModel: '16', heads: '4', dHead: '8', causal: '1', weights: 'identity', lesson: 'cat-sat', step: '2' };
    for (const name of EXPLORER_ONLY_PARAMS) {
      const { state, problems } = parseState(`?${name}=${samples[name]}`);
      expect(state.mode, name).toBe('explorer');
      expect(problems, name).toEqual([]);
    }
    // The README's examples.
    expect(parseState('?input=random&seqLen=2048&heads=4&stage=scaled').state).toMatchObject({ mode: 'explorer', input: 'random', seqLen: 2048, heads: 4, stage: 'scaled' });
    expect(parseState('?lesson=cat-sat&step=6').state).toMatchObject({ mode: 'explorer', lesson: 'cat-sat', step: 6 });
    // Even a bad value of an explorer-only field means the explorer was meant.
    const bad = parseState('?dModel=-1');
    expect(bad.state.mode).toBe('explorer');
    expect(bad.problems.map((p) => p.field)).toEqual(['dModel']);
  });

  it('shared parameters alone (text, seqLen, seed, head, stage) open the model', () => {
    const { state, problems } = parseState('?text=The+dog+ran&seqLen=48&seed=3&head=2&layer=1&stage=scaled');
    expect(problems).toEqual([]);
    expect(state).toEqual({ ...MODEL_DEFAULTS, text: 'The dog ran', seqLen: 48, seed: 3, head: 2, layer: 1, stage: 'scaled' });
    // The model's heads are only known once it is loaded: head 7 is not checked against the explorer's 2.
    expect(parseState('?head=7').state.head).toBe(7);
  });

  it('mode= wins over the parameters, and a bad mode is reported', () => {
    expect(parseState('?mode=model&input=random').state.mode).toBe('model');
    expect(parseState('?mode=explorer&text=hi').state).toEqual({ ...DEFAULTS, text: 'hi', seqLen: 2 });
    const { state, problems } = parseState('?mode=film');
    expect(state).toEqual(MODEL_DEFAULTS);
    expect(problems).toEqual([{ field: 'mode', given: 'film', allowed: 'model or explorer' }]);
  });

  it('a bad layer is reported and falls back to 0', () => {
    for (const layer of ['-1', '1.5', 'x', '', '64']) {
      const { state, problems } = parseState(`?layer=${layer}&head=1`);
      expect(state.layer, layer).toBe(0);
      expect(state.head).toBe(1);
      expect(problems.map((p) => p.field)).toEqual(['layer']);
    }
  });

  it('model-mode URLs round-trip and never carry explorer-only fields', () => {
    const state = { ...DEFAULT_MODEL_STATE, text: 'The dog chased the cat', seqLen: 100, layer: 1, head: 3, stage: 'masked' as const, dModel: 99, input: 'random' as const };
    const query = serializeState(state);
    expect(query).toBe('text=The+dog+chased+the+cat&seqLen=100&head=3&layer=1&stage=masked');
    const back = parseState(`?${query}`);
    expect(back.problems).toEqual([]);
    expect(back.state).toEqual({ ...state, dModel: DEFAULTS.dModel, input: DEFAULTS.input });
    expect(serializeState({ ...DEFAULT_MODEL_STATE, head: -1, layer: 0 })).toBe('');
    // The explorer does not write the model's layer, model or hub.
    expect(serializeState({ ...DEFAULT_STATE, layer: 1, model: 'gpt2', hub: 'http://localhost:9/' })).toBe('mode=explorer');
  });

  it('model= and hub= name a checkpoint and where to fetch it; bad values are reported and fall back', () => {
    const { state, problems } = parseState('?model=openai-community%2Fgpt2&hub=http%3A%2F%2F127.0.0.1%3A8123');
    expect(problems).toEqual([]);
    expect(state).toEqual({ ...MODEL_DEFAULTS, model: 'openai-community/gpt2', hub: 'http://127.0.0.1:8123' });
    expect(parseState(`?${serializeState(state)}`).state).toEqual(state);
    expect(parseState('?model=https%3A%2F%2Fexample.org%2Fgpt2%2F').state.model).toBe('https://example.org/gpt2/');
    for (const bad of ['../etc', 'a/b/c', 'https://example.org/gpt2', 'x'.repeat(97), 'gpt 2']) {
      const parsed = parseState(`?model=${encodeURIComponent(bad)}`);
      expect(parsed.state.model, bad).toBe('');
      expect(parsed.problems.map((p) => p.field)).toEqual(['model']);
      expect(describeProblem(parsed.problems[0])).toMatch(/^URL value model=.*(hub id|ending in \/)/);
    }
    for (const bad of ['ftp://x', 'not a url', 'localhost:8123']) {
      const parsed = parseState(`?hub=${encodeURIComponent(bad)}`);
      expect(parsed.state.hub, bad).toBe('');
      expect(parsed.problems[0].allowed).toMatch(/http\(s\) URL/);
    }
  });
});
