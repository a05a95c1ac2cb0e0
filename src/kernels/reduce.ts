/**
 * The surface-grid reduction on the GPU (shaders/reduce.wgsl): each head's map becomes the five
 * planes of src/reference/reduce.ts without leaving the device. A head is named by buffers and
 * element offsets ({@link GpuHeadMaps}), so the heads of one attention run (one buffer, head h at
 * h · seqLen · kvLen) and the heads of a model's layers (one buffer per layer) are reduced alike,
 * one dispatch per head, without copying maps to line them up. The planes are read back (the
 * scene needs them for heights, picking and the legend ranges).
 */
import { AttentionError } from '../core/errors';
import { GRID_CELL_CAPACITY, GRID_PLANES, type GridPlan } from '../reference/reduce';
import { scoped } from '../gpu/guard';
import { getKernel, type Kernel } from '../gpu/pipeline';
import { readFloats } from '../gpu/readback';
import { packUniform } from '../gpu/uniforms';
import { REDUCE_PARAMS_LAYOUT } from './packing';
import { kernelSource } from './shaders';

/** Workgroup size of the reduction (WGSL `override` constants WG_X, WG_Y). */
export const REDUCE_WORKGROUP: [number, number] = [8, 8];
/** Bytes between the per-head parameter blocks (WebGPU's default minUniformBufferOffsetAlignment). */
const PARAMS_STRIDE = 256;

/**
 * Where one head's maps and its q, k rows lie on the GPU (offsets in f32 elements): the scores
 * and the weights are seqLen × kvLen row-major from `mapOffset` in their buffers; q_i is the
 * dHead values from `qOffset + i · rowStride` of `qk`, k_j those from `kOffset + j · rowStride`.
 */
export interface GpuHeadMaps {
  scores: GPUBuffer;
  weights: GPUBuffer;
  mapOffset: number;
  qk: GPUBuffer;
  qOffset: number;
  kOffset: number;
  rowStride: number;
}

/** What every head of one reduction shares. */
export interface ReduceShape {
  dHead: number;
  causal: boolean;
}

/** A reusable reduction target on one device. Create with {@link createGridReducer}. */
export interface GridReducer {
  readonly device: GPUDevice;
  /**
   * Reduce `heads` (all seqLen × kvLen of `plan`; head hz of the list goes to grid slot hz, and
   * `plan.headFirst` is not used) and read the planes back, plane-major as `reduceAttention`
   * returns them (`plan.headCount` must equal `heads.length`).
   */
  reduceHeads(heads: readonly GpuHeadMaps[], shape: ReduceShape, plan: GridPlan): Promise<Float32Array>;
  /** Copy `count` floats from element `offset` of each buffer on this device back to the CPU. */
  readFloats(ranges: ReadonlyArray<readonly [GPUBuffer, number, number]>): Promise<Float32Array[]>;
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
  if (cells > GRID_CELL_CAPACITY) {
    throw new AttentionError(`The grid plan has ${plan.headCount} × ${plan.rows} × ${plan.cols} = ${cells} cells; at most ${GRID_CELL_CAPACITY} fit: plan fewer rows or columns (planGrid does).`);
  }
  return cells;
}

/** Allocate the grid buffer and compile the reduction (cached per device). */
export async function createGridReducer(device: GPUDevice): Promise<GridReducer> {
  const kernel = await getReduceKernel(device);
  const planeStride = GRID_CELL_CAPACITY;
  const grid = device.createBuffer({
    label: 'reduce/grid',
    size: GRID_PLANES.length * planeStride * 4,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC,
  });
  let params: GPUBuffer | null = null;
  let destroyed = false;
  const checkAlive = () => {
    if (destroyed) throw new AttentionError('This GridReducer was destroyed: create a new one with createGridReducer(device).');
  };
  /** One 256-byte parameter block per head, grown as needed. */
  const paramsFor = (heads: number): GPUBuffer => {
    if (!params || params.size < heads * PARAMS_STRIDE) {
      params?.destroy();
      params = device.createBuffer({ label: 'reduce/params', size: Math.max(heads, 16) * PARAMS_STRIDE, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    }
    return params;
  };

  return {
    device,
    async reduceHeads(heads, shape, plan) {
      checkAlive();
      const cells = cellsOf(plan);
      if (heads.length !== plan.headCount) {
        throw new AttentionError(`reduceHeads: got ${heads.length} heads for a plan of ${plan.headCount}; pass exactly the heads the plan shows.`);
      }
      const block = new Uint8Array(heads.length * PARAMS_STRIDE);
      heads.forEach((head, slot) => {
        const values = {
          seqLen: plan.seqLen,
          kvLen: plan.kvLen,
          mapOffset: head.mapOffset,
          dHead: shape.dHead,
          rowStride: head.rowStride,
          causal: shape.causal ? 1 : 0,
          kOffset: head.kOffset,
          rows: plan.rows,
          cols: plan.cols,
          qOffset: head.qOffset,
          slot,
          mode: plan.mode === 'max' ? 0 : 1,
          planeStride,
          scale: 1 / Math.sqrt(shape.dHead),
        };
        block.set(new Uint8Array(packUniform(REDUCE_PARAMS_LAYOUT, values)), slot * PARAMS_STRIDE);
      });
      await scoped(device, { what: 'the reduction', buffers: 'the reduction' }, () => {
        const uniforms = paramsFor(heads.length);
        device.queue.writeBuffer(uniforms, 0, block);
        const encoder = device.createCommandEncoder({ label: 'reduce' });
        const pass = encoder.beginComputePass({ label: 'reduce pass' });
        pass.setPipeline(kernel.pipeline);
        heads.forEach((head, slot) => {
          const group = kernel.bind([{ buffer: uniforms, offset: slot * PARAMS_STRIDE, size: REDUCE_PARAMS_LAYOUT.size }, head.qk, head.scores, head.weights, grid], `reduce head ${slot}`);
          pass.setBindGroup(0, group);
          pass.dispatchWorkgroups(Math.ceil(plan.cols / REDUCE_WORKGROUP[0]), Math.ceil(plan.rows / REDUCE_WORKGROUP[1]), 1);
        });
        pass.end();
        device.queue.submit([encoder.finish()]);
      });
      const planes = await readFloats(
        device,
        GRID_PLANES.map((_, p) => [grid, p * planeStride, cells] as const),
        'reduce/grid',
      );
      const out = new Float32Array(GRID_PLANES.length * cells);
      planes.forEach((plane, p) => out.set(plane, p * cells));
      return out;
    },
    async readFloats(ranges) {
      checkAlive();
      try {
        return await readFloats(device, ranges, 'reduce/weights grid');
      } catch (error) {
        throw new AttentionError(`Reading the weights grid back failed (is the buffer on the scene's device, with COPY_SRC usage?): ${(error as Error).message ?? String(error)}`);
      }
    },
    destroy() {
      if (destroyed) return;
      destroyed = true;
      grid.destroy();
      params?.destroy();
    },
  };
}
