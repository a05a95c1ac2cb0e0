/**
 * The model view's data on the GPU: every layer's attention of the last model run as ONE
 * attention of layers·heads heads, so the 3D scene (which draws the heads of one
 * AttentionBuffers side by side) draws every layer × head without a readback. GPU-side copies
 * only (copyBufferToBuffer), in one submission:
 * - scores and weights: layer l's heads × T × T block goes to heads l·H … (l+1)·H − 1 (one copy
 *   per layer and map: the maps are contiguous);
 * - q, k, v and the output: row t of layer l (d values) goes to columns l·d … (l+1)·d − 1 of
 *   row t (width L·d), so head i of the result is layer ⌊i/H⌋, head i mod H (one copy per row).
 * Also the single-layer view: {@link layerAttentionBuffers} names one layer's own buffers as an
 * AttentionBuffers (no copy).
 */
import { AttentionError } from '../core/errors';
import type { ResolvedShape } from '../core/types';
import { checkStorageSize, storageSlots } from '../gpu/buffers';
import { scoped } from '../gpu/guard';
import type { AttentionBuffers } from './attention';
import type { GpuModelBuffers } from './model';

/** Element offset rounded up to a multiple of 64 (256 bytes), as the attention kernels pack q | k | v. */
const align64 = (elements: number) => Math.ceil(elements / 64) * 64;

/** The attention of one layer of a model run, as the scene and the reduction read it (its own buffers). */
export function layerAttentionBuffers(buffers: GpuModelBuffers, layer: number, config: { dModel: number; heads: number }): AttentionBuffers {
  const b = buffers.layers[layer];
  if (!b) throw new AttentionError(`The model run has no layer ${layer} (it has ${buffers.layers.length}).`);
  const T = buffers.seqLen;
  const shape: ResolvedShape = { seqLen: T, kvLen: T, dModel: config.dModel, heads: config.heads, dHead: config.dModel / config.heads, causal: true, width: config.dModel };
  return { shape, qkv: b.qkv, kOffset: b.kOffset, vOffset: b.vOffset, scores: b.scores, weights: b.weights, output: b.attn, generation: buffers.generation };
}

/** Packs every layer of a model run into one AttentionBuffers. Create with {@link createLayerPacker}. */
export interface LayerPacker {
  readonly device: GPUDevice;
  /**
   * Copy the layers of `buffers` (the model's last run) into this packer's buffers and wait
   * until the GPU is done. The result is valid until the next pack or destroy.
   */
  pack(buffers: GpuModelBuffers, config: { dModel: number; heads: number }): Promise<AttentionBuffers>;
  destroy(): void;
}

export function createLayerPacker(device: GPUDevice): LayerPacker {
  const slots = storageSlots(device, 'model-grid', { qkv: 'qkv', scores: 'scores', weights: 'weights', output: 'output' });
  let generation = 0;
  let destroyed = false;
  return {
    device,
    async pack(buffers, config) {
      if (destroyed) throw new AttentionError('This LayerPacker was destroyed.');
      const L = buffers.layers.length;
      const T = buffers.seqLen;
      const d = config.dModel;
      const H = config.heads;
      const width = L * d;
      const map = H * T * T;
      const kOffset = align64(T * width);
      const vOffset = kOffset + align64(T * width);
      const bytes = { qkv: 4 * (vOffset + T * width), map: 4 * L * map, output: 4 * T * width };
      for (const [field, size] of Object.entries(bytes)) checkStorageSize(device, `model grid ${field}`, size);
      const out = await scoped(device, { what: 'packing the layers for the model view', buffers: 'the model view' }, () => {
        const before = Object.values(slots).map((s) => s.current);
        const target = {
          qkv: slots.qkv.ensure(bytes.qkv),
          scores: slots.scores.ensure(bytes.map),
          weights: slots.weights.ensure(bytes.map),
          output: slots.output.ensure(bytes.output),
        };
        if (Object.values(slots).some((s, i) => s.current !== before[i])) generation++;
        const encoder = device.createCommandEncoder({ label: 'model-grid/pack' });
        buffers.layers.forEach((layer, l) => {
          encoder.copyBufferToBuffer(layer.scores, 0, target.scores, 4 * l * map, 4 * map);
          encoder.copyBufferToBuffer(layer.weights, 0, target.weights, 4 * l * map, 4 * map);
          // Rows of q, k, v (one buffer, three offsets) and of the output, each d values wide.
          const sides: Array<[GPUBuffer, number, GPUBuffer, number]> = [
            [layer.qkv, 0, target.qkv, 0],
            [layer.qkv, layer.kOffset, target.qkv, kOffset],
            [layer.qkv, layer.vOffset, target.qkv, vOffset],
            [layer.attn, 0, target.output, 0],
          ];
          for (const [src, srcOffset, dst, dstOffset] of sides) {
            for (let t = 0; t < T; t++) encoder.copyBufferToBuffer(src, 4 * (srcOffset + t * d), dst, 4 * (dstOffset + t * width + l * d), 4 * d);
          }
        });
        device.queue.submit([encoder.finish()]);
        return target;
      });
      await device.queue.onSubmittedWorkDone();
      const shape: ResolvedShape = { seqLen: T, kvLen: T, dModel: d, heads: L * H, dHead: d / H, causal: true, width };
      return { shape, qkv: out.qkv, kOffset, vOffset, scores: out.scores, weights: out.weights, output: out.output, generation };
    },
    destroy() {
      if (destroyed) return;
      destroyed = true;
      for (const slot of Object.values(slots)) slot.destroy();
    },
  };
}
