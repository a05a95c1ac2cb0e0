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
import { createGpuModel, type GpuModel, type GpuModelBuffers, type ModelReadName, type WeightFormat } from '../kernels/model';
import { MODEL_ROWS_READ, type ModelRowsTensors } from '../verify/model-rows';
import { readCheckpoint } from '../model/checkpoint';
import type { GptTrace } from '../model/forward-reference';
import type { InductionProbe } from '../model/heads';
import { makeVocabulary, type Vocabulary } from '../model/vocab';
import type { ReferenceClient } from '../workers/reference-client';
import type { SurfaceSource } from '../scene';
import { modelSource } from './sources';
import { verifyModel, type LayerArrays, type ModelVerification } from '../verify/model';
import { inductionProbeFor, measureHeads, measureHeadsFromPairs, textScorePairs, type HeadReport } from './head-scores';
import { modelInput, pretrainedInput, type ModelInput } from './model-input';
import type { ModelTokenizer } from '../pretrained/tokenizer';
import { gridCell, type ModelViewInfo } from './model-view';
import type { GpuLlamaModel } from '../kernels/llama-model';
import { mapsFit } from '../kernels/llama-model';
import type { ModelRowSample } from '../kernels/model-run';
import { modelRowsPlan, type ModelRowsVerification } from '../verify/model-rows';
import type { ModelCheckRow } from '../verify/model';
import type { LlamaRowsPart } from '../workers/protocol';
import { attentionWidthOf, headDimOf, isLlamaConfig } from '../model/llama-schema';

/** The checkpoint, read and ready to run: the model that ships with the app, or a real one (src/pretrained). */
export interface LoadedModel {
  /** 'shipped': our small word-level model; 'pretrained': a GPT-2-family checkpoint with its own tokenizer. */
  kind: 'shipped' | 'pretrained';
  /** What the URL's model= says for it ('' for the shipped model). */
  id: string;
  name: string;
  config: ModelConfig;
  params: Map<string, Float32Array>;
  /** The shipped model's word vocabulary (null for a pretrained model: see `tokenizer`). */
  vocab: Vocabulary | null;
  /** A pretrained model's own tokenizer (null for the shipped model). */
  tokenizer: ModelTokenizer | null;
  /** Display text of every token id (" cat", not "Ġcat"): labels, hover and the top-5 read these. */
  pieces: readonly string[];
  metadata: Record<string, string>;
  /** Bytes of the weight files as stored. */
  bytes: number;
  /** How the weights were stored ('F32', 'F16', 'BF16' or 'mixed'); on the GPU they are f32. */
  dtype: string;
  /** Whether the files came from the browser's cache rather than the network. */
  fromCache: boolean;
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
    kind: 'shipped',
    id: '',
    name: checkpoint.metadata.name ?? fileName,
    config: checkpoint.config,
    params: checkpoint.params,
    vocab,
    tokenizer: null,
    pieces: vocab.tokens,
    metadata: checkpoint.metadata,
    bytes: bytes.length,
    dtype: 'F32',
    fromCache: false,
    probe: inductionProbeFor(vocab, checkpoint.config),
  };
}

/**
 * How the GPU holds a model's weight matrices: a Llama-family checkpoint stored in F16 or BF16
 * keeps its 16 bits there (half the memory, widened exactly in the kernels); everything else f32.
 */
export function gpuWeightFormat(model: Pick<LoadedModel, 'config' | 'dtype'>): WeightFormat {
  if (!isLlamaConfig(model.config)) return 'f32';
  return model.dtype === 'F16' ? 'f16' : model.dtype === 'BF16' ? 'bf16' : 'f32';
}

/**
 * What `model` reads for a text and a sequence length, by its own rules: the shipped model's
 * words (src/app/model-input.ts modelInput), or a real model's own tokens (pretrainedInput).
 */
export function inputFor(model: LoadedModel, text: string, seqLen: number, seed: number): ModelInput {
  if (model.vocab) return modelInput(text, seqLen, seed, model.vocab, model.config.context);
  if (!model.tokenizer) throw new AttentionError(`The model ${model.name} has neither a vocabulary nor a tokenizer: load it again.`);
  return pretrainedInput(text, seqLen, seed, model.tokenizer, model.config.context);
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
  /** A pretrained model's GPU tensors for the per-layer check on sampled rows (src/verify/model-rows.ts); null otherwise. */
  rowsTensors: ModelRowsTensors | null;
  /** Whether every layer's raw scores were kept (the QKᵀ, scaled and masked views need them); false for a large real-model run. */
  scoresKept: boolean;
  /**
   * A long run of a Llama-family model on the fused path (no maps stored): each layer's weights
   * reduced to heads × rows × cols block maxima (what the gallery draws), the rows sampled for
   * the check, and the first row with logits (`logits` is (T − logitsFrom) × vocab). Null otherwise.
   */
  fused: { rows: number; cols: number; grids: Float32Array[]; sample: ModelRowSample; logitsFrom: number } | null;
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
  /**
   * Run the model on `input` (GPU, else the f64 reference in the worker) and measure its heads.
   * A Llama-family model past the full-map limit runs on the fused path, reporting progress.
   */
  run(model: LoadedModel, input: ModelInput, signal: AbortSignal, onProgress?: (done: number, total: number) => void): Promise<ModelRun>;
  /** The view of a run for a selection: what the scene draws, hover and export read. */
  view(run: ModelRun, selection: ModelSelection): Promise<ModelView>;
  /** Check every layer of a GPU run against the f64 reference (in the worker). */
  verify(run: ModelRun, signal: AbortSignal): Promise<ModelCheck>;
}

/** A real model's raw scores are read back up to this size (every layer × head × T²; GPT-2 small at 1024 tokens is 576 MiB). */
const SCORES_READ_BYTES = 64 * 1024 * 1024;

/**
 * A Llama-family run keeps every layer's maps while they come to at most this many bytes (they
 * are read back for the heads' scores and the hover; GPT-2 small's at 1024 tokens are 576 MiB);
 * past it, or where one layer's maps would not fit a storage binding, it runs on the fused path.
 */
export const LLAMA_MAPS_BUDGET = 512 * 1024 * 1024;
/** The side of each head's reduced map in a fused run's gallery (the scene draws at most 128 × 128 per head when every head is shown). */
export const FUSED_GRID_SIDE = 128;
/** A fused run computes logits for its last rows only, up to this many bytes (SmolLM2's every row at 8192 tokens would be 1.5 GiB). */
export const FUSED_LOGITS_BUDGET = 256 * 1024 * 1024;

/** Whether a run of `model` on `T` tokens takes the fused path (see {@link LLAMA_MAPS_BUDGET}). */
export function runsFused(config: LoadedModel['config'], T: number, mapsFitDevice: boolean): boolean {
  return isLlamaConfig(config) && (!mapsFitDevice || config.layers * config.heads * T * T * 4 > LLAMA_MAPS_BUDGET);
}

/** The registry key of the model's GPU runner (src/gpu/registry: made once per device, gone with it). */
export const MODEL_KEY = 'model/gpt';

const LAYER_NAMES = ['q', 'k', 'v', 'scores', 'weights', 'attn'] as const;

function layerFromTrace(layer: GptTrace['layers'][number]): Record<keyof LayerArrays, Float32Array> {
  return Object.fromEntries(LAYER_NAMES.map((name) => [name, Float32Array.from(layer[name])])) as Record<keyof LayerArrays, Float32Array>;
}

export function createModelEngine(deps: { device: () => GPUDevice | null; reference: ReferenceClient }): ModelEngine {
  let gpuModel: { device: GPUDevice; model: LoadedModel; key: string; gpu: GpuModel } | null = null;
  /** Probe weights per model (every layer's heads × P × P), measured once. */
  const probeWeights = new WeakMap<LoadedModel, Array<ArrayLike<number>>>();
  /** Each loaded model's registry key (one GPU model per checkpoint and device). */
  const keys = new WeakMap<LoadedModel, string>();
  let loads = 0;
  /** Held runs per registry key, and the keys of models replaced by another: freed when their last held run is released. */
  const heldRuns = new Map<string, number>();
  const retired = new Set<string>();

  const keyOf = (model: LoadedModel) => {
    let key = keys.get(model);
    if (!key) keys.set(model, (key = `${MODEL_KEY}#${++loads}`));
    return key;
  };
  /** Free a replaced model's GPU objects once no view on screen draws from its buffers. */
  const freeIfIdle = (device: GPUDevice, key: string) => {
    if (retired.has(key) && (heldRuns.get(key) ?? 0) === 0) {
      retired.delete(key);
      deviceRegistry(device).drop(key);
    }
  };

  async function gpuFor(model: LoadedModel, device: GPUDevice): Promise<GpuModel> {
    if (!gpuModel || gpuModel.device !== device || gpuModel.model !== model) {
      const key = keyOf(model);
      // Another checkpoint on the same device: the old one stays until the view drawn from its
      // buffers is replaced (its held run released); a new device's registry has none yet.
      if (gpuModel?.device === device && gpuModel.key !== key) {
        retired.add(gpuModel.key);
        freeIfIdle(device, gpuModel.key);
      }
      retired.delete(key);
      gpuModel = { device, model, key, gpu: await deviceRegistry(device).get(key, (d) => createGpuModel(d, model.config, model.params, undefined, { weights: gpuWeightFormat(model) })) };
    }
    return gpuModel.gpu;
  }

  /** Count a held run against its model, and free a replaced model when its last one is released. */
  function track(device: GPUDevice, model: LoadedModel, held: { release(): void; readonly released: boolean }) {
    const key = keyOf(model);
    heldRuns.set(key, (heldRuns.get(key) ?? 0) + 1);
    return {
      release() {
        if (held.released) return;
        held.release();
        heldRuns.set(key, (heldRuns.get(key) ?? 1) - 1);
        freeIfIdle(device, key);
      },
      get released() {
        return held.released;
      },
    };
  }

  const checkAbort = (signal: AbortSignal) => {
    if (signal.aborted) throw new AttentionAbortError();
  };

  return {
    async run(model, input, signal, onProgress) {
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
        return { model, input, layers, logits: Float32Array.from(trace.logits), path: 'cpu', gpuMs: null, cpuMs: forwardMs[0], trace, buffers: null, held: null, heads, rowsTensors: null, scoresKept: true, fused: null };
      }
      const gpu = await gpuFor(model, device);
      if (!probeWeights.has(model)) {
        // Before the text, so the model's buffers hold the text afterwards.
        const probe = await gpu.run(model.probe.tokens, { read: ['weights'], signal });
        probeWeights.set(model, probe.layers.map((l) => l.weights!));
      }
      // A real model is checked per layer on sampled rows from the GPU's own layer inputs, so its
      // run reads those; its raw scores come back only while they are small (the scene draws
      // every map from the GPU buffers either way; hover then shows the weight alone).
      const pretrained = model.kind === 'pretrained';
      const T = input.ids.length;
      if (isLlamaConfig(config) && runsFused(config, T, mapsFit(device, config.heads, T))) {
        // Every head of every layer on the fused path: no maps, each layer's reduced to a grid for
        // the gallery; the policy's rows sampled for the check; logits for the last rows only when
        // all of them would be large. Each head's previous-token and first-token scores come from its
        // weights on the text itself, recomputed at those entries, its entropy from the fused kernel's
        // row entropies; induction and duplicate-token from the probe (its maps are short).
        const side = Math.min(T, FUSED_GRID_SIDE);
        const sampleRows = modelRowsPlan(config, T).rows;
        const logitsFrom = Math.max(0, T - Math.floor(FUSED_LOGITS_BUDGET / (4 * config.vocabSize)));
        const weightsAt = textScorePairs(T);
        const result = await gpu.run(input.ids, { read: ['logits'], attention: 'fused', reduce: { rows: side, cols: side, mode: 'max' }, sampleRows, logitsFrom, ...(weightsAt.length > 0 ? { weightsAt } : {}), rowEntropy: true, signal, hold: true, onProgress });
        if (signal.aborted) {
          result.held.release();
          throw new AttentionAbortError();
        }
        const probe = probeWeights.get(model)!;
        const heads = result.weightsAt ? measureHeadsFromPairs(result.weightsAt, T, probe, model.probe.tokens, config.heads, result.rowEntropy) : measureHeads(probe, model.probe.tokens, probe, model.probe.tokens, config.heads);
        const empty = () => Object.fromEntries(LAYER_NAMES.map((name) => [name, new Float32Array(0)])) as Record<keyof LayerArrays, Float32Array>;
        const held = track(device, model, result.held);
        return {
          model,
          input,
          layers: Array.from({ length: config.layers }, empty),
          logits: result.logits!,
          path: 'gpu',
          gpuMs: result.gpuMs,
          cpuMs: null,
          trace: null,
          buffers: result.held.buffers,
          held,
          heads,
          rowsTensors: null,
          scoresKept: false,
          fused: { rows: side, cols: side, grids: result.grids!, sample: result.sample!, logitsFrom },
        };
      }
      const scoresSmall = config.layers * config.heads * T * T * 4 <= SCORES_READ_BYTES;
      const read: ModelReadName[] = pretrained ? [...MODEL_ROWS_READ, ...(scoresSmall ? (['scores'] as const) : [])] : ['q', 'k', 'v', 'scores', 'weights', 'attn', 'logits'];
      // Past that size its raw scores are not kept either: every layer's softmax reads them from one scratch buffer.
      const keep = pretrained && !scoresSmall ? 'weights' : 'all';
      const result = await gpu.run(input.ids, { read, signal, hold: true, keep });
      if (signal.aborted) {
        result.held.release();
        throw new AttentionAbortError();
      }
      const layers = result.layers.map((l) => Object.fromEntries(LAYER_NAMES.map((name) => [name, l[name] ?? new Float32Array(0)])) as Record<keyof LayerArrays, Float32Array>);
      const rowsTensors: ModelRowsTensors | null = pretrained
        ? {
            embed: result.embed!,
            layers: result.layers.map((l) => ({ q: l.q!, k: l.k!, v: l.v!, weights: l.weights!, attn: l.attn!, resid1: l.resid1!, resid2: l.resid2!, ...(l.scores ? { scores: l.scores } : {}) })),
            logits: result.logits!,
          }
        : null;
      const heads = measureHeads(layers.map((l) => l.weights), input.ids, probeWeights.get(model)!, model.probe.tokens, config.heads);
      const held = track(device, model, result.held);
      return { model, input, layers, logits: result.logits!, path: 'gpu', gpuMs: result.gpuMs, cpuMs: null, trace: null, buffers: result.held.buffers, held, heads, rowsTensors, scoresKept: keep === 'all', fused: null };
    },

    async view(run, selection) {
      const { config } = run.model;
      const T = run.input.ids.length;
      const H = config.heads;
      const grid = selection.head < 0;
      const layer = Math.min(Math.max(0, selection.layer), config.layers - 1);
      const headsShown = grid ? config.layers * H : H;
      // q, k, v rows are heads · headDim wide (dModel for GPT-2; a Llama model's head_dim may differ from dModel / heads).
      const width = attentionWidthOf(config);
      const shape: ResolvedShape = { seqLen: T, kvLen: T, dModel: config.dModel, heads: headsShown, dHead: headDimOf(config), causal: true, width: grid ? config.layers * width : width };
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
          ...(run.fused && run.fused.logitsFrom > 0 ? { logitsFrom: run.fused.logitsFrom } : {}),
          vocab: run.model.pieces,
          reports: run.heads,
          selection: grid ? null : { layer, head: selection.head },
          headOf: (index: number) => (grid ? gridCell(index, H) : { layer, head: index }),
          ...(isLlamaConfig(config) && config.kvHeads < config.heads ? { kvGroups: { heads: config.heads, kvHeads: config.kvHeads } } : {}),
        },
      };
    },

    async verify(run, signal) {
      if (run.path === 'cpu') return { kind: 'skipped', why: 'No GPU result to compare: without WebGPU the f64 reference itself is drawn.' };
      const config = run.model.config;
      if (run.fused && isLlamaConfig(config)) {
        // A fused run, a layer at a time (its keys and values are T × width per layer): each
        // layer from the GPU's own input rows, against that layer's keys and values.
        const { sample } = run.fused;
        const device = deps.device();
        if (!device || !run.held || run.held.released || !gpuModel || gpuModel.model !== run.model) {
          return { kind: 'skipped', why: 'The fused run’s buffers are gone (another model or view replaced it): run it again to check it.' };
        }
        const llama = gpuModel.gpu as GpuLlamaModel;
        const ids = run.input.ids;
        const rows = sample.rows;
        const checked: ModelCheckRow[] = [];
        let ms = 0;
        const part = async (p: LlamaRowsPart) => {
          const out = await deps.reference.checkLlamaRows(config, run.model.params, ids, rows, p);
          checkAbort(signal);
          checked.push(...out.rows);
          ms += out.referenceMs;
        };
        await part({ kind: 'embed', embed: sample.embed });
        for (let l = 0; l < config.layers; l++) {
          const { k, v } = await llama.readKeysValues(l, run.buffers!);
          checkAbort(signal);
          const g = sample.layers[l];
          await part({ kind: 'layer', layer: l, x: l === 0 ? sample.embed : sample.layers[l - 1].resid2, g: { q: g.q, k, v, attn: g.attn, resid1: g.resid1, resid2: g.resid2 } });
        }
        await part({ kind: 'logits', x: sample.layers[config.layers - 1].resid2, logits: sample.logits });
        const verification: ModelRowsVerification = { rows: checked, pass: checked.every((r) => r.comparison.pass), sampledRows: [...rows] };
        return { kind: 'report', verification, cpuMs: ms };
      }
      if (run.rowsTensors) {
        // Per layer from the GPU's own inputs, on the rows the shared policy picks (all of them while cheap).
        const { verification, referenceMs } = await deps.reference.verifyModelRows(run.model.config, run.model.params, run.rowsTensors, run.input.ids);
        checkAbort(signal);
        return { kind: 'report', verification, cpuMs: referenceMs };
      }
      const { traces, forwardMs } = await deps.reference.forwardModel(run.model.config, run.model.params, [run.input.ids]);
      checkAbort(signal);
      run.trace = traces[0];
      run.cpuMs = forwardMs[0];
      const verification = verifyModel({ layers: run.layers, logits: run.logits }, { layers: traces[0].layers, logits: traces[0].logits });
      return { kind: 'report', verification, cpuMs: forwardMs[0] };
    },
  };
}
