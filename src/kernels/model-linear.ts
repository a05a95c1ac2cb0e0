/**
 * The model's linear kernels (c_proj, c_fc + GELU, the MLP's c_proj + residual, and the logits
 * x·wteᵀ), in the variant the tuning picks (src/kernels/tuning.ts `linear`):
 * - 'registers': shaders/linear.wgsl, a 4 × 4 register tile per invocation;
 * - 'lanes': shaders/linear-lanes.wgsl, teams of 4 lanes sharing loads by subgroupBroadcast
 *   (software adapters with 4-lane subgroups: SwiftShader);
 * - 'workgroup': shaders/linear-workgroup.wgsl, blocks staged in workgroup memory (GPUs).
 * Every variant has the same bindings and the same uniform block (RowsParams), so the forward
 * pass (src/kernels/model.ts) binds them alike and asks only for the dispatch size.
 */
import { AttentionError } from '../core/errors';
import { getKernel, type BindingKind, type Kernel } from '../gpu/pipeline';
import { checkLaneTile } from './lane-tiles';
import { LINEAR_COLS, LINEAR_ROWS, type Dims } from './launch';
import { LINEAR_BLOCK, variantLabel, type KernelName, type WeightFormat } from './shader-variants';
import { kernelSource } from './shaders';
import { classifyAdapter, type AttentionTuning, type LinearTuning } from './tuning';

const RO: BindingKind = 'read-only-storage';
/** Bindings of the linear kernels: uniform, x, W, y, bias (and the residual for `residual`); logits has no bias. */
export const LINEAR_BINDINGS = {
  linear: ['uniform', RO, RO, 'storage', RO],
  residual: ['uniform', RO, RO, 'storage', RO, RO],
  logits: ['uniform', RO, RO, 'storage'],
} satisfies Record<string, readonly BindingKind[]>;

/** The register-tile kernels' workgroup (x along tiles of LINEAR_COLS columns, y along tiles of LINEAR_ROWS rows). */
const REGISTER_WORKGROUP: [number, number] = [8, 8];

/** The four linear kernels of one variant and how to size their dispatch. */
export interface ModelLinearKernels {
  /** The variant these are (the tuning's `linear`, 'registers' where it has none). */
  readonly variant: LinearTuning;
  /** y = x·W + b (bindings {@link LINEAR_BINDINGS}.linear). */
  readonly linear: Kernel;
  /** y = GELU(x·W + b) (bindings as `linear`). */
  readonly gelu: Kernel;
  /** y = residual + x·W + b (bindings {@link LINEAR_BINDINGS}.residual). */
  readonly residual: Kernel;
  /** y = x·Wᵀ, W outDim × inDim (bindings {@link LINEAR_BINDINGS}.logits). */
  readonly logits: Kernel;
  /** Workgroups for an output of `rows` × `outDim`. */
  dims(rows: number, outDim: number): Dims;
}

/** The tuning's linear variant ('registers' when it names none). */
export function linearVariant(tuning: AttentionTuning): LinearTuning {
  return tuning.linear ?? { kind: 'registers' };
}

/** Workgroups of a linear kernel of `variant` for an output of `rows` × `outDim` (pure). */
export function linearDims(variant: LinearTuning, rows: number, outDim: number): Dims {
  switch (variant.kind) {
    case 'lanes':
      return [Math.ceil(outDim / variant.tile.cols), Math.ceil(rows / (4 * variant.tile.rows)), 1];
    case 'workgroup': {
      const { GROUP_EDGE, TILE_ROWS, TILE_COLS } = LINEAR_BLOCK;
      return [Math.ceil(outDim / (GROUP_EDGE * TILE_COLS)), Math.ceil(rows / (GROUP_EDGE * TILE_ROWS)), 1];
    }
    default:
      return [Math.ceil(outDim / (REGISTER_WORKGROUP[0] * LINEAR_COLS)), Math.ceil(rows / (REGISTER_WORKGROUP[1] * LINEAR_ROWS)), 1];
  }
}

/** What a linear kernel does: GPT-2's (W [in, out]) with bias, GELU or the residual, the logits (W [out, in], no bias), and the Llama family's (W [out, in]) with bias or the residual. */
export type LinearRole = 'bias' | 'gelu' | 'residual' | 'logits' | 'biasT' | 'residualT';

/** The kernel of each role in each variant (src/kernels/shader-variants.ts has the recipes). */
const LINEAR_NAMES: Record<LinearTuning['kind'], Record<LinearRole, KernelName>> = {
  lanes: { bias: 'linearLanes', gelu: 'linearLanesGelu', residual: 'linearLanesResidual', logits: 'logitsLanes', biasT: 'linearLanesT', residualT: 'linearLanesTResidual' },
  workgroup: { bias: 'linearWorkgroup', gelu: 'linearWorkgroupGelu', residual: 'linearWorkgroupResidual', logits: 'logitsWorkgroup', biasT: 'linearWorkgroupT', residualT: 'linearWorkgroupTResidual' },
  registers: { bias: 'linear', gelu: 'linearGelu', residual: 'linearResidual', logits: 'logits', biasT: 'linearT', residualT: 'linearTResidual' },
};

/** The bindings of a role's kernel. */
function roleBindings(role: LinearRole): readonly BindingKind[] {
  return role === 'logits' ? LINEAR_BINDINGS.logits : role === 'residual' || role === 'residualT' ? LINEAR_BINDINGS.residual : LINEAR_BINDINGS.linear;
}

/**
 * Compile the linear kernels of `roles` in the tuning's variant (cached per device by
 * getKernel). Throws an AttentionError for 'lanes' on a device without 4-lane subgroups, or for
 * a bad lane tile.
 */
export async function linearKernelsFor<R extends LinearRole>(
  device: GPUDevice,
  tuning: AttentionTuning,
  roles: readonly R[],
  /** How the weights are stored ('f16'/'bf16': the checkpoint's 16 bits, packed; only the [out, in] roles biasT and residualT). */
  weights: WeightFormat = 'f32',
): Promise<{ kernels: Record<R, Kernel>; variant: LinearTuning; dims(rows: number, outDim: number): Dims }> {
  const variant = linearVariant(tuning);
  const names = LINEAR_NAMES[variant.kind];
  let compile: (role: R) => Promise<Kernel>;
  if (variant.kind === 'lanes') {
    checkLaneTile(variant.tile);
    const adapter = classifyAdapter(device);
    if (!adapter.fourLaneSubgroups) {
      throw new AttentionError(
        `The lane-tile linear kernels need the WebGPU feature 'subgroups' with subgroups exactly 4 lanes wide; this device has ${adapter.subgroups ? 'subgroups of other widths' : "no 'subgroups'"}: use linear { kind: 'workgroup' } or 'registers' (tuningFor(device) picks one that fits).`,
      );
    }
    const tile = variant.tile;
    compile = (role) => getKernel(device, { label: `model/${variantLabel(names[role], tile, weights)}`, source: kernelSource(names[role], tile, weights), bindings: roleBindings(role) });
  } else if (variant.kind === 'workgroup') {
    compile = (role) => getKernel(device, { label: `model/${variantLabel(names[role], undefined, weights)}`, source: kernelSource(names[role], undefined, weights), bindings: roleBindings(role) });
  } else {
    const constants = { WG_X: REGISTER_WORKGROUP[0], WG_Y: REGISTER_WORKGROUP[1] };
    compile = (role) => getKernel(device, { label: `model/${variantLabel(names[role], undefined, weights)}`, source: kernelSource(names[role], undefined, weights), constants, bindings: roleBindings(role) });
  }
  const made = await Promise.all(roles.map(compile));
  const kernels = Object.fromEntries(roles.map((role, i) => [role, made[i]])) as Record<R, Kernel>;
  return { kernels, variant, dims: (rows, outDim) => linearDims(variant, rows, outDim) };
}

/**
 * Compile GPT-2's four linear kernels of the tuning's variant (cached per device by getKernel).
 * Throws an AttentionError for 'lanes' on a device without 4-lane subgroups, or for a bad lane tile.
 */
export async function createLinearKernels(device: GPUDevice, tuning: AttentionTuning): Promise<ModelLinearKernels> {
  const { kernels, variant, dims } = await linearKernelsFor(device, tuning, ['bias', 'gelu', 'residual', 'logits'] as const);
  return { variant, linear: kernels.bias, gelu: kernels.gelu, residual: kernels.residual, logits: kernels.logits, dims };
}
