/**
 * The surface-grid reduction on the GPU (shaders/reduce.wgsl): the attention buffers of the
 * last run become the five planes of src/reference/reduce.ts in one dispatch, without leaving
 * the device. The grid buffer is allocated once at full capacity so the 3D scene can bind it
 * once (three.js caches its bindings) and every later reduction simply overwrites it.
 */
import { readBuffer } from '../gpu/buffers';
import { AttentionError } from '../core/errors';
import { GRID_CELL_CAPACITY, GRID_PLANES, type GridPlan } from '../reference/reduce';
import type { AttentionBuffers } from './attention';
import reduceSource from '../../shaders/reduce.wgsl?raw';

/** Workgroup size of the reduction (WGSL `override` constants WG_X, WG_Y). */
export const REDUCE_WORKGROUP: [number, number] = [8, 8];

/** Byte size of `ReduceParams` in reduce.wgsl (16 four-byte fields). */
const PARAMS_BYTES = 64;

/** A reusable reduction target on one device. Create with {@link createGridReducer}. */
export interface GridReducer {
  readonly device: GPUDevice;
  /**
   * The grid: plane p of cell n at element p · {@link GridReducer.planeStride} + n. Usage
   * includes VERTEX and COPY_DST, what three.js gives its own storage attributes, so it can
   * stand in for one.
   */
  readonly grid: GPUBuffer;
  /** Elements between planes (= {@link GRID_CELL_CAPACITY}). */
  readonly planeStride: number;
  /** Reduce the buffers of a run to `plan` and wait until the GPU is done. */
  reduce(buffers: AttentionBuffers, plan: GridPlan): Promise<void>;
  /** Write planes computed on the CPU (plane-major, as `reduceAttention` returns them). */
  upload(planes: Float32Array, plan: GridPlan): void;
  /** Copy the planes of `plan` back, compacted to the layout of `reduceAttention`. */
  read(plan: GridPlan): Promise<Float32Array>;
  /**
   * Fill the grid from a precomputed weights grid on this device: every plane but `weightsPlane`
   * from `planes` (CPU, plane-major), the weights plane copied GPU-side from `source` (cells
   * starting at element `sourceOffset`). Rejects with the validation error if the copy is refused.
   */
  fillWithWeights(planes: Float32Array, source: GPUBuffer, sourceOffset: number, weightsPlane: number, plan: GridPlan): Promise<void>;
  /** Copy `count` floats from element `offset` of a buffer on this device back to the CPU. */
  readFloats(source: GPUBuffer, offset: number, count: number): Promise<Float32Array>;
  destroy(): void;
}

const pipelineCache = new WeakMap<GPUDevice, Promise<GPUComputePipeline>>();

function getPipeline(device: GPUDevice): Promise<GPUComputePipeline> {
  let pipeline = pipelineCache.get(device);
  if (!pipeline) {
    pipeline = (async () => {
      const module = device.createShaderModule({ label: 'reduce shader', code: reduceSource });
      const info = await module.getCompilationInfo();
      const errors = info.messages.filter((m) => m.type === 'error');
      if (errors.length > 0) {
        throw new AttentionError(`The reduce kernel failed to compile:\n${errors.map((m) => `reduce.wgsl line ${m.lineNum}:${m.linePos}: ${m.message}`).join('\n')}`);
      }
      return device.createComputePipelineAsync({
        label: 'reduce pipeline',
        layout: 'auto',
        compute: { module, entryPoint: 'main', constants: { WG_X: REDUCE_WORKGROUP[0], WG_Y: REDUCE_WORKGROUP[1] } },
      });
    })();
    pipelineCache.set(device, pipeline);
    pipeline.catch(() => pipelineCache.delete(device));
  }
  return pipeline;
}

function cellsOf(plan: GridPlan): number {
  const cells = plan.headCount * plan.rows * plan.cols;
  if (cells > GRID_CELL_CAPACITY) throw new AttentionError(`A grid of ${cells} cells exceeds the capacity of ${GRID_CELL_CAPACITY}.`);
  return cells;
}

/** Allocate the grid buffer and compile the reduction (cached per device). */
export async function createGridReducer(device: GPUDevice): Promise<GridReducer> {
  const pipeline = await getPipeline(device);
  const planeStride = GRID_CELL_CAPACITY;
  const grid = device.createBuffer({
    label: 'reduce/grid',
    size: GRID_PLANES.length * planeStride * 4,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.VERTEX | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
  });
  const params = device.createBuffer({ label: 'reduce/params', size: PARAMS_BYTES, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  let destroyed = false;
  const checkAlive = () => {
    if (destroyed) throw new AttentionError('This GridReducer was destroyed.');
  };

  return {
    device,
    grid,
    planeStride,
    async reduce(buffers, plan) {
      checkAlive();
      cellsOf(plan);
      const s = buffers.shape;
      if (plan.seqLen !== s.seqLen || plan.kvLen !== s.kvLen || plan.headFirst + plan.headCount > s.heads) {
        throw new AttentionError('The grid plan does not match the attention buffers.');
      }
      const words = new ArrayBuffer(PARAMS_BYTES);
      const u32 = new Uint32Array(words);
      u32.set([s.seqLen, s.kvLen, s.heads, s.dHead, s.width, s.causal ? 1 : 0, buffers.kOffset, plan.rows, plan.cols, plan.headFirst, plan.headCount, plan.mode === 'max' ? 0 : 1, planeStride]);
      new Float32Array(words)[13] = 1 / Math.sqrt(s.dHead);
      device.pushErrorScope('validation');
      device.queue.writeBuffer(params, 0, words);
      const bindGroup = device.createBindGroup({
        label: 'reduce bind group',
        layout: pipeline.getBindGroupLayout(0),
        entries: [params, buffers.qkv, buffers.scores, buffers.weights, grid].map((buffer, binding) => ({ binding, resource: { buffer } })),
      });
      const encoder = device.createCommandEncoder({ label: 'reduce' });
      const pass = encoder.beginComputePass({ label: 'reduce pass' });
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bindGroup);
      pass.dispatchWorkgroups(Math.ceil(plan.cols / REDUCE_WORKGROUP[0]), Math.ceil(plan.rows / REDUCE_WORKGROUP[1]), plan.headCount);
      pass.end();
      device.queue.submit([encoder.finish()]);
      const error = await device.popErrorScope();
      if (error) throw new AttentionError(`WebGPU rejected the reduction: ${error.message}`);
      await device.queue.onSubmittedWorkDone();
    },
    upload(planes, plan) {
      checkAlive();
      const cells = cellsOf(plan);
      if (planes.length !== GRID_PLANES.length * cells) throw new AttentionError(`Expected ${GRID_PLANES.length * cells} values, got ${planes.length}.`);
      for (let p = 0; p < GRID_PLANES.length; p++) {
        device.queue.writeBuffer(grid, p * planeStride * 4, planes, p * cells, cells);
      }
    },
    async read(plan) {
      checkAlive();
      const cells = cellsOf(plan);
      const bytes = cells * 4;
      const staging = device.createBuffer({ label: 'reduce/grid readback', size: GRID_PLANES.length * bytes, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ });
      try {
        const encoder = device.createCommandEncoder({ label: 'reduce readback' });
        for (let p = 0; p < GRID_PLANES.length; p++) encoder.copyBufferToBuffer(grid, p * planeStride * 4, staging, p * bytes, bytes);
        device.queue.submit([encoder.finish()]);
        await staging.mapAsync(GPUMapMode.READ);
        return new Float32Array(staging.getMappedRange().slice(0));
      } finally {
        staging.destroy();
      }
    },
    async fillWithWeights(planes, source, sourceOffset, weightsPlane, plan) {
      checkAlive();
      if (!(source.usage & GPUBufferUsage.COPY_SRC)) throw new AttentionError('The weights grid buffer needs COPY_SRC usage to be copied into the surface.');
      const cells = cellsOf(plan);
      device.pushErrorScope('validation');
      for (let p = 0; p < GRID_PLANES.length; p++) {
        if (p !== weightsPlane) device.queue.writeBuffer(grid, p * planeStride * 4, planes, p * cells, cells);
      }
      const encoder = device.createCommandEncoder({ label: 'reduce/grid copy' });
      encoder.copyBufferToBuffer(source, sourceOffset * 4, grid, weightsPlane * planeStride * 4, cells * 4);
      device.queue.submit([encoder.finish()]);
      const error = await device.popErrorScope();
      if (error) throw new AttentionError(`Copying the weights grid failed (is the buffer on the scene's device?): ${error.message}`);
    },
    async readFloats(source, offset, count) {
      checkAlive();
      device.pushErrorScope('validation');
      const reading = readBuffer(device, source, offset * 4, count * 4, 'reduce/weights grid');
      const error = await device.popErrorScope();
      if (error) {
        reading.catch(() => undefined);
        throw new AttentionError(`Reading the weights grid failed: ${error.message}`);
      }
      return reading;
    },
    destroy() {
      if (destroyed) return;
      destroyed = true;
      grid.destroy();
      params.destroy();
    },
  };
}
