/**
 * The error handling every GPU run shares: a watch on device loss (so a failure caused by a
 * lost device is reported as the loss), and allocation + encoding + submission inside
 * out-of-memory and validation error scopes, turned into typed errors.
 */
import { AttentionError, GpuDeviceLostError, GpuOutOfMemoryError } from '../core/errors';

/** Knows whether a device was lost and turns errors into {@link GpuDeviceLostError} when it was. */
export interface LossWatch {
  /** The loss, once the device is lost. */
  readonly lost: GPUDeviceLostInfo | null;
  /** Throw {@link GpuDeviceLostError} if the device is lost. */
  check(): void;
  /** The error to rethrow for `error`: the loss when the device is lost, else `error` itself. */
  explain(error: unknown): unknown;
}

/** Start watching `device` for loss. */
export function watchLoss(device: GPUDevice): LossWatch {
  let lost: GPUDeviceLostInfo | null = null;
  void device.lost.then((info) => {
    lost = info;
  });
  const asError = (info: GPUDeviceLostInfo) => new GpuDeviceLostError(info.reason, info.message);
  return {
    get lost() {
      return lost;
    },
    check() {
      if (lost) throw asError(lost);
    },
    explain(error) {
      return lost && !(error instanceof GpuDeviceLostError) ? asError(lost) : error;
    },
  };
}

/** What {@link scoped} says when a scope catches an error. */
export interface ScopeOptions {
  /** What the work was, for a validation error: `the attention run`. */
  what: string;
  /** What was allocated, for an out-of-memory error: `the fused attention buffers`. */
  buffers?: string;
  /** What to do after an out-of-memory error (GpuOutOfMemoryError's default advice if absent). */
  advice?: string;
  /** Called before an out-of-memory error is thrown: free what was half-allocated. */
  onOutOfMemory?: () => void;
}

/**
 * Run `body` (synchronous: allocation, uploads, encoding, submission) inside an out-of-memory
 * and a validation error scope, then wait for both. Throws {@link GpuOutOfMemoryError} (after
 * `onOutOfMemory`) or an {@link AttentionError} with WebGPU's message; else returns what `body`
 * returned. Nothing else's errors leak into these scopes: they are popped before any await.
 */
export async function scoped<T>(device: GPUDevice, options: ScopeOptions, body: () => T): Promise<T> {
  device.pushErrorScope('out-of-memory');
  device.pushErrorScope('validation');
  let result: T;
  let thrown: unknown = null;
  try {
    result = body();
  } catch (error) {
    thrown = error;
  }
  const validation = device.popErrorScope();
  const memory = device.popErrorScope();
  const [validationError, memoryError] = await Promise.all([validation, memory]);
  if (memoryError) {
    options.onOutOfMemory?.();
    throw new GpuOutOfMemoryError(memoryError.message, options.buffers, options.advice);
  }
  if (validationError) throw new AttentionError(`WebGPU rejected ${options.what}: ${validationError.message}`);
  if (thrown) throw thrown;
  return result!;
}
