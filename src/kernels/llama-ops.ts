/**
 * The Llama family's own kernels (issue 18), ahead of its forward pass: RMSNorm
 * (shaders/rmsnorm.wgsl) and rotary positions on q and k in place (shaders/rope.wgsl), with the
 * rotate-half convention, grouped-query layouts (fewer key heads than query heads) and Llama 3's
 * frequency scaling through the inverse frequencies of src/model/rope.ts. Each is a compiled
 * kernel plus the uniform it reads, so a forward pass encodes them beside its other passes;
 * `runRmsNorm` and `runRope` do one step on their own (tests, tools).
 */
import { AttentionInputError } from '../core/errors';
import { encodePass, getKernel, type BindingKind, type Kernel } from '../gpu/pipeline';
import { packUniform, uniformLayout } from '../gpu/uniforms';
import { packRows } from './model-weights';
import { kernelSource } from './shaders';

const RO: BindingKind = 'read-only-storage';
/** Bindings: uniform, x, weight, y (RMSNorm); uniform, cos/sin table, x in place (RoPE). */
export const LLAMA_OP_BINDINGS = {
  rmsNorm: ['uniform', RO, RO, 'storage'],
  rope: ['uniform', RO, 'storage'],
} satisfies Record<string, readonly BindingKind[]>;

/** The uniform blocks, read from the WGSL (src/gpu/uniforms.ts). */
export const RMS_NORM_LAYOUT = uniformLayout(kernelSource('rmsNorm').code, 'RowsParams');
export const ROPE_LAYOUT = uniformLayout(kernelSource('rope').code, 'RopeParams');

/** Workgroup of the RoPE kernel along (pairs, rows); the third dimension is one head each. */
const ROPE_WORKGROUP = [8, 8] as const;

export function rmsNormKernel(device: GPUDevice): Promise<Kernel> {
  return getKernel(device, { label: 'llama/rms norm', source: kernelSource('rmsNorm'), bindings: LLAMA_OP_BINDINGS.rmsNorm });
}

export function ropeKernel(device: GPUDevice): Promise<Kernel> {
  return getKernel(device, { label: 'llama/rope', source: kernelSource('rope'), bindings: LLAMA_OP_BINDINGS.rope });
}

/** Where the rotated heads lie in one buffer (offsets and strides in f32 elements). */
export interface RopeLayout {
  rows: number;
  headDim: number;
  qHeads: number;
  kvHeads: number;
  qOffset: number;
  kOffset: number;
  qStride: number;
  kStride: number;
}

function checkCount(field: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min) throw new AttentionInputError(field, String(value), `an integer ≥ ${min}`, 'shape');
}

/**
 * cos and sin of position · invFreq[i] for rows [0, rows) at positions `firstPosition + t`,
 * computed in f64 and stored as f32: cos for row t at t · half + i, sin after all the cosines
 * (the layout shaders/rope.wgsl reads).
 */
export function ropeTable(invFreq: Float64Array, rows: number, firstPosition = 0): Float32Array {
  checkCount('rows', rows, 1);
  checkCount('firstPosition', firstPosition, 0);
  const half = invFreq.length;
  const table = new Float32Array(2 * rows * half);
  for (let t = 0; t < rows; t++) {
    for (let i = 0; i < half; i++) {
      const angle = (firstPosition + t) * invFreq[i];
      table[t * half + i] = Math.cos(angle);
      table[rows * half + t * half + i] = Math.sin(angle);
    }
  }
  return table;
}

/** The RoPE uniform and dispatch for `layout` (checked: even head size, heads that fit their rows). */
export function ropeUniform(layout: RopeLayout): { params: ArrayBuffer; dims: [number, number, number] } {
  const { rows, headDim, qHeads, kvHeads, qStride, kStride } = layout;
  checkCount('rows', rows, 1);
  checkCount('headDim', headDim, 2);
  if (headDim % 2 !== 0) throw new AttentionInputError('headDim', String(headDim), 'an even head size (rotary positions pair element i with i + headDim/2)', 'shape');
  checkCount('qHeads', qHeads, 1);
  checkCount('kvHeads', kvHeads, 1);
  if (qStride < qHeads * headDim) throw new AttentionInputError('qStride', String(qStride), `at least qHeads · headDim = ${qHeads * headDim}`, 'shape');
  if (kStride < kvHeads * headDim) throw new AttentionInputError('kStride', String(kStride), `at least kvHeads · headDim = ${kvHeads * headDim}`, 'shape');
  const half = headDim / 2;
  const params = packUniform(ROPE_LAYOUT, { rows, half, qHeads, kvHeads, qOffset: layout.qOffset, kOffset: layout.kOffset, qStride, kStride });
  return { params, dims: [Math.ceil(half / ROPE_WORKGROUP[0]), Math.ceil(rows / ROPE_WORKGROUP[1]), qHeads + kvHeads] };
}

function uniformBuffer(device: GPUDevice, label: string, data: ArrayBuffer): GPUBuffer {
  const buffer = device.createBuffer({ label, size: data.byteLength, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  device.queue.writeBuffer(buffer, 0, data);
  return buffer;
}

/** One RMSNorm of `rows` rows of `dim` values: x → y (separate buffers), submitted and awaited. */
export async function runRmsNorm(device: GPUDevice, args: { x: GPUBuffer; weight: GPUBuffer; y: GPUBuffer; rows: number; dim: number; eps: number }): Promise<void> {
  checkCount('rows', args.rows, 1);
  checkCount('dim', args.dim, 1);
  if (!(args.eps >= 0) || !Number.isFinite(args.eps)) throw new AttentionInputError('eps', String(args.eps), 'a finite number ≥ 0 (rms_norm_eps)', 'shape');
  const kernel = await rmsNormKernel(device);
  const params = uniformBuffer(device, 'llama/rms norm params', packRows(RMS_NORM_LAYOUT, { rows: args.rows, inDim: args.dim, outDim: args.dim, eps: args.eps }));
  try {
    const encoder = device.createCommandEncoder({ label: 'llama/rms norm' });
    encodePass(encoder, kernel, kernel.bind([params, args.x, args.weight, args.y]), [Math.ceil(args.rows / 64), 1, 1]);
    device.queue.submit([encoder.finish()]);
    await device.queue.onSubmittedWorkDone();
  } finally {
    params.destroy();
  }
}

/** Rotate the heads of `layout` in `x` in place with the cos/sin `table` (see {@link ropeTable}), submitted and awaited. */
export async function runRope(device: GPUDevice, args: { x: GPUBuffer; table: GPUBuffer; layout: RopeLayout }): Promise<void> {
  const { params: data, dims } = ropeUniform(args.layout);
  const kernel = await ropeKernel(device);
  const params = uniformBuffer(device, 'llama/rope params', data);
  try {
    const encoder = device.createCommandEncoder({ label: 'llama/rope' });
    encodePass(encoder, kernel, kernel.bind([params, args.table, args.x]), dims);
    device.queue.submit([encoder.finish()]);
    await device.queue.onSubmittedWorkDone();
  } finally {
    params.destroy();
  }
}
