/**
 * The model's parameters on the GPU: uploaded once per GpuModel (c_attn's weight rearranged
 * into wq | wk | wv, as the attention projections kernel reads it), and the uniform blocks of
 * its kernels. Kept apart from the forward pass (kernels/model.ts) that reads them.
 */
import { checkStorageSize } from '../gpu/buffers';
import { scoped } from '../gpu/guard';
import { uniformLayout } from '../gpu/uniforms';
import type { ModelConfig } from '../core/types';
import { PARAMS_LAYOUT } from './packing';
import { kernelSource } from './shaders';

/** Uniform blocks of the model's own kernels, laid out from their WGSL. */
export const LAYER_NORM_LAYOUT = uniformLayout(kernelSource('layerNorm').code, 'RowsParams');
export const LINEAR_LAYOUT = uniformLayout(kernelSource('linear').code, 'RowsParams');
export const EMBED_LAYOUT = uniformLayout(kernelSource('embed').code, 'EmbedParams');

/** One block's parameters on the device. */
export interface LayerWeights {
  ln1g: GPUBuffer;
  ln1b: GPUBuffer;
  /** wq | wk | wv, each dModel × dModel: c_attn.weight's column blocks. */
  wqkv: GPUBuffer;
  /** b_Q | b_K | b_V: c_attn.bias as it is. */
  bqkv: GPUBuffer;
  projW: GPUBuffer;
  projB: GPUBuffer;
  ln2g: GPUBuffer;
  ln2b: GPUBuffer;
  fcW: GPUBuffer;
  fcB: GPUBuffer;
  mlpW: GPUBuffer;
  mlpB: GPUBuffer;
}

/** The uploaded parameters, the uniform buffers, and every buffer made (to destroy). */
export interface ModelWeights {
  weights: { wte: GPUBuffer; wpe: GPUBuffer; lnfG: GPUBuffer; lnfB: GPUBuffer; layers: LayerWeights[] };
  uniforms: Record<'params' | 'embed' | 'layerNorm' | 'attnProj' | 'fc' | 'mlpProj' | 'logits', GPUBuffer>;
  owned: GPUBuffer[];
}

/**
 * Upload the (already checked) parameters of `c` inside an out-of-memory scope; on failure
 * every buffer made so far is destroyed and GpuOutOfMemoryError thrown.
 */
export async function uploadModelWeights(device: GPUDevice, c: ModelConfig, params: ReadonlyMap<string, Float32Array | Float64Array>): Promise<ModelWeights> {
  const d = c.dModel;
  // Parameters, uploaded once. Each buffer is labelled with the GPT-2 name it holds.
  const owned: GPUBuffer[] = [];
  const upload = (label: string, data: ArrayLike<number>): GPUBuffer => {
    const bytes = Math.max(16, Math.ceil((data.length * 4) / 16) * 16);
    checkStorageSize(device, label, bytes);
    const buffer = device.createBuffer({ label: `model/${label}`, size: bytes, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
    owned.push(buffer);
    device.queue.writeBuffer(buffer, 0, data instanceof Float32Array ? data : Float32Array.from(data));
    return buffer;
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
      const layers: LayerWeights[] = [];
      for (let i = 0; i < c.layers; i++) {
        const h = `h.${i}`;
        // c_attn.weight is dModel × 3·dModel (Conv1D, [in, out]); the projections kernel takes
        // wq | wk | wv, each dModel × dModel: columns 0…d−1, d…2d−1, 2d…3d−1.
        const attnW = get(`${h}.attn.c_attn.weight`);
        const wqkv = new Float32Array(3 * d * d);
        for (let m = 0; m < 3; m++) {
          for (let k = 0; k < d; k++) {
            for (let col = 0; col < d; col++) wqkv[m * d * d + k * d + col] = attnW[k * 3 * d + m * d + col];
          }
        }
        layers.push({
          ln1g: upload(`${h}.ln_1.weight`, get(`${h}.ln_1.weight`)),
          ln1b: upload(`${h}.ln_1.bias`, get(`${h}.ln_1.bias`)),
          wqkv: upload(`${h}.attn.c_attn.weight (wq | wk | wv)`, wqkv),
          bqkv: upload(`${h}.attn.c_attn.bias (bq | bk | bv)`, get(`${h}.attn.c_attn.bias`)),
          projW: upload(`${h}.attn.c_proj.weight`, get(`${h}.attn.c_proj.weight`)),
          projB: upload(`${h}.attn.c_proj.bias`, get(`${h}.attn.c_proj.bias`)),
          ln2g: upload(`${h}.ln_2.weight`, get(`${h}.ln_2.weight`)),
          ln2b: upload(`${h}.ln_2.bias`, get(`${h}.ln_2.bias`)),
          fcW: upload(`${h}.mlp.c_fc.weight`, get(`${h}.mlp.c_fc.weight`)),
          fcB: upload(`${h}.mlp.c_fc.bias`, get(`${h}.mlp.c_fc.bias`)),
          mlpW: upload(`${h}.mlp.c_proj.weight`, get(`${h}.mlp.c_proj.weight`)),
          mlpB: upload(`${h}.mlp.c_proj.bias`, get(`${h}.mlp.c_proj.bias`)),
        });
      }
      return {
        weights: {
          wte: upload('wte.weight', get('wte.weight')),
          wpe: upload('wpe.weight', get('wpe.weight')),
          lnfG: upload('ln_f.weight', get('ln_f.weight')),
          lnfB: upload('ln_f.bias', get('ln_f.bias')),
          layers,
        },
        uniforms: {
          params: uniform('attention params', PARAMS_LAYOUT.size),
          embed: uniform('embed params', EMBED_LAYOUT.size),
          layerNorm: uniform('layer norm params', LAYER_NORM_LAYOUT.size),
          attnProj: uniform('c_proj params (attn)', LINEAR_LAYOUT.size),
          fc: uniform('c_fc params', LINEAR_LAYOUT.size),
          mlpProj: uniform('c_proj params (mlp)', LINEAR_LAYOUT.size),
          logits: uniform('logits params', LINEAR_LAYOUT.size),
        },
        owned,
      };
    },
  );
}
