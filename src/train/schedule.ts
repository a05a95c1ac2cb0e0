/**
 * The training schedule's windows: which token windows a step trains on, where in the context
 * each one sits, and what it is made of.
 *
 * A phase trains `batch` windows of `length` tokens (each `length + 1` ids: position t predicts
 * t + 1). With `randomOffsets` each window's first token is read at a position drawn uniformly
 * from 0 … context − length, so short windows still train every learned position (without it
 * every window starts at position 0). Each window is, by the phase's `mix`:
 *   - 'spans': repeated random spans: a span of SPAN_WINDOW.span random words, a gap of
 *     SPAN_WINDOW.gap random words, the span again, and so on to the window's end: inside a
 *     span's second copy every word is predicted by an induction head;
 *   - 'alternation' and 'repeats': the drills of src/model/drills.ts;
 *   - 'corpus': a stretch of the corpus's training stream at a random place (the rest).
 * Why short windows at random offsets: the induction head's plateau grows with the context a
 * step trains on (see README, "The trained model"); 32-token windows switch it on within a few
 * million tokens where 128-token windows of the same tokens per step never do.
 *
 * Deterministic: the same rng state gives the same windows. Pure TypeScript (runs in Node).
 */
import { AttentionInputError } from '../core/errors';
import { EOS_ID, wordIds } from '../model/corpus-words';
import { generateDrill } from '../model/drills';
import type { Rng } from '../reference/random';

/** What a window is made of. */
export type WindowKind = 'spans' | 'alternation' | 'repeats' | 'corpus';

/** Span and gap lengths (inclusive) of the 'spans' windows. */
export const SPAN_WINDOW = { span: { min: 4, max: 15 }, gap: { min: 0, max: 8 } } as const;

/** One phase of the schedule. */
export interface Phase {
  /** A name for the log ('induction', 'context'). */
  name: string;
  /** The first step of this phase (phases are listed in order; the first starts at 0). */
  fromStep: number;
  /** Windows per step. */
  batch: number;
  /** Tokens per window (predictions per window), ≤ context. */
  length: number;
  /** Draw each window's first position from 0 … context − length (else 0). */
  randomOffsets: boolean;
  /** Shares of windows by kind, each in [0, 1], summing to at most 1; the rest are corpus windows. */
  mix: { spans: number; alternation: number; repeats: number };
}

/** A step's windows. */
export interface Windows {
  /** batch × (length + 1) ids. */
  tokens: Int32Array;
  /** batch first positions. */
  offsets: Int32Array;
  kinds: WindowKind[];
}

/** One piece of a spans window: a span of random words, a gap of random words, the span again. */
export interface SpanPiece {
  span: number[];
  gap: number[];
}

/**
 * The pieces of a spans window of `length` ids (`<eos>` first, like a document and the drills):
 * span lengths SPAN_WINDOW.span, gaps SPAN_WINDOW.gap, drawn until the window is full (the last
 * piece is cut by the window's end). {@link generateSpanWindow} flattens them.
 */
export function spanPieces(rng: Rng, length: number): SpanPiece[] {
  if (!Number.isInteger(length) || length < 1) throw new AttentionInputError('length', String(length), 'an integer ≥ 1', 'shape');
  const pool = wordIds();
  const word = () => pool[Math.floor(rng() * pool.length)];
  const between = (range: { min: number; max: number }) => range.min + Math.floor(rng() * (range.max - range.min + 1));
  const pieces: SpanPiece[] = [];
  let filled = 1;
  while (filled < length) {
    const span = Array.from({ length: between(SPAN_WINDOW.span) }, word);
    const gap = Array.from({ length: between(SPAN_WINDOW.gap) }, word);
    pieces.push({ span, gap });
    filled += 2 * span.length + gap.length;
  }
  return pieces;
}

/** `length` ids of repeated random spans: `<eos>`, then each piece's span, gap and span again, cut at `length`. */
export function generateSpanWindow(rng: Rng, length: number): number[] {
  const ids = [EOS_ID];
  for (const { span, gap } of spanPieces(rng, length)) ids.push(...span, ...gap, ...span);
  return ids.slice(0, length);
}

/** Throws {@link AttentionInputError} naming the field when a phase cannot be trained with this context. */
export function checkPhase(phase: Phase, context: number, field = 'phase'): void {
  const int = (name: keyof Phase, value: number, min: number, max: number) => {
    if (!Number.isInteger(value) || value < min || value > max) throw new AttentionInputError(`${field}.${name}`, String(value), `an integer from ${min} to ${max}`, 'shape');
  };
  int('batch', phase.batch, 1, 1 << 16);
  int('length', phase.length, 1, context);
  int('fromStep', phase.fromStep, 0, Number.MAX_SAFE_INTEGER);
  let sum = 0;
  for (const kind of ['spans', 'alternation', 'repeats'] as const) {
    const share = phase.mix[kind];
    if (!(share >= 0 && share <= 1)) throw new AttentionInputError(`${field}.mix.${kind}`, String(share), 'a share from 0 to 1', 'shape');
    sum += share;
  }
  if (sum > 1 + 1e-12) throw new AttentionInputError(`${field}.mix`, `shares summing to ${sum}`, 'shares summing to at most 1 (the rest are corpus windows)', 'shape');
}

/**
 * One step's windows for `phase`: kinds drawn by the mix, contents by kind, and (with
 * randomOffsets) first positions uniform over 0 … context − length. `stream` is the corpus's
 * training stream (longer than length + 1).
 */
export function sampleWindows(rng: Rng, stream: ArrayLike<number>, phase: Phase, context: number): Windows {
  checkPhase(phase, context);
  const { batch, length, mix } = phase;
  if (stream.length <= length + 1) throw new AttentionInputError('stream', `length ${stream.length}`, `more than ${length + 1} tokens`, 'length');
  const tokens = new Int32Array(batch * (length + 1));
  const offsets = new Int32Array(batch);
  const kinds: WindowKind[] = [];
  for (let b = 0; b < batch; b++) {
    const u = rng();
    const at = b * (length + 1);
    let kind: WindowKind;
    if (u < mix.spans) {
      kind = 'spans';
      tokens.set(generateSpanWindow(rng, length + 1), at);
    } else if (u < mix.spans + mix.alternation) {
      kind = 'alternation';
      tokens.set(generateDrill(rng, 'alternation', length + 1), at);
    } else if (u < mix.spans + mix.alternation + mix.repeats) {
      kind = 'repeats';
      tokens.set(generateDrill(rng, 'repeats', length + 1), at);
    } else {
      kind = 'corpus';
      const start = Math.floor(rng() * (stream.length - length - 1));
      for (let t = 0; t <= length; t++) tokens[at + t] = stream[start + t];
    }
    kinds.push(kind);
    offsets[b] = phase.randomOffsets ? Math.floor(rng() * (context - length + 1)) : 0;
  }
  return { tokens, offsets, kinds };
}

/** The phase a step trains in: the last one whose fromStep ≤ step. */
export function phaseAt(phases: readonly Phase[], step: number): Phase {
  let current = phases[0];
  for (const phase of phases) if (step >= phase.fromStep) current = phase;
  return current;
}
