/**
 * The GPU memory a model needs, from its config alone, so the app can refuse a model the device
 * cannot hold before downloading its weights (config.json is read first) and a sequence too
 * long before a run. The buffers are those src/kernels/model.ts makes: one per parameter
 * (padded to 16 bytes, as model-weights.ts uploads them) and one per tensor of the forward
 * plan (src/model/plan.ts), sized by its op: the attention maps (scores and weights, heads × T
 * × T each) per layer, activations T × width, logits T × vocab. Pure: the caller passes the
 * device's limits.
 */
import { AttentionInputError, formatBytes } from '../core/errors';
import { forwardPlan } from '../model/plan';
import { describeValue, paramShapes, validateConfig, type GptConfig } from '../model/schema';
import { checkLlamaConfig, isLlamaConfig, llamaTensorShapes, type LlamaConfig } from '../model/llama-schema';
import { ModelTooLargeError } from './errors';
import { piecesOf, type StoredFormat } from '../core/split';

/** What a GPU buffer holds. */
export type BufferKind = 'parameter' | 'activation' | 'map' | 'logits';

/** One GPU buffer of a model and its run. */
export interface ModelBuffer {
  /** A parameter's schema name (`h.0.attn.c_attn.weight`) or a plan tensor (`h.0/scores`, `logits`). */
  name: string;
  kind: BufferKind;
  bytes: number;
  /**
   * A weight the GPU splits by rows across bindings when it is larger than one (the Llama family's
   * token embedding and lm_head: src/kernels/llama-model.ts): its [rows, cols] and storage.
   */
  rows?: { rows: number; cols: number; format: StoredFormat };
}

/** A weight held in several bindings on a device (see {@link ModelBuffer}.rows). */
export interface SplitWeight {
  name: string;
  /** How many buffers it takes. */
  pieces: number;
}

/** The GPU memory of a model at one sequence length. */
export interface ModelMemory {
  buffers: ModelBuffer[];
  /** Bytes by kind. */
  byKind: Record<BufferKind, number>;
  /** All buffers together. */
  total: number;
  /** The largest single buffer (what a binding limit is checked against). */
  largest: ModelBuffer;
}

/** The device limits that bound a model's buffers (GPUSupportedLimits' fields of those names). */
export interface ModelLimits {
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
}

const padded = (values: number) => Math.max(16, Math.ceil((values * 4) / 16) * 16);

/** Options of {@link modelMemory} and {@link checkModelFits}. */
export interface MemoryOptions {
  /** The run stores no maps (the fused path): per layer a log-sum-exp and the gallery's reduced grid instead. */
  fused?: boolean;
  /** How the weight matrices and embedding are held (createGpuModel's options.weights; the Llama family only): 16-bit formats take half the bytes. */
  weights?: 'f32' | 'f16' | 'bf16';
}

/**
 * The buffers a model of `config` holds on the GPU for a run of `seqLen` tokens (module
 * comment): parameters, then the plan's tensors in order. Throws AttentionInputError for a
 * bad config (validateConfig) or a seqLen that is not an integer from 1 to the context (field seqLen).
 */
export function modelMemory(config: GptConfig | LlamaConfig, seqLen: number, options: MemoryOptions = {}): ModelMemory {
  if (isLlamaConfig(config)) return summarize(llamaBuffers(config, seqLen, options.fused === true, options.weights ?? 'f32'));
  const c = validateConfig(config);
  if (!Number.isInteger(seqLen) || seqLen < 1 || seqLen > c.context) {
    throw new AttentionInputError('seqLen', describeValue(seqLen), `an integer from 1 to the model's context, ${c.context} (n_positions)`, 'shape');
  }
  const T = seqLen;
  const buffers: ModelBuffer[] = [];
  for (const [name, shape] of paramShapes(c)) buffers.push({ name, kind: 'parameter', bytes: padded(shape.reduce((a, b) => a * b, 1)) });
  buffers.push({ name: 'tokens', kind: 'activation', bytes: padded(T) });
  for (const step of forwardPlan(c)) {
    const sizes: number[] =
      step.op === 'attention'
        ? [c.heads * T * T, c.heads * T * T, T * c.dModel]
        : step.op === 'linear'
          ? [T * step.outDim]
          : step.op === 'logits'
            ? [T * step.vocabSize]
            : step.outputs.map(() => T * c.dModel); // embed, layerNorm, qkv: T × dModel each
    step.outputs.forEach((name, i) => {
      const kind: BufferKind = step.op === 'logits' ? 'logits' : step.op === 'attention' && i < 2 ? 'map' : 'activation';
      buffers.push({ name, kind, bytes: padded(sizes[i]) });
    });
  }
  return summarize(buffers);
}

function summarize(buffers: ModelBuffer[]): ModelMemory {
  const byKind: Record<BufferKind, number> = { parameter: 0, activation: 0, map: 0, logits: 0 };
  let largest = buffers[0];
  for (const buffer of buffers) {
    byKind[buffer.kind] += buffer.bytes;
    if (buffer.bytes > largest.bytes) largest = buffer;
  }
  return { buffers, byKind, total: byKind.parameter + byKind.activation + byKind.map + byKind.logits, largest };
}

/**
 * Check that every buffer of {@link modelMemory}(config, seqLen) fits the device's limits (each
 * buffer at most maxStorageBufferBindingSize and maxBufferSize; a weight that the GPU splits by
 * rows needs only a row to fit, and `split` says how many bindings it takes). Throws {@link ModelTooLargeError}
 * (an AttentionInputError of kind 'too-large') naming the largest parameter that does not fit
 * (advice: a smaller model), else the largest run buffer that does not (advice: the longest
 * sequence that fits), with the bytes needed and allowed. Returns the memory otherwise.
 */
export function checkModelFits(config: GptConfig | LlamaConfig, seqLen: number, limits: ModelLimits, options: MemoryOptions = {}): ModelMemory & { split: SplitWeight[] } {
  const memory = modelMemory(config, seqLen, options);
  const { maxStorageBufferBindingSize, maxBufferSize } = limits;
  const allowed = Math.min(maxStorageBufferBindingSize, maxBufferSize);
  const limit = maxStorageBufferBindingSize <= maxBufferSize ? 'maxStorageBufferBindingSize' : 'maxBufferSize';
  // A weight split by rows fits when one row does: it takes as many bindings as it needs.
  const split: SplitWeight[] = [];
  const fitsOne = (b: ModelBuffer) => {
    if (b.bytes <= allowed) return true;
    if (b.rows === undefined) return false;
    const pieces = piecesOf(b.rows.rows, b.rows.cols, b.rows.format, allowed);
    if (pieces > 0) split.push({ name: b.name, pieces });
    return pieces > 0;
  };
  const over = memory.buffers.filter((b) => !fitsOne(b)).sort((a, b) => b.bytes - a.bytes);
  if (over.length === 0) return { ...memory, split };
  // A parameter that does not fit cannot be helped by a shorter sequence: name it first.
  const parameter = over.find((b) => b.kind === 'parameter');
  if (parameter !== undefined) {
    throw new ModelTooLargeError(parameter.name, parameter.bytes, allowed, limit, `Choose a smaller model: this one's ${parameter.name} alone is ${formatBytes(parameter.bytes)}.`);
  }
  // The longest sequence whose buffers all fit: every run buffer grows with T, so bisect.
  const fitsAt = (t: number) => modelMemory(config, t, options).buffers.every((b) => b.bytes <= allowed || b.kind === 'parameter');
  let fits = 0;
  let tooLong = seqLen;
  while (tooLong - fits > 1) {
    const mid = Math.floor((fits + tooLong) / 2);
    if (fitsAt(mid)) fits = mid;
    else tooLong = mid;
  }
  const advice = fits > 0 ? `Use a shorter sequence: up to ${fits} tokens fit this device.` : 'Choose a smaller model.';
  throw new ModelTooLargeError(over[0].name, over[0].bytes, allowed, limit, advice);
}

/**
 * The buffers src/kernels/llama-model.ts makes for a Llama-family model and a run of `seqLen`
 * tokens: embed_tokens, per layer the two norms, q | k | v stacked ([heads·hd + 2·kvHeads·hd, d])
 * and its bias (a shared zeros buffer without one), o_proj, gate | up stacked, down_proj; the
 * final norm and an untied lm_head; then the run's tensors: per layer the projection rows, the
 * packed q | k | v (key/value heads repeated), scores and weights, attn, the residual stream,
 * the norms' outputs, gate | up and the SwiGLU; the logits.
 */
function llamaBuffers(config: LlamaConfig, seqLen: number, fused: boolean, weights: 'f32' | 'f16' | 'bf16'): ModelBuffer[] {
  checkLlamaConfig(config);
  if (!Number.isInteger(seqLen) || seqLen < 1 || seqLen > config.context) {
    throw new AttentionInputError('seqLen', describeValue(seqLen), `an integer from 1 to the model's context, ${config.context} (max_position_embeddings)`, 'shape');
  }
  const { dModel: d, heads, kvHeads, headDim: hd, dMlp, vocabSize, layers } = config;
  const T = seqLen;
  const width = heads * hd;
  const qkvWidth = width + 2 * kvHeads * hd;
  const shapes = llamaTensorShapes(config);
  const count = (name: string) => shapes.get(name)!.reduce((a, b) => a * b, 1);
  // A weight matrix in 16 bits: two values to a u32 (src/core/half.ts packHalves).
  const matrix = (values: number) => (weights === 'f32' ? padded(values) : padded(Math.ceil(values / 2)));
  // The token table (and an untied lm_head) is split by rows across bindings when larger than one.
  const table = (name: string): ModelBuffer => ({ name, kind: 'parameter', bytes: matrix(count(name)), rows: { rows: vocabSize, cols: d, format: weights } });
  const buffers: ModelBuffer[] = [table('model.embed_tokens.weight')];
  buffers.push({ name: 'zeros (no bias)', kind: 'parameter', bytes: padded(d) });
  if (!config.qkvBias) buffers.push({ name: 'zeros (no q/k/v bias)', kind: 'parameter', bytes: padded(qkvWidth) });
  for (let i = 0; i < layers; i++) {
    const p = `model.layers.${i}`;
    buffers.push({ name: `${p}.input_layernorm.weight`, kind: 'parameter', bytes: padded(d) });
    buffers.push({ name: `${p}.self_attn.qkv_proj.weight`, kind: 'parameter', bytes: matrix(qkvWidth * d) });
    if (config.qkvBias) buffers.push({ name: `${p}.self_attn.qkv_proj.bias`, kind: 'parameter', bytes: padded(qkvWidth) });
    buffers.push({ name: `${p}.self_attn.o_proj.weight`, kind: 'parameter', bytes: matrix(d * width) });
    if (config.oBias) buffers.push({ name: `${p}.self_attn.o_proj.bias`, kind: 'parameter', bytes: padded(d) });
    buffers.push({ name: `${p}.post_attention_layernorm.weight`, kind: 'parameter', bytes: padded(d) });
    buffers.push({ name: `${p}.mlp.gate_up_proj.weight`, kind: 'parameter', bytes: matrix(2 * dMlp * d) });
    buffers.push({ name: `${p}.mlp.down_proj.weight`, kind: 'parameter', bytes: matrix(d * dMlp) });
  }
  buffers.push({ name: 'model.norm.weight', kind: 'parameter', bytes: padded(d) });
  if (!config.tiedEmbeddings) buffers.push(table('lm_head.weight'));
  buffers.push({ name: 'tokens', kind: 'activation', bytes: padded(T) }, { name: 'rope table', kind: 'activation', bytes: padded(T * hd) }, { name: 'embed', kind: 'activation', bytes: padded(T * d) });
  for (let i = 0; i < layers; i++) {
    const h = `h.${i}`;
    const act = (name: string, values: number): ModelBuffer => ({ name: `${h}/${name}`, kind: 'activation', bytes: padded(values) });
    buffers.push(act('ln1', T * d), act('pre', T * qkvWidth), act('qkv', 3 * T * width + 128));
    // The fused path stores no map: a log-sum-exp and an entropy per row and head, and the 128 × 128 grid per head the gallery draws.
    if (fused) buffers.push({ name: `${h}/lse`, kind: 'activation', bytes: padded(2 * heads * T) }, { name: `${h}/grid`, kind: 'map', bytes: padded(heads * Math.min(T, 128) ** 2) });
    else buffers.push({ name: `${h}/scores`, kind: 'map', bytes: padded(heads * T * T) }, { name: `${h}/weights`, kind: 'map', bytes: padded(heads * T * T) });
    buffers.push(act('attn', T * width), act('resid1', T * d), act('ln2', T * d), act('gateUp', 2 * T * dMlp), act('mlpAct', T * dMlp), act('resid2', T * d));
  }
  buffers.push({ name: 'lnF', kind: 'activation', bytes: padded(T * d) }, { name: 'logits', kind: 'logits', bytes: padded(T * vocabSize) });
  return buffers;
}
