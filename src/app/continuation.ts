/**
 * The text that continues the explorer's sentence up to seqLen: the corpus generator's stories
 * (src/model/corpus.ts, the trained model's training text), split as the explorer splits a
 * sentence. Generated in chunks, each seeded by (seed, chunk index), so a longer seqLen extends
 * the same text, and cached, so dragging the slider generates each chunk once. The app awaits
 * {@link prepareContinuation} before it builds an example, which generates the missing chunks a
 * few at a time between yields: 65536 tokens take ~150 ms to generate, more than one main-thread
 * task may take while seqLen changes (100 ms).
 */
import { MAX_SEQ_LEN, type Continuation } from '../inputs/build';
import { tokenize } from '../inputs/examples';
import { sampleText } from '../model/corpus';

/** Tokens per chunk at least (a chunk is whole sentences, so a little more): a few ms to generate. */
export const CHUNK_TOKENS = 1024;
/** Seeds whose chunks are kept (the explorer changes seed rarely). */
const CACHED_SEEDS = 4;

const chunksBySeed = new Map<number, string[][]>();

/** The seed of chunk `index` of `seed`'s text: a 32-bit mix, so neighbouring seeds' chunks differ. */
export function chunkSeed(seed: number, index: number): number {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x27d4eb2f);
  return (h ^ (h >>> 15)) >>> 0;
}

function chunksOf(seed: number): string[][] {
  let chunks = chunksBySeed.get(seed);
  if (!chunks) {
    chunks = [];
    chunksBySeed.set(seed, chunks);
    // Keep the most recent seeds only (Map iterates in insertion order).
    for (const old of chunksBySeed.keys()) if (chunksBySeed.size > CACHED_SEEDS && old !== seed) chunksBySeed.delete(old);
  }
  return chunks;
}

function tokensHeld(chunks: readonly string[][]): number {
  let total = 0;
  for (const chunk of chunks) total += chunk.length;
  return total;
}

function addChunk(seed: number, chunks: string[][]): void {
  chunks.push(tokenize(sampleText(chunkSeed(seed, chunks.length), CHUNK_TOKENS)));
}

/**
 * The first `count` tokens of `seed`'s continuation (synchronous: generates what is missing).
 * A {@link Continuation} for src/inputs/build.ts's buildExample.
 */
export const corpusContinuation: Continuation = (seed, count) => {
  const chunks = chunksOf(seed);
  while (tokensHeld(chunks) < count) addChunk(seed, chunks);
  const out: string[] = [];
  for (const chunk of chunks) {
    if (out.length >= count) break;
    for (const token of chunk) {
      if (out.length >= count) break;
      out.push(token);
    }
  }
  return out;
};

/**
 * Generate `seed`'s continuation up to `count` tokens, yielding to the event loop between
 * chunks so no main-thread task grows with the length; a later {@link corpusContinuation} call
 * then only reads the cache. Stops early (without an error) when `signal` aborts.
 */
export async function prepareContinuation(seed: number, count: number, signal?: AbortSignal): Promise<void> {
  const chunks = chunksOf(seed);
  let held = tokensHeld(chunks);
  while (held < count && !signal?.aborted) {
    // One chunk per task (the first too: the caller may be an input event's task already).
    await new Promise((resolve) => setTimeout(resolve, 0));
    if (signal?.aborted || chunksBySeed.get(seed) !== chunks) return;
    addChunk(seed, chunks);
    held += chunks[chunks.length - 1].length;
  }
}

/**
 * Prepare the continuation a state's example will read: the explorer's sentence (no lesson open)
 * at a valid seqLen; anything else needs none. Never throws: buildExample checks the values.
 */
export async function prepareContinuationFor(state: { mode: string; input: string; lesson: string; seed: number; seqLen: number }, signal?: AbortSignal): Promise<void> {
  if (state.mode !== 'explorer' || state.input !== 'sentence' || state.lesson !== '') return;
  if (!Number.isInteger(state.seed) || state.seed < 0 || !Number.isInteger(state.seqLen) || state.seqLen > MAX_SEQ_LEN) return;
  await prepareContinuation(state.seed, state.seqLen, signal);
}
