/**
 * The fused attention path (shaders/flash.wgsl): projections, then one kernel that streams
 * keys and values past each query with an online softmax, so the seqLen × kvLen map is never
 * stored and extra memory is O(heads · seqLen) (one log-sum-exp per row). It reaches lengths
 * whose map would not fit in a storage buffer (65536² · 4 bytes = 16 GiB). For display,
 * {@link FlashAttention.reducedMap} recomputes block maxima or means of the weights from q, k
 * and the row log-sum-exps, and {@link FlashAttention.readRows} recomputes whole rows for
 * verification.
 */
import { packedLayout, uploadInputs } from './packing';
import { createSerialQueue } from '../core/serial';
import { AttentionAbortError, AttentionError, AttentionInputError, GpuDeviceLostError } from '../core/errors';
import type { AttentionInputs, AttentionShape, ResolvedShape } from '../core/types';
import { validateAttention } from '../core/validate';
import { GrowableBuffer, checkStorageSize } from '../gpu/buffers';
import { createPassTimer } from '../gpu/timer';
import { describeDevice } from '../gpu/device';
import { ATTENTION_SHADERS, PARAMS_BYTES, PROJ_TILE } from './shaders';

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

interface FlashPipelines {
  projections: GPUComputePipeline;
  flash: GPUComputePipeline;
  reduce: GPUComputePipeline;
}

const cache = new WeakMap<GPUDevice, Map<string, Promise<FlashPipelines>>>();

async function compile(device: GPUDevice, name: 'projections' | 'flash' | 'flashReduce', constants: Record<string, number>): Promise<GPUComputePipeline> {
  const module = device.createShaderModule({ label: `flash/${name} shader`, code: ATTENTION_SHADERS[name] });
  const info = await module.getCompilationInfo();
  const errors = info.messages.filter((m) => m.type === 'error');
  if (errors.length > 0) {
    throw new AttentionError(`The ${name} kernel failed to compile:\n${errors.map((m) => `line ${m.lineNum}:${m.linePos}: ${m.message}`).join('\n')}`);
  }
  return device.createComputePipelineAsync({ label: `flash/${name} pipeline`, layout: 'auto', compute: { module, entryPoint: 'main', constants } });
}

function getPipelines(device: GPUDevice, wg: number, proj: [number, number]): Promise<FlashPipelines> {
  let perDevice = cache.get(device);
  if (!perDevice) cache.set(device, (perDevice = new Map()));
  const key = `${wg}|${proj.join('x')}`;
  let entry = perDevice.get(key);
  if (!entry) {
    entry = (async () => {
      device.pushErrorScope('validation');
      const all = Promise.all([
        compile(device, 'projections', { WG_X: proj[0], WG_Y: proj[1] }),
        compile(device, 'flash', { WG_SIZE: wg }),
        compile(device, 'flashReduce', { WG_X: 8, WG_Y: 8 }),
      ]);
      const scope = device.popErrorScope();
      const [projections, flash, reduce] = await all;
      const error = await scope;
      if (error) throw new AttentionError(`Compiling the fused kernels failed: ${error.message}`);
      return { projections, flash, reduce };
    })();
    perDevice.set(key, entry);
    entry.catch(() => perDevice.delete(key));
  }
  return entry;
}


/**
 * Create the fused attention path on a device (kernels cached per device and options). The
 * device stays the caller's: `destroy()` frees only what this made.
 */
export async function createFlashAttention(device: GPUDevice, options: FlashOptions = {}): Promise<FlashAttention> {
  const wg = options.workgroupSize ?? 64;
  const proj = options.projectionWorkgroup ?? [8, 8];
  const pipelines = await getPipelines(device, wg, proj);
  let lost: GPUDeviceLostInfo | null = null;
  void device.lost.then((info) => (lost = info));
  const storage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
  const slots = {
    src: new GrowableBuffer(device, 'flash/src (x | xKV)', storage),
    w: new GrowableBuffer(device, 'flash/w (wq | wk | wv)', storage),
    qkv: new GrowableBuffer(device, 'flash/qkv', storage),
    output: new GrowableBuffer(device, 'flash/output', storage),
    lse: new GrowableBuffer(device, 'flash/lse', storage),
    grid: new GrowableBuffer(device, 'flash/grid', storage),
  };
  const params = device.createBuffer({ label: 'flash/params', size: PARAMS_BYTES, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  const gridParams = device.createBuffer({ label: 'flash/grid params', size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  const chunkParams = device.createBuffer({ label: 'flash/chunk', size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  const software = describeDevice(device).isSoftware;
  const chunkWork = options.chunkWork ?? (software ? 2 ** 27 : 2 ** 31);
  const threads = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ?? 4;
  const minChunkGroups = options.chunkWork !== undefined ? 1 : software ? 2 * threads : 1024;
  if (!(chunkWork >= 1)) throw new AttentionInputError('chunkWork', String(chunkWork), 'a number ≥ 1 (multiply-adds per submission)', 'shape');
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
  let destroyed = false;
  let last: FlashBuffers | null = null;
  const enqueue = createSerialQueue();
  const checkAlive = () => {
    if (lost) throw new GpuDeviceLostError(lost.reason, lost.message);
    if (destroyed) throw new AttentionError('This FlashAttention was destroyed; create a new one.');
  };
  const need = () => {
    checkAlive();
    if (!last) throw new AttentionError('No fused run has completed yet.');
    return last;
  };

  /** Copy [buffer, elementOffset, length] ranges back, one staging buffer. */
  async function readBack(ranges: Array<[GPUBuffer, number, number]>, label: string): Promise<Float32Array[]> {
    const total = ranges.reduce((n, [, , len]) => n + len, 0);
    const staging = device.createBuffer({ label: `flash/${label} readback`, size: Math.max(16, total * 4), usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ });
    try {
      const encoder = device.createCommandEncoder({ label: `flash/${label} readback` });
      let at = 0;
      for (const [buffer, offset, len] of ranges) {
        if (len > 0) encoder.copyBufferToBuffer(buffer, offset * 4, staging, at * 4, len * 4);
        at += len;
      }
      device.queue.submit([encoder.finish()]);
      await staging.mapAsync(GPUMapMode.READ);
      const all = new Float32Array(staging.getMappedRange().slice(0));
      const out: Float32Array[] = [];
      at = 0;
      for (const [, , len] of ranges) {
        out.push(all.subarray(at, at + len));
        at += len;
      }
      return out;
    } catch (error) {
      if (lost) throw new GpuDeviceLostError(lost.reason, lost.message);
      throw error;
    } finally {
      staging.destroy();
    }
  }

  async function runNow<K extends FlashResultName>(shape: AttentionShape, inputs: AttentionInputs, options: FlashRunOptions<K>): Promise<FlashRunResult<K>> {
    const s = validateAttention(shape, inputs, { storesMap: false });
    checkAlive();
    if (options.signal?.aborted) throw new AttentionAbortError();
    if (s.dHead > FLASH_MAX_DHEAD) throw new AttentionInputError('dHead', String(s.dHead), `at most ${FLASH_MAX_DHEAD} on the fused path`, 'too-large');
    const layout = packedLayout(s, inputs);
    const { kOffset, vOffset } = layout;
    const bytes = {
      ...layout.bytes,
      output: 4 * s.seqLen * s.width,
      lse: 4 * s.heads * s.seqLen,
    };
    for (const [field, size] of Object.entries(bytes)) checkStorageSize(device, field, size);
    const maxGroups = device.limits.maxComputeWorkgroupsPerDimension;
    const projDims = [Math.ceil(s.width / (proj[0] * PROJ_TILE)), Math.ceil(Math.max(s.seqLen, s.kvLen) / (proj[1] * PROJ_TILE)), 3];
    const flashDims = [Math.ceil(s.seqLen / (wg * 2)), s.heads, 1];
    if (Math.max(...projDims, ...flashDims) > maxGroups) {
      throw new AttentionInputError('seqLen', `a dispatch of more than ${maxGroups} workgroups`, `at most ${maxGroups} (maxComputeWorkgroupsPerDimension)`, 'too-large');
    }

    // From here the buffers of the previous run are overwritten (or replaced when they grow):
    // until this run completes there is no run to read back or reduce.
    last = null;
    device.pushErrorScope('out-of-memory');
    device.pushErrorScope('validation');
    const b = {
      src: slots.src.ensure(bytes.src),
      w: slots.w.ensure(bytes.w),
      qkv: slots.qkv.ensure(bytes.qkv),
      output: slots.output.ensure(bytes.output),
      lse: slots.lse.ensure(bytes.lse),
    };
    uploadInputs(device, { params, src: b.src, w: b.w }, s, inputs, layout);
    const bind = (pipeline: GPUComputePipeline, name: string, resources: GPUBuffer[]) =>
      device.createBindGroup({ label: `flash/${name} bind group`, layout: pipeline.getBindGroupLayout(0), entries: [params, ...resources].map((buffer, binding) => ({ binding, resource: { buffer } })) });
    // The fused kernel in chunks of query blocks (see FlashOptions.chunkWork); every chunk is
    // its own submission, timed by its own timestamp pair.
    const blocks = flashDims[0];
    const perBlock = wg * 2 * s.kvLen * s.dHead * s.heads * (s.causal ? 0.5 : 1);
    // At least minChunkGroups workgroups per submission, or the device idles: a CPU
    // implementation spreads workgroups over its threads, a GPU over its cores.
    const chunkBlocks = Math.max(1, Math.min(blocks, maxGroups, Math.max(Math.ceil(minChunkGroups / s.heads), Math.floor(chunkWork / perBlock))));
    const chunks = Math.min(Math.ceil(blocks / chunkBlocks), 2047);
    const blocksPerChunk = Math.ceil(blocks / chunks);
    const timer = createPassTimer(device, 1 + chunks, 'flash');
    try {
      const projectionGroup = bind(pipelines.projections, 'projections', [b.src, b.w, b.qkv]);
      const flashGroup = bind(pipelines.flash, 'attention', [b.qkv, b.output, b.lse, chunkParams]);
      const start = performance.now();
      for (let chunk = 0; chunk < chunks; chunk++) {
        const first = chunk * blocksPerChunk;
        const count = Math.min(blocksPerChunk, blocks - first);
        device.queue.writeBuffer(chunkParams, 0, new Uint32Array([first, 0, 0, 0]));
        const encoder = device.createCommandEncoder({ label: `flash run, chunk ${chunk + 1} of ${chunks}` });
        if (chunk === 0) {
          const pass = encoder.beginComputePass({ label: 'flash/projections pass', ...(timer ? { timestampWrites: timer.passWrites(0) } : {}) });
          pass.setPipeline(pipelines.projections);
          pass.setBindGroup(0, projectionGroup);
          pass.dispatchWorkgroups(projDims[0], projDims[1], projDims[2]);
          pass.end();
        }
        const pass = encoder.beginComputePass({ label: 'flash/attention pass', ...(timer ? { timestampWrites: timer.passWrites(1 + chunk) } : {}) });
        pass.setPipeline(pipelines.flash);
        pass.setBindGroup(0, flashGroup);
        pass.dispatchWorkgroups(count, flashDims[1], flashDims[2]);
        pass.end();
        if (chunk === chunks - 1) timer?.resolve(encoder);
        device.queue.submit([encoder.finish()]);
        if (chunk === 0) {
          const validation = await device.popErrorScope();
          const memory = await device.popErrorScope();
          if (memory) throw new AttentionError(`The GPU ran out of memory allocating the fused attention buffers (${memory.message}).`);
          if (validation) throw new AttentionError(`WebGPU rejected the fused attention run: ${validation.message}`);
        }
        if (chunk < chunks - 1) {
          await betweenChunks(options.signal);
          options.onProgress?.(first + count, blocks);
        }
      }
      const wanted = [...new Set(options.read ?? (['q', 'k', 'v', 'output', 'lse'] as K[]))];
      const ranges: Record<FlashResultName, [GPUBuffer, number, number]> = {
        q: [b.qkv, 0, s.seqLen * s.width],
        k: [b.qkv, kOffset, s.kvLen * s.width],
        v: [b.qkv, vOffset, s.kvLen * s.width],
        output: [b.output, 0, s.seqLen * s.width],
        lse: [b.lse, 0, s.heads * s.seqLen],
      };
      const arrays = await readBack(wanted.map((name) => ranges[name]), 'run');
      const wall = performance.now() - start;
      options.onProgress?.(blocks, blocks);
      const gpu = timer ? await timer.read() : null;
      // Device time: projections plus every chunk (the idle gaps between submissions excluded).
      const attention = gpu ? gpu.passes.slice(1).reduce((sum, ms) => sum + ms, 0) : Number.NaN;
      const timings: FlashTimings = gpu
        ? { projections: gpu.passes[0], attention, total: gpu.passes[0] + attention, chunks, source: 'timestamp-query' }
        : { projections: Number.NaN, attention: Number.NaN, total: wall, chunks, source: 'wall-clock' };
      last = { shape: s, qkv: b.qkv, kOffset, vOffset, output: b.output, lse: b.lse };
      const result = Object.fromEntries(wanted.map((name, i) => [name, arrays[i].slice()])) as { [N in K]: Float32Array };
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
        device.pushErrorScope('validation');
        const grid = slots.grid.ensure(cells * 4);
        const group = device.createBindGroup({
          label: 'flash/reduce bind group',
          layout: pipelines.reduce.getBindGroupLayout(0),
          entries: [params, current.qkv, current.lse, grid, gridParams].map((buffer, binding) => ({ binding, resource: { buffer } })),
        });
        // Grid rows in chunks of about chunkWork multiply-adds (a multiple of the 8-row
        // workgroup), each its own submission, as the fused run.
        const perRow = Math.ceil(seqLen / rows) * kvLen * current.shape.dHead * heads * (current.shape.causal ? 0.5 : 1);
        const chunkRows = Math.min(Math.ceil(rows / 8) * 8, Math.max(8, Math.floor(chunkWork / perRow / 8) * 8));
        for (let first = 0; first < rows; first += chunkRows) {
          device.queue.writeBuffer(gridParams, 0, new Uint32Array([rows, cols, request.mode === 'max' ? 0 : 1, first]));
          const encoder = device.createCommandEncoder({ label: 'flash/reduce' });
          const pass = encoder.beginComputePass({ label: 'flash/reduce pass' });
          pass.setPipeline(pipelines.reduce);
          pass.setBindGroup(0, group);
          pass.dispatchWorkgroups(Math.ceil(cols / 8), Math.min(chunkRows, rows - first + 7) >> 3, heads);
          pass.end();
          device.queue.submit([encoder.finish()]);
          if (first === 0) {
            const error = await device.popErrorScope();
            if (error) throw new AttentionError(`WebGPU rejected the reduced map: ${error.message}`);
          }
          if (first + chunkRows < rows) {
            await betweenChunks(request.signal);
            request.onProgress?.(first + chunkRows, rows);
          }
        }
        const [values] = await readBack([[grid, 0, cells]], 'reduced map');
        request.onProgress?.(rows, rows);
        return values.slice();
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

