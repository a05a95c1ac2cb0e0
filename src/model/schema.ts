/**
 * The model's configuration and parameter schema: which tensors a GPT-2-style decoder of a
 * given config has, by the names and shapes of a Hugging Face GPT2Model checkpoint, and the one
 * check that a set of parameters matches them ({@link checkModelParams}). The CPU reference
 * (forward-reference.ts), training (src/train) and the GPU forward (src/kernels/model.ts) all
 * read the schema from here, so it is written once.
 *
 * Parameter names (no "transformer." prefix) and shapes, in the order of GPT2Model's state
 * dict: `wte.weight` [vocab, d], `wpe.weight` [context, d], per block i `h.{i}.ln_1.weight|bias`
 * [d], `h.{i}.attn.c_attn.weight` [d, 3d], `.bias` [3d], `h.{i}.attn.c_proj.weight` [d, d],
 * `.bias` [d], `h.{i}.ln_2.weight|bias` [d], `h.{i}.mlp.c_fc.weight` [d, dMlp], `.bias` [dMlp],
 * `h.{i}.mlp.c_proj.weight` [dMlp, d], `.bias` [d], then `ln_f.weight|bias` [d], and
 * `lm_head.weight` [vocab, d] only when the config unties the output layer (tiedEmbeddings false).
 * Conv1D weights are stored [in, out] and applied as y = x·W + b (not nn.Linear's [out, in]);
 * c_attn's columns 0…d−1 are Q, d…2d−1 K, 2d…3d−1 V, head h owning columns h·dHead… within each.
 *
 * Imports only src/core, so the kernels layer may use it too (.dependency-cruiser.cjs).
 */
import { AttentionInputError, type InputErrorKind } from '../core/errors';
import type { ModelConfig } from '../core/types';
import { MAX_ELEMENTS } from '../core/validate';

/** The storage of parameters and activations: Float32 for training and checkpoints, Float64 for references and checks. */
export type Floats = Float32Array | Float64Array;

/** Sizes of the model (src/core/types.ts's ModelConfig, shared with the GPU forward in src/kernels/model.ts). */
export type GptConfig = ModelConfig;

/**
 * The parameters by name (see the module comment), each a flat row-major array of
 * product(shape) values. A Map, so iteration follows {@link paramShapes}' order, the order
 * of a GPT-2 file. Float32Array for training and checkpoints; Float64Array for the checks.
 */
export type GptParams<A extends Floats = Float32Array> = Map<string, A>;

const CONFIG_FIELDS = ['vocabSize', 'context', 'dModel', 'heads', 'layers', 'dMlp'] as const;

/** A value as error text: numbers as written, strings quoted, objects by their type. */
export function describeValue(value: unknown): string {
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
    throw new AttentionInputError('config', describeValue(config), 'an object { vocabSize, context, dModel, heads, layers, dMlp }', 'shape');
  }
  for (const field of CONFIG_FIELDS) {
    const value: unknown = config[field];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_ELEMENTS) {
      throw new AttentionInputError(field, describeValue(value), `an integer from 1 to ${MAX_ELEMENTS}`, 'shape');
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
  const tied: unknown = config.tiedEmbeddings;
  if (tied !== undefined && typeof tied !== 'boolean') {
    throw new AttentionInputError('tiedEmbeddings', describeValue(tied), 'true (logits reuse wte), false (a separate lm_head.weight) or absent (true)', 'type');
  }
  // Tied configs stay the plain six sizes, so JSON and comparisons of existing configs are unchanged.
  return tied === false ? { vocabSize, context, dModel, heads, layers, dMlp, tiedEmbeddings: false } : { vocabSize, context, dModel, heads, layers, dMlp };
}

/** Whether the logits reuse `wte` (no `lm_head.weight`): true unless the config says false. */
export function isTied(config: GptConfig): boolean {
  return config.tiedEmbeddings !== false;
}

/** Whether two configs have the same six sizes and the same output layer (tied or not). */
export function sameConfig(a: GptConfig, b: GptConfig): boolean {
  return CONFIG_FIELDS.every((field) => a[field] === b[field]) && isTied(a) === isTied(b);
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
  if (!isTied(config)) shapes.set('lm_head.weight', [vocabSize, d]);
  return shapes;
}

/** The number of values in all parameters (wte counted once when the output layer is tied). */
export function countParams(config: GptConfig): number {
  let total = 0;
  for (const shape of paramShapes(config).values()) total += shape.reduce((a, b) => a * b, 1);
  return total;
}

/** What to do about parameters that do not fit the config, by the kind of mismatch. */
const PARAMS_ADVICE: Partial<Record<InputErrorKind, string>> = {
  'non-finite': 'The parameters hold a NaN or infinity (a diverged training run or a damaged file): retrain, or load another checkpoint.',
};
const PARAMS_MISMATCH = 'Pass the config the parameters were made for, or load a checkpoint written for this config (npm run train writes one).';

/**
 * Parameters that do not match the schema of the config: a tensor missing, extra, of the
 * wrong length or type, or holding a non-finite value. `tensor` is the GPT-2 name (null when
 * the whole map is wrong); `field` reads `params["name"]` (`params["name"][i]` for a value).
 */
export class ModelParamsError extends AttentionInputError {
  override name = 'ModelParamsError';
  constructor(
    /** The parameter's GPT-2 name (`h.0.attn.c_attn.weight`), or null for the map itself. */
    readonly tensor: string | null,
    given: string,
    allowed: string,
    kind: InputErrorKind,
    /** Index of the offending value, for `'non-finite'`. */
    readonly index?: number,
  ) {
    super(
      tensor === null ? 'params' : `params[${JSON.stringify(tensor)}]${index === undefined ? '' : `[${index}]`}`,
      given,
      allowed,
      kind,
    );
    this.message += `. ${PARAMS_ADVICE[kind] ?? PARAMS_MISMATCH}`;
  }
}

/** Options of {@link checkModelParams}. */
export interface CheckParamsOptions {
  /** Also require every value to be finite (the forward passes do; training steps skip the O(params) scan). */
  finite?: boolean;
}

/**
 * Check that `params` holds exactly the parameters of `config` (its {@link paramShapes}): every
 * name present, each a Float32Array or Float64Array of product(shape) values, all of one kind,
 * nothing extra (a misspelt name would otherwise be silently ignored), and with `finite`, no NaN
 * or infinity. Throws {@link ModelParamsError} naming the tensor, the length given and the
 * length and shape expected. `config` must already be valid ({@link validateConfig}).
 */
export function checkModelParams(config: GptConfig, params: ReadonlyMap<string, Floats>, options: CheckParamsOptions = {}): void {
  if (!(params instanceof Map)) throw new ModelParamsError(null, describeValue(params), 'a Map from parameter name to Float32Array', 'type');
  const shapes = paramShapes(config);
  let kind: 'Float32Array' | 'Float64Array' | undefined;
  for (const [name, shape] of shapes) {
    const data: unknown = params.get(name);
    const count = shape.reduce((a, b) => a * b, 1);
    const expected = `shape [${shape.join(', ')}]`;
    if (data === undefined) throw new ModelParamsError(name, 'nothing', `a Float32Array of ${count} values (${expected})`, 'type');
    const thisKind = data instanceof Float32Array ? 'Float32Array' : data instanceof Float64Array ? 'Float64Array' : undefined;
    if (thisKind === undefined || (kind !== undefined && thisKind !== kind)) {
      throw new ModelParamsError(name, describeValue(data), kind === undefined ? 'a Float32Array or Float64Array' : `a ${kind}, like the other parameters`, 'type');
    }
    kind = thisKind;
    const values = data as Floats;
    if (values.length !== count) throw new ModelParamsError(name, `length ${values.length}`, `length ${count} (${expected})`, 'length');
    if (options.finite === true) {
      for (let i = 0; i < values.length; i++) {
        if (!Number.isFinite(values[i])) throw new ModelParamsError(name, describeValue(values[i]), 'a finite number', 'non-finite', i);
      }
    }
  }
  for (const name of params.keys()) {
    if (!shapes.has(name)) throw new ModelParamsError(name, 'an extra parameter', 'only the names of paramShapes(config)', 'type');
  }
}

/** Float64 copies of the parameters (the reference and the gradient checks run on these). */
export function paramsToFloat64(params: ReadonlyMap<string, Floats>): GptParams<Float64Array> {
  const out: GptParams<Float64Array> = new Map();
  for (const [name, data] of params) out.set(name, Float64Array.from(data));
  return out;
}

/** Zeroed arrays shaped like `params`, of the same kind (gradients, optimizer moments). */
export function zerosLike<A extends Floats>(params: GptParams<A>): GptParams<A> {
  const out: GptParams<A> = new Map();
  for (const [name, data] of params) out.set(name, (data instanceof Float64Array ? new Float64Array(data.length) : new Float32Array(data.length)) as A);
  return out;
}

/**
 * Check token ids: each an integer in [0, vocabSize). Throws {@link AttentionInputError} whose
 * field is `${field}[i]`.
 */
export function checkTokenIds(field: string, tokens: ArrayLike<number>, vocabSize: number): void {
  for (let i = 0; i < tokens.length; i++) {
    const id = tokens[i];
    if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
      throw new AttentionInputError(`${field}[${i}]`, describeValue(id), `an integer token id from 0 to ${vocabSize - 1}`, 'type');
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Parameters by role
// ---------------------------------------------------------------------------------------------

/** One block's parameter arrays by role. */
export interface BlockParams {
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

/** Every parameter array by role (gradients use the same shape). */
export interface ModelParams {
  wte: Floats;
  wpe: Floats;
  blocks: BlockParams[];
  lnfW: Floats;
  lnfB: Floats;
  /** The output layer's [vocab, d] matrix: `lm_head.weight` when untied, else `wte` itself (the same array). */
  lmHead: Floats;
}

/** The arrays by role, looked up once per call (the maps stay out of the hot loops). `params` must be checked. */
export function byRole(config: GptConfig, params: ReadonlyMap<string, Floats>): ModelParams {
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
  const wte = get('wte.weight');
  return { wte, wpe: get('wpe.weight'), blocks, lnfW: get('ln_f.weight'), lnfB: get('ln_f.bias'), lmHead: isTied(config) ? wte : get('lm_head.weight') };
}
