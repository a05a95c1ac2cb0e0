/**
 * One head's queries and keys (and values) in 3D on the GPU (shaders/qk-projection.wgsl): the
 * normalisation and joint PCA of src/reference/qk-projection.ts computed where Q and K already
 * are, and every drawn point written to a vertex buffer the scene draws as instances. Only the
 * small results (axes, means, variances, scale, shift) come back to the CPU.
 *
 * One pass of five dispatches: per-dimension means, mean norms (scale and shift), the d × d
 * covariance, the top-3 eigenvectors by subspace iteration and Rayleigh–Ritz in one workgroup,
 * and the projection of the drawn points.
 */
import { AttentionError, AttentionInputError, GpuLimitError } from '../core/errors';
import { scoped } from '../gpu/guard';
import { getKernel, type Kernel } from '../gpu/pipeline';
import { readFloats } from '../gpu/readback';
import { packUniform, uniformLayout } from '../gpu/uniforms';
import { kernelSource } from './shaders';

/** Where one head's q and k rows (and v rows) lie in a device buffer (offsets in f32 elements). */
export interface GpuQkInput {
  /** Holds the rows: row i of q at qOffset + i·rowStride, row j of k at kOffset + j·rowStride (v likewise). STORAGE usage. */
  buffer: GPUBuffer;
  qOffset: number;
  kOffset: number;
  /** Where the value rows start; absent: no value cloud. */
  vOffset?: number;
  rowStride: number;
  queries: number;
  keys: number;
  dHead: number;
  /** Draw at most this many points per cloud (default QK_POINT_LIMIT = 8192): past it every ⌈count/limit⌉-th row is drawn; the PCA still uses every row. */
  pointLimit?: number;
}

/** One projection: the drawn points on the GPU and the fit that placed them. */
export interface GpuQkProjection {
  /** vec4<f32> per drawn point: x, y, z, kind (0 query, 1 key, 2 value); queries first, then keys, then values. STORAGE | VERTEX | COPY_SRC usage. Valid until the next project() on the same projector. */
  points: GPUBuffer;
  drawn: { queries: number; keys: number; values: number };
  /** 1 when not sampled; drawn point p of a cloud is row p·stride (values use the keys' stride). */
  stride: { queries: number; keys: number };
  /** True when dHead ≤ 3: the raw vectors, the standard basis, share 1. */
  raw: boolean;
  /** 3 × dHead row-major (sign convention of the reference applied). */
  axes: Float32Array;
  /** μ, subtracted from the normalised queries and keys (zeros when raw). */
  mean: Float32Array;
  /** λ1, λ2, λ3. */
  variance: Float32Array;
  totalVariance: number;
  share: number;
  /** a: queries × a, keys / a. */
  scale: number;
  /** c: added to every key before the scale. */
  shift: Float32Array;
  /** Wall clock from submit to done (ms). */
  gpuMs: number;
}

/** A reusable projection target on one device. Create with {@link createQkProjector}. */
export interface GpuQkProjector {
  readonly device: GPUDevice;
  /** Project one head; calls on one projector run one after another. */
  project(input: GpuQkInput): Promise<GpuQkProjection>;
  destroy(): void;
}

/** Points drawn per cloud by default: past it the cloud is sampled (every ⌈count/limit⌉-th row). */
export const QK_POINT_LIMIT = 8192;
/** The largest pointLimit accepted (3 clouds of it stay within one dispatch dimension of 64-wide workgroups). */
export const QK_MAX_POINT_LIMIT = 1 << 20;
/** Subspace iterations of the eigen step (each contracts the error by about (λ4 + 0.01·tr) / (λ3 + 0.01·tr)). */
export const QK_SUBSPACE_ITERATIONS = 120;

const SOURCE = kernelSource('qkProjection');
/** `QkParams` (shaders/qk-projection.wgsl): binding 0 of every entry point. */
const PARAMS_LAYOUT = uniformLayout(SOURCE.code, 'QkParams');

/** A `const NAME: u32 = Nu;` of the shader, so the host's offsets cannot drift from the WGSL's. */
function shaderConstant(name: string): number {
  const match = new RegExp(`^const ${name}: u32 = (\\d+)u;`, 'm').exec(SOURCE.code);
  if (!match) throw new AttentionError(`qk-projection: shaders/qk-projection.wgsl declares no \`const ${name}: u32\`; restore it (the host reads its layout from there).`);
  return Number(match[1]);
}

/** The largest dHead the GPU projection takes (workgroup memory holds one row per dimension). */
export const QK_MAX_DHEAD = shaderConstant('QK_MAX_D');
const WORK = {
  shift: shaderConstant('WORK_SHIFT'),
  mean: shaderConstant('WORK_MEAN'),
  axes: shaderConstant('WORK_AXES'),
  scalars: shaderConstant('WORK_SCALARS'),
  size: shaderConstant('WORK_SIZE'),
};

const ENTRIES = ['means', 'norms', 'covariance', 'eigen', 'project'] as const;
type Entry = (typeof ENTRIES)[number];

function getQkKernels(device: GPUDevice): Promise<Record<Entry, Kernel>> {
  return Promise.all(
    ENTRIES.map((entryPoint) =>
      getKernel(device, {
        label: `qk/${entryPoint}`,
        source: SOURCE,
        entryPoint,
        bindings: ['uniform', 'read-only-storage', 'storage', 'storage', 'storage'],
      }),
    ),
  ).then((kernels) => Object.fromEntries(ENTRIES.map((entry, index) => [entry, kernels[index]])) as Record<Entry, Kernel>);
}

function checkInteger(field: string, value: unknown, min: number, max = 0xffffffff, advice = ''): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const range = max === 0xffffffff ? `an integer ≥ ${min}` : `an integer from ${min} to ${max}`;
    throw new AttentionInputError(field, String(value), `${range}${advice}`, typeof value === 'number' && value > max ? 'too-large' : 'shape');
  }
  return value;
}

/** The checked input: counts, sampling and the byte range of the buffer to bind. */
interface Plan {
  values: number;
  stride: { queries: number; keys: number };
  drawn: { queries: number; keys: number; values: number };
  bindBytes: number;
}

function planInput(device: GPUDevice, input: GpuQkInput): Plan {
  const { buffer } = input;
  if (!buffer || typeof buffer !== 'object' || typeof (buffer as GPUBuffer).size !== 'number') {
    throw new AttentionInputError('buffer', String(buffer), 'a GPUBuffer holding the q and k rows', 'type');
  }
  if ((buffer.usage & GPUBufferUsage.STORAGE) === 0) {
    throw new AttentionInputError('buffer', `usage ${buffer.usage}`, 'a buffer with STORAGE usage (create it with GPUBufferUsage.STORAGE)', 'type');
  }
  const queries = checkInteger('queries', input.queries, 1, 0xffffffff, ' (the number of query rows in the buffer)');
  const keys = checkInteger('keys', input.keys, 1, 0xffffffff, ' (the number of key rows in the buffer)');
  const dHead = checkInteger('dHead', input.dHead, 1, QK_MAX_DHEAD, ': the GPU projection keeps one row per dimension in workgroup memory; project on the CPU (projectQkReference) past it');
  const rowStride = checkInteger('rowStride', input.rowStride, dHead, 0xffffffff, ' (at least dHead: rows do not overlap)');
  const limit = checkInteger('pointLimit', input.pointLimit ?? QK_POINT_LIMIT, 1, QK_MAX_POINT_LIMIT, ' points per cloud (leave it out for QK_POINT_LIMIT)');
  const elements = Math.floor(buffer.size / 4);
  let bindElements = 0;
  const extent = (field: string, offset: unknown, rows: number) => {
    const start = checkInteger(field, offset, 0, 0xffffffff, ' (an element offset, in f32 values, into the buffer)');
    const end = start + (rows - 1) * rowStride + dHead;
    if (end > elements) {
      throw new AttentionInputError(field, `${start} (its last row ends at element ${end})`, `rows that end within the buffer's ${elements} f32 elements: check the offset, rowStride and counts`, 'length');
    }
    bindElements = Math.max(bindElements, end);
  };
  extent('qOffset', input.qOffset, queries);
  extent('kOffset', input.kOffset, keys);
  const values = input.vOffset === undefined ? 0 : keys;
  if (input.vOffset !== undefined) extent('vOffset', input.vOffset, keys);
  const bindBytes = bindElements * 4;
  const maxBinding = device.limits.maxStorageBufferBindingSize;
  if (bindBytes > maxBinding) throw new GpuLimitError('qk/input rows', bindBytes, maxBinding, 'maxStorageBufferBindingSize');
  const stride = { queries: Math.ceil(queries / limit), keys: Math.ceil(keys / limit) };
  const drawn = {
    queries: Math.ceil(queries / stride.queries),
    keys: Math.ceil(keys / stride.keys),
    values: values === 0 ? 0 : Math.ceil(keys / stride.keys),
  };
  return { values, stride, drawn, bindBytes };
}

/** Compile the five entry points (cached per device) and allocate the small buffers. */
export async function createQkProjector(device: GPUDevice): Promise<GpuQkProjector> {
  const kernels = await getQkKernels(device);
  const work = device.createBuffer({ label: 'qk/work', size: WORK.size * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
  const cov = device.createBuffer({ label: 'qk/covariance', size: QK_MAX_DHEAD * QK_MAX_DHEAD * 4, usage: GPUBufferUsage.STORAGE });
  const params = device.createBuffer({ label: 'qk/params', size: PARAMS_LAYOUT.size, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  let points: GPUBuffer | null = null;
  let destroyed = false;
  let queue: Promise<unknown> = Promise.resolve();

  /** The points buffer, grown (never shrunk) to `bytes`; the previous projection's buffer is dropped when it grows. */
  const pointsFor = (bytes: number): GPUBuffer => {
    if (!points || points.size < bytes) {
      points?.destroy();
      points = device.createBuffer({ label: 'qk/points', size: bytes, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.VERTEX | GPUBufferUsage.COPY_SRC });
    }
    return points;
  };

  async function run(input: GpuQkInput): Promise<GpuQkProjection> {
    if (destroyed) throw new AttentionError('This GpuQkProjector was destroyed: create a new one with createQkProjector(device).');
    const plan = planInput(device, input);
    const { dHead } = input;
    const raw = dHead <= 3;
    const total = plan.drawn.queries + plan.drawn.keys + plan.drawn.values;
    const pointBytes = Math.max(total, 1) * 16;
    const maxBinding = device.limits.maxStorageBufferBindingSize;
    if (pointBytes > maxBinding) throw new GpuLimitError('qk/points', pointBytes, maxBinding, 'maxStorageBufferBindingSize');
    const block = packUniform(PARAMS_LAYOUT, {
      queries: input.queries,
      keys: input.keys,
      values: plan.values,
      dHead,
      rowStride: input.rowStride,
      qOffset: input.qOffset,
      kOffset: input.kOffset,
      vOffset: input.vOffset ?? 0,
      raw: raw ? 1 : 0,
      iterations: QK_SUBSPACE_ITERATIONS,
      drawQ: plan.drawn.queries,
      drawK: plan.drawn.keys,
      drawV: plan.drawn.values,
      strideQ: plan.stride.queries,
      strideK: plan.stride.keys,
    });
    let started = 0;
    const out = await scoped(device, { what: 'the Q/K projection', buffers: 'the Q/K points' }, () => {
      const target = pointsFor(pointBytes);
      device.queue.writeBuffer(params, 0, block);
      const bindings = [params, { buffer: input.buffer, offset: 0, size: plan.bindBytes }, work, cov, target];
      const encoder = device.createCommandEncoder({ label: 'qk projection' });
      const pass = encoder.beginComputePass({ label: 'qk projection pass' });
      const dispatch = (entry: Entry, x: number, y = 1) => {
        pass.setPipeline(kernels[entry].pipeline);
        pass.setBindGroup(0, kernels[entry].bind(bindings, `qk/${entry}`));
        pass.dispatchWorkgroups(x, y, 1);
      };
      dispatch('means', dHead);
      dispatch('norms', 1);
      dispatch('covariance', Math.ceil(dHead / 32), Math.ceil(dHead / 32));
      // Raw too: the eigen step then writes the standard basis and the raw coordinates' variances.
      dispatch('eigen', 1);
      dispatch('project', Math.ceil(total / 64));
      pass.end();
      started = performance.now();
      device.queue.submit([encoder.finish()]);
      return target;
    });
    await device.queue.onSubmittedWorkDone();
    const gpuMs = performance.now() - started;
    const [shift, mean, axes, scalars] = await readFloats(
      device,
      [
        [work, WORK.shift, dHead],
        [work, WORK.mean, dHead],
        [work, WORK.axes, 3 * dHead],
        [work, WORK.scalars, 8],
      ],
      'qk/results',
    );
    return {
      points: out,
      drawn: plan.drawn,
      stride: plan.stride,
      raw,
      axes,
      mean,
      variance: scalars.slice(5, 8),
      totalVariance: scalars[3],
      share: scalars[4],
      scale: scalars[0],
      shift,
      gpuMs,
    };
  }

  return {
    device,
    project(input) {
      const next = queue.then(() => run(input));
      queue = next.catch(() => undefined);
      return next;
    },
    destroy() {
      if (destroyed) return;
      destroyed = true;
      work.destroy();
      cov.destroy();
      params.destroy();
      points?.destroy();
      points = null;
    },
  };
}
