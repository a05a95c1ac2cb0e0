/**
 * Synthesized GPT-2-family checkpoints in the hub's layout, for the loader's tests and the e2e
 * hub: config.json in GPT2Config's field names, model.safetensors (or an index and shards) in
 * F32, F16 or BF16 with or without GPT2LMHeadModel's "transformer." prefix, lm_head.weight and
 * the causal-mask buffers older files carry, and the tiny tokenizer's files. Also returns the
 * parameters the loader must produce (F16/BF16 values rounded as the file holds them).
 *
 * The safetensors writer and the float16/bfloat16 rounding here are written independently of
 * src/inputs (which only writes F32), so a test reading these files checks the reader against
 * a second implementation. No vitest: the e2e tests import this too.
 */
import { makeRng } from '../../src/reference/random';
import { paramShapes, type GptConfig } from '../../src/model/schema';
import { tinyTokenizerFiles } from './tiny-tokenizer';

/** How the weights are stored. */
export type SynthDtype = 'F32' | 'F16' | 'BF16';

/** Options of {@link synthGpt2Checkpoint}. */
export interface SynthOptions {
  /** The sizes; vocabSize should be the tiny tokenizer's (tinyTokenizerFiles().vocabSize) for a loadable model. */
  config: GptConfig;
  seed?: number;
  dtype?: SynthDtype;
  /** Name tensors "transformer.wte.weight" (GPT2LMHeadModel) rather than "wte.weight" (GPT2Model). */
  prefix?: boolean;
  /** Add lm_head.weight (a copy of wte), written before wte. */
  lmHead?: boolean;
  /** Add h.N.attn.bias (U8 [1, 1, ctx, ctx] lower triangle) and h.N.attn.masked_bias (F32 scalar). */
  maskBuffers?: boolean;
  /** Split the weights into this many shards with model.safetensors.index.json (default 1: one model.safetensors). */
  shards?: number;
  /** Fields to set in config.json (undefined removes one: `{ n_head: undefined }`). */
  configOverrides?: Record<string, unknown>;
  /** Tensors to leave out of the weights, by their name in the file ("wte.weight", "transformer.h.0.ln_1.bias"). */
  dropTensors?: readonly string[];
  /**
   * 'small' (default): weights of a few tenths, which give small test models lively maps;
   * 'gpt2': GPT-2's own scale (matrices ±0.035 uniform, i.e. std 0.02 as its initialisation;
   * biases ±0.02; wte ±0.2; wpe ±0.02), for large models whose sums would otherwise grow far
   * past what a real checkpoint computes.
   */
  scale?: 'small' | 'gpt2';
  /** Leave the tokenizer files out. */
  noTokenizer?: boolean;
  /** Write tokenizer.json (default) or vocab.json + merges.txt. */
  tokenizerFormat?: 'tokenizer.json' | 'vocab+merges';
}

/** A synthesized checkpoint. */
export interface SynthCheckpoint {
  /** File name → bytes, as a hub repository holds them. */
  files: Record<string, Uint8Array>;
  /** The parameters the loader must produce, by schema name in schema order (rounded to the dtype). */
  params: Map<string, Float32Array>;
  /** The parameters before rounding to F16/BF16 (equal to `params` for F32). */
  original: Map<string, Float32Array>;
  config: GptConfig;
}

/** One tensor to write: its name, dtype, shape and raw little-endian bytes. */
export interface RawTensor {
  name: string;
  dtype: string;
  shape: number[];
  bytes: Uint8Array;
}

/** A .safetensors file of `tensors` in the given order (header padded with spaces to 8 bytes). */
export function safetensorsBytes(tensors: readonly RawTensor[], metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.bytes.length] };
    offset += t.bytes.length;
  }
  const json = JSON.stringify(header);
  const length = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + length + offset);
  const view = new DataView(out.buffer);
  view.setUint32(0, length, true);
  view.setUint32(4, 0, true);
  out.fill(0x20, 8, 8 + length);
  for (let i = 0; i < json.length; i++) out[8 + i] = json.charCodeAt(i); // the names are ASCII
  let at = 8 + length;
  for (const t of tensors) {
    out.set(t.bytes, at);
    at += t.bytes.length;
  }
  return out;
}

/** Round half to even of a non-negative number. */
function roundEven(x: number): number {
  const floor = Math.floor(x);
  const rest = x - floor;
  if (rest > 0.5) return floor + 1;
  if (rest < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/** The IEEE binary16 bits nearest to `value` (ties to even; finite inputs well inside half's range). */
export function toHalfBits(value: number): number {
  const sign = value < 0 || Object.is(value, -0) ? 0x8000 : 0;
  const x = Math.abs(value);
  if (x < 2 ** -14) return sign | roundEven(x * 2 ** 24); // subnormal (may round up to the smallest normal, 0x400)
  let exponent = Math.floor(Math.log2(x));
  if (2 ** exponent > x) exponent--;
  if (2 ** (exponent + 1) <= x) exponent++;
  let mantissa = roundEven((x / 2 ** exponent - 1) * 1024);
  if (mantissa === 1024) {
    mantissa = 0;
    exponent++;
  }
  return sign | ((exponent + 15) << 10) | mantissa;
}

/** The value of binary16 bits (normal and subnormal; no inf/NaN here). */
export function fromHalfBits(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  return exponent === 0 ? sign * mantissa * 2 ** -24 : sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/** The bfloat16 bits nearest to a float32 `value` (ties to even on the dropped 16 bits). */
export function toBfloat16Bits(value: number): number {
  const bits = new Uint32Array(new Float32Array([value]).buffer)[0];
  const upper = bits >>> 16;
  const lower = bits & 0xffff;
  const rounded = lower > 0x8000 || (lower === 0x8000 && (upper & 1) === 1) ? upper + 1 : upper;
  return rounded & 0xffff;
}

/** The value of bfloat16 bits. */
export function fromBfloat16Bits(bits: number): number {
  return new Float32Array(new Uint32Array([bits << 16 >>> 0]).buffer)[0];
}

/** `values` stored as `dtype`: the file's bytes and the float32 values the reader must produce. */
export function encodeFloats(values: Float32Array, dtype: SynthDtype): { bytes: Uint8Array; decoded: Float32Array } {
  if (dtype === 'F32') {
    const bytes = new Uint8Array(values.length * 4);
    const view = new DataView(bytes.buffer);
    values.forEach((v, i) => view.setFloat32(i * 4, v, true));
    return { bytes, decoded: Float32Array.from(values) };
  }
  const bytes = new Uint8Array(values.length * 2);
  const view = new DataView(bytes.buffer);
  const decoded = new Float32Array(values.length);
  values.forEach((v, i) => {
    const bits = dtype === 'F16' ? toHalfBits(v) : toBfloat16Bits(v);
    view.setUint16(i * 2, bits, true);
    decoded[i] = dtype === 'F16' ? fromHalfBits(bits) : fromBfloat16Bits(bits);
  });
  return { bytes, decoded };
}

/** The random scale of each kind of parameter: LayerNorm weights near 1, small biases, weights of moderate size. */
function scaleOf(name: string, size: 'small' | 'gpt2' = 'small'): { centre: number; scale: number } {
  if (/ln_\w+\.weight$/.test(name)) return { centre: 1, scale: 0.2 };
  if (size === 'gpt2') {
    if (name.endsWith('.bias')) return { centre: 0, scale: 0.02 };
    if (name === 'wte.weight') return { centre: 0, scale: 0.2 };
    if (name === 'wpe.weight') return { centre: 0, scale: 0.02 };
    return { centre: 0, scale: 0.035 };
  }
  if (name.endsWith('.bias')) return { centre: 0, scale: 0.1 };
  if (name === 'wte.weight') return { centre: 0, scale: 0.5 };
  if (name === 'wpe.weight') return { centre: 0, scale: 0.2 };
  return { centre: 0, scale: 0.4 };
}

/** config.json as GPT2Config.save_pretrained writes it (the fields the loader reads, and a few it ignores). */
export function gpt2ConfigJson(config: GptConfig, overrides: Record<string, unknown> = {}): string {
  const json: Record<string, unknown> = {
    _name_or_path: 'synth-gpt2',
    activation_function: 'gelu_new',
    architectures: ['GPT2LMHeadModel'],
    attn_pdrop: 0.1,
    bos_token_id: config.vocabSize - 1,
    embd_pdrop: 0.1,
    eos_token_id: config.vocabSize - 1,
    initializer_range: 0.02,
    layer_norm_epsilon: 1e-5,
    model_type: 'gpt2',
    n_ctx: config.context,
    n_embd: config.dModel,
    n_head: config.heads,
    n_inner: config.dMlp === 4 * config.dModel ? null : config.dMlp,
    n_layer: config.layers,
    n_positions: config.context,
    resid_pdrop: 0.1,
    scale_attn_weights: true,
    torch_dtype: 'float32',
    vocab_size: config.vocabSize,
  };
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) delete json[key];
    else json[key] = value;
  }
  return JSON.stringify(json, null, 2);
}

/** A synthesized checkpoint (see the module comment and {@link SynthOptions}). */
export function synthGpt2Checkpoint(options: SynthOptions): SynthCheckpoint {
  const { config, seed = 1, dtype = 'F32', prefix = false, lmHead = false, maskBuffers = false, shards = 1 } = options;
  const rng = makeRng(seed);
  const encoder = new TextEncoder();
  const original = new Map<string, Float32Array>();
  const params = new Map<string, Float32Array>();
  const tensors: RawTensor[] = [];
  const fileName = (name: string) => (prefix ? `transformer.${name}` : name);
  let wteBytes: Uint8Array | undefined;
  for (const [name, shape] of paramShapes(config)) {
    const { centre, scale } = scaleOf(name, options.scale);
    const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < values.length; i++) values[i] = centre + (rng() * 2 - 1) * scale;
    const { bytes, decoded } = encodeFloats(values, dtype);
    original.set(name, values);
    params.set(name, decoded);
    if (name === 'wte.weight') wteBytes = bytes;
    tensors.push({ name: fileName(name), dtype, shape, bytes });
    const block = /^h\.(\d+)\.ln_1\.weight$/.exec(name);
    if (maskBuffers && block !== null) {
      const ctx = config.context;
      const mask = new Uint8Array(ctx * ctx);
      for (let i = 0; i < ctx; i++) for (let j = 0; j <= i; j++) mask[i * ctx + j] = 1;
      tensors.push({ name: fileName(`h.${block[1]}.attn.bias`), dtype: 'U8', shape: [1, 1, ctx, ctx], bytes: mask });
      tensors.push({ name: fileName(`h.${block[1]}.attn.masked_bias`), dtype: 'F32', shape: [], bytes: new Uint8Array(new Float32Array([-1e4]).buffer) });
    }
  }
  // lm_head first, so a reader must decide from the header, before wte's data, that it is tied.
  if (lmHead) tensors.unshift({ name: 'lm_head.weight', dtype, shape: [config.vocabSize, config.dModel], bytes: wteBytes!.slice() });

  if (options.dropTensors) {
    const drop = new Set(options.dropTensors);
    tensors.splice(0, tensors.length, ...tensors.filter((t) => !drop.has(t.name)));
  }
  const files: Record<string, Uint8Array> = { 'config.json': encoder.encode(gpt2ConfigJson(config, options.configOverrides)) };
  if (!options.noTokenizer) {
    const tokenizer = tinyTokenizerFiles();
    if (options.tokenizerFormat === 'vocab+merges') {
      files['vocab.json'] = encoder.encode(tokenizer.vocabJson);
      files['merges.txt'] = encoder.encode(tokenizer.mergesTxt);
    } else {
      files['tokenizer.json'] = encoder.encode(tokenizer.tokenizerJson);
    }
  }
  if (shards <= 1) {
    files['model.safetensors'] = safetensorsBytes(tensors, { format: 'pt' });
  } else {
    const weightMap: Record<string, string> = {};
    const per = Math.ceil(tensors.length / shards);
    let totalSize = 0;
    for (let s = 0; s < shards; s++) {
      const name = `model-${String(s + 1).padStart(5, '0')}-of-${String(shards).padStart(5, '0')}.safetensors`;
      const part = tensors.slice(s * per, (s + 1) * per);
      for (const t of part) {
        weightMap[t.name] = name;
        totalSize += t.bytes.length;
      }
      files[name] = safetensorsBytes(part, { format: 'pt' });
    }
    files['model.safetensors.index.json'] = encoder.encode(JSON.stringify({ metadata: { total_size: totalSize }, weight_map: weightMap }, null, 2));
  }
  return { files, params, original, config };
}

/** Where tensor `name`'s bytes lie in a .safetensors file (absolute offsets), read from its header. */
export function tensorRange(file: Uint8Array, name: string): { begin: number; end: number } {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const headerLength = view.getUint32(0, true);
  const header = JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + headerLength))) as Record<string, { data_offsets: [number, number] }>;
  const entry = header[name];
  if (entry === undefined) throw new Error(`tensorRange: no tensor ${name}`);
  return { begin: 8 + headerLength + entry.data_offsets[0], end: 8 + headerLength + entry.data_offsets[1] };
}
