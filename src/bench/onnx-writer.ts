/**
 * A minimal ONNX model encoder, written by hand for the onnxruntime-web peer of the model bench
 * (gpt2-onnx.ts builds the graph, peer-ort.ts runs it): just enough protobuf (varints,
 * length-delimited fields, fixed32 floats) to write a ModelProto with one GraphProto of
 * NodeProtos, initializers as TensorProtos with raw_data, and typed inputs and outputs.
 *
 * Field numbers are those of onnx/onnx.proto (github.com/onnx/onnx): ModelProto ir_version 1,
 * producer_name 2, graph 7, opset_import 8; OperatorSetIdProto domain 1, version 2; GraphProto
 * node 1, name 2, initializer 5, input 11, output 12; NodeProto input 1, output 2, name 3,
 * op_type 4, attribute 5, domain 7; AttributeProto name 1, f 2, i 3, s 4, floats 7, ints 8,
 * type 20; TensorProto dims 1, data_type 2, name 8, raw_data 9; ValueInfoProto name 1, type 2;
 * TypeProto tensor_type 1; TypeProto.Tensor elem_type 1, shape 2; TensorShapeProto dim 1;
 * Dimension dim_value 1, dim_param 2.
 *
 * Why a hand encoder and not protobufjs: a GPT-2-small graph is ~500 MB of weights, and this
 * writer sizes every message first and then copies each weight once, straight from its
 * Float32Array into the one output buffer (no intermediate message objects holding copies).
 */
import { AttentionError } from '../core/errors';

/** Protobuf wire types (the low 3 bits of a field's tag). */
const VARINT = 0;
const LENGTH_DELIMITED = 2;
const FIXED32 = 5;

/** An encoder input that breaks a rule of the format (a value out of range, a name the graph lacks). */
export class OnnxEncodeError extends AttentionError {
  override name = 'OnnxEncodeError';
  constructor(
    /** What was being encoded, e.g. `initializer "wte.weight".dims[1]`. */
    readonly field: string,
    given: string,
    allowed: string,
  ) {
    super(`${field}: got ${given}; allowed: ${allowed}. This is a bug in the graph builder (src/bench/gpt2-onnx.ts): fix the value it passes.`);
  }
}

/** The bytes of `value` as a protobuf varint; negative values as 64-bit two's complement (10 bytes), as int64 fields want. */
export function encodeVarint(value: number | bigint): Uint8Array {
  let v: bigint;
  if (typeof value === 'bigint') v = value;
  else {
    if (!Number.isSafeInteger(value)) throw new OnnxEncodeError('varint', String(value), 'a safe integer');
    v = BigInt(value);
  }
  if (v < -(1n << 63n) || v >= 1n << 64n) throw new OnnxEncodeError('varint', String(v), 'a 64-bit integer');
  v = BigInt.asUintN(64, v);
  const out: number[] = [];
  do {
    const low = Number(v & 0x7fn);
    v >>= 7n;
    out.push(v === 0n ? low : low | 0x80);
  } while (v !== 0n);
  return Uint8Array.from(out);
}

const utf8 = new TextEncoder();

/**
 * One protobuf message under construction. Fields are appended in the order written; a
 * sub-message must be complete when it is added (its size is taken then). Byte fields keep a
 * view of the caller's array until {@link finish} copies it, so the caller must not change it.
 */
export class ProtoMessage {
  private readonly parts: Array<Uint8Array | ProtoMessage> = [];
  /** The encoded size in bytes. */
  size = 0;

  private push(part: Uint8Array | ProtoMessage): void {
    this.parts.push(part);
    this.size += part instanceof ProtoMessage ? part.size : part.byteLength;
  }

  private tag(field: number, wire: number): void {
    this.push(encodeVarint(field * 8 + wire));
  }

  /** A varint field (int32, int64, enum); negative values take 10 bytes. */
  varint(field: number, value: number | bigint): this {
    this.tag(field, VARINT);
    this.push(encodeVarint(value));
    return this;
  }

  /** A float field (fixed32, little-endian). */
  float(field: number, value: number): this {
    this.tag(field, FIXED32);
    const bytes = new Uint8Array(4);
    new DataView(bytes.buffer).setFloat32(0, value, true);
    this.push(bytes);
    return this;
  }

  /** A bytes field (the view is copied at {@link finish}). */
  bytes(field: number, value: Uint8Array): this {
    this.tag(field, LENGTH_DELIMITED);
    this.push(encodeVarint(value.byteLength));
    this.push(value);
    return this;
  }

  /** A string field, UTF-8. */
  string(field: number, value: string): this {
    return this.bytes(field, utf8.encode(value));
  }

  /** A sub-message field. */
  message(field: number, value: ProtoMessage): this {
    this.tag(field, LENGTH_DELIMITED);
    this.push(encodeVarint(value.size));
    this.push(value);
    return this;
  }

  /** A packed repeated varint field (proto3's default for repeated scalars, which proto2 readers accept too). */
  packedVarints(field: number, values: ReadonlyArray<number | bigint>): this {
    const body = new ProtoMessage();
    for (const v of values) body.push(encodeVarint(v));
    return this.message(field, body);
  }

  /** Write the message into `out` at `offset`; returns the offset after it. */
  writeInto(out: Uint8Array, offset: number): number {
    let at = offset;
    for (const part of this.parts) {
      if (part instanceof ProtoMessage) at = part.writeInto(out, at);
      else {
        out.set(part, at);
        at += part.byteLength;
      }
    }
    return at;
  }

  /** The message's bytes, in one new buffer. */
  finish(): Uint8Array {
    const out = new Uint8Array(this.size);
    this.writeInto(out, 0);
    return out;
  }
}

/** Element types this writer knows, with their TensorProto.DataType numbers. */
export const ONNX_TYPES = { float: 1, int64: 7 } as const;
/** An element type of a tensor or a value. */
export type OnnxElemType = keyof typeof ONNX_TYPES;

/** A constant tensor of the graph (an initializer), stored as raw_data (little-endian). */
export interface OnnxTensor {
  name: string;
  dims: readonly number[];
  type: OnnxElemType;
  /** Float32Array for 'float', BigInt64Array for 'int64'; length = product of dims. */
  data: Float32Array | BigInt64Array;
}

/** An attribute of a node. */
export type OnnxAttribute =
  | { name: string; kind: 'int'; value: number }
  | { name: string; kind: 'float'; value: number }
  | { name: string; kind: 'ints'; value: readonly number[] }
  | { name: string; kind: 'string'; value: string };

/** AttributeProto.AttributeType numbers of the kinds above. */
const ATTRIBUTE_TYPES = { float: 1, int: 2, string: 3, ints: 7 } as const;

/** One operator application. */
export interface OnnxNode {
  opType: string;
  inputs: readonly string[];
  outputs: readonly string[];
  name?: string;
  attributes?: readonly OnnxAttribute[];
}

/** A graph input or output: its element type and shape (a number is a fixed size, a string a named free dimension). */
export interface OnnxValueInfo {
  name: string;
  type: OnnxElemType;
  shape: ReadonlyArray<number | string>;
}

/** A whole model: one graph in the default (ai.onnx) domain at one opset. */
export interface OnnxModel {
  /** IR version: 8 is the first that opset 17 needs (ONNX 1.12). */
  irVersion: number;
  opset: number;
  producerName: string;
  graph: {
    name: string;
    nodes: readonly OnnxNode[];
    initializers: readonly OnnxTensor[];
    inputs: readonly OnnxValueInfo[];
    outputs: readonly OnnxValueInfo[];
  };
}

/** Little-endian bytes of an initializer's values, as a view (no copy; every platform a browser runs on is little-endian). */
function rawBytes(data: Float32Array | BigInt64Array): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function encodeTensor(tensor: OnnxTensor): ProtoMessage {
  const count = tensor.dims.reduce((a, b) => a * b, 1);
  const field = `initializer ${JSON.stringify(tensor.name)}`;
  tensor.dims.forEach((d, i) => {
    if (!Number.isSafeInteger(d) || d < 0) throw new OnnxEncodeError(`${field}.dims[${i}]`, String(d), 'an integer ≥ 0');
  });
  const expected = tensor.type === 'float' ? Float32Array : BigInt64Array;
  if (!(tensor.data instanceof expected)) throw new OnnxEncodeError(`${field}.data`, tensor.data?.constructor?.name ?? typeof tensor.data, `a ${expected.name} for type '${tensor.type}'`);
  if (tensor.data.length !== count) throw new OnnxEncodeError(`${field}.data`, `length ${tensor.data.length}`, `length ${count} (dims [${tensor.dims.join(', ')}])`);
  const m = new ProtoMessage();
  if (tensor.dims.length > 0) m.packedVarints(1, tensor.dims);
  m.varint(2, ONNX_TYPES[tensor.type]);
  m.string(8, tensor.name);
  m.bytes(9, rawBytes(tensor.data));
  return m;
}

function encodeAttribute(attribute: OnnxAttribute): ProtoMessage {
  const m = new ProtoMessage().string(1, attribute.name);
  switch (attribute.kind) {
    case 'float':
      m.float(2, attribute.value);
      break;
    case 'int':
      m.varint(3, attribute.value);
      break;
    case 'string':
      m.string(4, attribute.value);
      break;
    case 'ints':
      // Unpacked (one field per value), as onnx's own writer emits repeated int64 in proto2.
      for (const v of attribute.value) m.varint(8, v);
      break;
  }
  return m.varint(20, ATTRIBUTE_TYPES[attribute.kind]);
}

function encodeNode(node: OnnxNode): ProtoMessage {
  const m = new ProtoMessage();
  for (const input of node.inputs) m.string(1, input);
  for (const output of node.outputs) m.string(2, output);
  if (node.name) m.string(3, node.name);
  m.string(4, node.opType);
  for (const attribute of node.attributes ?? []) m.message(5, encodeAttribute(attribute));
  return m;
}

function encodeValueInfo(value: OnnxValueInfo): ProtoMessage {
  const shape = new ProtoMessage();
  for (const d of value.shape) {
    const dim = new ProtoMessage();
    if (typeof d === 'number') dim.varint(1, d);
    else dim.string(2, d);
    shape.message(1, dim);
  }
  const tensorType = new ProtoMessage().varint(1, ONNX_TYPES[value.type]).message(2, shape);
  const type = new ProtoMessage().message(1, tensorType);
  return new ProtoMessage().string(1, value.name).message(2, type);
}

/**
 * The model's bytes: a ModelProto as onnxruntime reads it. Throws {@link OnnxEncodeError} for an
 * initializer whose data does not match its dims or type, or a node input that no node output,
 * graph input or initializer provides (ORT would refuse the model with a less direct message).
 */
export function encodeOnnxModel(model: OnnxModel): Uint8Array {
  const known = new Set<string>(['', ...model.graph.inputs.map((v) => v.name), ...model.graph.initializers.map((t) => t.name)]);
  model.graph.nodes.forEach((node, n) => {
    node.inputs.forEach((input, i) => {
      if (!known.has(input)) throw new OnnxEncodeError(`nodes[${n}] (${node.opType}).inputs[${i}]`, JSON.stringify(input), 'a graph input, an initializer or an earlier node\'s output');
    });
    for (const output of node.outputs) known.add(output);
  });
  for (const output of model.graph.outputs) {
    if (!known.has(output.name)) throw new OnnxEncodeError('graph.outputs', JSON.stringify(output.name), 'the output of a node');
  }
  const graph = new ProtoMessage();
  for (const node of model.graph.nodes) graph.message(1, encodeNode(node));
  graph.string(2, model.graph.name);
  for (const tensor of model.graph.initializers) graph.message(5, encodeTensor(tensor));
  for (const input of model.graph.inputs) graph.message(11, encodeValueInfo(input));
  for (const output of model.graph.outputs) graph.message(12, encodeValueInfo(output));
  const opset = new ProtoMessage().string(1, '').varint(2, model.opset);
  const root = new ProtoMessage().varint(1, model.irVersion).string(2, model.producerName).message(7, graph).message(8, opset);
  return root.finish();
}
