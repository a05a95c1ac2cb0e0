/**
 * The attention maps as lit 3D surfaces (three.js WebGPURenderer + TSL). A source is a list of
 * heads, each naming where its map lies (sources.ts); the scene reduces the heads on show to a
 * grid (on the GPU with the app's own device, src/kernels/reduce.ts; on the CPU without
 * WebGPU), hands the planes to the material (material.ts), lays the heads out by layer/head
 * (layout.ts), labels them (labels.ts), describes them (legend.ts) and renders on demand
 * (scheduler.ts). This file wires those together behind {@link SurfaceView}.
 */
import * as THREE from 'three/webgpu';
import { OrbitControls } from 'three/addons/controls/OrbitControls.js';
import { AttentionError } from '../core/errors';
import { createGridReducer, type GridReducer } from '../kernels/reduce';
import { planGrid, type GridPlan, type ReductionMode } from '../reference/reduce';
import { waitForGpu } from '../gpu/device';
import { classifyAdapter } from '../kernels/tuning';
import { cellOfEntry, cellStart, planPrecomputed } from './grid';
import { buildLabelsPaced, disposeLabels } from './labels';
import { arrangeHeads, buildGeometryArrays, displayRanges, displayValues, heightOf, makeLayout, rayPick, type DisplayRanges, type StageMix, type StageView, type SurfaceLayout } from './layout';
import { legendOf, type LegendInfo } from './legend';
import { buildAxes, createSurfaceMesh } from './material';
import { createPacer } from './pace';
import { createScheduler } from './scheduler';
import { checkSource, fullMapPlanes, headsOf, titleOf, weightsGridPlanes, type HeadId, type HeadMap, type SurfaceSource } from './sources';
import { webglContext } from './three-internals';
import type { CellInfo, RowHighlight, SurfaceOptions, SurfaceView } from './view-types';

export { viridis, viridisCss, VIRIDIS_KEYS, MASKED_COLOR } from './colormap';
export { axisTicks, MAX_TOKEN_LABELS } from './labels';
export { tokenOrigin, tokenLabelStyle, type TokenOrigin, type UserTokens } from './token-origin';
export { cellOfEntry, cellStart, downsampleGrid, planPrecomputed, type PrecomputedGridSpec } from './grid';
export { FUSED_ONLY_WEIGHTS, type LegendInfo } from './legend';
export { arrangeHeads, type StageView } from './layout';
export type { CellInfo, RowHighlight, SurfaceOptions, SurfaceView } from './view-types';
export { SurfaceSourceError, type CpuHead, type GpuHead, type GridHead, type HeadId, type HeadMap, type SurfaceSource } from './sources';

/** Labels that first appear in one frame (see rebuild). */
const LABEL_BATCH = 24;

const STAGE_INDEX: Record<StageView, number> = { raw: 0, scaled: 1, masked: 2, weights: 3 };
const ALL_STAGES: StageView[] = ['raw', 'scaled', 'masked', 'weights'];
const FUSED_STAGES: StageView[] = ['weights'];

function sameMix(a: StageMix, b: StageMix): boolean {
  return a.every((value, i) => value === b[i]);
}

function oneHot(stage: StageView): StageMix {
  const mix: StageMix = [0, 0, 0, 0];
  mix[STAGE_INDEX[stage]] = 1;
  return mix;
}

interface Current {
  plan: GridPlan;
  heads: HeadId[];
  causal: boolean;
  /** Cells per head of a weights grid along queries/keys (undefined: reduced from full maps). */
  gridRows?: number;
  gridCols?: number;
  layout: SurfaceLayout;
  planes: Float32Array;
  cells: number;
  ranges: DisplayRanges;
  heights: Float32Array;
  layoutKey: string;
}

/**
 * Create the surface view on a canvas. With a device, three.js renders on that device and the
 * GPU heads are reduced there; with null, on WebGL2 from CPU heads.
 */
export async function createSurfaceView(canvas: HTMLCanvasElement, device: GPUDevice | null, options: SurfaceOptions = {}): Promise<SurfaceView> {
  // MSAA costs 2–3× per frame on a software adapter (SwiftShader), where every frame is already slow.
  const antialias = device ? !classifyAdapter(device).software : true;
  const renderer = device ? new THREE.WebGPURenderer({ canvas, device, antialias }) : new THREE.WebGPURenderer({ canvas, forceWebGL: true, antialias });
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

  const surface = createSurfaceMesh(reducer !== null);
  const u = surface.uniforms;
  scene.add(surface.mesh);
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
  const stagesOf = (src: SurfaceSource | null): StageView[] => (src?.kind === 'weights-grid' || (src?.kind === 'gpu-maps' && src.weightsOnly === true) ? FUSED_STAGES : ALL_STAGES);
  /** The stage drawn: the one asked for when the current data has it, else the weights. */
  const shownStage = (): StageView => ((current?.gridRows === undefined && stagesOf(source).includes(stage)) || stage === 'weights' ? stage : 'weights');
  let current: Current | null = null;
  let highlighted: RowHighlight | null = null;
  let destroyed = false;

  const gl = device ? null : webglContext(renderer);
  const scheduler = createScheduler({
    draw: () => renderer.render(scene, camera),
    async finish() {
      if (device) await waitForGpu(device);
      else if (gl) gl.readPixels(0, 0, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, new Uint8Array(4)); // blocks until drawn
    },
    rendered: () => view.onChange?.(),
    destroyed: () => destroyed,
  });
  const render = scheduler.render;

  /** The height of every cell of `shown` at stage mix `mix` (what picking tests the pointer against). */
  function fillHeights(shown: Current, mix: StageMix): void {
    const { t: tv, mask } = displayValues(shown.planes, shown.cells, shown.ranges, mix);
    for (let n = 0; n < shown.cells; n++) shown.heights[n] = heightOf(shown.layout, tv[n], mask[n]);
  }

  function applyMix(): void {
    u.mix.value.set(...mixNow);
    if (current) fillHeights(current, mixNow);
  }

  function applyHighlight(): void {
    const cur = current;
    const hz = highlighted && cur ? highlighted.head - cur.plan.headFirst : -1;
    if (!highlighted || !cur || hz < 0 || hz >= cur.plan.headCount) {
      u.hiHead.value = u.hiRow.value = u.hiCol.value = -1;
      return;
    }
    u.hiHead.value = hz;
    u.hiRow.value = cellOfEntry(highlighted.query, cur.plan.rows, cur.plan.seqLen, cur.gridRows);
    u.hiCol.value = cellOfEntry(highlighted.key, cur.plan.cols, cur.plan.kvLen, cur.gridCols);
  }

  function resetView(): void {
    const bounds = current?.layout.bounds ?? { minX: -2, maxX: 2, minZ: -2, maxZ: 2 };
    const extent = Math.max(bounds.maxX - bounds.minX, bounds.maxZ - bounds.minZ) + 2.4;
    const distance = (0.5 * extent) / Math.tan(THREE.MathUtils.degToRad(camera.fov / 2));
    const target = new THREE.Vector3((bounds.minX + bounds.maxX) / 2 - 0.3, 0.2, (bounds.minZ + bounds.maxZ) / 2 + 0.3);
    const direction = new THREE.Vector3(0.45, 1.0, 1.05).normalize();
    // The distance that makes the footprint's corners fit the frame (a wide grid — the model
    // view's layers × heads — overflows the square estimate in perspective): project them and
    // back off until the farthest sits within 90 % of the frame (views that fit stay as they were).
    const corners = [bounds.minX - 1, bounds.maxX + 1].flatMap((x) => [bounds.minZ - 1, bounds.maxZ + 1].map((z) => new THREE.Vector3(x, 0, z)));
    let fitted = distance;
    for (let pass = 0; pass < 6; pass++) {
      camera.position.copy(target).addScaledVector(direction, fitted);
      camera.lookAt(target);
      camera.updateMatrixWorld();
      const reach = Math.max(...corners.map((c) => {
        const p = c.clone().project(camera);
        return Math.max(Math.abs(p.x), Math.abs(p.y));
      }));
      if (!Number.isFinite(reach) || reach <= 0.92) break;
      fitted *= Math.min(2, reach / 0.9);
    }
    camera.position.copy(target).addScaledVector(direction, fitted);
    controls.target.copy(target);
    controls.update();
    void render();
  }

  async function rebuild(): Promise<void> {
    const src = source;
    if (!src || destroyed) return;
    // The work below runs in slices of at most ~PACE_BUDGET_MS each (reading the maps back,
    // geometry for every head, label textures, heights), and the state changes in one short
    // slice at the end, so no main-thread task runs long and nothing is half-shown in between.
    const pacer = createPacer();
    const shape = checkSource(src);
    const headShown = head >= shape.heads ? shape.heads - 1 : head;
    let plan: GridPlan;
    let planes: Float32Array;
    const fused = src.kind === 'weights-grid' ? src.grid : undefined;
    if (src.kind === 'weights-grid') {
      plan = planPrecomputed(shape, src.grid, headShown);
      planes = await weightsGridPlanes(src, plan, reducer);
    } else {
      plan = planGrid(shape, headShown, mode);
      planes = await fullMapPlanes(src, plan, reducer);
    }
    if (destroyed) return;
    await pacer.yieldNow();
    const shown = headsOf<HeadMap>(src.heads, plan);
    const cells = plan.headCount * plan.rows * plan.cols;
    const layout = makeLayout(plan, arrangeHeads(shown));
    const layoutKey = JSON.stringify([plan.headCount, plan.rows, plan.cols, layout.origins, layout.width, layout.depth]);
    const newLayout = current?.layoutKey !== layoutKey;
    const arrays = newLayout || !surface.grid ? buildGeometryArrays(layout) : undefined;
    await pacer.tick();
    const ranges = displayRanges(planes, cells);
    await pacer.tick();
    const heads = shown.map(({ layer, head: h, title }) => ({ layer, head: h, title: titleOf({ head: h, title }) }));
    const nextLabels = await buildLabelsPaced(layout, { tokens: shown[0].tokens, keyTokens: shown[0].keyTokens, userTokens: shown[0].userTokens, headNames: heads.map((h) => h.title) }, pacer);
    if (destroyed) {
      disposeLabels(nextLabels);
      return;
    }
    // A source without the stage on show (the fused path has only the weights) snaps to the
    // weights, and back to the chosen stage when a full source returns.
    const next: Current = { plan, heads, causal: src.causal, gridRows: fused?.rows, gridCols: fused?.cols, layout, planes, cells, ranges, heights: new Float32Array(cells), layoutKey };
    const mixFor = (): StageMix => {
      const wanted = next.gridRows === undefined && stagesOf(source).includes(stage) ? stage : 'weights';
      return mixStage === wanted ? mixNow : oneHot(wanted);
    };
    let mixed = mixFor();
    fillHeights(next, mixed);
    await pacer.yieldNow();
    if (destroyed) {
      disposeLabels(nextLabels);
      return;
    }
    // ---- commit: one short slice ----
    const boundsChanged = !current || JSON.stringify(current.layout.bounds) !== JSON.stringify(layout.bounds);
    surface.show(layout, planes, cells, newLayout, arrays);
    if (newLayout) buildAxes(axes, layout);
    current = next;
    const wanted = shownStage();
    if (mixStage !== wanted) {
      scheduler.cancelMorph();
      mixStage = wanted;
      mixNow = oneHot(wanted);
    }
    u.lo.value = ranges.lo;
    u.span.value = ranges.hi - ranges.lo;
    u.wMax.value = ranges.wMax;
    u.height.value = layout.heightScale;
    u.floor.value = layout.floor;
    u.rows.value = plan.rows;
    u.cols.value = plan.cols;
    if (labels) disposeLabels(labels);
    labels = nextLabels;
    // New labels join the frames in batches, each frame a task of its own: a sprite's first
    // frame builds its bindings and uploads its texture (~1 ms each on SwiftShader).
    const pending = [...labels.children];
    for (const sprite of pending) sprite.visible = false;
    scene.add(labels);
    u.mix.value.set(...mixNow);
    if (!sameMix(mixed, mixNow)) {
      mixed = mixNow;
      fillHeights(next, mixed); // a morph moved on while the slices ran
    }
    applyHighlight();
    if (boundsChanged) resetView();
    view.onShown?.(src, plan.headCount === 1 && shape.heads > 1 ? headShown : shape.heads === 1 ? 0 : -1);
    // The first frame of new geometry (buffers, bindings) in a task of its own.
    await pacer.yieldNow();
    await render();
    for (let i = 0; i < pending.length && labels === nextLabels && !destroyed; i += LABEL_BATCH) {
      for (const sprite of pending.slice(i, i + LABEL_BATCH)) sprite.visible = true;
      await pacer.yieldNow();
      await render();
    }
  }
  const scheduleRebuild = () => scheduler.rebuild(rebuild);

  const view: SurfaceView = {
    backend: device ? 'webgpu' : 'webgl',
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
      scheduler.morph([...mixNow], oneHot(target), (value) => {
        mixNow = value as StageMix;
        applyMix();
        return current !== null;
      });
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
      const id = cur.heads[hit.hz];
      return {
        head: plan.headFirst + hit.hz,
        query: cellStart(hit.r, plan.rows, plan.seqLen, cur.gridRows),
        queryEnd: cellStart(hit.r + 1, plan.rows, plan.seqLen, cur.gridRows),
        key: cellStart(hit.c, plan.cols, plan.kvLen, cur.gridCols),
        keyEnd: cellStart(hit.c + 1, plan.cols, plan.kvLen, cur.gridCols),
        ...(id.layer !== undefined ? { layer: id.layer } : {}),
        layerHead: id.head,
        title: id.title!,
      };
    },
    highlightRow(next) {
      highlighted = next;
      applyHighlight();
      void render();
    },
    legend() {
      const cur = current;
      return legendOf(cur && source ? cur : null, stage, shownStage());
    },
    render,
    toPngBlob() {
      return scheduler.exclusive(
        () =>
          new Promise<Blob>((resolve, reject) => {
            // The canvas image is only guaranteed until the frame is presented, so encode it in
            // the same task as the render.
            renderer.render(scene, camera);
            canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new AttentionError('canvas.toBlob produced no image: the canvas may be 0 × 0 or lost; resize the window or reload the page, then export again.'))), 'image/png');
          }),
      );
    },
    resize() {
      const width = Math.max(1, canvas.clientWidth || canvas.width);
      const heightPx = Math.max(1, canvas.clientHeight || canvas.height);
      renderer.setSize(width, heightPx, false);
      camera.aspect = width / heightPx;
      camera.updateProjectionMatrix();
      void render();
    },
    whenIdle: () => scheduler.idle(),
    destroy() {
      if (destroyed) return;
      destroyed = true;
      scheduler.cancelMorph();
      controls.dispose();
      if (labels) disposeLabels(labels);
      surface.dispose();
      renderer.dispose();
      reducer?.destroy();
    },
  };

  controls.addEventListener('change', () => void render());
  view.resize();
  resetView();
  return view;
}
