/**
 * Reading a device's limits for reports. Code outside src/gpu and src/kernels does not touch
 * `GPUDevice.limits` itself (test/unit/layering.test.ts enforces it); it asks here.
 */

/**
 * Every numeric limit of a device, by name (e.g. `maxStorageBufferBindingSize`), as a plain
 * JSON-serialisable object. GPUSupportedLimits keeps its properties as getters on its
 * prototype, so spreading or `JSON.stringify` would give `{}`; this walks the prototype chain.
 */
export function deviceLimits(device: GPUDevice): Record<string, number> {
  const source = device.limits as unknown as Record<string, unknown>;
  const limits: Record<string, number> = {};
  for (let proto: object | null = device.limits; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const key of Object.getOwnPropertyNames(proto)) {
      const value = source[key];
      if (typeof value === 'number' && !(key in limits)) limits[key] = value;
    }
  }
  return limits;
}

/** The two limits that bound one buffer: the largest storage binding and the largest buffer. */
export function bufferLimits(device: GPUDevice): { maxStorageBufferBindingSize: number; maxBufferSize: number } {
  return { maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize, maxBufferSize: device.limits.maxBufferSize };
}
