/**
 * The training schedule's window sampler (src/train/schedule.ts): offsets cover the context,
 * windows and spans have the stated lengths, the mix holds, deterministic per seed, bad phases
 * refused by field.
 */
import { describe, expect, it } from 'vitest';
import { EOS_ID, wordIds } from '../../src/model/corpus-words';
import { makeRng } from '../../src/reference/random';
import { SPAN_WINDOW, checkPhase, generateSpanWindow, phaseAt, sampleWindows, spanPieces, type Phase } from '../../src/train/schedule';

const CONTEXT = 128;
const induction: Phase = { name: 'induction', fromStep: 0, batch: 8, length: 32, randomOffsets: true, mix: { spans: 0.6, alternation: 0.1, repeats: 0 } };
const context: Phase = { name: 'context', fromStep: 100, batch: 8, length: 128, randomOffsets: false, mix: { spans: 0, alternation: 0.2, repeats: 0.3 } };
/** A corpus stream whose every token says where it came from (id = position mod 331). */
const stream = Uint16Array.from({ length: 10_000 }, (_, i) => i % 331);

describe('generateSpanWindow', () => {
  it('has the length asked, <eos> first, words from the pool; spans of 4–15 and gaps of 0–8, each span repeated', () => {
    const pool = new Set(wordIds());
    const spanLengths = new Set<number>();
    const gapLengths = new Set<number>();
    for (let n = 0; n < 300; n++) {
      const pieces = spanPieces(makeRng(1000 + n), 33);
      const ids = generateSpanWindow(makeRng(1000 + n), 33);
      expect(ids).toHaveLength(33);
      expect(ids[0]).toBe(EOS_ID);
      expect(ids.slice(1).every((id) => pool.has(id))).toBe(true);
      // The window is the pieces laid out: span, gap, span again, until 33 ids.
      let at = 1;
      for (const { span, gap } of pieces) {
        expect(span.length).toBeGreaterThanOrEqual(SPAN_WINDOW.span.min);
        expect(span.length).toBeLessThanOrEqual(SPAN_WINDOW.span.max);
        expect(gap.length).toBeGreaterThanOrEqual(SPAN_WINDOW.gap.min);
        expect(gap.length).toBeLessThanOrEqual(SPAN_WINDOW.gap.max);
        spanLengths.add(span.length);
        gapLengths.add(gap.length);
        const laid = [...span, ...gap, ...span];
        expect(ids.slice(at, at + laid.length)).toEqual(laid.slice(0, Math.max(0, 33 - at)));
        at += laid.length;
      }
      // Just enough pieces: the last one reaches the window's end, the one before does not.
      expect(at).toBeGreaterThanOrEqual(33);
      expect(at - (2 * pieces[pieces.length - 1].span.length + pieces[pieces.length - 1].gap.length)).toBeLessThan(33);
    }
    // Every stated length occurs.
    expect([...spanLengths].sort((a, b) => a - b)).toEqual([4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
    expect([...gapLengths].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('is deterministic per seed and refuses a bad length', () => {
    expect(generateSpanWindow(makeRng(3), 40)).toEqual(generateSpanWindow(makeRng(3), 40));
    expect(generateSpanWindow(makeRng(3), 40)).not.toEqual(generateSpanWindow(makeRng(4), 40));
    expect(() => generateSpanWindow(makeRng(1), 0)).toThrow(/length.*0.*integer ≥ 1/);
    expect(() => generateSpanWindow(makeRng(1), 2.5)).toThrow(/length/);
  });
});

describe('sampleWindows', () => {
  it('induction phase: 8 windows of 33 ids, first positions uniform over 0…96 (all reached), kinds in the mix', () => {
    const rng = makeRng(11);
    const seen = new Uint32Array(CONTEXT - induction.length + 1);
    const kinds = { spans: 0, alternation: 0, repeats: 0, corpus: 0 };
    const steps = 600;
    for (let s = 0; s < steps; s++) {
      const w = sampleWindows(rng, stream, induction, CONTEXT);
      expect(w.tokens).toHaveLength(8 * 33);
      expect(w.offsets).toHaveLength(8);
      for (const o of w.offsets) {
        expect(o).toBeGreaterThanOrEqual(0);
        expect(o).toBeLessThanOrEqual(CONTEXT - induction.length);
        seen[o]++;
      }
      w.kinds.forEach((k, b) => {
        kinds[k]++;
        if (k === 'corpus') {
          // A contiguous stretch of the stream.
          const row = Array.from(w.tokens.subarray(b * 33, (b + 1) * 33));
          for (let t = 1; t < 33; t++) expect((row[t] - row[t - 1] + 331) % 331).toBe(1);
        }
      });
    }
    // Every first position 0…96 is drawn, evenly: 4800 draws over 97 positions ≈ 49 each.
    expect(Math.min(...seen)).toBeGreaterThan(20);
    expect(Math.max(...seen)).toBeLessThan(85);
    const n = steps * 8;
    expect(kinds.spans / n).toBeCloseTo(0.6, 1);
    expect(kinds.alternation / n).toBeCloseTo(0.1, 1);
    expect(kinds.repeats).toBe(0);
    expect(kinds.corpus / n).toBeCloseTo(0.3, 1);
  });

  it('context phase: full windows at position 0', () => {
    const w = sampleWindows(makeRng(2), stream, context, CONTEXT);
    expect(w.tokens).toHaveLength(8 * 129);
    expect(Array.from(w.offsets)).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(w.kinds.every((k) => k !== 'spans')).toBe(true);
  });

  it('is deterministic per seed', () => {
    const a = sampleWindows(makeRng(5), stream, induction, CONTEXT);
    const b = sampleWindows(makeRng(5), stream, induction, CONTEXT);
    expect(Array.from(b.tokens)).toEqual(Array.from(a.tokens));
    expect(Array.from(b.offsets)).toEqual(Array.from(a.offsets));
    expect(b.kinds).toEqual(a.kinds);
    expect(Array.from(sampleWindows(makeRng(6), stream, induction, CONTEXT).tokens)).not.toEqual(Array.from(a.tokens));
  });

  it('phaseAt picks the last phase started; bad phases are refused by field', () => {
    expect(phaseAt([induction, context], 0).name).toBe('induction');
    expect(phaseAt([induction, context], 99).name).toBe('induction');
    expect(phaseAt([induction, context], 100).name).toBe('context');
    expect(() => checkPhase({ ...induction, length: 129 }, CONTEXT)).toThrow(/phase\.length.*129.*from 1 to 128/);
    expect(() => checkPhase({ ...induction, batch: 0 }, CONTEXT)).toThrow(/phase\.batch/);
    expect(() => checkPhase({ ...induction, mix: { spans: 0.8, alternation: 0.3, repeats: 0 } }, CONTEXT)).toThrow(/phase\.mix.*1\.1.*at most 1/);
    expect(() => checkPhase({ ...induction, mix: { spans: Number.NaN, alternation: 0, repeats: 0 } }, CONTEXT)).toThrow(/phase\.mix\.spans.*NaN/);
    expect(() => sampleWindows(makeRng(1), stream.subarray(0, 20), induction, CONTEXT)).toThrow(/stream.*length 20/);
  });
});
