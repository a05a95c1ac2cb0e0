/**
 * Rebuild and frame times of the surface (printed as [scene] lines): how long setSource takes
 * (reduction, readback, upload, geometry, labels, first frame) and a frame after it, for all
 * heads side by side and for one large head, weights stage, and what uploading the planes
 * (the public path into three's storage attribute) costs alone. A measurement, not a test (it
 * asserts nothing and is not part of npm test): `npm run measure:scene`.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import { createGpuAttention, makeRandomInputs, resolveShape, type AttentionShape, type GpuAttention } from '../../src/index';
import { explorerSource } from '../../src/app/sources';
import { GRID_PLANES, planGrid } from '../../src/reference/reduce';
import { createSurfaceView } from '../../src/scene/index';
import { gpu, useGpuDevice } from '../browser/gpu-fixture';
import { makeCanvas } from '../browser/scene-pixels';

useGpuDevice();

let attention: GpuAttention;
beforeAll(async () => {
  attention = await createGpuAttention(gpu());
});
afterAll(() => attention?.destroy());

describe('surface timings (printed)', () => {
  const cases: Array<{ name: string; shape: AttentionShape; head: number }> = [
    { name: '8 heads × 128²', shape: { seqLen: 128, dModel: 64, heads: 8, dHead: 8, causal: true }, head: -1 },
    { name: '1 head × 2048²', shape: { seqLen: 2048, dModel: 8, heads: 1, dHead: 8, causal: true }, head: 0 },
  ];
  for (const { name, shape, head } of cases) {
    it(name, async () => {
      const canvas = makeCanvas(640, 480);
      const view = await createSurfaceView(canvas, gpu());
      try {
        await attention.run(shape, makeRandomInputs(shape, 5), { read: [] });
        const buffers = attention.buffers()!;
        const s = resolveShape(shape);
        view.setHead(head);
        const rebuilds: number[] = [];
        const frames: number[] = [];
        for (let k = 0; k < 7; k++) {
          const t0 = performance.now();
          await view.setSource(explorerSource(s, { tokens: [], keyTokens: [] }, { gpu: buffers }));
          rebuilds.push(performance.now() - t0);
          frames.push(await view.render());
        }
        const median = (xs: number[], digits = 0) => [...xs].sort((a, b) => a - b)[xs.length >> 1].toFixed(digits);
        console.info(`[scene] ${name}, weights, 640×480: rebuild ms median ${median(rebuilds)} (${rebuilds.map((t) => t.toFixed(0)).join(', ')}); frame ms median ${median(frames)} (${frames.map((t) => t.toFixed(0)).join(', ')})`);
        // What the public upload path adds to a rebuild: three's needsUpdate writes the planes'
        // used ranges with queue.writeBuffer; the same bytes through the same call, timed alone.
        const plan = planGrid(s, head, 'max');
        const bytes = new Float32Array(GRID_PLANES.length * plan.headCount * plan.rows * plan.cols);
        const scratch = gpu().createBuffer({ label: 'test/upload', size: bytes.byteLength, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
        const uploads: number[] = [];
        for (let k = 0; k < 7; k++) {
          const t0 = performance.now();
          gpu().queue.writeBuffer(scratch, 0, bytes);
          await gpu().queue.onSubmittedWorkDone();
          uploads.push(performance.now() - t0);
        }
        scratch.destroy();
        console.info(`[scene] ${name}: uploading the ${(bytes.byteLength / 1e6).toFixed(2)} MB of planes: median ${median(uploads, 2)} ms`);
      } finally {
        view.destroy();
        canvas.remove();
      }
    });
  }
});
