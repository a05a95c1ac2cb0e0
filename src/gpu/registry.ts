/**
 * One registry per GPUDevice of the things built on it (runners, packers, reducers): each is
 * created once, by key, the first time someone asks, and every one is destroyed and forgotten
 * when the device is lost or destroyed. Whoever needs a runner asks the registry of the current
 * device, so after a loss the next ask builds a fresh one on the new device: no hand-kept list
 * of things to reset.
 */
import { GpuDeviceLostError } from '../core/errors';

/** Anything the registry can free. */
export interface Destroyable {
  destroy(): void;
}

/** The things built on one device. Get it with {@link deviceRegistry}. */
export interface DeviceRegistry {
  readonly device: GPUDevice;
  /** The loss, once the device is lost (then every entry was destroyed and `get` refuses). */
  readonly lost: GPUDeviceLostInfo | null;
  /**
   * The entry under `key`, made by `create(device)` the first time (concurrent asks share one
   * creation; a failed creation is forgotten, so the next ask tries again). Rejects with
   * GpuDeviceLostError once the device is lost: ask the registry of the new device instead.
   */
  get<T extends Destroyable>(key: string, create: (device: GPUDevice) => T | Promise<T>): Promise<T>;
  /** The entry under `key` if it was created and is ready, else undefined. Starts nothing. */
  peek<T extends Destroyable>(key: string): T | undefined;
  /** Destroy and forget the entry under `key` (e.g. a model that was replaced). */
  drop(key: string): void;
  /** The keys created or being created. */
  keys(): string[];
  /**
   * Called once when the device is lost, after every entry was destroyed: the place to
   * recompute what was shown (on a new device). Returns the unsubscribe function.
   */
  onLost(listener: (info: GPUDeviceLostInfo) => void): () => void;
  /** Destroy and forget every entry (the device stays the caller's and usable). */
  clear(): void;
}

interface Entry {
  promise: Promise<Destroyable>;
  value: Destroyable | null;
}

const registries = new WeakMap<GPUDevice, DeviceRegistry>();

/** The registry of `device` (one per device, made on first use). */
export function deviceRegistry(device: GPUDevice): DeviceRegistry {
  let registry = registries.get(device);
  if (!registry) {
    registry = createRegistry(device);
    registries.set(device, registry);
  }
  return registry;
}

function createRegistry(device: GPUDevice): DeviceRegistry {
  const entries = new Map<string, Entry>();
  const listeners = new Set<(info: GPUDeviceLostInfo) => void>();
  let lost: GPUDeviceLostInfo | null = null;

  /** Destroy an entry now if it is ready, else as soon as its creation settles. */
  const dispose = (entry: Entry) => {
    if (entry.value) entry.value.destroy();
    else void entry.promise.then((value) => value.destroy(), () => undefined);
  };
  const clear = () => {
    const all = [...entries.values()];
    entries.clear();
    all.forEach(dispose);
  };

  void device.lost.then((info) => {
    lost = info;
    clear();
    for (const listener of [...listeners]) listener(info);
  });

  return {
    device,
    get lost() {
      return lost;
    },
    get<T extends Destroyable>(key: string, create: (device: GPUDevice) => T | Promise<T>): Promise<T> {
      if (lost) return Promise.reject(new GpuDeviceLostError(lost.reason, `${lost.message || 'no detail given'}; ask the registry of the new device for '${key}'`));
      const existing = entries.get(key);
      if (existing) return existing.promise as Promise<T>;
      const entry: Entry = { promise: Promise.resolve().then(() => create(device)), value: null };
      entries.set(key, entry);
      entry.promise.then(
        (value) => {
          // Cleared (or the device lost) while it was being made: dispose already destroys it.
          if (entries.get(key) === entry) entry.value = value;
        },
        () => {
          if (entries.get(key) === entry) entries.delete(key);
        },
      );
      return entry.promise as Promise<T>;
    },
    peek<T extends Destroyable>(key: string) {
      return (entries.get(key)?.value ?? undefined) as T | undefined;
    },
    drop(key) {
      const entry = entries.get(key);
      if (!entry) return;
      entries.delete(key);
      dispose(entry);
    },
    keys: () => [...entries.keys()],
    onLost(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    clear,
  };
}
