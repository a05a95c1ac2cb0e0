/**
 * Storage buffers that grow on demand and are reused between runs, with the device's size
 * limits checked before anything is allocated.
 */
import { GpuLimitError } from '../core/errors';

/** The two device limits that bound one storage buffer. */
export function maxStorageBytes(device: GPUDevice): { bytes: number; limit: string } {
  const binding = device.limits.maxStorageBufferBindingSize;
  const buffer = device.limits.maxBufferSize;
  return binding <= buffer
    ? { bytes: binding, limit: 'maxStorageBufferBindingSize' }
    : { bytes: buffer, limit: 'maxBufferSize' };
}

/** Throw {@link GpuLimitError} if a storage buffer of `bytes` cannot exist on this device. */
export function checkStorageSize(device: GPUDevice, field: string, bytes: number): void {
  const { bytes: allowed, limit } = maxStorageBytes(device);
  if (bytes > allowed) throw new GpuLimitError(field, bytes, allowed, limit);
}

/** A named buffer slot that keeps its GPUBuffer while requests fit and replaces it when not. */
export class GrowableBuffer {
  private buffer: GPUBuffer | null = null;

  constructor(
    private readonly device: GPUDevice,
    readonly label: string,
    private readonly usage: GPUBufferUsageFlags,
  ) {}

  /** A buffer of at least `bytes` (rounded up to 16 bytes; never 0). Contents are not kept. */
  ensure(bytes: number): GPUBuffer {
    const size = Math.max(16, Math.ceil(bytes / 16) * 16);
    if (this.buffer && this.buffer.size >= size) return this.buffer;
    this.buffer?.destroy();
    this.buffer = this.device.createBuffer({ label: this.label, size, usage: this.usage });
    return this.buffer;
  }

  /** The current buffer, if any. */
  get current(): GPUBuffer | null {
    return this.buffer;
  }

  destroy(): void {
    this.buffer?.destroy();
    this.buffer = null;
  }
}

/**
 * One {@link GrowableBuffer} per key, for storage that kernels write and readbacks copy from
 * (STORAGE | COPY_SRC | COPY_DST), labelled `${prefix}/${label}`.
 */
export function storageSlots<K extends string>(device: GPUDevice, prefix: string, labels: Record<K, string>): Record<K, GrowableBuffer> {
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
  return Object.fromEntries(Object.entries<string>(labels).map(([key, label]) => [key, new GrowableBuffer(device, `${prefix}/${label}`, usage)])) as Record<K, GrowableBuffer>;
}
