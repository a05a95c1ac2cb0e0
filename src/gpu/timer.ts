/**
 * Stage timing on the GPU: a timestamp pair around each compute pass when the device has
 * 'timestamp-query', read back after the work is done.
 */

/** Timestamp writes for N passes and the buffers to read them back. */
export interface PassTimer {
  /** The `timestampWrites` for pass `index` (0-based). */
  passWrites(index: number): GPUComputePassTimestampWrites;
  /** Append the resolve and copy commands; call once after the last pass. */
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
  const readBuffer = device.createBuffer({
    label: `${label} timestamp readback`,
    size: count * 8,
    usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ,
  });
  return {
    passWrites: (index) => ({
      querySet,
      beginningOfPassWriteIndex: index * 2,
      endOfPassWriteIndex: index * 2 + 1,
    }),
    resolve(encoder) {
      encoder.resolveQuerySet(querySet, 0, count, resolveBuffer, 0);
      encoder.copyBufferToBuffer(resolveBuffer, 0, readBuffer, 0, count * 8);
    },
    async read() {
      await readBuffer.mapAsync(GPUMapMode.READ);
      const ns = new BigInt64Array(readBuffer.getMappedRange().slice(0));
      readBuffer.unmap();
      const passesMs: number[] = [];
      for (let p = 0; p < passes; p++) passesMs.push(Math.max(0, Number(ns[p * 2 + 1] - ns[p * 2])) / 1e6);
      const total = Math.max(0, Number(ns[count - 1] - ns[0])) / 1e6;
      return { passes: passesMs, total };
    },
    destroy() {
      querySet.destroy();
      resolveBuffer.destroy();
      readBuffer.destroy();
    },
  };
}
