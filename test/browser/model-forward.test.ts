// The model's whole forward pass on WebGPU (src/kernels/model.ts) against the f64 CPU forward
// reference (forwardReference, src/model/forward-reference.ts), layer by layer: the shipped checkpoint on a
// 128-token held-out text and a short sentence, and a randomly initialised model of odd sizes
// (dModel 30: not a multiple of 4; 3 heads of 10; context 37) at lengths 1, 17 and 37.
//
// Tolerances (|gpu − ref| ≤ atol + rtol·|ref|): the GPU computes in f32, so every stage carries
// the rounding of the f32 sums before it (~2⁻²⁴ relative per operation, growing with the length
// of the dot products and with depth), and LayerNorm divides by the row's spread, which
// amplifies absolute errors where the spread is small. Measured worst errors are printed at the
// end (SwiftShader: ≤ 3e-5 absolute anywhere, 2e-6 on the weights); the tolerances leave at
// least 4× room over them:
//   activations (ln, q, k, v, attn, residuals, MLP): atol 1e-4, rtol 1e-3 — values are O(1)–O(10);
//   scores: atol 1e-4, rtol 1e-3 (masked entries must be −∞ on both sides: equal infinities count
//   as exact in compareArrays, anything else is an infinite error);
//   weights: atol 2e-5, rtol 1e-3 — probabilities in [0, 1], their error is the scores' error
//   times the weight;
//   logits: atol 1e-4, rtol 1e-3 — after two blocks and ln_f, a 64-term dot product with wte;
//   and the argmax of every row must agree unless the reference's top two are closer than twice
//   the run's largest logits error (then either is a correct answer in f32; counted and printed).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AttentionInputError } from '../../src/core/errors';
import { createGpuModel, MODEL_LAYER_TENSORS, type GpuModel, type GpuModelResult, type ModelReadName } from '../../src/kernels/model';
import type { Checkpoint } from '../../src/model/checkpoint';
import { generateCorpus } from '../../src/model/corpus';
import { forwardReference, type GptTrace } from '../../src/model/forward-reference';
import type { GptConfig, GptParams } from '../../src/model/schema';
import { gaussian, initParams } from '../../src/train/init';
import { encode, makeVocabulary } from '../../src/model/vocab';
import { makeRng } from '../../src/reference/random';
import { compareArrays, type Tolerance } from '../../src/verify/compare';
import { readFloats } from '../../src/gpu/readback';
import { gpu, useGpuDevice } from './gpu-fixture';
import { fetchShippedCheckpoint } from './model-fixture';

useGpuDevice();

const ACTIVATIONS: Tolerance = { atol: 1e-4, rtol: 1e-3 };
const TOLERANCES: Record<string, Tolerance> = {
  scores: { atol: 1e-4, rtol: 1e-3 },
  weights: { atol: 2e-5, rtol: 1e-3 },
  logits: { atol: 1e-4, rtol: 1e-3 },
};
const ALL_READ: ModelReadName[] = [...MODEL_LAYER_TENSORS, 'embed', 'lnF', 'logits'];

/** Worst absolute error per tensor over every run of the file, printed at the end. */
const worst: Record<string, { abs: number; rel: number; where: string }> = {};
const timings: string[] = [];
afterAll(() => {
  console.info('[model] worst error per tensor (GPU f32 vs f64 reference):');
  for (const [name, w] of Object.entries(worst)) console.info(`  ${name.padEnd(8)} max abs ${w.abs.toExponential(2)}  max rel ${w.rel.toExponential(2)}  at ${w.where}`);
  for (const line of timings) console.info(`[model] ${line}`);
});

/** The reference's value of a per-layer tensor (attnOut etc. are not read back). */
function referenceOf(trace: GptTrace, layer: number, name: string): Float64Array {
  const l = trace.layers[layer] as unknown as Record<string, Float64Array>;
  return l[name];
}

function check(label: string, name: string, actual: Float32Array | undefined, expected: Float64Array): number {
  expect(actual, `${label}: ${name} was read back`).toBeDefined();
  const tolerance = TOLERANCES[name.replace(/^h\d+\./, '')] ?? ACTIVATIONS;
  const c = compareArrays(actual!, expected, tolerance);
  const key = name.replace(/^h\d+\./, '');
  if (!worst[key] || c.maxAbsErr > worst[key].abs) worst[key] = { abs: c.maxAbsErr, rel: c.maxRelErr, where: `${label} ${name}` };
  expect(
    c.pass,
    `${label} ${name}: ${c.failures} of ${c.length} outside atol ${tolerance.atol} + rtol ${tolerance.rtol}; worst [${c.worstIndex}] ${c.worstActual} vs ${c.worstExpected}; max abs ${c.maxAbsErr}`,
  ).toBe(true);
  return c.maxAbsErr;
}

/** Compare every tensor read back with the reference, and the argmax of every logits row. */
function compareRun(label: string, result: GpuModelResult, trace: GptTrace, vocabSize: number): void {
  result.layers.forEach((layer, i) => {
    for (const [name, array] of Object.entries(layer)) check(label, `h${i}.${name}`, array, referenceOf(trace, i, name));
  });
  if (result.embed) check(label, 'embed', result.embed, trace.embed);
  if (result.lnF) check(label, 'lnF', result.lnF, trace.lnF);
  const logitsErr = check(label, 'logits', result.logits, trace.logits);
  const T = trace.tokens.length;
  let ties = 0;
  for (let t = 0; t < T; t++) {
    const ref = trace.logits.subarray(t * vocabSize, (t + 1) * vocabSize);
    const got = result.logits!.subarray(t * vocabSize, (t + 1) * vocabSize);
    const order = Array.from(ref.keys()).sort((a, b) => ref[b] - ref[a]);
    let best = 0;
    for (let v = 1; v < vocabSize; v++) if (got[v] > got[best]) best = v;
    // A near tie: the top two closer than twice this run's largest logits error, where f32
    // rounding may legitimately swap them.
    if (ref[order[0]] - ref[order[1]] <= 2 * logitsErr) {
      ties++;
      expect([order[0], order[1]], `${label}: argmax of logits row ${t} (a near tie)`).toContain(best);
    } else {
      expect(best, `${label}: argmax of logits row ${t}`).toBe(order[0]);
    }
  }
  if (ties > 0) console.info(`[model] ${label}: ${ties} logits rows whose top two are within the tolerance`);
}

// ---------------------------------------------------------------------------------------------

const ODD: GptConfig = { vocabSize: 29, context: 37, dModel: 30, heads: 3, layers: 2, dMlp: 50 };

/**
 * A random model of the odd sizes with every parameter non-trivial: GPT-2's initialisation,
 * then random biases and LayerNorm gains and shifts (all zero or one at initialisation, which
 * would leave the bias paths untested), and c_attn scaled up so the softmax is not flat.
 */
function oddParams(seed: number): GptParams {
  const params = initParams(ODD, seed);
  const normal = gaussian(makeRng(seed + 1));
  for (const [name, data] of params) {
    if (name.endsWith('.bias')) for (let i = 0; i < data.length; i++) data[i] = 0.3 * normal();
    else if (/ln_(1|2|f)\.weight$/.test(name)) for (let i = 0; i < data.length; i++) data[i] = 1 + 0.3 * normal();
    else if (name.endsWith('c_attn.weight')) for (let i = 0; i < data.length; i++) data[i] *= 12;
    else if (name === 'wte.weight') for (let i = 0; i < data.length; i++) data[i] *= 25;
  }
  return params;
}

describe('the forward pass of a random model of odd sizes', () => {
  const params = oddParams(7);
  let model: GpuModel;
  beforeAll(async () => {
    model = await createGpuModel(gpu(), ODD, params);
  });
  afterAll(() => model?.destroy());

  for (const length of [1, 17, 37]) {
    it(`matches the f64 reference at every layer and in the logits, ${length} tokens`, async () => {
      const rng = makeRng(100 + length);
      const tokens = Array.from({ length }, () => Math.floor(rng() * ODD.vocabSize));
      const result = await model.run(tokens, { read: ALL_READ });
      const trace = forwardReference(ODD, params, tokens);
      compareRun(`odd model, ${length} tokens`, result, trace, ODD.vocabSize);
      // Masked scores are −∞ (compareArrays counts equal infinities as exact; check it anyway).
      if (length > 1) expect(result.layers[0].scores![1]).toBe(-Infinity);
      const buffers = model.buffers()!;
      expect(buffers.seqLen).toBe(length);
      expect(buffers.layers).toHaveLength(ODD.layers);
      expect(buffers.layers[1].weights.size).toBeGreaterThanOrEqual(4 * ODD.heads * length * length);
    });
  }

  it('an untied output layer (tiedEmbeddings false: logits against lm_head.weight) matches the reference', async () => {
    const untied: GptConfig = { ...ODD, tiedEmbeddings: false };
    const p = initParams(untied, 9);
    const head = p.get('lm_head.weight')!;
    for (let i = 0; i < head.length; i++) head[i] *= 25;
    const tokens = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5];
    const gpuModel = await createGpuModel(gpu(), untied, p);
    try {
      const result = await gpuModel.run(tokens, { read: ALL_READ });
      compareRun('untied model, 11 tokens', result, forwardReference(untied, p, tokens), ODD.vocabSize);
      // Not the tied logits: x·wteᵀ would give other numbers.
      const tied = forwardReference(ODD, new Map([...p].filter(([name]) => name !== 'lm_head.weight')), tokens);
      expect(Math.abs(result.logits![0] - tied.logits[0])).toBeGreaterThan(1e-3);
    } finally {
      gpuModel.destroy();
    }
  });

  it('reads back only what is asked for, by default every layer\'s q, k, v, scores, weights, attn and the logits', async () => {
    const tokens = [3, 1, 4, 1, 5, 9, 2, 6];
    const all = await model.run(tokens);
    expect(Object.keys(all.layers[0]).sort()).toEqual(['attn', 'k', 'q', 'scores', 'v', 'weights']);
    expect(all.logits).toHaveLength(tokens.length * ODD.vocabSize);
    expect(all.embed).toBeUndefined();
    const some = await model.run(tokens, { read: ['weights'] });
    expect(Object.keys(some.layers[1])).toEqual(['weights']);
    expect(some.logits).toBeUndefined();
    expect(Array.from(some.layers[1].weights!)).toEqual(Array.from(all.layers[1].weights!));
  });

  it('a held run keeps its buffers through later runs; released, its set is reused (no third set)', async () => {
    const tokensA = [5, 4, 3, 2, 1];
    const a = await model.run(tokensA, { read: ['weights', 'logits'], hold: true });
    compareRun('odd model, held run', a, forwardReference(ODD, params, tokensA), ODD.vocabSize);
    const aBuffers = a.held.buffers;
    const b = await model.run([7, 8, 9, 10, 11, 12], { read: ['weights'] });
    expect(model.bufferSets).toBe(2);
    expect(model.buffers()!.layers[1].weights).not.toBe(aBuffers.layers[1].weights);
    const [weightsA, logitsA] = await readFloats(
      gpu(),
      [
        [aBuffers.layers[1].weights, 0, ODD.heads * tokensA.length ** 2],
        [aBuffers.logits, 0, tokensA.length * ODD.vocabSize],
      ],
      'test/held model run',
    );
    expect(Array.from(weightsA)).toEqual(Array.from(a.layers[1].weights!));
    expect(Array.from(logitsA)).toEqual(Array.from(a.logits!));
    expect(Array.from(b.layers[1].weights!)).not.toEqual(Array.from(a.layers[1].weights!));
    // Hold C (it overwrites B's set, the unheld last one), release A: D takes A's set.
    const c = await model.run([1, 2], { read: [], hold: true });
    a.held.release();
    await model.run([3, 4], { read: [] });
    expect(model.buffers()!.layers[0].qkv).toBe(aBuffers.layers[0].qkv);
    expect(model.bufferSets).toBe(2);
    c.held.release();
  });

  it('refuses bad tokens, naming the field, and runs again afterwards', async () => {
    const refused = async (tokens: number[], field: string) => {
      const error = await model.run(tokens).then(() => null, (e: unknown) => e);
      expect(error).toBeInstanceOf(AttentionInputError);
      expect((error as AttentionInputError).field).toBe(field);
    };
    await refused([1, 2, ODD.vocabSize], 'tokens[2]');
    await refused([1, -1], 'tokens[1]');
    await refused([0.5], 'tokens[0]');
    await refused([], 'tokens');
    await refused(Array.from({ length: ODD.context + 1 }, () => 0), 'tokens');
    await expect(model.run([1, 2, 3])).resolves.toBeDefined();
    await expect(createGpuModel(gpu(), { ...ODD, heads: 4 }, params)).rejects.toMatchObject({ field: 'heads' });
    const missing = new Map(params);
    missing.delete('h.1.mlp.c_fc.bias');
    await expect(createGpuModel(gpu(), ODD, missing)).rejects.toMatchObject({ field: 'params["h.1.mlp.c_fc.bias"]' });
  });
});

describe('the forward pass of the shipped model', () => {
  let checkpoint: Checkpoint;
  let model: GpuModel;
  beforeAll(async () => {
    checkpoint = await fetchShippedCheckpoint();
    model = await createGpuModel(gpu(), checkpoint.config, checkpoint.params);
  });
  afterAll(() => model?.destroy());

  it('matches the f64 reference on 128 tokens of held-out text, every layer and the logits', async () => {
    const { config, params } = checkpoint;
    const tokens = Array.from(generateCorpus(1, { trainTokens: 1, heldOutTokens: config.context }).heldOut);
    expect(tokens).toHaveLength(128);
    await model.run(tokens); // warm-up: first-use costs (pipelines, buffers) out of the timing
    const t0 = performance.now();
    const result = await model.run(tokens, { read: ALL_READ });
    const gpuTotal = performance.now() - t0;
    const t1 = performance.now();
    const trace = forwardReference(config, params, tokens);
    const cpuTotal = performance.now() - t1;
    timings.push(
      `shipped model, 128 tokens: GPU forward ${result.gpuMs.toFixed(1)} ms to the end of the passes, ${gpuTotal.toFixed(1)} ms with the readback of every tensor; forwardReference (f64, JS) ${cpuTotal.toFixed(1)} ms`,
    );
    compareRun('shipped model, held-out 128 tokens', result, trace, config.vocabSize);
    const logitsOnly = performance.now();
    await model.run(tokens, { read: ['logits'] });
    timings.push(`shipped model, 128 tokens, logits only: ${(performance.now() - logitsOnly).toFixed(1)} ms`);
  });

  it('matches the f64 reference on a short sentence', async () => {
    const { config, params } = checkpoint;
    const tokens = encode('the cat sat on the mat .', makeVocabulary(checkpoint.vocab!));
    const result = await model.run(tokens, { read: ALL_READ });
    compareRun('shipped model, "the cat sat on the mat ."', result, forwardReference(config, params, tokens), config.vocabSize);
  });
});
