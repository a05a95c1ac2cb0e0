/**
 * One training worker: holds a workspace, reads the shared parameters, and for each batch it is
 * sent writes its loss and gradients (the mean over its rows) into its own shared gradient
 * buffers. The main thread averages the workers' gradients in a fixed order, so a run is
 * reproducible bit for bit.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { GptConfig, GptParams } from '../../src/model/schema';
import { lossAndGrads, lossOnly } from '../../src/train/loss';
import { createWorkspace, type MatmulChoice } from '../../src/train/workspace';

interface Setup {
  config: GptConfig;
  /** Parameter names and lengths, in order, over `params` and `grads` (shared memory). */
  layout: Array<[string, number]>;
  params: SharedArrayBuffer;
  grads: SharedArrayBuffer;
  batch: number;
  length: number;
  /**
   * The matrix kernel (src/train/workspace.ts, MatmulChoice; default 'js'). 'wasm' gives the same
   * numbers as 'js', several times faster; 'wasm-f32' is faster still but rounds its sums to float32.
   */
  matmul?: MatmulChoice;
}

const setup = workerData as Setup;
const viewsOf = (buffer: SharedArrayBuffer): GptParams => {
  const views: GptParams = new Map();
  let at = 0;
  for (const [name, length] of setup.layout) {
    views.set(name, new Float32Array(buffer, at * 4, length));
    at += length;
  }
  return views;
};
const params = viewsOf(setup.params);
const grads = viewsOf(setup.grads);
const workspace = createWorkspace(setup.config, setup.batch, setup.length, { matmul: setup.matmul ?? 'js' });

parentPort!.on('message', (message: { kind: 'train' | 'eval'; tokens: Int32Array; offsets?: Int32Array; batch: number; length: number }) => {
  const batch = { tokens: message.tokens, offsets: message.offsets, batch: message.batch, length: message.length };
  if (message.kind === 'train') {
    const { loss } = lossAndGrads(setup.config, params, batch, { workspace, grads });
    parentPort!.postMessage({ loss });
  } else {
    parentPort!.postMessage({ loss: lossOnly(setup.config, params, batch, { workspace }) });
  }
});
