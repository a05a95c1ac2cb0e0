/**
 * The Llama-family f64 reference (src/model/llama-reference.ts) and RoPE (src/model/rope.ts),
 * against independent sources: numbers worked out by hand, a second forward pass written here
 * as plain loops (RoPE as complex multiplication, grouped-query attention by repeating the
 * key/value heads as HF's repeat_kv does, its own llama3 frequency bands), and identities
 * (RoPE keeps norms and makes q·k depend on the position difference only; GQA equals MHA with
 * repeated k/v weights; a tied model equals an untied one whose lm_head copies the embedding).
 */
import { describe, expect, it } from 'vitest';
import { AttentionInputError } from '../../src/core/errors';
import { makeRng } from '../../src/reference/random';
import { checkLlamaConfig, llamaForwardReference, llamaTensorShapes, type LlamaConfig, type LlamaTrace } from '../../src/model/llama-reference';
import { applyRope, ropeInverseFrequencies } from '../../src/model/rope';
import { thrown } from './expect-thrown';

/** A tiny config; `change` overrides fields. */
function tiny(change: Partial<LlamaConfig> = {}): LlamaConfig {
  return {
    modelType: 'llama', vocabSize: 11, context: 16, dModel: 4, heads: 2, kvHeads: 1, layers: 1, dMlp: 6, headDim: 2,
    rmsNormEps: 1e-5, ropeTheta: 10000, ropeScaling: null, tiedEmbeddings: true, qkvBias: false, oBias: false, ...change,
  };
}

/** Random parameters for every tensor of `config` (uniform in ±scale, norms around 1). */
function randomParams(config: LlamaConfig, seed: number, scale = 0.5): Map<string, Float64Array> {
  const rng = makeRng(seed);
  const params = new Map<string, Float64Array>();
  for (const [name, shape] of llamaTensorShapes(config)) {
    const values = new Float64Array(shape.reduce((a, b) => a * b, 1));
    const norm = name.endsWith('norm.weight');
    for (let i = 0; i < values.length; i++) values[i] = norm ? 1 + (rng() - 0.5) * 0.4 : (rng() * 2 - 1) * scale;
    params.set(name, values);
  }
  return params;
}

// ---------------------------------------------------------------------------------------------
// A second implementation: plain loops over [out, in] weights, written from the formulas
// ---------------------------------------------------------------------------------------------

/** The rotation frequencies, band by band as the Llama 3 paper's code describes them. */
function naiveFrequencies(c: LlamaConfig): number[] {
  const out: number[] = [];
  for (let i = 0; i < c.headDim / 2; i++) {
    const base = 1 / c.ropeTheta ** ((2 * i) / c.headDim);
    const s = c.ropeScaling;
    if (s === null) {
      out.push(base);
      continue;
    }
    const wavelength = (2 * Math.PI) / base;
    const smooth = (s.originalContext / wavelength - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
    if (wavelength < s.originalContext / s.highFreqFactor) out.push(base);
    else if (wavelength > s.originalContext / s.lowFreqFactor) out.push(base / s.factor);
    else out.push(base / s.factor + smooth * (base - base / s.factor));
  }
  return out;
}

/** One forward pass, nothing shared with the code under test. Returns per-layer q, k, v, weights, output and the logits. */
function naiveForward(c: LlamaConfig, P: Map<string, Float64Array>, tokens: number[]) {
  const T = tokens.length;
  const hd = c.headDim;
  const freqs = naiveFrequencies(c);
  const norm = (x: number[][], w: Float64Array) =>
    x.map((row) => {
      const rms = Math.sqrt(row.reduce((s, v) => s + v * v, 0) / row.length + c.rmsNormEps);
      return row.map((v, j) => (v / rms) * w[j]);
    });
  const lin = (x: number[][], name: string, nOut: number, withBias: boolean) =>
    x.map((row) =>
      Array.from({ length: nOut }, (_, o) => {
        let s = withBias ? P.get(`${name}.bias`)![o] : 0;
        for (let j = 0; j < row.length; j++) s += P.get(`${name}.weight`)![o * row.length + j] * row[j];
        return s;
      }),
    );
  /** Rotate head-sized slices: the pair (a, b) = (x[i], x[i + hd/2]) as a + ib times e^{i·t·f}. */
  const rope = (x: number[][]) =>
    x.map((row, t) => {
      const out = row.slice();
      for (let h0 = 0; h0 < row.length; h0 += hd) {
        for (let i = 0; i < hd / 2; i++) {
          const [a, b] = [row[h0 + i], row[h0 + i + hd / 2]];
          const [re, im] = [Math.cos(t * freqs[i]), Math.sin(t * freqs[i])];
          out[h0 + i] = a * re - b * im;
          out[h0 + i + hd / 2] = a * im + b * re;
        }
      }
      return out;
    });
  /** repeat_kv: kv head g becomes query heads g·group … (g+1)·group − 1. */
  const repeat = (x: number[][]) => x.map((row) => Array.from({ length: c.heads * hd }, (_, j) => row[Math.floor(Math.floor(j / hd) / (c.heads / c.kvHeads)) * hd + (j % hd)]));
  let x = tokens.map((id) => Array.from(P.get('model.embed_tokens.weight')!.subarray(id * c.dModel, (id + 1) * c.dModel)));
  const layers: Array<{ q: number[][]; k: number[][]; v: number[][]; weights: number[][][]; output: number[][] }> = [];
  for (let l = 0; l < c.layers; l++) {
    const p = `model.layers.${l}`;
    const h = norm(x, P.get(`${p}.input_layernorm.weight`)!);
    const q = rope(lin(h, `${p}.self_attn.q_proj`, c.heads * hd, c.qkvBias));
    const k = rope(lin(h, `${p}.self_attn.k_proj`, c.kvHeads * hd, c.qkvBias));
    const v = lin(h, `${p}.self_attn.v_proj`, c.kvHeads * hd, c.qkvBias);
    const [kr, vr] = [repeat(k), repeat(v)];
    const weights: number[][][] = [];
    const attn = Array.from({ length: T }, () => new Array<number>(c.heads * hd).fill(0));
    for (let head = 0; head < c.heads; head++) {
      const map: number[][] = [];
      for (let i = 0; i < T; i++) {
        const e = Array.from({ length: T }, (_, j) => {
          if (j > i) return 0;
          let dot = 0;
          for (let d = 0; d < hd; d++) dot += q[i][head * hd + d] * kr[j][head * hd + d];
          return Math.exp(dot / Math.sqrt(hd));
        });
        const total = e.reduce((a, b) => a + b, 0);
        map.push(e.map((w) => w / total));
        for (let j = 0; j <= i; j++) for (let d = 0; d < hd; d++) attn[i][head * hd + d] += map[i][j] * vr[j][head * hd + d];
      }
      weights.push(map);
    }
    const r1 = lin(attn, `${p}.self_attn.o_proj`, c.dModel, c.oBias).map((row, t) => row.map((v2, j) => v2 + x[t][j]));
    const h2 = norm(r1, P.get(`${p}.post_attention_layernorm.weight`)!);
    const gate = lin(h2, `${p}.mlp.gate_proj`, c.dMlp, false);
    const up = lin(h2, `${p}.mlp.up_proj`, c.dMlp, false);
    const act = gate.map((row, t) => row.map((g, j) => (g * up[t][j]) / (1 + Math.exp(-g))));
    x = lin(act, `${p}.mlp.down_proj`, c.dModel, false).map((row, t) => row.map((v2, j) => v2 + r1[t][j]));
    layers.push({ q, k, v, weights, output: x });
  }
  const f = norm(x, P.get('model.norm.weight')!);
  const logits = lin(f, c.tiedEmbeddings ? 'model.embed_tokens' : 'lm_head', c.vocabSize, false);
  return { layers, logits };
}

/** The largest |a − b| over two equally long lists. */
function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

/** Compare a trace with the naive pass, layer by layer and in the logits. */
function expectMatchesNaive(trace: LlamaTrace, naive: ReturnType<typeof naiveForward>): void {
  naive.layers.forEach((layer, l) => {
    const got = trace.layers[l];
    expect(maxDiff(got.q, layer.q.flat())).toBeLessThan(1e-12);
    expect(maxDiff(got.k, layer.k.flat())).toBeLessThan(1e-12);
    expect(maxDiff(got.v, layer.v.flat())).toBeLessThan(1e-12);
    expect(maxDiff(got.weights, layer.weights.flat(2))).toBeLessThan(1e-12);
    expect(maxDiff(got.output, layer.output.flat())).toBeLessThan(1e-11);
  });
  expect(maxDiff(trace.logits, naive.logits.flat())).toBeLessThan(1e-11);
}

// ---------------------------------------------------------------------------------------------

describe('RoPE', () => {
  it('rotates a 4-entry head at position 1 as worked out by hand', () => {
    // θ = 100, d = 4: frequencies 100^0 = 1 and 100^(−2/4) = 0.1; pairs (x0, x2) by 1 rad, (x1, x3) by 0.1 rad.
    const inv = ropeInverseFrequencies({ headDim: 4, ropeTheta: 100, ropeScaling: null });
    expect(Array.from(inv)).toEqual([1, 0.1]);
    const out = applyRope(Float64Array.of(1, 2, 3, 4), [1], 4, inv);
    // 1·cos 1 − 3·sin 1, 2·cos .1 − 4·sin .1, 3·cos 1 + 1·sin 1, 4·cos .1 + 2·sin .1
    const byHand = [-1.9841106485555495, 1.5906746639687388, 2.4623779024123156, 4.179683494405759];
    expect(maxDiff(out, byHand)).toBeLessThan(1e-14);
    // Position 0 is no rotation; each head of a row turns alike; the input is left alone.
    const x = Float64Array.of(1, 2, 3, 4, 1, 2, 3, 4);
    expect(Array.from(applyRope(x, [0], 4, inv))).toEqual(Array.from(x));
    const two = applyRope(x, [1], 4, inv);
    expect(maxDiff(two, [...byHand, ...byHand])).toBeLessThan(1e-14);
    expect(Array.from(x)).toEqual([1, 2, 3, 4, 1, 2, 3, 4]);
  });

  it('keeps norms, and makes q·k depend only on the difference of the positions', () => {
    const rng = makeRng(7);
    const hd = 8;
    const inv = ropeInverseFrequencies({ headDim: hd, ropeTheta: 10000, ropeScaling: null });
    const q = Float64Array.from({ length: hd }, () => rng() * 2 - 1);
    const k = Float64Array.from({ length: hd }, () => rng() * 2 - 1);
    const norm = (v: ArrayLike<number>) => Math.hypot(...Array.from(v));
    expect(Math.abs(norm(applyRope(q, [123.5], hd, inv)) - norm(q))).toBeLessThan(1e-13);
    const dot = (m: number, n: number) => {
      const [a, b] = [applyRope(q, [m], hd, inv), applyRope(k, [n], hd, inv)];
      return a.reduce((s, v, i) => s + v * b[i], 0);
    };
    expect(Math.abs(dot(7, 3) - dot(4, 0))).toBeLessThan(1e-12);
    expect(Math.abs(dot(1007, 1003) - dot(4, 0))).toBeLessThan(1e-10);
    // …and does depend on it: another difference gives another product.
    expect(Math.abs(dot(7, 2) - dot(4, 0))).toBeGreaterThan(1e-3);
  });

  it('llama3 scaling keeps high frequencies, divides low ones by the factor and blends in between', () => {
    // θ = 10000, d = 8: 1, 0.1, 0.01, 0.001, wavelengths 2π·(1, 10, 100, 1000) = 6.3, 63, 628, 6283.
    // L = 1024, low 1, high 4: wavelengths under 256 stay, over 1024 are scaled, 628 is blended.
    const scaling = { ropeType: 'llama3' as const, factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalContext: 1024 };
    const inv = ropeInverseFrequencies({ headDim: 8, ropeTheta: 10000, ropeScaling: scaling });
    // s = (1024 / (2π·100) − 1) / (4 − 1) = 0.2099155…; (1 − s)·0.01/8 + s·0.01
    const blended = 0.003086760967011275;
    expect(maxDiff(inv, [1, 0.1, blended, 0.001 / 8])).toBeLessThan(1e-17);
    // Llama 3.2's own numbers (θ = 500000, d = 64, factor 32, L = 8192): wavelength 2π·500000^(i/32)
    // is under 2048 for i ≤ 14, over 8192 for i ≥ 18 (ln 1303.8 / ln 500000 · 32 = 17.49).
    const plain = ropeInverseFrequencies({ headDim: 64, ropeTheta: 500000, ropeScaling: null });
    const llama32 = ropeInverseFrequencies({ headDim: 64, ropeTheta: 500000, ropeScaling: { ...scaling, factor: 32, originalContext: 8192 } });
    const kinds = Array.from(llama32, (f, i) => (f === plain[i] ? 'kept' : f === plain[i] / 32 ? 'scaled' : 'blended'));
    expect(kinds.indexOf('blended')).toBe(15);
    expect(kinds.filter((kind) => kind === 'kept')).toHaveLength(15);
    expect(kinds.filter((kind) => kind === 'blended')).toHaveLength(3);
    expect(kinds.slice(18).every((kind) => kind === 'scaled')).toBe(true);
    // The blend lies between its two ends.
    for (let i = 15; i < 18; i++) expect(llama32[i] < plain[i] && llama32[i] > plain[i] / 32).toBe(true);
    // …and the whole list agrees with the plain-loop bands (a second implementation).
    expect(maxDiff(llama32, naiveFrequencies(tiny({ headDim: 64, ropeTheta: 500000, ropeScaling: { ...scaling, factor: 32, originalContext: 8192 } })))).toBeLessThan(1e-15);
  });

  it('refuses an odd head, a short frequency list, a ragged input and bad scaling, naming the field', () => {
    const inv = Float64Array.of(1, 0.1);
    expect(thrown(AttentionInputError, () => applyRope(new Float64Array(6), [0], 3, inv)).field).toBe('headDim');
    expect(thrown(AttentionInputError, () => applyRope(new Float64Array(6), [0], 6, inv)).field).toBe('invFreq');
    expect(thrown(AttentionInputError, () => applyRope(new Float64Array(6), [0], 4, inv)).field).toBe('x');
    expect(thrown(AttentionInputError, () => applyRope(new Float64Array(4), [NaN], 4, inv)).field).toBe('positions[0]');
    const scaling = { ropeType: 'llama3' as const, factor: 8, lowFreqFactor: 4, highFreqFactor: 4, originalContext: 1024 };
    const error = thrown(AttentionInputError, () => ropeInverseFrequencies({ headDim: 8, ropeTheta: 10000, ropeScaling: scaling }));
    expect(error.field).toBe('ropeScaling.highFreqFactor');
    expect(error.message).toContain('got 4; allowed: a finite number > lowFreqFactor 4');
    expect(thrown(AttentionInputError, () => ropeInverseFrequencies({ headDim: 8, ropeTheta: 10000, ropeScaling: { ...scaling, highFreqFactor: 5, factor: 0.5 } })).field).toBe('ropeScaling.factor');
    expect(thrown(AttentionInputError, () => ropeInverseFrequencies({ headDim: 8, ropeTheta: 1, ropeScaling: null })).field).toBe('ropeTheta');
  });
});

describe('llamaForwardReference', () => {
  it('normalises by the root mean square, as worked out by hand', () => {
    const config = tiny();
    const params = randomParams(config, 1);
    params.get('model.embed_tokens.weight')!.set([1, 2, 3, 4], 3 * 4);
    params.set('model.layers.0.input_layernorm.weight', Float64Array.of(1, 0.5, 2, -1));
    // mean(x²) = (1 + 4 + 9 + 16)/4 = 7.5; (1, 1, 6, −4) / √(7.5 + 1e-5)
    const trace = llamaForwardReference(config, params, [3]);
    expect(maxDiff(trace.layers[0].norm1, [0.3651481282381064, 0.3651481282381064, 2.1908887694286383, -1.4605925129524255])).toBeLessThan(1e-15);
    expect(Array.from(trace.embed)).toEqual([1, 2, 3, 4]);
  });

  const variants: Array<[string, LlamaConfig]> = [
    ['d = 4, 2 heads over 1 kv head, tied', tiny()],
    ['4 heads over 2 kv heads, head_dim 6 ≠ 8/4, llama3 bands, untied, Qwen2 biases, 2 layers', tiny({
      modelType: 'qwen2', dModel: 8, heads: 4, kvHeads: 2, headDim: 6, layers: 2, dMlp: 10, qkvBias: true, tiedEmbeddings: false,
      ropeTheta: 10, ropeScaling: { ropeType: 'llama3', factor: 4, lowFreqFactor: 1, highFreqFactor: 2, originalContext: 20 },
    })],
    ['4 heads over 1 kv head, Llama attention_bias (o_proj too), 3 layers', tiny({ dModel: 8, heads: 4, kvHeads: 1, headDim: 2, layers: 3, qkvBias: true, oBias: true, rmsNormEps: 1e-6 })],
    ['plain multi-head (kvHeads = heads)', tiny({ dModel: 6, heads: 3, kvHeads: 3, headDim: 2 })],
  ];
  for (const [what, config] of variants) {
    it(`matches a plain-loop forward pass per layer and in the logits: ${what}`, () => {
      const params = randomParams(config, 11);
      const tokens = [1, 5, 0, 10, 5, 2, 7];
      const trace = llamaForwardReference(config, params, tokens);
      expectMatchesNaive(trace, naiveForward(config, params, tokens));
      const T = tokens.length;
      expect(trace.layers[0].scores.length).toBe(config.heads * T * T);
      expect(trace.logits.length).toBe(T * config.vocabSize);
      // Causal rows: masked scores are −∞, weights 0 there and summing to 1.
      const { scores, weights } = trace.layers[config.layers - 1];
      expect(scores[1]).toBe(-Infinity);
      for (let r = 0; r < config.heads * T; r++) {
        const row = weights.subarray(r * T, (r + 1) * T);
        expect(Math.abs(row.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-14);
        expect(row.slice((r % T) + 1).every((w) => w === 0)).toBe(true);
      }
    });
  }

  it('the llama3 variant hits all three frequency bands', () => {
    const config = variants[1][1];
    const plain = ropeInverseFrequencies({ ...config, ropeScaling: null });
    const inv = llamaForwardReference(config, randomParams(config, 2), [1]).invFreq;
    // θ = 10, d = 6: wavelengths 2π·(1, 2.15, 4.64) = 6.3 < 10 (kept), 13.5 in [10, 20] (blended), 29.2 > 20 (÷4).
    expect(inv[0]).toBe(plain[0]);
    expect(inv[1] < plain[1] && inv[1] > plain[1] / 4).toBe(true);
    expect(inv[2]).toBe(plain[2] / 4);
  });

  it('grouped-query attention equals multi-head attention with each kv head repeated for its group', () => {
    const gqa = tiny({ dModel: 8, heads: 4, kvHeads: 2, headDim: 2, layers: 2 });
    const mha = { ...gqa, kvHeads: 4 };
    const params = randomParams(gqa, 5);
    const repeated = new Map(params);
    /** kv heads [a, b] → [a, a, b, b] (query heads 0, 1 read kv head 0; 2, 3 read kv head 1). */
    const repeatRows = (w: Float64Array, order: number[]) => Float64Array.from(order.flatMap((g) => Array.from(w.subarray(g * 2 * 8, (g + 1) * 2 * 8))));
    for (let l = 0; l < 2; l++) {
      for (const name of ['k', 'v']) {
        const key = `model.layers.${l}.self_attn.${name}_proj.weight`;
        repeated.set(key, repeatRows(params.get(key)!, [0, 0, 1, 1]));
      }
    }
    const tokens = [3, 1, 4, 1, 5, 9];
    const a = llamaForwardReference(gqa, params, tokens);
    const b = llamaForwardReference(mha, repeated, tokens);
    expect(maxDiff(a.layers[1].weights, b.layers[1].weights)).toBeLessThan(1e-13);
    expect(maxDiff(a.logits, b.logits)).toBeLessThan(1e-12);
    // The other pairing (query head h with kv head h mod 2) is a different model: the test can tell.
    for (const name of ['k', 'v']) repeated.set(`model.layers.0.self_attn.${name}_proj.weight`, repeatRows(params.get(`model.layers.0.self_attn.${name}_proj.weight`)!, [0, 1, 0, 1]));
    expect(maxDiff(a.layers[0].weights, llamaForwardReference(mha, repeated, tokens).layers[0].weights)).toBeGreaterThan(1e-3);
  });

  it('adds the Qwen2 q/k/v biases (and only those), and zero biases change nothing', () => {
    const qwen = tiny({ modelType: 'qwen2', qkvBias: true });
    const params = randomParams(qwen, 9);
    const trace = llamaForwardReference(qwen, params, [4, 2]);
    const bare = new Map([...params].filter(([name]) => !name.endsWith('.bias')));
    const noBias = llamaForwardReference({ ...qwen, qkvBias: false }, bare, [4, 2]);
    const qBias = params.get('model.layers.0.self_attn.q_proj.bias')!;
    for (let t = 0; t < 2; t++) for (let j = 0; j < 4; j++) expect(trace.layers[0].qPre[t * 4 + j] - noBias.layers[0].qPre[t * 4 + j]).toBeCloseTo(qBias[j], 14);
    expect(maxDiff(trace.logits, noBias.logits)).toBeGreaterThan(1e-3);
    const zeros = new Map(params);
    for (const name of ['q', 'k', 'v']) zeros.set(`model.layers.0.self_attn.${name}_proj.bias`, new Float64Array(name === 'q' ? 4 : 2));
    expect(maxDiff(llamaForwardReference(qwen, zeros, [4, 2]).logits, noBias.logits)).toBe(0);
  });

  it('ties lm_head to embed_tokens, or uses lm_head.weight when untied', () => {
    const tied = tiny();
    const params = randomParams(tied, 3);
    const untied = { ...tied, tiedEmbeddings: false };
    const copy = new Map(params).set('lm_head.weight', params.get('model.embed_tokens.weight')!.slice());
    const a = llamaForwardReference(tied, params, [1, 2, 3]);
    expect(maxDiff(a.logits, llamaForwardReference(untied, copy, [1, 2, 3]).logits)).toBe(0);
    const head = randomParams(untied, 4).get('lm_head.weight')!;
    const b = llamaForwardReference(untied, copy.set('lm_head.weight', head), [1, 2, 3]);
    // logit[t][v] = finalNorm[t] · lm_head[v], by hand for the last token and token 7.
    const byHand = [0, 1, 2, 3].reduce((s, j) => s + b.finalNorm[2 * 4 + j] * head[7 * 4 + j], 0);
    expect(b.logits[2 * 11 + 7]).toBeCloseTo(byHand, 14);
    expect(maxDiff(a.logits, b.logits)).toBeGreaterThan(1e-3);
  });

  it('is causal, and Float32 parameters give the same numbers as their Float64 copies', () => {
    const config = variants[1][1];
    const params = randomParams(config, 6);
    const f32 = new Map([...params].map(([name, v]) => [name, Float32Array.from(v)] as const));
    const widened = new Map([...f32].map(([name, v]) => [name, Float64Array.from(v)] as const));
    const a = llamaForwardReference(config, f32, [1, 2, 3, 4]);
    expect(maxDiff(a.logits, llamaForwardReference(config, widened, [1, 2, 3, 4]).logits)).toBe(0);
    const b = llamaForwardReference(config, f32, [1, 2, 3, 9]);
    expect(Array.from(b.logits.subarray(0, 3 * 11))).toEqual(Array.from(a.logits.subarray(0, 3 * 11)));
    expect(maxDiff(b.logits.subarray(3 * 11), a.logits.subarray(3 * 11))).toBeGreaterThan(1e-6);
  });

  it('refuses bad configs, parameters and tokens, naming the field', () => {
    const config = tiny();
    const params = randomParams(config, 1);
    const field = (fn: () => unknown) => thrown(AttentionInputError, fn).field;
    expect(field(() => checkLlamaConfig({ ...config, heads: 3, kvHeads: 2 }))).toBe('kvHeads');
    expect(field(() => checkLlamaConfig({ ...config, headDim: 3 }))).toBe('headDim');
    expect(field(() => checkLlamaConfig({ ...config, rmsNormEps: 0 }))).toBe('rmsNormEps');
    expect(field(() => checkLlamaConfig({ ...config, dMlp: 1.5 }))).toBe('dMlp');
    expect(field(() => checkLlamaConfig({ ...config, vocabSize: 2 ** 30, dModel: 4 }))).toBe('config');
    const missing = new Map(params);
    missing.delete('model.norm.weight');
    expect(field(() => llamaForwardReference(config, missing, [1]))).toBe('params["model.norm.weight"]');
    const extra = new Map(params).set('model.layers.0.self_attn.q_proj.bias', new Float64Array(4));
    const error = thrown(AttentionInputError, () => llamaForwardReference(config, extra, [1]));
    expect(error.field).toBe('params["model.layers.0.self_attn.q_proj.bias"]');
    expect(error.message).toContain('an extra tensor');
    const short = new Map(params).set('model.layers.0.mlp.up_proj.weight', new Float64Array(23));
    expect(thrown(AttentionInputError, () => llamaForwardReference(config, short, [1])).message).toContain('got length 23; allowed: length 24 (shape [6, 4])');
    const nan = new Map(params).set('model.norm.weight', Float64Array.of(1, NaN, 1, 1));
    expect(field(() => llamaForwardReference(config, nan, [1]))).toBe('params["model.norm.weight"][1]');
    expect(field(() => llamaForwardReference(config, params, []))).toBe('tokens');
    expect(field(() => llamaForwardReference(config, params, new Array<number>(17).fill(0)))).toBe('tokens');
    expect(field(() => llamaForwardReference(config, params, [1, 11]))).toBe('tokens[1]');
  });
});
