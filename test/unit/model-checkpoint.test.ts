/**
 * Checkpoints (src/model/checkpoint.ts): a bit-exact round trip, the GPT-2 layout of the file,
 * reading a Hugging Face-style GPT-2 file without our metadata, and one test per refusal.
 */
import { describe, expect, it } from 'vitest';
import { AttentionInputError } from '../../src/core/errors';
import { readSafetensorsFile, writeSafetensors } from '../../src/inputs/safetensors';
import { TensorFileError, type Tensor } from '../../src/inputs/tensors';
import { readCheckpoint, writeCheckpoint } from '../../src/model/checkpoint';
import { paramShapes, paramsToFloat64, type GptConfig, type GptParams } from '../../src/model/schema';
import { initParams } from '../../src/train/init';

const config: GptConfig = { vocabSize: 7, context: 5, dModel: 8, heads: 2, layers: 2, dMlp: 12 };
const vocab = ['<eos>', 'the', 'cat', 'sat', ' ', '"quoted"', 'ünï'];
const params = initParams(config, 21);

/** The checkpoint's tensors, rewritten with `edit` (and the metadata replaced when given). */
function rewrite(edit: (tensors: Tensor[]) => Tensor[], metadata?: (m: Record<string, string>) => Record<string, string>): Uint8Array {
  const file = readSafetensorsFile(writeCheckpoint(config, params, vocab, { seed: '21' }));
  return writeSafetensors(edit(file.tensors), metadata === undefined ? file.metadata : metadata({ ...file.metadata }));
}

function refusal(bytes: Uint8Array): TensorFileError {
  try {
    readCheckpoint(bytes, 'tiny.safetensors');
  } catch (error) {
    expect(error).toBeInstanceOf(TensorFileError);
    return error as TensorFileError;
  }
  throw new Error('readCheckpoint accepted the file');
}

function bits(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer, a.byteOffset, a.length);
}

describe('writeCheckpoint / readCheckpoint', () => {
  it('round-trips bit-exactly: config, every parameter, vocab and metadata', () => {
    const weird = new Map(params);
    // Values whose bits matter: −0, subnormals, the largest float32.
    weird.set('ln_f.bias', Float32Array.from([-0, 1e-45, -3.4028234663852886e38, 1 / 3, 0, 0, 0, 2 ** -126]));
    const bytes = writeCheckpoint(config, weird, vocab, { seed: '21', heldOutLoss: '2.345678', note: 'ünïcode ✓' });
    const back = readCheckpoint(bytes, 'tiny.safetensors');
    expect(back.config).toEqual(config);
    expect(back.vocab).toEqual(vocab);
    expect([...back.params.keys()]).toEqual([...weird.keys()]);
    for (const [name, data] of weird) expect(bits(back.params.get(name)!), name).toEqual(bits(data));
    expect(back.metadata).toMatchObject({ format: 'gpt2', seed: '21', heldOutLoss: '2.345678', note: 'ünïcode ✓' });
    expect(JSON.parse(back.metadata.config)).toEqual(config);
    expect(JSON.parse(back.metadata.vocab)).toEqual(vocab);
    // The parameters are copies, not views of the file.
    bytes.fill(0);
    expect(bits(back.params.get('wte.weight')!)).toEqual(bits(params.get('wte.weight')!));
  });

  it('writes F32 tensors with GPT-2 names and shapes, in state-dict order', () => {
    const file = readSafetensorsFile(writeCheckpoint(config, params, vocab, {}));
    expect(file.tensors.map((t) => [t.name, t.shape])).toEqual([...paramShapes(config)]);
    expect(file.tensors.every((t) => t.dtype === 'float32')).toBe(true);
    expect(file.tensors.find((t) => t.name === 'h.1.attn.c_attn.weight')!.shape).toEqual([8, 24]);
    expect(file.metadata.format).toBe('gpt2');
  });

  it('rounds Float64 parameters to Float32', () => {
    const back = readCheckpoint(writeCheckpoint(config, paramsToFloat64(params), vocab));
    for (const [name, data] of params) expect(bits(back.params.get(name)!), name).toEqual(bits(data));
  });

  it('reads a Hugging Face GPT-2 file: "transformer." names, mask buffers, tied lm_head, n_head, no vocab', () => {
    const bytes = rewrite(
      (tensors) => [
        ...tensors.map((t) => ({ ...t, name: `transformer.${t.name}` })),
        { name: 'transformer.h.0.attn.bias', shape: [1, 1, 5, 5], dtype: 'float32', data: new Float32Array(25).fill(1) },
        { name: 'transformer.h.1.attn.masked_bias', shape: [], dtype: 'float32', data: Float32Array.of(-1e4) },
        { name: 'lm_head.weight', shape: [7, 8], dtype: 'float32', data: params.get('wte.weight')! },
      ],
      () => ({ format: 'pt', n_head: '2' }),
    );
    const back = readCheckpoint(bytes, 'gpt2.safetensors');
    expect(back.config).toEqual(config);
    expect(back.vocab).toBeNull();
    expect(back.metadata).toEqual({ format: 'pt', n_head: '2' });
    for (const [name, data] of params) expect(bits(back.params.get(name)!), name).toEqual(bits(data));
  });
});

describe('an untied output layer (lm_head.weight)', () => {
  const untied: GptConfig = { ...config, tiedEmbeddings: false };
  const untiedParams = initParams(untied, 22);

  it('round-trips: the config says untied, lm_head.weight is written last and read back bit-exactly', () => {
    const bytes = writeCheckpoint(untied, untiedParams, vocab);
    const file = readSafetensorsFile(bytes);
    expect(file.tensors.map((t) => t.name).at(-1)).toBe('lm_head.weight');
    expect(file.tensors.at(-1)!.shape).toEqual([7, 8]);
    const back = readCheckpoint(bytes);
    expect(back.config).toEqual(untied);
    for (const [name, data] of untiedParams) expect(bits(back.params.get(name)!), name).toEqual(bits(data));
    // initParams draws lm_head like any matrix: not a copy of wte.
    expect(Array.from(untiedParams.get('lm_head.weight')!)).not.toEqual(Array.from(untiedParams.get('wte.weight')!));
  });

  it('a Hugging Face file without our config: an lm_head that differs from wte makes the config untied', () => {
    const file = readSafetensorsFile(writeCheckpoint(untied, untiedParams, vocab));
    const back = readCheckpoint(writeSafetensors(file.tensors.map((t) => ({ ...t, name: t.name === 'lm_head.weight' ? t.name : `transformer.${t.name}` })), { format: 'pt', n_head: '2' }));
    expect(back.config).toEqual(untied);
    expect(bits(back.params.get('lm_head.weight')!)).toEqual(bits(untiedParams.get('lm_head.weight')!));
  });

  it('an untied config whose file lacks lm_head.weight is refused by name', () => {
    const file = readSafetensorsFile(writeCheckpoint(untied, untiedParams, vocab));
    const error = refusal(writeSafetensors(file.tensors.filter((t) => t.name !== 'lm_head.weight'), file.metadata));
    expect(error.tensor).toBe('lm_head.weight');
    expect(error.message).toContain('[7, 8]');
  });

  it('tiedEmbeddings must be a boolean', () => {
    expect(() => writeCheckpoint({ ...config, tiedEmbeddings: 'no' as unknown as boolean }, params, vocab)).toThrow(/tiedEmbeddings.*"no".*true.*false/);
  });
});

describe('readCheckpoint refuses, naming the file, the tensor and what was expected', () => {
  it('a missing tensor', () => {
    const error = refusal(rewrite((tensors) => tensors.filter((t) => t.name !== 'h.1.mlp.c_fc.bias')));
    expect(error.field).toBe('tensor');
    expect(error.tensor).toBe('h.1.mlp.c_fc.bias');
    expect(error.file).toBe('tiny.safetensors');
    expect(error.message).toContain('[12]');
  });

  it('a tensor of the wrong shape', () => {
    const error = refusal(
      rewrite((tensors) => tensors.map((t) => (t.name === 'h.1.attn.c_attn.weight' ? { ...t, shape: [8, 23], data: t.data.subarray(0, 8 * 23) } : t))),
    );
    expect(error.field).toBe('shape');
    expect(error.tensor).toBe('h.1.attn.c_attn.weight');
    expect(error.given).toBe('[8, 23]');
    expect(error.allowed).toMatch(/^\[8, 24\]/);
    expect(error.message).toContain('h.1.attn.c_attn.weight');
  });

  it('an unexpected tensor (a third block in a two-block config) and an untied lm_head', () => {
    const extra = refusal(rewrite((tensors) => [...tensors, { name: 'h.2.ln_1.weight', shape: [8], dtype: 'float32', data: new Float32Array(8) }]));
    expect(extra.tensor).toBe('h.2.ln_1.weight');
    expect(extra.field).toBe('tensor');
    const head = refusal(rewrite((tensors) => [...tensors, { name: 'lm_head.weight', shape: [7, 8], dtype: 'float32', data: new Float32Array(56) }]));
    expect(head.tensor).toBe('lm_head.weight');
    expect(head.message).toContain('ties');
  });

  it('a non-finite value', () => {
    const error = refusal(
      rewrite((tensors) => tensors.map((t) => (t.name === 'wpe.weight' ? { ...t, data: t.data.map((v, i) => (i === 3 ? Number.NaN : v)) } : t))),
    );
    expect(error.tensor).toBe('wpe.weight');
    expect(error.given).toContain('index 3');
  });

  it('bad metadata: config not JSON, not an object, not a valid config', () => {
    const notJson = refusal(rewrite((t) => t, (m) => ({ ...m, config: '{vocabSize: 7' })));
    expect(notJson.field).toBe('metadata');
    expect(notJson.given).toContain('config');
    expect(refusal(rewrite((t) => t, (m) => ({ ...m, config: '[1, 2]' }))).field).toBe('metadata');
    const badHeads = refusal(rewrite((t) => t, (m) => ({ ...m, config: JSON.stringify({ ...config, heads: 3 }) })));
    expect(badHeads.field).toBe('metadata');
    expect(badHeads.message).toContain('heads');
    const missingField = refusal(rewrite((t) => t, (m) => ({ ...m, config: JSON.stringify({ ...config, dMlp: undefined }) })));
    expect(missingField.message).toContain('dMlp');
    // A config that does not match the tensors turns into a shape error on the first mismatch.
    const mismatch = refusal(rewrite((t) => t, (m) => ({ ...m, config: JSON.stringify({ ...config, context: 6 }) })));
    expect([mismatch.field, mismatch.tensor]).toEqual(['shape', 'wpe.weight']);
  });

  it('bad metadata: a vocab that is not vocabSize strings', () => {
    expect(refusal(rewrite((t) => t, (m) => ({ ...m, vocab: '["a", "b"]' }))).message).toContain('7 strings');
    expect(refusal(rewrite((t) => t, (m) => ({ ...m, vocab: JSON.stringify([1, 2, 3, 4, 5, 6, 7]) }))).given).toContain('not all strings');
    expect(refusal(rewrite((t) => t, (m) => ({ ...m, vocab: 'the cat' }))).field).toBe('metadata');
  });

  it('no config and no n_head: the heads cannot be known', () => {
    const error = refusal(rewrite((t) => t, () => ({ format: 'pt' })));
    expect(error.field).toBe('metadata');
    expect(error.allowed).toContain('n_head');
    expect(refusal(rewrite((t) => t, () => ({ n_head: 'two' }))).given).toContain('n_head');
    // n_head 3 does not divide d = 8.
    expect(refusal(rewrite((t) => t, () => ({ n_head: '3' }))).message).toContain('heads');
  });

  it('no config and a missing wte.weight or h.0.mlp.c_fc.weight', () => {
    const wte = refusal(rewrite((tensors) => tensors.filter((t) => t.name !== 'wte.weight'), () => ({ n_head: '2' })));
    expect([wte.field, wte.tensor]).toEqual(['tensor', 'wte.weight']);
    const fc = refusal(rewrite((tensors) => tensors.filter((t) => t.name !== 'h.0.mlp.c_fc.weight'), () => ({ n_head: '2' })));
    expect(fc.tensor).toBe('h.0.mlp.c_fc.weight');
  });

  it('a malformed file, as the safetensors reader does', () => {
    const bytes = writeCheckpoint(config, params, vocab);
    expect(refusal(bytes.subarray(0, bytes.length - 4)).field).toBe('data_offsets');
  });
});

describe('writeCheckpoint refuses', () => {
  const fieldOf = (f: () => unknown): string => {
    try {
      f();
    } catch (error) {
      expect(error).toBeInstanceOf(AttentionInputError);
      return (error as AttentionInputError).field;
    }
    return 'no error';
  };

  it('a vocab of the wrong length or with non-strings', () => {
    expect(fieldOf(() => writeCheckpoint(config, params, vocab.slice(1)))).toBe('vocab');
    expect(fieldOf(() => writeCheckpoint(config, params, [...vocab.slice(1), 5 as unknown as string]))).toBe('vocab[6]');
  });

  it('metadata that sets a reserved key or is not a string', () => {
    expect(fieldOf(() => writeCheckpoint(config, params, vocab, { format: 'pt' }))).toBe('metadata.format');
    expect(fieldOf(() => writeCheckpoint(config, params, vocab, { config: '{}' }))).toBe('metadata.config');
    expect(fieldOf(() => writeCheckpoint(config, params, vocab, { steps: 100 as unknown as string }))).toBe('metadata.steps');
  });

  it('parameters that do not match the config', () => {
    const wrong: GptParams = new Map(params);
    wrong.set('h.0.attn.c_attn.weight', new Float32Array(8 * 23));
    expect(fieldOf(() => writeCheckpoint(config, wrong, vocab))).toBe('params["h.0.attn.c_attn.weight"]');
    expect(fieldOf(() => writeCheckpoint({ ...config, heads: 3 }, params, vocab))).toBe('heads');
  });
});
