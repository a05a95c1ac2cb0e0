/**
 * Drills: token sequences of random words that training mixes with the corpus's documents
 * (src/model/corpus.ts), each rewarding one kind of head directly.
 */
import { AttentionInputError } from '../core/errors';
import type { Rng } from '../reference/random';
import { EOS_ID, wordIds } from './corpus-words';

/**
 * Two kinds of token sequences of random words that training mixes with the documents, each
 * rewarding one kind of head directly, so that the heads form within the training budget (the
 * documents reward them too, but too weakly for a 15-minute CPU run; see README):
 *   - 'alternation': after two random words, each next word repeats the word two back with
 *     probability ALTERNATION_KEEP, else is a new random word ("fox hat fox hat fox pen hat
 *     pen …"). The word two back is exactly what the previous token's position holds one step
 *     earlier, and the switches come at random places, so only a head that looks at the
 *     previous token, at every position, predicts it: a previous-token head.
 *   - 'repeats': random spans of REPEAT_DRILL.span words, each followed by a gap of
 *     REPEAT_DRILL.gap random words and the same span again. In a span's second copy every word
 *     is the one that followed the previous occurrence of the word before it: an induction
 *     head (which needs the previous-token head) predicts it.
 * Each drill starts with `<eos>` like a document, and draws words from `wordIds`.
 */
export type DrillKind = 'alternation' | 'repeats';

/** Probability that an alternation drill's next word repeats the word two back. */
export const ALTERNATION_KEEP = 0.8;
/** Span and gap lengths (inclusive) of the repeats drill. */
export const REPEAT_DRILL = { span: { min: 4, max: 16 }, gap: { min: 0, max: 16 } } as const;

/** A drill of exactly `length` ids (`<eos>` first). */
export function generateDrill(rng: Rng, kind: DrillKind, length: number): number[] {
  if (!Number.isInteger(length) || length < 1) throw new AttentionInputError('length', String(length), 'an integer ≥ 1', 'shape');
  const pool = wordIds();
  const word = () => pool[Math.floor(rng() * pool.length)];
  const between = (range: { min: number; max: number }) => range.min + Math.floor(rng() * (range.max - range.min + 1));
  const ids = [EOS_ID];
  if (kind === 'alternation') {
    ids.push(word(), word());
    while (ids.length < length) ids.push(rng() < ALTERNATION_KEEP ? ids[ids.length - 2] : word());
  } else if (kind === 'repeats') {
    while (ids.length < length) {
      const span = Array.from({ length: between(REPEAT_DRILL.span) }, word);
      const gap = between(REPEAT_DRILL.gap);
      ids.push(...span);
      for (let k = 0; k < gap; k++) ids.push(word());
      ids.push(...span);
    }
  } else {
    throw new AttentionInputError('kind', String(kind), "'alternation' or 'repeats'", 'type');
  }
  return ids.slice(0, length);
}
