/**
 * The GPU attention pipeline: projections → scores → softmax → output, one compute pass per
 * stage (so each can be timed), every head in the same dispatches. Buffers are reused between
 * runs and stay on the device, so the 3D scene can draw the weights without a readback.
 * Pipelines come from gpu/pipeline (compiled and cached per device), results go back through
 * gpu/readback, dispatch sizes from kernels/launch, the tuning from kernels/tuning.
 */
import { AttentionAbortError, AttentionError, AttentionInputError } from '../core/errors';
import {
  RESULT_NAMES,
  STAGE_NAMES,
  resultLengths,
  type AttentionInputs,
  type AttentionResult,
  type AttentionShape,
  type ResolvedShape,
  type ResultName,
  type StageName,
  type StageTimings,
} from '../core/types';
import { validateAttention } from '../core/validate';
import { checkStorageSize, storageSlots } from '../gpu/buffers';
import { scoped, watchLoss } from '../gpu/guard';
import { encodePass, getKernel, type BindingKind, type Kernel } from '../gpu/pipeline';
import { readFloats, readRanges } from '../gpu/readback';
import { createPassTimer } from '../gpu/timer';
import { createSerialQueue } from '../core/serial';
import { attentionDims, checkDims, outputLaunch } from './launch';
import { PARAMS_LAYOUT, packedLayout, uploadInputs } from './packing';
import { kernelSource } from './shaders';
import { classifyAdapter, tuningFor, type AttentionTuning } from './tuning';

export { DEFAULT_TUNING, LANE_TUNING, SOFTWARE_TUNING, WORKGROUP_TUNING, hasFourLaneSubgroups, tuningFor, type AttentionTuning } from './tuning';
export { outputLaunch, type OutputLaunch } from './launch';

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

/** Group-0 bindings of each stage's kernel (params first; see the shader headers). */
export const BINDINGS: Record<StageName, readonly BindingKind[]> = {
  projections: ['uniform', 'read-only-storage', 'read-only-storage', 'storage'],
  scores: ['uniform', 'read-only-storage', 'storage'],
  softmax: ['uniform', 'read-only-storage', 'storage'],
  output: ['uniform', 'read-only-storage', 'read-only-storage', 'storage'],
};

/** The kernels of one tuning; the output kernel depends on the head size, so it is looked up per run. */
export interface Kernels {
  projections: Kernel;
  scores: Kernel;
  softmax: Kernel;
  output(dHead: number): Promise<Kernel>;
}

export async function kernelsFor(device: GPUDevice, tuning: AttentionTuning): Promise<Kernels> {
  const [wgX, wgY] = tuning.matmulWorkgroup;
  const matmul = { WG_X: wgX, WG_Y: wgY };
  const lanes = tuning.laneTiles;
  const output = (dHead: number): Promise<Kernel> => {
    const launch = outputLaunch(dHead, tuning);
    if (launch.variant === 'lanes') {
      const tile = { rows: lanes!.output.rows, cols: launch.tile[0] };
      return getKernel(device, { label: `attention/output lanes ${tile.rows}×${tile.cols}`, source: kernelSource('outputLanes', tile), bindings: BINDINGS.output });
    }
    if (launch.variant === 'narrow') {
      const [x, y] = launch.workgroup;
      return getKernel(device, { label: 'attention/output', source: kernelSource('output'), entryPoint: 'narrow', constants: { WG_X: x, WG_Y: y }, bindings: BINDINGS.output });
    }
    return getKernel(device, { label: 'attention/output', source: kernelSource('output'), constants: matmul, bindings: BINDINGS.output });
  };
  const softmax =
    tuning.softmaxMode === 'subgroup'
      ? { source: kernelSource('softmaxSubgroup'), entryPoint: 'main' }
      : { source: kernelSource('softmax'), entryPoint: tuning.softmaxMode === 'row-per-invocation' ? 'rowPerInvocation' : 'main' };
  const [projections, scores, softmaxKernel] = await Promise.all([
    lanes
      ? getKernel(device, { label: 'attention/projections lanes', source: kernelSource('projectionsLanes', lanes.projections), bindings: BINDINGS.projections })
      : getKernel(device, { label: 'attention/projections', source: kernelSource('projections'), constants: matmul, bindings: BINDINGS.projections }),
    lanes
      ? getKernel(device, { label: 'attention/scores lanes', source: kernelSource('scoresLanes', lanes.scores), bindings: BINDINGS.scores })
      : getKernel(device, { label: 'attention/scores', source: kernelSource('scores'), constants: matmul, bindings: BINDINGS.scores }),
    getKernel(device, { label: 'attention/softmax', ...softmax, constants: { WG_SIZE: tuning.softmaxWorkgroup }, bindings: BINDINGS.softmax }),
    // The common output variant, compiled up front so the first run does not wait for it.
    output(lanes ? lanes.output.cols : 2 * tuning.matmulWorkgroup[0] * 8),
  ]);
  return { projections, scores, softmax: softmaxKernel, output };
}

/** Refuse a tuning the device cannot run, saying what is missing. */
export function checkTuning(device: GPUDevice, tuning: AttentionTuning): void {
  const adapter = classifyAdapter(device);
  if (tuning.laneTiles && !adapter.fourLaneSubgroups) {
    const sizes = adapter.subgroupSizes;
    throw new AttentionError(
      `Lane tiles need the WebGPU feature 'subgroups' with subgroups exactly 4 lanes wide; this device has ${adapter.subgroups ? `subgroups of ${sizes?.[0] ?? '?'} to ${sizes?.[1] ?? '?'} lanes` : "no 'subgroups'"} (tuningFor(device) picks a tuning without them).`,
    );
  }
  if (tuning.softmaxMode === 'subgroup' && !adapter.subgroups) {
    throw new AttentionError(
      "softmaxMode 'subgroup' needs the WebGPU feature 'subgroups', which is missing on this device; use softmaxMode 'workgroup-per-row' (tuningFor(device) picks it).",
    );
  }
}

/**
 * Create the GPU attention pipeline on a device (compiles the four kernels; cached per
 * device and tuning). The device stays the caller's: `destroy()` frees only what this made.
 */
export async function createGpuAttention(device: GPUDevice, tuning: AttentionTuning = tuningFor(device)): Promise<GpuAttention> {
  checkTuning(device, tuning);
  const kernels = await kernelsFor(device, tuning);
  const loss = watchLoss(device);

  const slots = storageSlots(device, 'attention', {
    src: 'src (x | xKV)',
    w: 'w (wq | wk | wv)',
    qkv: 'qkv',
    scores: 'scores',
    weights: 'weights',
    output: 'output',
  });
  const params = device.createBuffer({ label: 'attention/params', size: PARAMS_LAYOUT.size, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  const timer = createPassTimer(device, STAGE_NAMES.length, 'attention');
  let destroyed = false;
  let last: AttentionBuffers | null = null;
  let generation = 0;
  const enqueue = createSerialQueue();

  const checkAlive = () => {
    // A loss first: the session destroys the pipeline of a lost device, and the caller must
    // learn that the device went, not that someone destroyed the pipeline.
    loss.check();
    if (destroyed) throw new AttentionError('This GpuAttention was destroyed; create a new one.');
  };
  const checkAbort = (signal: AbortSignal | undefined) => {
    if (signal?.aborted) throw new AttentionAbortError();
  };
  const lastRun = (what: string) => {
    checkAlive();
    if (!last) throw new AttentionError(`No run has completed yet: there are no ${what} to read.`);
    return last;
  };

  async function runNow<K extends ResultName>(shape: AttentionShape, inputs: AttentionInputs, options: RunOptions<K>): Promise<RunResult<K>> {
    const s = validateAttention(shape, inputs);
    checkAlive();
    checkAbort(options.signal);
    const lengths = resultLengths(s);
    const layout = packedLayout(s, inputs);
    const { kOffset, vOffset } = layout;
    const bytes = { ...layout.bytes, scores: 4 * lengths.scores, weights: 4 * lengths.weights, output: 4 * lengths.output };
    for (const [field, size] of Object.entries(bytes)) checkStorageSize(device, field, size);
    const maxGroups = device.limits.maxComputeWorkgroupsPerDimension;
    const dims = attentionDims(s, tuning, maxGroups);
    checkDims(dims, maxGroups);
    const outputKernel = await kernels.output(s.dHead);
    checkAlive();
    checkAbort(options.signal);

    // From here the previous run's buffers are overwritten (or replaced when they grow): until
    // this run completes there is no run to read from (buffers(), readEntries, readRows).
    last = null;
    const useTimer = timer && options.timing !== 'wall-clock' ? timer : null;
    const wallTimes: number[] = [];
    let wallTotal = 0;
    const { buffers, submitted } = await scoped(
      device,
      // Free what was half-allocated so a retry (or the fused path) starts from nothing.
      { what: 'the attention run', onOutOfMemory: () => Object.values(slots).forEach((slot) => slot.destroy()) },
      () => {
        const before = Object.values(slots).map((slot) => slot.current);
        const buffers = {
          src: slots.src.ensure(bytes.src),
          w: slots.w.ensure(bytes.w),
          qkv: slots.qkv.ensure(bytes.qkv),
          scores: slots.scores.ensure(bytes.scores),
          weights: slots.weights.ensure(bytes.weights),
          output: slots.output.ensure(bytes.output),
        };
        if (Object.values(slots).some((slot, i) => slot.current !== before[i])) generation++;
        uploadInputs(device, { params, src: buffers.src, w: buffers.w }, s, inputs, layout);
        const stages: Array<{ name: StageName; kernel: Kernel; group: GPUBindGroup }> = [
          { name: 'projections', kernel: kernels.projections, group: kernels.projections.bind([params, buffers.src, buffers.w, buffers.qkv]) },
          { name: 'scores', kernel: kernels.scores, group: kernels.scores.bind([params, buffers.qkv, buffers.scores]) },
          { name: 'softmax', kernel: kernels.softmax, group: kernels.softmax.bind([params, buffers.scores, buffers.weights]) },
          { name: 'output', kernel: outputKernel, group: outputKernel.bind([params, buffers.qkv, buffers.weights, buffers.output]) },
        ];
        const encodeStage = (encoder: GPUCommandEncoder, index: number) => {
          const stage = stages[index];
          encodePass(encoder, stage.kernel, stage.group, dims[stage.name], { label: `attention/${stage.name}`, timestampWrites: useTimer?.passWrites(index) });
        };
        if (useTimer) {
          const encoder = device.createCommandEncoder({ label: 'attention run' });
          stages.forEach((_, index) => encodeStage(encoder, index));
          useTimer.resolve(encoder);
          device.queue.submit([encoder.finish()]);
          return { buffers, submitted: Promise.resolve() };
        }
        // Without timestamps each stage is submitted alone and awaited, so the wall clock
        // brackets one stage at a time (submission overhead included). The first stage is
        // submitted here, inside the error scopes.
        const submitStage = (index: number) => {
          const encoder = device.createCommandEncoder({ label: `attention ${stages[index].name}` });
          encodeStage(encoder, index);
          device.queue.submit([encoder.finish()]);
        };
        const start = performance.now();
        submitStage(0);
        const submitted = (async () => {
          for (let index = 0; index < stages.length; index++) {
            const t0 = index === 0 ? start : performance.now();
            if (index > 0) {
              checkAbort(options.signal);
              submitStage(index);
            }
            await device.queue.onSubmittedWorkDone();
            wallTimes.push(performance.now() - t0);
          }
          wallTotal = performance.now() - start;
        })();
        submitted.catch(() => undefined);
        return { buffers, submitted };
      },
    );
    const wanted = [...new Set((options.read ?? RESULT_NAMES) as readonly ResultName[])];
    const sources: Record<ResultName, [GPUBuffer, number]> = {
      q: [buffers.qkv, 0],
      k: [buffers.qkv, kOffset],
      v: [buffers.qkv, vOffset],
      scores: [buffers.scores, 0],
      weights: [buffers.weights, 0],
      output: [buffers.output, 0],
    };
    let arrays: Float32Array[];
    let gpuTimes: { passes: number[]; total: number } | null;
    try {
      await submitted;
      checkAbort(options.signal);
      // Awaited together, so a loss that rejects both never leaves an unhandled rejection.
      [arrays, gpuTimes] = await Promise.all([
        readFloats(device, wanted.map((name) => [sources[name][0], sources[name][1], lengths[name]] as const), 'attention/results'),
        useTimer ? useTimer.read() : Promise.resolve(null),
      ]);
    } catch (error) {
      throw loss.explain(error);
    }
    const times = gpuTimes ? gpuTimes.passes : wallTimes;
    const timings: StageTimings = {
      projections: times[0],
      scores: times[1],
      softmax: times[2],
      output: times[3],
      total: gpuTimes ? gpuTimes.total : wallTotal,
      source: gpuTimes ? 'timestamp-query' : 'wall-clock',
    };
    last = { shape: s, qkv: buffers.qkv, kOffset, vOffset, scores: buffers.scores, weights: buffers.weights, output: buffers.output, generation };
    return { ...(Object.fromEntries(wanted.map((name, i) => [name, arrays[i]])) as Pick<AttentionResult, K>), timings };
  }

  return {
    device,
    run<K extends ResultName = ResultName>(shape: AttentionShape, inputs: AttentionInputs, options: RunOptions<K> = {}) {
      return enqueue(() => runNow(shape, inputs, options));
    },
    buffers: () => last,
    readEntries(cells) {
      return enqueue(async () => {
        const current = lastRun('entries');
        const { seqLen, kvLen, heads } = current.shape;
        for (const [head, query, key] of cells) {
          if (![head, query, key].every(Number.isInteger) || head < 0 || head >= heads || query < 0 || query >= seqLen || key < 0 || key >= kvLen) {
            throw new AttentionInputError('cell', `[${head}, ${query}, ${key}]`, `[head < ${heads}, query < ${seqLen}, key < ${kvLen}], integers ≥ 0`, 'shape');
          }
        }
        const ranges = cells.flatMap(([head, query, key]) => {
          const offset = ((head * seqLen + query) * kvLen + key) * 4;
          return [
            { buffer: current.scores, offset, size: 4 },
            { buffer: current.weights, offset, size: 4 },
          ];
        });
        const values = await readRanges(device, ranges, 'attention/entries').catch((error: unknown) => Promise.reject(loss.explain(error)));
        return cells.map((_, index) => ({ score: new Float32Array(values[2 * index])[0], weight: new Float32Array(values[2 * index + 1])[0] }));
      });
    },
    readRows(rows) {
      return enqueue(async () => {
        const current = lastRun('rows');
        const { seqLen, kvLen, heads, width } = current.shape;
        for (const row of rows) {
          if (!Number.isInteger(row) || row < 0 || row >= seqLen) {
            throw new AttentionInputError('rows', String(row), `integers from 0 to ${seqLen - 1}`, 'shape');
          }
        }
        // heads × rows × kvLen for the map, rows × width for the output.
        const mapRows: Array<readonly [GPUBuffer, number, number]> = [];
        for (const buffer of [current.scores, current.weights]) {
          for (let h = 0; h < heads; h++) for (const row of rows) mapRows.push([buffer, (h * seqLen + row) * kvLen, kvLen]);
        }
        const outRows = rows.map((row) => [current.output, row * width, width] as const);
        const parts = await readFloats(device, [...mapRows, ...outRows], 'attention/rows').catch((error: unknown) => Promise.reject(loss.explain(error)));
        const join = (from: number, count: number, length: number) => {
          const out = new Float32Array(count * length);
          for (let i = 0; i < count; i++) out.set(parts[from + i], i * length);
          return out;
        };
        const perMap = heads * rows.length;
        return { scores: join(0, perMap, kvLen), weights: join(perMap, perMap, kvLen), output: join(2 * perMap, rows.length, width) };
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
