// The Q/K view's CPU side (src/scene/qk-points.ts): gathering a head's strided rows, the sampling
// rule, the point ↔ token mapping, a query's strongest keys, and the CPU projection drawn.
import { describe, expect, it } from 'vitest';
import { drawnCount, fitScale, gatherRows, pointOf, projectOnCpu, sampleStride, tokenOfPoint, topKeys } from '../../src/scene/qk-points';

describe('Q/K points', () => {
  it('gathers a head’s rows from the packed q | k layout (row stride = heads · dHead)', () => {
    // 3 tokens, 2 heads of dHead 2: row i = [h0 a, h0 b, h1 a, h1 b] = 10i + 0..3
    const packed = Float32Array.from({ length: 12 }, (_, n) => 10 * Math.floor(n / 4) + (n % 4));
    expect(Array.from(gatherRows(packed, 2, 4, 3, 2))).toEqual([2, 3, 12, 13, 22, 23]);
    expect(Array.from(gatherRows(packed, 0, 4, 2, 2))).toEqual([0, 1, 10, 11]);
  });

  it('samples every ⌈count/limit⌉-th row: 4096 rows at a limit of 1024 draw rows 0, 4, 8, …', () => {
    expect(sampleStride(4096, 1024)).toBe(4);
    expect(sampleStride(4097, 1024)).toBe(5);
    expect(sampleStride(1000, 1024)).toBe(1);
    expect(drawnCount(4096, 4)).toBe(1024);
    expect(drawnCount(4097, 5)).toBe(820);
  });

  it('maps drawn points to tokens and back, queries first, then keys, then values', () => {
    const cloud = { drawn: { queries: 3, keys: 2, values: 2 }, stride: { queries: 2, keys: 3 } } as Parameters<typeof pointOf>[0];
    expect(pointOf(cloud, 'query', 4)).toBe(2);
    expect(pointOf(cloud, 'query', 3)).toBe(-1); // sampled out
    expect(pointOf(cloud, 'key', 3)).toBe(4);
    expect(pointOf(cloud, 'value', 0)).toBe(5);
    expect(pointOf(cloud, 'key', 6)).toBe(-1); // past the drawn keys
    expect(tokenOfPoint(cloud, 2)).toEqual({ kind: 'query', index: 4 });
    expect(tokenOfPoint(cloud, 4)).toEqual({ kind: 'key', index: 3 });
    expect(tokenOfPoint(cloud, 6)).toEqual({ kind: 'value', index: 3 });
  });

  it('lists a row’s strongest keys, ties to the earlier key, masked (−∞/NaN) entries never', () => {
    expect(topKeys([0.1, 0.5, 0.2, 0.5, -Infinity, NaN], 3)).toEqual([
      { key: 1, weight: 0.5 },
      { key: 3, weight: 0.5 },
      { key: 2, weight: 0.2 },
    ]);
  });

  it('d_head = 3 on the CPU: the raw vectors drawn as they are, queries then keys', () => {
    const q = Float32Array.from([1, 0, 2, 0, 1, 0]);
    const k = Float32Array.from([0.5, 0.5, 0, -1, 0, 3]);
    const cloud = projectOnCpu({ q, k, queries: 2, keys: 2, dHead: 3 }, 8192, false);
    expect(cloud.raw).toBe(true);
    expect(cloud.backend).toBe('cpu');
    expect(Array.from(cloud.positions)).toEqual([1, 0, 2, 0, 0, 1, 0, 0, 0.5, 0.5, 0, 1, -1, 0, 3, 1]);
    expect(cloud.total).toEqual({ queries: 2, keys: 2 });
    // The dot products of the lesson read off the points: q_1 · k_1 = 0·(−1) + 1·0 + 0·3 = 0; q_0 · k_1 = −1 + 6 = 5.
    const dot = (a: number, b: number) => [0, 1, 2].reduce((s, c) => s + cloud.positions[4 * a + c] * cloud.positions[4 * b + c], 0);
    expect(dot(0, 3)).toBe(5);
    expect(dot(1, 3)).toBe(0);
  });

  it('fits the cloud in a ball: the farthest point lands on the radius', () => {
    const positions = Float32Array.from([3, 4, 0, 0, 0, 0, 1, 1]);
    expect(fitScale(positions, 2, 2)).toBeCloseTo(0.4, 12);
    expect(fitScale(new Float32Array(8), 2, 2)).toBe(1);
  });
});
