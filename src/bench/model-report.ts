/**
 * The model benchmark's numbers (`npm run bench -- --model …`): the FLOPs of a GPT-2-family
 * forward pass, the report a run produces, its text table. Pure (no WebGPU, no DOM), so the
 * arithmetic is unit-tested in Node and the table printed by the script from the page's JSON.
 */
import { isLlamaConfig, type LlamaConfig } from '../model/llama-schema';
import type { ModelConfig } from '../core/types';
import { gflops, median, spread, type Spread } from './metrics';
import type { AdapterDescription } from '../kernels/tuning';

/**
 * Multiply-adds of one forward pass of `seqLen` tokens, per matrix product, times 2 (FLOPs =
 * 2·MACs): per layer c_attn (T·d·3d), the attention maps QKᵀ and P·V (heads · T · T · dHead
 * each, the full square: the kernels compute every entry, masked or not), c_proj (T·d·d), c_fc
 * and the MLP's c_proj (T·d·dMlp each); then the logits x·wteᵀ (T·d·vocab). LayerNorm, GELU,
 * softmax and the embedding (O(T·d)) are left out.
 */
export function modelForwardFlops(config: Pick<ModelConfig, 'vocabSize' | 'dModel' | 'layers' | 'dMlp'> & Partial<LlamaConfig>, seqLen: number): { layer: number; logits: number; total: number } {
  const { dModel: d, dMlp, layers, vocabSize } = config;
  const T = seqLen;
  if (isLlamaConfig(config)) {
    // The stacked q | k | v projection, QKᵀ and P·V over the full T × T for every query head,
    // o_proj, gate | up and down_proj; the logits against lm_head.
    const width = config.heads * config.headDim;
    const qkv = width + 2 * config.kvHeads * config.headDim;
    const layer = 2 * (T * d * qkv + 2 * T * T * width + T * width * d + 3 * T * d * dMlp);
    const logits = 2 * T * d * vocabSize;
    return { layer, logits, total: layers * layer + logits };
  }
  const layer = 2 * (T * d * 3 * d + 2 * T * T * d + T * d * d + 2 * T * d * dMlp);
  const logits = 2 * T * d * vocabSize;
  return { layer, logits, total: layers * layer + logits };
}

/** GPT-2 small's sizes (124M parameters): what `--model gpt2-shape` times with random weights. */
export const GPT2_SMALL_SHAPE: ModelConfig = { vocabSize: 50257, context: 1024, dModel: 768, heads: 12, layers: 12, dMlp: 3072 };

/** SmolLM2-135M's config (HuggingFaceTB/SmolLM2-135M's config.json): what `--model smollm2-shape` times with random weights. */
export const SMOLLM2_135M_SHAPE: LlamaConfig = {
  modelType: 'llama',
  vocabSize: 49152,
  context: 8192,
  dModel: 576,
  heads: 9,
  kvHeads: 3,
  headDim: 64,
  layers: 30,
  dMlp: 1536,
  rmsNormEps: 1e-5,
  ropeTheta: 100000,
  ropeScaling: null,
  tiedEmbeddings: true,
  qkvBias: false,
  oBias: false,
};

/** The shapes the model bench times with random weights, by their --model name. */
export const RANDOM_SHAPES: Record<string, ModelConfig | LlamaConfig> = { 'gpt2-shape': GPT2_SMALL_SHAPE, 'smollm2-shape': SMOLLM2_135M_SHAPE };

/** The model bench's paths (see {@link ModelBenchRecord.path}). */
export type ModelBenchPath = 'gpu' | 'cpu' | 'ort';

/** One path at one length: every timed run and what they come to. */
export interface ModelBenchRecord {
  seqLen: number;
  /**
   * 'gpu': createGpuModel's run (WebGPU); 'cpu': the app's f32 CPU forward
   * (src/workers/model-cpu-client.ts, WebAssembly SIMD matmul); 'ort': onnxruntime-web's WebGPU EP
   * on the same forward and weights (src/bench/peer-ort.ts: the ONNX graph of gpt2-onnx.ts).
   */
  path: ModelBenchPath;
  /** Milliseconds of each timed run (GPU and ORT: from the call until the device finished, before any readback). */
  ms: number[];
  median: number;
  spread: Spread;
  flops: number;
  gflops: number;
  /** A GPU run of a Llama-family model on the fused path (its maps would not fit a binding); absent: maps. */
  attention?: 'fused';
  tokensPerSecond: number;
}

/** The GPU's (or ORT's) logits against the CPU forward's at one length (all f32: a cross-check, not a reference). */
export interface ModelBenchCheck {
  seqLen: number;
  /** Whose logits were checked; absent: the GPU's. */
  path?: 'gpu' | 'ort';
  maxAbsErr: number;
  /** Largest |logit| of the CPU forward, the scale of maxAbsErr. */
  maxAbs: number;
  pass: boolean;
}

/** What a model bench run reports (printed as a table, written as JSON). */
export interface ModelBenchReport {
  kind: 'model';
  date: string;
  adapter: AdapterDescription | null;
  /** The model: 'gpt2-shape' (random weights), or the name the loader gave. */
  model: string;
  config: ModelConfig;
  parameters: number;
  /** The linear kernel variant the GPU ran (the tuning's). */
  linear: string;
  /** What the CPU path ran (kernel and threads, as the worker reports them); null when it did not run. */
  cpuPath: string | null;
  /** The GPU run's keep option (see GpuModelRunOptions.keep). */
  keep: 'all' | 'weights' | 'none';
  options: { lengths: number[]; repeats: number; warmup: number; paths: ModelBenchPath[]; seed: number };
  records: ModelBenchRecord[];
  checks: ModelBenchCheck[];
  /** GPU speed-up over the CPU path per length (CPU median ÷ GPU median), where both ran. */
  speedups: Array<{ seqLen: number; speedup: number }>;
  /** Our GPU's speed-up over onnxruntime-web's WebGPU EP per length (ORT median ÷ GPU median), where both ran. */
  ortSpeedups?: Array<{ seqLen: number; speedup: number }>;
  /** The ORT peer's session: its execution provider, the encoded ONNX model's bytes, the ms to encode it and create the session. */
  ort?: { provider: string; modelBytes: number; startMs: number };
  failures: Array<{ seqLen: number; path: string; error: string }>;
  pass: boolean;
}

/** Summarise the timed runs of one path at one length. */
export function modelRecord(config: ModelConfig, seqLen: number, path: ModelBenchPath, ms: readonly number[]): ModelBenchRecord {
  const mid = median(ms);
  const flops = modelForwardFlops(config, seqLen).total;
  return { seqLen, path, ms: [...ms], median: mid, spread: spread(ms), flops, gflops: gflops(flops, mid), tokensPerSecond: seqLen / (mid / 1000) };
}

/** The GPU's speed-ups over `other` (default the CPU), from the records at the same length. */
export function modelSpeedups(records: readonly ModelBenchRecord[], other: 'cpu' | 'ort' = 'cpu'): ModelBenchReport['speedups'] {
  const out: ModelBenchReport['speedups'] = [];
  for (const gpu of records.filter((r) => r.path === 'gpu')) {
    const cpu = records.find((r) => r.path === other && r.seqLen === gpu.seqLen);
    if (cpu) out.push({ seqLen: gpu.seqLen, speedup: cpu.median / gpu.median });
  }
  return out;
}

const fixed = (value: number, digits: number) => (Number.isFinite(value) ? value.toFixed(digits) : '–');

/** The table `npm run bench -- --model …` prints. */
export function formatModelTable(report: ModelBenchReport): string {
  const c = report.config;
  const head = [
    `model ${report.model}: ${c.layers} layers × ${c.dModel} (${c.heads} heads, dMlp ${c.dMlp}, vocab ${c.vocabSize}), ${report.parameters >= 1e6 ? `${(report.parameters / 1e6).toFixed(1)}M` : report.parameters} parameters`,
    `adapter: ${report.adapter?.label ?? 'none'}; linear kernels: ${report.linear}; keep '${report.keep}'; median of ${report.options.repeats}`,
    ...(report.cpuPath ? [`CPU: ${report.cpuPath}`] : []),
    'FLOPs = 2 · multiply-adds of every matrix product (c_attn, QKᵀ and P·V over the full T × T, c_proj, c_fc, mlp c_proj, logits x·wteᵀ)',
  ];
  const rows = [['seqLen', 'path', 'median ms', '±IQR', 'tokens/s', 'GFLOP', 'GFLOP/s', 'runs ms']];
  for (const r of report.records) {
    rows.push([String(r.seqLen), r.attention === 'fused' ? `${r.path} (fused)` : r.path, fixed(r.median, 1), fixed(r.spread.iqr, 1), fixed(r.tokensPerSecond, 1), fixed(r.flops / 1e9, 2), fixed(r.gflops, 2), r.ms.map((m) => m.toFixed(0)).join(' ')]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  const table = rows.map((row) => row.map((cell, i) => (i < 2 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ').trimEnd());
  const tail = [
    ...report.speedups.map((s) => `GPU against CPU at ${s.seqLen} tokens: ${s.speedup >= 1 ? `${s.speedup.toFixed(2)}× faster` : `${(1 / s.speedup).toFixed(2)}× slower`}`),
    ...(report.ortSpeedups ?? []).map((s) => `GPU against ORT (onnxruntime-web, ${report.ort?.provider ?? 'webgpu'} EP) at ${s.seqLen} tokens: ${s.speedup >= 1 ? `${s.speedup.toFixed(2)}× faster` : `${(1 / s.speedup).toFixed(2)}× slower`}`),
    ...report.checks.map((k) => `logits ${k.path === 'ort' ? 'ORT' : 'GPU'} vs CPU at ${k.seqLen} tokens: max abs diff ${k.maxAbsErr.toExponential(2)} (largest |logit| ${k.maxAbs.toFixed(2)}) ${k.pass ? 'ok' : 'MISMATCH'}`),
    ...report.failures.map((f) => `FAILED ${f.path} at ${f.seqLen} tokens: ${f.error}`),
  ];
  return [...head, '', ...table, ...(tail.length > 0 ? ['', ...tail] : [])].join('\n');
}
