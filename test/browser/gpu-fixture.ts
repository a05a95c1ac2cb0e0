/**
 * One device per test file, a validation error scope around every test, and a check that the
 * test destroyed what it created (the scope would catch use-after-destroy too).
 */
import { afterAll, afterEach, beforeAll, beforeEach, expect } from 'vitest';
import { describeDevice, requestGpuDevice } from '../../src/index';

let device: GPUDevice | null = null;

/** The shared device of this file (created in beforeAll). */
export function gpu(): GPUDevice {
  if (!device) throw new Error('the GPU fixture has no device: call useGpuDevice() at the top of the file');
  return device;
}

/** Request a device for the file, print the adapter, and wrap each test in an error scope. */
export function useGpuDevice(): void {
  beforeAll(async () => {
    device = await requestGpuDevice();
    const info = describeDevice(device);
    console.info(`[gpu] adapter: ${info.label}; features: ${info.features.join(', ') || 'none'}; maxStorageBufferBindingSize ${info.maxStorageBufferBindingSize}`);
  });
  beforeEach(() => {
    gpu().pushErrorScope('validation');
  });
  afterEach(async () => {
    const error = await gpu().popErrorScope();
    expect(error?.message ?? null, 'WebGPU validation error during the test').toBeNull();
  });
  afterAll(() => {
    device?.destroy();
    device = null;
  });
}
