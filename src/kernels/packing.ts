/**
 * How the unfused and the fused pipelines lay their inputs out on the device, and the upload
 * both share: x and xKV packed in one buffer, wq | wk | wv in another, q | k | v in a third,
 * and the `Params` uniform block of shaders/common.wgsl. Uniform blocks are laid out from their
 * WGSL declarations (src/gpu/uniforms.ts) and written by field name.
 */
import type { AttentionInputs, ResolvedShape } from '../core/types';
import { packUniform, uniformLayout } from '../gpu/uniforms';
import { kernelSource } from './shaders';

/** `Params` (shaders/common.wgsl): binding 0 of every attention kernel. */
export const PARAMS_LAYOUT = uniformLayout(kernelSource('scores').code, 'Params');
/** `ReduceParams` (shaders/reduce.wgsl): binding 0 of the grid reduction. */
export const REDUCE_PARAMS_LAYOUT = uniformLayout(kernelSource('reduce').code, 'ReduceParams');
/** `GridParams` (shaders/flash-reduce.wgsl): binding 4 of the fused path's map reduction. */
export const GRID_PARAMS_LAYOUT = uniformLayout(kernelSource('flashReduce').code, 'GridParams');
/** `Chunk` (shaders/flash.wgsl): binding 4 of the fused kernel. */
export const CHUNK_LAYOUT = uniformLayout(kernelSource('flash').code, 'Chunk');

/** Element offsets and byte sizes of the packed buffers for one shape. */
export interface PackedLayout {
  selfAttention: boolean;
  /** Element offset of xKV in the src buffer (0 for self-attention: xKV is x). */
  xKVOffset: number;
  /** Element offsets of k and v in the qkv buffer. */
  kOffset: number;
  vOffset: number;
  bytes: { src: number; w: number; qkv: number };
}

/** Round an element offset up so its byte offset is a multiple of 256 (binding alignment). */
function alignElements(elements: number): number {
  return Math.ceil(elements / 64) * 64;
}

export function packedLayout(s: ResolvedShape, inputs: AttentionInputs): PackedLayout {
  const selfAttention = inputs.xKV === undefined;
  const xKVOffset = selfAttention ? 0 : alignElements(s.seqLen * s.dModel);
  const kOffset = alignElements(s.seqLen * s.width);
  const vOffset = kOffset + alignElements(s.kvLen * s.width);
  return {
    selfAttention,
    xKVOffset,
    kOffset,
    vOffset,
    bytes: {
      src: 4 * (selfAttention ? s.seqLen * s.dModel : xKVOffset + s.kvLen * s.dModel),
      w: 4 * 3 * s.dModel * s.width,
      qkv: 4 * (vOffset + s.kvLen * s.width),
    },
  };
}

/** Write the Params block and the packed inputs (queued; no await). */
export function uploadInputs(
  device: GPUDevice,
  buffers: { params: GPUBuffer; src: GPUBuffer; w: GPUBuffer },
  s: ResolvedShape,
  inputs: AttentionInputs,
  layout: PackedLayout,
): void {
  const params = packUniform(PARAMS_LAYOUT, {
    seqLen: s.seqLen,
    kvLen: s.kvLen,
    dModel: s.dModel,
    heads: s.heads,
    dHead: s.dHead,
    width: s.width,
    causal: s.causal ? 1 : 0,
    xKVOffset: layout.xKVOffset,
    kOffset: layout.kOffset,
    vOffset: layout.vOffset,
    scale: 1 / Math.sqrt(s.dHead),
    rows: s.heads * s.seqLen,
  });
  device.queue.writeBuffer(buffers.params, 0, params);
  device.queue.writeBuffer(buffers.src, 0, inputs.x);
  if (!layout.selfAttention) device.queue.writeBuffer(buffers.src, layout.xKVOffset * 4, inputs.xKV!);
  const wBytes = s.dModel * s.width * 4;
  device.queue.writeBuffer(buffers.w, 0, inputs.wq);
  device.queue.writeBuffer(buffers.w, wBytes, inputs.wk);
  device.queue.writeBuffer(buffers.w, 2 * wBytes, inputs.wv);
}
