/**
 * One way to build GPU work: WGSL sources that remember where each line came from, shader
 * modules compiled once per device and source (compilation messages mapped back to the shader
 * file and line), compute pipelines with explicit bind-group layouts, cached per device.
 * Every kernel family (attention, fused, reduce) builds its pipelines here.
 */
import { AttentionError } from '../core/errors';

/** Where one line of assembled WGSL came from. */
export interface LineOrigin {
  /** The file under shaders/, e.g. `scores.wgsl` or `parts/tiles.wgsl`; `(tile sizes)` for the generated constants. */
  file: string;
  /** 1-based line in that file. */
  line: number;
  /** How the line was made when it is not verbatim, e.g. `unrolled: h = 1; r = 3` (src/kernels/unroll.ts). */
  note?: string;
}

/** WGSL ready for `createShaderModule`, with the origin of every line (for error messages). */
export interface ShaderSource {
  /** Names the kernel in labels and messages, e.g. `scores` or `scores lanes 32×32`. */
  label: string;
  code: string;
  /** `origins[i]` is where line i + 1 of `code` came from (same length as the code's lines). */
  origins: readonly LineOrigin[];
}

/** A source made of whole files, verbatim, one after another. */
export function concatSources(label: string, files: ReadonlyArray<{ file: string; text: string }>): ShaderSource {
  const lines: string[] = [];
  const origins: LineOrigin[] = [];
  for (const { file, text } of files) {
    text.split('\n').forEach((line, index) => {
      lines.push(line);
      origins.push({ file, line: index + 1 });
    });
  }
  return { label, code: lines.join('\n'), origins };
}

/** Where line `line` (1-based) of a source came from, as text: `scores.wgsl line 12`. */
export function describeOrigin(source: ShaderSource, line: number): string {
  const origin = source.origins[line - 1];
  if (!origin) return `${source.label} line ${line}`;
  return `${origin.file} line ${origin.line}${origin.note ? ` (${origin.note})` : ''}`;
}

/** A WGSL module failed to compile; the message names the file and line of each error. */
export class ShaderCompileError extends AttentionError {
  override name = 'ShaderCompileError';
  constructor(
    readonly kernel: string,
    /** One entry per error: `file line L:P: message`. */
    readonly errors: readonly string[],
  ) {
    super(`The ${kernel} kernel failed to compile:\n${errors.join('\n')}`);
  }
}

/** The binding types of group 0, in binding order. */
export type BindingKind = 'uniform' | 'storage' | 'read-only-storage';

/** Everything that identifies one compute pipeline. */
export interface KernelSpec {
  /** Label prefix of every GPU object, e.g. `attention/scores`. */
  label: string;
  source: ShaderSource;
  entryPoint?: string;
  constants?: Record<string, number>;
  /** Group 0's bindings, in order; they must match the WGSL declarations. */
  bindings: readonly BindingKind[];
}

/** A compiled compute pipeline and how to bind buffers to it. */
export interface Kernel {
  readonly label: string;
  readonly pipeline: GPUComputePipeline;
  readonly layout: GPUBindGroupLayout;
  /** A bind group of `buffers` in binding order (whole buffers, or explicit ranges). */
  bind(buffers: ReadonlyArray<GPUBuffer | GPUBufferBinding>, label?: string): GPUBindGroup;
}

interface DeviceCache {
  modules: Map<string, Promise<GPUShaderModule>>;
  layouts: Map<string, GPUBindGroupLayout>;
  kernels: Map<string, Promise<Kernel>>;
}

const caches = new WeakMap<GPUDevice, DeviceCache>();

function cacheOf(device: GPUDevice): DeviceCache {
  let cache = caches.get(device);
  if (!cache) {
    cache = { modules: new Map(), layouts: new Map(), kernels: new Map() };
    caches.set(device, cache);
  }
  return cache;
}

/** Remember a promise under `key`, forgetting it if it rejects (so a retry compiles again). */
function memo<T>(map: Map<string, Promise<T>>, key: string, make: () => Promise<T>): Promise<T> {
  let entry = map.get(key);
  if (!entry) {
    entry = make();
    map.set(key, entry);
    entry.catch(() => map.delete(key));
  }
  return entry;
}

/** Compile `source` on `device` (once per device and code); errors name the file and line. */
export function compileShader(device: GPUDevice, source: ShaderSource): Promise<GPUShaderModule> {
  return memo(cacheOf(device).modules, source.code, async () => {
    // The module's own scope: a bad module is reported here, as a ShaderCompileError, and not
    // as an uncaptured error (or in whatever scope the caller has open).
    device.pushErrorScope('validation');
    const module = device.createShaderModule({ label: `${source.label} shader`, code: source.code });
    const scope = device.popErrorScope();
    const info = await module.getCompilationInfo();
    const invalid = await scope;
    const errors = info.messages.filter((m) => m.type === 'error');
    if (errors.length > 0) {
      throw new ShaderCompileError(
        source.label,
        errors.map((m) => `${describeOrigin(source, m.lineNum)}:${m.linePos}: ${m.message}`),
      );
    }
    if (invalid) throw new ShaderCompileError(source.label, [invalid.message]);
    return module;
  });
}

/** The bind-group layout of `bindings` for compute (shared by every pipeline with the same kinds). */
export function bindGroupLayout(device: GPUDevice, bindings: readonly BindingKind[]): GPUBindGroupLayout {
  const cache = cacheOf(device).layouts;
  const key = bindings.join(',');
  let layout = cache.get(key);
  if (!layout) {
    layout = device.createBindGroupLayout({
      label: `compute layout (${key})`,
      entries: bindings.map((type, binding) => ({ binding, visibility: GPUShaderStage.COMPUTE, buffer: { type } })),
    });
    cache.set(key, layout);
  }
  return layout;
}

/**
 * The compute pipeline of `spec` on `device`, built once per device and spec. Rejects with a
 * {@link ShaderCompileError} or an {@link AttentionError} carrying WebGPU's validation message.
 */
export function getKernel(device: GPUDevice, spec: KernelSpec): Promise<Kernel> {
  const entryPoint = spec.entryPoint ?? 'main';
  const constants = spec.constants ?? {};
  const key = JSON.stringify([spec.label, entryPoint, constants, spec.bindings, spec.source.code]);
  return memo(cacheOf(device).kernels, key, async () => {
    const module = await compileShader(device, spec.source);
    const layout = bindGroupLayout(device, spec.bindings);
    const label = `${spec.label}${entryPoint === 'main' ? '' : `.${entryPoint}`}`;
    device.pushErrorScope('validation');
    const building = device.createComputePipelineAsync({
      label: `${label} pipeline`,
      layout: device.createPipelineLayout({ label: `${label} pipeline layout`, bindGroupLayouts: [layout] }),
      compute: { module, entryPoint, constants },
    });
    const scope = device.popErrorScope();
    let pipeline: GPUComputePipeline;
    try {
      pipeline = await building;
    } catch (error) {
      void scope;
      throw new AttentionError(`Building the ${label} pipeline failed: ${(error as Error).message ?? String(error)}`);
    }
    const error = await scope;
    if (error) throw new AttentionError(`Building the ${label} pipeline failed: ${error.message}`);
    return {
      label,
      pipeline,
      layout,
      bind(buffers, groupLabel) {
        if (buffers.length !== spec.bindings.length) {
          throw new AttentionError(`${label}: ${buffers.length} buffers given for ${spec.bindings.length} bindings.`);
        }
        return device.createBindGroup({
          label: `${groupLabel ?? label} bind group`,
          layout,
          entries: buffers.map((resource, binding) => ({ binding, resource: 'buffer' in resource ? resource : { buffer: resource } })),
        });
      },
    };
  });
}

/** Record one compute pass: a kernel, its bind group and a dispatch, optionally timed. */
export function encodePass(
  encoder: GPUCommandEncoder,
  kernel: Kernel,
  group: GPUBindGroup,
  dims: readonly number[],
  options: { label?: string; timestampWrites?: GPUComputePassTimestampWrites } = {},
): void {
  const pass = encoder.beginComputePass({
    label: `${options.label ?? kernel.label} pass`,
    ...(options.timestampWrites ? { timestampWrites: options.timestampWrites } : {}),
  });
  pass.setPipeline(kernel.pipeline);
  pass.setBindGroup(0, group);
  pass.dispatchWorkgroups(dims[0] ?? 1, dims[1] ?? 1, dims[2] ?? 1);
  pass.end();
}
