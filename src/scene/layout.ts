/**
 * Where the surfaces lie in the world and how a grid value becomes a height: pure TypeScript
 * shared by the shader setup, the label placement and picking (so what is picked is what is
 * drawn). World axes: x = key (left → right), z = query (far → near, like reading a matrix from
 * above), y = height.
 */
import { AttentionError } from '../core/errors';
import { GRID_PLANES, type GridPlan } from '../reference/reduce';

/** Largest side of one head's surface in world units. */
const SURFACE_SIZE = 4;
/** Space between head surfaces when all heads are shown. */
const HEAD_GAP = 0.8;
/**
 * Space between the rows of the model view (one row per layer): wider than HEAD_GAP so that, in
 * perspective, a front row's titles (drawn above its surfaces' back edge) stay clear of the row
 * behind.
 */
const LAYER_GAP = 2.4;
/** Grids up to this side are drawn as flat tiles, one per cell; larger ones as a smooth mesh. */
export const TILE_MAX_SIDE = 64;

/** The placement of one grid's surfaces. */
export interface SurfaceLayout {
  plan: GridPlan;
  /** One flat tile per cell (with vertical walls between cells) instead of one vertex per cell. */
  tiles: boolean;
  /** World size of one head surface along x (keys) and z (queries). */
  width: number;
  depth: number;
  /** World height of a value at the top of the display range. */
  heightScale: number;
  /** World height of fully masked cells (below every value). */
  floor: number;
  /** Minimum x and z corner of each head's surface. */
  origins: Array<[number, number]>;
  /** Surfaces per row of the layout (columns of heads). */
  columns: number;
  /** Extent of everything drawn (without labels). */
  bounds: { minX: number; maxX: number; minZ: number; maxZ: number };
}

/**
 * Where each shown head sits: its column and row in the layout, and whether rows are layers
 * (wider gaps between rows, so a front row's titles stay clear of the row behind).
 */
export interface HeadPlaces {
  columns: number;
  places: Array<[number, number]>;
  layered: boolean;
}

/**
 * The arrangement that follows from the heads' layer/head: when every head names a layer (a
 * model), columns are heads and rows are layers (in the order the layers first appear); else
 * a near-square grid in list order.
 */
export function arrangeHeads(heads: ReadonlyArray<{ layer?: number; head: number }>): HeadPlaces {
  const count = heads.length;
  if (count > 0 && heads.every((h) => h.layer !== undefined)) {
    const layers: number[] = [];
    for (const h of heads) if (!layers.includes(h.layer!)) layers.push(h.layer!);
    const headsShown = [...new Set(heads.map((h) => h.head))].sort((a, b) => a - b);
    return {
      columns: headsShown.length,
      places: heads.map((h) => [headsShown.indexOf(h.head), layers.indexOf(h.layer!)]),
      layered: layers.length > 1,
    };
  }
  const columns = Math.max(1, Math.ceil(Math.sqrt(count)));
  return { columns, places: heads.map((_, n) => [n % columns, Math.floor(n / columns)]), layered: false };
}

/**
 * Lay out the heads of a plan on a grid of surfaces centred on the origin, at `arrangement`'s
 * places (by default near-square in order).
 */
export function makeLayout(plan: GridPlan, arrangement?: HeadPlaces): SurfaceLayout {
  const longest = Math.max(plan.seqLen, plan.kvLen);
  // Keep the true aspect ratio of the map, but never thinner than 1:8 so a surface stays visible.
  const width = Math.max(SURFACE_SIZE / 8, (SURFACE_SIZE * plan.kvLen) / longest);
  const depth = Math.max(SURFACE_SIZE / 8, (SURFACE_SIZE * plan.seqLen) / longest);
  const { columns, places, layered } = arrangement ?? arrangeHeads(Array.from({ length: plan.headCount }, (_, head) => ({ head })));
  if (places.length !== plan.headCount) throw new AttentionError(`makeLayout: ${places.length} places for ${plan.headCount} heads; arrange exactly the heads the plan shows.`);
  const rowsOfHeads = Math.max(1, ...places.map(([, row]) => row + 1));
  const rowGap = layered ? LAYER_GAP : HEAD_GAP;
  const totalW = columns * width + (columns - 1) * HEAD_GAP;
  const totalD = rowsOfHeads * depth + (rowsOfHeads - 1) * rowGap;
  const origins = places.map(([gx, gz]): [number, number] => [-totalW / 2 + gx * (width + HEAD_GAP), -totalD / 2 + gz * (depth + rowGap)]);
  const heightScale = 0.3 * SURFACE_SIZE;
  return {
    plan,
    tiles: Math.max(plan.rows, plan.cols) <= TILE_MAX_SIDE,
    width,
    depth,
    heightScale,
    floor: -0.08 * heightScale,
    origins,
    columns,
    bounds: { minX: -totalW / 2, maxX: totalW / 2, minZ: -totalD / 2, maxZ: totalD / 2 },
  };
}

/** Mesh arrays for a layout: positions (y = 0; the shader sets heights), the cell of each vertex, triangles. */
export interface GridGeometryArrays {
  positions: Float32Array;
  /** Per vertex: (head slot hz, grid row r, grid column c). */
  cells: Float32Array;
  index: Uint32Array;
  /** Cell number (hz·rows + r)·cols + c of each vertex, for baking values per vertex. */
  cellOfVertex: Uint32Array;
}

/** Build the vertex grid of every head: 2×2 vertices per cell for tiles, 1 per cell otherwise. */
export function buildGeometryArrays(layout: SurfaceLayout): GridGeometryArrays {
  const { plan, tiles } = layout;
  const perCell = tiles ? 2 : 1;
  const vx = plan.cols * perCell;
  const vz = plan.rows * perCell;
  const cw = layout.width / plan.cols;
  const cd = layout.depth / plan.rows;
  const perHead = vx * vz;
  const total = perHead * plan.headCount;
  const positions = new Float32Array(total * 3);
  const cells = new Float32Array(total * 3);
  const cellOfVertex = new Uint32Array(total);
  const quads = (vx - 1) * (vz - 1);
  const index = new Uint32Array(Math.max(0, quads) * 6 * plan.headCount);
  let v = 0;
  let t = 0;
  for (let hz = 0; hz < plan.headCount; hz++) {
    const [ox, oz] = layout.origins[hz];
    const first = v;
    for (let z = 0; z < vz; z++) {
      const r = tiles ? z >> 1 : z;
      const zPos = oz + (tiles ? r + (z & 1) : r + 0.5) * cd;
      for (let x = 0; x < vx; x++) {
        const c = tiles ? x >> 1 : x;
        positions[3 * v] = ox + (tiles ? c + (x & 1) : c + 0.5) * cw;
        positions[3 * v + 1] = 0;
        positions[3 * v + 2] = zPos;
        cells[3 * v] = hz;
        cells[3 * v + 1] = r;
        cells[3 * v + 2] = c;
        cellOfVertex[v] = (hz * plan.rows + r) * plan.cols + c;
        v++;
      }
    }
    for (let z = 0; z + 1 < vz; z++) {
      for (let x = 0; x + 1 < vx; x++) {
        const a = first + z * vx + x;
        const b = a + 1;
        const d = a + vx;
        const e = d + 1;
        // Counter-clockwise seen from +y, so the lit side faces up. Written one by one: an
        // array literal per quad (500k quads in the model view at 128 tokens) cost ~100 ms.
        index[t] = a;
        index[t + 1] = d;
        index[t + 2] = b;
        index[t + 3] = b;
        index[t + 4] = d;
        index[t + 5] = e;
        t += 6;
      }
    }
  }
  return { positions, cells, index, cellOfVertex };
}

/** The value ranges that map to heights 0…1 (and colormap ends). */
export interface DisplayRanges {
  /** Range of the logit stages (raw, scaled, masked share it so scaling visibly flattens). */
  lo: number;
  hi: number;
  /** Top of the weights stage (its bottom is 0). */
  wMax: number;
}

/** Display ranges of a reduced grid (planes in the layout of `reduceAttention`). */
export function displayRanges(planes: Float32Array, cells: number): DisplayRanges {
  let lo = Infinity;
  let hi = -Infinity;
  let wMax = 0;
  for (let n = 0; n < cells; n++) {
    // A fully masked cell's masked-stage value is −∞ by design: only raw and scaled count then.
    const stages = planes[4 * cells + n] >= 1 ? 2 : 3;
    for (let p = 0; p < stages; p++) {
      const value = planes[p * cells + n];
      if (!Number.isFinite(value)) continue;
      if (value < lo) lo = value;
      if (value > hi) hi = value;
    }
    const w = planes[3 * cells + n];
    if (Number.isFinite(w) && w > wMax) wMax = w;
  }
  if (!(lo <= hi)) {
    lo = 0;
    hi = 1;
  }
  if (hi - lo < 1e-12) hi = lo + 1;
  return { lo, hi, wMax: wMax > 0 ? wMax : 1 };
}

/** Mix weights of the four stages (raw, scaled, masked, weights); they sum to 1. */
export type StageMix = [number, number, number, number];

/**
 * What the surface shows: raw QKᵀ, scaled QKᵀ/√d_k, scaled + mask, softmax weights. Defined by
 * the scene (it is the scene's vocabulary); src/app/state.ts names it in the app state and URL.
 */
export type StageView = 'raw' | 'scaled' | 'masked' | 'weights';

/**
 * Normalised display value t ∈ [0, 1] and masking amount of every cell for a stage mix: the
 * same arithmetic as the surface shader. Heights in world units are mix(t·heightScale, floor, mask).
 */
export function displayValues(planes: Float32Array, cells: number, ranges: DisplayRanges, mix: StageMix): { t: Float32Array; mask: Float32Array } {
  const t = new Float32Array(cells);
  const mask = new Float32Array(cells);
  const span = ranges.hi - ranges.lo;
  const maskWeight = mix[2] + mix[3];
  for (let n = 0; n < cells; n++) {
    let value = 0;
    for (let p = 0; p < 3; p++) value += mix[p] * ((planes[p * cells + n] - ranges.lo) / span);
    value += mix[3] * (planes[3 * cells + n] / ranges.wMax);
    t[n] = value;
    mask[n] = planes[4 * cells + n] >= 0.999 ? maskWeight : 0;
  }
  return { t, mask };
}

/** World height of a cell from its display value and masking amount. */
export function heightOf(layout: SurfaceLayout, t: number, mask: number): number {
  return t * layout.heightScale * (1 - mask) + layout.floor * mask;
}

/** A grid cell: head slot, row, column. */
export interface GridCell {
  hz: number;
  r: number;
  c: number;
}

/**
 * First cell a ray hits, treating every cell as a column up to its height (exact for tiles,
 * within half a cell for the smooth mesh). `heights` holds world heights per cell.
 */
export function rayPick(
  layout: SurfaceLayout,
  heights: Float32Array,
  origin: readonly [number, number, number],
  direction: readonly [number, number, number],
): GridCell | null {
  const { plan } = layout;
  const cw = layout.width / plan.cols;
  const cd = layout.depth / plan.rows;
  let best: { t: number; cell: GridCell } | null = null;
  const yMin = layout.floor - 1e-3;
  let yMax = 0;
  for (const h of heights) if (h > yMax) yMax = h;
  yMax += 1e-3;
  for (let hz = 0; hz < plan.headCount; hz++) {
    const [ox, oz] = layout.origins[hz];
    const lo = [ox, yMin, oz];
    const hi = [ox + layout.width, yMax, oz + layout.depth];
    let t0 = 0;
    let t1 = Infinity;
    for (let a = 0; a < 3; a++) {
      if (Math.abs(direction[a]) < 1e-12) {
        if (origin[a] < lo[a] || origin[a] > hi[a]) t1 = -1;
        continue;
      }
      const ta = (lo[a] - origin[a]) / direction[a];
      const tb = (hi[a] - origin[a]) / direction[a];
      t0 = Math.max(t0, Math.min(ta, tb));
      t1 = Math.min(t1, Math.max(ta, tb));
    }
    if (!(t0 <= t1)) continue;
    if (best && best.t <= t0) continue;
    const horizontal = Math.hypot(direction[0], direction[2]);
    let step = horizontal > 1e-9 ? (0.25 * Math.min(cw, cd)) / horizontal : t1 - t0;
    step = Math.max(Math.min(step, (t1 - t0) / 4), (t1 - t0) / 8192, 1e-9);
    for (let t = t0; t <= t1 + step * 0.5; t += step) {
      const tt = Math.min(t, t1);
      const x = origin[0] + direction[0] * tt;
      const y = origin[1] + direction[1] * tt;
      const z = origin[2] + direction[2] * tt;
      const c = Math.min(plan.cols - 1, Math.max(0, Math.floor((x - ox) / cw)));
      const r = Math.min(plan.rows - 1, Math.max(0, Math.floor((z - oz) / cd)));
      if (y <= heights[(hz * plan.rows + r) * plan.cols + c]) {
        if (!best || tt < best.t) best = { t: tt, cell: { hz, r, c } };
        break;
      }
    }
  }
  return best ? best.cell : null;
}

/** Number of planes per grid (re-exported for the scene). */
export const PLANE_COUNT = GRID_PLANES.length;
