/**
 * Getting a GPUDevice worth computing attention on: the adapter's largest buffer limits (the
 * defaults cap storage bindings at 128 MiB, i.e. a 4096² map) and timestamp queries when the
 * adapter offers them.
 */
import { WebGpuUnavailableError } from '../core/errors';

/** Options for {@link requestGpuDevice}. */
export interface GpuDeviceOptions {
  powerPreference?: GPUPowerPreference;
  /** Ask for 'timestamp-query' when offered (default true). */
  timestamps?: boolean;
  /** Ask for 'subgroups' when offered (default true). */
  subgroups?: boolean;
}

const HOW_TO_GET_WEBGPU =
  'Use a browser with WebGPU: Chrome or Edge 113+ on Windows, macOS or ChromeOS; on Linux, a recent Chrome with WebGPU ' +
  'enabled (chrome://flags/#enable-unsafe-webgpu, or start it with --enable-unsafe-webgpu --enable-features=Vulkan); ' +
  'Safari 26+; Firefox 141+ on Windows. The page must be served over https or from localhost.';

/**
 * Request a high-performance adapter and a device with the adapter's maximum buffer limits,
 * plus 'timestamp-query' (and 'subgroups') when offered. Throws {@link WebGpuUnavailableError}
 * saying what is missing and what to do.
 */
export async function requestGpuDevice(options: GpuDeviceOptions = {}): Promise<GPUDevice> {
  const gpu: GPU | undefined = typeof navigator === 'undefined' ? undefined : navigator.gpu;
  if (!gpu) {
    throw new WebGpuUnavailableError('no-navigator-gpu', `This browser has no WebGPU (navigator.gpu is missing). ${HOW_TO_GET_WEBGPU}`);
  }
  const adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference ?? 'high-performance' });
  if (!adapter) {
    throw new WebGpuUnavailableError(
      'no-adapter',
      'WebGPU is present but no GPU adapter was offered (the GPU may be blocklisted or disabled). ' +
        'Check chrome://gpu, update the graphics driver, or enable hardware acceleration. ' +
        HOW_TO_GET_WEBGPU,
    );
  }
  const requiredFeatures: GPUFeatureName[] = [];
  if ((options.timestamps ?? true) && adapter.features.has('timestamp-query')) requiredFeatures.push('timestamp-query');
  if ((options.subgroups ?? true) && adapter.features.has('subgroups')) requiredFeatures.push('subgroups' as GPUFeatureName);
  const limits = adapter.limits;
  try {
    return await adapter.requestDevice({
      label: 'attention device',
      requiredFeatures,
      requiredLimits: {
        maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
        maxBufferSize: limits.maxBufferSize,
        maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
        maxComputeInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
        maxStorageBuffersPerShaderStage: limits.maxStorageBuffersPerShaderStage,
      },
    });
  } catch (error) {
    throw new WebGpuUnavailableError(
      'device-request-failed',
      `The GPU adapter refused to create a device: ${(error as Error).message ?? String(error)}`,
    );
  }
}

/** Resolves when the device has finished all work submitted so far. */
export function waitForGpu(device: GPUDevice): Promise<void> {
  return device.queue.onSubmittedWorkDone();
}
