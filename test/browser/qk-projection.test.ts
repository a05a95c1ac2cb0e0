/**
 * The GPU Q/K projection (shaders/qk-projection.wgsl) against the f64 CPU reference
 * (src/reference/qk-projection.ts): axes, variances, share, scale, shift and every drawn point
 * read back, on planted-spectrum random data (d = 64, odd d = 7 and 33, d = 128 and 201), low-rank data (rank 2
 * and 3 in d = 16), one token, 4096 tokens sampled to 1024 points per cloud, and the raw d = 3.
 *
 * Data: each cloud is Σ_a s_a z_a u_a + uniform noise + an offset, with orthonormal u_a and
 * z_a uniform in [−1, 1): the top three eigenvalues of the joint covariance are separated by
 * construction, and the test prints the smallest relative gap (λ_a − λ_a+1) / λ_1 of each case
 * next to the largest errors, so the tolerances below can be read against them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AttentionInputError } from '../../src/core/errors';
import { readFloats } from '../../src/gpu/readback';
import { createQkProjector, QK_MAX_DHEAD, type GpuQkInput, type GpuQkProjection, type GpuQkProjector } from '../../src/kernels/qk-projection';
import { projectQkReference, type QkProjection } from '../../src/reference/qk-projection';
import { makeRng, type Rng } from '../../src/reference/random';
import { gpu, useGpuDevice } from './gpu-fixture';

useGpuDevice();

let projector: GpuQkProjector;
beforeAll(async () => {
  projector = await createQkProjector(gpu());
});
afterAll(() => projector?.destroy());

/** Orthonormal rows u_0 … u_{count−1} in d dimensions (Gram–Schmidt of seeded random vectors). */
function orthonormal(rng: Rng, count: number, d: number): Float64Array[] {
  const rows: Float64Array[] = [];
  while (rows.length < count) {
    const u = Float64Array.from({ length: d }, () => rng() * 2 - 1);
    for (const w of rows) {
      const p = u.reduce((s, x, i) => s + x * w[i], 0);
      u.forEach((x, i) => (u[i] = x - p * w[i]));
    }
    const norm = Math.hypot(...u);
    rows.push(u.map((x) => x / norm));
  }
  return rows;
}

/** `rows` × d f32: Σ_a scales[a]·z·u_a + noise·uniform + offset. */
function cloud(rng: Rng, rows: number, d: number, u: Float64Array[], scales: number[], noise: number, offset: number[]): Float32Array {
  const x = new Float32Array(rows * d);
  for (let r = 0; r < rows; r++) {
    const z = scales.map((s) => s * (rng() * 2 - 1));
    for (let i = 0; i < d; i++) {
      let value = offset[i] ?? 0;
      z.forEach((zi, a) => (value += zi * u[a][i]));
      x[r * d + i] = value + noise * (rng() * 2 - 1);
    }
  }
  return x;
}

interface Case {
  q: Float32Array;
  k: Float32Array;
  v?: Float32Array;
  queries: number;
  keys: number;
  dHead: number;
}

/** Upload the rows as an attention buffer lays them out: rows of width `rowStride`, q, k, v blocks after a gap. */
function upload(c: Case, rowStride: number, lead = 3): { buffer: GPUBuffer; input: Omit<GpuQkInput, 'buffer'> } {
  const qOffset = lead;
  const kOffset = qOffset + c.queries * rowStride + 7;
  const vOffset = kOffset + c.keys * rowStride + 5;
  const data = new Float32Array(vOffset + (c.v ? c.keys * rowStride : 0)).fill(Number.NaN);
  const place = (x: Float32Array, rows: number, offset: number) => {
    for (let r = 0; r < rows; r++) data.set(x.subarray(r * c.dHead, (r + 1) * c.dHead), offset + r * rowStride);
  };
  place(c.q, c.queries, qOffset);
  place(c.k, c.keys, kOffset);
  if (c.v) place(c.v, c.keys, vOffset);
  const buffer = gpu().createBuffer({ label: 'test/qk rows', size: data.byteLength, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
  gpu().queue.writeBuffer(buffer, 0, data);
  return { buffer, input: { qOffset, kOffset, ...(c.v ? { vOffset } : {}), rowStride, queries: c.queries, keys: c.keys, dHead: c.dHead } };
}

/** The GPU projection and its points, read back. */
async function projectOnGpu(c: Case, options: { rowStride?: number; pointLimit?: number } = {}): Promise<{ gpu: GpuQkProjection; points: Float32Array }> {
  const { buffer, input } = upload(c, options.rowStride ?? c.dHead + 2);
  try {
    const result = await projector.project({ buffer, ...input, ...(options.pointLimit ? { pointLimit: options.pointLimit } : {}) });
    const total = result.drawn.queries + result.drawn.keys + result.drawn.values;
    const [points] = await readFloats(gpu(), [[result.points, 0, total * 4]], 'test/qk points');
    return { gpu: result, points };
  } finally {
    buffer.destroy();
  }
}

/** Largest |a − b| over the entries. */
function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

interface Tolerances {
  /** Abs. per axis component (unit vectors). */
  axes: number;
  /** Relative to λ1 (variances) or to trace. */
  variance: number;
  /** Relative to the largest |coordinate|. */
  points: number;
  /** Compare only the first `axes` axes (the rest lie in a degenerate eigenspace). */
  compared?: number;
}

// About 100× the largest errors seen on SwiftShader (≈ 1e-7 everywhere, with relative gaps ≥ 0.1 · λ1).
const PLANTED: Tolerances = { axes: 1e-5, variance: 1e-5, points: 1e-5 };

/** Compare everything the GPU returned with the reference; returns the errors for the log. */
function compare(label: string, g: GpuQkProjection, points: Float32Array, ref: QkProjection, strides: { queries: number; keys: number }, tol: Tolerances): string {
  const d = ref.dHead;
  const compared = tol.compared ?? 3;
  expect(g.raw, label).toBe(ref.raw);
  expect(g.stride, label).toEqual(strides);
  const lambda1 = Math.max(ref.variance[0], 1e-30);
  const axisErr = maxDiff(g.axes.subarray(0, compared * d), ref.axes.subarray(0, compared * d));
  const varErr = maxDiff(g.variance.subarray(0, compared), ref.variance.subarray(0, compared)) / lambda1;
  const traceErr = Math.abs(g.totalVariance - ref.totalVariance) / Math.max(ref.totalVariance, 1e-30);
  expect(axisErr, `${label}: axes`).toBeLessThanOrEqual(tol.axes);
  expect(varErr, `${label}: variance / λ1`).toBeLessThanOrEqual(tol.variance);
  if (ref.totalVariance > 0) expect(traceErr, `${label}: trace`).toBeLessThanOrEqual(tol.variance);
  expect(Math.abs(g.share - ref.share), `${label}: share`).toBeLessThanOrEqual(tol.variance * 10);
  expect(Math.abs(g.scale - ref.normalisation.scale) / ref.normalisation.scale, `${label}: scale`).toBeLessThanOrEqual(1e-5);
  const extent = Math.max(1e-30, ...ref.mean.map(Math.abs), ...ref.normalisation.shift.map(Math.abs), ...ref.points.map(Math.abs));
  expect(maxDiff(g.shift, ref.normalisation.shift) / extent, `${label}: shift`).toBeLessThanOrEqual(1e-5);
  expect(maxDiff(g.mean, ref.mean) / extent, `${label}: mean`).toBeLessThanOrEqual(1e-5);
  // Every drawn point: row p·stride of its cloud, kind in w.
  const expected: number[] = [];
  const clouds = [
    { count: ref.queries, first: 0, stride: strides.queries, kind: 0 },
    { count: ref.keys, first: ref.queries, stride: strides.keys, kind: 1 },
    { count: ref.values, first: ref.queries + ref.keys, stride: strides.keys, kind: 2 },
  ];
  for (const { count, first, stride, kind } of clouds) {
    for (let row = 0; row < count; row += stride) {
      const coords = Array.from(ref.points.subarray((first + row) * 3, (first + row + 1) * 3));
      // Beyond the compared axes only the size is defined: the reference's coordinate is ~0 there.
      expected.push(...coords.map((x, a) => (a < compared ? x : 0)), kind);
    }
  }
  expect(points.length, `${label}: drawn points`).toBe(expected.length);
  const got = Array.from(points, (x, index) => (index % 4 < 3 && index % 4 >= compared ? 0 : x));
  const pointErr = maxDiff(got, expected) / extent;
  expect(pointErr, `${label}: points`).toBeLessThanOrEqual(tol.points);
  for (let p = 0; p < points.length / 4; p++) expect(points[4 * p + 3]).toBe(expected[4 * p + 3]);
  let gap = Infinity;
  for (let a = 0; a < compared; a++) gap = Math.min(gap, (ref.variance[a] - (a + 1 < 3 ? ref.variance[a + 1] : 0)) / lambda1);
  const gapText = ref.raw || ref.totalVariance === 0 ? 'no fit' : `smallest gap ${gap.toExponential(2)} · λ1`;
  return `${label}: share ${ref.share.toFixed(4)}, ${gapText}; max errors: axes ${axisErr.toExponential(2)}, variance ${varErr.toExponential(2)}, points ${pointErr.toExponential(2)}; GPU ${g.gpuMs.toFixed(1)} ms`;
}

function planted(seed: number, n: number, m: number, d: number, withValues: boolean): Case {
  const rng = makeRng(seed);
  const u = orthonormal(rng, 6, d);
  const offsetQ = u[4].map((x) => 1.5 * x);
  const offsetK = u[5].map((x) => -2 * x);
  // Keys twice the queries' size: the scale a is far from 1.
  const q = cloud(rng, n, d, u, [4, 2.6, 1.7], 0.25, Array.from(offsetQ));
  const k = cloud(rng, m, d, u, [8, 5.2, 3.4], 0.5, Array.from(offsetK));
  const v = withValues ? cloud(rng, m, d, u.slice(1), [3, 2, 1], 0.3, []) : undefined;
  return { q, k, ...(v ? { v } : {}), queries: n, keys: m, dHead: d };
}

describe('GPU Q/K projection equals the CPU reference', () => {
  const log: string[] = [];
  afterAll(() => console.info(`[qk] GPU vs f64 reference:\n  ${log.join('\n  ')}`));

  it('random d = 64, 257 queries and keys, with values', async () => {
    const c = planted(1, 257, 257, 64, true);
    const { gpu: g, points } = await projectOnGpu(c, { rowStride: 64 * 3 });
    const ref = projectQkReference(c);
    expect(g.drawn).toEqual({ queries: 257, keys: 257, values: 257 });
    log.push(compare('d 64 n 257', g, points, ref, { queries: 1, keys: 1 }, PLANTED));
  });

  it('odd d = 7 and d = 33 (40 queries, 71 keys)', async () => {
    for (const d of [7, 33]) {
      const c = planted(d, 40, 71, d, d === 7);
      const { gpu: g, points } = await projectOnGpu(c);
      log.push(compare(`d ${d} n 40 m 71`, g, points, projectQkReference(c), { queries: 1, keys: 1 }, PLANTED));
    }
  });

  it('d = 128 and d = 201 (past one basis row per invocation), 150 queries and 151 keys sampled by pointLimit 100', async () => {
    for (const d of [128, 201]) {
      const c = planted(d, 150, 151, d, true);
      const { gpu: g, points } = await projectOnGpu(c, { pointLimit: 100 });
      // ⌈150 / 100⌉ = 2: rows 0, 2, …, 148; keys and values rows 0, 2, …, 150.
      expect(g.drawn).toEqual({ queries: 75, keys: 76, values: 76 });
      log.push(compare(`d ${d} n 150 m 151`, g, points, projectQkReference(c), { queries: 2, keys: 2 }, PLANTED));
    }
  });

  it('low rank: rank 3 and rank 2 embedded in d = 16 (no noise, no offsets)', async () => {
    for (const rank of [3, 2]) {
      const rng = makeRng(20 + rank);
      const u = orthonormal(rng, rank, 16);
      const scales = [3, 1.8, 1].slice(0, rank);
      const c: Case = { q: cloud(rng, 50, 16, u, scales, 0, []), k: cloud(rng, 60, 16, u, scales.map((s) => 1.5 * s), 0, []), queries: 50, keys: 60, dHead: 16 };
      const { gpu: g, points } = await projectOnGpu(c);
      const ref = projectQkReference(c);
      expect(ref.share).toBeCloseTo(1, 10);
      expect(g.share).toBeCloseTo(1, 4);
      log.push(compare(`rank ${rank} in d 16`, g, points, ref, { queries: 1, keys: 1 }, { ...PLANTED, compared: rank }));
      if (rank === 2) {
        // The third axis is any unit vector orthogonal to the data: unit, orthogonal, no variance, every point at 0 on it.
        const e = (a: number) => g.axes.subarray(a * 16, (a + 1) * 16);
        const dot = (x: Float32Array, y: Float32Array) => x.reduce((s, xi, i) => s + xi * y[i], 0);
        expect(dot(e(2), e(2))).toBeCloseTo(1, 4);
        expect(Math.abs(dot(e(2), e(0))) + Math.abs(dot(e(2), e(1)))).toBeLessThan(1e-4);
        expect(g.variance[2] / g.variance[0]).toBeLessThan(1e-5);
        for (let p = 0; p < 110; p++) expect(Math.abs(points[4 * p + 2])).toBeLessThan(1e-4 * 6);
      }
    }
  });

  it('one token: the translation makes the query and the key equal, shown at the origin on the standard basis', async () => {
    const c = planted(9, 1, 1, 16, true);
    const { gpu: g, points } = await projectOnGpu(c);
    const ref = projectQkReference(c);
    expect(Array.from(g.axes)).toEqual(Array.from(ref.axes));
    expect([g.totalVariance, g.share, ...g.variance]).toEqual([0, 1, 0, 0, 0]);
    log.push(compare('1 token d 16', g, points, ref, { queries: 1, keys: 1 }, PLANTED));
  });

  it('4096 tokens at d = 64 sampled to 1024 points per cloud (rows 0, 4, 8, …); timings at 1024 and 4096 tokens', async () => {
    const c = planted(4, 4096, 4096, 64, true);
    const { gpu: g, points } = await projectOnGpu(c, { pointLimit: 1024 });
    expect(g.drawn).toEqual({ queries: 1024, keys: 1024, values: 1024 });
    log.push(compare('4096 tokens d 64', g, points, projectQkReference(c), { queries: 4, keys: 4 }, PLANTED));
    // Timings on a warm projector (its pipelines compiled): the best of three runs per length,
    // all three listed (this machine's CPUs, which run SwiftShader, are shared).
    const times: string[] = [];
    for (const tokens of [1024, 4096]) {
      const t = tokens === 4096 ? c : planted(5, tokens, tokens, 64, true);
      const { buffer, input } = upload(t, 64);
      try {
        const ms: number[] = [];
        for (let run = 0; run < 3; run++) ms.push((await projector.project({ buffer, ...input })).gpuMs);
        times.push(`${tokens} tokens: best ${Math.min(...ms).toFixed(1)} ms (runs ${ms.map((x) => x.toFixed(1)).join(', ')})`);
      } finally {
        buffer.destroy();
      }
    }
    console.info(`[qk] GPU projection time, d = 64, queries + keys + values: ${times.join('; ')}`);
  });

  it('d = 3 is raw: the points are the vectors themselves, exactly', async () => {
    // The "cat sat" lesson's shape: two words, d = 3.
    const q = new Float32Array([1, 0, 1, 0.5, 1, -0.25]);
    const k = new Float32Array([1, 1, 0, -0.75, 0.5, 2]);
    const v = new Float32Array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6]);
    const c: Case = { q, k, v, queries: 2, keys: 2, dHead: 3 };
    const { gpu: g, points } = await projectOnGpu(c);
    const ref = projectQkReference(c);
    expect(Array.from(points)).toEqual([...q.subarray(0, 3), 0, ...q.subarray(3), 0, ...k.subarray(0, 3), 1, ...k.subarray(3), 1, ...v.subarray(0, 3), 2, ...v.subarray(3), 2]);
    expect([g.raw, g.scale, g.share, ...g.shift, ...g.mean]).toEqual([true, 1, 1, 0, 0, 0, 0, 0, 0]);
    expect(Array.from(g.axes)).toEqual([1, 0, 0, 0, 1, 0, 0, 0, 1]);
    log.push(compare('raw d 3', g, points, ref, { queries: 1, keys: 1 }, PLANTED));
    const two = await projectOnGpu({ q: new Float32Array([1, 2]), k: new Float32Array([3, 4]), queries: 1, keys: 1, dHead: 2 });
    expect(Array.from(two.points)).toEqual([1, 2, 0, 0, 3, 4, 0, 1]);
  });
});

describe('GPU Q/K projection input errors', () => {
  it('names the field, what was given and what is allowed', async () => {
    const c = planted(2, 4, 4, 8, false);
    const { buffer, input } = upload(c, 8);
    const readable = gpu().createBuffer({ size: 64, usage: GPUBufferUsage.COPY_DST });
    try {
      const fails = async (patch: Partial<GpuQkInput>) => (await projector.project({ buffer, ...input, ...patch }).catch((e: unknown) => e)) as AttentionInputError;
      const range = await fails({ kOffset: input.kOffset + 100 });
      expect(range).toBeInstanceOf(AttentionInputError);
      expect([range.field, range.kind]).toEqual(['kOffset', 'length']);
      expect((await fails({ dHead: QK_MAX_DHEAD + 1 })).field).toBe('dHead');
      expect((await fails({ queries: 0 })).field).toBe('queries');
      expect((await fails({ rowStride: 4 })).allowed).toMatch(/at least dHead/);
      expect((await fails({ pointLimit: 0.5 })).field).toBe('pointLimit');
      expect((await fails({ buffer: readable })).field).toBe('buffer');
      // The projector still works after refusing.
      const ok = await projector.project({ buffer, ...input });
      expect(ok.drawn).toEqual({ queries: 4, keys: 4, values: 0 });
    } finally {
      buffer.destroy();
      readable.destroy();
    }
  });
});
