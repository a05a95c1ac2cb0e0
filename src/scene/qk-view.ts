/**
 * Queries and keys in one space (issue 19): a head's q_i and k_j as points in 3D, on a canvas of
 * their own beside the surface. The projection runs on the GPU (src/kernels/qk-projection.ts:
 * AttentionViz's normalisation, then a joint PCA) straight from the head's q/k buffers, or on
 * the CPU for views without WebGPU (the f64 reference); d_head ≤ 3 is drawn raw. Points are
 * instanced sprites (one draw for thousands); hover picks the nearest point on screen; a query's
 * strongest keys get lines with their weights; a surface cell lights its query and key.
 */
import * as THREE from 'three/webgpu';
import { OrbitControls } from 'three/addons/controls/OrbitControls.js';
import { float, instancedBufferAttribute, select, uniform, uv, vec3, vec4 } from 'three/tsl';
import { AttentionError } from '../core/errors';
import { readFloats } from '../gpu/readback';
import { waitForGpu } from '../gpu/device';
import { createQkProjector, QK_POINT_LIMIT, type GpuQkProjector } from '../kernels/qk-projection';
import { classifyAdapter } from '../kernels/tuning';
import { disposeLabels, textSprite } from './labels';
import { fitScale, gatherRows, pointOf, projectOnCpu, QK_KIND, tokenOfPoint, topKeys, type QkCloud, type QkKind } from './qk-points';
import { createScheduler } from './scheduler';
import type { CpuHead, GpuHead, SurfaceSource } from './sources';
import { webglContext } from './three-internals';

/** Display colours of the three clouds (the UI's readout uses the same). */
export const QK_COLORS: Record<QkKind, string> = { query: '#5aa9ff', key: '#ffb347', value: '#7ad67a' };
/** Lines drawn from a hovered query to its strongest keys. */
export const QK_TOP_KEYS = 5;
/** Clouds of at most this many points get a token label beside each point. */
const LABELLED_POINTS = 16;
/** Radius of the ball the cloud is scaled into (world units). */
const CLOUD_RADIUS = 2;

/** What the view shows for a head, or why it shows nothing. */
export type QkShown = { cloud: QkCloud; title: string; tokens: readonly string[]; keyTokens: readonly string[] } | { unavailable: string };

/** A line from a query to a key: the key, its softmax weight, and (raw vectors only) q·k read off the two points. */
export interface QkLink {
  key: number;
  weight: number;
  dot?: number;
}

/** A drawn point under the pointer. */
export interface QkPick {
  kind: QkKind;
  /** Token position (query row or key column). */
  index: number;
  text: string;
  /** Its projected coordinates (before the display scale). */
  coords: [number, number, number];
}

/** The Q/K view on one canvas. Create with {@link createQkView}. */
export interface QkView {
  readonly backend: 'webgpu' | 'webgl';
  /** Project head `head` (its index in the source's list) of `source` and draw it. */
  show(source: SurfaceSource, head: number): Promise<QkShown>;
  /** Draw the values as a third cloud (when the source kept them). */
  setValues(on: boolean): Promise<QkShown | null>;
  /** The point nearest to a canvas position (CSS pixels), within a few pixels; null when none. */
  pick(canvasX: number, canvasY: number): QkPick | null;
  /**
   * Light a query and draw lines to its strongest keys (resolves with them and their weights),
   * or light a query–key pair (a surface cell), or clear (null).
   */
  highlight(target: { query: number; key?: number } | { key: number } | null): Promise<QkLink[]>;
  /** The cloud on show (null before the first). */
  cloud(): QkCloud | null;
  /** Where each drawn point is on the canvas (CSS pixels), for tests and tools. */
  screenPoints(): Array<{ kind: QkKind; index: number; x: number; y: number }>;
  resize(): void;
  render(): Promise<number>;
  whenIdle(): Promise<void>;
  destroy(): void;
}

type MapHead = GpuHead | CpuHead;

function isGpuHead(head: MapHead): head is GpuHead {
  return (head as GpuHead).qk !== undefined;
}

/** Create the Q/K view on `canvas`; with a device, the projection runs there and three renders on it. */
export async function createQkView(canvas: HTMLCanvasElement, device: GPUDevice | null, options: { pixelRatio?: number } = {}): Promise<QkView> {
  const antialias = device ? !classifyAdapter(device).software : true;
  const renderer = device ? new THREE.WebGPURenderer({ canvas, device, antialias }) : new THREE.WebGPURenderer({ canvas, forceWebGL: true, antialias });
  renderer.setPixelRatio(Math.min(options.pixelRatio ?? 1, 2));
  renderer.setSize(canvas.clientWidth || canvas.width || 300, canvas.clientHeight || canvas.height || 150, false);
  await renderer.init();
  const projector: GpuQkProjector | null = device ? await createQkProjector(device) : null;

  const scene = new THREE.Scene();
  scene.background = new THREE.Color(0x15161a);
  const camera = new THREE.PerspectiveCamera(40, 1, 0.05, 100);
  const controls = new OrbitControls(camera, canvas);
  controls.enableDamping = false;

  // ---- the points: one instanced sprite, positions and kinds from one vec4 attribute ----
  const capacity = 3 * QK_POINT_LIMIT;
  const pointAttr = new THREE.InstancedBufferAttribute(new Float32Array(capacity * 4), 4);
  const point = instancedBufferAttribute(pointAttr, 'vec4') as unknown as ReturnType<typeof vec4>;
  const displayScale = uniform(1);
  const pointSize = uniform(0.08);
  const material = new THREE.SpriteNodeMaterial();
  material.positionNode = point.xyz.mul(displayScale);
  material.scaleNode = pointSize;
  const kind = point.w;
  const rgb = (css: string) => {
    const c = new THREE.Color(css);
    return vec3(c.r, c.g, c.b);
  };
  material.colorNode = select(kind.lessThan(0.5), rgb(QK_COLORS.query), select(kind.lessThan(1.5), rgb(QK_COLORS.key), rgb(QK_COLORS.value)));
  // Round dots: the sprite's corners are discarded.
  material.maskNode = uv().sub(0.5).length().lessThan(float(0.5));
  material.transparent = false;
  const points = new THREE.Sprite(material);
  points.count = 0;
  points.frustumCulled = false;
  scene.add(points);

  const axes = new THREE.Group();
  const marks = new THREE.Group();
  scene.add(axes, marks);

  const gl = device ? null : webglContext(renderer);
  let destroyed = false;
  const scheduler = createScheduler({
    draw: () => renderer.render(scene, camera),
    async finish() {
      if (device) await waitForGpu(device);
      else if (gl) gl.readPixels(0, 0, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, new Uint8Array(4)); // blocks until drawn
    },
    rendered: () => undefined,
    destroyed: () => destroyed,
  });
  const render = scheduler.render;
  controls.addEventListener('change', () => void render());

  let cloud: QkCloud | null = null;
  let scale = 1;
  let shownHead: MapHead | null = null;
  let shownSource: SurfaceSource | null = null;
  let shownIndex = 0;
  let withValues = false;
  let meta: { title: string; tokens: readonly string[]; keyTokens: readonly string[] } = { title: '', tokens: [], keyTokens: [] };

  function resetCamera(): void {
    camera.position.set(5.2, 3.7, 6.3);
    camera.lookAt(0, 0, 0);
    controls.target.set(0, 0, 0);
    controls.update();
  }
  resetCamera();

  function clearGroup(group: THREE.Group): void {
    for (const child of [...group.children]) {
      if (child instanceof THREE.Group) {
        disposeLabels(child);
        continue;
      }
      const object = child as THREE.Mesh;
      object.geometry?.dispose();
      (object.material as THREE.Material).dispose();
      group.remove(child);
    }
  }

  function lineSegments(positions: number[], colors: number[]): THREE.LineSegments {
    const geometry = new THREE.BufferGeometry();
    geometry.setAttribute('position', new THREE.Float32BufferAttribute(positions, 3));
    geometry.setAttribute('color', new THREE.Float32BufferAttribute(colors, 3));
    return new THREE.LineSegments(geometry, new THREE.LineBasicMaterial({ vertexColors: true }));
  }

  function buildAxes(c: QkCloud): void {
    clearGroup(axes);
    const reach = CLOUD_RADIUS * 1.05;
    const grey = [0.42, 0.44, 0.5];
    const positions = [-reach, 0, 0, reach, 0, 0, 0, -reach, 0, 0, reach, 0, 0, 0, -reach, 0, 0, reach];
    axes.add(lineSegments(positions, Array.from({ length: 6 }, () => grey).flat()));
    const labels = new THREE.Group();
    const names = c.raw ? ['dim 0', 'dim 1', 'dim 2'] : c.variance.map((v, a) => `PC${a + 1}`);
    const ends: Array<[number, number, number]> = [
      [reach, 0, 0],
      [0, reach, 0],
      [0, 0, reach],
    ];
    names.forEach((name, a) => {
      const label = textSprite(name, { size: 0.16, color: '#b8bccb', center: [0.5, -0.2] });
      label.position.set(...ends[a]);
      labels.add(label);
    });
    axes.add(labels);
    // Raw vectors (d_head ≤ 3, a handful of tokens: the lessons): arrows from the origin, so a
    // dot product reads as length × length × cos of the angle between two of them.
    const total = c.drawn.queries + c.drawn.keys + c.drawn.values;
    if (c.raw && total <= 24) {
      const seg: number[] = [];
      const col: number[] = [];
      for (let p = 0; p < total; p++) {
        const { kind: k } = tokenOfPoint(c, p);
        const color = new THREE.Color(QK_COLORS[k]).multiplyScalar(0.6);
        seg.push(0, 0, 0, c.positions[4 * p] * scale, c.positions[4 * p + 1] * scale, c.positions[4 * p + 2] * scale);
        col.push(color.r, color.g, color.b, color.r, color.g, color.b);
      }
      axes.add(lineSegments(seg, col));
    }
    // Token names beside the points when there are few enough to read (the lessons); past that
    // they overlap, and hover names the point.
    if (total <= LABELLED_POINTS) {
      const tokenLabels = new THREE.Group();
      for (let p = 0; p < total; p++) {
        const { kind: k, index } = tokenOfPoint(c, p);
        const text = (k === 'query' ? meta.tokens[index] : meta.keyTokens[index]) ?? String(index);
        const label = textSprite(`${k === 'query' ? 'q' : k === 'key' ? 'k' : 'v'}·${text}`, { size: 0.13, color: QK_COLORS[k], center: [0, 0] });
        label.position.set(c.positions[4 * p] * scale + 0.05, c.positions[4 * p + 1] * scale + 0.05, c.positions[4 * p + 2] * scale);
        tokenLabels.add(label);
      }
      axes.add(tokenLabels);
    }
  }

  function setCloud(next: QkCloud): void {
    cloud = next;
    const count = next.drawn.queries + next.drawn.keys + next.drawn.values;
    (pointAttr.array as Float32Array).set(next.positions.subarray(0, count * 4));
    pointAttr.clearUpdateRanges();
    pointAttr.addUpdateRange(0, count * 4);
    pointAttr.needsUpdate = true;
    points.count = count;
    scale = fitScale(next.positions, count, CLOUD_RADIUS);
    displayScale.value = scale;
    pointSize.value = Math.min(0.09, Math.max(0.02, 0.4 / Math.cbrt(Math.max(count, 1))));
    clearGroup(marks);
    buildAxes(next);
  }

  async function project(head: MapHead, values: boolean): Promise<QkCloud> {
    const dHead = (shownSource as Extract<SurfaceSource, { dHead: number }>).dHead;
    const wantValues = values && (isGpuHead(head) ? head.vOffset !== undefined : head.v !== undefined);
    if (isGpuHead(head) && projector && device) {
      const result = await projector.project({
        buffer: head.qk,
        qOffset: head.qOffset,
        kOffset: head.kOffset,
        ...(wantValues ? { vOffset: head.vOffset } : {}),
        rowStride: head.rowStride,
        queries: head.seqLen,
        keys: head.kvLen,
        dHead,
      });
      const count = result.drawn.queries + result.drawn.keys + result.drawn.values;
      // The picking and the labels need the positions on the CPU (16 bytes a point).
      const [positions] = await readFloats(device, [[result.points, 0, count * 4]], 'qk/points');
      return {
        positions,
        drawn: result.drawn,
        total: { queries: head.seqLen, keys: head.kvLen },
        stride: result.stride,
        raw: result.raw,
        share: result.share,
        variance: Array.from(result.variance),
        scale: result.scale,
        backend: 'gpu',
        ms: result.gpuMs,
      };
    }
    if (isGpuHead(head)) throw new AttentionError('The Q/K view was made without WebGPU but was given a head on the GPU: make the view with the device that holds the head.');
    const rows = {
      q: gatherRows(head.q, head.qOffset, head.rowStride, head.seqLen, dHead),
      k: gatherRows(head.k, head.kOffset, head.rowStride, head.kvLen, dHead),
      ...(wantValues && head.v ? { v: gatherRows(head.v, head.vOffset ?? 0, head.rowStride, head.kvLen, dHead) } : {}),
      queries: head.seqLen,
      keys: head.kvLen,
      dHead,
    };
    return projectOnCpu(rows, QK_POINT_LIMIT, wantValues);
  }

  async function showHead(): Promise<QkShown> {
    const source = shownSource;
    if (!source) return { unavailable: 'Nothing is shown yet.' };
    if (source.kind === 'weights-grid') {
      shownHead = null;
      cloud = null;
      points.count = 0;
      clearGroup(axes);
      clearGroup(marks);
      await render();
      return { unavailable: 'The fused path keeps no queries or keys (it never writes Q·Kᵀ out): pick a shorter sequence to see them.' };
    }
    const head = source.heads[Math.min(shownIndex, source.heads.length - 1)] as MapHead;
    const next = await project(head, withValues);
    if (destroyed) return { unavailable: 'The view was closed.' };
    shownHead = head;
    meta = { title: head.title ?? `head ${head.head}`, tokens: head.tokens, keyTokens: head.keyTokens };
    setCloud(next);
    await render();
    return { cloud: next, ...meta };
  }

  /** The weights row of query `query` of the shown head. */
  async function weightsRow(query: number): Promise<Float32Array> {
    const head = shownHead!;
    const at = head.mapOffset + query * head.kvLen;
    if (isGpuHead(head)) {
      const [row] = await readFloats(device!, [[head.weights, at, head.kvLen]], 'qk/weights row');
      return row;
    }
    return head.weights.subarray(at, at + head.kvLen);
  }

  function worldOf(p: number): THREE.Vector3 {
    const c = cloud!;
    return new THREE.Vector3(c.positions[4 * p], c.positions[4 * p + 1], c.positions[4 * p + 2]).multiplyScalar(scale);
  }

  function ring(p: number, color: string): THREE.Sprite {
    const ringMaterial = new THREE.SpriteNodeMaterial();
    ringMaterial.colorNode = rgb(color);
    const r = uv().sub(0.5).length();
    ringMaterial.maskNode = r.lessThan(0.5).and(r.greaterThan(0.34));
    ringMaterial.transparent = false;
    const sprite = new THREE.Sprite(ringMaterial);
    const size = pointSize.value * 2.2;
    sprite.scale.set(size, size, 1);
    sprite.position.copy(worldOf(p));
    return sprite;
  }

  const view: QkView = {
    backend: device ? 'webgpu' : 'webgl',
    async show(source, head) {
      shownSource = source;
      shownIndex = head;
      const first = cloud === null;
      const shown = await scheduler.rebuild(async () => {
        last = await showHead();
      }).then(() => last);
      if (first) resetCamera();
      return shown;
    },
    async setValues(on) {
      withValues = on;
      if (!shownSource) return null;
      await scheduler.rebuild(async () => {
        last = await showHead();
      });
      return last;
    },
    screenPoints() {
      const c = cloud;
      if (!c) return [];
      const width = canvas.clientWidth || canvas.width;
      const height = canvas.clientHeight || canvas.height;
      const v = new THREE.Vector3();
      camera.updateMatrixWorld();
      return Array.from({ length: points.count }, (_, p) => {
        v.set(c.positions[4 * p] * scale, c.positions[4 * p + 1] * scale, c.positions[4 * p + 2] * scale).project(camera);
        return { ...tokenOfPoint(c, p), x: ((v.x + 1) / 2) * width, y: ((1 - v.y) / 2) * height, behind: v.z > 1 };
      })
        .filter((point) => !point.behind)
        .map(({ kind: k, index, x, y }) => ({ kind: k, index, x, y }));
    },
    pick(canvasX, canvasY) {
      const c = cloud;
      if (!c) return null;
      const width = canvas.clientWidth || canvas.width;
      const height = canvas.clientHeight || canvas.height;
      const count = points.count;
      let best = -1;
      let bestDistance = 10 * 10; // within 10 CSS pixels
      const v = new THREE.Vector3();
      camera.updateMatrixWorld();
      for (let p = 0; p < count; p++) {
        v.set(c.positions[4 * p] * scale, c.positions[4 * p + 1] * scale, c.positions[4 * p + 2] * scale).project(camera);
        if (v.z > 1) continue;
        const dx = ((v.x + 1) / 2) * width - canvasX;
        const dy = ((1 - v.y) / 2) * height - canvasY;
        const distance = dx * dx + dy * dy;
        if (distance < bestDistance) {
          bestDistance = distance;
          best = p;
        }
      }
      if (best < 0) return null;
      const { kind: k, index } = tokenOfPoint(c, best);
      const text = (k === 'query' ? meta.tokens[index] : meta.keyTokens[index]) ?? String(index);
      return { kind: k, index, text, coords: [c.positions[4 * best], c.positions[4 * best + 1], c.positions[4 * best + 2]] };
    },
    async highlight(target) {
      clearGroup(marks);
      const c = cloud;
      if (!c || !target || !shownHead) {
        await render();
        return [];
      }
      let strongest: QkLink[] = [];
      if ('query' in target) {
        const q = pointOf(c, 'query', target.query);
        if (q >= 0) marks.add(ring(q, '#ffffff'));
        const row = await weightsRow(target.query);
        strongest = target.key !== undefined ? [{ key: target.key, weight: row[target.key] }] : topKeys(row, QK_TOP_KEYS);
        const seg: number[] = [];
        const col: number[] = [];
        const labels = new THREE.Group();
        for (const { key, weight } of strongest) {
          const p = pointOf(c, 'key', key);
          if (p < 0) continue;
          marks.add(ring(p, '#ffe27a'));
          if (q < 0) continue;
          const a = worldOf(q);
          const b = worldOf(p);
          const shade = 0.25 + 0.75 * Math.min(1, Math.max(0, weight));
          seg.push(a.x, a.y, a.z, b.x, b.y, b.z);
          col.push(shade, shade * 0.88, shade * 0.45, shade, shade * 0.88, shade * 0.45);
          // Raw vectors (d_head ≤ 3): the line also carries the dot product, read off the two points.
          const dot = c.raw ? [0, 1, 2].reduce((sum, axis) => sum + c.positions[4 * q + axis] * c.positions[4 * p + axis], 0) : null;
          if (dot !== null) strongest[strongest.findIndex((link) => link.key === key)].dot = dot;
          const text = dot === null ? `${(weight * 100).toFixed(1)}%` : `q·k ${dot.toFixed(2)} → ${(weight * 100).toFixed(1)}%`;
          const label = textSprite(text, { size: 0.12, color: '#ffe27a', center: [0.5, 0] });
          label.position.copy(a.clone().lerp(b, 0.5));
          labels.add(label);
        }
        if (seg.length > 0) marks.add(lineSegments(seg, col));
        marks.add(labels);
      } else {
        const p = pointOf(c, 'key', target.key);
        if (p >= 0) marks.add(ring(p, '#ffe27a'));
      }
      await render();
      return strongest;
    },
    cloud: () => cloud,
    resize() {
      const width = canvas.clientWidth || 300;
      const height = canvas.clientHeight || 150;
      renderer.setSize(width, height, false);
      camera.aspect = width / height;
      camera.updateProjectionMatrix();
    },
    render,
    whenIdle: () => scheduler.idle(),
    destroy() {
      destroyed = true;
      controls.dispose();
      clearGroup(axes);
      clearGroup(marks);
      material.dispose();
      projector?.destroy();
      renderer.dispose();
    },
  };
  let last: QkShown = { unavailable: 'Nothing is shown yet.' };
  view.resize();
  return view;
}

export { QK_KIND };
