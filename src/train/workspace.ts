/**
 * Training's workspace: the forward pass's activations (src/model/forward.ts) plus the
 * backward's buffers and the matrix kernel the layers use, made once and reused across steps so
 * a step allocates nothing.
 */
import { AttentionInputError } from '../core/errors';
import { MAX_ELEMENTS } from '../core/validate';
import { checkCount, createActivations, floatMaker, type Activations } from '../model/forward';
import { Scratch, type MatmulKernel } from '../model/matmul';
import { describeValue, sameConfig, validateConfig, type Floats, type GptConfig, type GptParams } from '../model/schema';
import { sharedSimdMatmul } from './simd-matmul';

/**
 * The matrix kernel of a workspace's layers:
 * - `'js'`: src/model/matmul.ts's matmulNT.
 * - `'wasm'`: its WebAssembly SIMD twin with sums in double (simd-matmul.ts): bit for bit
 *   matmulNT's result, several times faster; where the engine lacks WebAssembly SIMD the
 *   workspace quietly uses 'js' instead (same numbers).
 * - `'wasm-f32'`: the same kernel summing in float32 lanes: faster again, but its sums are
 *   rounded to float32 as they go, so results differ from 'js' (deterministically); throws
 *   without WebAssembly SIMD rather than change a run's numbers.
 */
export type MatmulChoice = 'js' | 'wasm' | 'wasm-f32';

/**
 * Buffers for the forward and backward passes of batches up to `batch` sequences of up to
 * `length` tokens: about (10·d + 3·dMlp + vocab)·batch·length + layers·heads·batch·length²
 * values. Create one per training run (or let lossAndGrads keep one per parameter map) so a
 * step allocates nothing.
 */
export interface GptWorkspace extends Activations {
  /** The matrix kernel its layers use ({@link MatmulChoice}; 'js' where 'wasm' was asked for but the engine has no WebAssembly SIMD). */
  readonly matmul: MatmulChoice;
  /** @internal */ readonly targets: Int32Array;
  /** @internal */ readonly dResid: Floats;
  /** @internal */ readonly dA: Floats;
  /** @internal */ readonly dB: Floats;
  /** @internal */ readonly dQkv: Floats;
  /** @internal */ readonly dH1: Floats;
  /** @internal */ readonly dH2: Floats;
  /** @internal */ readonly scratch: Scratch;
}

/** Options of {@link createWorkspace}. */
export interface WorkspaceOptions {
  /** Float64 storage (default false: Float32). Must match the parameters' kind. */
  float64?: boolean;
  /** Keep the masked scores too (default false). */
  scores?: boolean;
  /** The matrix kernel (default 'js'; see {@link MatmulChoice}). The wasm kernels are for Float32 workspaces (training) only. */
  matmul?: MatmulChoice;
}

/** Buffers for batches of up to `batch` × `length` tokens (see {@link GptWorkspace}). */
export function createWorkspace(config: GptConfig, batch: number, length: number, options: WorkspaceOptions = {}): GptWorkspace {
  const c = validateConfig(config);
  checkCount('batch', batch, 1, MAX_ELEMENTS);
  checkCount('length', length, 1, c.context);
  const float64 = options.float64 ?? false;
  const wanted = options.matmul ?? 'js';
  if (wanted !== 'js' && wanted !== 'wasm' && wanted !== 'wasm-f32') throw new AttentionInputError('matmul', describeValue(wanted), "'js', 'wasm' or 'wasm-f32'", 'type');
  if (wanted !== 'js' && float64) throw new AttentionInputError('matmul', `'${wanted}'`, "'js' for a Float64 workspace (the wasm kernels are for Float32 training)", 'type');
  const simd: MatmulKernel | null = wanted === 'js' ? null : sharedSimdMatmul(wanted === 'wasm' ? 'f64' : 'f32');
  if (wanted === 'wasm-f32' && simd === null) throw new AttentionInputError('matmul', "'wasm-f32'", "'js' or 'wasm': this engine has no WebAssembly SIMD", 'type');
  const acts = createActivations(c, batch, length, { float64, scores: options.scores });
  const make = floatMaker(float64);
  const rows = batch * length;
  const { dModel: d, dMlp } = c;
  return {
    ...acts,
    matmul: simd === null ? 'js' : wanted,
    targets: new Int32Array(rows),
    dResid: make(rows * d),
    dA: make(rows * d),
    dB: make(rows * d),
    dQkv: make(rows * 3 * d),
    dH1: make(rows * dMlp),
    dH2: make(rows * dMlp),
    scratch: simd === null ? new Scratch(make) : new Scratch(make, simd),
  };
}

function fits(ws: GptWorkspace, config: GptConfig, batch: number, length: number, float64: boolean): boolean {
  return ws.float64 === float64 && batch <= ws.batch && length <= ws.length && sameConfig(ws.config, config);
}

/** One workspace per parameter map, so repeated steps on the same parameters reuse it. */
const workspaces = new WeakMap<object, GptWorkspace>();

/**
 * The workspace a step on `params` uses: `given` when it fits (else throws), or the one kept
 * for this parameter map, grown when a larger batch comes.
 */
export function workspaceFor(config: GptConfig, params: GptParams<Floats>, batch: number, length: number, given: GptWorkspace | undefined): GptWorkspace {
  const float64 = params.get('wte.weight') instanceof Float64Array;
  if (given !== undefined) {
    if (!fits(given, config, batch, length, float64)) {
      throw new AttentionInputError(
        'workspace',
        `${given.batch} × ${given.length}, ${given.float64 ? 'Float64' : 'Float32'}`,
        `a workspace of the same config and kind as the parameters, for at least ${batch} × ${length} tokens`,
        'shape',
      );
    }
    return given;
  }
  const cached = workspaces.get(params);
  if (cached !== undefined && fits(cached, config, batch, length, float64)) return cached;
  const made = createWorkspace(config, Math.max(batch, cached?.batch ?? 0), Math.max(length, cached?.length ?? 0), { float64 });
  workspaces.set(params, made);
  return made;
}
