/**
 * Typed errors. Every message names the field, what was given and what is allowed, so the
 * app can show it as-is and a test can match on `field`.
 */

/** Base class of every error this library throws on purpose. */
export class AttentionError extends Error {
  override name = 'AttentionError';
}

/** What kind of input rule was broken. */
export type InputErrorKind = 'shape' | 'length' | 'type' | 'non-finite' | 'too-large';

/** A shape or an input array breaks the rules (see `validateShape` / `validateInputs`). */
export class AttentionInputError extends AttentionError {
  override name = 'AttentionInputError';
  constructor(
    /** The offending field, e.g. `'seqLen'`, `'wq'`, `'x[12]'`. */
    readonly field: string,
    /** What was given, as text (`'0'`, `'NaN'`, `'length 7'`). */
    readonly given: string,
    /** What is allowed, as text (`'an integer ≥ 1'`). */
    readonly allowed: string,
    readonly kind: InputErrorKind,
  ) {
    super(`${field}: got ${given}; allowed: ${allowed}`);
  }
}

/** A buffer the computation needs is larger than the device (or the CPU path) allows. */
export class GpuLimitError extends AttentionError {
  override name = 'GpuLimitError';
  constructor(
    /** Which buffer, e.g. `'scores'`. */
    readonly field: string,
    readonly bytesNeeded: number,
    readonly bytesAllowed: number,
    /** The device limit that applies, e.g. `'maxStorageBufferBindingSize'`. */
    readonly limit: string,
    advice = 'Use a smaller seqLen, kvLen or heads.',
  ) {
    super(`${field}: needs ${formatBytes(bytesNeeded)}${bytesNeeded >= 1024 ? ` (${bytesNeeded} bytes)` : ''}; the device allows ${formatBytes(bytesAllowed)} (${bytesAllowed >= 1024 ? `${bytesAllowed} bytes, ` : ''}${limit}). ${advice}`);
  }
}

/** The device could not allocate a buffer (an out-of-memory error scope caught it). */
export class GpuOutOfMemoryError extends AttentionError {
  override name = 'GpuOutOfMemoryError';
  constructor(
    detail: string,
    /** What was being allocated, e.g. `the attention buffers`. */
    readonly buffers = 'the attention buffers',
    advice = 'Use a smaller seqLen, kvLen or heads, or the fused path.',
  ) {
    super(`The GPU ran out of memory allocating ${buffers} (${detail}). ${advice}`);
  }
}

/** This browser or machine offers no usable WebGPU. */
export class WebGpuUnavailableError extends AttentionError {
  override name = 'WebGpuUnavailableError';
  constructor(
    readonly reason: 'no-navigator-gpu' | 'no-adapter' | 'device-request-failed',
    detail: string,
  ) {
    super(detail);
  }
}

/** The GPU device was lost (driver reset, `device.destroy()`, …) before a run finished. */
export class GpuDeviceLostError extends AttentionError {
  override name = 'GpuDeviceLostError';
  constructor(readonly reason: string, message: string) {
    super(`The GPU device was lost (${reason}): ${message || 'no detail given'}. Create a new device and try again.`);
  }
}

/** A run was cancelled through its AbortSignal. */
export class AttentionAbortError extends AttentionError {
  override name = 'AbortError';
  constructor() {
    super('The attention run was cancelled.');
  }
}

/** `1536` → `'1.5 KiB'`. */
export function formatBytes(bytes: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} bytes` : `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}
