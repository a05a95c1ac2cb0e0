/**
 * The model's parameters on the GPU: uploaded once per GpuModel (c_attn's weight rearranged
 * into wq | wk | wv, as the attention projections kernel reads it), and the uniform blocks of
 * its kernels. Kept apart from the forward pass (kernels/model.ts) that reads them.
 */
import { checkStorageSize } from '../gpu/buffers';
import { scoped } from '../gpu/guard';
import { packUniform, uniformLayout, type UniformLayout } from '../gpu/uniforms';
import type { ModelConfig } from '../core/types';
import { forwardPlan } from '../model/plan';
import { paramShapes } from '../model/schema';
import { PARAMS_LAYOUT } from './packing';
import { kernelSource } from './shaders';

/** Uniform blocks of the model's own kernels, laid out from their WGSL. */
export const LAYER_NORM_LAYOUT = uniformLayout(kernelSource('layerNorm').code, 'RowsParams');
export const LINEAR_LAYOUT = uniformLayout(kernelSource('linear').code, 'RowsParams');
export const EMBED_LAYOUT = uniformLayout(kernelSource('embed').code, 'EmbedParams');

/** The fields of RowsParams (shaders/parts/rows-params.wgsl); eps 0, outStride outDim and outOffset 0 unless given. */
export interface RowsValues {
  rows: number;
  inDim: number;
  outDim: number;
  eps?: number;
  /** Floats between output rows (default outDim): the whole output's width when this dispatch writes a band of its columns. */
  outStride?: number;
  /** The output column this dispatch's column 0 lands at (default 0). */
  outOffset?: number;
}

/** Pack a RowsParams block of `layout` (the linear kernels', LayerNorm's or RMSNorm's: all parse the same struct). */
export function packRows(layout: UniformLayout, values: RowsValues): ArrayBuffer {
  const { rows, inDim, outDim, eps = 0, outStride = outDim, outOffset = 0 } = values;
  return packUniform(layout, { rows, inDim, outDim, eps, outStride, outOffset });
}

/** The uploaded parameters, the uniform buffers, and every buffer made (to destroy). */
export interface ModelWeights {
  /** Each parameter's buffer by its GPT-2 name, as the forward plan (src/model/plan.ts) names them; c_attn.weight's holds wq | wk | wv. */
  byName: ReadonlyMap<string, GPUBuffer>;
  uniforms: Record<'params' | 'embed' | 'layerNorm' | 'logits', GPUBuffer>;
  /** The linear kernel's uniform block for each shape of the plan's linear steps, by {@link linearKey}. */
  linearUniforms: ReadonlyMap<string, GPUBuffer>;
  owned: GPUBuffer[];
}

/** The key of a linear step's uniform block: its in and out sizes (steps of one shape share the block). */
export function linearKey(inDim: number, outDim: number): string {
  return `${inDim}→${outDim}`;
}

/**
 * Upload the (already checked) parameters of `c` inside an out-of-memory scope; on failure
 * every buffer made so far is destroyed and GpuOutOfMemoryError thrown.
 */
export async function uploadModelWeights(device: GPUDevice, c: ModelConfig, params: ReadonlyMap<string, Float32Array | Float64Array>): Promise<ModelWeights> {
  const d = c.dModel;
  const linearShapes: Array<[number, number]> = [];
  for (const step of forwardPlan(c)) {
    if (step.op === 'linear' && !linearShapes.some(([i, o]) => i === step.inDim && o === step.outDim)) linearShapes.push([step.inDim, step.outDim]);
  }
  // Parameters, uploaded once. Each buffer is labelled with the GPT-2 name it holds.
  const owned: GPUBuffer[] = [];
  const byName = new Map<string, GPUBuffer>();
  const upload = (name: string, data: ArrayLike<number>, layout = ''): void => {
    const label = layout === '' ? name : `${name} (${layout})`;
    const bytes = Math.max(16, Math.ceil((data.length * 4) / 16) * 16);
    checkStorageSize(device, label, bytes);
    const buffer = device.createBuffer({ label: `model/${label}`, size: bytes, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
    owned.push(buffer);
    byName.set(name, buffer);
    device.queue.writeBuffer(buffer, 0, data instanceof Float32Array ? data : Float32Array.from(data));
  };
  const uniform = (label: string, size: number): GPUBuffer => {
    const buffer = device.createBuffer({ label: `model/${label}`, size, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    owned.push(buffer);
    return buffer;
  };
  const get = (name: string) => params.get(name)!;
  return scoped(
    device,
    { what: 'the model upload', buffers: 'the model parameters', onOutOfMemory: () => owned.forEach((b) => b.destroy()) },
    () => {
      for (const name of paramShapes(c).keys()) {
        const match = /^(h\.\d+)\.attn\.c_attn\.(weight|bias)$/.exec(name);
        if (match === null) upload(name, get(name));
        else if (match[2] === 'bias') upload(name, get(name), 'bq | bk | bv');
        else {
          // c_attn.weight is dModel × 3·dModel (Conv1D, [in, out]); the projections kernel takes
          // wq | wk | wv, each dModel × dModel: columns 0…d−1, d…2d−1, 2d…3d−1.
          const attnW = get(name);
          const wqkv = new Float32Array(3 * d * d);
          for (let m = 0; m < 3; m++) {
            for (let k = 0; k < d; k++) {
              for (let col = 0; col < d; col++) wqkv[m * d * d + k * d + col] = attnW[k * 3 * d + m * d + col];
            }
          }
          upload(name, wqkv, 'wq | wk | wv');
        }
      }
      return {
        uniforms: {
          params: uniform('attention params', PARAMS_LAYOUT.size),
          embed: uniform('embed params', EMBED_LAYOUT.size),
          layerNorm: uniform('layer norm params', LAYER_NORM_LAYOUT.size),
          logits: uniform('logits params', LINEAR_LAYOUT.size),
        },
        linearUniforms: new Map(linearShapes.map(([inDim, outDim]) => [linearKey(inDim, outDim), uniform(`linear ${inDim}→${outDim} params`, LINEAR_LAYOUT.size)])),
        byName,
        owned,
      };
    },
  );
}
