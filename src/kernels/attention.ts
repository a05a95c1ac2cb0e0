/**
 * The GPU attention pipeline: projections → scores → softmax → output, one compute pass per
 * stage (so each can be timed), every head in the same dispatches. Buffers are reused between
 * runs and stay on the device, so the 3D scene can draw the weights without a readback.
 * Pipelines come from gpu/pipeline (compiled and cached per device), results go back through
 * gpu/readback, dispatch sizes from kernels/launch, the tuning from kernels/tuning.
 */
import { AttentionError, AttentionInputError } from '../core/errors';
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
import { checkStorageSize } from '../gpu/buffers';
import { scoped } from '../gpu/guard';
import { encodePass, getKernel, type BindingKind, type Kernel } from '../gpu/pipeline';
import { readFloats, readRanges } from '../gpu/readback';
import { createRunner, type HeldRun, type HoldResult } from '../gpu/runner';
import { createPassTimer } from '../gpu/timer';
import { attentionDims, checkDims, outputLaunch } from './launch';
import { PARAMS_LAYOUT, packedLayout, uploadInputs } from './packing';
import { kernelSource } from './shaders';
import { classifyAdapter, tuningFor, type AttentionTuning } from './tuning';

export { DEFAULT_TUNING, LANE_TUNING, SOFTWARE_TUNING, WORKGROUP_TUNING, hasFourLaneSubgroups, tuningFor, type AttentionTuning } from './tuning';
export { outputLaunch, type OutputLaunch } from './launch';
export type { HeldRun, HoldResult } from '../gpu/runner';

/** Options of one {@link GpuAttention.run}. */
export interface RunOptions<K extends ResultName = ResultName, H extends boolean = boolean> {
  /** Which arrays to copy back to the CPU (default: all six). Fewer is faster. */
  read?: readonly K[];
  /** Cancels the run before its next step; the promise rejects with an `AbortError`. */
  signal?: AbortSignal;
  /** Force wall-clock timing even when timestamp queries are available. */
  timing?: 'auto' | 'wall-clock';
  /**
   * Hold the run's buffers for the consumer that shows it: the result's `held` keeps them from
   * every later run (which writes into another set) until `held.release()`.
   */
  hold?: H;
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
  /** Increases whenever one of the run's buffers is replaced (bind groups built on the old ones are stale). */
  generation: number;
}

/** Attention on one GPUDevice. Create with {@link createGpuAttention}. */
export interface GpuAttention {
  readonly device: GPUDevice;
  /**
   * Validate, upload, compute all four stages and copy back the arrays asked for. Runs on
   * one instance are queued: each starts after the previous one finished.
   */
  run<K extends ResultName = ResultName, H extends boolean = false>(
    shape: AttentionShape,
    inputs: AttentionInputs,
    options?: RunOptions<K, H>,
  ): Promise<RunResult<K> & HoldResult<H, AttentionBuffers>>;
  /**
   * Buffers of the last completed run (null before the first); valid until a later run writes
   * into them (a held run's: until its release) or destroy.
   */
  buffers(): AttentionBuffers | null;
  /**
   * Read single map entries of the last run, or of the held run whose buffers are `from` (for
   * hover readouts on maps too large to copy back): `[head, query, key]` each; resolves with
   * the score and weight of each.
   */
  readEntries(cells: ReadonlyArray<readonly [number, number, number]>, from?: AttentionBuffers): Promise<Array<{ score: number; weight: number }>>;
  /**
   * Read whole query rows of the last run (or of the held run whose buffers are `from`): scores
   * and weights as heads × rows × kvLen, output as rows × width (the layout of
   * `attentionCpuRows`), to verify maps too large to copy back.
   */
  readRows(rows: readonly number[], from?: AttentionBuffers): Promise<{ scores: Float32Array; weights: Float32Array; output: Float32Array }>;
  /** How many buffer sets this instance has now (1 without holds; see gpu/runner). */
  readonly bufferSets: number;
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

/** The storage slots of one run (see gpu/runner's BufferSet). */
type Slot = 'src' | 'w' | 'qkv' | 'scores' | 'weights' | 'output';

/** The kernels of one tuning; the output kernel depends on the head size, so it is looked up per run. */
export interface Kernels {
  projections: Kernel;
  scores: Kernel;
  softmax: Kernel;
  output(dHead: number): Promise<Kernel>;
}

/**
 * The kernels of the attention core (scores, softmax, and the output kernel for a head size) of
 * `tuning`, each compiled on first ask (cached per device): what the model's forward uses. It
 * has projections of its own, so it never compiles the attention's.
 */
export function coreKernels(device: GPUDevice, tuning: AttentionTuning): { scores: Promise<Kernel>; softmax: Promise<Kernel>; output: (dHead: number) => Promise<Kernel> } {
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
  return {
    scores: lanes
      ? getKernel(device, { label: 'attention/scores lanes', source: kernelSource('scoresLanes', lanes.scores), bindings: BINDINGS.scores })
      : getKernel(device, { label: 'attention/scores', source: kernelSource('scores'), constants: matmul, bindings: BINDINGS.scores }),
    softmax: getKernel(device, { label: 'attention/softmax', ...softmax, constants: { WG_SIZE: tuning.softmaxWorkgroup }, bindings: BINDINGS.softmax }),
    output,
  };
}

/** Compile (or take from the per-device cache) the four stage kernels of `tuning`. */
export async function kernelsFor(device: GPUDevice, tuning: AttentionTuning): Promise<Kernels> {
  const [wgX, wgY] = tuning.matmulWorkgroup;
  const lanes = tuning.laneTiles;
  const core = coreKernels(device, tuning);
  const [projections, scores, softmaxKernel] = await Promise.all([
    lanes
      ? getKernel(device, { label: 'attention/projections lanes', source: kernelSource('projectionsLanes', lanes.projections), bindings: BINDINGS.projections })
      : getKernel(device, { label: 'attention/projections', source: kernelSource('projections'), constants: { WG_X: wgX, WG_Y: wgY }, bindings: BINDINGS.projections }),
    core.scores,
    core.softmax,
    // The common output variant, compiled up front so the first run does not wait for it.
    core.output(lanes ? lanes.output.cols : 2 * tuning.matmulWorkgroup[0] * 8),
  ]);
  return { projections, scores, softmax: softmaxKernel, output: core.output };
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
  const params = device.createBuffer({ label: 'attention/params', size: PARAMS_LAYOUT.size, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  const timer = createPassTimer(device, STAGE_NAMES.length, 'attention');
  const runner = createRunner<Slot, AttentionBuffers>(device, {
    prefix: 'attention',
    kind: 'GpuAttention',
    cleanup: () => {
      params.destroy();
      timer?.destroy();
    },
  });
  const { loss } = runner;

  async function runNow<K extends ResultName, H extends boolean>(shape: AttentionShape, inputs: AttentionInputs, options: RunOptions<K, H>) {
    const s = validateAttention(shape, inputs);
    runner.checkAlive();
    runner.checkAbort(options.signal);
    const lengths = resultLengths(s);
    const layout = packedLayout(s, inputs);
    const { kOffset, vOffset } = layout;
    const bytes: Record<Slot, number> = { ...layout.bytes, scores: 4 * lengths.scores, weights: 4 * lengths.weights, output: 4 * lengths.output };
    for (const [field, size] of Object.entries(bytes)) checkStorageSize(device, field, size);
    const maxGroups = device.limits.maxComputeWorkgroupsPerDimension;
    const dims = attentionDims(s, tuning, maxGroups);
    checkDims(dims, maxGroups);
    const outputKernel = await kernels.output(s.dHead);
    runner.checkAlive();
    runner.checkAbort(options.signal);

    // From here this run writes into its buffer set: the last run's when no one holds it (then
    // there is no last run to read until this one completes), else another set.
    const set = runner.beginRun();
    const useTimer = timer && options.timing !== 'wall-clock' ? timer : null;
    const wallTimes: number[] = [];
    let wallTotal = 0;
    const { buffers, submitted } = await scoped(
      device,
      // Free what was half-allocated so a retry (or the fused path) starts from nothing.
      { what: 'the attention run', onOutOfMemory: () => runner.freeUnheld(), advice: runner.holdAdvice() },
      () => {
        const buffers = set.ensureAll(bytes);
        uploadInputs(device, { params, src: buffers.src, w: buffers.w }, s, inputs, layout);
        // Bind groups are cached in the set and rebuilt only when one of its buffers was replaced.
        const stages: Array<{ name: StageName; kernel: Kernel; group: GPUBindGroup }> = [
          { name: 'projections', kernel: kernels.projections, group: set.bind('attention/projections', kernels.projections, [params, buffers.src, buffers.w, buffers.qkv]) },
          { name: 'scores', kernel: kernels.scores, group: set.bind('attention/scores', kernels.scores, [params, buffers.qkv, buffers.scores]) },
          { name: 'softmax', kernel: kernels.softmax, group: set.bind('attention/softmax', kernels.softmax, [params, buffers.scores, buffers.weights]) },
          { name: 'output', kernel: outputKernel, group: set.bind('attention/output', outputKernel, [params, buffers.qkv, buffers.weights, buffers.output]) },
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
              runner.checkAbort(options.signal);
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
      runner.checkAbort(options.signal);
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
    const shown: AttentionBuffers = { shape: s, qkv: buffers.qkv, kOffset, vOffset, scores: buffers.scores, weights: buffers.weights, output: buffers.output, generation: set.generation };
    const held = runner.finishRun(set, shown, options.hold);
    return { ...(Object.fromEntries(wanted.map((name, i) => [name, arrays[i]])) as Pick<AttentionResult, K>), timings, ...held };
  }

  return {
    device,
    run<K extends ResultName = ResultName, H extends boolean = false>(shape: AttentionShape, inputs: AttentionInputs, options: RunOptions<K, H> = {}) {
      return runner.enqueue(() => runNow(shape, inputs, options));
    },
    buffers: () => runner.last(),
    get bufferSets() {
      return runner.sets;
    },
    readEntries(cells, from) {
      return runner.enqueue(async () => {
        const { buffers: current } = runner.readable('entries', from);
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
    readRows(rows, from) {
      return runner.enqueue(async () => {
        const { buffers: current } = runner.readable('rows', from);
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
    destroy: () => runner.destroy(),
  };
}
