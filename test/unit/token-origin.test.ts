/**
 * The user's own words against continued text (src/scene/token-origin.ts): which tokens are
 * whose, the label style each gets, the axis ticks that carry it, and the spans the app's
 * builders (src/app/sources.ts) hand to the scene and to hover for an explorer sentence continued
 * to seqLen and for the model's `<eos>` + sentence + corpus text.
 */
import { describe, expect, it } from 'vitest';
import { resolveShape } from '../../src/index';
import { explorerSource, explorerUserTokens, modelSource, modelUserTokens, type ModelSourceRun } from '../../src/app/sources';
import { axisTicks, MAX_TOKEN_LABELS } from '../../src/scene/labels';
import { CONTINUED_STYLE, YOURS_STYLE, tokenLabelStyle, tokenOrigin } from '../../src/scene/token-origin';

describe('tokenOrigin', () => {
  it("the span's tokens are yours, later ones continued; before the span, past the end or without a span: nothing", () => {
    const user = { from: 1, to: 4 };
    expect([0, 1, 2, 3, 4, 5, 6].map((i) => tokenOrigin(i, user, 6))).toEqual([null, 'yours', 'yours', 'yours', 'continued', 'continued', null]);
    expect(tokenOrigin(0, { from: 0, to: 2 }, 5)).toBe('yours');
    expect(tokenOrigin(2, null, 5)).toBeNull();
    expect(tokenOrigin(2, undefined, 5)).toBeNull();
  });
});

describe('tokenLabelStyle', () => {
  it('your words bold in the accent shade, continued text dimmer, unmarked tokens in the default style', () => {
    expect(tokenLabelStyle('yours')).toEqual({ bold: true, color: YOURS_STYLE.color });
    expect(tokenLabelStyle('continued')).toEqual({ color: CONTINUED_STYLE.color });
    expect(tokenLabelStyle(null)).toEqual({});
    expect(tokenLabelStyle(undefined)).toEqual({});
    expect(YOURS_STYLE.color).not.toBe(CONTINUED_STYLE.color);
    // A fresh object each time: callers spread it into a label's style.
    expect(tokenLabelStyle('yours')).not.toBe(tokenLabelStyle('yours'));
  });
});

describe('axisTicks with the user’s words', () => {
  it('marks each token label by origin, leaves index ticks and unspanned labels unmarked', () => {
    const tokens = ['The', 'cat', 'sat', '.', 'a', 'dog'];
    expect(axisTicks(6, tokens, 8, { from: 0, to: 3 }).map((t) => [t.text, t.origin])).toEqual([
      ['The', 'yours'],
      ['cat', 'yours'],
      ['sat', 'yours'],
      ['.', 'continued'],
      ['a', 'continued'],
      ['dog', 'continued'],
    ]);
    expect(axisTicks(6, tokens).every((t) => !('origin' in t))).toBe(true);
    // Too many tokens for word labels: indices, with no marking.
    const long = Array.from({ length: MAX_TOKEN_LABELS + 1 }, (_, i) => `w${i}`);
    expect(axisTicks(long.length, long, 8, { from: 0, to: 3 }).every((t) => !('origin' in t))).toBe(true);
  });
});

describe('the spans the app builds', () => {
  it('explorer: the first userTokens tokens when the sentence was continued; null when nothing was', () => {
    const tokens = ['The', 'cat', 'sat', '.', 'a', 'dog'];
    expect(explorerUserTokens({ tokens, userTokens: 3 })).toEqual({ from: 0, to: 3 });
    expect(explorerUserTokens({ tokens, userTokens: 6 })).toBeNull(); // the words alone (or a lesson's sentence)
    expect(explorerUserTokens({ tokens })).toBeNull(); // random or sinusoidal inputs
  });

  it('model: the textTokens after <eos> when corpus text follows; null when the sentence fills or was cut to seqLen', () => {
    expect(modelUserTokens({ ids: [0, 5, 6, 7, 1, 9], textTokens: 3 })).toEqual({ from: 1, to: 4 });
    expect(modelUserTokens({ ids: [0, 5, 6, 7], textTokens: 3 })).toBeNull();
    expect(modelUserTokens({ ids: [0, 5, 6], textTokens: 5 })).toBeNull(); // cut
    expect(modelUserTokens({ ids: [0, 5, 6] })).toBeNull();
  });

  it('every head of an explorer or model source carries the span to the labels', () => {
    const shape = resolveShape({ seqLen: 4, dModel: 4, heads: 2, dHead: 2, causal: false });
    const map = new Float32Array(2 * 16);
    const labels = { tokens: ['a', 'b', 'c', 'd'], keyTokens: ['a', 'b', 'c', 'd'], userTokens: { from: 0, to: 2 } };
    const explorer = explorerSource(shape, labels, { cpu: { q: new Float32Array(16), k: new Float32Array(16), scores: map, weights: map } });
    expect(explorer.heads.map((h) => h.userTokens)).toEqual([{ from: 0, to: 2 }, { from: 0, to: 2 }]);
    const plain = explorerSource(shape, { ...labels, userTokens: null }, { grid: { weights: map, rows: 4, cols: 4, mode: 'max' } });
    expect(plain.heads.every((h) => !('userTokens' in h))).toBe(true);

    const T = 4;
    const layer = { q: new Float32Array(T * 4), k: new Float32Array(T * 4), scores: new Float32Array(2 * T * T), weights: new Float32Array(2 * T * T) };
    const run: ModelSourceRun = { model: { config: { layers: 1, heads: 2, dModel: 4 } }, input: { ids: [0, 5, 1, 7], words: ['<eos>', 'cat', '.', 'dog'], textTokens: 1 }, layers: [layer], buffers: null, heads: [] };
    expect(modelSource(run, { layer: 0, head: -1 }).heads.map((h) => h.userTokens)).toEqual([{ from: 1, to: 2 }, { from: 1, to: 2 }]);
  });
});
