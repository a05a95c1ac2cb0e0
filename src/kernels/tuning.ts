/**
 * What kind of adapter a device came from, and how the kernels are tuned for it. One
 * classification, used by every kernel family, the scene (antialiasing), the app and the
 * benchmark (labels): a software adapter (SwiftShader, llvmpipe, WARP) is a CPU running WebGPU,
 * where loads and barriers cost more than arithmetic; a GPU rewards the opposite.
 */
import type { LaneTile } from './lane-tiles';

/** The adapter facts the kernels are tuned by. */
export interface AdapterClass {
  /** A CPU implementation of WebGPU (SwiftShader, llvmpipe/lavapipe, WARP, a fallback adapter). */
  software: boolean;
  /** The device has the 'subgroups' feature. */
  subgroups: boolean;
  /** Subgroup sizes the adapter reports, [min, max]; null when unknown. */
  subgroupSizes: [number, number] | null;
  /** 'subgroups' with every subgroup exactly 4 lanes wide (what the lane-tile kernels assume). */
  fourLaneSubgroups: boolean;
}

/** What the app and the benchmark say about the adapter a device came from. */
export interface AdapterDescription {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** True for CPU implementations (SwiftShader, WARP, llvmpipe): their timings are not a GPU's. */
  isSoftware: boolean;
  /** One line for people, e.g. `google swiftshader (software adapter)`. */
  label: string;
  features: string[];
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
}

type AdapterInfoWithSubgroups = GPUAdapterInfo & { subgroupMinSize?: number; subgroupMaxSize?: number; isFallbackAdapter?: boolean };

function adapterInfo(device: GPUDevice): AdapterInfoWithSubgroups | undefined {
  return (device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo as AdapterInfoWithSubgroups | undefined;
}

/** Names that mark a CPU implementation of WebGPU in the adapter info. */
const SOFTWARE_ADAPTER = /swiftshader|llvmpipe|lavapipe|warp|software|microsoft basic render/;

/** Whether text from an adapter's info names a software adapter (exported for unit tests). */
export function isSoftwareAdapterText(text: string): boolean {
  return SOFTWARE_ADAPTER.test(text.toLowerCase());
}

/** Classify the adapter behind a device (from `GPUDevice.adapterInfo` and its features). */
export function classifyAdapter(device: GPUDevice): AdapterClass {
  const info = adapterInfo(device);
  const text = `${info?.vendor ?? ''} ${info?.architecture ?? ''} ${info?.device ?? ''} ${info?.description ?? ''}`;
  const subgroups = device.features.has('subgroups' as GPUFeatureName);
  const sizes: [number, number] | null =
    info?.subgroupMinSize !== undefined && info?.subgroupMaxSize !== undefined ? [info.subgroupMinSize, info.subgroupMaxSize] : null;
  return {
    software: isSoftwareAdapterText(text) || info?.isFallbackAdapter === true,
    subgroups,
    subgroupSizes: sizes,
    fourLaneSubgroups: subgroups && sizes !== null && sizes[0] === 4 && sizes[1] === 4,
  };
}

/** Describe the adapter behind a device for people (badge, timings card, bench report). */
export function describeDevice(device: GPUDevice): AdapterDescription {
  const info = adapterInfo(device);
  const vendor = info?.vendor ?? '';
  const architecture = info?.architecture ?? '';
  const deviceName = info?.device ?? '';
  const description = info?.description ?? '';
  const isSoftware = classifyAdapter(device).software;
  const name = [vendor, architecture, deviceName].filter(Boolean).join(' ') || description || 'unknown adapter';
  return {
    vendor,
    architecture,
    device: deviceName,
    description,
    isSoftware,
    label: isSoftware ? `${name} (software adapter: a CPU, not a GPU)` : name,
    features: [...device.features].sort(),
    maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize,
    maxBufferSize: device.limits.maxBufferSize,
  };
}

/** 'subgroups' with every subgroup exactly 4 lanes wide (what the lane-tile kernels assume). */
export function hasFourLaneSubgroups(device: GPUDevice): boolean {
  return classifyAdapter(device).fourLaneSubgroups;
}

/** How the kernels are launched (WGSL `override` constants and entry points). */
export interface AttentionTuning {
  /** Invocations along x and y of the matmul-shaped kernels (each computes a 4×4 projection tile or an 8×8 scores/output tile). */
  matmulWorkgroup: [number, number];
  /** Softmax workgroup size: invocations per row ('workgroup-per-row') or rows per workgroup. */
  softmaxWorkgroup: number;
  /**
   * 'workgroup-per-row': invocations share a row and merge in workgroup memory (GPUs).
   * 'row-per-invocation': one invocation per row, no barriers (CPU implementations such as
   * SwiftShader, where a barrier costs more than the arithmetic it saves).
   * 'subgroup': a workgroup per row as 'workgroup-per-row', reduced with subgroupMax /
   * subgroupAdd so only the merge across subgroups goes through workgroup memory (one barrier).
   * Needs the device feature 'subgroups'; `createGpuAttention` throws an `AttentionError`
   * where it is missing.
   */
  softmaxMode: 'workgroup-per-row' | 'row-per-invocation' | 'subgroup';
  /**
   * Lane tiles (shaders/*-lanes.wgsl): the matrix products computed by teams of 4 lanes that
   * share loads through subgroupBroadcast, the block each team computes per kernel. For CPU
   * implementations (SwiftShader), where a subgroup is one 4-wide SIMD register and loads cost
   * most; needs 'subgroups' exactly 4 lanes wide (`createGpuAttention` throws an
   * `AttentionError` otherwise). Absent: the per-invocation register tiles.
   */
  laneTiles?: { projections: LaneTile; scores: LaneTile; output: LaneTile };
  /**
   * How the model's linear steps and logits (src/kernels/model-linear.ts) run. Absent:
   * 'registers'.
   */
  linear?: LinearTuning;
  /**
   * The fused attention kernel: 'loop' (shaders/flash.wgsl, any dHead up to 128: two query rows
   * an invocation, q and the accumulator in private arrays indexed by a loop counter) or
   * 'unrolled' (shaders/flash-fixed.wgsl, written out for dHead 16, 32 and 64: 4–8 rows an
   * invocation, keys in blocks of 2–4, every vec4 a named value: 5× faster on SwiftShader; other
   * head sizes take 'loop'). Not measured on a GPU, so GPUs keep 'loop'.
   * Absent: 'loop'.
   */
  fused?: 'loop' | 'unrolled';
}

/**
 * The model's linear kernels: 'registers' (shaders/linear.wgsl: a 4-row × 4-column
 * register tile per invocation, no workgroup memory); 'lanes' (shaders/linear-lanes.wgsl: teams
 * of 4 lanes sharing loads through subgroupBroadcast, for software adapters with 4-lane
 * subgroups; the team's block is `tile`); 'workgroup' (shaders/linear-workgroup.wgsl: blocks of
 * x and W staged in workgroup memory, for hardware GPUs).
 */
export type LinearTuning = { kind: 'registers' } | { kind: 'workgroup' } | { kind: 'lanes'; tile: LaneTile };

/**
 * Tuning for GPUs with the 'subgroups' feature: 64 invocations everywhere, a workgroup per
 * softmax row reduced with subgroup operations, the model's linear kernels staged through
 * workgroup memory.
 */
export const DEFAULT_TUNING: AttentionTuning = { matmulWorkgroup: [8, 8], softmaxWorkgroup: 64, softmaxMode: 'subgroup', linear: { kind: 'workgroup' } };

/** Tuning for GPUs without 'subgroups': {@link DEFAULT_TUNING} with the workgroup-memory tree reduction. */
export const WORKGROUP_TUNING: AttentionTuning = { ...DEFAULT_TUNING, softmaxMode: 'workgroup-per-row' };

/** Tuning for software adapters (SwiftShader and the like). */
export const SOFTWARE_TUNING: AttentionTuning = { matmulWorkgroup: [8, 8], softmaxWorkgroup: 64, softmaxMode: 'row-per-invocation', fused: 'unrolled' };

/**
 * Tuning for software adapters whose subgroups are 4 lanes wide (SwiftShader): {@link
 * SOFTWARE_TUNING} with lane tiles for the three matrix products. The tile sizes were measured
 * on SwiftShader at seqLen 2048, dModel 64, one head of 64 (total 188 ms against 310 ms for the
 * per-invocation tiles); 16 × 16 scores tiles were ~25% slower, 16 × 64 slower again. The
 * model's linear kernels use lane tiles too (32 × 32: on GPT-2 small's shapes at 128 tokens
 * 16 × 32, 16 × 64 and 32 × 48 were within this machine's run-to-run noise of it, and 2.5–3×
 * faster than the register tiles).
 */
export const LANE_TUNING: AttentionTuning = {
  ...SOFTWARE_TUNING,
  laneTiles: { projections: { rows: 16, cols: 32 }, scores: { rows: 32, cols: 32 }, output: { rows: 32, cols: 32 } },
  linear: { kind: 'lanes', tile: { rows: 32, cols: 32 } },
};

/** The tuning for an adapter class (pure: see {@link tuningFor}). */
export function tuningForClass(adapter: AdapterClass): AttentionTuning {
  if (adapter.software) return adapter.fourLaneSubgroups ? LANE_TUNING : SOFTWARE_TUNING;
  return adapter.subgroups ? DEFAULT_TUNING : WORKGROUP_TUNING;
}

/**
 * The tuning this device should use: on software adapters {@link LANE_TUNING} where subgroups
 * are 4 lanes wide, else {@link SOFTWARE_TUNING}; on GPUs {@link DEFAULT_TUNING} where the
 * device has 'subgroups', else {@link WORKGROUP_TUNING}.
 */
export function tuningFor(device: GPUDevice): AttentionTuning {
  return tuningForClass(classifyAdapter(device));
}

/** How long submissions of the fused path are, per adapter class (see `FlashOptions.chunkWork`). */
export interface ChunkPolicy {
  /** Multiply-adds per submission. */
  chunkWork: number;
  /** Never fewer workgroups per submission than this, or the device idles. */
  minChunkGroups: number;
}

/**
 * Chunks of about a quarter second on a software adapter (2²⁷ multiply-adds, at least 2
 * workgroups per CPU thread), 2³¹ multiply-adds and at least 1024 workgroups on a GPU.
 */
export function chunkPolicyFor(adapter: AdapterClass, cpuThreads: number): ChunkPolicy {
  return adapter.software ? { chunkWork: 2 ** 27, minChunkGroups: 2 * cpuThreads } : { chunkWork: 2 ** 31, minChunkGroups: 1024 };
}

/** CPU threads of this machine (the browser's `navigator.hardwareConcurrency`; 4 when unknown). */
export function cpuThreads(): number {
  return (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ?? 4;
}
