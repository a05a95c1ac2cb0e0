/**
 * The decoder's forward pass (src/model/forward.ts, forward-reference.ts; training in src/train): a case small enough to compute by hand, the
 * attention part against the project's attention reference, causality, the blocked matrix
 * kernel against the textbook product, input validation, and an overfit run that shows
 * forward, backward and Adam working together.
 */
import { describe, expect, it } from 'vitest';
import { AttentionInputError } from '../../src/core/errors';
import { resolveShape } from '../../src/core/types';
import { attentionCpu64 } from '../../src/reference/attention';
import { makeRng } from '../../src/reference/random';
import { forwardReference } from '../../src/model/forward-reference';
import { matmulNT, type Band } from '../../src/model/matmul';
import { countParams, paramShapes, type GptConfig, type GptParams } from '../../src/model/schema';
import { clipGradNorm, createAdam, gradNorm, isDecayed } from '../../src/train/adam';
import { gaussian, initParams } from '../../src/train/init';
import { lossAndGrads, lossOnly } from '../../src/train/loss';

/** Parameters with every value set by hand; `values` must name every tensor. */
function handParams(config: GptConfig, values: Record<string, number[]>): GptParams {
  const params: GptParams = new Map();
  for (const [name, shape] of paramShapes(config)) {
    const given = values[name];
    expect(given, name).toBeDefined();
    expect(given.length, name).toBe(shape.reduce((a, b) => a * b, 1));
    params.set(name, Float32Array.from(given));
  }
  return params;
}

/** GPT-2-shaped parameters with larger random values than the init, so every layer matters. */
function randomParams(config: GptConfig, seed: number, scale = 0.4): GptParams {
  const normal = gaussian(makeRng(seed));
  const params = initParams(config, seed);
  for (const [name, data] of params) {
    const isGain = /ln_(1|2|f)\.weight$/.test(name);
    for (let i = 0; i < data.length; i++) data[i] = (isGain ? 1 : 0) + scale * normal();
  }
  return params;
}

function expectClose(actual: ArrayLike<number>, expected: readonly number[], tolerance: number, label: string): void {
  expect(actual.length, label).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    if (expected[i] === -Infinity) expect(actual[i], `${label}[${i}]`).toBe(-Infinity);
    else expect(Math.abs(actual[i] - expected[i]), `${label}[${i}]: ${actual[i]} vs ${expected[i]}`).toBeLessThanOrEqual(tolerance);
  }
}

describe('forwardReference: a hand-computed model', () => {
  // 1 block, d 2, 1 head (dHead 2), vocab 3, context 2, dMlp 1; tokens [0, 1].
  const config: GptConfig = { vocabSize: 3, context: 2, dModel: 2, heads: 1, layers: 1, dMlp: 1 };
  const params = handParams(config, {
    'wte.weight': [1, 0, /**/ 0, 1, /**/ 1, 1],
    'wpe.weight': [0, 0, /**/ 0, 0.5],
    'h.0.ln_1.weight': [1, 1],
    'h.0.ln_1.bias': [0, 0],
    // Conv1D [in 2, out 6]: W_Q = I (columns 0–1), W_K = I (2–3), W_V = diag(2, 1) (4–5).
    'h.0.attn.c_attn.weight': [1, 0, 1, 0, 2, 0, /**/ 0, 1, 0, 1, 0, 1],
    'h.0.attn.c_attn.bias': [0, 0, 0, 0, 0, 1], // b_V = [0, 1]
    'h.0.attn.c_proj.weight': [1, 0, 0, 1], // identity
    'h.0.attn.c_proj.bias': [0, 0],
    'h.0.ln_2.weight': [1, 1],
    'h.0.ln_2.bias': [0, 0],
    'h.0.mlp.c_fc.weight': [1, 0], // [2, 1]: mlpPre = ln2[:, 0]
    'h.0.mlp.c_fc.bias': [0],
    'h.0.mlp.c_proj.weight': [0, 1], // [1, 2]: mlpOut = [0, GELU(mlpPre)]
    'h.0.mlp.c_proj.bias': [0, 0],
    'ln_f.weight': [1, 1],
    'ln_f.bias': [0.5, 0],
  });
  const trace = forwardReference(config, params, [0, 1]);
  const layer = trace.layers[0];
  const tol = 1e-12;

  // LayerNorm of a 2-vector [a, b]: mean (a+b)/2, deviations ±δ with δ = (a−b)/2, variance δ²,
  // so LN = [u, −u] with u = δ/√(δ² + 1e-5).
  // x₀: [1, 0] + [0, 0] = [1, 0]; [0, 1] + [0, 0.5] = [0, 1.5].
  // ln1 row 0: δ = 0.5, s = 0.5/√0.25001 = 0.9999800005999799 → [s, −s].
  // ln1 row 1: δ = −0.75, s' = 0.75/√0.56251 = 0.9999911112296278 → [−s', s'].
  const s = 0.9999800005999799;
  const sp = 0.9999911112296278;
  it('embeds and normalises', () => {
    expectClose(trace.embed, [1, 0, 0, 1.5], 0, 'embed');
    expectClose(layer.ln1, [s, -s, -sp, sp], tol, 'ln1');
  });

  // q = k = ln1; v = ln1·diag(2, 1) + [0, 1] = [2s, 1 − s], [−2s', 1 + s'].
  // Scores, scale 1/√2: S00 = 2s²/√2 = 1.4141569960932512; S01 masked (−∞);
  // S10 = (−s's − s's)/√2 = −1.4141727085821387; S11 = 2s'²/√2 = 1.414188421245606.
  // Softmax: row 0 = [1, 0]; row 1: p10 = 1/(1 + e^(S11 − S10)) = 1/(1 + e^2.8283611…)
  // = 0.05581069676440044, p11 = 0.9441893032355996.
  const p10 = 0.05581069676440044;
  const p11 = 0.9441893032355996;
  it('computes q, k, v, the masked scores and the softmax', () => {
    expectClose(layer.q, [s, -s, -sp, sp], tol, 'q');
    expectClose(layer.k, [s, -s, -sp, sp], tol, 'k');
    expectClose(layer.v, [2 * s, 1 - s, -2 * sp, 1 + sp], tol, 'v');
    expectClose(layer.scores, [1.4141569960932512, -Infinity, -1.4141727085821387, 1.414188421245606], tol, 'scores');
    expectClose(layer.weights, [1, 0, p10, p11], tol, 'weights');
  });

  // attn row 0 = v0 = [1.9999600011999599, 1.99994000200654e-5];
  // row 1 = p10·v0 + p11·v1 = [−1.7767426599394895, 1.8883713299697449]; c_proj is the identity.
  // resid1 = x₀ + attn = [2.99996000119996, 1.99994000200654e-5], [−1.7767426599394895, 3.388371329969745].
  it('mixes the values, projects and adds the residual', () => {
    expectClose(layer.attn, [1.9999600011999599, 1.9999400020065394e-5, -1.7767426599394895, 1.8883713299697449], tol, 'attn');
    expectClose(layer.attnOut, layer.attn as unknown as number[], 0, 'attnOut');
    expectClose(layer.resid1, [2.99996000119996, 1.9999400020065394e-5, -1.7767426599394895, 3.388371329969745], tol, 'resid1');
  });

  // ln2: δ = 1.4999800005999799 → u = 0.9999977776962968; δ = −2.5825569949546172 → −0.999999250330769.
  // mlpPre = ln2[:, 0]; GELU(x) = 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))):
  // GELU(0.9999977776962968) = 0.8411895839337806 (GELU(1) = 0.8411919906082768: tanh(0.8335…) = 0.68238…),
  // GELU(−0.999999250330769) = −0.15880807158727614. mlpOut = [0, GELU], resid2 = resid1 + mlpOut.
  const act0 = 0.8411895839337806;
  const act1 = -0.15880807158727614;
  it('runs the MLP with GPT-2 tanh GELU', () => {
    expectClose(layer.ln2, [0.9999977776962968, -0.9999977776962968, -0.999999250330769, 0.999999250330769], tol, 'ln2');
    expectClose(layer.mlpPre, [0.9999977776962968, -0.999999250330769], tol, 'mlpPre');
    expectClose(layer.mlpAct, [act0, act1], tol, 'mlpAct');
    expectClose(layer.mlpOut, [0, act0, 0, act1], tol, 'mlpOut');
    expectClose(layer.resid2, [2.99996000119996, 1.9999400020065394e-5 + act0, -1.7767426599394895, 3.388371329969745 + act1], tol, 'resid2');
  });

  // ln_f: row 0 δ = 1.0793752089330797 → u0 = 0.9999957083694254; row 1 δ = −2.5031529591609644 →
  // u1 = −0.999999202015038; plus bias [0.5, 0]. Logits = lnF·wteᵀ with wte rows [1,0], [0,1], [1,1]:
  // [f0, f1, f0 + f1].
  it('normalises and projects onto the tied embedding', () => {
    const u0 = 0.9999957083694254;
    const u1 = 0.999999202015038;
    expectClose(trace.lnF, [u0 + 0.5, -u0, -u1 + 0.5, u1], tol, 'lnF');
    expectClose(trace.logits, [u0 + 0.5, -u0, 0.5, -u1 + 0.5, u1, 0.5], tol, 'logits');
  });
});

describe('forwardReference: attention against attentionCpu64', () => {
  const config: GptConfig = { vocabSize: 13, context: 9, dModel: 8, heads: 2, layers: 2, dMlp: 12 };
  const params = randomParams(config, 3);
  const tokens = [4, 0, 12, 7, 7, 3, 9];

  it('matches q, k, v, scores, weights and P·V of every block (biases folded in as a column of ones)', () => {
    const trace = forwardReference(config, params, tokens);
    const { dModel: d, heads } = config;
    const T = tokens.length;
    for (let l = 0; l < config.layers; l++) {
      const layer = trace.layers[l];
      const w = params.get(`h.${l}.attn.c_attn.weight`)!;
      const b = params.get(`h.${l}.attn.c_attn.bias`)!;
      // attentionCpu64 has no bias: x' = [ln1 | 1] and W' = [W; b] give x'·W' = ln1·W + b exactly.
      const x = new Float64Array(T * (d + 1));
      for (let t = 0; t < T; t++) {
        x.set(layer.ln1.subarray(t * d, (t + 1) * d), t * (d + 1));
        x[t * (d + 1) + d] = 1;
      }
      const part = (from: number): Float64Array => {
        const out = new Float64Array((d + 1) * d);
        for (let r = 0; r < d; r++) for (let c = 0; c < d; c++) out[r * d + c] = w[r * 3 * d + from + c];
        for (let c = 0; c < d; c++) out[d * d + c] = b[from + c];
        return out;
      };
      const shape = resolveShape({ seqLen: T, dModel: d + 1, heads, dHead: d / heads, causal: true });
      // attentionCpu64 only indexes its inputs; handing it the Float64 arrays keeps the comparison exact.
      const f32 = (a: Float64Array) => a as unknown as Float32Array;
      const ref = attentionCpu64(shape, { x: f32(x), wq: f32(part(0)), wk: f32(part(d)), wv: f32(part(2 * d)) });
      for (const [name, ours, theirs] of [
        ['q', layer.q, ref.q],
        ['k', layer.k, ref.k],
        ['v', layer.v, ref.v],
        ['scores', layer.scores, ref.scores],
        ['weights', layer.weights, ref.weights],
        ['attn', layer.attn, ref.output],
      ] as const) {
        expect(ours.length, `${name} of block ${l}`).toBe(theirs.length);
        for (let i = 0; i < ours.length; i++) {
          if (theirs[i] === -Infinity) expect(ours[i], `${name}[${i}] of block ${l}`).toBe(-Infinity);
          else expect(Math.abs(ours[i] - theirs[i]), `${name}[${i}] of block ${l}`).toBeLessThanOrEqual(1e-12 * (1 + Math.abs(theirs[i])));
        }
      }
    }
  });
});

describe('forwardReference: causality and validation', () => {
  const config: GptConfig = { vocabSize: 17, context: 12, dModel: 12, heads: 3, layers: 2, dMlp: 20 };
  const params = randomParams(config, 11);

  it('a later token changes no earlier position, at any layer or in the logits', () => {
    const a = [1, 5, 9, 2, 16, 0, 3, 3, 8, 11];
    const changeAt = 6;
    const b = a.slice();
    b[changeAt] = 14;
    const ta = forwardReference(config, params, a);
    const tb = forwardReference(config, params, b);
    const { dModel: d, vocabSize: V } = config;
    expect(Array.from(tb.logits.subarray(0, changeAt * V))).toEqual(Array.from(ta.logits.subarray(0, changeAt * V)));
    for (let l = 0; l < config.layers; l++) {
      expect(Array.from(tb.layers[l].resid2.subarray(0, changeAt * d))).toEqual(Array.from(ta.layers[l].resid2.subarray(0, changeAt * d)));
    }
    // …and does change its own position and the ones after it.
    for (let t = changeAt; t < a.length; t++) {
      const row = (x: Float64Array) => Array.from(x.subarray(t * V, (t + 1) * V));
      expect(row(tb.logits), `position ${t}`).not.toEqual(row(ta.logits));
    }
  });

  it('masks exactly: −∞ scores and zero weights above the diagonal, rows summing to 1', () => {
    const T = 7;
    const trace = forwardReference(config, params, [0, 1, 2, 3, 4, 5, 6]);
    for (const layer of trace.layers) {
      for (let h = 0; h < config.heads; h++) {
        for (let i = 0; i < T; i++) {
          let sum = 0;
          for (let j = 0; j < T; j++) {
            const at = (h * T + i) * T + j;
            if (j > i) {
              expect(layer.scores[at]).toBe(-Infinity);
              expect(layer.weights[at]).toBe(0);
            } else {
              expect(Number.isFinite(layer.scores[at])).toBe(true);
            }
            sum += layer.weights[at];
          }
          expect(Math.abs(sum - 1)).toBeLessThan(1e-14);
        }
      }
    }
  });

  it('refuses bad tokens, naming the field', () => {
    const fieldOf = (tokens: number[]): string => {
      try {
        forwardReference(config, params, tokens);
      } catch (error) {
        expect(error).toBeInstanceOf(AttentionInputError);
        return (error as AttentionInputError).field;
      }
      return 'no error';
    };
    expect(fieldOf([])).toBe('tokens');
    expect(fieldOf(Array.from({ length: 13 }, () => 1))).toBe('tokens');
    expect(fieldOf([1, 2, 17])).toBe('tokens[2]');
    expect(fieldOf([1, -1])).toBe('tokens[1]');
    expect(fieldOf([1.5])).toBe('tokens[0]');
    expect(fieldOf([Number.NaN])).toBe('tokens[0]');
  });

  it('refuses bad configs and parameters, naming the field', () => {
    const bad = (f: () => unknown, field: string) => {
      expect(f).toThrow(AttentionInputError);
      try {
        f();
      } catch (error) {
        expect((error as AttentionInputError).field).toBe(field);
      }
    };
    bad(() => forwardReference({ ...config, heads: 5 }, params, [1]), 'heads');
    bad(() => forwardReference({ ...config, layers: 0 }, params, [1]), 'layers');
    bad(() => forwardReference({ ...config, dMlp: 2.5 }, params, [1]), 'dMlp');
    const missing = new Map(params);
    missing.delete('h.1.mlp.c_fc.bias');
    bad(() => forwardReference(config, missing, [1]), 'params["h.1.mlp.c_fc.bias"]');
    const short = new Map(params);
    short.set('wpe.weight', new Float32Array(5));
    bad(() => forwardReference(config, short, [1]), 'params["wpe.weight"]');
    const extra = new Map(params);
    extra.set('h.2.ln_1.weight', new Float32Array(12));
    bad(() => forwardReference(config, extra, [1]), 'params["h.2.ln_1.weight"]');
    const nan = new Map(params);
    nan.set('ln_f.bias', Float32Array.from({ length: 12 }, (_, i) => (i === 4 ? Number.NaN : 0)));
    bad(() => forwardReference(config, nan, [1]), 'params["ln_f.bias"][4]');
  });
});

describe('parameters', () => {
  const config: GptConfig = { vocabSize: 512, context: 128, dModel: 64, heads: 4, layers: 2, dMlp: 256 };

  it('are named, shaped and ordered as a GPT-2 state dict', () => {
    const names = [...paramShapes(config).keys()];
    expect(names.slice(0, 4)).toEqual(['wte.weight', 'wpe.weight', 'h.0.ln_1.weight', 'h.0.ln_1.bias']);
    expect(names.slice(-2)).toEqual(['ln_f.weight', 'ln_f.bias']);
    expect(names).toHaveLength(2 + 12 * 2 + 2);
    expect(paramShapes(config).get('h.1.attn.c_attn.weight')).toEqual([64, 192]);
    expect(paramShapes(config).get('h.1.mlp.c_proj.weight')).toEqual([256, 64]);
    // wte 512·64 + wpe 128·64 + 2 blocks × (4d² + 2·d·dMlp + 9d + dMlp = 49984) + ln_f 2·64.
    expect(countParams(config)).toBe(32768 + 8192 + 2 * 49984 + 128);
  });

  it('are initialised as GPT-2, reproducibly from the seed', () => {
    const a = initParams(config, 42);
    const b = initParams(config, 42);
    const c = initParams(config, 43);
    expect(a.get('wte.weight')).toEqual(b.get('wte.weight'));
    expect(a.get('wte.weight')).not.toEqual(c.get('wte.weight'));
    const std = (x: Float32Array) => Math.sqrt(x.reduce((s, v) => s + v * v, 0) / x.length);
    expect(std(a.get('wte.weight')!)).toBeCloseTo(0.02, 3);
    expect(std(a.get('h.0.mlp.c_fc.weight')!)).toBeCloseTo(0.02, 3);
    expect(std(a.get('h.1.mlp.c_proj.weight')!)).toBeCloseTo(0.02 / Math.sqrt(4), 3);
    expect(std(a.get('h.0.attn.c_proj.weight')!)).toBeCloseTo(0.02 / Math.sqrt(4), 3);
    expect(a.get('h.0.attn.c_attn.bias')!.every((v) => v === 0)).toBe(true);
    expect(a.get('h.1.ln_2.weight')!.every((v) => v === 1)).toBe(true);
    expect(a.get('ln_f.bias')!.every((v) => v === 0)).toBe(true);
    // A fresh model predicts nearly uniformly: loss ≈ ln(vocab).
    const rng = makeRng(1);
    const tokens = Int32Array.from({ length: 2 * 33 }, () => Math.floor(rng() * 512));
    expect(lossOnly(config, a, { tokens, batch: 2, length: 32 })).toBeCloseTo(Math.log(512), 1);
  });
});

describe('matmulNT', () => {
  function naive(a: Float64Array, b: Float64Array, m: number, n: number, depth: number): Float64Array {
    const c = new Float64Array(m * n);
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) for (let k = 0; k < depth; k++) c[i * n + j] += a[i * depth + k] * b[j * depth + k];
    return c;
  }

  it('equals the textbook product for every band, odd sizes, offsets and strides', () => {
    const rng = makeRng(9);
    for (const band of ['full', 'lower', 'kUpToRow', 'kFromRow'] as Band[]) {
      for (const [m, n, depth] of [
        [1, 1, 1],
        [5, 5, 5],
        [7, 7, 7],
        [6, 9, 6],
        [9, 3, 9],
        [8, 8, 3],
      ]) {
        if ((band === 'kUpToRow' || band === 'kFromRow') && depth !== m) continue;
        if (band === 'lower' && n < m) continue;
        const a = Float64Array.from({ length: m * depth }, () => rng() - 0.5);
        // The k-bands require A to be causal (zero above / below the diagonal).
        for (let i = 0; i < m; i++) {
          for (let k = 0; k < depth; k++) {
            if ((band === 'kUpToRow' && k > i) || (band === 'kFromRow' && k < i)) a[i * depth + k] = 0;
          }
        }
        const b = Float64Array.from({ length: n * depth }, () => rng() - 0.5);
        const want = naive(a, b, m, n, depth);
        // Embed A, B, C at offsets with wider rows, to exercise offsets and strides.
        const pad = 3;
        const aw = new Float64Array(2 + m * (depth + pad));
        for (let i = 0; i < m; i++) aw.set(a.subarray(i * depth, (i + 1) * depth), 2 + i * (depth + pad));
        const bw = new Float64Array(5 + n * (depth + pad));
        for (let j = 0; j < n; j++) bw.set(b.subarray(j * depth, (j + 1) * depth), 5 + j * (depth + pad));
        for (const accumulate of [false, true]) {
          const c = new Float64Array(1 + m * (n + pad)).fill(7);
          matmulNT(aw, 2, depth + pad, bw, 5, depth + pad, c, 1, n + pad, m, n, depth, accumulate, band);
          for (let i = 0; i < m; i++) {
            for (let j = 0; j < n + pad; j++) {
              const got = c[1 + i * (n + pad) + j];
              const label = `${band} ${m}×${n}×${depth} acc=${accumulate} C[${i}][${j}]`;
              if (j >= n || (band === 'lower' && j > i)) expect(got, label).toBe(7); // untouched
              else expect(got, label).toBeCloseTo(want[i * n + j] + (accumulate ? 7 : 0), 12);
            }
          }
        }
      }
    }
  });
});

describe('training', () => {
  it('overfits one short sequence (repeated tokens with different successors, so position must be used): Adam drives its loss below 0.1 within 400 steps', () => {
    const config: GptConfig = { vocabSize: 16, context: 16, dModel: 16, heads: 2, layers: 1, dMlp: 32 };
    const params = initParams(config, 5);
    const rng = makeRng(8);
    const tokens = Int32Array.from({ length: 17 }, () => Math.floor(rng() * 16));
    const batch = { tokens, batch: 1, length: 16 };
    const adam = createAdam(params, { lr: 1e-2, weightDecay: 0 });
    const first = lossOnly(config, params, batch);
    let loss = first;
    let steps = 0;
    for (; steps < 400 && loss >= 0.1; steps++) {
      const result = lossAndGrads(config, params, batch);
      loss = result.loss;
      clipGradNorm(result.grads, 1);
      adam.step(result.grads);
    }
    loss = lossOnly(config, params, batch);
    expect(first).toBeGreaterThan(2.5); // ≈ ln 16 = 2.77 at init
    expect(loss).toBeLessThan(0.1);
    expect(steps).toBeLessThan(400);
  });

  it('AdamW: the first step is lr·sign(g), decay only on block matrices, non-finite gradients refused', () => {
    const config: GptConfig = { vocabSize: 5, context: 3, dModel: 4, heads: 2, layers: 1, dMlp: 6 };
    const params = initParams(config, 1);
    const before = new Map([...params].map(([name, data]) => [name, data.slice()]));
    const grads = new Map([...params].map(([name, data]) => [name, Float32Array.from(data, (_, i) => (i % 2 === 0 ? 0.5 : -2))]));
    const adam = createAdam(params, { lr: 0.01, weightDecay: 0.1 });
    adam.step(grads);
    expect(adam.steps).toBe(1);
    // Step 1 with bias correction: m̂ = g, v̂ = g², so the update is lr·g/(|g| + ε) ≈ ±lr.
    for (const [name, data] of params) {
      const shrink = isDecayed(name) ? 1 - 0.01 * 0.1 : 1;
      data.forEach((v, i) => {
        const g = grads.get(name)![i];
        const want = before.get(name)![i] * shrink - (0.01 * g) / (Math.abs(g) + 1e-8);
        expect(v, `${name}[${i}]`).toBeCloseTo(want, 6);
      });
    }
    expect(['h.0.attn.c_attn.weight', 'h.0.attn.c_proj.weight', 'h.0.mlp.c_fc.weight', 'h.0.mlp.c_proj.weight'].every(isDecayed)).toBe(true);
    expect(['wte.weight', 'wpe.weight', 'h.0.ln_1.weight', 'h.0.attn.c_attn.bias', 'ln_f.bias'].some(isDecayed)).toBe(false);
    const snapshot = params.get('wte.weight')!.slice();
    grads.get('ln_f.bias')![2] = Number.NaN;
    expect(() => adam.step(grads)).toThrow(AttentionInputError);
    expect(adam.steps).toBe(1);
    expect(params.get('wte.weight')).toEqual(snapshot);
  });

  it('clipGradNorm scales to maxNorm only above it and returns the norm before clipping', () => {
    const grads = new Map([
      ['a', Float32Array.from([3, 0])],
      ['b', Float32Array.from([0, 4])],
    ]);
    expect(clipGradNorm(grads, 10)).toBeCloseTo(5, 12);
    expect(Array.from(grads.get('a')!)).toEqual([3, 0]);
    expect(clipGradNorm(grads, 1)).toBeCloseTo(5, 12);
    expect(gradNorm(grads)).toBeCloseTo(1, 6);
    expect(grads.get('b')![1]).toBeCloseTo(0.8, 6);
  });
});
