/**
 * A small GPT-2-style decoder that the project trains itself: the configuration, the
 * parameters (named and shaped exactly as a Hugging Face GPT2Model checkpoint), their
 * initialisation, the training loss with its hand-written backward (Float32 storage) and the
 * Float64 forward reference that the WebGPU forward pass is checked against layer by layer.
 *
 * The model, as GPT-2 (choices stated so a checkpoint means the same thing everywhere):
 * - Learned token (`wte`) and position (`wpe`) embeddings, summed: x₀[t] = wte[token_t] + wpe[t].
 * - `layers` pre-LayerNorm blocks: x += attn(ln_1(x)); x += mlp(ln_2(x)).
 * - attn: c_attn (Conv1D d → 3d, with bias) gives Q | K | V side by side; causal multi-head
 *   attention, `heads` heads of dHead = dModel/heads, scores QKᵀ/√dHead, key j hidden from
 *   query i when j > i; c_proj (d → d, with bias).
 * - mlp: c_fc (d → dMlp) → GELU → c_proj (dMlp → d), with biases. GELU is GPT-2's tanh
 *   approximation ("gelu_new"): 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
 * - Final LayerNorm ln_f, then logits = ln_f(x)·wteᵀ: the output layer is TIED to the token
 *   embedding (no separate lm_head), so `wte` gets gradient from both ends.
 * - LayerNorm: biased variance, ε = 1e-5, learned weight and bias.
 * - Conv1D weights are stored [in, out] and applied as y = x·W + b (not nn.Linear's [out, in]).
 *   c_attn's columns 0…d−1 are Q, d…2d−1 K, 2d…3d−1 V; head h owns columns h·dHead… within
 *   each, which is the layout of this project's attention kernels (src/core/types.ts).
 * - Initialisation as GPT-2 (Hugging Face `_init_weights`): every weight matrix and both
 *   embeddings normal(0, 0.02); the two c_proj weights (attn and mlp, the ones feeding the
 *   residual stream) normal(0, 0.02/√(2·layers)); biases 0; LayerNorm weights 1, biases 0.
 *   Normals come from Box–Muller on the seeded `makeRng`, drawn tensor by tensor in
 *   {@link paramShapes} order, so a seed gives the same model in Node and in the browser.
 *
 * Parameter names (no "transformer." prefix) and shapes, in the order of GPT2Model's state
 * dict: `wte.weight` [vocab, d], `wpe.weight` [context, d], per block i `h.{i}.ln_1.weight|bias`
 * [d], `h.{i}.attn.c_attn.weight` [d, 3d], `.bias` [3d], `h.{i}.attn.c_proj.weight` [d, d],
 * `.bias` [d], `h.{i}.ln_2.weight|bias` [d], `h.{i}.mlp.c_fc.weight` [d, dMlp], `.bias` [dMlp],
 * `h.{i}.mlp.c_proj.weight` [dMlp, d], `.bias` [d], then `ln_f.weight|bias` [d].
 *
 * Precision: training keeps parameters and activations in Float32Array; every sum (dot
 * products, LayerNorm statistics, softmax denominators, the loss) is accumulated in double
 * (see layers.ts). The same code runs on Float64Array parameters for the gradient checks, and
 * {@link forwardReference} runs it in Float64 from the Float32 parameters.
 *
 * Pure TypeScript: runs in Node and in the browser (no DOM, no WebGPU, no node: modules).
 */
import { AttentionInputError } from '../core/errors';
import type { ModelConfig } from '../core/types';
import { MAX_ELEMENTS } from '../core/validate';
import { makeRng, type Rng } from '../reference/random';
import {
  LAYER_NORM_EPS,
  Scratch,
  attentionBackward,
  attentionForward,
  crossEntropy,
  embeddingBackward,
  embeddingForward,
  geluBackward,
  geluForward,
  layerNormBackward,
  layerNormForward,
  linearBackward,
  linearForward,
  outputBackward,
  outputForward,
  type Floats,
  type MatmulKernel,
} from './layers';
import { sharedSimdMatmul } from './simd';

export { LAYER_NORM_EPS, type Floats } from './layers';

/** Sizes of the model (src/core/types.ts's ModelConfig, shared with the GPU forward in src/kernels/model.ts). */
export type GptConfig = ModelConfig;

/**
 * The parameters by name (see the module comment), each a flat row-major array of
 * product(shape) values. A Map, so iteration follows {@link paramShapes}' order, the order
 * of a GPT-2 file. Float32Array for training and checkpoints; Float64Array for the checks.
 */
export type GptParams<A extends Floats = Float32Array> = Map<string, A>;

const CONFIG_FIELDS = ['vocabSize', 'context', 'dModel', 'heads', 'layers', 'dMlp'] as const;

function describe(value: unknown): string {
  if (typeof value === 'number') return Number.isNaN(value) ? 'NaN' : String(value);
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null) return 'null';
  return value === undefined ? 'undefined' : typeof value;
}

/**
 * Check a configuration; returns a plain copy holding only the six fields. Throws
 * {@link AttentionInputError} naming the field: each must be an integer ≥ 1, `heads` must
 * divide `dModel`, and the largest array the model holds must fit in MAX_ELEMENTS.
 */
export function validateConfig(config: GptConfig): GptConfig {
  if (typeof config !== 'object' || config === null) {
    throw new AttentionInputError('config', describe(config), 'an object { vocabSize, context, dModel, heads, layers, dMlp }', 'shape');
  }
  for (const field of CONFIG_FIELDS) {
    const value: unknown = config[field];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_ELEMENTS) {
      throw new AttentionInputError(field, describe(value), `an integer from 1 to ${MAX_ELEMENTS}`, 'shape');
    }
  }
  const { vocabSize, context, dModel, heads, layers, dMlp } = config;
  if (dModel % heads !== 0) {
    throw new AttentionInputError('heads', String(heads), `a divisor of dModel ${dModel} (dHead = dModel / heads)`, 'shape');
  }
  const largest = Math.max(vocabSize * dModel, context * dModel, 3 * dModel * dModel, dModel * dMlp);
  if (largest > MAX_ELEMENTS) {
    throw new AttentionInputError('config', `a parameter of ${largest} values`, `at most ${MAX_ELEMENTS} values per parameter`, 'too-large');
  }
  return { vocabSize, context, dModel, heads, layers, dMlp };
}

/** The names of block i's parameters, in file order. */
function blockShapes(i: number, d: number, dMlp: number): Array<[string, number[]]> {
  const h = `h.${i}`;
  return [
    [`${h}.ln_1.weight`, [d]],
    [`${h}.ln_1.bias`, [d]],
    [`${h}.attn.c_attn.weight`, [d, 3 * d]],
    [`${h}.attn.c_attn.bias`, [3 * d]],
    [`${h}.attn.c_proj.weight`, [d, d]],
    [`${h}.attn.c_proj.bias`, [d]],
    [`${h}.ln_2.weight`, [d]],
    [`${h}.ln_2.bias`, [d]],
    [`${h}.mlp.c_fc.weight`, [d, dMlp]],
    [`${h}.mlp.c_fc.bias`, [dMlp]],
    [`${h}.mlp.c_proj.weight`, [dMlp, d]],
    [`${h}.mlp.c_proj.bias`, [d]],
  ];
}

/** Every parameter's name and shape, in the order of a GPT-2 file (module comment). */
export function paramShapes(config: GptConfig): Map<string, number[]> {
  const { vocabSize, context, dModel: d, layers, dMlp } = validateConfig(config);
  const shapes = new Map<string, number[]>([
    ['wte.weight', [vocabSize, d]],
    ['wpe.weight', [context, d]],
  ]);
  for (let i = 0; i < layers; i++) for (const [name, shape] of blockShapes(i, d, dMlp)) shapes.set(name, shape);
  shapes.set('ln_f.weight', [d]);
  shapes.set('ln_f.bias', [d]);
  return shapes;
}

/** The number of values in all parameters (wte counted once: the output layer is tied). */
export function countParams(config: GptConfig): number {
  let total = 0;
  for (const shape of paramShapes(config).values()) total += shape.reduce((a, b) => a * b, 1);
  return total;
}

/**
 * Standard normal samples from a uniform generator, by Box–Muller: two uniforms give two
 * independent normals (the second is kept for the next call). 1 − u keeps log away from 0.
 */
export function gaussian(rng: Rng): () => number {
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const s = spare;
      spare = undefined;
      return s;
    }
    const radius = Math.sqrt(-2 * Math.log(1 - rng()));
    const angle = 2 * Math.PI * rng();
    spare = radius * Math.sin(angle);
    return radius * Math.cos(angle);
  };
}

/** GPT-2's initialisation, reproducible from `seed` (module comment). */
export function initParams(config: GptConfig, seed: number): GptParams {
  const shapes = paramShapes(config);
  const normal = gaussian(makeRng(seed));
  const residualStd = 0.02 / Math.sqrt(2 * config.layers);
  const params: GptParams = new Map();
  for (const [name, shape] of shapes) {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    if (name.endsWith('.bias')) {
      // zeros
    } else if (/(^|\.)ln_(1|2|f)\.weight$/.test(name)) {
      data.fill(1);
    } else {
      const std = name.endsWith('c_proj.weight') ? residualStd : 0.02;
      for (let i = 0; i < data.length; i++) data[i] = normal() * std;
    }
    params.set(name, data);
  }
  return params;
}

/**
 * Check that `params` holds exactly the parameters of `config`: every name present, each a
 * Float32Array or Float64Array of product(shape) values, all of one kind, nothing extra (a
 * misspelt name would otherwise be silently ignored). Throws {@link AttentionInputError}
 * whose field is `params["name"]`.
 */
export function validateParams(config: GptConfig, params: GptParams<Floats>): void {
  if (!(params instanceof Map)) throw new AttentionInputError('params', describe(params), 'a Map from parameter name to Float32Array', 'type');
  const shapes = paramShapes(config);
  let kind: 'Float32Array' | 'Float64Array' | undefined;
  for (const [name, shape] of shapes) {
    const field = `params[${JSON.stringify(name)}]`;
    const data = params.get(name);
    const count = shape.reduce((a, b) => a * b, 1);
    if (data === undefined) throw new AttentionInputError(field, 'nothing', `a Float32Array of ${count} values (shape [${shape.join(', ')}])`, 'type');
    const thisKind = data instanceof Float32Array ? 'Float32Array' : data instanceof Float64Array ? 'Float64Array' : undefined;
    if (thisKind === undefined || (kind !== undefined && thisKind !== kind)) {
      throw new AttentionInputError(field, describe(data), kind === undefined ? 'a Float32Array or Float64Array' : `a ${kind}, like the other parameters`, 'type');
    }
    kind = thisKind;
    if (data.length !== count) throw new AttentionInputError(field, `length ${data.length}`, `length ${count} (shape [${shape.join(', ')}])`, 'length');
  }
  for (const name of params.keys()) {
    if (!shapes.has(name)) throw new AttentionInputError(`params[${JSON.stringify(name)}]`, 'an extra parameter', `only the names of paramShapes(config)`, 'type');
  }
}

/** Float64 copies of the parameters (the reference and the gradient checks run on these). */
export function paramsToFloat64(params: GptParams<Floats>): GptParams<Float64Array> {
  const out: GptParams<Float64Array> = new Map();
  for (const [name, data] of params) out.set(name, Float64Array.from(data));
  return out;
}

/** Zeroed arrays shaped like `params`, of the same kind (gradients, optimizer moments). */
export function zerosLike<A extends Floats>(params: GptParams<A>): GptParams<A> {
  const out: GptParams<A> = new Map();
  for (const [name, data] of params) out.set(name, sameKind(data, data.length));
  return out;
}

function sameKind<A extends Floats>(like: A, length: number): A {
  return (like instanceof Float64Array ? new Float64Array(length) : new Float32Array(length)) as A;
}

// ---------------------------------------------------------------------------------------------
// Parameters by role
// ---------------------------------------------------------------------------------------------

interface BlockParams {
  ln1w: Floats;
  ln1b: Floats;
  attnW: Floats;
  attnB: Floats;
  projW: Floats;
  projB: Floats;
  ln2w: Floats;
  ln2b: Floats;
  fcW: Floats;
  fcB: Floats;
  mlpW: Floats;
  mlpB: Floats;
}

interface ModelParams {
  wte: Floats;
  wpe: Floats;
  blocks: BlockParams[];
  lnfW: Floats;
  lnfB: Floats;
}

/** The arrays by role, looked up once per call (the maps stay out of the hot loops). */
function byRole(config: GptConfig, params: GptParams<Floats>): ModelParams {
  const get = (name: string): Floats => params.get(name)!;
  const blocks: BlockParams[] = [];
  for (let i = 0; i < config.layers; i++) {
    const h = `h.${i}`;
    blocks.push({
      ln1w: get(`${h}.ln_1.weight`),
      ln1b: get(`${h}.ln_1.bias`),
      attnW: get(`${h}.attn.c_attn.weight`),
      attnB: get(`${h}.attn.c_attn.bias`),
      projW: get(`${h}.attn.c_proj.weight`),
      projB: get(`${h}.attn.c_proj.bias`),
      ln2w: get(`${h}.ln_2.weight`),
      ln2b: get(`${h}.ln_2.bias`),
      fcW: get(`${h}.mlp.c_fc.weight`),
      fcB: get(`${h}.mlp.c_fc.bias`),
      mlpW: get(`${h}.mlp.c_proj.weight`),
      mlpB: get(`${h}.mlp.c_proj.bias`),
    });
  }
  return { wte: get('wte.weight'), wpe: get('wpe.weight'), blocks, lnfW: get('ln_f.weight'), lnfB: get('ln_f.bias') };
}

// ---------------------------------------------------------------------------------------------
// Workspace: every activation of a forward pass, kept for the backward and reused across steps
// ---------------------------------------------------------------------------------------------

/** One block's activations; rows are batch·length tokens (layouts as {@link GptLayerTrace}). */
interface LayerActs {
  /** The block's input: the previous block's resid2, or the embeddings (an alias, no copy). */
  input: Floats;
  ln1: Floats;
  ln1Mean: Floats;
  ln1Rstd: Floats;
  qkv: Floats;
  probs: Floats;
  scores: Floats | null;
  attn: Floats;
  attnOut: Floats;
  resid1: Floats;
  ln2: Floats;
  ln2Mean: Floats;
  ln2Rstd: Floats;
  mlpPre: Floats;
  mlpAct: Floats;
  mlpOut: Floats;
  resid2: Floats;
}

/**
 * Buffers for the forward and backward passes of batches up to `batch` sequences of up to
 * `length` tokens: about (10·d + 3·dMlp + vocab)·batch·length + layers·heads·batch·length²
 * values. Create one per training run (or let {@link lossAndGrads} keep one per parameter
 * map) so a step allocates nothing.
 */
export interface GptWorkspace {
  readonly config: GptConfig;
  readonly batch: number;
  readonly length: number;
  readonly float64: boolean;
  /** Whether it also keeps the masked scores (the forward reference does; training need not). */
  readonly scores: boolean;
  /** The matrix kernel its layers use ({@link MatmulChoice}; 'js' where 'wasm' was asked for but the engine has no WebAssembly SIMD). */
  readonly matmul: MatmulChoice;
  /** @internal */ readonly inputs: Int32Array;
  /** @internal */ readonly targets: Int32Array;
  /** @internal */ readonly x0: Floats;
  /** @internal */ readonly layers: LayerActs[];
  /** @internal */ readonly lnF: Floats;
  /** @internal */ readonly lnFMean: Floats;
  /** @internal */ readonly lnFRstd: Floats;
  /** @internal */ readonly logits: Floats;
  /** @internal */ readonly dResid: Floats;
  /** @internal */ readonly dA: Floats;
  /** @internal */ readonly dB: Floats;
  /** @internal */ readonly dQkv: Floats;
  /** @internal */ readonly dH1: Floats;
  /** @internal */ readonly dH2: Floats;
  /** @internal */ readonly scratch: Scratch;
}

/**
 * The matrix kernel of a workspace's layers:
 * - `'js'`: layers.ts's matmulNT.
 * - `'wasm'`: its WebAssembly SIMD twin with sums in double (src/model/simd.ts): bit for bit
 *   matmulNT's result, several times faster; where the engine lacks WebAssembly SIMD the
 *   workspace quietly uses 'js' instead (same numbers).
 * - `'wasm-f32'`: the same kernel summing in float32 lanes: faster again, but its sums are
 *   rounded to float32 as they go, so results differ from 'js' (deterministically); throws
 *   without WebAssembly SIMD rather than change a run's numbers.
 */
export type MatmulChoice = 'js' | 'wasm' | 'wasm-f32';

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
  if (wanted !== 'js' && wanted !== 'wasm' && wanted !== 'wasm-f32') throw new AttentionInputError('matmul', describe(wanted), "'js', 'wasm' or 'wasm-f32'", 'type');
  if (wanted !== 'js' && float64) throw new AttentionInputError('matmul', `'${wanted}'`, "'js' for a Float64 workspace (the wasm kernels are for Float32 training)", 'type');
  const simd: MatmulKernel | null = wanted === 'js' ? null : sharedSimdMatmul(wanted === 'wasm' ? 'f64' : 'f32');
  if (wanted === 'wasm-f32' && simd === null) throw new AttentionInputError('matmul', "'wasm-f32'", "'js' or 'wasm': this engine has no WebAssembly SIMD", 'type');
  const make = float64 ? (n: number): Floats => new Float64Array(n) : (n: number): Floats => new Float32Array(n);
  const rows = batch * length;
  const { dModel: d, dMlp, heads, vocabSize } = c;
  const map = batch * heads * length * length;
  if (map > MAX_ELEMENTS || rows * Math.max(vocabSize, 3 * d, dMlp) > MAX_ELEMENTS) {
    throw new AttentionInputError('batch', String(batch), `fewer sequences: batch·heads·length² and batch·length·vocab must stay ≤ ${MAX_ELEMENTS}`, 'too-large');
  }
  const x0 = make(rows * d);
  const layers: LayerActs[] = [];
  let input = x0;
  for (let l = 0; l < c.layers; l++) {
    const acts: LayerActs = {
      input,
      ln1: make(rows * d),
      ln1Mean: make(rows),
      ln1Rstd: make(rows),
      qkv: make(rows * 3 * d),
      probs: make(map),
      scores: options.scores === true ? make(map) : null,
      attn: make(rows * d),
      attnOut: make(rows * d),
      resid1: make(rows * d),
      ln2: make(rows * d),
      ln2Mean: make(rows),
      ln2Rstd: make(rows),
      mlpPre: make(rows * dMlp),
      mlpAct: make(rows * dMlp),
      mlpOut: make(rows * d),
      resid2: make(rows * d),
    };
    layers.push(acts);
    input = acts.resid2;
  }
  return {
    config: c,
    batch,
    length,
    float64,
    scores: options.scores === true,
    matmul: simd === null ? 'js' : wanted,
    inputs: new Int32Array(rows),
    targets: new Int32Array(rows),
    x0,
    layers,
    lnF: make(rows * d),
    lnFMean: make(rows),
    lnFRstd: make(rows),
    logits: make(rows * vocabSize),
    dResid: make(rows * d),
    dA: make(rows * d),
    dB: make(rows * d),
    dQkv: make(rows * 3 * d),
    dH1: make(rows * dMlp),
    dH2: make(rows * dMlp),
    scratch: simd === null ? new Scratch(make) : new Scratch(make, simd),
  };
}

function checkCount(field: string, value: unknown, min: number, max: number): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new AttentionInputError(field, describe(value), `an integer from ${min} to ${max}`, 'shape');
  }
}

function sameConfig(a: GptConfig, b: GptConfig): boolean {
  return CONFIG_FIELDS.every((field) => a[field] === b[field]);
}

function fits(ws: GptWorkspace, config: GptConfig, batch: number, length: number, float64: boolean): boolean {
  return ws.float64 === float64 && batch <= ws.batch && length <= ws.length && sameConfig(ws.config, config);
}

/** One workspace per parameter map, so repeated steps on the same parameters reuse it. */
const workspaces = new WeakMap<object, GptWorkspace>();

function workspaceFor(config: GptConfig, params: GptParams<Floats>, batch: number, length: number, given: GptWorkspace | undefined): GptWorkspace {
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

// ---------------------------------------------------------------------------------------------
// The forward and backward passes (shared by training and the reference)
// ---------------------------------------------------------------------------------------------

/** Embeddings → blocks → ln_f → logits for ws.inputs (batch × length ids), into ws. */
function forwardPass(config: GptConfig, p: ModelParams, ws: GptWorkspace, batch: number, length: number): void {
  const { dModel: d, dMlp, heads, vocabSize } = config;
  const rows = batch * length;
  const n = rows * d;
  const s = ws.scratch;
  embeddingForward(ws.inputs, p.wte, p.wpe, ws.x0, batch, length, d);
  for (let l = 0; l < config.layers; l++) {
    const a = ws.layers[l];
    const w = p.blocks[l];
    layerNormForward(a.input, w.ln1w, w.ln1b, a.ln1, a.ln1Mean, a.ln1Rstd, rows, d);
    linearForward(a.ln1, w.attnW, w.attnB, a.qkv, rows, d, 3 * d, s);
    attentionForward(a.qkv, a.attn, a.probs, batch, length, heads, d / heads, s, a.scores);
    linearForward(a.attn, w.projW, w.projB, a.attnOut, rows, d, d, s);
    for (let i = 0; i < n; i++) a.resid1[i] = a.input[i] + a.attnOut[i];
    layerNormForward(a.resid1, w.ln2w, w.ln2b, a.ln2, a.ln2Mean, a.ln2Rstd, rows, d);
    linearForward(a.ln2, w.fcW, w.fcB, a.mlpPre, rows, d, dMlp, s);
    geluForward(a.mlpPre, a.mlpAct, rows * dMlp);
    linearForward(a.mlpAct, w.mlpW, w.mlpB, a.mlpOut, rows, dMlp, d, s);
    for (let i = 0; i < n; i++) a.resid2[i] = a.resid1[i] + a.mlpOut[i];
  }
  const last = ws.layers[config.layers - 1].resid2; // layers ≥ 1 (validateConfig)
  layerNormForward(last, p.lnfW, p.lnfB, ws.lnF, ws.lnFMean, ws.lnFRstd, rows, d);
  outputForward(ws.lnF, p.wte, ws.logits, rows, d, vocabSize, s.matmul);
}

/** Backward of {@link forwardPass}, from dlogits already in ws.logits; ADDS into `g`. */
function backwardPass(config: GptConfig, p: ModelParams, g: ModelParams, ws: GptWorkspace, batch: number, length: number): void {
  const { dModel: d, dMlp, heads, vocabSize } = config;
  const rows = batch * length;
  const s = ws.scratch;
  const dResid = ws.dResid;
  outputBackward(ws.lnF, p.wte, ws.logits, ws.dA, g.wte, rows, d, vocabSize, s);
  dResid.fill(0, 0, rows * d);
  const last = ws.layers[config.layers - 1].resid2; // layers ≥ 1 (validateConfig)
  layerNormBackward(last, p.lnfW, ws.lnFMean, ws.lnFRstd, ws.dA, dResid, g.lnfW, g.lnfB, rows, d);
  for (let l = config.layers - 1; l >= 0; l--) {
    const a = ws.layers[l];
    const w = p.blocks[l];
    const gw = g.blocks[l];
    // resid2 = resid1 + mlp(ln_2(resid1)): dResid reaches the MLP's output unchanged.
    linearBackward(a.mlpAct, w.mlpW, dResid, ws.dH2, gw.mlpW, gw.mlpB, rows, dMlp, d, s);
    geluBackward(a.mlpPre, ws.dH2, ws.dH1, rows * dMlp);
    linearBackward(a.ln2, w.fcW, ws.dH1, ws.dA, gw.fcW, gw.fcB, rows, d, dMlp, s);
    layerNormBackward(a.resid1, w.ln2w, a.ln2Mean, a.ln2Rstd, ws.dA, dResid, gw.ln2w, gw.ln2b, rows, d);
    // resid1 = input + attn(ln_1(input)).
    linearBackward(a.attn, w.projW, dResid, ws.dA, gw.projW, gw.projB, rows, d, d, s);
    attentionBackward(a.qkv, a.probs, ws.dA, ws.dQkv, batch, length, heads, d / heads, s);
    linearBackward(a.ln1, w.attnW, ws.dQkv, ws.dB, gw.attnW, gw.attnB, rows, d, 3 * d, s);
    layerNormBackward(a.input, w.ln1w, a.ln1Mean, a.ln1Rstd, ws.dB, dResid, gw.ln1w, gw.ln1b, rows, d);
  }
  embeddingBackward(ws.inputs, dResid, g.wte, g.wpe, batch, length, d);
}

// ---------------------------------------------------------------------------------------------
// Training
// ---------------------------------------------------------------------------------------------

/**
 * A batch of training sequences: `batch` rows of `length + 1` token ids each (row-major in
 * `tokens`). Position t of a row predicts the token at t + 1, so each row gives `length`
 * predictions and the model sees `length` ≤ context tokens.
 */
export interface TokenBatch {
  tokens: Int32Array;
  batch: number;
  length: number;
}

/** Options of {@link lossAndGrads} and {@link lossOnly}. */
export interface TrainOptions<A extends Floats = Float32Array> {
  /**
   * Buffers to use (from {@link createWorkspace}, same kind as the parameters, large enough).
   * Default: one kept per parameter map, grown when a larger batch comes.
   */
  workspace?: GptWorkspace;
  /** Write the gradients into these (zeroed first) instead of new arrays. */
  grads?: GptParams<A>;
}

/** Loss and gradients of one batch. */
export interface LossAndGrads<A extends Floats = Float32Array> {
  /** Mean cross-entropy in nats per predicted token (batch·length of them). */
  loss: number;
  /** ∂loss/∂parameter, by parameter name, same kind as the parameters. */
  grads: GptParams<A>;
}

/** Check a batch and split it into the workspace's inputs and targets. */
function loadBatch(config: GptConfig, batch: TokenBatch, ws: GptWorkspace): void {
  const { batch: rows, length, tokens } = batch;
  for (let b = 0; b < rows; b++) {
    const from = b * (length + 1);
    for (let t = 0; t < length; t++) {
      ws.inputs[b * length + t] = tokens[from + t];
      ws.targets[b * length + t] = tokens[from + t + 1];
    }
  }
}

function checkBatch(config: GptConfig, batch: TokenBatch): void {
  if (typeof batch !== 'object' || batch === null) throw new AttentionInputError('batch', describe(batch), 'an object { tokens, batch, length }', 'type');
  checkCount('batch.batch', batch.batch, 1, MAX_ELEMENTS);
  checkCount('batch.length', batch.length, 1, config.context);
  const { tokens } = batch;
  if (!(tokens instanceof Int32Array)) throw new AttentionInputError('batch.tokens', describe(tokens), 'an Int32Array', 'type');
  const expected = batch.batch * (batch.length + 1);
  if (tokens.length !== expected) {
    throw new AttentionInputError('batch.tokens', `length ${tokens.length}`, `length ${expected} = batch ${batch.batch} × (length ${batch.length} + 1)`, 'length');
  }
  checkTokenIds('batch.tokens', tokens, config.vocabSize);
}

function checkTokenIds(field: string, tokens: ArrayLike<number>, vocabSize: number): void {
  for (let i = 0; i < tokens.length; i++) {
    const id = tokens[i];
    if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
      throw new AttentionInputError(`${field}[${i}]`, describe(id), `an integer token id from 0 to ${vocabSize - 1}`, 'type');
    }
  }
}

/**
 * Mean cross-entropy of a batch and its gradient with respect to every parameter: the
 * forward pass, softmax cross-entropy against the next tokens, and the hand-written backward
 * (layers.ts). Float32Array parameters give Float32 storage throughout (training);
 * Float64Array parameters run the same code in Float64 (the gradient checks).
 *
 * Validates the config, the parameters and the batch (typed {@link AttentionInputError}s
 * naming the field). Buffers are reused across calls (see {@link TrainOptions}); the returned
 * gradients are new arrays unless `options.grads` is given.
 */
export function lossAndGrads<A extends Floats = Float32Array>(config: GptConfig, params: GptParams<A>, batch: TokenBatch, options: TrainOptions<A> = {}): LossAndGrads<A> {
  const c = validateConfig(config);
  validateParams(c, params);
  checkBatch(c, batch);
  const ws = workspaceFor(c, params, batch.batch, batch.length, options.workspace);
  let grads: GptParams<A>;
  if (options.grads !== undefined) {
    validateParams(c, options.grads);
    if ((options.grads.get('wte.weight') instanceof Float64Array) !== ws.float64) {
      throw new AttentionInputError('grads', 'arrays of another kind', 'the same kind (Float32Array or Float64Array) as the parameters', 'type');
    }
    grads = options.grads;
    for (const g of grads.values()) g.fill(0);
  } else {
    grads = zerosLike(params);
  }
  loadBatch(c, batch, ws);
  const p = byRole(c, params);
  forwardPass(c, p, ws, batch.batch, batch.length);
  const rows = batch.batch * batch.length;
  // The mean over predicted tokens: dloss/dlogits = (softmax − onehot)/rows, in place.
  const total = crossEntropy(ws.logits, ws.targets, rows, c.vocabSize, ws.logits, 1 / rows);
  backwardPass(c, p, byRole(c, grads), ws, batch.batch, batch.length);
  return { loss: total / rows, grads };
}

/** Mean cross-entropy of a batch (nats per predicted token), forward only. */
export function lossOnly<A extends Floats = Float32Array>(config: GptConfig, params: GptParams<A>, batch: TokenBatch, options: Pick<TrainOptions<A>, 'workspace'> = {}): number {
  const c = validateConfig(config);
  validateParams(c, params);
  checkBatch(c, batch);
  const ws = workspaceFor(c, params, batch.batch, batch.length, options.workspace);
  loadBatch(c, batch, ws);
  forwardPass(c, byRole(c, params), ws, batch.batch, batch.length);
  const rows = batch.batch * batch.length;
  return crossEntropy(ws.logits, ws.targets, rows, c.vocabSize) / rows;
}

/** Held-out loss: the mean over every predicted token of all batches, and how many there were. */
export function evaluate<A extends Floats = Float32Array>(config: GptConfig, params: GptParams<A>, batches: Iterable<TokenBatch>): { loss: number; tokens: number } {
  let total = 0;
  let tokens = 0;
  for (const batch of batches) {
    const count = batch.batch * batch.length;
    total += lossOnly(config, params, batch) * count;
    tokens += count;
  }
  if (tokens === 0) throw new AttentionInputError('batches', 'none', 'at least one batch', 'length');
  return { loss: total / tokens, tokens };
}

// ---------------------------------------------------------------------------------------------
// The Float64 forward reference
// ---------------------------------------------------------------------------------------------

/**
 * Every intermediate of one block for one sequence of seqLen tokens, in Float64, row-major.
 * d = dModel = heads·dHead; "heads side by side" means head h owns columns h·dHead…(h+1)·dHead−1.
 */
export interface GptLayerTrace {
  /** ln_1(input), seqLen × d. */
  ln1: Float64Array;
  /** Q = ln1·W_Q + b_Q (c_attn's first d columns), seqLen × d, heads side by side. */
  q: Float64Array;
  /** K (c_attn's columns d…2d−1), seqLen × d, heads side by side. */
  k: Float64Array;
  /** V (c_attn's columns 2d…3d−1), seqLen × d, heads side by side. */
  v: Float64Array;
  /** heads × seqLen × seqLen: QKᵀ/√dHead per head, −Infinity where key j > query i. */
  scores: Float64Array;
  /** heads × seqLen × seqLen: row softmax of scores, 0 where masked. */
  weights: Float64Array;
  /** P·V per head, seqLen × d, heads side by side (c_proj's input). */
  attn: Float64Array;
  /** attn·c_proj.weight + c_proj.bias, seqLen × d. */
  attnOut: Float64Array;
  /** input + attnOut, seqLen × d. */
  resid1: Float64Array;
  /** ln_2(resid1), seqLen × d. */
  ln2: Float64Array;
  /** ln2·c_fc.weight + c_fc.bias, seqLen × dMlp. */
  mlpPre: Float64Array;
  /** GELU(mlpPre), seqLen × dMlp. */
  mlpAct: Float64Array;
  /** mlpAct·mlp.c_proj.weight + bias, seqLen × d. */
  mlpOut: Float64Array;
  /** resid1 + mlpOut, seqLen × d: the block's output (the next block's input). */
  resid2: Float64Array;
}

/** The whole forward pass of one sequence, in Float64 (see {@link forwardReference}). */
export interface GptTrace {
  config: GptConfig;
  tokens: number[];
  /** wte[token] + wpe[position], seqLen × d: the first block's input. */
  embed: Float64Array;
  layers: GptLayerTrace[];
  /** ln_f(last block's resid2), seqLen × d. */
  lnF: Float64Array;
  /** lnF·wteᵀ, seqLen × vocabSize (row t predicts token t + 1). */
  logits: Float64Array;
}

/**
 * The forward pass of one sequence in Float64 — parameters widened from Float32, every
 * product, sum and activation kept in double — with every intermediate, for checking the GPU
 * forward pass layer by layer. Throws {@link AttentionInputError} for a bad config or
 * parameters, a non-finite parameter value (`params["name"][i]`), `tokens` of length 0 or
 * beyond the context (`tokens`), or an id that is not an integer in [0, vocabSize)
 * (`tokens[i]`).
 */
export function forwardReference(config: GptConfig, params: GptParams<Floats>, tokens: readonly number[] | Int32Array): GptTrace {
  const c = validateConfig(config);
  validateParams(c, params);
  for (const [name, data] of params) {
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i])) throw new AttentionInputError(`params[${JSON.stringify(name)}][${i}]`, describe(data[i]), 'a finite number', 'non-finite');
    }
  }
  if (tokens === null || typeof tokens !== 'object' || typeof tokens.length !== 'number') {
    throw new AttentionInputError('tokens', describe(tokens), 'an array of token ids', 'type');
  }
  if (tokens.length < 1 || tokens.length > c.context) {
    throw new AttentionInputError('tokens', `length ${tokens.length}`, `from 1 to ${c.context} tokens (the context)`, 'length');
  }
  checkTokenIds('tokens', tokens, c.vocabSize);

  const seqLen = tokens.length;
  const ws = createWorkspace(c, 1, seqLen, { float64: true, scores: true });
  for (let t = 0; t < seqLen; t++) ws.inputs[t] = tokens[t];
  forwardPass(c, byRole(c, paramsToFloat64(params)), ws, 1, seqLen);

  const d = c.dModel;
  const f64 = (a: Floats): Float64Array => a as Float64Array;
  /** Columns [from, from + d) of the seqLen × 3d qkv rows. */
  const columns = (qkv: Floats, from: number): Float64Array => {
    const out = new Float64Array(seqLen * d);
    for (let t = 0; t < seqLen; t++) out.set(f64(qkv).subarray(t * 3 * d + from, t * 3 * d + from + d), t * d);
    return out;
  };
  return {
    config: c,
    tokens: Array.from(tokens),
    embed: f64(ws.x0).slice(),
    layers: ws.layers.map((a) => ({
      ln1: f64(a.ln1).slice(),
      q: columns(a.qkv, 0),
      k: columns(a.qkv, d),
      v: columns(a.qkv, 2 * d),
      scores: f64(a.scores!).slice(),
      weights: f64(a.probs).slice(),
      attn: f64(a.attn).slice(),
      attnOut: f64(a.attnOut).slice(),
      resid1: f64(a.resid1).slice(),
      ln2: f64(a.ln2).slice(),
      mlpPre: f64(a.mlpPre).slice(),
      mlpAct: f64(a.mlpAct).slice(),
      mlpOut: f64(a.mlpOut).slice(),
      resid2: f64(a.resid2).slice(),
    })),
    lnF: f64(ws.lnF).slice(),
    logits: f64(ws.logits).slice(),
  };
}
