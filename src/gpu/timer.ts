/**
 * Stage timing on the GPU: a timestamp pair around each compute pass when the device has
 * 'timestamp-query', read back (through gpu/readback) after the work is done.
 */
import { readRanges } from './readback';

/** Timestamp writes for N passes and the buffers to read them back. */
export interface PassTimer {
  /** The `timestampWrites` for pass `index` (0-based). */
  passWrites(index: number): GPUComputePassTimestampWrites;
  /** Append the resolve command; call once after the last pass. */
  resolve(encoder: GPUCommandEncoder): void;
  /** After submission: milliseconds per pass and from the first start to the last end. */
  read(): Promise<{ passes: number[]; total: number }>;
  destroy(): void;
}

/** Create a timer for `passes` compute passes, or null when the device lacks timestamp queries. */
export function createPassTimer(device: GPUDevice, passes: number, label: string): PassTimer | null {
  if (!device.features.has('timestamp-query')) return null;
  const count = passes * 2;
  const querySet = device.createQuerySet({ label: `${label} timestamps`, type: 'timestamp', count });
  const resolveBuffer = device.createBuffer({
    label: `${label} timestamp resolve`,
    size: count * 8,
    usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
  });
  return {
    passWrites: (index) => ({
      querySet,
      beginningOfPassWriteIndex: index * 2,
      endOfPassWriteIndex: index * 2 + 1,
    }),
    resolve(encoder) {
      encoder.resolveQuerySet(querySet, 0, count, resolveBuffer, 0);
    },
    async read() {
      const [bytes] = await readRanges(device, [{ buffer: resolveBuffer, offset: 0, size: count * 8 }], `${label} timestamps`);
      const ns = new BigInt64Array(bytes);
      const passesMs: number[] = [];
      for (let p = 0; p < passes; p++) passesMs.push(Math.max(0, Number(ns[p * 2 + 1] - ns[p * 2])) / 1e6);
      const total = Math.max(0, Number(ns[count - 1] - ns[0])) / 1e6;
      return { passes: passesMs, total };
    },
    destroy() {
      querySet.destroy();
      resolveBuffer.destroy();
    },
  };
}
