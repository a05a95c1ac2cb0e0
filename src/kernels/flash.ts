/**
 * The fused attention path (shaders/flash.wgsl): projections, then one kernel that streams
 * keys and values past each query with an online softmax, so the seqLen × kvLen map is never
 * stored and extra memory is O(heads · seqLen) (one log-sum-exp per row). It reaches lengths
 * whose map would not fit in a storage buffer (65536² · 4 bytes = 16 GiB). For display,
 * {@link FlashAttention.reducedMap} recomputes block maxima or means of the weights from q, k
 * and the row log-sum-exps, and {@link FlashAttention.readRows} recomputes whole rows for
 * verification.
 */
import { createSerialQueue } from '../core/serial';
import { AttentionAbortError, AttentionError, AttentionInputError } from '../core/errors';
import type { AttentionInputs, AttentionShape, ResolvedShape } from '../core/types';
import { validateAttention } from '../core/validate';
import { checkStorageSize, storageSlots } from '../gpu/buffers';
import { scoped, watchLoss } from '../gpu/guard';
import { encodePass, getKernel, type BindingKind, type Kernel } from '../gpu/pipeline';
import { packUniform } from '../gpu/uniforms';
import { readFloats } from '../gpu/readback';
import { createPassTimer } from '../gpu/timer';
import { checkDims, fusedChunks, projectionDims, reducedMapChunks, REDUCED_MAP_WORKGROUP } from './launch';
import { CHUNK_LAYOUT, GRID_PARAMS_LAYOUT, PARAMS_LAYOUT, packedLayout, uploadInputs } from './packing';
import { kernelSource } from './shaders';
import { chunkPolicyFor, classifyAdapter, cpuThreads } from './tuning';

/** Largest dHead of the fused kernel (`MAX_D4` · 4 in flash.wgsl). */
export const FLASH_MAX_DHEAD = 128;

/** Largest grid side of {@link FlashAttention.reducedMap}. */
export const FLASH_MAX_GRID_SIDE = 4096;

/** What the fused path can copy back: no scores or weights, but each row's log-sum-exp. */
export type FlashResultName = 'q' | 'k' | 'v' | 'output' | 'lse';

/** Milliseconds of the two passes of a fused run. */
export interface FlashTimings {
  projections: number;
  /** The fused scores → softmax → output kernel (summed over its chunks). */
  attention: number;
  total: number;
  /** Submissions the fused kernel was split into (see {@link FlashOptions.chunkWork}). */
  chunks: number;
  source: 'timestamp-query' | 'wall-clock';
}

/** Options of one {@link FlashAttention.run}. */
export interface FlashRunOptions<K extends FlashResultName = FlashResultName> {
  /** Which arrays to copy back (default: all five). */
  read?: readonly K[];
  /** Cancels the run between two chunks (an {@link AttentionAbortError}). */
  signal?: AbortSignal;
  /** Called after each chunk of the fused kernel: query blocks done and in all. */
  onProgress?: (done: number, total: number) => void;
}

/**
 * A fused run's arrays: q, k, v, output in the layouts of core/types, and `lse`
 * (heads × seqLen): m + log Σ exp(s − m) of each row, −∞ for a row with no visible key.
 */
export type FlashRunResult<K extends FlashResultName = FlashResultName> = { [N in K]: Float32Array } & { timings: FlashTimings };

/** Device buffers of the last fused run. */
export interface FlashBuffers {
  shape: ResolvedShape;
  /** q | k | v packed as in {@link AttentionBuffers}. */
  qkv: GPUBuffer;
  kOffset: number;
  vOffset: number;
  output: GPUBuffer;
  /** heads × seqLen log-sum-exps. */
  lse: GPUBuffer;
}

/** A reduced view of the weights: `rows × cols` cells per head, each a block max or mean. */
export interface ReducedMapRequest {
  rows: number;
  cols: number;
  mode: 'max' | 'mean';
  /** Cancels between two chunks of grid rows (an {@link AttentionAbortError}). */
  signal?: AbortSignal;
  /** Called after each chunk: grid rows done and in all. */
  onProgress?: (done: number, total: number) => void;
}

/** Fused attention on one GPUDevice. Create with {@link createFlashAttention}. */
export interface FlashAttention {
  readonly device: GPUDevice;
  /** Validate, upload, project and run the fused kernel; copy back what is asked for. Runs are queued. */
  run<K extends FlashResultName = FlashResultName>(shape: AttentionShape, inputs: AttentionInputs, options?: FlashRunOptions<K>): Promise<FlashRunResult<K>>;
  /** Buffers of the last completed run (null before the first). */
  buffers(): FlashBuffers | null;
  /**
   * The weights of the last run reduced to heads × rows × cols (cell (r, c) covers queries
   * ⌊r·seqLen/rows⌋ … and keys ⌊c·kvLen/cols⌋ …, as src/reference/reduce.ts): the block max,
   * or the block mean with masked entries counted as zeros (the `weights` plane of
   * reduceAttention). Recomputes every q·k once: as costly as the scores of the full path.
   */
  reducedMap(request: ReducedMapRequest): Promise<Float32Array>;
  /**
   * Whole query rows of the last run, recomputed on the CPU from the GPU's q, k, v and
   * log-sum-exps (scores and weights heads × rows × kvLen; output rows × width read from the
   * GPU), in the layout of `attentionCpuRows` / `GpuAttention.readRows`.
   */
  readRows(rows: readonly number[]): Promise<{ scores: Float32Array; weights: Float32Array; output: Float32Array; lse: Float32Array }>;
  destroy(): void;
}

/** Options of {@link createFlashAttention}. */
export interface FlashOptions {
  /** Invocations per workgroup of the fused kernel (each owns two query rows). Default 64. */
  workgroupSize?: number;
  /** Workgroup of the projections kernel. Default [8, 8]. */
  projectionWorkgroup?: [number, number];
  /**
   * Multiply-adds per submission of the fused kernel and of the reduced map (default 2²⁷ on
   * software adapters, about a quarter second there; 2³¹ on GPUs), but never fewer than enough
   * workgroups to fill the device (2 per CPU thread on software adapters, 1024 on GPUs; given
   * explicitly, the chunks are exactly this small). Long runs are split into chunks, each
   * submitted after the previous one finished, so the page keeps drawing, progress is
   * reported and a cancel takes effect between them.
   */
  chunkWork?: number;
}

/** The fused path's kernels: its projections (the unfused kernel), the fused kernel, the reduced map. */
interface FusedKernels {
  projections: Kernel;
  flash: Kernel;
  reduce: Kernel;
}

const BINDINGS: Record<keyof FusedKernels, readonly BindingKind[]> = {
  projections: ['uniform', 'read-only-storage', 'read-only-storage', 'storage'],
  flash: ['uniform', 'read-only-storage', 'storage', 'storage', 'uniform'],
  reduce: ['uniform', 'read-only-storage', 'read-only-storage', 'storage', 'uniform'],
};

async function fusedKernels(device: GPUDevice, wg: number, proj: [number, number]): Promise<FusedKernels> {
  const [projections, flash, reduce] = await Promise.all([
    getKernel(device, { label: 'flash/projections', source: kernelSource('projections'), constants: { WG_X: proj[0], WG_Y: proj[1] }, bindings: BINDINGS.projections }),
    getKernel(device, { label: 'flash/attention', source: kernelSource('flash'), constants: { WG_SIZE: wg }, bindings: BINDINGS.flash }),
    getKernel(device, {
      label: 'flash/reduce',
      source: kernelSource('flashReduce'),
      constants: { WG_X: REDUCED_MAP_WORKGROUP[0], WG_Y: REDUCED_MAP_WORKGROUP[1] },
      bindings: BINDINGS.reduce,
    }),
  ]);
  return { projections, flash, reduce };
}

/**
 * Create the fused attention path on a device (kernels cached per device and options). The
 * device stays the caller's: `destroy()` frees only what this made.
 */
export async function createFlashAttention(device: GPUDevice, options: FlashOptions = {}): Promise<FlashAttention> {
  const wg = options.workgroupSize ?? 64;
  const proj = options.projectionWorkgroup ?? [8, 8];
  const kernels = await fusedKernels(device, wg, proj);
  const loss = watchLoss(device);
  const slots = storageSlots(device, 'flash', {
    src: 'src (x | xKV)',
    w: 'w (wq | wk | wv)',
    qkv: 'qkv',
    output: 'output',
    lse: 'lse',
    grid: 'grid',
  });
  const uniform = GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST;
  const params = device.createBuffer({ label: 'flash/params', size: PARAMS_LAYOUT.size, usage: uniform });
  const gridParams = device.createBuffer({ label: 'flash/grid params', size: GRID_PARAMS_LAYOUT.size, usage: uniform });
  const chunkParams = device.createBuffer({ label: 'flash/chunk', size: CHUNK_LAYOUT.size, usage: uniform });
  const policy = chunkPolicyFor(classifyAdapter(device), cpuThreads());
  const chunkWork = options.chunkWork ?? policy.chunkWork;
  // Given explicitly, the chunks are exactly this small (tests split small runs on purpose).
  const minChunkGroups = options.chunkWork !== undefined ? 1 : policy.minChunkGroups;
  if (!(chunkWork >= 1)) throw new AttentionInputError('chunkWork', String(chunkWork), 'a number ≥ 1 (multiply-adds per submission)', 'shape');
  let destroyed = false;
  let last: FlashBuffers | null = null;
  const enqueue = createSerialQueue();
  const checkAlive = () => {
    loss.check();
    if (destroyed) throw new AttentionError('This FlashAttention was destroyed; create a new one.');
  };
  const need = () => {
    checkAlive();
    if (!last) throw new AttentionError('No fused run has completed yet.');
    return last;
  };
  /**
   * Between two chunks: wait for the chunk, then leave the page a frame's time to draw (its
   * render work queues behind ours, and a chunk submitted at once would go first), then stop
   * if cancelled or lost.
   */
  const betweenChunks = async (signal: AbortSignal | undefined) => {
    await device.queue.onSubmittedWorkDone();
    await new Promise((resolve) => setTimeout(resolve, 20));
    checkAlive();
    if (signal?.aborted) throw new AttentionAbortError();
  };
  /** Free every run buffer (after an out-of-memory error, so a retry starts from nothing). */
  const freeRunBuffers = () => {
    for (const slot of Object.values(slots)) slot.destroy();
    last = null;
  };
  const readBack = (ranges: Array<readonly [GPUBuffer, number, number]>, label: string) =>
    readFloats(device, ranges, `flash/${label}`).catch((error: unknown) => Promise.reject(loss.explain(error)));

  async function runNow<K extends FlashResultName>(shape: AttentionShape, inputs: AttentionInputs, options: FlashRunOptions<K>): Promise<FlashRunResult<K>> {
    const s = validateAttention(shape, inputs, { storesMap: false });
    checkAlive();
    if (options.signal?.aborted) throw new AttentionAbortError();
    if (s.dHead > FLASH_MAX_DHEAD) throw new AttentionInputError('dHead', String(s.dHead), `at most ${FLASH_MAX_DHEAD} on the fused path`, 'too-large');
    const layout = packedLayout(s, inputs);
    const { kOffset, vOffset } = layout;
    const bytes = { ...layout.bytes, output: 4 * s.seqLen * s.width, lse: 4 * s.heads * s.seqLen };
    for (const [field, size] of Object.entries(bytes)) checkStorageSize(device, field, size);
    const maxGroups = device.limits.maxComputeWorkgroupsPerDimension;
    const projDims = projectionDims(s, { matmulWorkgroup: proj });
    const split = fusedChunks(s, { workgroupSize: wg, chunkWork, minChunkGroups, maxPerDimension: maxGroups });
    checkDims({ projections: projDims, attention: [split.blocksPerChunk, s.heads, 1] }, maxGroups);

    // From here the buffers of the previous run are overwritten (or replaced when they grow):
    // until this run completes there is no run to read back or reduce.
    last = null;
    const timer = createPassTimer(device, 1 + split.chunks.length, 'flash');
    const oom = { what: 'the fused attention run', buffers: 'the fused attention buffers', onOutOfMemory: freeRunBuffers };
    try {
      // Allocation, upload and the first chunk (with the projections) in one pair of error
      // scopes; every later chunk in its own, so an error is caught where it happens.
      const submitChunk = (index: number, b: { qkv: GPUBuffer; output: GPUBuffer; lse: GPUBuffer }, projectionGroup: GPUBindGroup | null) => {
        const [first, count] = split.chunks[index];
        device.queue.writeBuffer(chunkParams, 0, packUniform(CHUNK_LAYOUT, { firstBlock: first }));
        const encoder = device.createCommandEncoder({ label: `flash run, chunk ${index + 1} of ${split.chunks.length}` });
        if (projectionGroup) encodePass(encoder, kernels.projections, projectionGroup, projDims, { label: 'flash/projections', timestampWrites: timer?.passWrites(0) });
        encodePass(encoder, kernels.flash, kernels.flash.bind([params, b.qkv, b.output, b.lse, chunkParams]), [count, s.heads, 1], {
          label: 'flash/attention',
          timestampWrites: timer?.passWrites(1 + index),
        });
        if (index === split.chunks.length - 1) timer?.resolve(encoder);
        device.queue.submit([encoder.finish()]);
      };
      const b = await scoped(device, oom, () => {
        const b = {
          src: slots.src.ensure(bytes.src),
          w: slots.w.ensure(bytes.w),
          qkv: slots.qkv.ensure(bytes.qkv),
          output: slots.output.ensure(bytes.output),
          lse: slots.lse.ensure(bytes.lse),
        };
        uploadInputs(device, { params, src: b.src, w: b.w }, s, inputs, layout);
        submitChunk(0, b, kernels.projections.bind([params, b.src, b.w, b.qkv]));
        return b;
      });
      const start = performance.now();
      for (let index = 1; index < split.chunks.length; index++) {
        await betweenChunks(options.signal);
        options.onProgress?.(split.chunks[index][0], split.blocks);
        await scoped(device, oom, () => submitChunk(index, b, null));
      }
      const wanted = [...new Set(options.read ?? (['q', 'k', 'v', 'output', 'lse'] as K[]))];
      const ranges: Record<FlashResultName, readonly [GPUBuffer, number, number]> = {
        q: [b.qkv, 0, s.seqLen * s.width],
        k: [b.qkv, kOffset, s.kvLen * s.width],
        v: [b.qkv, vOffset, s.kvLen * s.width],
        output: [b.output, 0, s.seqLen * s.width],
        lse: [b.lse, 0, s.heads * s.seqLen],
      };
      const arrays = await readBack(wanted.map((name) => ranges[name]), 'run');
      const wall = performance.now() - start;
      options.onProgress?.(split.blocks, split.blocks);
      const gpu = timer ? await timer.read().catch((error: unknown) => Promise.reject(loss.explain(error))) : null;
      // Device time: projections plus every chunk (the idle gaps between submissions excluded).
      const attention = gpu ? gpu.passes.slice(1).reduce((sum, ms) => sum + ms, 0) : Number.NaN;
      const chunks = split.chunks.length;
      const timings: FlashTimings = gpu
        ? { projections: gpu.passes[0], attention, total: gpu.passes[0] + attention, chunks, source: 'timestamp-query' }
        : { projections: Number.NaN, attention: Number.NaN, total: wall, chunks, source: 'wall-clock' };
      last = { shape: s, qkv: b.qkv, kOffset, vOffset, output: b.output, lse: b.lse };
      const result = Object.fromEntries(wanted.map((name, i) => [name, arrays[i]])) as { [N in K]: Float32Array };
      return { ...result, timings };
    } finally {
      timer?.destroy();
    }
  }

  return {
    device,
    run(shape, inputs, options = {}) {
      return enqueue(() => runNow(shape, inputs, options));
    },
    buffers: () => last,
    reducedMap(request) {
      return enqueue(async () => {
        const current = need();
        const { seqLen, kvLen, heads } = current.shape;
        const { rows, cols } = request;
        for (const [field, value, length] of [['rows', rows, seqLen], ['cols', cols, kvLen]] as const) {
          if (!Number.isInteger(value) || value < 1 || value > Math.min(length, FLASH_MAX_GRID_SIDE)) {
            throw new AttentionInputError(field, String(value), `an integer from 1 to ${Math.min(length, FLASH_MAX_GRID_SIDE)}`, 'shape');
          }
        }
        const cells = heads * rows * cols;
        if (request.signal?.aborted) throw new AttentionAbortError();
        // Grid rows in chunks of about chunkWork multiply-adds, each its own submission (and
        // error scope), as the fused run.
        const chunks = reducedMapChunks(current.shape, rows, cols, chunkWork);
        const mode = request.mode === 'max' ? 0 : 1;
        let grid: GPUBuffer | null = null;
        let group: GPUBindGroup | null = null;
        for (let index = 0; index < chunks.length; index++) {
          const { firstRow, dims } = chunks[index];
          if (index > 0) {
            await betweenChunks(request.signal);
            request.onProgress?.(firstRow, rows);
          }
          await scoped(device, { what: 'the reduced map', buffers: 'the reduced map', onOutOfMemory: () => slots.grid.destroy() }, () => {
            grid ??= slots.grid.ensure(cells * 4);
            group ??= kernels.reduce.bind([params, current.qkv, current.lse, grid, gridParams]);
            device.queue.writeBuffer(gridParams, 0, packUniform(GRID_PARAMS_LAYOUT, { rows, cols, mode, firstRow }));
            const encoder = device.createCommandEncoder({ label: 'flash/reduce' });
            encodePass(encoder, kernels.reduce, group, dims, { label: 'flash/reduce' });
            device.queue.submit([encoder.finish()]);
          });
        }
        const [values] = await readBack([[grid!, 0, cells]], 'reduced map');
        request.onProgress?.(rows, rows);
        return values;
      });
    },
    readRows(rows) {
      return enqueue(async () => {
        const current = need();
        const { seqLen, kvLen, heads, dHead, width, causal } = current.shape;
        for (const row of rows) {
          if (!Number.isInteger(row) || row < 0 || row >= seqLen) throw new AttentionInputError('rows', String(row), `integers from 0 to ${seqLen - 1}`, 'shape');
        }
        const ranges: Array<[GPUBuffer, number, number]> = [[current.qkv, current.kOffset, kvLen * width]];
        for (const row of rows) ranges.push([current.qkv, row * width, width], [current.output, row * width, width]);
        for (let h = 0; h < heads; h++) for (const row of rows) ranges.push([current.lse, h * seqLen + row, 1]);
        const parts = await readBack(ranges, 'rows');
        const k = parts[0];
        const n = rows.length;
        const scores = new Float32Array(heads * n * kvLen);
        const weights = new Float32Array(heads * n * kvLen);
        const output = new Float32Array(n * width);
        const lse = new Float32Array(heads * n);
        const scale = 1 / Math.sqrt(dHead);
        const line = new Float64Array(kvLen);
        rows.forEach((i, r) => {
          const q = parts[1 + 2 * r];
          output.set(parts[2 + 2 * r], r * width);
          for (let h = 0; h < heads; h++) {
            const rowLse = parts[1 + 2 * n + h * n + r][0];
            lse[h * n + r] = rowLse;
            for (let j = 0; j < kvLen; j++) {
              if (causal && j > i) {
                line[j] = -Infinity;
                continue;
              }
              let dot = 0;
              for (let d = 0; d < dHead; d++) dot += q[h * dHead + d] * k[j * width + h * dHead + d];
              line[j] = dot * scale;
            }
            const at = (h * n + r) * kvLen;
            scores.set(line, at);
            // Weights from the GPU's log-sum-exp, not a fresh softmax: this is what the
            // fused kernel normalised by, so a wrong lse shows up here.
            for (let j = 0; j < kvLen; j++) weights[at + j] = line[j] === -Infinity ? 0 : Math.exp(line[j] - rowLse);
          }
        });
        return { scores, weights, output, lse };
      });
    },
    destroy() {
      if (destroyed) return;
      destroyed = true;
      for (const slot of Object.values(slots)) slot.destroy();
      params.destroy();
      gridParams.destroy();
      chunkParams.destroy();
      last = null;
    },
  };
}

