/**
 * The attention map as lit 3D surfaces (three.js WebGPURenderer + TSL), drawn straight from the
 * GPU: on WebGPU the renderer runs on the app's own device, our reduction kernel writes the
 * surface grid into a buffer that three binds as a storage attribute, and the vertex shader
 * reads heights from it. Only the small reduced grid (≤ 256² cells × 5 planes) is read back,
 * once per data change, for picking, the legend ranges and the label layout.
 *
 * Without WebGPU the same renderer runs on WebGL2 (`forceWebGL`): storage buffers are not
 * available there, so the grid is reduced on the CPU (src/reference/reduce.ts) and baked into
 * vertex attributes; the shader arithmetic after the fetch is shared.
 */
import * as THREE from 'three/webgpu';
import {
  abs,
  attribute,
  clamp,
  dot,
  float,
  floor,
  int,
  min,
  mix,
  positionLocal,
  sRGBTransferEOTF,
  step,
  storage,
  uint,
  uniform,
  uniformArray,
  varying,
  vec3,
  vec4,
} from 'three/tsl';
import { OrbitControls } from 'three/addons/controls/OrbitControls.js';
import type { ResolvedShape } from '../core/types';
import type { AttentionBuffers } from '../kernels/attention';
import { createGridReducer, type GridReducer } from '../kernels/reduce';
import {
  GRID_CELL_CAPACITY,
  isExact,
  planGrid,
  reduceAttention,
  type GridPlan,
  type ReductionMode,
} from '../reference/reduce';
import { GRID_PLANES } from '../reference/reduce';
import { waitForGpu } from '../gpu/device';
import { classifyAdapter } from '../kernels/tuning';
import { MASKED_COLOR, VIRIDIS_KEYS, viridisCss } from './colormap';
import { cellOfEntry, cellSizeText, cellStart, checkPrecomputed, downsampleGrid, planPrecomputed, weightsOnlyPlanes, type PrecomputedGridSpec } from './grid';
import { buildLabels, disposeLabels } from './labels';
import { bindStorageBuffer, webglContext, type BoundStorageBuffer } from './three-internals';
import {
  PLANE_COUNT,
  buildGeometryArrays,
  displayRanges,
  displayValues,
  heightOf,
  makeLayout,
  rayPick,
  type DisplayRanges,
  type StageMix,
  type StageView,
  type SurfaceLayout,
} from './layout';

export { viridis, viridisCss, VIRIDIS_KEYS, MASKED_COLOR } from './colormap';
export { axisTicks, MAX_TOKEN_LABELS } from './labels';
export { cellOfEntry, cellStart, downsampleGrid, planPrecomputed } from './grid';
export type { StageView } from './layout';

/**
 * A precomputed grid of the softmax WEIGHTS, as the fused path's `reducedMap` returns it:
 * heads × rows × cols (all heads of the shape), cell (r, c) the block max or mean of queries
 * [blockStart(r, rows, seqLen), blockStart(r + 1, rows, seqLen)) and keys likewise (blocks of
 * src/reference/reduce.ts). Scores do not exist on that path, so only the weights stage does.
 * A GPUBuffer must live on the device given to {@link createSurfaceView} and have COPY_SRC
 * usage; it is copied GPU-side into the scene's grid when no further shrinking is needed (one
 * head, or all heads whose rows/cols fit maxSideFor of src/reference/reduce.ts), else read back and shrunk on the
 * CPU. Without WebGPU only a Float32Array works.
 */
export interface PrecomputedGrid extends PrecomputedGridSpec {
  weights: GPUBuffer | Float32Array;
}

/** The data a surface draws. */
export interface SurfaceSource {
  shape: ResolvedShape;
  /** Query token labels (may be shorter than seqLen for huge maps: indices are shown then). */
  tokens: string[];
  /** Key token labels. */
  keyTokens: string[];
  /** Buffers of the last GPU run on the SAME device given to {@link createSurfaceView}. */
  gpu?: AttentionBuffers;
  /** CPU arrays, used when there is no WebGPU (or no `gpu` buffers). */
  cpu?: { q: Float32Array; k: Float32Array; scores: Float32Array; weights: Float32Array };
  /**
   * The fused path: a precomputed grid of the weights only (no `gpu`, no `cpu`). Takes
   * precedence over both. `setReduction` does not apply (the grid's own mode is shown);
   * `setHead` works without new data.
   */
  grid?: PrecomputedGrid;
  /**
   * How the heads are arranged when all are shown: `columns` surfaces per row (else a near-square
   * grid) and a title per head (else "head i"); a '\n' in a title starts a smaller second line.
   * The model view passes every layer × head as one source: columns = heads, one row per layer.
   */
  panels?: { columns?: number; titles?: readonly string[] };
}

/**
 * What is under the cursor. `queryEnd` and `keyEnd` are EXCLUSIVE: the cell covers queries
 * [query, queryEnd) and keys [key, keyEnd) (one entry each when the grid is exact).
 */
export interface CellInfo {
  head: number;
  query: number;
  key: number;
  queryEnd: number;
  keyEnd: number;
}

/** Everything the UI needs to draw the legend of the current view. */
export interface LegendInfo {
  title: string;
  /** Values at the bottom and top of the colormap (and of the height range). */
  min: number;
  max: number;
  /** CSS linear-gradient of the colormap, left = min, right = max. */
  gradientCss: string;
  /** How cells relate to entries, e.g. 'exact (1 cell = 1 entry)' or 'max over 8×8 blocks'. */
  reduction: string;
  /** How masked entries look in this stage. */
  masked: string;
  /** True when the source is a precomputed weights grid (fused path). */
  fused: boolean;
  /** Anything else the legend should say (e.g. why a chosen stage is not shown); '' when nothing. */
  note: string;
}

/** A 3D attention surface bound to one canvas. Create with {@link createSurfaceView}. */
export interface SurfaceView {
  readonly backend: 'webgpu' | 'webgl';
  /** Recompute the grid (GPU reduction when needed) and redraw. */
  setSource(source: SurfaceSource): Promise<void>;
  /**
   * Morph to a stage over a few frames, rendering each on demand. A stage the source does not
   * have (see {@link SurfaceView.availableStages}) is remembered but the weights stay shown, and
   * `legend().note` says why; it comes back when a source that has it is set.
   */
  setStage(stage: StageView): void;
  /** The stages the current source can show: all four, or ['weights'] for a precomputed grid. */
  availableStages(): StageView[];
  /** Show one head, or all heads side by side (−1). */
  setHead(head: number): void;
  /** How blocks become cells when the map is larger than the grid. */
  setReduction(mode: ReductionMode): void;
  /** Put the camera back where it starts. */
  resetView(): void;
  /** The entry (or block) under a point in CSS pixels relative to the canvas; null when none. */
  pick(canvasX: number, canvasY: number): CellInfo | null;
  /** Highlight the query row of a cell and the cell itself; null clears. */
  highlightRow(cell: CellInfo | null): void;
  legend(): LegendInfo;
  /** Render once now; resolves with the frame time in ms once the GPU is done. */
  render(): Promise<number>;
  /** Render and encode the canvas as PNG (labels included). */
  toPngBlob(): Promise<Blob>;
  /** Follow the canvas's CSS size. */
  resize(): void;
  /** Resolves when every pending source/head/reduction change and stage animation has been drawn. */
  whenIdle(): Promise<void>;
  destroy(): void;
  /** Called after each render (the UI refreshes the legend). */
  onChange?: () => void;
}

const STAGE_INDEX: Record<StageView, number> = { raw: 0, scaled: 1, masked: 2, weights: 3 };
const ALL_STAGES: StageView[] = ['raw', 'scaled', 'masked', 'weights'];
const FUSED_STAGES: StageView[] = ['weights'];
/** What the legend says when a stage other than the weights is asked for on the fused path. */
export const FUSED_ONLY_WEIGHTS = 'only the weights exist on the fused path (scores are never stored)';
const STAGE_TITLES: Record<StageView, string> = {
  raw: 'raw scores QKᵀ',
  scaled: 'scaled scores QKᵀ/√d_k (on the raw scale)',
  masked: 'masked scores QKᵀ/√d_k + mask',
  weights: 'softmax weights',
};
/** Frames of a stage morph: enough to read as motion, few enough for SwiftShader. */
const MORPH_FRAMES = 6;

function oneHot(stage: StageView): StageMix {
  const mix: StageMix = [0, 0, 0, 0];
  mix[STAGE_INDEX[stage]] = 1;
  return mix;
}

/** Block sizes as text: '8' when every block has the same size, '7–8' otherwise. */
function blockText(length: number, cells: number): string {
  const small = Math.floor(length / cells);
  return length % cells === 0 ? String(small) : `${small}–${small + 1}`;
}

interface Current {
  plan: GridPlan;
  /** Cells per head of a precomputed grid along queries/keys (undefined: reduced from the full map). */
  gridRows?: number;
  gridCols?: number;
  layout: SurfaceLayout;
  planes: Float32Array;
  cells: number;
  ranges: DisplayRanges;
  heights: Float32Array;
  layoutKey: string;
}

/** Options of {@link createSurfaceView}. */
export interface SurfaceOptions {
  /** Device pixels per CSS pixel (the page's devicePixelRatio; capped at 2). Default 1. */
  pixelRatio?: number;
}

/**
 * Create the surface view on a canvas. With a device, three.js renders on that device (the
 * attention buffers feed the surface without a CPU readback); with null, on WebGL2.
 */
export async function createSurfaceView(canvas: HTMLCanvasElement, device: GPUDevice | null, options: SurfaceOptions = {}): Promise<SurfaceView> {
  const webgpu = device !== null;
  // MSAA costs 2–3× per frame on a software adapter (SwiftShader), where every frame is already slow.
  const antialias = device ? !classifyAdapter(device).software : true;
  const renderer = device
    ? new THREE.WebGPURenderer({ canvas, device, antialias })
    : new THREE.WebGPURenderer({ canvas, forceWebGL: true, antialias });
  renderer.setPixelRatio(Math.min(options.pixelRatio ?? 1, 2));
  renderer.setSize(canvas.clientWidth || canvas.width || 300, canvas.clientHeight || canvas.height || 150, false);
  await renderer.init();
  const reducer: GridReducer | null = device ? await createGridReducer(device) : null;

  const scene = new THREE.Scene();
  scene.background = new THREE.Color(0x15161a);
  scene.add(new THREE.HemisphereLight(0xdde6ff, 0x2a2630, 1.1));
  const sun = new THREE.DirectionalLight(0xffffff, 2.2);
  // Low and from the front left, so slopes facing the viewer are shaded differently from tops.
  sun.position.set(-5, 6, 4);
  scene.add(sun);
  const rim = new THREE.DirectionalLight(0x9fb8ff, 0.6);
  rim.position.set(6, 3, -5);
  scene.add(rim);

  const camera = new THREE.PerspectiveCamera(40, 1, 0.05, 500);
  const controls = new OrbitControls(camera, canvas);
  controls.enableDamping = false; // damping needs a render loop; we render only on change

  // ---- uniforms shared by the shader, the CPU heights and picking ----
  const uMix = uniform(new THREE.Vector4(0, 0, 0, 1));
  const uLo = uniform(0);
  const uSpan = uniform(1);
  const uWMax = uniform(1);
  const uHeight = uniform(1);
  const uFloor = uniform(-0.1);
  const uRows = uniform(1);
  const uCols = uniform(1);
  const uHiHead = uniform(-1);
  const uHiRow = uniform(-1);
  const uHiCol = uniform(-1);

  // ---- the surface material ----
  const cell = attribute('cell', 'vec3');
  let values;
  let maskFrac;
  /** Our grid buffer handed to three; checked once after the first frame that drew the surface. */
  let gridBinding: BoundStorageBuffer | null = null;
  if (reducer && device) {
    // Our grid buffer stands in for the attribute's buffer (see three-internals.ts); needsUpdate
    // is never set, so three never writes to it.
    const gridAttr = new THREE.StorageBufferAttribute(new Float32Array(PLANE_COUNT * GRID_CELL_CAPACITY), 1);
    gridBinding = bindStorageBuffer(renderer, gridAttr, reducer.grid);
    const grid = storage(gridAttr, 'float', PLANE_COUNT * GRID_CELL_CAPACITY).toReadOnly();
    const index = uint(cell.x.mul(uRows).add(cell.y).mul(uCols).add(cell.z).add(0.5));
    const plane = (p: number) => grid.element(index.add(p * GRID_CELL_CAPACITY));
    values = vec4(plane(0), plane(1), plane(2), plane(3));
    maskFrac = plane(4);
  } else {
    values = attribute('vals', 'vec4');
    maskFrac = attribute('maskFrac', 'float');
  }
  const t = dot(vec4(values.xyz.sub(uLo).div(uSpan), values.w.div(uWMax)), uMix);
  const maskAmount = step(0.999, maskFrac).mul(uMix.z.add(uMix.w));
  const height = mix(t.mul(uHeight), uFloor, maskAmount);
  const rowHit = step(abs(cell.x.sub(uHiHead)), 0.5).mul(step(abs(cell.y.sub(uHiRow)), 0.5));
  const cellHit = rowHit.mul(step(abs(cell.z.sub(uHiCol)), 0.5));
  const vT = varying(clamp(t, 0, 1), 'vT');
  const vMask = varying(maskAmount, 'vMask');
  const vHighlight = varying(rowHit.mul(0.35).add(cellHit.mul(0.45)), 'vHighlight');

  const keys = uniformArray<'vec4'>(VIRIDIS_KEYS.map((k) => new THREE.Vector4(k[0] / 255, k[1] / 255, k[2] / 255, 1)), 'vec4');
  const last = VIRIDIS_KEYS.length - 1;
  const f = vT.mul(last);
  const k0 = min(floor(f), float(last - 1));
  const srgb = mix(keys.element(int(k0)), keys.element(int(k0).add(1)), f.sub(k0)).xyz;
  const masked = new THREE.Color().setRGB(MASKED_COLOR[0], MASKED_COLOR[1], MASKED_COLOR[2], THREE.SRGBColorSpace);

  const material = new THREE.MeshStandardNodeMaterial({ roughness: 0.7, metalness: 0, side: THREE.DoubleSide, flatShading: true });
  material.positionNode = vec3(positionLocal.x, height, positionLocal.z);
  // The keys are sRGB; lighting works in linear space.
  material.colorNode = mix(sRGBTransferEOTF(srgb) as unknown as ReturnType<typeof vec3>, vec3(masked.r, masked.g, masked.b), vMask);
  material.emissiveNode = vec3(1.0, 0.45, 0.08).mul(vHighlight);

  const mesh = new THREE.Mesh(new THREE.BufferGeometry(), material);
  // Heights exist only on the GPU: the CPU bounding box knows nothing about them.
  mesh.frustumCulled = false;
  mesh.visible = false;
  scene.add(mesh);

  const axes = new THREE.Group();
  scene.add(axes);
  let labels: THREE.Group | null = null;

  // ---- state ----
  let source: SurfaceSource | null = null;
  let head = 0;
  let mode: ReductionMode = 'max';
  /** The stage asked for; the source may not have it (see stagesOf). */
  let stage: StageView = 'weights';
  let mixNow: StageMix = oneHot(stage);
  /** The stage the mix is at or morphing to. */
  let mixStage: StageView = stage;
  const stagesOf = (src: SurfaceSource | null): StageView[] => (src?.grid ? FUSED_STAGES : ALL_STAGES);
  /** The stage drawn: the one asked for when the current data has it, else the weights. */
  const shownStage = (): StageView => (current?.gridRows === undefined || stage === 'weights' ? stage : 'weights');
  let current: Current | null = null;
  let highlighted: CellInfo | null = null;
  let destroyed = false;
  let animationToken = 0;
  let animation: Promise<void> = Promise.resolve();

  // ---- rendering: serialised, and coalesced while one is waiting to start ----
  let chain: Promise<unknown> = Promise.resolve();
  let waiting: Promise<number> | null = null;
  const gl = webgpu ? null : webglContext(renderer);
  async function finishGpu(): Promise<void> {
    if (device) await waitForGpu(device);
    else if (gl) gl.readPixels(0, 0, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, new Uint8Array(4)); // blocks until drawn
  }
  function renderNow(): void {
    renderer.render(scene, camera);
    if (gridBinding && mesh.visible) {
      // The first frame that drew the surface has bound the grid: three must have kept our buffer.
      gridBinding.verify();
      gridBinding = null;
    }
  }
  function render(): Promise<number> {
    if (waiting) return waiting;
    const next = chain.then(async () => {
      waiting = null;
      if (destroyed) return 0;
      const t0 = performance.now();
      renderNow();
      await finishGpu();
      const ms = performance.now() - t0;
      view.onChange?.();
      return ms;
    });
    waiting = next;
    chain = next.catch(() => undefined);
    return next;
  }

  function applyMix(): void {
    uMix.value.set(...mixNow);
    if (!current) return;
    const { t: tv, mask } = displayValues(current.planes, current.cells, current.ranges, mixNow);
    for (let n = 0; n < current.cells; n++) current.heights[n] = heightOf(current.layout, tv[n], mask[n]);
  }

  function applyHighlight(): void {
    const cur = current;
    const hz = highlighted && cur ? highlighted.head - cur.plan.headFirst : -1;
    if (!highlighted || !cur || hz < 0 || hz >= cur.plan.headCount) {
      uHiHead.value = uHiRow.value = uHiCol.value = -1;
      return;
    }
    uHiHead.value = hz;
    uHiRow.value = cellOfEntry(highlighted.query, cur.plan.rows, cur.plan.seqLen, cur.gridRows);
    uHiCol.value = cellOfEntry(highlighted.key, cur.plan.cols, cur.plan.kvLen, cur.gridCols);
  }

  function buildAxes(layout: SurfaceLayout): void {
    for (const child of [...axes.children]) {
      (child as THREE.LineSegments).geometry.dispose();
      ((child as THREE.LineSegments).material as THREE.Material).dispose();
      axes.remove(child);
    }
    // A frame under each surface at height 0, so heights read against a visible base.
    const points: number[] = [];
    for (const [ox, oz] of layout.origins) {
      const x1 = ox + layout.width;
      const z1 = oz + layout.depth;
      points.push(ox, 0, oz, x1, 0, oz, x1, 0, oz, x1, 0, z1, x1, 0, z1, ox, 0, z1, ox, 0, z1, ox, 0, oz);
    }
    const geometry = new THREE.BufferGeometry();
    geometry.setAttribute('position', new THREE.Float32BufferAttribute(points, 3));
    axes.add(new THREE.LineSegments(geometry, new THREE.LineBasicMaterial({ color: 0x5c6070 })));
  }

  function buildGeometry(layout: SurfaceLayout, planes: Float32Array, cells: number): void {
    const arrays = buildGeometryArrays(layout);
    const geometry = new THREE.BufferGeometry();
    geometry.setAttribute('position', new THREE.BufferAttribute(arrays.positions, 3));
    const normals = new Float32Array(arrays.positions.length);
    for (let i = 1; i < normals.length; i += 3) normals[i] = 1; // flat shading derives the real ones
    geometry.setAttribute('normal', new THREE.BufferAttribute(normals, 3));
    geometry.setAttribute('cell', new THREE.BufferAttribute(arrays.cells, 3));
    if (!reducer) {
      const count = arrays.cellOfVertex.length;
      const vals = new Float32Array(count * 4);
      const mf = new Float32Array(count);
      for (let v = 0; v < count; v++) {
        const n = arrays.cellOfVertex[v];
        for (let p = 0; p < 4; p++) vals[4 * v + p] = planes[p * cells + n];
        mf[v] = planes[4 * cells + n];
      }
      geometry.setAttribute('vals', new THREE.BufferAttribute(vals, 4));
      geometry.setAttribute('maskFrac', new THREE.BufferAttribute(mf, 1));
    }
    geometry.setIndex(new THREE.BufferAttribute(arrays.index, 1));
    mesh.geometry.dispose();
    mesh.geometry = geometry;
    mesh.visible = true;
  }

  function resetView(): void {
    const bounds = current?.layout.bounds ?? { minX: -2, maxX: 2, minZ: -2, maxZ: 2 };
    const extent = Math.max(bounds.maxX - bounds.minX, bounds.maxZ - bounds.minZ) + 2.4;
    const distance = (0.5 * extent) / Math.tan(THREE.MathUtils.degToRad(camera.fov / 2));
    const target = new THREE.Vector3((bounds.minX + bounds.maxX) / 2 - 0.3, 0.2, (bounds.minZ + bounds.maxZ) / 2 + 0.3);
    const direction = new THREE.Vector3(0.45, 1.0, 1.05).normalize();
    camera.position.copy(target).addScaledVector(direction, distance);
    controls.target.copy(target);
    controls.update();
    void render();
  }

  // ---- rebuilding the grid: serialised; a queued rebuild reads the newest settings ----
  let work: Promise<void> = Promise.resolve();
  let queued: Promise<void> | null = null;
  function scheduleRebuild(): Promise<void> {
    if (queued) return queued;
    const next = work.then(async () => {
      queued = null;
      await rebuild();
    });
    queued = next;
    work = next.catch(() => undefined);
    return next;
  }

  /** The planes of a full-path source (GPU reduction, or the CPU reference). */
  async function reducedPlanes(src: SurfaceSource, plan: GridPlan): Promise<Float32Array> {
    if (reducer && src.gpu) {
      await reducer.reduce(src.gpu, plan);
      return reducer.read(plan);
    }
    if (src.cpu) {
      const planes = reduceAttention(src.shape, src.cpu, plan);
      reducer?.upload(planes, plan);
      return planes;
    }
    throw new Error(webgpu ? 'SurfaceSource has neither gpu buffers, cpu arrays nor a grid.' : 'Without WebGPU the surface needs the cpu arrays or a Float32Array grid of SurfaceSource.');
  }

  /**
   * The planes of a precomputed weights grid: a GPUBuffer is copied GPU-side into our grid when
   * its cells are the plan's cells (then the planes are read back for picking and ranges, as on
   * the full path), otherwise read back and shrunk; a Float32Array is shrunk if needed and uploaded.
   */
  async function precomputedPlanes(grid: PrecomputedGrid, shape: ResolvedShape, plan: GridPlan): Promise<Float32Array> {
    const isArray = grid.weights instanceof Float32Array;
    const problem = checkPrecomputed(shape, grid, isArray ? (grid.weights as Float32Array).length : Math.floor((grid.weights as GPUBuffer).size / 4));
    if (problem) throw new Error(`SurfaceSource.grid: ${problem}`);
    const perHead = grid.rows * grid.cols;
    const cells = plan.headCount * plan.rows * plan.cols;
    const direct = plan.rows === grid.rows && plan.cols === grid.cols;
    const first = plan.headFirst * perHead;
    const count = plan.headCount * perHead;
    if (isArray) {
      const values = (grid.weights as Float32Array).subarray(first, first + count);
      const planes = weightsOnlyPlanes(direct ? values : downsampleGrid(values, grid, plan), plan, shape.causal, grid.rows, grid.cols);
      reducer?.upload(planes, plan);
      return planes;
    }
    const buffer = grid.weights as GPUBuffer;
    if (!reducer || !device) throw new Error('SurfaceSource.grid: a GPUBuffer grid needs the WebGPU backend on the buffer’s device; pass a Float32Array instead.');
    if (!direct) {
      const values = await reducer.readFloats(buffer, first, count);
      const planes = weightsOnlyPlanes(downsampleGrid(values, grid, plan), plan, shape.causal, grid.rows, grid.cols);
      reducer.upload(planes, plan);
      return planes;
    }
    // Zero-copy: the other planes from the CPU (zeros and mask fractions), the weights GPU-side.
    const rest = weightsOnlyPlanes(new Float32Array(cells), plan, shape.causal, grid.rows, grid.cols);
    await reducer.fillWithWeights(rest, buffer, first, GRID_PLANES.indexOf('weights'), plan);
    return reducer.read(plan);
  }

  async function rebuild(): Promise<void> {
    const src = source;
    if (!src || destroyed) return;
    const shape = src.shape;
    const headShown = head >= shape.heads ? shape.heads - 1 : head;
    let plan: GridPlan;
    let planes: Float32Array;
    let gridRows: number | undefined;
    let gridCols: number | undefined;
    if (src.grid) {
      plan = planPrecomputed(shape, src.grid, headShown);
      gridRows = src.grid.rows;
      gridCols = src.grid.cols;
      planes = await precomputedPlanes(src.grid, shape, plan);
    } else {
      plan = planGrid(shape, headShown, mode);
      planes = await reducedPlanes(src, plan);
    }
    if (destroyed) return;
    const cells = plan.headCount * plan.rows * plan.cols;
    const layout = makeLayout(plan, plan.headCount > 1 ? src.panels?.columns : undefined);
    const layoutKey = JSON.stringify([plan.headCount, plan.rows, plan.cols, layout.width, layout.depth, layout.columns]);
    const ranges = displayRanges(planes, cells);
    const boundsChanged = !current || JSON.stringify(current.layout.bounds) !== JSON.stringify(layout.bounds);
    if (!reducer || current?.layoutKey !== layoutKey) {
      buildGeometry(layout, planes, cells);
      buildAxes(layout);
    }
    current = { plan, gridRows, gridCols, layout, planes, cells, ranges, heights: new Float32Array(cells), layoutKey };
    // A source without the stage on show (the fused path has only the weights) snaps to the
    // weights, and back to the chosen stage when a full source returns.
    const wanted = shownStage();
    if (mixStage !== wanted) {
      animationToken++;
      mixStage = wanted;
      mixNow = oneHot(wanted);
    }
    uLo.value = ranges.lo;
    uSpan.value = ranges.hi - ranges.lo;
    uWMax.value = ranges.wMax;
    uHeight.value = layout.heightScale;
    uFloor.value = layout.floor;
    uRows.value = plan.rows;
    uCols.value = plan.cols;
    if (labels) disposeLabels(labels);
    labels = buildLabels(layout, {
      tokens: src.tokens,
      keyTokens: src.keyTokens,
      headNames: Array.from({ length: plan.headCount }, (_, hz) => src.panels?.titles?.[plan.headFirst + hz] ?? `head ${plan.headFirst + hz}`),
    });
    scene.add(labels);
    applyMix();
    applyHighlight();
    if (boundsChanged) resetView();
    await render();
  }

  const view: SurfaceView = {
    backend: webgpu ? 'webgpu' : 'webgl',
    setSource(next) {
      source = next;
      return scheduleRebuild();
    },
    setStage(next) {
      stage = next;
      const target = current ? shownStage() : next;
      if (target === mixStage && current) {
        void render(); // the legend note may change
        return;
      }
      mixStage = target;
      const token = ++animationToken;
      const from: StageMix = [...mixNow];
      const to = oneHot(target);
      animation = (async () => {
        for (let frame = 1; frame <= MORPH_FRAMES; frame++) {
          if (token !== animationToken || destroyed) return;
          const s = frame / MORPH_FRAMES;
          const eased = s * s * (3 - 2 * s);
          mixNow = from.map((a, p) => a + (to[p] - a) * eased) as StageMix;
          applyMix();
          if (!current) continue;
          await render();
        }
      })();
    },
    setHead(next) {
      head = next;
      if (source) void scheduleRebuild().catch((error) => console.error('[scene] head change failed:', error));
    },
    setReduction(next) {
      mode = next;
      if (source) void scheduleRebuild().catch((error) => console.error('[scene] reduction change failed:', error));
    },
    availableStages() {
      return [...stagesOf(source)];
    },
    resetView,
    pick(canvasX, canvasY) {
      const cur = current;
      if (!cur) return null;
      const width = canvas.clientWidth || canvas.width;
      const heightPx = canvas.clientHeight || canvas.height;
      const ndc = new THREE.Vector2((canvasX / width) * 2 - 1, -(canvasY / heightPx) * 2 + 1);
      const raycaster = new THREE.Raycaster();
      raycaster.setFromCamera(ndc, camera);
      const { origin, direction } = raycaster.ray;
      const hit = rayPick(cur.layout, cur.heights, [origin.x, origin.y, origin.z], [direction.x, direction.y, direction.z]);
      if (!hit) return null;
      const { plan } = cur;
      return {
        head: plan.headFirst + hit.hz,
        query: cellStart(hit.r, plan.rows, plan.seqLen, cur.gridRows),
        queryEnd: cellStart(hit.r + 1, plan.rows, plan.seqLen, cur.gridRows),
        key: cellStart(hit.c, plan.cols, plan.kvLen, cur.gridCols),
        keyEnd: cellStart(hit.c + 1, plan.cols, plan.kvLen, cur.gridCols),
      };
    },
    highlightRow(next) {
      highlighted = next;
      applyHighlight();
      void render();
    },
    legend() {
      const cur = current;
      const shown = shownStage();
      const logits = shown !== 'weights';
      const info: LegendInfo = {
        title: STAGE_TITLES[shown],
        min: cur ? (logits ? cur.ranges.lo : 0) : 0,
        max: cur ? (logits ? cur.ranges.hi : cur.ranges.wMax) : 1,
        gradientCss: viridisCss('to right'),
        reduction: 'exact (1 cell = 1 entry)',
        masked: 'no mask (not causal)',
        fused: false,
        note: '',
      };
      if (!cur || !source) return info;
      const { plan } = cur;
      if (cur.gridRows !== undefined) {
        const exact = plan.rows === plan.seqLen && plan.cols === plan.kvLen;
        const blocks = `${cellSizeText(plan.rows, plan.seqLen, cur.gridRows)}×${cellSizeText(plan.cols, plan.kvLen, cur.gridCols)} blocks (query × key)`;
        info.fused = true;
        info.title = `${STAGE_TITLES.weights} — fused path`;
        info.reduction = exact ? 'fused path: exact (1 cell = 1 entry); scores never stored' : `fused path: ${plan.mode} over ${blocks}; scores never stored`;
        if (plan.mode === 'mean' && !exact) info.reduction += ' (masked entries count as 0)';
        info.note = stage === 'weights' ? FUSED_ONLY_WEIGHTS : `${STAGE_TITLES[stage]} is not available: ${FUSED_ONLY_WEIGHTS}`;
        if (source.shape.causal) {
          info.masked = `grey floor = fully masked ${exact ? 'entries (key after query)' : 'blocks (every key after every query)'}`;
          if (!exact) info.masked += plan.mode === 'max' ? '; partly masked blocks show their unmasked maximum' : '; partly masked blocks average their masked entries as 0';
        }
        return info;
      }
      if (!isExact(plan)) {
        const blocks = `${blockText(plan.seqLen, plan.rows)}×${blockText(plan.kvLen, plan.cols)} blocks (query × key)`;
        if (plan.mode === 'max') info.reduction = `max over ${blocks}`;
        else if (shown === 'masked') info.reduction = `mean over the unmasked entries of ${blocks}`;
        else if (shown === 'weights') info.reduction = `mean over ${blocks}`;
        else info.reduction = `mean over ${blocks}, exact via block means q̄·k̄`;
      }
      if (source.shape.causal) {
        if (shown === 'raw' || shown === 'scaled') info.masked = 'mask not applied yet: masked entries show their real q·k';
        else info.masked = `grey floor = masked (key after query)${isExact(plan) ? '' : '; partly masked blocks show their unmasked entries'}`;
      }
      return info;
    },
    render,
    toPngBlob() {
      const next = chain.then(
        () =>
          new Promise<Blob>((resolve, reject) => {
            // The canvas image is only guaranteed until the frame is presented, so encode it in
            // the same task as the render.
            renderNow();
            canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error('canvas.toBlob produced no image'))), 'image/png');
          }),
      );
      chain = next.catch(() => undefined);
      return next;
    },
    resize() {
      const width = Math.max(1, canvas.clientWidth || canvas.width);
      const heightPx = Math.max(1, canvas.clientHeight || canvas.height);
      renderer.setSize(width, heightPx, false);
      camera.aspect = width / heightPx;
      camera.updateProjectionMatrix();
      void render();
    },
    async whenIdle() {
      await work;
      await animation;
      await chain;
    },
    destroy() {
      if (destroyed) return;
      destroyed = true;
      animationToken++;
      controls.dispose();
      if (labels) disposeLabels(labels);
      mesh.geometry.dispose();
      material.dispose();
      renderer.dispose();
      reducer?.destroy();
    },
  };

  controls.addEventListener('change', () => void render());
  view.resize();
  resetView();
  return view;
}
