/**
 * The surface's TSL node material and the mesh it draws on. The shader reads each vertex's cell
 * (head slot, row, column), fetches the five planes of that cell, mixes the stages by `uMix`,
 * and turns the value into a height and a viridis colour (grey on the floor for masked cells);
 * the arithmetic is the one of layout.ts `displayValues`/`heightOf`, so picking matches the drawing.
 *
 * Where the planes come from: with WebGPU, a three-owned StorageBufferAttribute at full grid
 * capacity, filled through three's public API (the planes are on the CPU anyway, for heights,
 * picking and the legend: copy them in, mark the plane ranges, set needsUpdate); on the WebGL2
 * fallback (no storage buffers) they are baked into vertex attributes.
 */
import * as THREE from 'three/webgpu';
import { abs, attribute, clamp, dot, float, floor, int, min, mix, positionLocal, sRGBTransferEOTF, step, storage, uint, uniform, uniformArray, varying, vec3, vec4 } from 'three/tsl';
import { GRID_CELL_CAPACITY } from '../reference/reduce';
import { MASKED_COLOR, VIRIDIS_KEYS } from './colormap';
import { PLANE_COUNT, buildGeometryArrays, type GridGeometryArrays, type SurfaceLayout } from './layout';

/** The uniforms shared by the shader, the CPU heights and picking. */
export interface SurfaceUniforms {
  /** Mix of the stages raw, scaled, masked, weights. */
  mix: { value: THREE.Vector4 };
  /** Display ranges (layout.ts DisplayRanges): logits lo and span, weights max. */
  lo: { value: number };
  span: { value: number };
  wMax: { value: number };
  /** World height of the top of the range, and of the masked floor. */
  height: { value: number };
  floor: { value: number };
  /** Cells per head along queries and keys (to index the planes). */
  rows: { value: number };
  cols: { value: number };
  /** The highlighted head slot, row and column (−1: none). */
  hiHead: { value: number };
  hiRow: { value: number };
  hiCol: { value: number };
}

/** The surface: its material, uniforms and mesh. Create with {@link createSurfaceMesh}. */
export interface SurfaceMesh {
  readonly mesh: THREE.Mesh;
  readonly uniforms: SurfaceUniforms;
  /** The storage attribute the shader reads the planes from (plane p at p · GRID_CELL_CAPACITY); null on WebGL. */
  readonly grid: THREE.StorageBufferAttribute | null;
  /**
   * Show `planes` (plane-major, `cells` per plane) on `layout`: the geometry is rebuilt when
   * `newLayout` (or, on WebGL, always: the values are baked into it), from `arrays` when the
   * caller built them already (in a task of their own: they take tens of ms for many heads).
   */
  show(layout: SurfaceLayout, planes: Float32Array, cells: number, newLayout: boolean, arrays?: GridGeometryArrays): void;
  dispose(): void;
}

/** Build the material and an empty mesh; `storageGrid` selects the WebGPU storage path. */
export function createSurfaceMesh(storageGrid: boolean): SurfaceMesh {
  const u = {
    mix: uniform(new THREE.Vector4(0, 0, 0, 1)),
    lo: uniform(0),
    span: uniform(1),
    wMax: uniform(1),
    height: uniform(1),
    floor: uniform(-0.1),
    rows: uniform(1),
    cols: uniform(1),
    hiHead: uniform(-1),
    hiRow: uniform(-1),
    hiCol: uniform(-1),
  };
  const cell = attribute('cell', 'vec3');
  let values;
  let maskFrac;
  let gridAttr: THREE.StorageBufferAttribute | null = null;
  if (storageGrid) {
    gridAttr = new THREE.StorageBufferAttribute(new Float32Array(PLANE_COUNT * GRID_CELL_CAPACITY), 1);
    const grid = storage(gridAttr, 'float', PLANE_COUNT * GRID_CELL_CAPACITY).toReadOnly();
    const index = uint(cell.x.mul(u.rows).add(cell.y).mul(u.cols).add(cell.z).add(0.5));
    const plane = (p: number) => grid.element(index.add(p * GRID_CELL_CAPACITY));
    values = vec4(plane(0), plane(1), plane(2), plane(3));
    maskFrac = plane(4);
  } else {
    values = attribute('vals', 'vec4');
    maskFrac = attribute('maskFrac', 'float');
  }
  const t = dot(vec4(values.xyz.sub(u.lo).div(u.span), values.w.div(u.wMax)), u.mix);
  const maskAmount = step(0.999, maskFrac).mul(u.mix.z.add(u.mix.w));
  const height = mix(t.mul(u.height), u.floor, maskAmount);
  const rowHit = step(abs(cell.x.sub(u.hiHead)), 0.5).mul(step(abs(cell.y.sub(u.hiRow)), 0.5));
  const cellHit = rowHit.mul(step(abs(cell.z.sub(u.hiCol)), 0.5));
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

  function upload(planes: Float32Array, cells: number): void {
    const attr = gridAttr!;
    const array = attr.array as Float32Array;
    attr.clearUpdateRanges();
    for (let p = 0; p < PLANE_COUNT; p++) {
      array.set(planes.subarray(p * cells, (p + 1) * cells), p * GRID_CELL_CAPACITY);
      // Only the cells in use travel to the GPU (three writes each range with queue.writeBuffer).
      attr.addUpdateRange(p * GRID_CELL_CAPACITY, cells);
    }
    attr.needsUpdate = true;
  }

  function buildGeometry(layout: SurfaceLayout, planes: Float32Array, cells: number, arrays = buildGeometryArrays(layout)): void {
    const geometry = new THREE.BufferGeometry();
    geometry.setAttribute('position', new THREE.BufferAttribute(arrays.positions, 3));
    const normals = new Float32Array(arrays.positions.length);
    for (let i = 1; i < normals.length; i += 3) normals[i] = 1; // flat shading derives the real ones
    geometry.setAttribute('normal', new THREE.BufferAttribute(normals, 3));
    geometry.setAttribute('cell', new THREE.BufferAttribute(arrays.cells, 3));
    if (!gridAttr) {
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
    // The bounds come from the layout: the renderer asks for a bounding sphere each frame it
    // sorts objects, and computing it from half a million vertices took ~25 ms on the main thread.
    const { minX, maxX, minZ, maxZ } = layout.bounds;
    geometry.boundingBox = new THREE.Box3(new THREE.Vector3(minX, layout.floor, minZ), new THREE.Vector3(maxX, layout.heightScale, maxZ));
    geometry.boundingSphere = geometry.boundingBox.getBoundingSphere(new THREE.Sphere());
    mesh.geometry.dispose();
    mesh.geometry = geometry;
    mesh.visible = true;
  }

  return {
    mesh,
    uniforms: u,
    grid: gridAttr,
    show(layout, planes, cells, newLayout, arrays) {
      if (gridAttr) upload(planes, cells);
      if (!gridAttr || newLayout) buildGeometry(layout, planes, cells, arrays);
    },
    dispose() {
      mesh.geometry.dispose();
      material.dispose();
    },
  };
}

/** A frame under each surface at height 0, so heights read against a visible base. */
export function buildAxes(axes: THREE.Group, layout: SurfaceLayout): void {
  for (const child of [...axes.children]) {
    (child as THREE.LineSegments).geometry.dispose();
    ((child as THREE.LineSegments).material as THREE.Material).dispose();
    axes.remove(child);
  }
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
