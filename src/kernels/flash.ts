/**
 * The fused attention path (shaders/flash.wgsl): projections, then one kernel that streams
 * keys and values past each query with an online softmax, so the seqLen × kvLen map is never
 * stored and extra memory is O(heads · seqLen) (one log-sum-exp per row). It reaches lengths
 * whose map would not fit in a storage buffer (65536² · 4 bytes = 16 GiB). For display,
 * {@link FlashAttention.reducedMap} recomputes block maxima or means of the weights from q, k
 * and the row log-sum-exps, and {@link FlashAttention.readRows} recomputes whole rows for
 * verification.
 */
import { AttentionInputError } from '../core/errors';
import type { AttentionInputs, AttentionShape, ResolvedShape } from '../core/types';
import { validateAttention } from '../core/validate';
import { checkStorageSize } from '../gpu/buffers';
import { scoped } from '../gpu/guard';
import { encodePass, getKernel, type BindingKind, type Kernel } from '../gpu/pipeline';
import { packUniform } from '../gpu/uniforms';
import { readFloats } from '../gpu/readback';
import { createRunner, type HoldResult } from '../gpu/runner';
import { createPassTimer } from '../gpu/timer';
import { checkDims, fusedChunks, projectionDims, reducedMapChunks, REDUCED_MAP_WORKGROUP } from './launch';
import { CHUNK_LAYOUT, GRID_PARAMS_LAYOUT, PARAMS_LAYOUT, packedLayout, uploadInputs } from './packing';
import { kernelSource } from './shaders';
import { FUSED_BLOCK_ROWS, UNROLLED_FLASH } from './shader-variants';
import { chunkPolicyFor, classifyAdapter, cpuThreads, tuningFor } from './tuning';

/** Largest dHead of the fused kernel (`MAX_D4` · 4 in flash.wgsl). */
export const FLASH_MAX_DHEAD = 128;

/** Largest grid side of {@link FlashAttention.reducedMap}. */
export const FLASH_MAX_GRID_SIDE = 4096;

/** What the fused path can copy back: no scores or weights, but each row's log-sum-exp. */
export type FlashResultName = 'q' | 'k' | 'v' | 'output' | 'lse' | 'entropy';

/** Milliseconds of the two passes of a fused run. */
export interface FlashTimings {
  projections: number;
  /** The fused scores → softmax → output kernel (summed over its chunks). */
  attention: number;
  total: number;
  /** Submissions the fused kernel was split into (see {@link FlashOptions.chunkWork}). */
  chunks: number;
  source: 'timestamp-query' | 'wall-clock';
  /** The fused kernel that ran ({@link FusedAttentionKernel}.variant). */
  kernel: 'loop' | 'unrolled';
}

/** Options of one {@link FlashAttention.run}. */
export interface FlashRunOptions<K extends FlashResultName = FlashResultName, H extends boolean = boolean> {
  /** Which arrays to copy back (default: all five). */
  read?: readonly K[];
  /** Cancels the run between two chunks (an {@link AttentionAbortError}). */
  signal?: AbortSignal;
  /** Called after each chunk of the fused kernel: query blocks done and in all. */
  onProgress?: (done: number, total: number) => void;
  /**
   * Hold the run's buffers (q | k | v, output, lse, and the grid its reducedMap writes) until
   * `held.release()`: later runs write into another set (see gpu/runner).
   */
  hold?: H;
}

/**
 * A fused run's arrays: q, k, v, output in the layouts of core/types, and `lse`
 * (heads × seqLen): m + log Σ exp(s − m) of each row, −∞ for a row with no visible key; with
 * `read` naming it, `entropy` (heads × seqLen): each row's −Σ w·ln w in nats, 0 for a row with no
 * visible key (computed in the same pass: lse − Σ w·s).
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
  /** Increases whenever one of the run's buffers is replaced. */
  generation: number;
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
  /** Reduce this held run (its `held.buffers`) instead of the last one. */
  from?: FlashBuffers;
}

/** Fused attention on one GPUDevice. Create with {@link createFlashAttention}. */
export interface FlashAttention {
  readonly device: GPUDevice;
  /** Validate, upload, project and run the fused kernel; copy back what is asked for. Runs are queued. */
  run<K extends FlashResultName = FlashResultName, H extends boolean = false>(
    shape: AttentionShape,
    inputs: AttentionInputs,
    options?: FlashRunOptions<K, H>,
  ): Promise<FlashRunResult<K> & HoldResult<H, FlashBuffers>>;
  /** Buffers of the last completed run (null before the first, or while a run writes over them). */
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
   * GPU), in the layout of `attentionCpuRows` / `GpuAttention.readRows`. `from`: a held run's buffers.
   */
  readRows(rows: readonly number[], from?: FlashBuffers): Promise<{ scores: Float32Array; weights: Float32Array; output: Float32Array; lse: Float32Array }>;
  /** How many buffer sets this instance has now (1 without holds). */
  readonly bufferSets: number;
  destroy(): void;
}

/** Options of {@link createFlashAttention}. */
export interface FlashOptions {
  /** Invocations per workgroup of the loop kernel (flash.wgsl: each owns two query rows). Default 64. */
  workgroupSize?: number;
  /**
   * Which fused kernel runs (AttentionTuning.fused): 'loop' (flash.wgsl) or 'unrolled'
   * (flash-fixed.wgsl, for dHead 16, 32 and 64; other head sizes run the loop). Default: the
   * device's tuning ('unrolled' on software adapters, 'loop' on GPUs).
   */
  kernel?: 'loop' | 'unrolled';
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

const BINDINGS: Record<'projections' | 'flash' | 'reduce', readonly BindingKind[]> = {
  projections: ['uniform', 'read-only-storage', 'read-only-storage', 'storage'],
  flash: ['uniform', 'read-only-storage', 'storage', 'storage', 'uniform'],
  reduce: ['uniform', 'read-only-storage', 'read-only-storage', 'storage', 'uniform'],
};

/** The fused kernel for one head size, and the queries each of its workgroups owns. */
export interface FusedAttentionKernel {
  kernel: Kernel;
  /** Queries per workgroup: a dispatch covers ceil(seqLen / blockRows) blocks (launch.ts fusedChunks). */
  blockRows: number;
  /** Which kernel it is: flash.wgsl's loop or flash-fixed.wgsl written out for this head size. */
  variant: 'loop' | 'unrolled';
}

/**
 * The fused kernel for `dHead` (cached per device): with `kind` 'unrolled' and a head size
 * flash-fixed.wgsl is written out for (16, 32, 64: UNROLLED_FLASH), that kernel, in workgroups
 * of 128 queries (FUSED_BLOCK_ROWS); else flash.wgsl in workgroups of `wg` invocations of two
 * queries. Both bind [params, qkv, output, lse, chunk].
 */
export async function fusedAttentionKernel(device: GPUDevice, dHead: number, kind: 'loop' | 'unrolled' = 'loop', wg = 64): Promise<FusedAttentionKernel> {
  if (kind === 'unrolled' && (dHead === 16 || dHead === 32 || dHead === 64)) {
    const { rows } = UNROLLED_FLASH[dHead];
    const kernel = await getKernel(device, { label: `flash/flashD${dHead}`, source: kernelSource(`flashD${dHead}`), constants: { WG_SIZE: FUSED_BLOCK_ROWS / rows }, bindings: BINDINGS.flash });
    return { kernel, blockRows: FUSED_BLOCK_ROWS, variant: 'unrolled' };
  }
  const kernel = await getKernel(device, { label: 'flash/attention', source: kernelSource('flash'), constants: { WG_SIZE: wg }, bindings: BINDINGS.flash });
  return { kernel, blockRows: 2 * wg, variant: 'loop' };
}

/**
 * The reduced map's kernel for `dHead` (cached per device): flash-reduce-fixed.wgsl written out
 * for head sizes 16, 32 and 64 with `kind` 'unrolled', else flash-reduce.wgsl. Both bind
 * [params, qkv, lse, grid, grid params] and dispatch alike.
 */
export function fusedReduceKernel(device: GPUDevice, dHead: number, kind: 'loop' | 'unrolled' = 'loop'): Promise<Kernel> {
  const unrolled = kind === 'unrolled' && (dHead === 16 || dHead === 32 || dHead === 64);
  const name = unrolled ? (`flashReduceD${dHead}` as const) : 'flashReduce';
  return getKernel(device, {
    label: `flash/${name}`,
    source: kernelSource(name),
    constants: { WG_X: REDUCED_MAP_WORKGROUP[0], WG_Y: REDUCED_MAP_WORKGROUP[1] },
    bindings: BINDINGS.reduce,
  });
}

/** The fused path's projections (the unfused kernel; the fused kernel and the reduced map's come per head size). */
function projectionsKernel(device: GPUDevice, proj: [number, number]): Promise<Kernel> {
  return getKernel(device, { label: 'flash/projections', source: kernelSource('projections'), constants: { WG_X: proj[0], WG_Y: proj[1] }, bindings: BINDINGS.projections });
}

/**
 * Create the fused attention path on a device (kernels cached per device and options). The
 * device stays the caller's: `destroy()` frees only what this made.
 */
export async function createFlashAttention(device: GPUDevice, options: FlashOptions = {}): Promise<FlashAttention> {
  const wg = options.workgroupSize ?? 64;
  const proj = options.projectionWorkgroup ?? [8, 8];
  const kind = options.kernel ?? tuningFor(device).fused ?? 'loop';
  if (kind !== 'loop' && kind !== 'unrolled') throw new AttentionInputError('kernel', JSON.stringify(kind), "'loop' or 'unrolled'", 'type');
  const kernels = { projections: await projectionsKernel(device, proj) };
  const uniform = GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST;
  const params = device.createBuffer({ label: 'flash/params', size: PARAMS_LAYOUT.size, usage: uniform });
  const gridParams = device.createBuffer({ label: 'flash/grid params', size: GRID_PARAMS_LAYOUT.size, usage: uniform });
  const chunkParams = device.createBuffer({ label: 'flash/chunk', size: CHUNK_LAYOUT.size, usage: uniform });
  const runner = createRunner<'src' | 'w' | 'qkv' | 'output' | 'lse' | 'grid', FlashBuffers>(device, {
    prefix: 'flash',
    kind: 'FlashAttention',
    runName: 'fused run',
    cleanup: () => [params, gridParams, chunkParams].forEach((buffer) => buffer.destroy()),
  });
  const { loss } = runner;
  const policy = chunkPolicyFor(classifyAdapter(device), cpuThreads());
  const chunkWork = options.chunkWork ?? policy.chunkWork;
  // Given explicitly, the chunks are exactly this small (tests split small runs on purpose).
  const minChunkGroups = options.chunkWork !== undefined ? 1 : policy.minChunkGroups;
  if (!(chunkWork >= 1)) {
    runner.destroy();
    throw new AttentionInputError('chunkWork', String(chunkWork), 'a number ≥ 1 (multiply-adds per submission)', 'shape');
  }
  /**
   * Between two chunks: wait for the chunk, then leave the page a frame's time to draw (its
   * render work queues behind ours, and a chunk submitted at once would go first), then stop
   * if cancelled or lost.
   */
  const betweenChunks = async (signal: AbortSignal | undefined) => {
    await device.queue.onSubmittedWorkDone();
    await new Promise((resolve) => setTimeout(resolve, 20));
    runner.checkAlive();
    runner.checkAbort(signal);
  };
  const readBack = (ranges: Array<readonly [GPUBuffer, number, number]>, label: string) =>
    readFloats(device, ranges, `flash/${label}`).catch((error: unknown) => Promise.reject(loss.explain(error)));

  async function runNow<K extends FlashResultName, H extends boolean>(shape: AttentionShape, inputs: AttentionInputs, options: FlashRunOptions<K, H>) {
    const s = validateAttention(shape, inputs, { storesMap: false });
    runner.checkAlive();
    runner.checkAbort(options.signal);
    if (s.dHead > FLASH_MAX_DHEAD) throw new AttentionInputError('dHead', String(s.dHead), `at most ${FLASH_MAX_DHEAD} on the fused path`, 'too-large');
    const layout = packedLayout(s, inputs);
    const { kOffset, vOffset } = layout;
    // lse holds each row's log-sum-exp, then its entropy (flash.wgsl).
    const bytes = { ...layout.bytes, output: 4 * s.seqLen * s.width, lse: 8 * s.heads * s.seqLen };
    for (const [field, size] of Object.entries(bytes)) checkStorageSize(device, field, size);
    const maxGroups = device.limits.maxComputeWorkgroupsPerDimension;
    const projDims = projectionDims(s, { matmulWorkgroup: proj });
    const attention = await fusedAttentionKernel(device, s.dHead, kind, wg);
    const split = fusedChunks(s, { blockRows: attention.blockRows, chunkWork, minChunkGroups, maxPerDimension: maxGroups });
    checkDims({ projections: projDims, attention: [split.blocksPerChunk, s.heads, 1] }, maxGroups);

    // From here this run writes into its buffer set (the last run's unless someone holds it):
    // until it completes there is no last run to read back or reduce.
    const set = runner.beginRun();
    const timer = createPassTimer(device, 1 + split.chunks.length, 'flash');
    const oom = { what: 'the fused attention run', buffers: 'the fused attention buffers', onOutOfMemory: () => runner.freeUnheld(), advice: runner.holdAdvice() };
    try {
      // Allocation, upload and the first chunk (with the projections) in one pair of error
      // scopes; every later chunk in its own, so an error is caught where it happens.
      const submitChunk = (index: number, b: { qkv: GPUBuffer; output: GPUBuffer; lse: GPUBuffer }, projectionGroup: GPUBindGroup | null) => {
        const [first, count] = split.chunks[index];
        device.queue.writeBuffer(chunkParams, 0, packUniform(CHUNK_LAYOUT, { firstBlock: first }));
        const encoder = device.createCommandEncoder({ label: `flash run, chunk ${index + 1} of ${split.chunks.length}` });
        if (projectionGroup) encodePass(encoder, kernels.projections, projectionGroup, projDims, { label: 'flash/projections', timestampWrites: timer?.passWrites(0) });
        encodePass(encoder, attention.kernel, set.bind(`flash/attention ${attention.variant} ${s.dHead}`, attention.kernel, [params, b.qkv, b.output, b.lse, chunkParams]), [count, s.heads, 1], {
          label: 'flash/attention',
          timestampWrites: timer?.passWrites(1 + index),
        });
        if (index === split.chunks.length - 1) timer?.resolve(encoder);
        device.queue.submit([encoder.finish()]);
      };
      const b = await scoped(device, oom, () => {
        const b = set.ensureAll(bytes);
        uploadInputs(device, { params, src: b.src, w: b.w }, s, inputs, layout);
        submitChunk(0, b, set.bind('flash/projections', kernels.projections, [params, b.src, b.w, b.qkv]));
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
        entropy: [b.lse, s.heads * s.seqLen, s.heads * s.seqLen],
      };
      const arrays = await readBack(wanted.map((name) => ranges[name]), 'run');
      const wall = performance.now() - start;
      options.onProgress?.(split.blocks, split.blocks);
      const gpu = timer ? await timer.read().catch((error: unknown) => Promise.reject(loss.explain(error))) : null;
      // Device time: projections plus every chunk (the idle gaps between submissions excluded).
      const attentionMs = gpu ? gpu.passes.slice(1).reduce((sum, ms) => sum + ms, 0) : Number.NaN;
      const chunks = split.chunks.length;
      const timings: FlashTimings = gpu
        ? { projections: gpu.passes[0], attention: attentionMs, total: gpu.passes[0] + attentionMs, chunks, source: 'timestamp-query', kernel: attention.variant }
        : { projections: Number.NaN, attention: Number.NaN, total: wall, chunks, source: 'wall-clock', kernel: attention.variant };
      const held = runner.finishRun(set, { shape: s, qkv: b.qkv, kOffset, vOffset, output: b.output, lse: b.lse, generation: set.generation }, options.hold);
      const result = Object.fromEntries(wanted.map((name, i) => [name, arrays[i]])) as { [N in K]: Float32Array };
      return { ...result, timings, ...held };
    } finally {
      timer?.destroy();
    }
  }

  return {
    device,
    run<K extends FlashResultName = FlashResultName, H extends boolean = false>(shape: AttentionShape, inputs: AttentionInputs, options: FlashRunOptions<K, H> = {}) {
      return runner.enqueue(() => runNow(shape, inputs, options));
    },
    buffers: () => runner.last(),
    get bufferSets() {
      return runner.sets;
    },
    reducedMap(request) {
      return runner.enqueue(async () => {
        // The grid is a slot of the run's own set, so reducing a held run writes nothing a later run owns.
        const { set, buffers: current } = runner.readable('fused buffers to reduce', request.from);
        const { seqLen, kvLen, heads, dHead } = current.shape;
        const { rows, cols } = request;
        const reduce = await fusedReduceKernel(device, dHead, kind);
        for (const [field, value, length] of [['rows', rows, seqLen], ['cols', cols, kvLen]] as const) {
          if (!Number.isInteger(value) || value < 1 || value > Math.min(length, FLASH_MAX_GRID_SIDE)) {
            throw new AttentionInputError(field, String(value), `an integer from 1 to ${Math.min(length, FLASH_MAX_GRID_SIDE)}`, 'shape');
          }
        }
        const cells = heads * rows * cols;
        runner.checkAbort(request.signal);
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
          await scoped(device, { what: 'the reduced map', buffers: 'the reduced map', onOutOfMemory: () => runner.freeUnheld() }, () => {
            grid ??= set.ensure('grid', cells * 4);
            group ??= set.bind(`flash/reduce ${reduce.label}`, reduce, [params, current.qkv, current.lse, grid, gridParams]);
            device.queue.writeBuffer(gridParams, 0, packUniform(GRID_PARAMS_LAYOUT, { rows, cols, mode, firstRow }));
            const encoder = device.createCommandEncoder({ label: 'flash/reduce' });
            encodePass(encoder, reduce, group, dims, { label: 'flash/reduce' });
            device.queue.submit([encoder.finish()]);
          });
        }
        const [values] = await readBack([[grid!, 0, cells]], 'reduced map');
        request.onProgress?.(rows, rows);
        return values;
      });
    },
    readRows(rows, from) {
      return runner.enqueue(async () => {
        const { buffers: current } = runner.readable('fused rows', from);
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
    destroy: () => runner.destroy(),
  };
}
