/**
 * From a checkpoint's tensor names to the parameters the model runs on, for each family the
 * loader reads ({@link CheckpointSchema}):
 * - GPT-2 (src/model/schema.ts): strip GPT2LMHeadModel's "transformer." prefix, skip
 *   `lm_head.weight` (GPT-2 ties it to wte) and the causal-mask buffers older files carry
 *   (`h.N.attn.bias`, `h.N.attn.masked_bias`: not the real `h.N.attn.c_attn.bias`);
 * - the Llama family (src/model/llama-schema.ts): names as LlamaForCausalLM writes them
 *   (`model.layers.N.…`, `lm_head.weight`), with a bare LlamaModel's names (no "model.") read as
 *   the same tensors; `lm_head.weight` skipped when the config ties it to embed_tokens; the
 *   `rotary_emb.inv_freq` buffers older files carry skipped (the frequencies come from the config).
 * Each tensor's shape is checked against config.json's sizes before its bytes are read.
 * {@link ParamCollector} gathers the parameters of one load across its files.
 */
import { formatShape } from '../inputs/tensors';
import type { SafetensorsEntry } from '../inputs/safetensors';
import { llamaTensorShapes, type LlamaConfig } from '../model/llama-schema';
import { paramShapes, type GptParams } from '../model/schema';
import type { Gpt2Config } from './config';
import { PretrainedFileError } from './errors';

/** What a checkpoint tensor is to the loader. */
export type TensorRole =
  | { kind: 'param'; name: string }
  | { kind: 'lm-head' }
  | { kind: 'mask-buffer' }
  | { kind: 'skip'; why: string }
  | { kind: 'unknown'; name: string };

/** A family's tensors, as the collector checks them. */
export interface CheckpointSchema {
  /** For messages: 'GPT-2', 'Llama'. */
  family: string;
  /** Every parameter's name and shape, in the model's order. */
  shapes: Map<string, number[]>;
  /** The role of a tensor by its name in the file. */
  role(fileName: string): TensorRole;
  /** Which config.json fields set each dimension of a parameter, for the shape message. */
  shapeFields(name: string): string;
  /** What a checkpoint of this family holds, for the unknown-tensor message. */
  tensors: string;
  /** The block a tensor name belongs to, for "beyond the config's layers" messages; null for none. */
  block(name: string): number | null;
  /** The config field that counts the blocks, with its value (e.g. `n_layer 12`). */
  layersField: string;
}

/** The role of a GPT-2 tensor by its name in the file (see the module comment). */
export function tensorRole(fileName: string, shapes: ReadonlyMap<string, number[]>): TensorRole {
  const name = fileName.startsWith('transformer.') ? fileName.slice('transformer.'.length) : fileName;
  if (name === 'lm_head.weight') return shapes.has(name) ? { kind: 'param', name } : { kind: 'lm-head' };
  if (/^h\.\d+\.attn\.(bias|masked_bias)$/.test(name)) return { kind: 'mask-buffer' };
  return shapes.has(name) ? { kind: 'param', name } : { kind: 'unknown', name };
}

/** GPT-2's checkpoint schema for a config. */
export function gpt2Schema(config: Gpt2Config): CheckpointSchema {
  const shapes = paramShapes(config);
  return {
    family: 'GPT-2',
    shapes,
    role: (fileName) => tensorRole(fileName, shapes),
    shapeFields: (name) => gpt2ShapeFields(name, config),
    tensors: shapes.has('lm_head.weight')
      ? 'the tensors of an untied GPT-2 checkpoint (wte, wpe, h.N.*, ln_f, lm_head; h.N.attn.bias is skipped)'
      : 'the tensors of a GPT-2 checkpoint (wte, wpe, h.N.*, ln_f; lm_head and h.N.attn.bias are skipped)',
    block: (name) => {
      const match = /^h\.(\d+)\./.exec(name);
      return match === null ? null : Number(match[1]);
    },
    layersField: `n_layer ${config.layers}`,
  };
}

/** The Llama family's checkpoint schema for a config (see the module comment). */
export function llamaSchema(config: LlamaConfig): CheckpointSchema {
  const shapes = llamaTensorShapes(config);
  const { dModel: d, heads, kvHeads, headDim, dMlp, vocabSize } = config;
  const hidden = `hidden_size ${d}`;
  return {
    family: 'Llama',
    shapes,
    role: (fileName) => {
      if (/(^|\.)rotary_emb\.inv_freq$/.test(fileName)) return { kind: 'skip', why: 'RoPE frequencies (computed from the config)' };
      if (fileName === 'lm_head.weight' && config.tiedEmbeddings) return { kind: 'skip', why: 'lm_head tied to embed_tokens (tie_word_embeddings)' };
      if (shapes.has(fileName)) return { kind: 'param', name: fileName };
      const prefixed = `model.${fileName}`;
      if (fileName !== 'lm_head.weight' && shapes.has(prefixed)) return { kind: 'param', name: prefixed };
      return { kind: 'unknown', name: fileName };
    },
    shapeFields: (name) => {
      const qWidth = `num_attention_heads ${heads} × head_dim ${headDim}`;
      const kvWidth = `num_key_value_heads ${kvHeads} × head_dim ${headDim}`;
      if (name.endsWith('embed_tokens.weight') || name === 'lm_head.weight') return `[vocab_size ${vocabSize}, ${hidden}]`;
      if (name.endsWith('q_proj.weight')) return `[${qWidth}, ${hidden}]`;
      if (name.endsWith('q_proj.bias')) return `[${qWidth}]`;
      if (/[kv]_proj\.weight$/.test(name)) return `[${kvWidth}, ${hidden}]`;
      if (/[kv]_proj\.bias$/.test(name)) return `[${kvWidth}]`;
      if (name.endsWith('o_proj.weight')) return `[${hidden}, ${qWidth}]`;
      if (/(gate|up)_proj\.weight$/.test(name)) return `[intermediate_size ${dMlp}, ${hidden}]`;
      if (name.endsWith('down_proj.weight')) return `[${hidden}, intermediate_size ${dMlp}]`;
      return `[${hidden}]`;
    },
    tensors: `the tensors of a ${config.modelType} checkpoint (model.embed_tokens, model.layers.N.*, model.norm${config.tiedEmbeddings ? '' : ', lm_head'}${config.qkvBias ? '; q/k/v biases' : ''})`,
    block: (name) => {
      const match = /^(?:model\.)?layers\.(\d+)\./.exec(name);
      return match === null ? null : Number(match[1]);
    },
    layersField: `num_hidden_layers ${config.layers}`,
  };
}

/** Which config.json fields set each dimension of a GPT-2 parameter, for the shape message. */
function gpt2ShapeFields(name: string, config: Gpt2Config): string {
  const d = `n_embd ${config.dModel}`;
  const mlp = `n_inner ${config.dMlp}`;
  if (name === 'wte.weight') return `[vocab_size ${config.vocabSize}, ${d}]`;
  if (name === 'wpe.weight') return `[n_positions ${config.context}, ${d}]`;
  if (name.endsWith('c_attn.weight')) return `[${d}, 3 × ${d}]`;
  if (name.endsWith('c_attn.bias')) return `[3 × ${d}]`;
  if (name.endsWith('mlp.c_fc.weight')) return `[${d}, ${mlp}]`;
  if (name.endsWith('mlp.c_fc.bias')) return `[${mlp}]`;
  if (name.endsWith('mlp.c_proj.weight')) return `[${mlp}, ${d}]`;
  if (name.endsWith('attn.c_proj.weight')) return `[${d}, ${d}]`;
  if (name === 'lm_head.weight') return `[vocab_size ${config.vocabSize}, ${d}]`;
  return `[${d}]`;
}

/**
 * The parameters of one load, gathered as tensors stream in from one file or several shards.
 * `allNames` are every tensor name of the checkpoint (the single file's header, or the index's
 * weight_map), so `lm_head.weight` can be skipped or refused before any data is read.
 */
export class ParamCollector {
  readonly params: GptParams = new Map();
  readonly schema: CheckpointSchema;
  /** The dtypes of the parameters kept ('F32', 'F16', 'BF16', 'F64'). */
  readonly dtypes = new Set<string>();
  private readonly shapes: Map<string, number[]>;
  /** Checkpoint name → schema name, for the tensors this load keeps. */
  private readonly wanted = new Map<string, string>();
  private readonly fileOf = new Map<string, string>();

  constructor(
    /** GPT-2's sizes, or a Llama-family config (its own schema), or a schema made for one. */
    config: Gpt2Config | LlamaConfig | CheckpointSchema,
    allNames: Iterable<string>,
    /** The file that listed the names (the safetensors file or the index), for messages. */
    readonly listedIn: string,
  ) {
    this.schema = 'shapes' in config ? config : config.modelType === 'llama' || config.modelType === 'qwen2' ? llamaSchema(config as LlamaConfig) : gpt2Schema(config as Gpt2Config);
    const schema = this.schema;
    this.shapes = schema.shapes;
    const names = [...allNames];
    const roles = new Map(names.map((n) => [n, schema.role(n)] as const));
    const hasWte = [...roles.values()].some((r) => r.kind === 'param' && r.name === 'wte.weight');
    const fileNameOf = new Map<string, string>(); // schema name → the checkpoint's name for it
    for (const [fileName, role] of roles) {
      if (role.kind === 'lm-head' && !hasWte) {
        throw new PretrainedFileError(
          listedIn,
          'wte.weight',
          'only lm_head.weight (an untied output layer)',
          'wte.weight, the token embedding, which GPT-2 ties to the output layer (lm_head.weight is skipped)',
          'type',
          fileName,
        );
      }
      if (role.kind === 'unknown') {
        const block = schema.block(role.name);
        const layers = Number(schema.layersField.split(' ').pop());
        const why = block !== null && block >= layers ? ` (block ${block}, but config.json has ${schema.layersField})` : '';
        throw new PretrainedFileError(listedIn, 'tensor', `a tensor the ${schema.family} schema does not have${why}`, `${schema.tensors}: is config.json the one of these weights?`, 'type', fileName);
      }
      if (role.kind === 'param') {
        const earlier = fileNameOf.get(role.name);
        if (earlier !== undefined) {
          throw new PretrainedFileError(listedIn, 'tensor', `a second copy of ${role.name} (also ${JSON.stringify(earlier)})`, 'each parameter once', 'type', fileName);
        }
        fileNameOf.set(role.name, fileName);
        this.wanted.set(fileName, role.name);
      }
    }
  }

  /**
   * Check one file's header: every parameter's shape against config.json, the weight_map's
   * promise kept (`expectedNames`, for a shard). Returns the names whose data to decode.
   */
  planFile(file: string, entries: readonly SafetensorsEntry[], expectedNames?: ReadonlySet<string>): Set<string> {
    const decode = new Set<string>();
    for (const entry of entries) {
      if (expectedNames !== undefined && !expectedNames.has(entry.name)) continue; // another shard's, per the index
      const role = this.schema.role(entry.name);
      if (role.kind === 'unknown') {
        throw new PretrainedFileError(file, 'tensor', `a tensor ${this.listedIn} does not list or the ${this.schema.family} schema does not have`, this.schema.tensors, 'type', entry.name);
      }
      const schemaName = this.wanted.get(entry.name);
      if (schemaName === undefined) continue; // lm_head next to wte, or a mask buffer
      const expected = this.shapes.get(schemaName)!;
      if (entry.shape.length !== expected.length || entry.shape.some((dim, i) => dim !== expected[i])) {
        throw new PretrainedFileError(
          file,
          'shape',
          formatShape(entry.shape),
          `${formatShape(expected)} = ${this.schema.shapeFields(schemaName)} from config.json: are these weights and config.json from the same model?`,
          'shape',
          entry.name,
        );
      }
      if (this.fileOf.has(entry.name)) {
        throw new PretrainedFileError(file, 'tensor', `a second copy (also in ${this.fileOf.get(entry.name)})`, 'each parameter in one file', 'type', entry.name);
      }
      this.fileOf.set(entry.name, file);
      decode.add(entry.name);
    }
    if (expectedNames !== undefined) {
      const present = new Set(entries.map((e) => e.name));
      for (const name of expectedNames) {
        if (!present.has(name)) {
          throw new PretrainedFileError(file, 'tensor', `nothing (${this.listedIn}'s weight_map puts it in this file)`, 'every tensor the index lists for this shard', 'length', name);
        }
      }
    }
    return decode;
  }

  /** Keep a decoded parameter (its shape was checked by {@link planFile}). */
  accept(entry: SafetensorsEntry, data: Float32Array): void {
    this.params.set(this.wanted.get(entry.name)!, data);
    this.dtypes.add(entry.dtype);
  }

  /**
   * After every file: the parameters in schema order, or a {@link PretrainedFileError} naming the
   * missing ones (field `tensor`).
   */
  finish(): GptParams {
    const missing = [...this.shapes.keys()].filter((name) => !this.params.has(name));
    if (missing.length > 0) {
      const list = missing.slice(0, 8).join(', ') + (missing.length > 8 ? `, … (${missing.length} in all)` : '');
      throw new PretrainedFileError(this.listedIn, 'tensor', `no ${list}`, `every parameter of the config: ${this.schema.tensors.replace(/^the tensors of an? /, '')} (is the checkpoint complete, and config.json its own?)`, 'length', missing[0]);
    }
    const ordered: GptParams = new Map();
    for (const name of this.shapes.keys()) ordered.set(name, this.params.get(name)!);
    return ordered;
  }
}
