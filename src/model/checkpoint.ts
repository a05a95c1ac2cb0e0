/**
 * Checkpoints of the decoder (schema.ts, forward.ts) as GPT-2 / Hugging Face .safetensors files: F32
 * tensors named and shaped exactly as GPT2Model's state dict (see schema.ts), so the file opens
 * in `transformers` (GPT2Model / GPT2LMHeadModel with tied embeddings) and in any safetensors
 * viewer, and real GPT-2 files can be read back here.
 *
 * `__metadata__` (string → string, as the format requires) holds:
 * - `format`: `"gpt2"` (Hugging Face's own files say `"pt"`; we do not check it on reading),
 * - `config`: the {@link GptConfig} as JSON (`{"vocabSize":…,"context":…,"dModel":…,
 *   "heads":…,"layers":…,"dMlp":…}`),
 * - `vocab`: the token strings as a JSON array, id order,
 * - whatever else the caller passes (training seed, steps, held-out loss, …).
 *
 * Reading infers the config from the tensor shapes when `config` is absent (real GPT-2 files):
 * vocab and d from `wte.weight`, context from `wpe.weight`, layers by counting `h.{i}`, dMlp
 * from `h.0.mlp.c_fc.weight`. The number of heads is not in any shape, so it comes from
 * `config`, else an `n_head` entry, else the file is refused with a message saying so.
 */
import { AttentionInputError } from '../core/errors';
import { readSafetensorsFile, writeSafetensors, type SafetensorsMetadata } from '../inputs/safetensors';
import { TensorFileError, formatShape, type Tensor } from '../inputs/tensors';
import { checkModelParams, isTied, paramShapes, validateConfig, type Floats, type GptConfig, type GptParams } from './schema';

/** What {@link readCheckpoint} returns. */
export interface Checkpoint {
  config: GptConfig;
  /** Float32 parameters in paramShapes order (copies: they do not share the file's memory). */
  params: GptParams;
  /** Token strings by id, or null when the file has none (a real GPT-2 file: its tokenizer is separate). */
  vocab: string[] | null;
  /** The file's whole `__metadata__` (including format, config and vocab when present). */
  metadata: Record<string, string>;
}

/** Metadata keys writeCheckpoint sets itself. */
const RESERVED = ['format', 'config', 'vocab'] as const;

/**
 * The parameters as a .safetensors file (F32, GPT-2 names and shapes, paramShapes order)
 * with the metadata of the module comment. Float64 parameters are rounded to Float32.
 * Throws {@link AttentionInputError} for a bad config or parameters (see checkModelParams), a
 * `vocab` that is not vocabSize strings, or metadata that sets a reserved key (`format`,
 * `config`, `vocab`) or has a non-string value.
 */
export function writeCheckpoint(config: GptConfig, params: GptParams<Floats>, vocab: readonly string[], metadata: Record<string, string> = {}): Uint8Array {
  const c = validateConfig(config);
  checkModelParams(c, params);
  if (!Array.isArray(vocab) || vocab.length !== c.vocabSize) {
    throw new AttentionInputError('vocab', Array.isArray(vocab) ? `${vocab.length} strings` : typeof vocab, `${c.vocabSize} strings (config.vocabSize), one per token id`, 'length');
  }
  vocab.forEach((token, i) => {
    if (typeof token !== 'string') throw new AttentionInputError(`vocab[${i}]`, typeof token, 'a string', 'type');
  });
  const meta: SafetensorsMetadata = { format: 'gpt2', config: JSON.stringify(c), vocab: JSON.stringify(vocab) };
  for (const [key, value] of Object.entries(metadata)) {
    if ((RESERVED as readonly string[]).includes(key)) {
      throw new AttentionInputError(`metadata.${key}`, JSON.stringify(value), `no value: writeCheckpoint sets "${key}" itself`, 'type');
    }
    if (typeof value !== 'string') throw new AttentionInputError(`metadata.${key}`, typeof value, 'a string (safetensors metadata is string → string)', 'type');
    meta[key] = value;
  }
  const tensors: Tensor[] = [];
  for (const [name, shape] of paramShapes(c)) {
    const data = params.get(name)!;
    tensors.push({ name, shape, dtype: 'float32', data: data instanceof Float32Array ? data : Float32Array.from(data) });
  }
  return writeSafetensors(tensors, meta);
}

/** Tensors a GPT-2 file may carry that are not parameters here (checked or skipped, see readCheckpoint). */
const CAUSAL_MASK_BUFFER = /^h\.\d+\.attn\.(bias|masked_bias)$/;

/**
 * Read a checkpoint written by {@link writeCheckpoint}, or a Hugging Face GPT-2 file
 * (GPT2Model names, or GPT2LMHeadModel's with the `transformer.` prefix; F32, F16, BF16 or F64,
 * widened or rounded to Float32). The config comes from the metadata or from the shapes
 * (module comment). Skipped: the causal-mask buffers older `transformers` saved
 * (`h.{i}.attn.bias`, `h.{i}.attn.masked_bias`) and an `lm_head.weight` equal to `wte.weight`.
 *
 * Throws TensorFileError (file and tensor named) for a malformed file (as readSafetensors), a
 * missing tensor, a tensor of the wrong shape ("shape: got [64, 190]; allowed: [64, 192]"), an
 * unexpected tensor (e.g. a third block in a two-block config, or an untied lm_head), a
 * non-finite value, or bad metadata (config that is not valid JSON or not a valid config, no
 * way to know the heads, a vocab that is not vocabSize strings).
 */
export function readCheckpoint(bytes: ArrayBuffer | Uint8Array, fileName = 'model.safetensors'): Checkpoint {
  const file = fileName;
  const { tensors, metadata } = readSafetensorsFile(bytes, file);
  const byName = new Map<string, Tensor>();
  for (const tensor of tensors) {
    const name = tensor.name.startsWith('transformer.') ? tensor.name.slice('transformer.'.length) : tensor.name;
    byName.set(name, tensor);
  }

  const config = configOf(file, metadata, byName);
  const shapes = paramShapes(config);
  const params: GptParams = new Map();
  for (const [name, shape] of shapes) {
    const tensor = byName.get(name);
    if (tensor === undefined) {
      throw new TensorFileError(file, 'tensor', 'no such tensor', `a tensor ${JSON.stringify(name)} of shape ${formatShape(shape)} (every GPT-2 parameter of ${describeConfig(config)})`, name);
    }
    if (!sameShape(tensor.shape, shape)) {
      throw new TensorFileError(file, 'shape', formatShape(tensor.shape), `${formatShape(shape)} (for ${describeConfig(config)})`, name);
    }
    const data = tensor.data;
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i])) throw new TensorFileError(file, 'tensor', `the non-finite value ${data[i]} at index ${i}`, 'finite numbers only (the checkpoint is corrupt)', name);
    }
    params.set(name, data);
  }
  for (const [name, tensor] of byName) {
    if (shapes.has(name) || CAUSAL_MASK_BUFFER.test(name)) continue;
    if (name === 'lm_head.weight' && isTied(config) && sameShape(tensor.shape, shapes.get('wte.weight')!) && sameValues(tensor.data, params.get('wte.weight')!)) continue;
    const why = name === 'lm_head.weight' ? 'an lm_head.weight that differs from wte.weight (this model ties them)' : 'an unexpected tensor';
    throw new TensorFileError(file, 'tensor', why, `only the GPT-2 parameters of ${describeConfig(config)}`, tensor.name);
  }

  let vocab: string[] | null = null;
  if (metadata.vocab !== undefined) {
    const parsed = parseJson(file, 'vocab', metadata.vocab);
    if (!Array.isArray(parsed) || parsed.length !== config.vocabSize || !parsed.every((t) => typeof t === 'string')) {
      const given = Array.isArray(parsed) ? `an array of ${parsed.length} entries${parsed.every((t) => typeof t === 'string') ? '' : ', not all strings'}` : `JSON ${typeof parsed}`;
      throw new TensorFileError(file, 'metadata', `vocab: ${given}`, `a JSON array of ${config.vocabSize} strings (config.vocabSize)`);
    }
    vocab = parsed as string[];
  }
  return { config, params, vocab, metadata: { ...metadata } };
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function sameValues(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function describeConfig(c: GptConfig): string {
  return `vocabSize ${c.vocabSize}, context ${c.context}, dModel ${c.dModel}, heads ${c.heads}, layers ${c.layers}, dMlp ${c.dMlp}`;
}

function parseJson(file: string, key: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    const why = error instanceof Error ? error.message.slice(0, 120) : 'unparsable';
    throw new TensorFileError(file, 'metadata', `${key}: invalid JSON (${why})`, `${key} as JSON, as writeCheckpoint writes it`);
  }
}

/** A config checked by validateConfig, its AttentionInputError turned into a metadata error of this file. */
function checkedConfig(file: string, config: GptConfig, source: string): GptConfig {
  try {
    return validateConfig(config);
  } catch (error) {
    if (error instanceof AttentionInputError) {
      throw new TensorFileError(file, 'metadata', `${source}: ${error.field} ${error.given}`, `${error.allowed}`);
    }
    throw error;
  }
}

/** The config from the metadata, or inferred from the shapes (module comment). */
function configOf(file: string, metadata: SafetensorsMetadata, byName: ReadonlyMap<string, Tensor>): GptConfig {
  if (metadata.config !== undefined) {
    const parsed = parseJson(file, 'config', metadata.config);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new TensorFileError(file, 'metadata', `config: JSON ${Array.isArray(parsed) ? 'array' : String(parsed === null ? null : typeof parsed)}`, 'a JSON object { vocabSize, context, dModel, heads, layers, dMlp }');
    }
    return checkedConfig(file, parsed as GptConfig, 'config');
  }

  const need = (name: string, what: string): Tensor => {
    const tensor = byName.get(name);
    if (tensor === undefined) {
      throw new TensorFileError(file, 'tensor', 'no such tensor', `a tensor ${JSON.stringify(name)} (${what}; the file has no "config" metadata, so the sizes come from the shapes)`, name);
    }
    return tensor;
  };
  const matrix = (tensor: Tensor, what: string): [number, number] => {
    if (tensor.shape.length !== 2) throw new TensorFileError(file, 'shape', formatShape(tensor.shape), `a 2-d shape ${what}`, tensor.name);
    return [tensor.shape[0], tensor.shape[1]];
  };
  const [vocabSize, dModel] = matrix(need('wte.weight', '[vocab, d]'), '[vocab, d]');
  const [context] = matrix(need('wpe.weight', '[context, d]'), '[context, d]');
  let layers = 0;
  for (const name of byName.keys()) {
    const match = /^h\.(\d+)\./.exec(name);
    if (match !== null) layers = Math.max(layers, Number(match[1]) + 1);
  }
  const [, dMlp] = matrix(need('h.0.mlp.c_fc.weight', '[d, dMlp]'), '[d, dMlp]');

  let heads: number;
  if (metadata.n_head !== undefined) {
    heads = /^\s*\d+\s*$/.test(metadata.n_head) ? Number(metadata.n_head) : Number.NaN;
    if (!Number.isInteger(heads)) throw new TensorFileError(file, 'metadata', `n_head: ${JSON.stringify(metadata.n_head.slice(0, 40))}`, 'a whole number of heads');
  } else {
    throw new TensorFileError(
      file,
      'metadata',
      'no "config" and no "n_head"',
      `a "config" entry (JSON, as writeCheckpoint writes it) or an "n_head" entry: the number of heads is not in any tensor's shape (dModel is ${dModel}; GPT-2 small has 12)`,
    );
  }
  // A separate lm_head.weight that differs from wte.weight: an untied output layer (tie_word_embeddings false).
  const head = byName.get('lm_head.weight');
  const untied = head !== undefined && sameShape(head.shape, [vocabSize, dModel]) && !sameValues(head.data, byName.get('wte.weight')!.data);
  return checkedConfig(file, { vocabSize, context, dModel, heads, layers, dMlp, ...(untied ? { tiedEmbeddings: false } : {}) }, 'inferred from the shapes and n_head');
}
