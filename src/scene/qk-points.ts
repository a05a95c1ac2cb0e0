/**
 * The CPU side of the Q/K view (src/scene/qk-view.ts), pure TypeScript so Node tests it: a
 * head's rows gathered from the strided layouts the sources use, the CPU projection (the f64
 * reference of src/reference/qk-projection.ts, for views without WebGPU), the sampling rule the
 * GPU kernel follows too, a query's strongest keys, and where a drawn point is.
 */
import { projectQkReference } from '../reference/qk-projection';

/** Kinds of point, as the fourth coordinate of a drawn point holds them. */
export const QK_KIND = { query: 0, key: 1, value: 2 } as const;
export type QkKind = keyof typeof QK_KIND;

/** The drawn cloud of one head: where every drawn point is and what the projection kept. */
export interface QkCloud {
  /** Drawn points × 4: x, y, z, kind (0 query, 1 key, 2 value); queries, then keys, then values. */
  positions: Float32Array;
  drawn: { queries: number; keys: number; values: number };
  /** Rows of the head (every one is in the fit). */
  total: { queries: number; keys: number };
  /** Drawn point p of the queries is query p · stride.queries (1: every row drawn); the same for keys and values. */
  stride: { queries: number; keys: number };
  /** True when d_head ≤ 3: the raw vectors, no normalisation and no projection. */
  raw: boolean;
  /** Share of the joint variance the three axes keep (1 when raw). */
  share: number;
  /** Variance along each axis (λ1, λ2, λ3). */
  variance: number[];
  /** The query scale a (queries × a, keys ÷ a); 1 when raw. */
  scale: number;
  /** Where it was computed, and how long it took (ms; the GPU's: submit to done). */
  backend: 'gpu' | 'cpu';
  ms: number;
}

/** Rows [0, count) of `dHead` values each, row i at `offset + i · rowStride` of `array`, as one contiguous array. */
export function gatherRows(array: Float32Array, offset: number, rowStride: number, count: number, dHead: number): Float32Array {
  const out = new Float32Array(count * dHead);
  for (let i = 0; i < count; i++) out.set(array.subarray(offset + i * rowStride, offset + i * rowStride + dHead), i * dHead);
  return out;
}

/** Every how many rows a cloud of `count` points is drawn so that at most `limit` are (1: all). */
export function sampleStride(count: number, limit: number): number {
  return Math.max(1, Math.ceil(count / Math.max(1, limit)));
}

/** How many rows of `count` a stride draws (rows 0, stride, 2·stride, …). */
export function drawnCount(count: number, stride: number): number {
  return Math.ceil(count / stride);
}

/** A head's rows on the CPU: q (queries × dHead), k, and v (keys × dHead) when kept. */
export interface CpuQkRows {
  q: Float32Array;
  k: Float32Array;
  v?: Float32Array;
  queries: number;
  keys: number;
  dHead: number;
}

/**
 * Project a head on the CPU (the f64 reference), drawing at most `limit` points per cloud with
 * the rule the GPU kernel uses ({@link sampleStride}); the PCA still sees every row.
 */
export function projectOnCpu(rows: CpuQkRows, limit: number, withValues: boolean): QkCloud {
  const t0 = performance.now();
  const v = withValues ? rows.v : undefined;
  const projection = projectQkReference({ q: rows.q, k: rows.k, ...(v ? { v } : {}), queries: rows.queries, keys: rows.keys, dHead: rows.dHead });
  const strideQ = sampleStride(rows.queries, limit);
  const strideK = sampleStride(rows.keys, limit);
  const drawn = { queries: drawnCount(rows.queries, strideQ), keys: drawnCount(rows.keys, strideK), values: v ? drawnCount(rows.keys, strideK) : 0 };
  const positions = new Float32Array((drawn.queries + drawn.keys + drawn.values) * 4);
  let p = 0;
  const put = (point: number, kind: number) => {
    positions.set([projection.points[3 * point], projection.points[3 * point + 1], projection.points[3 * point + 2], kind], 4 * p++);
  };
  for (let i = 0; i < rows.queries; i += strideQ) put(i, QK_KIND.query);
  for (let j = 0; j < rows.keys; j += strideK) put(rows.queries + j, QK_KIND.key);
  if (v) for (let j = 0; j < rows.keys; j += strideK) put(rows.queries + rows.keys + j, QK_KIND.value);
  return {
    positions,
    drawn,
    total: { queries: rows.queries, keys: rows.keys },
    stride: { queries: strideQ, keys: strideK },
    raw: projection.raw,
    share: projection.share,
    variance: Array.from(projection.variance),
    scale: projection.normalisation.scale,
    backend: 'cpu',
    ms: performance.now() - t0,
  };
}

/** The drawn point of token `index` of a kind, or −1 when that row is not drawn (sampled out, or values hidden). */
export function pointOf(cloud: QkCloud, kind: QkKind, index: number): number {
  const stride = kind === 'query' ? cloud.stride.queries : cloud.stride.keys;
  if (index % stride !== 0) return -1;
  const p = index / stride;
  if (kind === 'query') return p < cloud.drawn.queries ? p : -1;
  if (kind === 'key') return p < cloud.drawn.keys ? cloud.drawn.queries + p : -1;
  return p < cloud.drawn.values ? cloud.drawn.queries + cloud.drawn.keys + p : -1;
}

/** The kind and token of drawn point `p` (inverse of {@link pointOf}). */
export function tokenOfPoint(cloud: QkCloud, p: number): { kind: QkKind; index: number } {
  const { queries, keys } = cloud.drawn;
  if (p < queries) return { kind: 'query', index: p * cloud.stride.queries };
  if (p < queries + keys) return { kind: 'key', index: (p - queries) * cloud.stride.keys };
  return { kind: 'value', index: (p - queries - keys) * cloud.stride.keys };
}

/** The `k` largest weights of a row (ties: the earlier key first), strongest first. */
export function topKeys(weights: ArrayLike<number>, k: number): Array<{ key: number; weight: number }> {
  const order = Array.from({ length: weights.length }, (_, key) => key).filter((key) => Number.isFinite(weights[key]));
  order.sort((a, b) => weights[b] - weights[a] || a - b);
  return order.slice(0, k).map((key) => ({ key, weight: weights[key] }));
}

/** The factor that fits the drawn points in a ball of `radius` about the origin (1 for an empty or all-zero cloud). */
export function fitScale(positions: Float32Array, count: number, radius: number): number {
  let reach = 0;
  for (let p = 0; p < count; p++) {
    const x = positions[4 * p];
    const y = positions[4 * p + 1];
    const z = positions[4 * p + 2];
    reach = Math.max(reach, Math.hypot(x, y, z));
  }
  return reach > 0 && Number.isFinite(reach) ? radius / reach : 1;
}
