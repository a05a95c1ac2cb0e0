/**
 * The ONNX encoder (src/bench/onnx-writer.ts) and the GPT-2 graph (src/bench/gpt2-onnx.ts):
 * varints and fields against the protobuf documentation's worked encodings; a model decoded back
 * by a small protobuf reader written here (field numbers of onnx/onnx.proto); the GPT-2 graph's
 * structure (ops, initializers as views of the parameters, free dimension T); and the graph run
 * by onnxruntime-web's CPU (wasm) execution provider in Node, a runtime independent of ours,
 * whose logits equal the f64 forward reference's. The WebGPU EP is test/browser/peer-ort.test.ts.
 */
import * as ort from 'onnxruntime-web';
import { describe, expect, it } from 'vitest';
import { GPT2_ONNX_IO, GPT2_ONNX_OPSET, MASKED_BIAS, causalAttentionBias, gpt2OnnxFeeds, gpt2OnnxModel } from '../../src/bench/gpt2-onnx';
import { OnnxEncodeError, ProtoMessage, encodeOnnxModel, encodeVarint, type OnnxModel } from '../../src/bench/onnx-writer';
import { forwardReference } from '../../src/model/forward-reference';
import { ModelParamsError, paramShapes, type GptConfig, type GptParams } from '../../src/model/schema';
import { makeRng } from '../../src/reference/random';
import { compareArrays } from '../../src/verify/compare';

type Value = bigint | Uint8Array;
/** A protobuf message as field number → values in order (varints as bigint, length-delimited and fixed32 as bytes). */
type Fields = Map<number, Value[]>;

/** A protobuf reader of the three wire types the encoder writes; throws on anything else. */
function decode(bytes: Uint8Array): Fields {
  const fields: Fields = new Map();
  let at = 0;
  const varint = (): bigint => {
    let result = 0n;
    for (let shift = 0n; ; shift += 7n) {
      const byte = bytes[at++];
      if (byte === undefined) throw new Error('truncated varint');
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
    }
  };
  while (at < bytes.length) {
    const tag = Number(varint());
    const field = tag >> 3;
    const wire = tag & 7;
    let value: Value;
    if (wire === 0) value = varint();
    else if (wire === 2) {
      const length = Number(varint());
      value = bytes.subarray(at, at + length);
      at += length;
    } else if (wire === 5) {
      value = bytes.subarray(at, at + 4);
      at += 4;
    } else throw new Error(`wire type ${wire}`);
    if (at > bytes.length) throw new Error('field runs past the end');
    fields.set(field, [...(fields.get(field) ?? []), value]);
  }
  return fields;
}

const text = (v: Value) => new TextDecoder().decode(v as Uint8Array);
const strings = (m: Fields, field: number) => (m.get(field) ?? []).map(text);
const one = (m: Fields, field: number): Value => {
  const values = m.get(field) ?? [];
  expect(values, `field ${field}`).toHaveLength(1);
  return values[0];
};
const sub = (m: Fields, field: number) => (m.get(field) ?? []).map((v) => decode(v as Uint8Array));
/** Packed varints (proto3's default) back to numbers, two's complement int64 as negative. */
const packed = (v: Value) => {
  const out: number[] = [];
  const bytes = v as Uint8Array;
  let at = 0;
  while (at < bytes.length) {
    let result = 0n;
    for (let shift = 0n; ; shift += 7n) {
      const byte = bytes[at++];
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) break;
    }
    out.push(Number(BigInt.asIntN(64, result)));
  }
  return out;
};
const int = (v: Value) => Number(BigInt.asIntN(64, v as bigint));

describe('protobuf encoding', () => {
  it('writes varints as the protobuf documentation shows them', () => {
    expect([...encodeVarint(0)]).toEqual([0x00]);
    expect([...encodeVarint(1)]).toEqual([0x01]);
    expect([...encodeVarint(150)]).toEqual([0x96, 0x01]);
    expect([...encodeVarint(300)]).toEqual([0xac, 0x02]);
    // int64 −1: ten bytes, 0xff × 9 then 0x01 (two's complement over 64 bits).
    expect([...encodeVarint(-1)]).toEqual([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    expect([...encodeVarint(2 ** 35)]).toEqual([0x80, 0x80, 0x80, 0x80, 0x80, 0x01]);
    expect(() => encodeVarint(1.5)).toThrow(OnnxEncodeError);
  });

  it('writes fields as the documentation examples: int 150 in field 1, "testing" in field 2, a nested message in field 3', () => {
    expect([...new ProtoMessage().varint(1, 150).finish()]).toEqual([0x08, 0x96, 0x01]);
    expect([...new ProtoMessage().string(2, 'testing').finish()]).toEqual([0x12, 0x07, 0x74, 0x65, 0x73, 0x74, 0x69, 0x6e, 0x67]);
    const inner = new ProtoMessage().varint(1, 150);
    expect([...new ProtoMessage().message(3, inner).finish()]).toEqual([0x1a, 0x03, 0x08, 0x96, 0x01]);
    // Packed repeated 3, 270, 86942 in field 4: 22 06 03 8E 02 9E A7 05.
    expect([...new ProtoMessage().packedVarints(4, [3, 270, 86942]).finish()]).toEqual([0x22, 0x06, 0x03, 0x8e, 0x02, 0x9e, 0xa7, 0x05]);
    // A float is fixed32, little-endian: 1.0f = 00 00 80 3F.
    expect([...new ProtoMessage().float(2, 1).finish()]).toEqual([0x15, 0x00, 0x00, 0x80, 0x3f]);
  });
});

/** y = Add(x, c) · 2 on x: float [T, 2]; c a 2-value initializer. */
function smallModel(): OnnxModel {
  return {
    irVersion: 8,
    opset: 17,
    producerName: 'test',
    graph: {
      name: 'small',
      nodes: [
        { opType: 'Add', name: 'add', inputs: ['x', 'c'], outputs: ['s'] },
        { opType: 'Mul', name: 'mul', inputs: ['s', 'two'], outputs: ['y'] },
        { opType: 'Softmax', name: 'soft', inputs: ['y'], outputs: ['p'], attributes: [{ name: 'axis', kind: 'int', value: -1 }, { name: 'perm', kind: 'ints', value: [1, 0] }] },
      ],
      initializers: [
        { name: 'c', dims: [2], type: 'float', data: Float32Array.of(0.5, -2) },
        { name: 'two', dims: [], type: 'float', data: Float32Array.of(2) },
        { name: 'shape', dims: [2], type: 'int64', data: BigInt64Array.of(0n, -1n) },
      ],
      inputs: [{ name: 'x', type: 'float', shape: ['T', 2] }],
      outputs: [{ name: 'p', type: 'float', shape: ['T', 2] }],
    },
  };
}

describe('ONNX model encoding', () => {
  it('decodes back to the model: header, opset, nodes, attributes, initializers, inputs and outputs', () => {
    const model = decode(encodeOnnxModel(smallModel()));
    expect(int(one(model, 1))).toBe(8); // ir_version
    expect(strings(model, 2)).toEqual(['test']); // producer_name
    const [opset] = sub(model, 8);
    expect(strings(opset, 1)).toEqual(['']); // the default domain, ai.onnx
    expect(int(one(opset, 2))).toBe(17);
    const [graph] = sub(model, 7);
    expect(strings(graph, 2)).toEqual(['small']);
    const nodes = sub(graph, 1);
    expect(nodes.map((n) => strings(n, 4))).toEqual([['Add'], ['Mul'], ['Softmax']]);
    expect(nodes.map((n) => [strings(n, 1), strings(n, 2), strings(n, 3)])).toEqual([
      [['x', 'c'], ['s'], ['add']],
      [['s', 'two'], ['y'], ['mul']],
      [['y'], ['p'], ['soft']],
    ]);
    const [axis, perm] = sub(nodes[2], 5);
    expect(strings(axis, 1)).toEqual(['axis']);
    expect(int(one(axis, 3))).toBe(-1);
    expect(int(one(axis, 20))).toBe(2); // AttributeType INT
    expect(strings(perm, 1)).toEqual(['perm']);
    expect(perm.get(8)!.map(int)).toEqual([1, 0]);
    expect(int(one(perm, 20))).toBe(7); // INTS

    const inits = sub(graph, 5);
    expect(inits.map((t) => strings(t, 8)[0])).toEqual(['c', 'two', 'shape']);
    expect(packed(one(inits[0], 1))).toEqual([2]);
    expect(int(one(inits[0], 2))).toBe(1); // FLOAT
    const raw = one(inits[0], 9) as Uint8Array;
    expect(Array.from(new Float32Array(raw.slice().buffer))).toEqual([0.5, -2]);
    expect(inits[1].has(1)).toBe(false); // a scalar has no dims
    expect(int(one(inits[2], 2))).toBe(7); // INT64
    expect(Array.from(new BigInt64Array((one(inits[2], 9) as Uint8Array).slice().buffer))).toEqual([0n, -1n]);

    const [input] = sub(graph, 11);
    expect(strings(input, 1)).toEqual(['x']);
    const [type] = sub(input, 2);
    const [tensorType] = sub(type, 1);
    expect(int(one(tensorType, 1))).toBe(1);
    const dims = sub(sub(tensorType, 2)[0], 1);
    expect(dims.map((d) => (d.has(2) ? strings(d, 2)[0] : int(one(d, 1))))).toEqual(['T', 2]);
    expect(strings(sub(graph, 12)[0], 1)).toEqual(['p']);
  });

  it('refuses an input nothing provides, and data that does not match its dims or type', () => {
    const m = smallModel();
    const missing = { ...m, graph: { ...m.graph, nodes: [{ opType: 'Add', inputs: ['x', 'nope'], outputs: ['p'] }] } };
    expect(() => encodeOnnxModel(missing)).toThrow(/nodes\[0\] \(Add\)\.inputs\[1\]: got "nope"/);
    const withC = (c: OnnxModel['graph']['initializers'][number]) => ({ ...m, graph: { ...m.graph, initializers: [c, ...m.graph.initializers.slice(1)] } });
    const short = withC({ name: 'c', dims: [3], type: 'float', data: Float32Array.of(1, 2) });
    expect(() => encodeOnnxModel(short)).toThrow(/initializer "c"\.data: got length 2; allowed: length 3/);
    const wrongType = withC({ name: 'c', dims: [2], type: 'int64', data: Float32Array.of(1, 2) });
    expect(() => encodeOnnxModel(wrongType)).toThrow(/initializer "c"\.data: got Float32Array; allowed: a BigInt64Array for type 'int64'/);
    expect(() => encodeOnnxModel(withC({ name: 'c', dims: [-2], type: 'float', data: Float32Array.of(1, 2) }))).toThrow(/initializer "c"\.dims\[0\]: got -2/);
  });
});

const ODD: GptConfig = { vocabSize: 29, context: 37, dModel: 30, heads: 3, layers: 3, dMlp: 50 };

/** Random parameters with biases and gains away from 0 and 1 and a softmax that is not flat. */
function oddParams(seed: number): GptParams {
  const rng = makeRng(seed);
  const params: GptParams = new Map();
  for (const [name, shape] of paramShapes(ODD)) {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    const base = /ln_(1|2|f)\.weight$/.test(name) ? 1 : 0;
    const width = name.endsWith('.bias') || base === 1 ? 0.6 : name === 'wte.weight' ? 1.5 : name.endsWith('c_attn.weight') ? 0.8 : 0.15;
    for (let i = 0; i < data.length; i++) data[i] = base + (rng() - 0.5) * width;
    params.set(name, data);
  }
  return params;
}

describe('the GPT-2 graph', () => {
  const params = oddParams(7);
  const model = gpt2OnnxModel(ODD, params);

  it('holds every parameter once, as the caller\'s array, with its schema shape', () => {
    const byName = new Map(model.graph.initializers.map((t) => [t.name, t]));
    for (const [name, shape] of paramShapes(ODD)) {
      expect(byName.get(name)?.dims, name).toEqual(shape);
      expect(byName.get(name)?.data, name).toBe(params.get(name));
    }
    const constants = model.graph.initializers.filter((t) => !params.has(t.name));
    expect(constants.map((t) => t.name).every((n) => n.startsWith('const.'))).toBe(true);
    const scale = constants.find((t) => t.name === 'const.scale')!;
    expect(scale.data[0]).toBeCloseTo(1 / Math.sqrt(10), 7);
    expect(Array.from(constants.find((t) => t.name === 'const.qkv_shape')!.data as BigInt64Array)).toEqual([0n, 9n, 10n]);
  });

  it('uses the planned ops, per layer, in order', () => {
    const count = (op: string) => model.graph.nodes.filter((n) => n.opType === op).length;
    const L = ODD.layers;
    expect(model.opset).toBe(GPT2_ONNX_OPSET);
    expect(count('Gather')).toBe(2);
    expect(count('LayerNormalization')).toBe(2 * L + 1);
    expect(count('MatMul')).toBe(6 * L); // c_attn, QKᵀ, P·V, c_proj, c_fc, mlp c_proj
    expect(count('Softmax')).toBe(L);
    expect(count('Split')).toBe(L);
    expect(count('Tanh')).toBe(L);
    expect(count('Gemm')).toBe(1);
    expect(count('Pow')).toBe(0);
    const ops = new Set(model.graph.nodes.map((n) => n.opType));
    expect([...ops].sort()).toEqual(['Add', 'Gather', 'Gemm', 'LayerNormalization', 'MatMul', 'Mul', 'Reshape', 'Softmax', 'Split', 'Tanh', 'Transpose']);
    const norms = model.graph.nodes.filter((n) => n.opType === 'LayerNormalization');
    expect(norms.map((n) => n.inputs[1])).toEqual(['h.0.ln_1.weight', 'h.0.ln_2.weight', 'h.1.ln_1.weight', 'h.1.ln_2.weight', 'h.2.ln_1.weight', 'h.2.ln_2.weight', 'ln_f.weight']);
    expect(norms.every((n) => n.attributes?.some((a) => a.name === 'epsilon' && a.value === 1e-5))).toBe(true);
    const head = model.graph.nodes.at(-1)!;
    expect(head).toMatchObject({ opType: 'Gemm', inputs: ['ln_f', 'wte.weight'], outputs: [GPT2_ONNX_IO.logits] });
    expect(model.graph.inputs.map((v) => [v.name, v.type, v.shape])).toEqual([
      ['input_ids', 'int64', ['T']],
      ['position_ids', 'int64', ['T']],
      ['attention_bias', 'float', ['T', 'T']],
    ]);
    expect(model.graph.outputs).toEqual([{ name: 'logits', type: 'float', shape: ['T', 29] }]);
  });

  it('builds the causal mask and the int64 feeds', () => {
    expect(Array.from(causalAttentionBias(3))).toEqual([0, MASKED_BIAS, MASKED_BIAS, 0, 0, MASKED_BIAS, 0, 0, 0].map(Math.fround));
    const feeds = gpt2OnnxFeeds([4, 0, 28]);
    expect(Array.from(feeds.ids)).toEqual([4n, 0n, 28n]);
    expect(Array.from(feeds.positions)).toEqual([0n, 1n, 2n]);
    expect(() => causalAttentionBias(0)).toThrow(/seqLen: got 0/);
  });

  it('refuses parameters that do not match the config', () => {
    const wrong = new Map(params);
    wrong.set('h.2.attn.c_proj.weight', new Float32Array(5));
    expect(() => gpt2OnnxModel(ODD, wrong)).toThrow(ModelParamsError);
    expect(() => gpt2OnnxModel(ODD, wrong)).toThrow(/params\["h\.2\.attn\.c_proj\.weight"\]: got length 5; allowed: length 900/);
  });

  it('run by onnxruntime-web (wasm EP, in Node) gives the f64 reference logits at 37, 12 and 1 tokens', async () => {
    ort.env.wasm.numThreads = 1;
    ort.env.logLevel = 'error';
    const session = await ort.InferenceSession.create(encodeOnnxModel(model), { executionProviders: ['wasm'] });
    try {
      const rng = makeRng(3);
      for (const T of [37, 12, 1]) {
        const tokens = Array.from({ length: T }, () => Math.floor(rng() * ODD.vocabSize));
        const f = gpt2OnnxFeeds(tokens);
        const out = await session.run({
          input_ids: new ort.Tensor('int64', f.ids, [T]),
          position_ids: new ort.Tensor('int64', f.positions, [T]),
          attention_bias: new ort.Tensor('float32', f.bias, [T, T]),
        });
        const logits = out.logits;
        expect(logits.dims).toEqual([T, ODD.vocabSize]);
        const expected = forwardReference(ODD, params, tokens).logits;
        let scale = 0;
        for (const v of expected) scale = Math.max(scale, Math.abs(v));
        expect(scale).toBeGreaterThan(1);
        const c = compareArrays(logits.data as Float32Array, expected, { atol: 2e-5 * scale, rtol: 1e-4 });
        expect(c.failures, `${T} tokens: worst [${c.worstIndex}] ${c.worstActual} vs ${c.worstExpected}`).toBe(0);
      }
    } finally {
      await session.release();
    }
  });
});
