/**
 * Model mode's pipeline without the DOM: load the shipped checkpoint, run the trained model on
 * the GPU (src/kernels/model.ts) or, without WebGPU, its f64 forward reference in the worker,
 * measure every head, build the view the scene draws (every layer × head from buffers packed on
 * the GPU, or one layer's own buffers), and check every layer against the f64 reference in the
 * worker. src/ui/app.ts wires it to the page.
 */
import { AttentionAbortError, AttentionError } from '../core/errors';
import type { ModelConfig, ResolvedShape } from '../core/types';
import { deviceRegistry } from '../gpu/registry';
import { createGpuModel, type GpuModel, type GpuModelBuffers } from '../kernels/model';
import { readCheckpoint } from '../model/checkpoint';
import type { GptTrace } from '../model/forward-reference';
import type { InductionProbe } from '../model/heads';
import { makeVocabulary, type Vocabulary } from '../model/vocab';
import type { ReferenceClient } from '../workers/reference-client';
import type { SurfaceSource } from '../scene';
import { modelSource } from './sources';
import { verifyModel, type LayerArrays, type ModelVerification } from '../verify/model';
import { inductionProbeFor, measureHeads, type HeadReport } from './head-scores';
import type { ModelInput } from './model-input';
import { gridCell, type ModelViewInfo } from './model-view';

/** The checkpoint, read and ready to run. */
export interface LoadedModel {
  name: string;
  config: ModelConfig;
  params: Map<string, Float32Array>;
  vocab: Vocabulary;
  metadata: Record<string, string>;
  /** Bytes of the file. */
  bytes: number;
  /** The repeated random span the induction scores are measured on. */
  probe: InductionProbe;
}

/**
 * Fetch and read the checkpoint at `url`, reporting bytes as they arrive (`total` null when the
 * server does not say). Throws AttentionError naming the URL for a failed fetch, and the
 * checkpoint reader's TensorFileError for a bad file.
 */
export async function loadModel(url: string, onProgress?: (loaded: number, total: number | null) => void, fetchFn: typeof fetch = fetch): Promise<LoadedModel> {
  let response: Response;
  try {
    response = await fetchFn(url);
  } catch (error) {
    throw new AttentionError(`Could not fetch the trained model from ${url}: ${(error as Error).message ?? String(error)}.`);
  }
  if (!response.ok) throw new AttentionError(`Could not fetch the trained model from ${url}: HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}.`);
  const header = Number(response.headers.get('content-length'));
  const total = Number.isFinite(header) && header > 0 ? header : null;
  let bytes: Uint8Array;
  if (response.body) {
    const reader = response.body.getReader();
    const chunks: Uint8Array[] = [];
    let loaded = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      loaded += value.length;
      onProgress?.(loaded, total);
    }
    bytes = new Uint8Array(loaded);
    let at = 0;
    for (const chunk of chunks) {
      bytes.set(chunk, at);
      at += chunk.length;
    }
  } else {
    bytes = new Uint8Array(await response.arrayBuffer());
    onProgress?.(bytes.length, total);
  }
  const fileName = url.split('/').pop() || 'model.safetensors';
  const checkpoint = readCheckpoint(bytes, fileName);
  if (!checkpoint.vocab) throw new AttentionError(`${fileName} has no vocabulary in its metadata: the app cannot turn text into the model's tokens.`);
  const vocab = makeVocabulary(checkpoint.vocab);
  return {
    name: checkpoint.metadata.name ?? fileName,
    config: checkpoint.config,
    params: checkpoint.params,
    vocab,
    metadata: checkpoint.metadata,
    bytes: bytes.length,
    probe: inductionProbeFor(vocab, checkpoint.config),
  };
}

/** One forward pass of the model on a text, with everything the page shows of it. */
export interface ModelRun {
  model: LoadedModel;
  input: ModelInput;
  /** Every layer's tensors as drawn (the GPU's, or the f64 reference rounded to f32 without WebGPU). */
  layers: Array<Record<keyof LayerArrays, Float32Array>>;
  /** seqLen × vocabSize. */
  logits: Float32Array;
  path: 'gpu' | 'cpu';
  /** GPU forward pass, wall clock from encoding to done (before the readback); null on the CPU path. */
  gpuMs: number | null;
  /** The f64 forward reference's time, once it ran (the result itself on the CPU path). */
  cpuMs: number | null;
  /** The f64 reference (after verification, or the result itself on the CPU path). */
  trace: GptTrace | null;
  /** The model's buffers of this run (the scene draws from them while they are held). */
  buffers: GpuModelBuffers | null;
  /**
   * The hold on `buffers` (src/gpu/runner.ts): no later run writes them until the page releases
   * it, when another view replaces this run's (or it is never shown). Null on the CPU path.
   */
  held: { release(): void; readonly released: boolean } | null;
  heads: HeadReport[];
}

/** Which maps the view shows: one layer's head, or every layer × head (head = −1). */
export interface ModelSelection {
  layer: number;
  head: number;
}

/**
 * What model mode shows of a run: the maps of one layer's heads, or of every layer × head. Not an
 * explorer view: the model has no single X, W_Q, W_K, W_V; hover and export read the run's own
 * per-layer maps (src/app/shown.ts), the scene draws `source`, the model card reads `run`.
 */
export interface ModelView {
  run: ModelRun;
  /** The layer shown (clamped to the model's), and its head, or −1 for every layer × head. */
  selection: ModelSelection;
  /** The maps drawn: heads (H, or L·H for every layer) × seqLen × seqLen; dHead for the raw scores. */
  shape: ResolvedShape;
  /** What the scene draws. */
  source: SurfaceSource;
  /** What hover and the cards read: logits, head reports, which layer/head a surface is. */
  info: ModelViewInfo;
}

export type ModelCheck = { kind: 'report'; verification: ModelVerification; cpuMs: number } | { kind: 'skipped'; why: string };

export interface ModelEngine {
  /** Run the model on `input` (GPU, else the f64 reference in the worker) and measure its heads. */
  run(model: LoadedModel, input: ModelInput, signal: AbortSignal): Promise<ModelRun>;
  /** The view of a run for a selection: what the scene draws, hover and export read. */
  view(run: ModelRun, selection: ModelSelection): Promise<ModelView>;
  /** Check every layer of a GPU run against the f64 reference (in the worker). */
  verify(run: ModelRun, signal: AbortSignal): Promise<ModelCheck>;
}

/** The registry key of the model's GPU runner (src/gpu/registry: made once per device, gone with it). */
export const MODEL_KEY = 'model/gpt';

const LAYER_NAMES = ['q', 'k', 'v', 'scores', 'weights', 'attn'] as const;

function layerFromTrace(layer: GptTrace['layers'][number]): Record<keyof LayerArrays, Float32Array> {
  return Object.fromEntries(LAYER_NAMES.map((name) => [name, Float32Array.from(layer[name])])) as Record<keyof LayerArrays, Float32Array>;
}

export function createModelEngine(deps: { device: () => GPUDevice | null; reference: ReferenceClient }): ModelEngine {
  let gpuModel: { device: GPUDevice; model: LoadedModel; gpu: GpuModel } | null = null;
  /** Probe weights per model (every layer's heads × P × P), measured once. */
  const probeWeights = new WeakMap<LoadedModel, Array<ArrayLike<number>>>();

  async function gpuFor(model: LoadedModel, device: GPUDevice): Promise<GpuModel> {
    if (!gpuModel || gpuModel.device !== device || gpuModel.model !== model) {
      const registry = deviceRegistry(device);
      // Another checkpoint on the same device replaces the runner; a new device's registry has none yet.
      if (gpuModel?.device === device) registry.drop(MODEL_KEY);
      gpuModel = { device, model, gpu: await registry.get(MODEL_KEY, (d) => createGpuModel(d, model.config, model.params)) };
    }
    return gpuModel.gpu;
  }

  const checkAbort = (signal: AbortSignal) => {
    if (signal.aborted) throw new AttentionAbortError();
  };

  return {
    async run(model, input, signal) {
      const device = deps.device();
      const { config } = model;
      if (!device) {
        const sequences = probeWeights.has(model) ? [input.ids] : [input.ids, model.probe.tokens];
        const { traces, forwardMs } = await deps.reference.forwardModel(config, model.params, sequences);
        checkAbort(signal);
        if (traces[1]) probeWeights.set(model, traces[1].layers.map((l) => l.weights));
        const trace = traces[0];
        const layers = trace.layers.map(layerFromTrace);
        const heads = measureHeads(trace.layers.map((l) => l.weights), input.ids, probeWeights.get(model)!, model.probe.tokens, config.heads);
        return { model, input, layers, logits: Float32Array.from(trace.logits), path: 'cpu', gpuMs: null, cpuMs: forwardMs[0], trace, buffers: null, held: null, heads };
      }
      const gpu = await gpuFor(model, device);
      if (!probeWeights.has(model)) {
        // Before the text, so the model's buffers hold the text afterwards.
        const probe = await gpu.run(model.probe.tokens, { read: ['weights'], signal });
        probeWeights.set(model, probe.layers.map((l) => l.weights!));
      }
      const result = await gpu.run(input.ids, { read: ['q', 'k', 'v', 'scores', 'weights', 'attn', 'logits'], signal, hold: true });
      if (signal.aborted) {
        result.held.release();
        throw new AttentionAbortError();
      }
      const layers = result.layers.map((l) => Object.fromEntries(LAYER_NAMES.map((name) => [name, l[name]!])) as Record<keyof LayerArrays, Float32Array>);
      const heads = measureHeads(layers.map((l) => l.weights), input.ids, probeWeights.get(model)!, model.probe.tokens, config.heads);
      return { model, input, layers, logits: result.logits!, path: 'gpu', gpuMs: result.gpuMs, cpuMs: null, trace: null, buffers: result.held.buffers, held: result.held, heads };
    },

    async view(run, selection) {
      const { config } = run.model;
      const T = run.input.ids.length;
      const H = config.heads;
      const grid = selection.head < 0;
      const layer = Math.min(Math.max(0, selection.layer), config.layers - 1);
      const headsShown = grid ? config.layers * H : H;
      const shape: ResolvedShape = { seqLen: T, kvLen: T, dModel: config.dModel, heads: headsShown, dHead: config.dModel / H, causal: true, width: grid ? config.layers * config.dModel : config.dModel };
      // Draw from the GPU while this run holds its buffers; else (released, or a lost device) from the arrays.
      const live = run.held && !run.held.released ? run.buffers : null;
      const source = modelSource({ ...run, buffers: live }, { layer, head: selection.head });
      return {
        run,
        selection: { layer, head: grid ? -1 : selection.head },
        shape,
        source,
        info: {
          logits: run.logits,
          vocab: run.model.vocab.tokens,
          reports: run.heads,
          selection: grid ? null : { layer, head: selection.head },
          headOf: (index: number) => (grid ? gridCell(index, H) : { layer, head: index }),
        },
      };
    },

    async verify(run, signal) {
      if (run.path === 'cpu') return { kind: 'skipped', why: 'No GPU result to compare: without WebGPU the f64 reference itself is drawn.' };
      const { traces, forwardMs } = await deps.reference.forwardModel(run.model.config, run.model.params, [run.input.ids]);
      checkAbort(signal);
      run.trace = traces[0];
      run.cpuMs = forwardMs[0];
      const verification = verifyModel({ layers: run.layers, logits: run.logits }, { layers: traces[0].layers, logits: traces[0].logits });
      return { kind: 'report', verification, cpuMs: forwardMs[0] };
    },
  };
}
