/**
 * The WebAssembly SIMD matrix kernel (src/train/simd-matmul.ts, wasm-kernels.ts, wasm-encoder.ts) against the JS kernel it stands in for
 * (src/model/matmul.ts's matmulNT), and the whole training step with each.
 *
 * - 'f64' (sums in double, the kernel training uses): the SAME bits as matmulNT, for Float64 and
 *   Float32 storage, every band, odd sizes, offsets, strides and accumulate.
 * - 'f32' (sums in float32 lanes): against matmulNT in Float64, every entry within
 *   1e-5 · Σ_k |A[i][k]|·|B[j][k]|. Why that bound: the inputs are rounded to float32 (relative
 *   error u = 2⁻²⁴ each, so ≤ 2u per product, the product itself rounds once more), and a
 *   recursive float32 sum of `depth` terms errs by at most (depth − 1)·u·Σ|terms| (Higham,
 *   §3.1), so |error| ≤ (depth + 2)·u·Σ|a||b| to first order: 131 · 5.96e-8 = 7.8e-6 < 1e-5 at
 *   the largest depth tested (129). It is relative to Σ|a||b|, not |C|, because a sum that
 *   cancels to near 0 has no relative accuracy in any precision.
 */
import { describe, expect, it } from 'vitest';
import { AttentionInputError } from '../../src/core/errors';
import { makeRng } from '../../src/reference/random';
import { matmulNT, type Band, type Floats } from '../../src/model/matmul';
import type { GptConfig, GptParams } from '../../src/model/schema';
import { gaussian, initParams } from '../../src/train/init';
import { lossAndGrads, lossOnly } from '../../src/train/loss';
import { createSimdMatmul, simdSupported } from '../../src/train/simd-matmul';
import { simdModuleBytes } from '../../src/train/wasm-kernels';
import { createWorkspace, type MatmulChoice } from '../../src/train/workspace';

const SIZES = [1, 2, 3, 5, 7, 17, 33, 64, 129];
const BANDS: Band[] = ['full', 'lower', 'kUpToRow', 'kFromRow'];
const SENTINEL = 7.25;

interface Case {
  band: Band;
  m: number;
  n: number;
  depth: number;
  /** A, B and C embedded at offsets in rows wider than they are. */
  aOff: number;
  lda: number;
  bOff: number;
  ldb: number;
  cOff: number;
  ldc: number;
  a: Float64Array;
  b: Float64Array;
  c: Float64Array;
}

/** Random A, B, C of the sizes, with the zeros a k-band requires of A, the rest of C a sentinel. */
function makeCase(rng: () => number, band: Band, m: number, n: number, depth: number): Case {
  const aOff = 3;
  const lda = depth + 2;
  const bOff = 1;
  const ldb = depth + 5;
  const cOff = 2;
  const ldc = n + 3;
  const a = new Float64Array(aOff + m * lda + 4).fill(SENTINEL);
  for (let i = 0; i < m; i++) {
    for (let k = 0; k < depth; k++) {
      const zero = (band === 'kUpToRow' && k > i) || (band === 'kFromRow' && k < i);
      a[aOff + i * lda + k] = zero ? 0 : rng() * 2 - 1;
    }
  }
  const b = new Float64Array(bOff + n * ldb + 4).fill(SENTINEL);
  for (let j = 0; j < n; j++) for (let k = 0; k < depth; k++) b[bOff + j * ldb + k] = rng() * 2 - 1;
  const c = new Float64Array(cOff + m * ldc + 4).fill(SENTINEL);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) c[cOff + i * ldc + j] = rng() * 2 - 1;
  return { band, m, n, depth, aOff, lda, bOff, ldb, cOff, ldc, a, b, c };
}

function run(kernel: typeof matmulNT, x: Case, accumulate: boolean, kind: 'f64' | 'f32'): Floats {
  const conv = (v: Float64Array): Floats => (kind === 'f64' ? v.slice() : Float32Array.from(v));
  const c = conv(x.c);
  kernel(conv(x.a), x.aOff, x.lda, conv(x.b), x.bOff, x.ldb, c, x.cOff, x.ldc, x.m, x.n, x.depth, accumulate, x.band);
  return c;
}

/** Every (band, m, n, depth) of SIZES³ × BANDS, with its inputs. */
function* cases(seed: number): Generator<Case> {
  const rng = makeRng(seed);
  for (const band of BANDS) for (const m of SIZES) for (const n of SIZES) for (const depth of SIZES) yield makeCase(rng, band, m, n, depth);
}

const label = (x: Case, accumulate: boolean) => `${x.band} m ${x.m} n ${x.n} depth ${x.depth} accumulate ${accumulate}`;

/** Indices of the first differing entry, or -1: bitwise (Object.is), so −0 ≠ 0 and NaN = NaN. */
function firstDifference(x: ArrayLike<number>, y: ArrayLike<number>): number {
  if (x.length !== y.length) return 0;
  for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) return i;
  return -1;
}

describe('the WebAssembly module', () => {
  it('is valid WebAssembly with SIMD in this Node, and exports the memory and the four functions', () => {
    expect(simdSupported('f64')).toBe(true);
    expect(simdSupported('f32')).toBe(true);
    for (const precision of ['f64', 'f32'] as const) {
      const module = new WebAssembly.Module(simdModuleBytes(precision));
      expect(WebAssembly.Module.exports(module).map((e) => `${e.name}:${e.kind}`)).toEqual(['memory:memory', 'mm:function', 'pack:function', 'out32:function', 'out64:function']);
      // No relaxed-simd or threads: only the fixed-width SIMD proposal's opcodes (checked by
      // validation above); the encoder is deterministic.
      expect(simdModuleBytes(precision)).toEqual(simdModuleBytes(precision));
    }
  });
});

describe("simdMatmulNT 'f64' (sums in double)", () => {
  const kernel = createSimdMatmul('f64')!;

  it('gives matmulNT’s bits for every band, sizes in {1,2,3,5,7,17,33,64,129}³, offsets, wide strides, accumulate, Float64 and Float32', () => {
    let checked = 0;
    for (const x of cases(11)) {
      for (const accumulate of [false, true]) {
        for (const kind of ['f64', 'f32'] as const) {
          const want = run(matmulNT, x, accumulate, kind);
          const got = run(kernel, x, accumulate, kind);
          const at = firstDifference(got, want);
          if (at >= 0) expect.fail(`${label(x, accumulate)} ${kind}: entry ${at} is ${got[at]}, matmulNT gives ${want[at]}`);
          checked++;
        }
      }
    }
    expect(checked).toBe(SIZES.length ** 3 * BANDS.length * 4);
  });
});

describe("simdMatmulNT 'f32' (sums in float32)", () => {
  const kernel = createSimdMatmul('f32')!;

  it('is within 1e-5·Σ|a||b| of matmulNT in Float64 for every band, size, offset, stride and accumulate; leaves the rest of C alone', () => {
    let worst = 0;
    for (const x of cases(12)) {
      for (const accumulate of [false, true]) {
        const want = run(matmulNT, x, accumulate, 'f64');
        const got = run(kernel, x, accumulate, 'f64');
        for (let at = 0; at < want.length; at++) {
          const inside = at >= x.cOff && (at - x.cOff) % x.ldc < x.n && Math.floor((at - x.cOff) / x.ldc) < x.m;
          const i = Math.floor((at - x.cOff) / x.ldc);
          const j = (at - x.cOff) % x.ldc;
          if (!inside || (x.band === 'lower' && j > i)) {
            // Untouched: the sentinel, or C's old value above the diagonal.
            if (got[at] !== want[at]) expect.fail(`${label(x, accumulate)}: entry ${at} outside the product changed`);
            continue;
          }
          let scale = 0;
          for (let k = 0; k < x.depth; k++) scale += Math.abs(x.a[x.aOff + i * x.lda + k] * x.b[x.bOff + j * x.ldb + k]);
          const err = Math.abs(got[at] - want[at]) / Math.max(scale, 1e-30);
          if (err > worst) worst = err;
          if (err > 1e-5) expect.fail(`${label(x, accumulate)}: C[${i}][${j}] = ${got[at]}, Float64 gives ${want[at]}: error ${err} · Σ|a||b|`);
        }
      }
    }
    expect(worst).toBeGreaterThan(0); // it really is float32
    expect(worst).toBeLessThanOrEqual(1e-5);
  });
});

describe('both precisions', () => {
  it('never read the entries of A a k-band declares zero (NaN there changes nothing)', () => {
    const rng = makeRng(13);
    for (const precision of ['f64', 'f32'] as const) {
      const kernel = createSimdMatmul(precision)!;
      for (const band of ['kUpToRow', 'kFromRow'] as Band[]) {
        for (const size of [5, 17, 33]) {
          const x = makeCase(rng, band, size, 7, size);
          const want = run(kernel, x, false, 'f64');
          for (let i = 0; i < x.m; i++) {
            for (let k = 0; k < x.depth; k++) if ((band === 'kUpToRow' && k > i) || (band === 'kFromRow' && k < i)) x.a[x.aOff + i * x.lda + k] = NaN;
          }
          expect(firstDifference(run(kernel, x, false, 'f64'), want), `${precision} ${band} ${size}`).toBe(-1);
        }
      }
    }
  });

  it('are deterministic: the same inputs give the same bits, whatever ran before (memory reused and grown)', () => {
    for (const precision of ['f64', 'f32'] as const) {
      const first = createSimdMatmul(precision)!;
      const second = createSimdMatmul(precision)!;
      const rng = makeRng(14);
      const x = makeCase(rng, 'full', 33, 17, 64);
      const fresh = run(first, x, true, 'f32');
      // Dirty the second kernel's memory with other products, large then small, first.
      run(second, makeCase(rng, 'full', 129, 129, 129), false, 'f32');
      run(second, makeCase(rng, 'lower', 7, 5, 3), true, 'f32');
      expect(firstDifference(run(second, x, true, 'f32'), fresh), precision).toBe(-1);
      expect(firstDifference(run(first, x, true, 'f32'), fresh), precision).toBe(-1);
    }
  });

  it('do nothing for an empty product and zeros (or C unchanged) for depth 0, as matmulNT', () => {
    for (const precision of ['f64', 'f32'] as const) {
      const kernel = createSimdMatmul(precision)!;
      const x = makeCase(makeRng(15), 'full', 3, 5, 0);
      for (const accumulate of [false, true]) expect(firstDifference(run(kernel, x, accumulate, 'f64'), run(matmulNT, x, accumulate, 'f64'))).toBe(-1);
      const c = new Float32Array(4).fill(SENTINEL);
      kernel(new Float32Array(4), 0, 2, new Float32Array(4), 0, 2, c, 0, 2, 0, 2, 2, false);
      kernel(new Float32Array(4), 0, 2, new Float32Array(4), 0, 2, c, 0, 2, 2, 0, 2, false);
      expect(Array.from(c)).toEqual([SENTINEL, SENTINEL, SENTINEL, SENTINEL]);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// The training step
// ---------------------------------------------------------------------------------------------

/** Odd sizes so every product has tails: dHead 4, 3 heads, vocab 23, length 9. */
const CONFIG: GptConfig = { vocabSize: 23, context: 12, dModel: 12, heads: 3, layers: 2, dMlp: 20 };

function randomParams(seed: number): GptParams {
  const normal = gaussian(makeRng(seed));
  const params = initParams(CONFIG, seed);
  for (const [name, data] of params) {
    const gain = /ln_(1|2|f)\.weight$/.test(name) ? 1 : 0;
    for (let i = 0; i < data.length; i++) data[i] = gain + 0.3 * normal();
  }
  return params;
}

function randomBatch(seed: number, batch: number, length: number) {
  const rng = makeRng(seed);
  return { tokens: Int32Array.from({ length: batch * (length + 1) }, () => Math.floor(rng() * CONFIG.vocabSize)), batch, length };
}

function step(matmul: MatmulChoice, params: GptParams, batch: ReturnType<typeof randomBatch>) {
  const workspace = createWorkspace(CONFIG, batch.batch, batch.length, { matmul });
  expect(workspace.matmul).toBe(matmul);
  return { ...lossAndGrads(CONFIG, params, batch, { workspace }), eval: lossOnly(CONFIG, params, batch, { workspace }) };
}

function norm(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * x[i];
  return Math.sqrt(s);
}

describe('lossAndGrads with the wasm kernels', () => {
  const params = randomParams(21);
  const batch = randomBatch(22, 3, 9);
  const js = step('js', params, batch);

  it("'wasm': the loss and every gradient are the JS kernel's, bit for bit", () => {
    const wasm = step('wasm', params, batch);
    expect(Object.is(wasm.loss, js.loss)).toBe(true);
    expect(Object.is(wasm.eval, js.eval)).toBe(true);
    for (const [name, g] of js.grads) expect(firstDifference(wasm.grads.get(name)!, g), name).toBe(-1);
  });

  it("'wasm-f32': loss within 1e-5 relative, every gradient within 1e-4 relative (norm-wise) of the JS kernel's", () => {
    const wasm = step('wasm-f32', params, batch);
    expect(Math.abs(wasm.loss - js.loss) / js.loss).toBeLessThanOrEqual(1e-5);
    expect(Math.abs(wasm.eval - js.eval) / js.eval).toBeLessThanOrEqual(1e-5);
    expect(wasm.loss).not.toBe(js.loss); // float32 sums really are used
    for (const [name, g] of js.grads) {
      const h = wasm.grads.get(name)!;
      const diff = h.map((v, i) => v - g[i]);
      expect(norm(diff) / norm(g), name).toBeLessThanOrEqual(1e-4);
    }
  });

  it('are deterministic: two runs (fresh workspaces, the kernel memory reused) give the same bits', () => {
    for (const matmul of ['wasm', 'wasm-f32'] as const) {
      const one = step(matmul, params, batch);
      step(matmul, randomParams(23), randomBatch(24, 2, 12)); // something else in between
      const two = step(matmul, params, batch);
      expect(Object.is(one.loss, two.loss), matmul).toBe(true);
      for (const [name, g] of one.grads) expect(firstDifference(two.grads.get(name)!, g), `${matmul} ${name}`).toBe(-1);
    }
  });

  it('are refused for Float64 workspaces and unknown names (the f64 path keeps the JS kernel)', () => {
    expect(() => createWorkspace(CONFIG, 1, 4, { float64: true, matmul: 'wasm' })).toThrow(AttentionInputError);
    expect(() => createWorkspace(CONFIG, 1, 4, { matmul: 'gpu' as MatmulChoice })).toThrow(AttentionInputError);
    expect(createWorkspace(CONFIG, 1, 4).matmul).toBe('js');
    expect(createWorkspace(CONFIG, 1, 4, { float64: true }).matmul).toBe('js');
  });
});
