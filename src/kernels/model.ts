/**
 * The whole forward pass of the project's GPT-2-style model (src/model/gpt.ts) on WebGPU:
 * embedding, then per block LN1 → Q, K, V with c_attn's bias (the attention projections kernel,
 * bias variant) → causal scores → softmax → P·V (the attention kernels themselves, with the
 * device's tuning) → c_proj + bias + residual → LN2 → c_fc + bias + GELU → c_proj + bias +
 * residual; then ln_f and the logits x·wteᵀ (tied embedding). Everything stays on the device
 * between kernels; one submission per run; only what is asked for is read back.
 *
 * The kernels layer does not import src/model (.dependency-cruiser.cjs): the config and the
 * parameters come in as plain data ({@link GpuModelConfig} has GptConfig's fields; the
 * parameters are a Map by GPT-2 name, as GptParams), and are checked here.
 *
 * Results use the layouts of GptTrace (src/model/gpt.ts): q, k, v, attn seqLen × dModel with
 * the heads side by side; scores and weights heads × seqLen × seqLen (−∞ and 0 where masked);
 * logits seqLen × vocabSize.
 */
import { AttentionAbortError, AttentionError, AttentionInputError } from '../core/errors';
import { createSerialQueue } from '../core/serial';
import type { ModelConfig, ResolvedShape } from '../core/types';
import { checkStorageSize, storageSlots, type GrowableBuffer } from '../gpu/buffers';
import { scoped, watchLoss } from '../gpu/guard';
import { encodePass, getKernel, type BindingKind, type Kernel } from '../gpu/pipeline';
import { readFloats } from '../gpu/readback';
import { packUniform, uniformLayout } from '../gpu/uniforms';
import { BINDINGS, checkTuning, kernelsFor } from './attention';
import { LINEAR_COLS, LINEAR_ROWS, attentionDims, checkDims, type Dims } from './launch';
import { PARAMS_LAYOUT } from './packing';
import { kernelSource } from './shaders';
import { tuningFor, type AttentionTuning } from './tuning';

/** The model's sizes (the GptConfig of src/model/gpt.ts). */
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

export interface GpuModelRunOptions {
  /** What to copy back (default {@link DEFAULT_MODEL_READ}). */
  read?: readonly ModelReadName[];
  /** Cancels the run before submission or before the readback (rejects with an `AbortError`). */
  signal?: AbortSignal;
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

/** The device buffers of the last completed run (valid until the next run or destroy). */
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
  /** Increases whenever a buffer is replaced (bind groups built on the old ones are stale). */
  generation: number;
}

/** The model on one device. Create with {@link createGpuModel}. */
export interface GpuModel {
  readonly device: GPUDevice;
  readonly config: GpuModelConfig;
  /** Run the forward pass of `tokens` (1 … context ids in [0, vocabSize)); runs are queued. */
  run(tokens: readonly number[], options?: GpuModelRunOptions): Promise<GpuModelResult>;
  buffers(): GpuModelBuffers | null;
  /** Free every GPU object this made (the device stays the caller's). */
  destroy(): void;
}

/** LayerNorm's ε, as GPT-2 (and gpt.ts's LAYER_NORM_EPS). */
const LAYER_NORM_EPS = 1e-5;

/** Uniform blocks of the model's own kernels, laid out from their WGSL. */
export const LAYER_NORM_LAYOUT = uniformLayout(kernelSource('layerNorm').code, 'RowsParams');
export const LINEAR_LAYOUT = uniformLayout(kernelSource('linear').code, 'RowsParams');
export const EMBED_LAYOUT = uniformLayout(kernelSource('embed').code, 'EmbedParams');

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

/** Check the config (as validateConfig in src/model/gpt.ts) and return a plain copy. */
function checkConfig(config: GpuModelConfig): GpuModelConfig {
  if (typeof config !== 'object' || config === null) {
    throw new AttentionInputError('config', describe(config), 'an object { vocabSize, context, dModel, heads, layers, dMlp }', 'shape');
  }
  for (const field of ['vocabSize', 'context', 'dModel', 'heads', 'layers', 'dMlp'] as const) {
    const value: unknown = config[field];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
      throw new AttentionInputError(field, describe(value), 'an integer ≥ 1', 'shape');
    }
  }
  const { vocabSize, context, dModel, heads, layers, dMlp } = config;
  if (dModel % heads !== 0) throw new AttentionInputError('heads', String(heads), `a divisor of dModel ${dModel}`, 'shape');
  return { vocabSize, context, dModel, heads, layers, dMlp };
}

/** Every parameter name and its length, in GPT-2 file order (as paramShapes in src/model/gpt.ts). */
function paramLengths(c: GpuModelConfig): Map<string, number> {
  const d = c.dModel;
  const lengths = new Map<string, number>([
    ['wte.weight', c.vocabSize * d],
    ['wpe.weight', c.context * d],
  ]);
  for (let i = 0; i < c.layers; i++) {
    const h = `h.${i}`;
    for (const [name, n] of [
      ['ln_1.weight', d],
      ['ln_1.bias', d],
      ['attn.c_attn.weight', d * 3 * d],
      ['attn.c_attn.bias', 3 * d],
      ['attn.c_proj.weight', d * d],
      ['attn.c_proj.bias', d],
      ['ln_2.weight', d],
      ['ln_2.bias', d],
      ['mlp.c_fc.weight', d * c.dMlp],
      ['mlp.c_fc.bias', c.dMlp],
      ['mlp.c_proj.weight', c.dMlp * d],
      ['mlp.c_proj.bias', d],
    ] as const) {
      lengths.set(`${h}.${name}`, n);
    }
  }
  lengths.set('ln_f.weight', d);
  lengths.set('ln_f.bias', d);
  return lengths;
}

/** Check that every parameter is present, of the right length and finite; nothing extra. */
function checkParams(c: GpuModelConfig, params: GpuModelParams): void {
  if (!(params instanceof Map)) throw new AttentionInputError('params', describe(params), 'a Map from parameter name to Float32Array', 'type');
  const lengths = paramLengths(c);
  for (const [name, length] of lengths) {
    const field = `params[${JSON.stringify(name)}]`;
    const data = params.get(name);
    if (!(data instanceof Float32Array || data instanceof Float64Array)) {
      throw new AttentionInputError(field, data === undefined ? 'nothing' : describe(data), `a Float32Array of ${length} values`, 'type');
    }
    if (data.length !== length) throw new AttentionInputError(field, `length ${data.length}`, `length ${length}`, 'length');
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i])) throw new AttentionInputError(`${field}[${i}]`, describe(data[i]), 'a finite number', 'non-finite');
    }
  }
  for (const name of params.keys()) {
    if (!lengths.has(name)) throw new AttentionInputError(`params[${JSON.stringify(name)}]`, 'an extra parameter', 'only the GPT-2 names of the config', 'type');
  }
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

interface LayerWeights {
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

type LayerSlot = 'ln1' | 'qkv' | 'scores' | 'weights' | 'attn' | 'resid1' | 'ln2' | 'mlpAct' | 'resid2';

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
  const c = checkConfig(config);
  checkParams(c, params);
  checkTuning(device, tuning);
  const { dModel: d, dMlp, heads, vocabSize } = c;
  const dHead = d / heads;
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
  const { weights, uniforms } = await scoped(
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
      };
    },
  );

  // Activations: grow with the sequence and are reused between runs.
  const layerSlots = Array.from({ length: c.layers }, (_, i) =>
    storageSlots<LayerSlot>(device, `model/h.${i}`, {
      ln1: 'ln1',
      qkv: 'qkv',
      scores: 'scores',
      weights: 'weights',
      attn: 'attn',
      resid1: 'resid1',
      ln2: 'ln2',
      mlpAct: 'mlpAct',
      resid2: 'resid2',
    }),
  );
  const slots = storageSlots(device, 'model', { tokens: 'tokens', embed: 'embed', lnF: 'lnF', logits: 'logits' });
  const allSlots = (): GrowableBuffer[] => [...Object.values(slots), ...layerSlots.flatMap((s) => Object.values(s))];

  let destroyed = false;
  let last: GpuModelBuffers | null = null;
  let generation = 0;
  const enqueue = createSerialQueue();
  const checkAlive = () => {
    loss.check();
    if (destroyed) throw new AttentionError('This GpuModel was destroyed; create a new one.');
  };
  const checkAbort = (signal: AbortSignal | undefined) => {
    if (signal?.aborted) throw new AttentionAbortError();
  };

  async function runNow(tokens: readonly number[], options: GpuModelRunOptions): Promise<GpuModelResult> {
    checkTokens(c, tokens);
    const wanted = [...new Set(options.read ?? DEFAULT_MODEL_READ)];
    for (const name of wanted) {
      if (!(READ_NAMES as readonly string[]).includes(name)) {
        throw new AttentionInputError('read', JSON.stringify(name), `names from ${READ_NAMES.join(', ')}`, 'type');
      }
    }
    checkAlive();
    checkAbort(options.signal);
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

    last = null;
    const start = performance.now();
    const buffers = await scoped(
      device,
      { what: 'the model run', buffers: 'the model activations', onOutOfMemory: () => allSlots().forEach((slot) => slot.destroy()) },
      () => {
        const before = allSlots().map((slot) => slot.current);
        const global = {
          tokens: slots.tokens.ensure(4 * T),
          embed: slots.embed.ensure(bytes.act),
          lnF: slots.lnF.ensure(bytes.act),
          logits: slots.logits.ensure(bytes.logits),
        };
        const layers = layerSlots.map((s) => ({
          ln1: s.ln1.ensure(bytes.act),
          qkv: s.qkv.ensure(bytes.qkv),
          scores: s.scores.ensure(bytes.map),
          weights: s.weights.ensure(bytes.map),
          attn: s.attn.ensure(bytes.act),
          resid1: s.resid1.ensure(bytes.act),
          ln2: s.ln2.ensure(bytes.act),
          mlpAct: s.mlpAct.ensure(bytes.mlp),
          resid2: s.resid2.ensure(bytes.act),
        }));
        if (allSlots().some((slot, i) => slot.current !== before[i])) generation++;

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
        const pass = (kernel: Kernel, bound: GPUBuffer[], size: readonly number[], label: string) =>
          encodePass(encoder, kernel, kernel.bind(bound, label), size, { label });
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
        checkAbort(options.signal);
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
      checkAbort(options.signal);
      arrays = await readFloats(device, ranges, 'model/results');
    } catch (error) {
      throw loss.explain(error);
    }
    const result: GpuModelResult = { seqLen: T, layers: buffers.layers.map(() => ({})), gpuMs };
    arrays.forEach((array, i) => places[i](array, result));
    last = {
      seqLen: T,
      layers: buffers.layers.map((b) => ({ qkv: b.qkv, kOffset, vOffset, scores: b.scores, weights: b.weights, attn: b.attn })),
      logits: buffers.global.logits,
      generation,
    };
    return result;
  }

  return {
    device,
    config: c,
    run(tokens, options = {}) {
      return enqueue(() => runNow(tokens, options));
    },
    buffers: () => last,
    destroy() {
      if (destroyed) return;
      destroyed = true;
      for (const slot of allSlots()) slot.destroy();
      for (const buffer of owned) buffer.destroy();
      last = null;
    },
  };
}
