/**
 * The model benchmark, run in the bench page (src/ui/bench-page.ts exposes it as
 * `window.attentionBench.model`, scripts/bench.ts drives it for `npm run bench -- --model …`):
 * forward passes of a GPT-2-family model at each length on the GPU (createGpuModel, the app's
 * own runner and tuning) and on the CPU (the app's f32 CPU forward in its worker,
 * src/workers/model-cpu-client.ts: WebAssembly SIMD matmul, its default thread count), timed,
 * and the GPU's logits checked against the CPU's. With path 'ort', onnxruntime-web's WebGPU EP
 * runs the same forward on the same weights too (peer-ort.ts, loaded on demand), after our GPU
 * model is freed.
 */
import { createGpuModel, type GpuModel, type GpuModelResult } from '../kernels/model';
import { mapsFit } from '../kernels/llama-model';
import { linearVariant } from '../kernels/model-linear';
import { describeDevice, tuningFor, type LinearTuning } from '../kernels/tuning';
import { countParams, paramShapes, validateConfig, type GptConfig, type GptParams } from '../model/schema';
import { makeRng } from '../reference/random';
import { compareArrays } from '../verify/compare';
import { createModelCpuClient, type ModelCpuClient } from '../workers/model-cpu-client';
import { loadPretrained } from '../pretrained/load';
import { BenchValueError } from './metrics';
import { RANDOM_SHAPES, modelRecord, modelSpeedups, type ModelBenchPath, type ModelBenchReport } from './model-report';
import { countLlamaParams, isLlamaConfig, llamaTensorShapes, type LlamaConfig } from '../model/llama-schema';
import type { OrtPeer } from './peer-ort';

/** What the page is asked to run. */
export interface ModelBenchSettings {
  /** 'gpt2-shape': GPT-2 small's shape with random weights; anything else is read from `source`. */
  model: string;
  /** A base URL ending in '/' serving the model's files (config.json, model.safetensors, the tokenizer), read with loadPretrained; for a model other than 'gpt2-shape'. */
  source?: string;
  lengths: number[];
  /** Timed runs per length and path (the median is reported). */
  repeats: number;
  /** Untimed runs per length and path before the timed ones (the pipelines are compiled by an 8-token run first either way). */
  warmup: number;
  /** 'ort' also runs onnxruntime-web's WebGPU EP on the same forward (slow on a software adapter). */
  paths: ModelBenchPath[];
  seed: number;
  /** The GPU run's keep option: 'weights' (the default for GPT-2 shapes) is how a real model runs in the app; 'none' (the default for Llama shapes, whose maps over 30 layers would not fit) keeps no map. */
  keep?: 'all' | 'weights' | 'none';
  /** The linear kernels instead of the device tuning's (to compare variants); absent: the tuning's. */
  linear?: LinearTuning | null;
}

/** A model the page already has (e.g. from the loader), instead of random weights. */
export interface LoadedModel {
  name: string;
  config: GptConfig | LlamaConfig;
  params: ReadonlyMap<string, Float32Array>;
}

/** |GPU − CPU| ≤ atol + rtol·|CPU| on the logits: two f32 forward passes summing in different orders. */
const LOGITS_TOLERANCE = { atol: 1e-3, rtol: 1e-3 };

/**
 * Random parameters of `config` in GPT-2's layout: weights uniform with GPT-2's initial standard
 * deviation 0.02, LayerNorm gains 1, biases 0 (values do not change the timings). A xorshift
 * stream seeded by `seed`, fast enough for GPT-2 small's 124M values in about a second.
 */
export function randomModelParams(config: GptConfig | LlamaConfig, seed: number): GptParams {
  const params: GptParams = new Map();
  let state = (Math.floor(makeRng(seed)() * 2 ** 32) | 1) >>> 0;
  const width = 0.02 * Math.sqrt(12);
  // The Llama family's tensors by their Hugging Face names, RMSNorm gains 1.
  const shapes = isLlamaConfig(config) ? llamaTensorShapes(config) : paramShapes(config);
  for (const [name, shape] of shapes) {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    if (/\.ln_(1|2)\.weight$|^ln_f\.weight$|norm\.weight$|layernorm\.weight$/.test(name)) data.fill(1);
    else if (!name.endsWith('.bias')) {
      for (let i = 0; i < data.length; i++) {
        state ^= state << 13;
        state ^= state >>> 17;
        state ^= state << 5;
        data[i] = ((state >>> 0) / 2 ** 32 - 0.5) * width;
      }
    }
    params.set(name, data);
  }
  return params;
}

const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/** Run the model bench on `device` (GPU path unavailable without one). */
export async function runModelBench(
  settings: ModelBenchSettings,
  device: GPUDevice | undefined,
  onProgress: (line: string) => void = () => {},
  loaded?: LoadedModel,
): Promise<ModelBenchReport> {
  const shape = Object.hasOwn(RANDOM_SHAPES, settings.model) ? RANDOM_SHAPES[settings.model] : undefined;
  if (shape === undefined && !loaded) {
    if (settings.source === undefined) throw new BenchValueError('model', `'${settings.model}' without a source`, `${Object.keys(RANDOM_SHAPES).map((k) => `'${k}'`).join(', ')}, or a model with the base URL of its files in \`source\``);
    onProgress(`loading ${settings.model}`);
    let last = 0;
    const model = await loadPretrained(settings.source, {
      cache: null,
      onProgress: (p) => {
        // A line per 64 MiB read, not per chunk.
        if (p.loaded - last < 2 ** 26) return;
        last = p.loaded;
        onProgress(`read ${(p.loaded / 2 ** 20).toFixed(0)} MiB (${p.file})`);
      },
    });
    const { vocabSize, context, dModel, heads, layers, dMlp } = model.config;
    loaded = { name: `${settings.model} (${model.dtype})`, config: isLlamaConfig(model.config) ? model.config : { vocabSize, context, dModel, heads, layers, dMlp }, params: model.params };
  }
  const name = loaded?.name ?? settings.model;
  const given = loaded?.config ?? shape!;
  const llama = isLlamaConfig(given);
  const config: GptConfig | LlamaConfig = llama ? given : validateConfig(given);
  const keep = settings.keep ?? (llama ? 'none' : 'weights');
  onProgress(loaded ? `model ${name}` : `random weights of ${settings.model === 'gpt2-shape' ? "GPT-2 small's" : "SmolLM2-135M's"} shape (seed ${settings.seed})`);
  const params = loaded ? new Map(loaded.params) : randomModelParams(config, settings.seed);
  const tuning = device ? { ...tuningFor(device), ...(settings.linear ? { linear: settings.linear } : {}) } : null;
  const variant = tuning ? linearVariant(tuning) : null;
  const report: ModelBenchReport = {
    kind: 'model',
    date: new Date().toISOString(),
    adapter: device ? describeDevice(device) : null,
    model: name,
    config,
    parameters: isLlamaConfig(config) ? countLlamaParams(config) : countParams(config),
    linear: variant ? (variant.kind === 'lanes' ? `lanes ${variant.tile.rows}×${variant.tile.cols}` : variant.kind) : 'none',
    cpuPath: null,
    keep,
    options: { lengths: [...settings.lengths], repeats: settings.repeats, warmup: settings.warmup, paths: [...settings.paths], seed: settings.seed },
    records: [],
    checks: [],
    speedups: [],
    failures: [],
    pass: true,
  };
  const fail = (seqLen: number, path: string, error: unknown) => {
    report.failures.push({ seqLen, path, error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
    onProgress(`${path} at ${seqLen} tokens failed: ${report.failures.at(-1)!.error}`);
  };
  // Lengths past the context fail before anything is compiled or uploaded.
  const lengths = settings.lengths.filter((seqLen) => {
    if (seqLen <= config.context) return true;
    fail(seqLen, 'gpu/cpu', new BenchValueError('lengths', String(seqLen), `at most the model's context, ${config.context}`));
    return false;
  });
  let model: GpuModel | null = null;
  if (settings.paths.includes('gpu') && lengths.length > 0) {
    if (!device) fail(0, 'gpu', 'no WebGPU device in this browser');
    else {
      try {
        onProgress('uploading the parameters and compiling the kernels');
        model = await createGpuModel(device, config, params, tuning!);
        await model.run(Array.from({ length: Math.min(8, config.context) }, (_, i) => i % config.vocabSize), { read: [], keep });
      } catch (error) {
        fail(0, 'gpu', error);
      }
    }
  }
  const cpu: ModelCpuClient | null = settings.paths.includes('cpu') ? createModelCpuClient() : null;
  /** The CPU forward's logits per length, kept for ORT's check when ORT runs. */
  const cpuLogitsByLength = new Map<number, Float32Array>();
  const tokensFor = (seqLen: number) => {
    const rng = makeRng(settings.seed + seqLen);
    return Array.from({ length: seqLen }, () => Math.floor(rng() * config.vocabSize));
  };
  try {
    for (const seqLen of lengths) {
      const tokens = tokensFor(seqLen);
      let gpuLogits: Float32Array | null = null;
      // A Llama-family model whose maps at this length would not fit one storage binding runs
      // every head on the fused path (no T × T buffer), as the app does past the full-map limit.
      const mapBytes = config.heads * seqLen * seqLen * 4;
      const attention: 'maps' | 'fused' = isLlamaConfig(config) && device !== undefined && !mapsFit(device, config.heads, seqLen) ? 'fused' : 'maps';
      if (attention === 'fused') onProgress(`gpu ${seqLen} tokens: attention on the fused path (maps of ${(mapBytes / 2 ** 30).toFixed(2)} GiB per layer would not fit a binding)`);
      // Logits of the last 1024 rows only where every row's would pass 512 MiB (SmolLM2 at 8192 tokens: 1.5 GiB); both paths compute the same rows.
      const logitsFrom = isLlamaConfig(config) && seqLen * config.vocabSize * 4 > 2 ** 29 ? seqLen - 1024 : 0;
      const tail = logitsFrom > 0 ? { logitsFrom } : {};
      if (model) {
        try {
          const ms: number[] = [];
          for (let i = 0; i < settings.warmup + settings.repeats; i++) {
            await tick();
            const wantLogits: boolean = gpuLogits === null && i >= settings.warmup && settings.paths.includes('cpu');
            const result: GpuModelResult = await model.run(tokens, { read: wantLogits ? ['logits'] : [], keep, attention, ...tail });
            if (wantLogits) gpuLogits = result.logits!;
            if (i >= settings.warmup) ms.push(result.gpuMs);
            onProgress(`gpu ${seqLen} tokens: ${i < settings.warmup ? 'warm-up' : 'run'} ${result.gpuMs.toFixed(0)} ms`);
          }
          report.records.push({ ...modelRecord(config, seqLen, 'gpu', ms), ...(attention === 'fused' ? { attention } : {}) });
        } catch (error) {
          fail(seqLen, 'gpu', error);
        }
      }
      if (cpu) {
        try {
          const ms: number[] = [];
          let cpuLogits: Float32Array | null = null;
          for (let i = 0; i < settings.warmup + settings.repeats; i++) {
            // The logits come back once (GPT-2's are 200 MB at 1024 tokens); the time is the worker's forward alone.
            const wantLogits = (gpuLogits !== null || settings.paths.includes('ort')) && cpuLogits === null && i >= settings.warmup;
            const run = await cpu.forward(config, params, tokens, { logits: wantLogits, ...tail });
            if (wantLogits) cpuLogits = run.logits;
            report.cpuPath = `f32 forward in a worker (${run.kernel}, ${run.threads} thread${run.threads === 1 ? '' : 's'})`;
            if (i >= settings.warmup) ms.push(run.ms);
            onProgress(`cpu ${seqLen} tokens: ${i < settings.warmup ? 'warm-up' : 'run'} ${run.ms.toFixed(0)} ms`);
          }
          report.records.push(modelRecord(config, seqLen, 'cpu', ms));
          if (cpuLogits && settings.paths.includes('ort')) cpuLogitsByLength.set(seqLen, cpuLogits);
          if (gpuLogits && cpuLogits) {
            const c = compareArrays(gpuLogits, cpuLogits, LOGITS_TOLERANCE);
            let maxAbs = 0;
            for (const v of cpuLogits) maxAbs = Math.max(maxAbs, Math.abs(v));
            report.checks.push({ seqLen, maxAbsErr: c.maxAbsErr, maxAbs, pass: c.pass });
          }
        } catch (error) {
          fail(seqLen, 'cpu', error);
        }
      }
    }
  } finally {
    model?.destroy();
    cpu?.cancel();
  }
  if (settings.paths.includes('ort') && lengths.length > 0) {
    await benchOrt({ config, params, lengths, settings, tokensFor, cpuLogitsByLength, report, fail, onProgress });
    report.ortSpeedups = modelSpeedups(report.records, 'ort');
  }
  report.speedups = modelSpeedups(report.records);
  report.pass = report.failures.length === 0 && report.checks.every((c) => c.pass);
  return report;
}

/** What {@link benchOrt} needs from runModelBench. */
interface OrtBenchContext {
  config: GptConfig;
  params: GptParams;
  lengths: number[];
  settings: ModelBenchSettings;
  tokensFor: (seqLen: number) => number[];
  cpuLogitsByLength: ReadonlyMap<number, Float32Array>;
  report: ModelBenchReport;
  fail: (seqLen: number, path: string, error: unknown) => void;
  onProgress: (line: string) => void;
}

/**
 * onnxruntime-web's WebGPU EP on the same forward, weights and tokens (peer-ort.ts, imported here
 * so the page loads ORT only when asked): at least one untimed run per length (ORT compiles its
 * shaders per shape; the logits are read back on that run, outside the timed ones), then the
 * timed runs; its logits checked against the CPU forward's where that ran.
 */
async function benchOrt(c: OrtBenchContext): Promise<void> {
  const { config, settings, report } = c;
  let peer: OrtPeer;
  try {
    c.onProgress('onnxruntime-web: encoding the ONNX graph, creating the WebGPU session');
    const { createOrtPeer } = await import('./peer-ort');
    peer = await createOrtPeer(config, c.params, { provider: 'webgpu' });
    report.ort = { provider: peer.provider, modelBytes: peer.modelBytes, startMs: peer.startMs };
    c.onProgress(`ort session ready in ${(peer.startMs / 1000).toFixed(1)} s (${(peer.modelBytes / 2 ** 20).toFixed(0)} MiB of ONNX)`);
  } catch (error) {
    c.fail(0, 'ort', error);
    return;
  }
  const warmup = Math.max(1, settings.warmup);
  try {
    for (const seqLen of c.lengths) {
      try {
        const tokens = c.tokensFor(seqLen);
        const expected = c.cpuLogitsByLength.get(seqLen);
        const ms: number[] = [];
        let logits: Float32Array | null = null;
        for (let i = 0; i < warmup + settings.repeats; i++) {
          await tick();
          const run = await peer.forward(tokens, { logits: i === 0 && expected !== undefined });
          logits ??= run.logits;
          if (i >= warmup) ms.push(run.ms);
          c.onProgress(`ort ${seqLen} tokens: ${i < warmup ? 'warm-up' : 'run'} ${run.ms.toFixed(0)} ms`);
        }
        report.records.push(modelRecord(config, seqLen, 'ort', ms));
        if (logits && expected) {
          const k = compareArrays(logits, expected, LOGITS_TOLERANCE);
          let maxAbs = 0;
          for (const v of expected) maxAbs = Math.max(maxAbs, Math.abs(v));
          report.checks.push({ seqLen, path: 'ort', maxAbsErr: k.maxAbsErr, maxAbs, pass: k.pass });
        }
      } catch (error) {
        c.fail(seqLen, 'ort', error);
      }
    }
  } finally {
    await peer.dispose();
  }
}
