/**
 * The whole forward pass of the project's GPT-2-style model (src/model/forward.ts) on WebGPU:
 * embedding, then per block LN1 → Q, K, V with c_attn's bias (the attention projections kernel,
 * bias variant) → causal scores → softmax → P·V (the attention kernels themselves, with the
 * device's tuning) → c_proj + bias + residual → LN2 → c_fc + bias + GELU → c_proj + bias +
 * residual; then ln_f and the logits x·wteᵀ (tied embedding). Everything stays on the device
 * between kernels; one submission per run; only what is asked for is read back.
 *
 * The config and the parameters come in as plain data ({@link GpuModelConfig} has GptConfig's
 * fields; the parameters are a Map by GPT-2 name, as GptParams) and are checked against the
 * model's schema (src/model/schema.ts, the one part of src/model the kernels may import).
 *
 * Results use the layouts of GptTrace (src/model/forward-reference.ts): q, k, v, attn seqLen × dModel with
 * the heads side by side; scores and weights heads × seqLen × seqLen (−∞ and 0 where masked);
 * logits seqLen × vocabSize.
 */
import { AttentionInputError } from '../core/errors';
import type { ModelConfig, ResolvedShape } from '../core/types';
import { checkStorageSize } from '../gpu/buffers';
import { scoped, watchLoss } from '../gpu/guard';
import { encodePass, getKernel, type BindingKind, type Kernel } from '../gpu/pipeline';
import { readFloats } from '../gpu/readback';
import { createRunner, type HoldResult } from '../gpu/runner';
import { packUniform } from '../gpu/uniforms';
import { BINDINGS, checkTuning, kernelsFor } from './attention';
import { LINEAR_COLS, LINEAR_ROWS, attentionDims, checkDims, type Dims } from './launch';
import { EMBED_LAYOUT, LAYER_NORM_LAYOUT, LINEAR_LAYOUT, uploadModelWeights } from './model-weights';
import { PARAMS_LAYOUT } from './packing';
import { kernelSource } from './shaders';
import { checkModelParams, validateConfig } from '../model/schema';
import { tuningFor, type AttentionTuning } from './tuning';

/** The model's sizes (the GptConfig of src/model/schema.ts). */
export type GpuModelConfig = ModelConfig;

/** The parameters by GPT-2 name and shape (as GptParams: `wte.weight`, `h.0.attn.c_attn.weight`, …). */
export type GpuModelParams = ReadonlyMap<string, Float32Array | Float64Array>;

/** Per-layer tensors a run can read back. */
export const MODEL_LAYER_TENSORS = ['ln1', 'q', 'k', 'v', 'scores', 'weights', 'attn', 'resid1', 'ln2', 'mlpAct', 'resid2'] as const;
export type ModelLayerTensor = (typeof MODEL_LAYER_TENSORS)[number];
/** What a run can read back: per-layer tensors (for every layer), and the embedding, ln_f and logits. */
export type ModelReadName = ModelLayerTensor | 'embed' | 'lnF' | 'logits';
/** The default of `read`: every layer's q, k, v, scores, weights and attn, and the logits. */
export const DEFAULT_MODEL_READ: readonly ModelReadName[] = ['q', 'k', 'v', 'scores', 'weights', 'attn', 'logits'];
const READ_NAMES: readonly ModelReadName[] = [...MODEL_LAYER_TENSORS, 'embed', 'lnF', 'logits'];

export interface GpuModelRunOptions<H extends boolean = boolean> {
  /** What to copy back (default {@link DEFAULT_MODEL_READ}). */
  read?: readonly ModelReadName[];
  /** Cancels the run before submission or before the readback (rejects with an `AbortError`). */
  signal?: AbortSignal;
  /** Hold the run's buffers until `held.release()`: later runs write into another set (see gpu/runner). */
  hold?: H;
}

/** What a run resolves to: the arrays asked for (Float32, GptTrace's layouts) and the wall clock. */
export interface GpuModelResult {
  seqLen: number;
  /** One entry per layer, holding the per-layer tensors asked for. */
  layers: Array<Partial<Record<ModelLayerTensor, Float32Array>>>;
  embed?: Float32Array;
  lnF?: Float32Array;
  logits?: Float32Array;
  /** Milliseconds from the start of encoding until the device finished the passes (wall clock, before the readback). */
  gpuMs: number;
}

/** The device buffers of a completed run (valid until a later run writes into them, its release when held, or destroy). */
export interface GpuModelBuffers {
  seqLen: number;
  layers: Array<{
    /** q | k | v packed: q at 0, k at `kOffset`, v at `vOffset` (f32 elements), each seqLen × dModel. */
    qkv: GPUBuffer;
    kOffset: number;
    vOffset: number;
    /** heads × seqLen × seqLen; −∞ where masked. */
    scores: GPUBuffer;
    /** heads × seqLen × seqLen softmax weights (0 where masked): what the 3D scene draws. */
    weights: GPUBuffer;
    /** P·V, seqLen × dModel. */
    attn: GPUBuffer;
  }>;
  /** seqLen × vocabSize. */
  logits: GPUBuffer;
  /** Increases whenever one of the run's buffers is replaced (bind groups built on the old ones are stale). */
  generation: number;
}

/** The model on one device. Create with {@link createGpuModel}. */
export interface GpuModel {
  readonly device: GPUDevice;
  readonly config: GpuModelConfig;
  /** Run the forward pass of `tokens` (1 … context ids in [0, vocabSize)); runs are queued. */
  run<H extends boolean = false>(tokens: readonly number[], options?: GpuModelRunOptions<H>): Promise<GpuModelResult & HoldResult<H, GpuModelBuffers>>;
  /** Buffers of the last completed run (null before the first, or while a run writes over them). */
  buffers(): GpuModelBuffers | null;
  /** How many buffer sets this model has now (1 without holds). */
  readonly bufferSets: number;
  /** Free every GPU object this made (the device stays the caller's). */
  destroy(): void;
}

/** LayerNorm's ε, as GPT-2 (and src/model/layers.ts's LAYER_NORM_EPS). */
const LAYER_NORM_EPS = 1e-5;

export { EMBED_LAYOUT, LAYER_NORM_LAYOUT, LINEAR_LAYOUT } from './model-weights';

/** The linear kernel's workgroup (WG_X along tiles of LINEAR_COLS output columns, WG_Y along tiles of LINEAR_ROWS rows). */
const LINEAR_WORKGROUP: [number, number] = [8, 8];

const RO: BindingKind = 'read-only-storage';
const MODEL_BINDINGS = {
  embed: ['uniform', RO, RO, RO, 'storage'],
  layerNorm: ['uniform', RO, RO, RO, 'storage'],
  linear: ['uniform', RO, RO, 'storage', RO],
  linearResidual: ['uniform', RO, RO, 'storage', RO, RO],
  logits: ['uniform', RO, RO, 'storage'],
  projectionsBias: [...BINDINGS.projections, RO],
} satisfies Record<string, readonly BindingKind[]>;

function describe(value: unknown): string {
  if (typeof value === 'number') return Number.isNaN(value) ? 'NaN' : String(value);
  if (value === null) return 'null';
  return value === undefined ? 'undefined' : typeof value;
}

/** Check the tokens: 1 … context integers in [0, vocabSize). */
function checkTokens(c: GpuModelConfig, tokens: readonly number[]): void {
  if (!Array.isArray(tokens)) throw new AttentionInputError('tokens', describe(tokens), 'an array of token ids', 'type');
  if (tokens.length < 1 || tokens.length > c.context) {
    throw new AttentionInputError('tokens', `length ${tokens.length}`, `from 1 to ${c.context} tokens (the context)`, 'length');
  }
  tokens.forEach((id, i) => {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= c.vocabSize) {
      throw new AttentionInputError(`tokens[${i}]`, describe(id), `an integer from 0 to ${c.vocabSize - 1} (the vocabulary)`, 'shape');
    }
  });
}

/** Element offset rounded up to a multiple of 64 (256 bytes), as the attention kernels pack q | k | v. */
const align64 = (elements: number) => Math.ceil(elements / 64) * 64;

/**
 * Upload the parameters once and compile the kernels (the attention kernels with the device's
 * tuning, as createGpuAttention). Throws AttentionInputError for a bad config or parameters.
 */
export async function createGpuModel(
  device: GPUDevice,
  config: GpuModelConfig,
  params: GpuModelParams,
  tuning: AttentionTuning = tuningFor(device),
): Promise<GpuModel> {
  const c = validateConfig(config);
  checkModelParams(c, params, { finite: true });
  checkTuning(device, tuning);
  const { dModel: d, dMlp, heads, vocabSize } = c;
  const dHead = d / heads;
  // Watched from the start, so a loss while the kernels compile is reported as the loss.
  const loss = watchLoss(device);

  const [wgX, wgY] = tuning.matmulWorkgroup;
  const lanes = tuning.laneTiles;
  const linearConstants = { WG_X: LINEAR_WORKGROUP[0], WG_Y: LINEAR_WORKGROUP[1] };
  const [attention, projections, embedK, layerNormK, linearK, geluK, residualK, logitsK] = await Promise.all([
    kernelsFor(device, tuning),
    lanes
      ? getKernel(device, { label: 'model/projections bias lanes', source: kernelSource('projectionsLanesBias', lanes.projections), bindings: MODEL_BINDINGS.projectionsBias })
      : getKernel(device, { label: 'model/projections bias', source: kernelSource('projectionsBias'), constants: { WG_X: wgX, WG_Y: wgY }, bindings: MODEL_BINDINGS.projectionsBias }),
    getKernel(device, { label: 'model/embed', source: kernelSource('embed'), bindings: MODEL_BINDINGS.embed }),
    getKernel(device, { label: 'model/layer norm', source: kernelSource('layerNorm'), bindings: MODEL_BINDINGS.layerNorm }),
    getKernel(device, { label: 'model/linear', source: kernelSource('linear'), constants: linearConstants, bindings: MODEL_BINDINGS.linear }),
    getKernel(device, { label: 'model/linear gelu', source: kernelSource('linearGelu'), constants: linearConstants, bindings: MODEL_BINDINGS.linear }),
    getKernel(device, { label: 'model/linear residual', source: kernelSource('linearResidual'), constants: linearConstants, bindings: MODEL_BINDINGS.linearResidual }),
    getKernel(device, { label: 'model/logits', source: kernelSource('logits'), constants: linearConstants, bindings: MODEL_BINDINGS.logits }),
  ]);
  const outputKernel = await attention.output(dHead);
  loss.check();
  const { weights, uniforms, owned } = await uploadModelWeights(device, c, params);
  // Activations: slots of the run's buffer set (global ones, and `h.${i}/…` per layer), grown
  // with the sequence and reused between runs unless a run is held.
  const runner = createRunner<string, GpuModelBuffers>(device, { prefix: 'model', kind: 'GpuModel', runName: 'model run', cleanup: () => owned.forEach((b) => b.destroy()) });

  async function runNow<H extends boolean>(tokens: readonly number[], options: GpuModelRunOptions<H>): Promise<GpuModelResult & HoldResult<H, GpuModelBuffers>> {
    checkTokens(c, tokens);
    const wanted = [...new Set(options.read ?? DEFAULT_MODEL_READ)];
    for (const name of wanted) {
      if (!(READ_NAMES as readonly string[]).includes(name)) {
        throw new AttentionInputError('read', JSON.stringify(name), `names from ${READ_NAMES.join(', ')}`, 'type');
      }
    }
    runner.checkAlive();
    runner.checkAbort(options.signal);
    const T = tokens.length;
    const shape: ResolvedShape = { seqLen: T, kvLen: T, dModel: d, heads, dHead, causal: true, width: d };
    const maxGroups = device.limits.maxComputeWorkgroupsPerDimension;
    const dims = attentionDims(shape, tuning, maxGroups);
    const linearDims = (rows: number, outDim: number): Dims => [Math.ceil(outDim / (LINEAR_WORKGROUP[0] * LINEAR_COLS)), Math.ceil(rows / (LINEAR_WORKGROUP[1] * LINEAR_ROWS)), 1];
    const rowDims: Dims = [Math.ceil(T / 64), 1, 1];
    const all: Record<string, Dims> = { ...dims, mlp: linearDims(T, dMlp), logits: linearDims(T, vocabSize), embed: [Math.ceil((T * d) / 64), 1, 1] };
    checkDims(all, maxGroups);
    const kOffset = align64(T * d);
    const vOffset = kOffset + align64(T * d);
    const bytes = {
      act: 4 * T * d,
      qkv: 4 * (vOffset + T * d),
      map: 4 * heads * T * T,
      mlp: 4 * T * dMlp,
      logits: 4 * T * vocabSize,
    };
    for (const [field, size] of Object.entries(bytes)) checkStorageSize(device, field, size);

    const set = runner.beginRun();
    const start = performance.now();
    const buffers = await scoped(
      device,
      { what: 'the model run', buffers: 'the model activations', onOutOfMemory: () => runner.freeUnheld(), advice: runner.holdAdvice() },
      () => {
        const global = set.ensureAll({ tokens: 4 * T, embed: bytes.act, lnF: bytes.act, logits: bytes.logits });
        const layers = Array.from({ length: c.layers }, (_, i) => {
          const slot = (name: string, size: number) => set.ensure(`h.${i}/${name}`, size);
          return {
            ln1: slot('ln1', bytes.act),
            qkv: slot('qkv', bytes.qkv),
            scores: slot('scores', bytes.map),
            weights: slot('weights', bytes.map),
            attn: slot('attn', bytes.act),
            resid1: slot('resid1', bytes.act),
            ln2: slot('ln2', bytes.act),
            mlpAct: slot('mlpAct', bytes.mlp),
            resid2: slot('resid2', bytes.act),
          };
        });

        const q = device.queue;
        q.writeBuffer(global.tokens, 0, Uint32Array.from(tokens));
        q.writeBuffer(
          uniforms.params,
          0,
          packUniform(PARAMS_LAYOUT, {
            seqLen: T,
            kvLen: T,
            dModel: d,
            heads,
            dHead,
            width: d,
            causal: 1,
            xKVOffset: 0,
            kOffset,
            vOffset,
            scale: 1 / Math.sqrt(dHead),
            rows: heads * T,
          }),
        );
        q.writeBuffer(uniforms.embed, 0, packUniform(EMBED_LAYOUT, { seqLen: T, dModel: d }));
        q.writeBuffer(uniforms.layerNorm, 0, packUniform(LAYER_NORM_LAYOUT, { rows: T, inDim: d, outDim: d, eps: LAYER_NORM_EPS }));
        q.writeBuffer(uniforms.attnProj, 0, packUniform(LINEAR_LAYOUT, { rows: T, inDim: d, outDim: d, eps: 0 }));
        q.writeBuffer(uniforms.fc, 0, packUniform(LINEAR_LAYOUT, { rows: T, inDim: d, outDim: dMlp, eps: 0 }));
        q.writeBuffer(uniforms.mlpProj, 0, packUniform(LINEAR_LAYOUT, { rows: T, inDim: dMlp, outDim: d, eps: 0 }));
        q.writeBuffer(uniforms.logits, 0, packUniform(LINEAR_LAYOUT, { rows: T, inDim: d, outDim: vocabSize, eps: 0 }));

        const encoder = device.createCommandEncoder({ label: 'model run' });
        // Bind groups are cached in the set: rebuilt only when one of its buffers was replaced.
        const pass = (kernel: Kernel, bound: GPUBuffer[], size: readonly number[], label: string) =>
          encodePass(encoder, kernel, set.bind(label, kernel, bound), size, { label });
        pass(embedK, [uniforms.embed, global.tokens, weights.wte, weights.wpe, global.embed], all.embed, 'model/embed');
        let input = global.embed;
        layers.forEach((b, i) => {
          const w = weights.layers[i];
          const h = `model/h.${i}`;
          pass(layerNormK, [uniforms.layerNorm, input, w.ln1g, w.ln1b, b.ln1], rowDims, `${h}/ln_1`);
          pass(projections, [uniforms.params, b.ln1, w.wqkv, b.qkv, w.bqkv], dims.projections, `${h}/projections`);
          pass(attention.scores, [uniforms.params, b.qkv, b.scores], dims.scores, `${h}/scores`);
          pass(attention.softmax, [uniforms.params, b.scores, b.weights], dims.softmax, `${h}/softmax`);
          pass(outputKernel, [uniforms.params, b.qkv, b.weights, b.attn], dims.output, `${h}/output`);
          pass(residualK, [uniforms.attnProj, b.attn, w.projW, b.resid1, w.projB, input], linearDims(T, d), `${h}/attn.c_proj`);
          pass(layerNormK, [uniforms.layerNorm, b.resid1, w.ln2g, w.ln2b, b.ln2], rowDims, `${h}/ln_2`);
          pass(geluK, [uniforms.fc, b.ln2, w.fcW, b.mlpAct, w.fcB], all.mlp, `${h}/mlp.c_fc`);
          pass(residualK, [uniforms.mlpProj, b.mlpAct, w.mlpW, b.resid2, w.mlpB, b.resid1], linearDims(T, d), `${h}/mlp.c_proj`);
          input = b.resid2;
        });
        pass(layerNormK, [uniforms.layerNorm, input, weights.lnfG, weights.lnfB, global.lnF], rowDims, 'model/ln_f');
        pass(logitsK, [uniforms.logits, global.lnF, weights.wte, global.logits], all.logits, 'model/logits');
        runner.checkAbort(options.signal);
        q.submit([encoder.finish()]);
        return { global, layers };
      },
    );

    const layerLengths: Record<ModelLayerTensor, number> = {
      ln1: T * d,
      q: T * d,
      k: T * d,
      v: T * d,
      scores: heads * T * T,
      weights: heads * T * T,
      attn: T * d,
      resid1: T * d,
      ln2: T * d,
      mlpAct: T * dMlp,
      resid2: T * d,
    };
    const ranges: Array<readonly [GPUBuffer, number, number]> = [];
    const places: Array<(array: Float32Array, result: GpuModelResult) => void> = [];
    for (const name of wanted) {
      if (name === 'embed' || name === 'lnF' || name === 'logits') {
        ranges.push([buffers.global[name], 0, name === 'logits' ? T * vocabSize : T * d]);
        places.push((array, result) => {
          result[name] = array;
        });
        continue;
      }
      buffers.layers.forEach((b, i) => {
        const [buffer, offset] =
          name === 'q' ? [b.qkv, 0] : name === 'k' ? [b.qkv, kOffset] : name === 'v' ? [b.qkv, vOffset] : [b[name as Exclude<ModelLayerTensor, 'q' | 'k' | 'v'>], 0];
        ranges.push([buffer, offset, layerLengths[name]]);
        places.push((array, result) => {
          result.layers[i][name] = array;
        });
      });
    }
    let gpuMs: number;
    let arrays: Float32Array[];
    try {
      await device.queue.onSubmittedWorkDone();
      gpuMs = performance.now() - start;
      runner.checkAbort(options.signal);
      arrays = await readFloats(device, ranges, 'model/results');
    } catch (error) {
      throw loss.explain(error);
    }
    const result: GpuModelResult = { seqLen: T, layers: buffers.layers.map(() => ({})), gpuMs };
    arrays.forEach((array, i) => places[i](array, result));
    const shown: GpuModelBuffers = {
      seqLen: T,
      layers: buffers.layers.map((b) => ({ qkv: b.qkv, kOffset, vOffset, scores: b.scores, weights: b.weights, attn: b.attn })),
      logits: buffers.global.logits,
      generation: set.generation,
    };
    return { ...result, ...runner.finishRun(set, shown, options.hold) };
  }

  return {
    device,
    config: c,
    run<H extends boolean = false>(tokens: readonly number[], options: GpuModelRunOptions<H> = {}) {
      return runner.enqueue(() => runNow(tokens, options));
    },
    buffers: () => runner.last(),
    get bufferSets() {
      return runner.sets;
    },
    destroy: () => runner.destroy(),
  };
}
