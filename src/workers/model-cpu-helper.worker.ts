/// <reference lib="webworker" />
/**
 * A helper of the model CPU worker (model-cpu.worker.ts starts threads − 1 of them): holds one
 * part of the split model (model-cpu-shard.ts) and answers each step on it, in order, with
 * its share moved back (and the part with an empty answer once it holds it). It lives as long as the model in the worker that started it.
 */
import { AttentionError } from '../core/errors';
import { matmulNT } from '../model/matmul';
import { sharedSimdMatmul } from '../train/simd-matmul';
import { createShardSteps, type ShardSteps } from './model-cpu-shard';
import type { ModelCpuHelperRequest, ModelCpuHelperResponse } from './model-cpu-protocol';

const scope = self as unknown as DedicatedWorkerGlobalScope;
// The coordinator's kernel choice, made the same way (same engine).
const matmul = sharedSimdMatmul('f32') ?? sharedSimdMatmul('f64') ?? matmulNT;
let steps: ShardSteps | null = null;

scope.onmessage = (event: MessageEvent<ModelCpuHelperRequest>) => {
  const request = event.data;
  try {
    if (request.kind === 'shard') {
      steps = createShardSteps(request.shard, matmul);
      // Ready: the coordinator waits for this before it times a forward (start-up stays outside it).
      scope.postMessage({ ok: true, output: new Float32Array(0) } satisfies ModelCpuHelperResponse);
      return;
    }
    if (steps === null) throw new AttentionError('The model CPU helper was asked for a step before it was sent its part of the model: the coordinator sends the part first (a bug if seen).');
    const output =
      request.kind === 'logits' ? steps.logits(request.input, request.T) : steps[request.kind](request.layer, request.input, request.T);
    scope.postMessage({ ok: true, output } satisfies ModelCpuHelperResponse, [output.buffer]);
  } catch (error) {
    const e = error as Error;
    scope.postMessage({ ok: false, error: { name: e.name, message: e.message } } satisfies ModelCpuHelperResponse);
  }
};
