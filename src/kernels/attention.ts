/**
 * The GPU attention pipeline: projections → scores → softmax → output, one compute pass per
 * stage (so each can be timed), every head in the same dispatches. Buffers are reused between
 * runs and stay on the device, so the 3D scene can draw the weights without a readback.
 */
import {
  AttentionAbortError,
  AttentionError,
  AttentionInputError,
  GpuDeviceLostError,
  GpuOutOfMemoryError,
} from '../core/errors';
import {
  RESULT_NAMES,
  STAGE_NAMES,
  resultLengths,
  type AttentionInputs,
  type AttentionResult,
  type AttentionShape,
  type ResolvedShape,
  type ResultName,
  type StageTimings,
} from '../core/types';
import { validateAttention } from '../core/validate';
import { GrowableBuffer, checkStorageSize } from '../gpu/buffers';
import { createPassTimer } from '../gpu/timer';
import { packedLayout, uploadInputs } from './packing';
import { createSerialQueue } from '../core/serial';
import { ATTENTION_SHADERS, ATTENTION_SHADER_FILES, LANE_SHADERS, LANE_SHADER_FILES, MAP_TILE, NARROW_ROWS, PARAMS_BYTES, PROJ_TILE } from './shaders';
import type { LaneTile } from './lane-tiles';

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
   * Needs the device feature 'subgroups'; {@link createGpuAttention} throws an
   * {@link AttentionError} where it is missing.
   */
  softmaxMode: 'workgroup-per-row' | 'row-per-invocation' | 'subgroup';
  /**
   * Lane tiles (shaders/*-lanes.wgsl): the matrix products computed by teams of 4 lanes that
   * share loads through subgroupBroadcast, the block each team computes per kernel. For CPU
   * implementations (SwiftShader), where a subgroup is one 4-wide SIMD register and loads cost
   * most; needs 'subgroups' exactly 4 lanes wide ({@link createGpuAttention} throws an
   * {@link AttentionError} otherwise). Absent: the per-invocation register tiles.
   */
  laneTiles?: { projections: LaneTile; scores: LaneTile; output: LaneTile };
}

/** Tuning for GPUs with the 'subgroups' feature: 64 invocations everywhere, a workgroup per softmax row reduced with subgroup operations. */
export const DEFAULT_TUNING: AttentionTuning = { matmulWorkgroup: [8, 8], softmaxWorkgroup: 64, softmaxMode: 'subgroup' };

/** Tuning for GPUs without 'subgroups': {@link DEFAULT_TUNING} with the workgroup-memory tree reduction. */
export const WORKGROUP_TUNING: AttentionTuning = { ...DEFAULT_TUNING, softmaxMode: 'workgroup-per-row' };

/** Tuning for software adapters (SwiftShader and the like). */
export const SOFTWARE_TUNING: AttentionTuning = { matmulWorkgroup: [8, 8], softmaxWorkgroup: 64, softmaxMode: 'row-per-invocation' };

/**
 * Tuning for software adapters whose subgroups are 4 lanes wide (SwiftShader): {@link
 * SOFTWARE_TUNING} with lane tiles for the three matrix products. The tile sizes were measured
 * on SwiftShader at seqLen 2048, dModel 64, one head of 64 (total 188 ms against 310 ms for the
 * per-invocation tiles); 16 × 16 scores tiles were ~25% slower, 16 × 64 slower again.
 */
export const LANE_TUNING: AttentionTuning = {
  ...SOFTWARE_TUNING,
  laneTiles: { projections: { rows: 16, cols: 32 }, scores: { rows: 32, cols: 32 }, output: { rows: 32, cols: 32 } },
};

/**
 * The tuning this device should use: on software adapters (from the adapter info) {@link
 * LANE_TUNING} where subgroups are 4 lanes wide, else {@link SOFTWARE_TUNING}; on GPUs {@link
 * DEFAULT_TUNING} where the device has 'subgroups', else {@link WORKGROUP_TUNING}.
 */
export function tuningFor(device: GPUDevice): AttentionTuning {
  const info = adapterInfo(device);
  const text = `${info?.vendor ?? ''} ${info?.architecture ?? ''} ${info?.description ?? ''}`.toLowerCase();
  if (/swiftshader|llvmpipe|lavapipe|warp/.test(text)) return hasFourLaneSubgroups(device) ? LANE_TUNING : SOFTWARE_TUNING;
  return hasSubgroups(device) ? DEFAULT_TUNING : WORKGROUP_TUNING;
}

function adapterInfo(device: GPUDevice): (GPUAdapterInfo & { subgroupMinSize?: number; subgroupMaxSize?: number }) | undefined {
  return (device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo;
}

function hasSubgroups(device: GPUDevice): boolean {
  return device.features.has('subgroups' as GPUFeatureName);
}

/** 'subgroups' with every subgroup exactly 4 lanes wide (what the lane-tile kernels assume). */
export function hasFourLaneSubgroups(device: GPUDevice): boolean {
  const info = adapterInfo(device);
  return hasSubgroups(device) && info?.subgroupMinSize === 4 && info?.subgroupMaxSize === 4;
}

/** Options of one {@link GpuAttention.run}. */
export interface RunOptions<K extends ResultName = ResultName> {
  /** Which arrays to copy back to the CPU (default: all six). Fewer is faster. */
  read?: readonly K[];
  /** Cancels the run before its next step; the promise rejects with an `AbortError`. */
  signal?: AbortSignal;
  /** Force wall-clock timing even when timestamp queries are available. */
  timing?: 'auto' | 'wall-clock';
}

/** What a run resolves to: the arrays asked for, and the stage timings. */
export type RunResult<K extends ResultName = ResultName> = Pick<AttentionResult, K> & { timings: StageTimings };

/** The device buffers of the last completed run, for drawing without a readback. */
export interface AttentionBuffers {
  shape: ResolvedShape;
  /** q | k | v packed: q at 0, k at `kOffset`, v at `vOffset` (in f32 elements). */
  qkv: GPUBuffer;
  kOffset: number;
  vOffset: number;
  /** heads × seqLen × kvLen; −∞ where masked. */
  scores: GPUBuffer;
  /** heads × seqLen × kvLen. */
  weights: GPUBuffer;
  /** seqLen × heads·dHead. */
  output: GPUBuffer;
  /** Increases whenever a buffer is replaced (bind groups built on the old ones are stale). */
  generation: number;
}

/** Attention on one GPUDevice. Create with {@link createGpuAttention}. */
export interface GpuAttention {
  readonly device: GPUDevice;
  /**
   * Validate, upload, compute all four stages and copy back the arrays asked for. Runs on
   * one instance are queued: each starts after the previous one finished.
   */
  run<K extends ResultName = ResultName>(
    shape: AttentionShape,
    inputs: AttentionInputs,
    options?: RunOptions<K>,
  ): Promise<RunResult<K>>;
  /** Buffers of the last completed run (null before the first); valid until the next run or destroy. */
  buffers(): AttentionBuffers | null;
  /**
   * Read single map entries of the last run (for hover readouts on maps too large to copy
   * back): `[head, query, key]` each; resolves with the score and weight of each.
   */
  readEntries(cells: ReadonlyArray<readonly [number, number, number]>): Promise<Array<{ score: number; weight: number }>>;
  /**
   * Read whole query rows of the last run: scores and weights as heads × rows × kvLen, output
   * as rows × width (the layout of `attentionCpuRows`), to verify maps too large to copy back.
   */
  readRows(rows: readonly number[]): Promise<{ scores: Float32Array; weights: Float32Array; output: Float32Array }>;
  /** Free every GPU object this instance made. The device itself is the caller's. */
  destroy(): void;
}

interface Pipelines {
  projections: GPUComputePipeline;
  scores: GPUComputePipeline;
  softmax: GPUComputePipeline;
  output: GPUComputePipeline;
  /** The output kernel's narrow variant, per workgroup shape `${x}x${y}`, compiled on first use. */
  outputNarrow: (workgroup: [number, number]) => Promise<GPUComputePipeline>;
  /** The lane-tile output kernel for a column count (lane tunings only), compiled on first use. */
  outputLanes: (cols: number) => Promise<GPUComputePipeline>;
}

/** How the output (P·V) stage is launched for one shape. */
export interface OutputLaunch {
  /**
   * 'wide': 8 queries × 8 columns per invocation; 'narrow': 16 queries × 4 columns (small
   * dHead); 'lanes': the lane-tile kernel (tunings with laneTiles), 4 teams of 4 lanes.
   */
  variant: 'wide' | 'narrow' | 'lanes';
  /** Workgroup size (x along head columns, y along queries). */
  workgroup: [number, number];
  /** Head columns and queries one workgroup covers. */
  tile: [number, number];
}

/**
 * Choose the output kernel for a head size: the 8 × 8 tile while a head fills at least half of
 * a workgroup's columns; otherwise the 16 × 4 variant with just enough invocations along x to
 * cover dHead (a power of two), the rest along y (at most 16, so a workgroup spans ≤ 256 queries).
 */
export function outputLaunch(dHead: number, tuning: AttentionTuning): OutputLaunch {
  if (tuning.laneTiles) {
    // Columns: the smallest power of two from 4 that covers dHead, at most the tuning's.
    const { rows, cols: most } = tuning.laneTiles.output;
    let cols = 4;
    while (cols < dHead && cols * 2 <= most) cols *= 2;
    return { variant: 'lanes', workgroup: [16, 1], tile: [cols, 4 * rows] };
  }
  const [wgX, wgY] = tuning.matmulWorkgroup;
  if (2 * dHead > wgX * MAP_TILE) return { variant: 'wide', workgroup: [wgX, wgY], tile: [wgX * MAP_TILE, wgY * MAP_TILE] };
  const total = wgX * wgY;
  let x = 1;
  while (x < Math.ceil(dHead / 4) && 2 * x <= total) x *= 2;
  const y = Math.max(1, Math.min(16, Math.floor(total / x)));
  return { variant: 'narrow', workgroup: [x, y], tile: [x * 4, y * NARROW_ROWS] };
}

const pipelineCache = new WeakMap<GPUDevice, Map<string, Promise<Pipelines>>>();

function getPipelines(device: GPUDevice, tuning: AttentionTuning): Promise<Pipelines> {
  let perDevice = pipelineCache.get(device);
  if (!perDevice) {
    perDevice = new Map();
    pipelineCache.set(device, perDevice);
  }
  const key = JSON.stringify(tuning);
  let pipelines = perDevice.get(key);
  if (!pipelines) {
    pipelines = buildPipelines(device, tuning);
    perDevice.set(key, pipelines);
    pipelines.catch(() => perDevice.delete(key));
  }
  return pipelines;
}

async function buildPipelines(device: GPUDevice, tuning: AttentionTuning): Promise<Pipelines> {
  const [wgX, wgY] = tuning.matmulWorkgroup;
  const matmulConstants = { WG_X: wgX, WG_Y: wgY };
  const compile = async (label: string, file: string, code: string, constants: Record<string, number>, entryPoint = 'main') => {
    const module = device.createShaderModule({ label: `attention/${label} shader`, code });
    const info = await module.getCompilationInfo();
    const errors = info.messages.filter((m) => m.type === 'error');
    if (errors.length > 0) {
      const lines = errors.map((m) => `${file} (with common.wgsl) line ${m.lineNum}:${m.linePos}: ${m.message}`);
      throw new AttentionError(`The ${label} kernel failed to compile:\n${lines.join('\n')}`);
    }
    return device.createComputePipelineAsync({
      label: `attention/${label}${entryPoint === 'main' ? '' : `.${entryPoint}`} pipeline`,
      layout: 'auto',
      compute: { module, entryPoint, constants },
    });
  };
  const make = (name: keyof typeof ATTENTION_SHADERS, constants: Record<string, number>, entryPoint = 'main') =>
    compile(name, ATTENTION_SHADER_FILES[name], ATTENTION_SHADERS[name], constants, entryPoint);
  const lanes = tuning.laneTiles;
  const makeLanes = (name: keyof typeof LANE_SHADERS, tile: LaneTile) =>
    compile(`${name} lanes ${tile.rows}×${tile.cols}`, LANE_SHADER_FILES[name], LANE_SHADERS[name](tile), {});
  device.pushErrorScope('validation');
  const all = Promise.all([
    lanes ? makeLanes('projections', lanes.projections) : make('projections', matmulConstants),
    lanes ? makeLanes('scores', lanes.scores) : make('scores', matmulConstants),
    tuning.softmaxMode === 'subgroup'
      ? make('softmaxSubgroup', { WG_SIZE: tuning.softmaxWorkgroup })
      : make('softmax', { WG_SIZE: tuning.softmaxWorkgroup }, tuning.softmaxMode === 'row-per-invocation' ? 'rowPerInvocation' : 'main'),
    lanes ? null : make('output', matmulConstants),
  ]);
  const scopeError = device.popErrorScope();
  const [projections, scores, softmax, wide] = await all;
  const error = await scopeError;
  if (error) throw new AttentionError(`Compiling the attention kernels failed: ${error.message}`);
  const narrow = new Map<string, Promise<GPUComputePipeline>>();
  const outputNarrow = ([x, y]: [number, number]) => {
    const key = `${x}x${y}`;
    let pipeline = narrow.get(key);
    if (!pipeline) {
      pipeline = make('output', { WG_X: x, WG_Y: y }, 'narrow');
      narrow.set(key, pipeline);
      pipeline.catch(() => narrow.delete(key));
    }
    return pipeline;
  };
  const laneOutputs = new Map<number, Promise<GPUComputePipeline>>();
  const outputLanes = (cols: number) => {
    if (!lanes) return Promise.reject(new AttentionError('This tuning has no lane tiles.'));
    let pipeline = laneOutputs.get(cols);
    if (!pipeline) {
      pipeline = makeLanes('output', { rows: lanes.output.rows, cols });
      laneOutputs.set(cols, pipeline);
      pipeline.catch(() => laneOutputs.delete(cols));
    }
    return pipeline;
  };
  // With lane tiles the wide output kernel is never launched (outputLaunch picks 'lanes').
  const output = wide ?? (await outputLanes(lanes!.output.cols));
  return { projections, scores, softmax, output, outputNarrow, outputLanes };
}

/** A 2-D dispatch size holding `count` workgroups within `maxPerDimension`. */
function spread(count: number, maxPerDimension: number): [number, number] {
  if (count <= maxPerDimension) return [count, 1];
  const y = Math.ceil(count / maxPerDimension);
  return [Math.ceil(count / y), y];
}

/**
 * Create the GPU attention pipeline on a device (compiles the four kernels; cached per
 * device and tuning). The device stays the caller's: `destroy()` frees only what this made.
 */
export async function createGpuAttention(device: GPUDevice, tuning: AttentionTuning = tuningFor(device)): Promise<GpuAttention> {
  if (tuning.laneTiles && !hasFourLaneSubgroups(device)) {
    const info = adapterInfo(device);
    throw new AttentionError(
      `Lane tiles need the WebGPU feature 'subgroups' with subgroups exactly 4 lanes wide; this device has ${hasSubgroups(device) ? `subgroups of ${info?.subgroupMinSize ?? '?'} to ${info?.subgroupMaxSize ?? '?'} lanes` : "no 'subgroups'"} (tuningFor(device) picks a tuning without them).`,
    );
  }
  if (tuning.softmaxMode === 'subgroup' && !hasSubgroups(device)) {
    throw new AttentionError(
      "softmaxMode 'subgroup' needs the WebGPU feature 'subgroups', which is missing on this device; use softmaxMode 'workgroup-per-row' (tuningFor(device) picks it).",
    );
  }
  const pipelines = await getPipelines(device, tuning);
  let lostReason: GPUDeviceLostInfo | null = null;
  void device.lost.then((info) => {
    lostReason = info;
  });

  const storage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
  const slots = {
    src: new GrowableBuffer(device, 'attention/src (x | xKV)', storage),
    w: new GrowableBuffer(device, 'attention/w (wq | wk | wv)', storage),
    qkv: new GrowableBuffer(device, 'attention/qkv', storage),
    scores: new GrowableBuffer(device, 'attention/scores', storage),
    weights: new GrowableBuffer(device, 'attention/weights', storage),
    output: new GrowableBuffer(device, 'attention/output', storage),
  };
  const params = device.createBuffer({
    label: 'attention/params',
    size: PARAMS_BYTES,
    usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
  });
  const timer = createPassTimer(device, STAGE_NAMES.length, 'attention');
  let destroyed = false;
  let last: AttentionBuffers | null = null;
  let generation = 0;
  const enqueue = createSerialQueue();

  const checkAlive = () => {
    // A loss first: the session destroys the pipeline of a lost device, and the caller must
    // learn that the device went, not that someone destroyed the pipeline.
    if (lostReason) throw new GpuDeviceLostError(lostReason.reason, lostReason.message);
    if (destroyed) throw new AttentionError('This GpuAttention was destroyed; create a new one.');
  };
  const checkAbort = (signal: AbortSignal | undefined) => {
    if (signal?.aborted) throw new AttentionAbortError();
  };

  async function runNow<K extends ResultName>(
    shape: AttentionShape,
    inputs: AttentionInputs,
    options: RunOptions<K>,
  ): Promise<RunResult<K>> {
    const s = validateAttention(shape, inputs);
    checkAlive();
    checkAbort(options.signal);
    const lengths = resultLengths(s);
    const layout = packedLayout(s, inputs);
    const { kOffset, vOffset } = layout;
    const bytes = {
      ...layout.bytes,
      scores: 4 * lengths.scores,
      weights: 4 * lengths.weights,
      output: 4 * lengths.output,
    };
    for (const [field, size] of Object.entries(bytes)) checkStorageSize(device, field, size);

    const maxGroups = device.limits.maxComputeWorkgroupsPerDimension;
    const [wgX, wgY] = tuning.matmulWorkgroup;
    const [mapX, mapY] = [wgX * MAP_TILE, wgY * MAP_TILE];
    const outLaunch = outputLaunch(s.dHead, tuning);
    const lanes = tuning.laneTiles;
    const dispatches = {
      projections: lanes
        ? [Math.ceil(s.width / lanes.projections.cols), Math.ceil(Math.max(s.seqLen, s.kvLen) / (4 * lanes.projections.rows)), 3]
        : [Math.ceil(s.width / (wgX * PROJ_TILE)), Math.ceil(Math.max(s.seqLen, s.kvLen) / (wgY * PROJ_TILE)), 3],
      scores: lanes
        ? [Math.ceil(s.kvLen / (4 * lanes.scores.cols)), Math.ceil(s.seqLen / (4 * lanes.scores.rows)), s.heads]
        : [Math.ceil(s.kvLen / mapX), Math.ceil(s.seqLen / mapY), s.heads],
      softmax: [...spread(tuning.softmaxMode === 'row-per-invocation' ? Math.ceil((s.heads * s.seqLen) / tuning.softmaxWorkgroup) : s.heads * s.seqLen, maxGroups), 1],
      output: [Math.ceil(s.dHead / outLaunch.tile[0]), Math.ceil(s.seqLen / outLaunch.tile[1]), s.heads],
    } satisfies Record<string, number[]>;
    for (const [stage, dims] of Object.entries(dispatches)) {
      const worst = Math.max(...dims);
      if (worst > maxGroups) {
        const field = stage === 'scores' && dims[0] === worst ? 'kvLen' : stage === 'projections' && dims[0] === worst ? 'heads·dHead' : dims[2] === worst ? 'heads' : 'seqLen';
        throw new AttentionInputError(
          field,
          `a ${stage} dispatch of ${worst} workgroups in one dimension`,
          `at most ${maxGroups} (maxComputeWorkgroupsPerDimension)`,
          'too-large',
        );
      }
    }

    const outputPipeline =
      outLaunch.variant === 'wide'
        ? pipelines.output
        : outLaunch.variant === 'lanes'
          ? await pipelines.outputLanes(outLaunch.tile[0])
          : await pipelines.outputNarrow(outLaunch.workgroup);
    checkAlive();
    checkAbort(options.signal);

    // Allocation, upload and encoding happen synchronously inside one error scope, so a
    // failed allocation or a validation error is reported here and nothing else's errors leak in.
    // From here the previous run's buffers are overwritten (or replaced when they grow): until
    // this run completes there is no run to read from (buffers(), readEntries, readRows).
    last = null;
    device.pushErrorScope('out-of-memory');
    device.pushErrorScope('validation');
    const before = Object.fromEntries(Object.entries(slots).map(([k, slot]) => [k, slot.current]));
    const buffers = {
      src: slots.src.ensure(bytes.src),
      w: slots.w.ensure(bytes.w),
      qkv: slots.qkv.ensure(bytes.qkv),
      scores: slots.scores.ensure(bytes.scores),
      weights: slots.weights.ensure(bytes.weights),
      output: slots.output.ensure(bytes.output),
    };
    if (Object.entries(buffers).some(([k, b]) => before[k] !== b)) generation++;

    uploadInputs(device, { params, src: buffers.src, w: buffers.w }, s, inputs, layout);

    const bind = (pipeline: GPUComputePipeline, name: string, resources: GPUBuffer[]) =>
      device.createBindGroup({
        label: `attention/${name} bind group`,
        layout: pipeline.getBindGroupLayout(0),
        entries: [params, ...resources].map((buffer, binding) => ({ binding, resource: { buffer } })),
      });
    const stages: Array<{ name: (typeof STAGE_NAMES)[number]; pipeline: GPUComputePipeline; group: GPUBindGroup; dims: number[] }> = [
      { name: 'projections', pipeline: pipelines.projections, group: bind(pipelines.projections, 'projections', [buffers.src, buffers.w, buffers.qkv]), dims: dispatches.projections },
      { name: 'scores', pipeline: pipelines.scores, group: bind(pipelines.scores, 'scores', [buffers.qkv, buffers.scores]), dims: dispatches.scores },
      { name: 'softmax', pipeline: pipelines.softmax, group: bind(pipelines.softmax, 'softmax', [buffers.scores, buffers.weights]), dims: dispatches.softmax },
      { name: 'output', pipeline: outputPipeline, group: bind(outputPipeline, 'output', [buffers.qkv, buffers.weights, buffers.output]), dims: dispatches.output },
    ];

    const useTimer = timer && options.timing !== 'wall-clock' ? timer : null;
    const encodeStage = (encoder: GPUCommandEncoder, index: number) => {
      const stage = stages[index];
      const pass = encoder.beginComputePass({
        label: `attention/${stage.name} pass`,
        ...(useTimer ? { timestampWrites: useTimer.passWrites(index) } : {}),
      });
      pass.setPipeline(stage.pipeline);
      pass.setBindGroup(0, stage.group);
      pass.dispatchWorkgroups(stage.dims[0], stage.dims[1], stage.dims[2]);
      pass.end();
    };

    const wallTimes: number[] = [];
    let wallTotal = 0;
    let submittedAll: Promise<void>;
    if (useTimer) {
      const encoder = device.createCommandEncoder({ label: 'attention run' });
      stages.forEach((_, index) => encodeStage(encoder, index));
      useTimer.resolve(encoder);
      device.queue.submit([encoder.finish()]);
      submittedAll = Promise.resolve();
    } else {
      // Without timestamps each stage is submitted alone and awaited, so the wall clock
      // brackets one stage at a time (submission overhead included).
      submittedAll = (async () => {
        const start = performance.now();
        for (let index = 0; index < stages.length; index++) {
          checkAbort(options.signal);
          const t0 = performance.now();
          const encoder = device.createCommandEncoder({ label: `attention ${stages[index].name}` });
          encodeStage(encoder, index);
          device.queue.submit([encoder.finish()]);
          await device.queue.onSubmittedWorkDone();
          wallTimes.push(performance.now() - t0);
        }
        wallTotal = performance.now() - start;
      })();
    }
    const validation = device.popErrorScope();
    const outOfMemory = device.popErrorScope();
    const [validationError, memoryError] = await Promise.all([validation, outOfMemory]);
    if (memoryError) {
      // Free what was half-allocated so a retry (or the fused path) starts from nothing.
      for (const slot of Object.values(slots)) slot.destroy();
      throw new GpuOutOfMemoryError(memoryError.message);
    }
    if (validationError) throw new AttentionError(`WebGPU rejected the attention run: ${validationError.message}`);
    try {
      await submittedAll;
    } catch (error) {
      if (lostReason) throw new GpuDeviceLostError(lostReason.reason, lostReason.message);
      throw error;
    }

    const wanted = (options.read ?? RESULT_NAMES) as readonly ResultName[];
    const sources: Record<ResultName, [GPUBuffer, number]> = {
      q: [buffers.qkv, 0],
      k: [buffers.qkv, kOffset],
      v: [buffers.qkv, vOffset],
      scores: [buffers.scores, 0],
      weights: [buffers.weights, 0],
      output: [buffers.output, 0],
    };
    checkAbort(options.signal);
    let arrays: Array<[ResultName, Float32Array]>;
    let gpuTimes: { passes: number[]; total: number } | null = null;
    try {
      const unique = [...new Set(wanted)];
      const staging = unique.map((name) =>
        device.createBuffer({
          label: `attention/${name} readback`,
          size: Math.max(4, lengths[name] * 4),
          usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ,
        }),
      );
      const encoder = device.createCommandEncoder({ label: 'attention readback' });
      unique.forEach((name, index) => {
        const [buffer, offset] = sources[name];
        if (lengths[name] > 0) encoder.copyBufferToBuffer(buffer, offset * 4, staging[index], 0, lengths[name] * 4);
      });
      device.queue.submit([encoder.finish()]);
      // Awaited together, so a loss that rejects both never leaves an unhandled rejection.
      [arrays, gpuTimes] = await Promise.all([
        Promise.all(
          unique.map(async (name, index) => {
            const buffer = staging[index];
            await buffer.mapAsync(GPUMapMode.READ);
            const copy = new Float32Array(buffer.getMappedRange(0, lengths[name] * 4).slice(0));
            buffer.destroy();
            return [name, copy] as [ResultName, Float32Array];
          }),
        ),
        useTimer ? useTimer.read() : Promise.resolve(null),
      ]);
    } catch (error) {
      if (lostReason) throw new GpuDeviceLostError(lostReason.reason, lostReason.message);
      throw error;
    }

    const timings: StageTimings = gpuTimes
      ? {
          projections: gpuTimes.passes[0],
          scores: gpuTimes.passes[1],
          softmax: gpuTimes.passes[2],
          output: gpuTimes.passes[3],
          total: gpuTimes.total,
          source: 'timestamp-query',
        }
      : {
          projections: wallTimes[0],
          scores: wallTimes[1],
          softmax: wallTimes[2],
          output: wallTimes[3],
          total: wallTotal,
          source: 'wall-clock',
        };
    last = {
      shape: s,
      qkv: buffers.qkv,
      kOffset,
      vOffset,
      scores: buffers.scores,
      weights: buffers.weights,
      output: buffers.output,
      generation,
    };
    return { ...(Object.fromEntries(arrays) as Pick<AttentionResult, K>), timings };
  }

  return {
    device,
    run<K extends ResultName = ResultName>(shape: AttentionShape, inputs: AttentionInputs, options: RunOptions<K> = {}) {
      return enqueue(() => runNow(shape, inputs, options));
    },
    buffers: () => last,
    readEntries(cells) {
      return enqueue(async () => {
        checkAlive();
        const current = last;
        if (!current) throw new AttentionError('No run has completed yet: there are no entries to read.');
        const { seqLen, kvLen, heads } = current.shape;
        for (const [head, query, key] of cells) {
          if (![head, query, key].every(Number.isInteger) || head < 0 || head >= heads || query < 0 || query >= seqLen || key < 0 || key >= kvLen) {
            throw new AttentionInputError('cell', `[${head}, ${query}, ${key}]`, `[head < ${heads}, query < ${seqLen}, key < ${kvLen}], integers ≥ 0`, 'shape');
          }
        }
        const staging = device.createBuffer({ label: 'attention/entries readback', size: Math.max(8, cells.length * 8), usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ });
        try {
          const encoder = device.createCommandEncoder({ label: 'attention/entries readback' });
          cells.forEach(([head, query, key], index) => {
            const offset = ((head * seqLen + query) * kvLen + key) * 4;
            encoder.copyBufferToBuffer(current.scores, offset, staging, index * 8, 4);
            encoder.copyBufferToBuffer(current.weights, offset, staging, index * 8 + 4, 4);
          });
          device.queue.submit([encoder.finish()]);
          await staging.mapAsync(GPUMapMode.READ);
          const values = new Float32Array(staging.getMappedRange().slice(0));
          return cells.map((_, index) => ({ score: values[index * 2], weight: values[index * 2 + 1] }));
        } finally {
          staging.destroy();
        }
      });
    },
    readRows(rows) {
      return enqueue(async () => {
        checkAlive();
        const current = last;
        if (!current) throw new AttentionError('No run has completed yet: there are no rows to read.');
        const { seqLen, kvLen, heads, width } = current.shape;
        for (const row of rows) {
          if (!Number.isInteger(row) || row < 0 || row >= seqLen) {
            throw new AttentionInputError('rows', String(row), `integers from 0 to ${seqLen - 1}`, 'shape');
          }
        }
        const mapBytes = heads * rows.length * kvLen * 4;
        const outBytes = rows.length * width * 4;
        const staging = device.createBuffer({ label: 'attention/rows readback', size: Math.max(16, 2 * mapBytes + outBytes), usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ });
        try {
          const encoder = device.createCommandEncoder({ label: 'attention/rows readback' });
          for (let h = 0; h < heads; h++) {
            rows.forEach((row, r) => {
              const from = ((h * seqLen + row) * kvLen) * 4;
              const to = ((h * rows.length + r) * kvLen) * 4;
              encoder.copyBufferToBuffer(current.scores, from, staging, to, kvLen * 4);
              encoder.copyBufferToBuffer(current.weights, from, staging, mapBytes + to, kvLen * 4);
            });
          }
          rows.forEach((row, r) => encoder.copyBufferToBuffer(current.output, row * width * 4, staging, 2 * mapBytes + r * width * 4, width * 4));
          device.queue.submit([encoder.finish()]);
          await staging.mapAsync(GPUMapMode.READ);
          const all = staging.getMappedRange().slice(0);
          return {
            scores: new Float32Array(all, 0, mapBytes / 4),
            weights: new Float32Array(all, mapBytes, mapBytes / 4),
            output: new Float32Array(all, 2 * mapBytes, outBytes / 4),
          };
        } finally {
          staging.destroy();
        }
      });
    },
    destroy() {
      if (destroyed) return;
      destroyed = true;
      for (const slot of Object.values(slots)) slot.destroy();
      params.destroy();
      timer?.destroy();
      last = null;
    },
  };
}
