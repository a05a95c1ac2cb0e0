/**
 * The model's parameter schema (src/model/schema.ts): the GPT-2 names and shapes of a small
 * config written out by hand here, the parameter count summed by hand, and the one parameter
 * check (checkModelParams) that the reference, training, checkpoints and the GPU forward share:
 * each mismatch names the tensor, what was given and the shape expected, and says what to do.
 * Also the WebAssembly writer's error for a generator bug (src/train/wasm-encoder.ts).
 */
import { describe, expect, it } from 'vitest';
import { AttentionError, AttentionInputError } from '../../src/core/errors';
import { forwardReference } from '../../src/model/forward-reference';
import { ModelParamsError, checkModelParams, countParams, paramShapes, type GptConfig, type GptParams } from '../../src/model/schema';
import { initParams } from '../../src/train/init';
import { Body, WasmEncoderError } from '../../src/train/wasm-encoder';

const config: GptConfig = { vocabSize: 5, context: 3, dModel: 4, heads: 2, layers: 1, dMlp: 8 };

/** The error `run` throws (fails the test when it throws nothing). */
function thrown(run: () => void): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('paramShapes and countParams', () => {
  it('lists the GPT-2 names and shapes in state-dict order', () => {
    expect([...paramShapes(config)]).toEqual([
      ['wte.weight', [5, 4]],
      ['wpe.weight', [3, 4]],
      ['h.0.ln_1.weight', [4]],
      ['h.0.ln_1.bias', [4]],
      ['h.0.attn.c_attn.weight', [4, 12]],
      ['h.0.attn.c_attn.bias', [12]],
      ['h.0.attn.c_proj.weight', [4, 4]],
      ['h.0.attn.c_proj.bias', [4]],
      ['h.0.ln_2.weight', [4]],
      ['h.0.ln_2.bias', [4]],
      ['h.0.mlp.c_fc.weight', [4, 8]],
      ['h.0.mlp.c_fc.bias', [8]],
      ['h.0.mlp.c_proj.weight', [8, 4]],
      ['h.0.mlp.c_proj.bias', [4]],
      ['ln_f.weight', [4]],
      ['ln_f.bias', [4]],
    ]);
  });

  it('counts every value once (wte is tied to the output)', () => {
    // wte 20 + wpe 12 + block (8 + 48 + 12 + 16 + 4 + 8 + 32 + 8 + 32 + 4 = 172) + ln_f 8.
    expect(countParams(config)).toBe(212);
  });
});

describe('checkModelParams', () => {
  const params = (): GptParams => initParams(config, 1);

  it('accepts the parameters of the config, Float32 or Float64', () => {
    expect(() => checkModelParams(config, params(), { finite: true })).not.toThrow();
    const f64 = new Map([...params()].map(([name, data]) => [name, Float64Array.from(data)]));
    expect(() => checkModelParams(config, f64)).not.toThrow();
  });

  it('names a missing tensor and its expected shape, and says what to do', () => {
    const p = params();
    p.delete('h.0.ln_1.bias');
    const error = thrown(() => checkModelParams(config, p)) as ModelParamsError;
    expect(error).toBeInstanceOf(ModelParamsError);
    expect(error).toBeInstanceOf(AttentionInputError);
    expect(error.tensor).toBe('h.0.ln_1.bias');
    expect(error.field).toBe('params["h.0.ln_1.bias"]');
    expect(error.message).toBe(
      'params["h.0.ln_1.bias"]: got nothing; allowed: a Float32Array of 4 values (shape [4]). ' +
        'Pass the config the parameters were made for, or load a checkpoint written for this config (npm run train writes one).',
    );
  });

  it('names a tensor of the wrong length with the length given and the shape expected', () => {
    const p = params();
    p.set('h.0.attn.c_attn.weight', new Float32Array(36));
    const error = thrown(() => checkModelParams(config, p)) as ModelParamsError;
    expect([error.tensor, error.given, error.allowed, error.kind]).toEqual(['h.0.attn.c_attn.weight', 'length 36', 'length 48 (shape [4, 12])', 'length']);
  });

  it('refuses an extra tensor, a mix of Float32 and Float64, and a non-Map', () => {
    const extra = params();
    extra.set('lm_head.weight', new Float32Array(20));
    expect(thrown(() => checkModelParams(config, extra))).toMatchObject({ tensor: 'lm_head.weight', given: 'an extra parameter', kind: 'type' });
    const mixed: GptParams<Float32Array | Float64Array> = params();
    mixed.set('wpe.weight', new Float64Array(12));
    expect(thrown(() => checkModelParams(config, mixed))).toMatchObject({ tensor: 'wpe.weight', allowed: 'a Float32Array, like the other parameters' });
    expect(thrown(() => checkModelParams(config, {} as GptParams))).toMatchObject({ tensor: null, field: 'params', given: 'object' });
  });

  it('with finite, names the first NaN or infinity by tensor and index', () => {
    const p = params();
    p.get('wpe.weight')![7] = Number.NaN;
    expect(() => checkModelParams(config, p)).not.toThrow();
    const error = thrown(() => checkModelParams(config, p, { finite: true })) as ModelParamsError;
    expect([error.field, error.given, error.kind, error.index]).toEqual(['params["wpe.weight"][7]', 'NaN', 'non-finite', 7]);
    expect(error.message).toMatch(/retrain, or load another checkpoint\.$/);
    // The f64 reference runs the same check, with finite.
    expect(thrown(() => forwardReference(config, p, [0, 1]))).toMatchObject({ field: 'params["wpe.weight"][7]', kind: 'non-finite' });
  });
});

describe('the WebAssembly writer', () => {
  it('throws WasmEncoderError (an AttentionError) for a local or label it was never given', () => {
    const body = new Body(['a']);
    expect(() => body.get('a')).not.toThrow();
    const local = thrown(() => body.get('b'));
    expect(local).toBeInstanceOf(WasmEncoderError);
    expect(local).toBeInstanceOf(AttentionError);
    expect((local as Error).message).toMatch(/^The WebAssembly matmul's generator used the local b, which it never declared: a bug in src\/train\/wasm-kernels\.ts\./);
    expect(thrown(() => body.br('missing'))).toBeInstanceOf(WasmEncoderError);
  });
});
