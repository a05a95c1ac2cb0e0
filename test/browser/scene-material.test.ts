/**
 * The surface material's public upload path (src/scene/material.ts): after `show` and a render,
 * the storage attribute three binds for the shader holds exactly the planes of the CPU reference
 * reduction (read back with three's public `getArrayBufferAsync`), plane p at p · capacity;
 * a second, smaller grid sent through the update ranges replaces the cells it uses.
 */
import * as THREE from 'three/webgpu';
import { afterAll, describe, expect, it } from 'vitest';
import { attentionCpu, makeRandomInputs, resolveShape, type AttentionShape } from '../../src/index';
import { GRID_CELL_CAPACITY, GRID_PLANES, planGrid, reduceAttention, type GridPlan } from '../../src/reference/reduce';
import { makeLayout } from '../../src/scene/layout';
import { createSurfaceMesh } from '../../src/scene/material';
import { gpu, useGpuDevice } from './gpu-fixture';
import { makeCanvas } from './scene-pixels';

useGpuDevice();

describe('the planes reach three’s storage attribute through the public API', () => {
  let canvas: HTMLCanvasElement | null = null;
  let renderer: THREE.WebGPURenderer | null = null;
  afterAll(() => {
    renderer?.dispose();
    canvas?.remove();
  });

  it('holds the reference planes after show + render, for a large grid and then a smaller one', async () => {
    canvas = makeCanvas(64, 48);
    renderer = new THREE.WebGPURenderer({ canvas, device: gpu(), antialias: false });
    await renderer.init();
    const surface = createSurfaceMesh(true);
    expect(surface.grid).not.toBeNull();
    const scene = new THREE.Scene();
    scene.add(surface.mesh);
    const camera = new THREE.PerspectiveCamera(40, 4 / 3, 0.05, 100);
    camera.position.set(0, 8, 8);
    camera.lookAt(0, 0, 0);
    const cases: Array<{ shape: AttentionShape; plan: (s: ReturnType<typeof resolveShape>) => GridPlan }> = [
      { shape: { seqLen: 40, dModel: 12, heads: 3, dHead: 4, causal: true }, plan: (s) => planGrid(s, -1, 'max') },
      { shape: { seqLen: 9, dModel: 8, heads: 2, dHead: 4, causal: false }, plan: (s) => ({ ...planGrid(s, 1, 'mean'), rows: 4, cols: 5 }) },
    ];
    for (const { shape, plan: planOf } of cases) {
      const s = resolveShape(shape);
      const plan = planOf(s);
      const planes = reduceAttention(s, attentionCpu(shape, makeRandomInputs(shape, 13)), plan);
      const cells = plan.headCount * plan.rows * plan.cols;
      surface.show(makeLayout(plan), planes, cells, true);
      renderer.render(scene, camera);
      const held = new Float32Array(await renderer.getArrayBufferAsync(surface.grid!));
      expect(held.length).toBe(GRID_PLANES.length * GRID_CELL_CAPACITY);
      for (let p = 0; p < GRID_PLANES.length; p++) {
        const onGpu = held.subarray(p * GRID_CELL_CAPACITY, p * GRID_CELL_CAPACITY + cells);
        const expected = planes.subarray(p * cells, (p + 1) * cells);
        const wrong = onGpu.findIndex((v, n) => !Object.is(v, expected[n]));
        expect(wrong, `${JSON.stringify(shape)} plane ${GRID_PLANES[p]}: cell ${wrong} is ${onGpu[wrong]}, expected ${expected[wrong]}`).toBe(-1);
      }
    }
    surface.dispose();
  });
});
