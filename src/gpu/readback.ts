/**
 * The one way results come back from the GPU: byte ranges of device buffers copied into a
 * pooled staging buffer (MAP_READ), at most 64 MiB at a time, mapped, copied out and the staging
 * buffer returned to the pool. Every kernel family reads through here, so the copy rules (4-byte alignment, one
 * submission per read, a refused copy reported as an error) live in one place.
 */
import { AttentionError, AttentionInputError, GpuOutOfMemoryError } from '../core/errors';

/** A byte range of a device buffer to read. Offsets and sizes are multiples of 4. */
export interface ReadRange {
  buffer: GPUBuffer;
  /** Byte offset in `buffer`. */
  offset: number;
  /** Bytes to read (0 gives an empty result). */
  size: number;
}

/** Staging buffers larger than this are destroyed after use instead of kept. */
const POOL_MAX_BUFFER_BYTES = 64 << 20;
/** Free staging buffers kept per device. */
const POOL_MAX_FREE = 4;

const pools = new WeakMap<GPUDevice, GPUBuffer[]>();

function poolOf(device: GPUDevice): GPUBuffer[] {
  let pool = pools.get(device);
  if (!pool) pools.set(device, (pool = []));
  return pool;
}

/** The smallest free staging buffer of at least `bytes`, or a new one (sizes rounded up to powers of two from 256 bytes). */
function takeStaging(device: GPUDevice, bytes: number): GPUBuffer {
  const pool = poolOf(device);
  let best = -1;
  pool.forEach((buffer, index) => {
    if (buffer.size >= bytes && (best < 0 || buffer.size < pool[best].size)) best = index;
  });
  if (best >= 0) return pool.splice(best, 1)[0];
  const size = Math.max(256, 2 ** Math.ceil(Math.log2(bytes)));
  return device.createBuffer({ label: 'readback staging', size, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ });
}

function giveBack(device: GPUDevice, buffer: GPUBuffer): void {
  const pool = poolOf(device);
  if (buffer.size > POOL_MAX_BUFFER_BYTES || pool.length >= POOL_MAX_FREE) {
    buffer.destroy();
    return;
  }
  pool.push(buffer);
}

/** How many staging buffers the pool of `device` holds now (for tests). */
export function pooledStagingBuffers(device: GPUDevice): number {
  return pools.get(device)?.length ?? 0;
}

/**
 * Bytes one staging buffer holds at most: larger reads go in batches. A model's maps at its full
 * context (GPT-2 small at 1024 tokens: 576 MiB) in one staging buffer ran SwiftShader out of
 * device memory, and the read never came back.
 */
export const STAGING_MAX_BYTES = 64 << 20;

/** A piece of one range: `size` bytes from `offset` of `buffer`, to byte `at` of result `index`. */
interface Piece {
  buffer: GPUBuffer;
  offset: number;
  size: number;
  index: number;
  at: number;
}

/**
 * Copy each range back; resolves with one ArrayBuffer per range (copies: they outlive the
 * staging buffers). Ranges are read in batches of at most {@link STAGING_MAX_BYTES} (a range
 * larger than that in pieces), one submission per batch. Rejects if the device is lost, a range
 * is invalid, or a staging buffer cannot be allocated (GpuOutOfMemoryError).
 */
export async function readRanges(device: GPUDevice, ranges: readonly ReadRange[], label: string): Promise<ArrayBuffer[]> {
  for (const range of ranges) {
    if (range.offset % 4 !== 0 || range.size % 4 !== 0 || range.size < 0) {
      throw new AttentionInputError(`${label} range`, `offset ${range.offset}, size ${range.size}`, '4-byte aligned offsets and sizes (whole f32 values)', 'shape');
    }
  }
  const out = ranges.map((range) => new ArrayBuffer(range.size));
  const batches: Piece[][] = [[]];
  let filled = 0;
  ranges.forEach((range, index) => {
    for (let at = 0; at < range.size; ) {
      if (filled === STAGING_MAX_BYTES) {
        batches.push([]);
        filled = 0;
      }
      const size = Math.min(range.size - at, STAGING_MAX_BYTES - filled);
      batches[batches.length - 1].push({ buffer: range.buffer, offset: range.offset + at, size, index, at });
      filled += size;
      at += size;
    }
  });
  for (const batch of batches) if (batch.length > 0) await readBatch(device, batch, out, label);
  return out;
}

/** One submission: the pieces into one staging buffer, mapped, copied into their results. */
async function readBatch(device: GPUDevice, pieces: readonly Piece[], out: ArrayBuffer[], label: string): Promise<void> {
  const total = pieces.reduce((sum, piece) => sum + piece.size, 0);
  const staging = await takeStagingChecked(device, total, label);
  let mapped = false;
  try {
    // A copy WebGPU refuses (a buffer of another device, a range past its end) is a validation
    // error, not a rejection: catch it here so the caller gets an error, not zeros.
    device.pushErrorScope('validation');
    const encoder = device.createCommandEncoder({ label: `${label} readback` });
    let at = 0;
    for (const piece of pieces) {
      encoder.copyBufferToBuffer(piece.buffer, piece.offset, staging, at, piece.size);
      at += piece.size;
    }
    device.queue.submit([encoder.finish()]);
    const refused = await device.popErrorScope();
    if (refused) throw new AttentionError(`WebGPU refused to copy ${label} back: ${refused.message}`);
    await staging.mapAsync(GPUMapMode.READ, 0, total);
    mapped = true;
    const all = new Uint8Array(staging.getMappedRange(0, total));
    at = 0;
    for (const piece of pieces) {
      new Uint8Array(out[piece.index], piece.at, piece.size).set(all.subarray(at, at + piece.size));
      at += piece.size;
    }
    staging.unmap();
    giveBack(device, staging);
  } catch (error) {
    // A failed map (lost device, invalid copy) leaves the buffer in an unknown state: drop it.
    if (mapped) staging.unmap();
    staging.destroy();
    throw error;
  }
}

/** {@link takeStaging}, with a failed allocation turned into a GpuOutOfMemoryError (an uncaptured error otherwise, and a read that never ends). */
async function takeStagingChecked(device: GPUDevice, bytes: number, label: string): Promise<GPUBuffer> {
  device.pushErrorScope('out-of-memory');
  const staging = takeStaging(device, bytes);
  const error = await device.popErrorScope();
  if (error) {
    staging.destroy();
    throw new GpuOutOfMemoryError(`${bytes} bytes of staging for ${label}: ${error.message}`, `the readback of ${label}`, 'Read back less (fewer layers or a shorter sequence), or close other GPU work.');
  }
  return staging;
}

/** {@link readRanges} in f32 elements: `[buffer, elementOffset, count]` each. */
export async function readFloats(
  device: GPUDevice,
  ranges: ReadonlyArray<readonly [GPUBuffer, number, number]>,
  label: string,
): Promise<Float32Array[]> {
  const bytes = await readRanges(
    device,
    ranges.map(([buffer, offset, count]) => ({ buffer, offset: offset * 4, size: count * 4 })),
    label,
  );
  return bytes.map((b) => new Float32Array(b));
}

/** Drop the pooled staging buffers of a device (when the caller is done with it). */
export function releaseStaging(device: GPUDevice): void {
  for (const buffer of pools.get(device) ?? []) buffer.destroy();
  pools.delete(device);
}
