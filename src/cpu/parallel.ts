/**
 * The fast CPU path split across Web Workers (browser only): query rows are cut into chunks of
 * about equal work (`splitRows`, causal-aware) and each worker computes its chunk with
 * `attentionCpuFastBlock`, then the main thread copies the blocks into one AttentionResult.
 *
 * Each worker gets the inputs (x, xKV, wq, wk, wv) and recomputes the projections it needs
 * (its own rows of Q, all of K and V) rather than receiving Q, K, V from the main thread: the
 * projections are O(n·dModel·width), cheap next to the O(n²·dHead) scores, the main thread
 * stays free for the UI instead of running a serial projection stage before any worker can
 * start, and Q's cost is split across workers. The price is K and V computed once per worker,
 * in parallel, so the wall-clock cost is about one K/V projection either way.
 *
 * Workers are kept in a pool between runs, so their JIT-compiled code stays warm: timing a
 * cold worker each time would compare the GPU against a strawman. The pool is dropped
 * (workers terminated) on cancellation or failure, and by `releaseCpuWorkers()`. Start-up,
 * messaging and merging are inside the measured wall-clock `total`, as they are for a user.
 */
import { AttentionAbortError, AttentionError, AttentionInputError } from '../core/errors';
import type { AttentionInputs, AttentionShape } from '../core/types';
import { validateAttention } from '../core/validate';
import { splitRows, type FastAttentionBlock, type FastAttentionResult, type FastTimings } from './fast-attention';

/** What the main thread sends a worker. */
export interface FastWorkerRequest {
  shape: AttentionShape;
  inputs: AttentionInputs;
  rows: [start: number, end: number];
  /** Whether this worker's k and v are wanted (only one worker's are). */
  sendKV: boolean;
}

/** What a worker answers. */
export type FastWorkerResponse =
  | { ok: true; block: FastAttentionBlock }
  | { ok: false; error: { name: string; message: string } };

/** Options of {@link attentionCpuParallel}. */
export interface ParallelOptions {
  /** Number of workers (default: navigator.hardwareConcurrency, at most {@link MAX_WORKERS}). */
  workers?: number;
  /** Cancels the run: every worker is terminated and the promise rejects with AttentionAbortError. */
  signal?: AbortSignal;
}

/** Upper bound on the default worker count: more rarely helps and each holds a copy of the inputs. */
export const MAX_WORKERS = 8;

/**
 * Attention computed by the fast CPU path on several workers. Same result as
 * `attentionCpuFast`; `timings.total` is the wall clock of the whole parallel run (worker
 * start-up, messaging and merging included) and each stage is the mean over workers of its time.
 * Validation errors (AttentionInputError) are thrown by the main thread before any worker starts.
 */
export async function attentionCpuParallel(
  shape: AttentionShape,
  inputs: AttentionInputs,
  options: ParallelOptions = {},
): Promise<FastAttentionResult> {
  const t0 = performance.now();
  const { signal } = options;
  if (signal?.aborted) throw new AttentionAbortError();
  const s = validateAttention(shape, inputs);
  const requested = options.workers ?? Math.min(MAX_WORKERS, navigator.hardwareConcurrency || 1);
  if (!Number.isInteger(requested) || requested < 1) {
    throw new AttentionInputError('workers', String(requested), 'an integer ≥ 1 (attentionCpuParallel)', 'shape');
  }
  const chunks = splitRows(s.seqLen, requested, { causal: s.causal, kvLen: s.kvLen });
  while (pool.length < chunks.length) {
    pool.push(new Worker(new URL('./fast.worker.ts', import.meta.url), { type: 'module', name: `fast attention ${pool.length}` }));
  }
  const workers = pool.slice(0, chunks.length);
  let failed = false;

  let onAbort: (() => void) | undefined;
  try {
    const blocks = await new Promise<FastAttentionBlock[]>((resolve, reject) => {
      const results: FastAttentionBlock[] = [];
      let remaining = chunks.length;
      onAbort = () => {
        failed = true;
        reject(new AttentionAbortError());
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      chunks.forEach((rows, index) => {
        const worker = workers[index];
        worker.onmessage = (event: MessageEvent<FastWorkerResponse>) => {
          const data = event.data;
          if (!data.ok) {
            failed = true;
            const error = new AttentionError(data.error.message);
            error.name = data.error.name;
            reject(error);
            return;
          }
          results[index] = data.block;
          if (--remaining === 0) resolve(results);
        };
        worker.onerror = (event) => {
          failed = true;
          reject(new AttentionError(`A fast-attention worker failed: ${event.message}`));
        };
        // Inputs are copied (structured clone), so the caller keeps its arrays.
        const request: FastWorkerRequest = { shape, inputs, rows, sendKV: index === 0 };
        worker.postMessage(request);
      });
    });
    return merge(s.seqLen, s.kvLen, s.heads, s.width, blocks, t0);
  } finally {
    if (onAbort) signal?.removeEventListener('abort', onAbort);
    // A cancelled or failed run may leave workers busy or broken: start afresh next time.
    if (failed) releaseCpuWorkers();
  }
}

const pool: Worker[] = [];

/** Terminate the pooled workers (they are started again on the next run). */
export function releaseCpuWorkers(): void {
  for (const worker of pool.splice(0)) worker.terminate();
}

/**
 * Copy row blocks into full-size arrays. A stage's time is the mean over workers of the time
 * each spent in it: the stages then add up to the mean worker's compute time, never more than
 * the wall-clock total (a per-stage maximum could, taken from different workers).
 */
function merge(seqLen: number, kvLen: number, heads: number, width: number, blocks: FastAttentionBlock[], t0: number): FastAttentionResult {
  const q = new Float32Array(seqLen * width);
  const output = new Float32Array(seqLen * width);
  const scores = new Float32Array(heads * seqLen * kvLen);
  const weights = new Float32Array(heads * seqLen * kvLen);
  const timings: FastTimings = { projections: 0, scores: 0, softmax: 0, output: 0, total: 0, source: 'wall-clock' };
  for (const b of blocks) {
    const rows = b.end - b.start;
    q.set(b.q, b.start * width);
    output.set(b.output, b.start * width);
    // A block's map is heads × rows × kvLen: each head's rows go to that head's slab.
    for (let h = 0; h < heads; h++) {
      const from = h * rows * kvLen;
      const to = (h * seqLen + b.start) * kvLen;
      scores.set(b.scores.subarray(from, from + rows * kvLen), to);
      weights.set(b.weights.subarray(from, from + rows * kvLen), to);
    }
    timings.projections += b.timings.projections / blocks.length;
    timings.scores += b.timings.scores / blocks.length;
    timings.softmax += b.timings.softmax / blocks.length;
    timings.output += b.timings.output / blocks.length;
  }
  timings.total = performance.now() - t0;
  return { q, k: blocks[0].k, v: blocks[0].v, scores, weights, output, timings };
}
