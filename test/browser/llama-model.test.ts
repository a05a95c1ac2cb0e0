// The Llama family's forward pass on the GPU (src/kernels/llama-model.ts, issue 18) against the
// f64 reference of src/model/llama-reference.ts, every layer and the logits, for the variants the
// family has: grouped-query attention (4 query heads over 2 key/value heads, and over 1),
// head_dim ≠ hidden / heads, Llama 3's frequency scaling across all three bands, Qwen2's q/k/v
// biases, an o_proj bias, tied and untied lm_head; and the three linear-kernel variants (lane
// tiles, workgroup memory, register tiles) on the same model.
import { describe, expect, it } from 'vitest';
import { AttentionInputError } from '../../src/core/errors';
import { createGpuLlamaModel } from '../../src/kernels/llama-model';
import { createGpuModel } from '../../src/kernels/model';
import { DEFAULT_TUNING, LANE_TUNING, SOFTWARE_TUNING, tuningFor, type AttentionTuning } from '../../src/kernels/tuning';
import { llamaForwardReference, llamaTensorShapes, type LlamaConfig, type LlamaTrace } from '../../src/model/llama-reference';
import { makeRng, makeUniform } from '../../src/reference/random';
import { floatToBfloat16Bits, floatToHalfBits } from '../../src/core/half';
import { bfloat16ToFloat, halfToFloat } from '../../src/inputs/float-codec';
import type { WeightFormat } from '../../src/kernels/shader-variants';
import { gpu, useGpuDevice } from './gpu-fixture';

useGpuDevice();

/** 4 query heads over 2 key/value heads, head_dim 6 (≠ 16 / 4), llama3 scaling with all three bands in head_dim's 3 frequencies, tied. */
const GQA: LlamaConfig = {
  modelType: 'llama',
  vocabSize: 41,
  context: 64,
  dModel: 16,
  heads: 4,
  kvHeads: 2,
  headDim: 6,
  layers: 2,
  dMlp: 24,
  rmsNormEps: 1e-5,
  ropeTheta: 10000,
  ropeScaling: { ropeType: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalContext: 512 },
  tiedEmbeddings: true,
  qkvBias: false,
  oBias: false,
};

/** Qwen2: q/k/v biases, 4 query heads over ONE key/value head, untied lm_head, head_dim 8 = 32 / 4. */
const QWEN: LlamaConfig = { ...GQA, modelType: 'qwen2', dModel: 32, heads: 4, kvHeads: 1, headDim: 8, dMlp: 40, ropeTheta: 1e6, ropeScaling: null, rmsNormEps: 1e-6, tiedEmbeddings: false, qkvBias: true, oBias: false, layers: 2 };

/** Llama with attention_bias (q/k/v and o_proj biases), as many key/value heads as query heads, 3 heads of 4 in a width of 12 ≠ d 10. */
const BIASED: LlamaConfig = { ...GQA, dModel: 10, heads: 3, kvHeads: 3, headDim: 4, dMlp: 14, ropeScaling: null, tiedEmbeddings: false, qkvBias: true, oBias: true, layers: 1 };

function randomParams(config: LlamaConfig, seed: number): Map<string, Float32Array> {
  const rng = makeRng(seed);
  const params = new Map<string, Float32Array>();
  for (const [name, shape] of llamaTensorShapes(config)) {
    const size = shape.reduce((a, b) => a * b, 1);
    params.set(name, /norm\.weight$|layernorm\.weight$/.test(name) ? Float32Array.from(makeUniform(rng, size), (v) => 1 + 0.5 * v) : makeUniform(rng, size, 0.5));
  }
  return params;
}

/** Largest |actual − expected| as a fraction of the largest |expected| (f32 against f64); masked (−∞) entries must match exactly. */
function relError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    if (!Number.isFinite(expected[i])) {
      expect(actual[i]).toBe(expected[i]);
      continue;
    }
    worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return worst / scale;
}

/** The reference's key/value heads repeated for their query heads: T × heads·headDim, as the GPU lays them out. */
function repeatKv(config: LlamaConfig, kv: Float64Array, T: number): Float64Array {
  const { heads, kvHeads, headDim: hd } = config;
  const out = new Float64Array(T * heads * hd);
  for (let t = 0; t < T; t++) {
    for (let h = 0; h < heads; h++) {
      const g = Math.floor(h / (heads / kvHeads));
      for (let i = 0; i < hd; i++) out[(t * heads + h) * hd + i] = kv[(t * kvHeads + g) * hd + i];
    }
  }
  return out;
}

const TOLERANCE = 2e-5;

/** The parameters as a 16-bit checkpoint holds them: the weight matrices and embedding rounded to `format` (norms and biases too: the file stores every tensor so). */
function roundedTo(params: Map<string, Float32Array>, format: 'f16' | 'bf16'): Map<string, Float32Array> {
  const round = format === 'f16' ? (v: number) => halfToFloat(floatToHalfBits(v)) : (v: number) => bfloat16ToFloat(floatToBfloat16Bits(v));
  return new Map([...params].map(([name, data]) => [name, Float32Array.from(data, round)]));
}

async function checkAgainstReference(
  config: LlamaConfig,
  seed: number,
  T: number,
  tuning: AttentionTuning = tuningFor(gpu()),
  weights: WeightFormat = 'f32',
  maxBindingBytes?: number,
): Promise<LlamaTrace> {
  const params = weights === 'f32' ? randomParams(config, seed) : roundedTo(randomParams(config, seed), weights);
  // Tokens spread over the whole vocabulary (every piece of a split table is read).
  const tokens = Array.from({ length: T }, (_, t) => (t * 7 + seed) % config.vocabSize);
  const trace = llamaForwardReference(config, params, tokens);
  const model = await createGpuLlamaModel(gpu(), config, params, tuning, { weights, ...(maxBindingBytes === undefined ? {} : { maxBindingBytes }) });
  expect(model.weights).toBe(weights);
  // A lowered binding budget splits the token table (and an untied lm_head) into pieces.
  expect(model.pieces.size > 0).toBe(maxBindingBytes !== undefined);
  try {
    const run = await model.run(tokens, { read: ['embed', 'ln1', 'q', 'k', 'v', 'scores', 'weights', 'attn', 'resid1', 'ln2', 'mlpAct', 'resid2', 'lnF', 'logits'] });
    expect(relError(run.embed!, trace.embed)).toBe(0);
    trace.layers.forEach((layer, i) => {
      const got = run.layers[i];
      const where = `layer ${i}`;
      expect(relError(got.ln1!, layer.norm1), `${where} ln1`).toBeLessThan(TOLERANCE);
      expect(relError(got.q!, layer.q), `${where} q`).toBeLessThan(TOLERANCE);
      expect(relError(got.k!, repeatKv(config, layer.k, T)), `${where} k`).toBeLessThan(TOLERANCE);
      expect(relError(got.v!, repeatKv(config, layer.v, T)), `${where} v`).toBeLessThan(TOLERANCE);
      expect(relError(got.scores!, layer.scores), `${where} scores`).toBeLessThan(TOLERANCE);
      expect(relError(got.weights!, layer.weights), `${where} weights`).toBeLessThan(TOLERANCE);
      expect(relError(got.attn!, layer.attn), `${where} attn`).toBeLessThan(TOLERANCE);
      expect(relError(got.resid1!, layer.resid1), `${where} resid1`).toBeLessThan(TOLERANCE);
      expect(relError(got.ln2!, layer.norm2), `${where} ln2`).toBeLessThan(TOLERANCE);
      expect(relError(got.mlpAct!, layer.mlpAct), `${where} mlpAct`).toBeLessThan(TOLERANCE);
      expect(relError(got.resid2!, layer.output), `${where} resid2`).toBeLessThan(TOLERANCE);
    });
    expect(relError(run.lnF!, trace.finalNorm)).toBeLessThan(TOLERANCE);
    expect(relError(run.logits!, trace.logits)).toBeLessThan(TOLERANCE);
    // The shown buffers: each layer's packed q | k | v and weights, as the scene reads them.
    const shown = model.buffers()!;
    expect(shown.layers).toHaveLength(config.layers);
    expect(shown.seqLen).toBe(T);
  } finally {
    model.destroy();
  }
  return trace;
}

describe('Llama-family forward on the GPU against the f64 reference, every layer', () => {
  it('grouped-query attention (4 heads over 2), head_dim 6 ≠ d / heads, llama3 scaling, tied lm_head, 13 tokens', async () => {
    const trace = await checkAgainstReference(GQA, 3, 13);
    // The reference itself: heads 0 and 1 share key/value head 0, so their k rows agree after repeating.
    expect(trace.layers[0].k.length).toBe(13 * GQA.kvHeads * GQA.headDim);
  });

  it('Qwen2: q/k/v biases, 4 query heads over 1 key/value head, untied lm_head, 20 tokens', async () => {
    await checkAgainstReference(QWEN, 5, 20);
  });

  it('Llama with attention_bias (q/k/v and o_proj biases), 3 heads of 4 (width 12 ≠ d 10), 9 tokens', async () => {
    await checkAgainstReference(BIASED, 8, 9);
  });

  it('the same model through every linear-kernel variant (lane tiles, workgroup memory, register tiles)', async () => {
    for (const tuning of [LANE_TUNING, DEFAULT_TUNING, SOFTWARE_TUNING]) await checkAgainstReference(GQA, 4, 11, tuning);
  });

  it('16-bit weights kept packed on the GPU: F16 and BF16 checkpoints through every linear variant, equal to the reference', async () => {
    // Each variant once: F16 on the lane tiles and the register tiles, BF16 (Qwen2: untied, biases) on workgroup memory.
    for (const tuning of [LANE_TUNING, SOFTWARE_TUNING]) await checkAgainstReference(GQA, 6, 11, tuning, 'f16');
    await checkAgainstReference(QWEN, 7, 12, DEFAULT_TUNING, 'bf16');
    // The weight buffers hold half the bytes: the embedding of GQA is 41 × 16 values.
    const params = roundedTo(randomParams(GQA, 6), 'f16');
    const [f32, f16] = await Promise.all([createGpuLlamaModel(gpu(), GQA, params), createGpuLlamaModel(gpu(), GQA, params, undefined, { weights: 'f16' })]);
    try {
      const tokens = [1, 2, 3, 4, 5];
      const [a, b] = await Promise.all([f32.run(tokens, { read: ['logits'] }), f16.run(tokens, { read: ['logits'] })]);
      // Exactly representable weights: the two storages give the same sums, bit for bit.
      expect(Array.from(b.logits!)).toEqual(Array.from(a.logits!));
    } finally {
      f32.destroy();
      f16.destroy();
    }
    await expect(createGpuLlamaModel(gpu(), GQA, params, undefined, { weights: 'f8' as never })).rejects.toThrow(/options\.weights.*"f8".*'f32', 'f16', 'bf16'/);
  });

  it("keep 'none' computes every map in scratch and gives the same logits; createGpuModel routes Llama configs here", async () => {
    const params = randomParams(QWEN, 9);
    const tokens = [1, 5, 2, 30, 7, 7, 19];
    const trace = llamaForwardReference(QWEN, params, tokens);
    const model = await createGpuModel(gpu(), QWEN, params);
    try {
      expect(model.config.modelType).toBe('qwen2');
      // A longer run first (as the app runs the induction probe before the text): the rotary
      // table of the later, shorter run must hold that run's positions.
      const longer = Array.from({ length: 25 }, (_, t) => (t * 3 + 1) % QWEN.vocabSize);
      const first = await model.run(longer, { read: ['logits'] });
      expect(relError(first.logits!, llamaForwardReference(QWEN, params, longer).logits)).toBeLessThan(TOLERANCE);
      const full = await model.run(tokens, { read: ['weights', 'logits'] });
      expect(relError(full.logits!, trace.logits)).toBeLessThan(TOLERANCE);
      const lean = await model.run(tokens, { read: ['logits'], keep: 'none' });
      expect(relError(lean.logits!, trace.logits)).toBeLessThan(TOLERANCE);
      expect(Array.from(lean.logits!)).toEqual(Array.from(full.logits!));
      await expect(model.run(tokens, { read: ['weights'], keep: 'none' })).rejects.toThrow(/'weights' with keep 'none'/);
      // Bad tokens are refused naming the index; the model keeps working.
      await expect(model.run([1, QWEN.vocabSize], { read: ['logits'] })).rejects.toThrow(AttentionInputError);
      await expect(model.run([1, QWEN.vocabSize], { read: ['logits'] })).rejects.toThrow(/tokens\[1\]/);
      const again = await model.run(tokens, { read: ['logits'] });
      expect(relError(again.logits!, trace.logits)).toBeLessThan(TOLERANCE);
    } finally {
      model.destroy();
    }
  });

  it("attention 'fused': every head of every layer through the fused kernel in many submissions (progress, Cancel), the same attn and logits as the reference, and each layer's reduced maps", async () => {
    const params = randomParams(GQA, 6);
    const T = 40;
    const tokens = Array.from({ length: T }, (_, t) => (t * 11 + 4) % GQA.vocabSize);
    const trace = llamaForwardReference(GQA, params, tokens);
    const model = await createGpuLlamaModel(gpu(), GQA, params);
    try {
      const steps: Array<[number, number]> = [];
      const rows = 7;
      const cols = 9;
      const run = await model.run(tokens, { read: ['attn', 'resid2', 'logits'], attention: 'fused', reduce: { rows, cols, mode: 'max' }, onProgress: (done, total) => steps.push([done, total]) });
      trace.layers.forEach((layer, i) => {
        expect(relError(run.layers[i].attn!, layer.attn), `layer ${i} attn`).toBeLessThan(TOLERANCE);
        expect(relError(run.layers[i].resid2!, layer.output), `layer ${i} resid2`).toBeLessThan(TOLERANCE);
        // Block maxima of the reference's weights: cell (r, c) covers queries ⌊r·T/rows⌋… and keys ⌊c·T/cols⌋….
        const grid = run.grids![i];
        expect(grid.length).toBe(GQA.heads * rows * cols);
        for (let h = 0; h < GQA.heads; h++) {
          for (let r = 0; r < rows; r++) {
            for (let c = 0; c < cols; c++) {
              let max = 0;
              for (let qi = Math.floor((r * T) / rows); qi < Math.floor(((r + 1) * T) / rows); qi++) {
                for (let kj = Math.floor((c * T) / cols); kj < Math.floor(((c + 1) * T) / cols); kj++) max = Math.max(max, layer.weights[(h * T + qi) * T + kj]);
              }
              expect(grid[(h * rows + r) * cols + c], `layer ${i} head ${h} cell ${r},${c}`).toBeCloseTo(max, 5);
            }
          }
        }
      });
      expect(relError(run.logits!, trace.logits)).toBeLessThan(TOLERANCE);
      // One progress step per submission of the fused kernel and of the reduced map, ending at the total.
      expect(steps.length).toBeGreaterThanOrEqual(2 * GQA.layers);
      expect(steps.at(-1)![0]).toBe(steps.at(-1)![1]);
      expect(model.buffers()!.attention).toBe('fused');
      // Sampled rows (what a long run is verified on): the rows of every layer's tensors, and each
      // layer's keys and values read afterwards, equal the reference's.
      const sampleRows = [0, 5, 39];
      // logitsFrom: only rows 30…39 get logits (a long run's would not fit); the sampled rows get theirs anyway.
      const sampled = await model.run(tokens, { read: ['logits'], attention: 'fused', sampleRows, logitsFrom: 30, hold: true });
      expect(sampled.logitsFrom).toBe(30);
      expect(relError(sampled.logits!, trace.logits.subarray(30 * GQA.vocabSize))).toBeLessThan(TOLERANCE);
      const rowsOf = (a: Float64Array, w: number) => Float64Array.from(sampleRows.flatMap((r) => Array.from(a.subarray(r * w, (r + 1) * w))));
      const sample = sampled.sample!;
      const width = GQA.heads * GQA.headDim;
      expect(relError(sample.embed, rowsOf(trace.embed, GQA.dModel))).toBe(0);
      trace.layers.forEach((layer, i) => {
        expect(relError(sample.layers[i].q, rowsOf(layer.q, width)), `layer ${i} q rows`).toBeLessThan(TOLERANCE);
        expect(relError(sample.layers[i].attn, rowsOf(layer.attn, width)), `layer ${i} attn rows`).toBeLessThan(TOLERANCE);
        expect(relError(sample.layers[i].resid1, rowsOf(layer.resid1, GQA.dModel)), `layer ${i} resid1 rows`).toBeLessThan(TOLERANCE);
        expect(relError(sample.layers[i].resid2, rowsOf(layer.output, GQA.dModel)), `layer ${i} resid2 rows`).toBeLessThan(TOLERANCE);
      });
      expect(relError(sample.logits, rowsOf(trace.logits, GQA.vocabSize))).toBeLessThan(TOLERANCE);
      const kv = await model.readKeysValues(1, sampled.held.buffers);
      expect(relError(kv.k, repeatKv(GQA, trace.layers[1].k, T))).toBeLessThan(TOLERANCE);
      expect(relError(kv.v, repeatKv(GQA, trace.layers[1].v, T))).toBeLessThan(TOLERANCE);
      sampled.held.release();
      // A fused run without sampled rows kept no layer's keys.
      await model.run(tokens, { read: [], attention: 'fused' });
      await expect(model.readKeysValues(0)).rejects.toThrow(/a fused run without sampleRows/);
      // Maps cannot be read from a run that stores none; a cancel stops between submissions.
      await expect(model.run(tokens, { read: ['weights'], attention: 'fused' })).rejects.toThrow(/'weights' with attention 'fused'/);
      const abort = new AbortController();
      const cancelled = model.run(tokens, { read: ['logits'], attention: 'fused', signal: abort.signal, onProgress: () => abort.abort() });
      await expect(cancelled).rejects.toThrow(/abort|cancel/i);
      // The model runs on after a cancel, in either mode.
      const again = await model.run(tokens, { read: ['logits'] });
      expect(relError(again.logits!, trace.logits)).toBeLessThan(TOLERANCE);
    } finally {
      model.destroy();
    }
  });

  it("attention 'fused' with head_dim 16: the unrolled kernel (software tunings) and the loop (GPU tunings) both give the reference's attn and logits", async () => {
    const WIDE_HEADS: LlamaConfig = { ...GQA, dModel: 32, headDim: 16, context: 256 };
    const params = randomParams(WIDE_HEADS, 15);
    const T = 150; // two blocks of 128 queries
    const tokens = Array.from({ length: T }, (_, t) => (t * 13 + 2) % WIDE_HEADS.vocabSize);
    const trace = llamaForwardReference(WIDE_HEADS, params, tokens);
    for (const tuning of [LANE_TUNING, DEFAULT_TUNING]) {
      const model = await createGpuLlamaModel(gpu(), WIDE_HEADS, params, tuning);
      try {
        // Single weights recomputed from q, k and the log-sum-exps (what a long run's head scores read); (3, 7) is masked.
        const weightsAt = [[5, 4], [5, 0], [149, 148], [149, 0], [3, 7], [0, 0], [128, 127]] as const;
        const run = await model.run(tokens, { read: ['attn', 'logits'], attention: 'fused', weightsAt, rowEntropy: true });
        trace.layers.forEach((layer, i) => {
          expect(relError(run.layers[i].attn!, layer.attn), `${tuning.fused ?? 'loop'} layer ${i} attn`).toBeLessThan(TOLERANCE);
          const expected = Array.from({ length: WIDE_HEADS.heads }, (_, h) => weightsAt.map(([q, k]) => layer.weights[(h * T + q) * T + k])).flat();
          expect(relError(run.weightsAt![i], expected), `layer ${i} weightsAt`).toBeLessThan(TOLERANCE);
          expect(run.weightsAt![i][4]).toBe(0);
          // Every row's entropy, from the fused pass, against −Σ w·ln w of the reference's weights.
          const entropy = Array.from({ length: WIDE_HEADS.heads * T }, (_, r) => {
            let h = 0;
            for (let j = 0; j < T; j++) {
              const w = layer.weights[r * T + j];
              if (w > 0) h -= w * Math.log(w);
            }
            return h;
          });
          expect(relError(run.rowEntropy![i], entropy), `layer ${i} rowEntropy`).toBeLessThan(1e-4);
        });
        expect(relError(run.logits!, trace.logits)).toBeLessThan(TOLERANCE);
        await expect(model.run(tokens, { read: ['logits'], rowEntropy: true })).rejects.toThrow(/rowEntropy: got true with attention 'maps'; allowed: only with attention 'fused'/);
        await expect(model.run(tokens, { read: ['logits'], weightsAt })).rejects.toThrow(/weightsAt: got 7 pairs with attention 'maps'; allowed: only with attention 'fused'/);
        await expect(model.run(tokens, { read: ['logits'], attention: 'fused', weightsAt: [[1, 0], [2, T]] })).rejects.toThrow(/weightsAt\[1\]: got \[2, 150\]; allowed: \[query, key\], integers from 0 to 149/);
      } finally {
        model.destroy();
      }
    }
  });

  it('a token table larger than one binding (maxBindingBytes lowered) is split by rows: every piece embeds its tokens and writes its band of logits, as the reference, on every linear variant', async () => {
    // A vocabulary of 300 × d 16 in f32 is 19 200 bytes; at 4096 bytes a binding that is 64 rows
    // a piece: 5 pieces (4 × 64 + 44), while the largest other weight (q | k | v, 48 × 16) fits.
    const WIDE: LlamaConfig = { ...GQA, vocabSize: 300 };
    for (const tuning of [LANE_TUNING, DEFAULT_TUNING, SOFTWARE_TUNING]) await checkAgainstReference(WIDE, 12, 24, tuning, 'f32', 4096);
    // BF16, untied (Qwen2, d 32): 64 bytes a row, 80 rows in 5120 bytes: the embedding and lm_head in 4 pieces each.
    const WIDE_QWEN: LlamaConfig = { ...QWEN, vocabSize: 300 };
    await checkAgainstReference(WIDE_QWEN, 13, 50, DEFAULT_TUNING, 'bf16', 5120);
    const params = randomParams(WIDE, 14);
    const split = await createGpuLlamaModel(gpu(), WIDE, params, undefined, { maxBindingBytes: 4096 });
    const whole = await createGpuLlamaModel(gpu(), WIDE, params);
    try {
      expect([...split.pieces]).toEqual([['model.embed_tokens.weight', 5]]);
      // The same sums piece by piece: equal to one binding bit for bit, also on the fused path
      // with the last rows' logits only and sampled rows' own logits.
      const T = 50;
      const tokens = Array.from({ length: T }, (_, t) => (t * 37 + 5) % WIDE.vocabSize);
      const options = { read: ['logits'] as const, attention: 'fused' as const, logitsFrom: 40, sampleRows: [3, 44, 49] };
      const [a, b] = [await split.run(tokens, { ...options, read: ['logits'] }), await whole.run(tokens, { ...options, read: ['logits'] })];
      expect(Array.from(a.logits!)).toEqual(Array.from(b.logits!));
      expect(Array.from(a.sample!.logits)).toEqual(Array.from(b.sample!.logits));
      const reference = llamaForwardReference(WIDE, params, tokens).logits;
      expect(relError(a.logits!, reference.subarray(40 * WIDE.vocabSize))).toBeLessThan(TOLERANCE);
      const sampledRows = [3, 44, 49].flatMap((r) => Array.from(reference.subarray(r * WIDE.vocabSize, (r + 1) * WIDE.vocabSize)));
      expect(relError(a.sample!.logits, sampledRows)).toBeLessThan(TOLERANCE);
    } finally {
      split.destroy();
      whole.destroy();
    }
    // Refusals name the field or the tensor, with the bytes: a budget that is not a size, one
    // smaller than a row of the table, one smaller than a weight that is not split.
    await expect(createGpuLlamaModel(gpu(), WIDE, params, undefined, { maxBindingBytes: 8 })).rejects.toThrow(/options\.maxBindingBytes.*8.*an integer from 16/);
    await expect(createGpuLlamaModel(gpu(), WIDE, params, undefined, { maxBindingBytes: 1.5e12 })).rejects.toThrow(/options\.maxBindingBytes.*maxStorageBufferBindingSize|options\.maxBindingBytes.*maxBufferSize/);
    await expect(createGpuLlamaModel(gpu(), WIDE, params, undefined, { maxBindingBytes: 48 })).rejects.toThrow(/model\.embed_tokens\.weight \(one row\): needs 64 bytes/);
    await expect(createGpuLlamaModel(gpu(), WIDE, params, undefined, { maxBindingBytes: 2048 })).rejects.toThrow(/model\.layers\.0\.self_attn\.qkv_proj\.weight \(q \| k \| v rows\): needs 3\.00 KiB \(3072 bytes\).*2048 bytes, options\.maxBindingBytes\)\. Choose a smaller model/);
  });

  it('parameters that do not fit the config are refused naming the tensor', async () => {
    const params = randomParams(GQA, 1);
    params.set('model.layers.1.self_attn.k_proj.weight', new Float32Array(5));
    await expect(createGpuLlamaModel(gpu(), GQA, params)).rejects.toThrow(/params\["model\.layers\.1\.self_attn\.k_proj\.weight"\]/);
  });
});
