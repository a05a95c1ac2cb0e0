/**
 * The surface-grid reduction on the GPU (shaders/reduce.wgsl): the attention buffers of the
 * last run become the five planes of src/reference/reduce.ts in one dispatch, without leaving
 * the device. The grid buffer is allocated once at full capacity so the 3D scene can bind it
 * once (three.js caches its bindings) and every later reduction simply overwrites it.
 */
import { AttentionError } from '../core/errors';
import { GRID_CELL_CAPACITY, GRID_PLANES, type GridPlan } from '../reference/reduce';
import { scoped } from '../gpu/guard';
import { encodePass, getKernel, type Kernel } from '../gpu/pipeline';
import { readFloats } from '../gpu/readback';
import { packUniform } from '../gpu/uniforms';
import type { AttentionBuffers } from './attention';
import { REDUCE_PARAMS_LAYOUT } from './packing';
import { kernelSource } from './shaders';

/** Workgroup size of the reduction (WGSL `override` constants WG_X, WG_Y). */
export const REDUCE_WORKGROUP: [number, number] = [8, 8];

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

function getReduceKernel(device: GPUDevice): Promise<Kernel> {
  return getKernel(device, {
    label: 'reduce',
    source: kernelSource('reduce'),
    constants: { WG_X: REDUCE_WORKGROUP[0], WG_Y: REDUCE_WORKGROUP[1] },
    bindings: ['uniform', 'read-only-storage', 'read-only-storage', 'read-only-storage', 'storage'],
  });
}

function cellsOf(plan: GridPlan): number {
  const cells = plan.headCount * plan.rows * plan.cols;
  if (cells > GRID_CELL_CAPACITY) throw new AttentionError(`A grid of ${cells} cells exceeds the capacity of ${GRID_CELL_CAPACITY}.`);
  return cells;
}

/** Allocate the grid buffer and compile the reduction (cached per device). */
export async function createGridReducer(device: GPUDevice): Promise<GridReducer> {
  const kernel = await getReduceKernel(device);
  const planeStride = GRID_CELL_CAPACITY;
  const grid = device.createBuffer({
    label: 'reduce/grid',
    size: GRID_PLANES.length * planeStride * 4,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.VERTEX | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
  });
  const params = device.createBuffer({ label: 'reduce/params', size: REDUCE_PARAMS_LAYOUT.size, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
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
      const values = {
        seqLen: s.seqLen,
        kvLen: s.kvLen,
        heads: s.heads,
        dHead: s.dHead,
        width: s.width,
        causal: s.causal ? 1 : 0,
        kOffset: buffers.kOffset,
        rows: plan.rows,
        cols: plan.cols,
        headFirst: plan.headFirst,
        headCount: plan.headCount,
        mode: plan.mode === 'max' ? 0 : 1,
        planeStride,
        scale: 1 / Math.sqrt(s.dHead),
      };
      await scoped(device, { what: 'the reduction', buffers: 'the reduction' }, () => {
        device.queue.writeBuffer(params, 0, packUniform(REDUCE_PARAMS_LAYOUT, values));
        const group = kernel.bind([params, buffers.qkv, buffers.scores, buffers.weights, grid]);
        const encoder = device.createCommandEncoder({ label: 'reduce' });
        encodePass(encoder, kernel, group, [Math.ceil(plan.cols / REDUCE_WORKGROUP[0]), Math.ceil(plan.rows / REDUCE_WORKGROUP[1]), plan.headCount]);
        device.queue.submit([encoder.finish()]);
      });
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
      const planes = await readFloats(
        device,
        GRID_PLANES.map((_, p) => [grid, p * planeStride, cells] as const),
        'reduce/grid',
      );
      const out = new Float32Array(GRID_PLANES.length * cells);
      planes.forEach((plane, p) => out.set(plane, p * cells));
      return out;
    },
    async fillWithWeights(planes, source, sourceOffset, weightsPlane, plan) {
      checkAlive();
      if (!(source.usage & GPUBufferUsage.COPY_SRC)) throw new AttentionError('The weights grid buffer needs COPY_SRC usage to be copied into the surface.');
      const cells = cellsOf(plan);
      await scoped(device, { what: "copying the weights grid (is the buffer on the scene's device?)" }, () => {
        for (let p = 0; p < GRID_PLANES.length; p++) {
          if (p !== weightsPlane) device.queue.writeBuffer(grid, p * planeStride * 4, planes, p * cells, cells);
        }
        const encoder = device.createCommandEncoder({ label: 'reduce/grid copy' });
        encoder.copyBufferToBuffer(source, sourceOffset * 4, grid, weightsPlane * planeStride * 4, cells * 4);
        device.queue.submit([encoder.finish()]);
      });
    },
    async readFloats(source, offset, count) {
      checkAlive();
      try {
        const [values] = await readFloats(device, [[source, offset, count]], 'reduce/weights grid');
        return values;
      } catch (error) {
        throw new AttentionError(`Reading the weights grid failed: ${(error as Error).message ?? String(error)}`);
      }
    },
    destroy() {
      if (destroyed) return;
      destroyed = true;
      grid.destroy();
      params.destroy();
    },
  };
}
