/**
 * A GPU attention session that survives device loss: when the device is lost (driver reset,
 * `device.destroy()` by someone else, GPU process crash) it requests a new device, rebuilds the
 * attention runner and tells its listeners, so the app can rebuild its scene and recompute the
 * view without a page reload.
 *
 * Everything built on the device lives in the device's registry (gpu/registry): the loss
 * destroys all of it, and whoever asks the session (`session.get(key, create)`) afterwards gets
 * a new one on the new device — nothing to reset by hand.
 */
import { GpuDeviceLostError } from '../core/errors';
import { requestGpuDevice, type GpuDeviceOptions } from '../gpu/device';
import { deviceRegistry, type DeviceRegistry, type Destroyable } from '../gpu/registry';
import { createGpuAttention, type GpuAttention } from './attention';

/** The registry key of the session's attention runner. */
export const ATTENTION_KEY = 'attention';

export interface AttentionSession {
  /** The current device (replaced after a loss). */
  readonly device: GPUDevice;
  /** The current attention pipeline (replaced after a loss): the current registry's {@link ATTENTION_KEY}. */
  readonly attention: GpuAttention;
  /** The registry of the current device (replaced after a loss). */
  readonly registry: DeviceRegistry;
  /**
   * The runner (or anything destroyable) under `key` on the current device, made by
   * `create(device)` on first ask; after a loss, the first ask makes a new one on the new
   * device. Waits for a recovery under way.
   */
  get<T extends Destroyable>(key: string, create: (device: GPUDevice) => T | Promise<T>): Promise<T>;
  /** How many times the session has recovered from a lost device. */
  readonly recoveries: number;
  /**
   * Run on the current device. A run the loss interrupts rejects with GpuDeviceLostError; the
   * session is already recovering, and `ready()` resolves when the next run can start.
   */
  run: GpuAttention['run'];
  /** Resolves when no recovery is under way (rejects if the last recovery failed). */
  ready(): Promise<void>;
  /**
   * Called when the device is lost (`recovered` false, with the loss message) and again when a
   * new device and pipeline are ready (`recovered` true), or when recovery failed (`error`).
   */
  onDeviceChange(listener: (event: { recovered: boolean; message: string; error?: Error }) => void): () => void;
  /**
   * Destroy the current device as a driver reset would, so the recovery can be seen and tested
   * (the session recovers exactly as from a real loss).
   */
  loseDevice(): void;
  /** Destroy the pipeline and the device, on purpose: no recovery follows. */
  destroy(): void;
}

/** Options of {@link createAttentionSession}: the device's, and when the attention kernels compile. */
export interface AttentionSessionOptions extends GpuDeviceOptions {
  /**
   * 'now' (default): the session resolves once its attention kernels are compiled. 'first-use':
   * they compile on the first run or read, so a page that opens on something else (the app's
   * model view, with kernels of its own) does not wait for them: a software adapter spends
   * seconds compiling pipelines.
   */
  kernels?: 'now' | 'first-use';
}

/**
 * A GpuAttention whose kernels are made on first use (see {@link AttentionSessionOptions.kernels});
 * before that it has no buffers and no buffer sets.
 */
export function lazyGpuAttention(device: GPUDevice, create: (device: GPUDevice) => Promise<GpuAttention> = createGpuAttention): GpuAttention {
  let made: Promise<GpuAttention> | null = null;
  let ready: GpuAttention | null = null;
  let destroyed = false;
  const real = () => {
    made ??= create(device).then((attention) => {
      if (destroyed) attention.destroy();
      ready = attention;
      return attention;
    });
    return made;
  };
  return {
    device,
    run: async (shape, inputs, runOptions) => (await real()).run(shape, inputs, runOptions),
    buffers: () => ready?.buffers() ?? null,
    readEntries: async (cells, from) => (await real()).readEntries(cells, from),
    readRows: async (rows, from) => (await real()).readRows(rows, from),
    get bufferSets() {
      return ready?.bufferSets ?? 0;
    },
    destroy() {
      destroyed = true;
      ready?.destroy();
    },
  };
}

/** Open a session: request a device and build (or, with `kernels: 'first-use'`, prepare) the kernels. */
export async function createAttentionSession(options: AttentionSessionOptions = {}): Promise<AttentionSession> {
  const makeAttention = (d: GPUDevice): GpuAttention | Promise<GpuAttention> => (options.kernels === 'first-use' ? lazyGpuAttention(d) : createGpuAttention(d));
  let device = await requestGpuDevice(options);
  let attention = await deviceRegistry(device).get(ATTENTION_KEY, makeAttention);
  let recoveries = 0;
  let closing = false;
  let recovering: Promise<void> = Promise.resolve();
  const listeners = new Set<(event: { recovered: boolean; message: string; error?: Error }) => void>();
  const emit = (event: { recovered: boolean; message: string; error?: Error }) => listeners.forEach((l) => l(event));

  const watch = (watched: GPUDevice) => {
    // The registry of `watched` destroys everything built on it when it is lost (it subscribed
    // to the loss first, when it was made); the session only brings up the next device.
    deviceRegistry(watched).onLost((info) => {
      if (closing || watched !== device) return;
      const message = info.message || info.reason;
      emit({ recovered: false, message });
      recovering = (async () => {
        try {
          device = await requestGpuDevice(options);
          attention = await deviceRegistry(device).get(ATTENTION_KEY, makeAttention);
          recoveries++;
          watch(device);
          emit({ recovered: true, message });
        } catch (error) {
          emit({ recovered: false, message, error: error as Error });
          throw error;
        }
      })();
      // Seen through ready(), run() and get(); not an unhandled rejection here.
      recovering.catch(() => undefined);
    });
  };
  watch(device);

  return {
    get device() {
      return device;
    },
    get attention() {
      return attention;
    },
    get registry() {
      return deviceRegistry(device);
    },
    get recoveries() {
      return recoveries;
    },
    async get(key, create) {
      await recovering;
      return deviceRegistry(device).get(key, create);
    },
    async run(shape, inputs, runOptions) {
      await recovering;
      // The device this run uses: a recovery may replace `device` before the run settles.
      const runDevice = device;
      try {
        return await attention.run(shape, inputs, runOptions);
      } catch (error) {
        if (error instanceof GpuDeviceLostError) throw error;
        // A loss can surface as another error (a failed mapAsync, say) before `lost` settles.
        if (await Promise.race([runDevice.lost.then(() => true), new Promise((r) => setTimeout(() => r(false), 50))])) {
          throw new GpuDeviceLostError('unknown', (error as Error).message);
        }
        throw error;
      }
    },
    ready: () => recovering,
    loseDevice: () => device.destroy(),
    onDeviceChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    destroy() {
      closing = true;
      deviceRegistry(device).clear();
      device.destroy();
    },
  };
}
