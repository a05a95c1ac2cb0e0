/**
 * The peer: the same attention computed by TensorFlow.js on its WebGPU backend
 * (@tensorflow/tfjs-backend-webgpu), the way a tfjs user would write it, so the bench can say
 * how our kernels compare with a maintained library on the same adapter and shapes.
 *
 * Computation (x: seqLen × dModel, W: dModel × width, width = heads·dHead):
 *   Q, K, V = matMul(x, W_Q | W_K | W_V)                            three 2-D matMuls
 *   Qh, Kh, Vh = transpose(reshape(·, [seqLen, heads, dHead]), [1, 0, 2])   heads × seqLen × dHead
 *   S = matMul(Qh, Kh, false, true) · 1/√dHead                      batched over heads
 *   S = S + M  (causal only: M is 0 on and below the diagonal, −∞ above)
 *   P = softmax(S)                                                  last axis
 *   O = reshape(transpose(matMul(P, Vh), [1, 0, 2]), [seqLen, width])
 * The causal mask is additive (as transformer code usually writes it) with −∞ rather than
 * −1e9: exp(−∞ − max) is exactly 0, as in our kernels and the reference, and no row is fully
 * masked when kvLen = seqLen, so no −∞ − (−∞) NaN can arise. M is built once per size, outside
 * the timed region, like the inputs.
 *
 * Timing. tfjs records commands lazily and submits them when something must be read, so the
 * only honest fence from JavaScript is reading a result. Each timed repeat measures:
 * - total (= wall): `performance.now()` around the tidy() that records the ops plus
 *   `await output.data()`: compute plus the readback of the seqLen × width output (the same
 *   array our GPU path reads back in its timed runs).
 * - extra.fenceMs: the same, but reading one element of the output (`slice(…, [1, 1]).data()`):
 *   the queue executes in order, so that read cannot finish before all the attention work has,
 *   and it moves 4 bytes instead of the whole output. The difference from total is the readback.
 * - extra.kernelMs: `tf.time()`'s sum of per-kernel GPU timestamp durations, when the device
 *   has 'timestamp-query' (tfjs asks for it itself). tf.time runs each kernel in its own pass
 *   and submit, so this is device time only, comparable with our timestamp-query total.
 * Inputs are uploaded once per size: tfjs keeps a tensor's GPU buffer between runs.
 *
 * tfjs makes its own GPUDevice (its backend factory requests the adapter itself); both devices
 * share the adapter, so the comparison is on the same hardware. If the backend cannot start,
 * {@link createTfjsPeer} throws PathUnavailableError with tfjs's own message.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-webgpu';
import type { AttentionInputs, AttentionResult, AttentionShape } from '../core/types';
import { resolveShape } from '../core/types';
import { validateAttention } from '../core/validate';
import { AttentionAbortError, AttentionError } from '../core/errors';
import { PathUnavailableError, type PathRunner, type Reference, pickRows } from './path';

/** Tensors of one size, kept between repeats. */
interface Prepared {
  key: string;
  x: tf.Tensor2D;
  wq: tf.Tensor2D;
  wk: tf.Tensor2D;
  wv: tf.Tensor2D;
  mask: tf.Tensor2D | null;
}

/** The attention output for prepared tensors (call inside tf.tidy). */
function attention(p: Prepared, seqLen: number, heads: number, dHead: number): tf.Tensor2D {
  const split = (t: tf.Tensor2D) => tf.transpose(tf.reshape(t, [seqLen, heads, dHead]), [1, 0, 2]) as tf.Tensor3D;
  const q = split(tf.matMul(p.x, p.wq));
  const k = split(tf.matMul(p.x, p.wk));
  const v = split(tf.matMul(p.x, p.wv));
  let scores = tf.mul(tf.matMul(q, k, false, true), tf.scalar(1 / Math.sqrt(dHead))) as tf.Tensor3D;
  if (p.mask) scores = tf.add(scores, p.mask);
  const weights = tf.softmax(scores);
  const out = tf.matMul(weights, v);
  return tf.reshape(tf.transpose(out, [1, 0, 2]), [seqLen, heads * dHead]);
}

/** Start tfjs on WebGPU, or throw PathUnavailableError with the reason tfjs gave. */
async function startBackend(): Promise<void> {
  if (tf.getBackend() === 'webgpu') return;
  if (tf.findBackendFactory('webgpu') === null) {
    // The backend registers itself only when navigator.gpu exists.
    throw new PathUnavailableError('tfjs', 'the tfjs webgpu backend did not register: this browser has no navigator.gpu');
  }
  // tfjs reports a failed initialisation only through console.warn and a false result;
  // catch those lines so the report can say exactly why.
  const warnings: string[] = [];
  const original = console.warn;
  console.warn = (...args: unknown[]) => {
    warnings.push(args.map(String).join(' '));
  };
  let ok = false;
  try {
    ok = await tf.setBackend('webgpu');
    await tf.ready();
  } catch (error) {
    warnings.push(error instanceof Error ? error.message : String(error));
  } finally {
    console.warn = original;
  }
  if (!ok || tf.getBackend() !== 'webgpu') {
    throw new PathUnavailableError('tfjs', `tf.setBackend('webgpu') failed: ${warnings.join(' | ') || 'no reason given'}`);
  }
}

/** Whether tfjs's device has timestamp queries (so tf.time's kernelMs is real, not 0). */
function hasKernelTimer(): boolean {
  const backend = tf.backend() as unknown as { supportTimestampQuery?: boolean };
  return backend.supportTimestampQuery === true;
}

/**
 * The tfjs-webgpu path of the sweep. Throws PathUnavailableError when tfjs cannot use WebGPU
 * here (the sweep records the reason and goes on without it).
 */
export async function createTfjsPeer(): Promise<PathRunner> {
  await startBackend();
  const kernelTimer = hasKernelTimer();
  let prepared: Prepared | null = null;
  let lastOutput: Float32Array | null = null;
  let lastKey = '';

  const release = () => {
    if (!prepared) return;
    tf.dispose([prepared.x, prepared.wq, prepared.wk, prepared.wv, ...(prepared.mask ? [prepared.mask] : [])]);
    prepared = null;
  };

  const prepare = (shape: AttentionShape, inputs: AttentionInputs): Prepared => {
    const s = validateAttention(shape, inputs);
    if (s.kvLen !== s.seqLen || inputs.xKV) throw new AttentionError('tfjs peer: only self-attention (kvLen = seqLen) is implemented');
    const key = `${JSON.stringify(s)}|${inputs.x.length}`;
    if (prepared?.key === key && prepared.x) return prepared;
    release();
    let mask: tf.Tensor2D | null = null;
    if (s.causal) {
      const m = new Float32Array(s.seqLen * s.seqLen);
      for (let i = 0; i < s.seqLen; i++) m.fill(-Infinity, i * s.seqLen + i + 1, (i + 1) * s.seqLen);
      mask = tf.tensor2d(m, [s.seqLen, s.seqLen]);
    }
    prepared = {
      key,
      x: tf.tensor2d(inputs.x, [s.seqLen, s.dModel]),
      wq: tf.tensor2d(inputs.wq, [s.dModel, s.width]),
      wk: tf.tensor2d(inputs.wk, [s.dModel, s.width]),
      wv: tf.tensor2d(inputs.wv, [s.dModel, s.width]),
      mask,
    };
    return prepared;
  };

  return {
    async run(shape, inputs, timed, signal) {
      if (signal?.aborted) throw new AttentionAbortError();
      const s = resolveShape(shape);
      const p = prepare(shape, inputs);
      const compute = () => tf.tidy(() => attention(p, s.seqLen, s.heads, s.dHead));

      const t0 = performance.now();
      const out = compute();
      const data = (await out.data()) as Float32Array;
      const total = performance.now() - t0;
      out.dispose();
      lastOutput = data;
      lastKey = p.key;
      if (!timed) return { stages: null, total, wall: total, source: 'wall-clock+readback' };

      const extra: Record<string, number> = {};
      const f0 = performance.now();
      const fenced = compute();
      const corner = tf.slice(fenced, [0, 0], [1, 1]);
      await corner.data();
      extra.fenceMs = performance.now() - f0;
      tf.dispose([fenced, corner]);

      if (kernelTimer) {
        let timedOut: tf.Tensor | null = null;
        const info = await tf.time(() => {
          timedOut = compute();
        });
        if (timedOut) (timedOut as tf.Tensor).dispose();
        // (No per-kernel split: tfjs names kernels by class name, which the production build minifies.)
        if (typeof info.kernelMs === 'number' && info.kernelMs > 0) extra.kernelMs = info.kernelMs;
      }
      return { stages: null, total, wall: total, source: 'wall-clock+readback', extra };
    },
    async actual(shape, _inputs, reference: Reference): Promise<Partial<AttentionResult>> {
      if (!lastOutput || !prepared || lastKey !== prepared.key) throw new AttentionError('tfjs peer: no run of this shape to verify');
      // Only the output is compared: tfjs's intermediates live inside tidy() and are gone.
      const full = { output: lastOutput };
      return reference.mode === 'full' ? full : pickRows(shape, full, reference.rows);
    },
    dispose() {
      release();
      lastOutput = null;
    },
  };
}
