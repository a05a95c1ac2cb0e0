/**
 * The forward pass of a Llama-family model (Llama 2/3, TinyLlama, SmolLM2, Qwen2/2.5; the config
 * and tensor names of src/model/llama-schema.ts) on WebGPU, checked against the f64 reference of
 * src/model/llama-reference.ts. One submission per run; per block:
 *
 *   h   = RMSNorm(x)·w₁                         shaders/rmsnorm.wgsl
 *   pre = h·[W_q | W_k | W_v]ᵀ + [b_q | b_k | b_v]  one linear step over the three projections
 *                                                 (nn.Linear's [out, in] rows stacked at upload;
 *                                                 zeros where the file has no bias)
 *   q, k of pre rotated in place                 shaders/rope.wgsl (cos/sin table from rope.ts)
 *   qkv = pre re-laid out, k and v repeated per query head   shaders/repeat-kv.wgsl (GQA)
 *   scores, softmax, P·V                         the attention kernels, as GPT-2's forward
 *   x₁  = x + attn·W_oᵀ (+ b_o)                  linear step with the residual
 *   g   = RMSNorm(x₁)·w₂ · [W_gate | W_up]ᵀ       one linear step, gate and up side by side
 *   x₂  = x₁ + (silu(gate) ⊙ up)·W_downᵀ          shaders/swiglu.wgsl, then linear + residual
 *
 * then RMSNorm(x)·w_f and the logits against lm_head (embed_tokens when tied). The input is
 * embed_tokens[token], no positions (shaders/embed.wgsl's `tokensOnly`).
 *
 * Results and buffers have the layouts of the GPT-2 runner (src/kernels/model-run.ts) with
 * width = heads · headDim: q, k and v are T × width with each key/value head repeated for its
 * query heads (what the scene and the attention kernels read; the reference's k and v are
 * T × kvHeads·headDim, not repeated); `ln1` is RMSNorm's output h, `ln2` the second, `mlpAct`
 * silu(gate) ⊙ up, `resid1` x₁ and `resid2` x₂.
 */
import { AttentionInputError, GpuLimitError } from '../core/errors';
import type { ResolvedShape } from '../core/types';
import { checkStorageSize, maxStorageBytes } from '../gpu/buffers';
import { scoped, watchLoss } from '../gpu/guard';
import { encodePass, getKernel, type BindingKind, type Kernel } from '../gpu/pipeline';
import { readFloats } from '../gpu/readback';
import { createRunner, type HoldResult } from '../gpu/runner';
import { packUniform, uniformLayout } from '../gpu/uniforms';
import { checkLlamaConfig, checkLlamaParams, isLlamaConfig, type LlamaConfig } from '../model/llama-schema';
import { ropeInverseFrequencies } from '../model/rope';
import { BINDINGS, checkTuning, coreKernels } from './attention';
import { FLASH_MAX_DHEAD, FLASH_MAX_GRID_SIDE, fusedAttentionKernel, fusedReduceKernel } from './flash';
import { attentionDims, checkDims, flatDims, fusedChunks, reducedMapChunks, type Dims } from './launch';
import { RMS_NORM_LAYOUT, ROPE_LAYOUT, rmsNormKernel, ropeKernel, ropeTable, ropeUniform } from './llama-ops';
import { EMBED_LAYOUT, LINEAR_LAYOUT, linearKey, packRows } from './model-weights';
import { linearKernelsFor } from './model-linear';
import { align64, checkBindingBudget, checkRunOptions, checkTokens, checkWeightFormat, checkWeightPairs, type GpuModelOptions, type GpuModel, type GpuModelBuffers, type GpuModelResult, type GpuModelRunOptions, type ModelLayerTensor } from './model-run';
import { CHUNK_LAYOUT, GRID_PARAMS_LAYOUT, PARAMS_LAYOUT } from './packing';
import { kernelSource } from './shaders';
import { variantLabel } from './shader-variants';
import { packHalves } from '../core/half';
import { rowsPerPiece } from '../core/split';
import { chunkPolicyFor, classifyAdapter, cpuThreads, tuningFor, type AttentionTuning } from './tuning';

/** Invocations per workgroup of the fused kernel (each owns two query rows), as createFlashAttention's default. */
const FUSED_WORKGROUP = 64;

/** The parameters by their Hugging Face names (model.embed_tokens.weight, model.layers.0.self_attn.q_proj.weight, …). */
export type GpuLlamaParams = ReadonlyMap<string, Float32Array | Float64Array>;

/** A Llama-family model on one device: runs as {@link GpuModel}'s, with the Llama config. */
export interface GpuLlamaModel extends GpuModel<LlamaConfig> {
  /**
   * Layer `layer`'s keys and values (T × heads·headDim each, key/value heads repeated) of a run
   * that sampled rows (`sampleRows`: it keeps every layer's q | k | v), or of the held run `from`.
   */
  readKeysValues(layer: number, from?: GpuModelBuffers): Promise<{ k: Float32Array; v: Float32Array }>;
  /**
   * The weights held in more than one binding, by name, with how many (the token embedding and an
   * untied lm_head, split by rows when larger than {@link GpuModelOptions}.maxBindingBytes or the
   * device's limit); empty when every weight fits one.
   */
  readonly pieces: ReadonlyMap<string, number>;
}

/** Rows `firstRow` … `firstRow + rows − 1` of a [rows, cols] weight, in a buffer of their own. */
interface RowPiece {
  buffer: GPUBuffer;
  firstRow: number;
  rows: number;
}


const RO: BindingKind = 'read-only-storage';
const LLAMA_BINDINGS = {
  embed: ['uniform', RO, RO, RO, 'storage'],
  swiglu: ['uniform', RO, 'storage'],
  repeatKv: ['uniform', RO, 'storage'],
  pairWeights: ['uniform', RO, RO, RO, 'storage', 'uniform'],
} satisfies Record<string, readonly BindingKind[]>;

export const REPEAT_KV_LAYOUT = uniformLayout(kernelSource('repeatKv').code, 'RepeatParams');
const PAIR_LAYOUT = uniformLayout(kernelSource('pairWeights').code, 'PairParams');

export { isLlamaConfig };

/**
 * Whether one layer's maps (heads × T × T floats, the scores and the weights each) fit one
 * storage binding and buffer of `device`; past that a run must take attention 'fused'.
 */
export function mapsFit(device: GPUDevice, heads: number, seqLen: number): boolean {
  return heads * seqLen * seqLen * 4 <= Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize);
}

/** The block's tensors the runner uploads, by the name it binds them under. */
function layerNames(i: number) {
  const p = `model.layers.${i}`;
  return {
    norm1: `${p}.input_layernorm.weight`,
    qkv: `${p}.self_attn.qkv_proj.weight`,
    qkvBias: `${p}.self_attn.qkv_proj.bias`,
    o: `${p}.self_attn.o_proj.weight`,
    oBias: `${p}.self_attn.o_proj.bias`,
    norm2: `${p}.post_attention_layernorm.weight`,
    gateUp: `${p}.mlp.gate_up_proj.weight`,
    down: `${p}.mlp.down_proj.weight`,
  };
}

/** `parts` stacked one after another into one Float32Array (rows of [out, in] weights, or biases). */
function stack(parts: ReadonlyArray<ArrayLike<number> | number>): Float32Array {
  const length = parts.reduce<number>((sum, part) => sum + (typeof part === 'number' ? part : part.length), 0);
  const out = new Float32Array(length);
  let at = 0;
  for (const part of parts) {
    if (typeof part === 'number') at += part; // zeros
    else {
      out.set(part, at);
      at += part.length;
    }
  }
  return out;
}

/**
 * Upload a Llama-family model's parameters once and compile its kernels (the attention core with
 * the device's tuning). Throws AttentionInputError for a config or parameters the schema refuses
 * (checkLlamaConfig, checkLlamaParams), GpuOutOfMemoryError when the device cannot hold them.
 */
export async function createGpuLlamaModel(
  device: GPUDevice,
  config: LlamaConfig,
  params: GpuLlamaParams,
  tuning: AttentionTuning = tuningFor(device),
  options: GpuModelOptions = {},
): Promise<GpuLlamaModel> {
  checkLlamaConfig(config);
  checkLlamaParams(config, params);
  checkTuning(device, tuning);
  const format = checkWeightFormat(options.weights);
  const budget = checkBindingBudget(options.maxBindingBytes, maxStorageBytes(device));
  const c: LlamaConfig = { ...config };
  const { dModel: d, heads, kvHeads, headDim: hd, dMlp, vocabSize, layers } = c;
  const width = heads * hd;
  const kvWidth = kvHeads * hd;
  const qkvWidth = width + 2 * kvWidth;
  const loss = watchLoss(device);

  const core = coreKernels(device, tuning);
  const [scoresK, softmaxK, outputK, embedK, rmsK, ropeK, swigluK, repeatK, linear] = await Promise.all([
    core.scores,
    core.softmax,
    core.output(hd),
    getKernel(device, { label: `llama/${variantLabel('embed', undefined, format)}`, source: kernelSource('embed', undefined, format), entryPoint: 'tokensOnly', bindings: LLAMA_BINDINGS.embed }),
    rmsNormKernel(device),
    ropeKernel(device),
    getKernel(device, { label: 'llama/swiglu', source: kernelSource('swiglu'), bindings: LLAMA_BINDINGS.swiglu }),
    getKernel(device, { label: 'llama/repeat kv', source: kernelSource('repeatKv'), bindings: LLAMA_BINDINGS.repeatKv }),
    linearKernelsFor(device, tuning, ['biasT', 'residualT', 'logits'] as const, format),
  ]);
  // Submissions of the fused path: about a quarter second each on a software adapter (src/kernels/tuning.ts).
  const chunkPolicy = chunkPolicyFor(classifyAdapter(device), cpuThreads());
  const chunkWork = chunkPolicy.chunkWork;
  loss.check();

  // Parameters, uploaded once: q/k/v stacked into one [qkvWidth, d] weight (and bias), gate and
  // up into one [2·dMlp, d]; zeros where the file has no bias (one buffer per size).
  const owned: GPUBuffer[] = [];
  const byName = new Map<string, GPUBuffer>();
  const storage = (label: string, data: Float32Array | Uint32Array): GPUBuffer => {
    const bytes = Math.max(16, Math.ceil((data.length * 4) / 16) * 16);
    checkStorageSize(device, label, bytes);
    if (bytes > budget.bytes) throw new GpuLimitError(label, bytes, budget.bytes, budget.limit, 'Choose a smaller model.');
    const buffer = device.createBuffer({ label: `llama/${label}`, size: bytes, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
    owned.push(buffer);
    device.queue.writeBuffer(buffer, 0, data);
    return buffer;
  };
  /** A weight matrix the linear kernels or the embedding read: f32, or the checkpoint's 16 bits packed two to a u32. */
  const matrix = (label: string, data: Float32Array): GPUBuffer => (format === 'f32' ? storage(label, data) : storage(`${label} (${format})`, packHalves(data, format)));
  const f32 = (name: string): Float32Array => {
    const data = params.get(name)!;
    return data instanceof Float32Array ? data : Float32Array.from(data);
  };
  /**
   * A [vocabSize, d] table (the token embedding, lm_head) in as few buffers as the binding budget
   * allows, split by rows: the embedding runs once per piece, the logits write each piece's
   * columns into their place (parts/rows-params.wgsl outStride, outOffset).
   */
  const vocabRows = (name: string): RowPiece[] => {
    const per = rowsPerPiece(vocabSize, d, format, budget.bytes);
    if (per === 0) throw new GpuLimitError(`${name} (one row)`, format === 'f32' ? 4 * d : 2 * d, budget.bytes, budget.limit, 'Choose a smaller model.');
    const data = f32(name);
    const pieces: RowPiece[] = [];
    for (let firstRow = 0; firstRow < vocabSize; firstRow += per) {
      const rows = Math.min(per, vocabSize - firstRow);
      const label = per === vocabSize ? name : `${name} [rows ${firstRow}–${firstRow + rows - 1}]`;
      pieces.push({ buffer: matrix(label, data.subarray(firstRow * d, (firstRow + rows) * d)), firstRow, rows });
    }
    return pieces;
  };
  const uniform = (label: string, size: number): GPUBuffer => {
    const buffer = device.createBuffer({ label: `llama/${label}`, size, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    owned.push(buffer);
    return buffer;
  };
  const linearShapes: Array<[number, number]> = [
    [d, qkvWidth],
    [width, d],
    [d, 2 * dMlp],
    [dMlp, d],
    [d, vocabSize],
  ];
  const weights = await scoped(
    device,
    { what: 'the model upload', buffers: 'the model parameters', onOutOfMemory: () => owned.forEach((b) => b.destroy()) },
    () => {
      const embedPieces = vocabRows('model.embed_tokens.weight');
      const zerosD = storage('zeros (no bias)', new Float32Array(d));
      const zerosQkv = c.qkvBias ? null : storage('zeros (no q/k/v bias)', new Float32Array(qkvWidth));
      for (let i = 0; i < layers; i++) {
        const n = layerNames(i);
        const p = `model.layers.${i}`;
        byName.set(n.norm1, storage(n.norm1, f32(n.norm1)));
        const proj = (m: string) => f32(`${p}.self_attn.${m}_proj.weight`);
        byName.set(n.qkv, matrix(`${n.qkv} (q | k | v rows)`, stack([proj('q'), proj('k'), proj('v')])));
        const bias = (m: string) => f32(`${p}.self_attn.${m}_proj.bias`);
        byName.set(n.qkvBias, zerosQkv ?? storage(`${n.qkvBias} (q | k | v)`, stack([bias('q'), bias('k'), bias('v')])));
        byName.set(n.o, matrix(n.o, f32(n.o)));
        byName.set(n.oBias, c.oBias ? storage(n.oBias, f32(n.oBias)) : zerosD);
        byName.set(n.norm2, storage(n.norm2, f32(n.norm2)));
        byName.set(n.gateUp, matrix(`${n.gateUp} (gate | up rows)`, stack([f32(`${p}.mlp.gate_proj.weight`), f32(`${p}.mlp.up_proj.weight`)])));
        byName.set(n.down, matrix(n.down, f32(n.down)));
      }
      byName.set('model.norm.weight', storage('model.norm.weight', f32('model.norm.weight')));
      const headPieces = c.tiedEmbeddings ? embedPieces : vocabRows('lm_head.weight');
      return {
        zerosD,
        embedPieces,
        headPieces,
        // One uniform block per piece: the embedding's rows; the logits' output columns (all rows and the sampled rows).
        embedUniforms: embedPieces.map((_, i) => uniform(`embed params ${i}`, EMBED_LAYOUT.size)),
        logitsTail: headPieces.map((_, i) => uniform(`logits params ${i}`, LINEAR_LAYOUT.size)),
        logitsSample: headPieces.map((_, i) => uniform(`sampled logits params ${i}`, LINEAR_LAYOUT.size)),
        params: uniform('attention params', PARAMS_LAYOUT.size),
        norm: uniform('rms norm params', RMS_NORM_LAYOUT.size),
        rope: uniform('rope params', ROPE_LAYOUT.size),
        repeat: uniform('repeat kv params', REPEAT_KV_LAYOUT.size),
        swiglu: uniform('swiglu params', LINEAR_LAYOUT.size),
        chunk: uniform('fused chunk', CHUNK_LAYOUT.size),
        grid: uniform('reduced map params', GRID_PARAMS_LAYOUT.size),
        pairs: uniform('pair weights params', PAIR_LAYOUT.size),
        linear: new Map(linearShapes.map(([inDim, outDim]) => [linearKey(inDim, outDim), uniform(`linear ${inDim}→${outDim} params`, LINEAR_LAYOUT.size)])),
      };
    },
  );
  const invFreq = ropeInverseFrequencies(c);
  // The cos/sin table for positions 0…T−1 of the current length (shaders/rope.wgsl finds the
  // sines after `rows` cosines, so the table holds exactly T rows); its buffer grows with the
  // longest run so far, and `version` counts new buffers (bind groups name it).
  let table: { buffer: GPUBuffer; rows: number; capacity: number; version: number } | null = null;
  const tableFor = (T: number): { buffer: GPUBuffer; version: number } => {
    if (table === null || table.rows !== T) {
      const data = ropeTable(invFreq, T);
      if (table === null || table.capacity < data.byteLength) {
        table?.buffer.destroy();
        const capacity = Math.max(data.byteLength, 2 * (table?.capacity ?? 0));
        const buffer = device.createBuffer({ label: 'llama/rope table', size: capacity, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
        table = { buffer, rows: T, capacity, version: (table?.version ?? 0) + 1 };
      }
      device.queue.writeBuffer(table.buffer, 0, data);
      table.rows = T;
    }
    return table;
  };
  /** Runs whose every layer kept its own q | k | v (maps, or fused with sampled rows). */
  const keysKept = new WeakSet<GpuModelBuffers>();
  const runner = createRunner<string, GpuModelBuffers>(device, {
    prefix: 'llama',
    kind: 'GpuModel',
    runName: 'model run',
    cleanup: () => {
      owned.forEach((b) => b.destroy());
      table?.buffer.destroy();
    },
  });

  async function runNow<H extends boolean>(tokens: readonly number[], options: GpuModelRunOptions<H>): Promise<GpuModelResult & HoldResult<H, GpuModelBuffers>> {
    checkTokens(c, tokens);
    const { wanted, keep } = checkRunOptions(options);
    runner.checkAlive();
    runner.checkAbort(options.signal);
    const T = tokens.length;
    const shape: ResolvedShape = { seqLen: T, kvLen: T, dModel: d, heads, dHead: hd, causal: true, width };
    const maxGroups = device.limits.maxComputeWorkgroupsPerDimension;
    const dims = attentionDims(shape, tuning, maxGroups);
    const rows: Dims = [Math.ceil(T / 64), 1, 1];
    const rope = ropeUniform({ rows: T, headDim: hd, qHeads: heads, kvHeads, qOffset: 0, kOffset: width, qStride: qkvWidth, kStride: qkvWidth });
    const fusedRun = (options.attention ?? 'maps') === 'fused';
    const logitsFrom = options.logitsFrom ?? 0;
    if (!Number.isInteger(logitsFrom) || logitsFrom < 0 || logitsFrom >= T) throw new AttentionInputError('logitsFrom', String(logitsFrom), `an integer from 0 to ${T - 1} (the first row whose logits are computed)`, 'shape');
    const logitRows = T - logitsFrom;
    const all: Record<string, Dims> = {
      // The map kernels' dispatches only where they run.
      ...(fusedRun ? {} : dims),
      qkvLinear: linear.dims(T, qkvWidth),
      gateUp: linear.dims(T, 2 * dMlp),
      logits: linear.dims(logitRows, vocabSize),
      embed: flatDims(T * d),
      swiglu: flatDims(T * dMlp),
      repeat: flatDims(T * width, 3),
      rope: rope.dims,
    };
    checkDims(all, maxGroups);
    const kOffset = align64(T * width);
    const vOffset = kOffset + align64(T * width);
    const fused = (options.attention ?? 'maps') === 'fused';
    const reduce = fused ? options.reduce : undefined;
    if (reduce !== undefined) {
      for (const [field, value] of [['reduce.rows', reduce.rows], ['reduce.cols', reduce.cols]] as const) {
        if (!Number.isInteger(value) || value < 1 || value > Math.min(T, FLASH_MAX_GRID_SIDE)) throw new AttentionInputError(field, String(value), `an integer from 1 to ${Math.min(T, FLASH_MAX_GRID_SIDE)}`, 'shape');
      }
      if (reduce.mode !== 'max' && reduce.mode !== 'mean') throw new AttentionInputError('reduce.mode', JSON.stringify(reduce.mode), "'max' or 'mean'", 'type');
    }
    // Single weights of every layer, recomputed after its fused pass (checkRunOptions refuses them with maps).
    const pairs = options.weightsAt === undefined ? null : checkWeightPairs(options.weightsAt, T);
    const nPairs = pairs === null ? 0 : pairs.length / 2;
    if (fused && hd > FLASH_MAX_DHEAD) throw new AttentionInputError('headDim', String(hd), `at most ${FLASH_MAX_DHEAD} on the fused path`, 'too-large');
    const sampleRows = options.sampleRows === undefined ? null : [...options.sampleRows];
    if (sampleRows !== null) {
      const allowed = `ascending distinct integers from 0 to ${T - 1}, at least one`;
      if (sampleRows.length === 0) throw new AttentionInputError('sampleRows', 'an empty list', allowed, 'shape');
      sampleRows.forEach((r, i) => {
        if (!Number.isInteger(r) || r < 0 || r >= T || (i > 0 && r <= sampleRows[i - 1])) throw new AttentionInputError(`sampleRows[${i}]`, String(r), allowed, 'shape');
      });
    }
    // The sample buffer: embed rows, then per layer q, attn, resid1, resid2 rows, then logits rows.
    const nSample = sampleRows?.length ?? 0;
    const perLayerSample = nSample * (2 * width + 2 * d);
    const sampleAt = { embed: 0, layer: (l: number) => nSample * d + l * perLayerSample, logits: nSample * d + layers * perLayerSample };
    const sampleFloats = sampleAt.logits + nSample * vocabSize;
    const bytes = {
      act: 4 * T * d,
      pre: 4 * T * qkvWidth,
      qkv: 4 * (vOffset + T * width),
      // The fused path stores no map: its scratch slots stay 16 bytes.
      map: fused ? 16 : 4 * heads * T * T,
      attn: 4 * T * width,
      gateUp: 4 * T * 2 * dMlp,
      mlp: 4 * T * dMlp,
      logits: 4 * logitRows * vocabSize,
      // Each row's log-sum-exp, then its entropy (flash.wgsl).
      lse: 8 * heads * T,
      rowEntropy: options.rowEntropy === true ? 4 * layers * heads * T : 16,
      grid: reduce ? 4 * heads * reduce.rows * reduce.cols : 16,
      sample: Math.max(16, 4 * sampleFloats),
      pairs: 4 * Math.max(4, 2 * nPairs),
      weightsAt: 4 * Math.max(4, layers * heads * nPairs),
    };
    for (const [field, size] of Object.entries(bytes)) checkStorageSize(device, field, size);
    // The fused kernel's submissions (query blocks) and the reduced maps' (grid rows), per layer.
    // The fused kernels compile on the first fused run (each pipeline costs seconds on a software adapter; cached per device).
    const fusedK = fused
      ? {
          attention: await fusedAttentionKernel(device, hd, tuning.fused ?? 'loop', FUSED_WORKGROUP),
          reduce: await fusedReduceKernel(device, hd, tuning.fused ?? 'loop'),
          pairs: pairs ? await getKernel(device, { label: 'llama/pair weights', source: kernelSource('pairWeights'), bindings: LLAMA_BINDINGS.pairWeights }) : null,
        }
      : null;
    if (pairs) checkDims({ pairWeights: [Math.ceil(nPairs / 64), heads, 1] }, maxGroups);
    const split = fusedChunks(shape, { blockRows: fusedK?.attention.blockRows ?? 2 * FUSED_WORKGROUP, chunkWork, minChunkGroups: chunkPolicy.minChunkGroups, maxPerDimension: maxGroups });
    const gridChunks = reduce ? reducedMapChunks(shape, reduce.rows, reduce.cols, chunkWork) : [];
    if (fused) checkDims({ fused: [split.blocksPerChunk, heads, 1] }, maxGroups);

    const set = runner.beginRun();
    const start = performance.now();
    const want = new Set<string>(wanted);
    // A per-layer tensor gets its own slot when it is read back or drawn (q | k | v, the
    // weights unless keep 'none', attn); the rest alternate between two scratch slots, so a
    // layer never reads the slot it writes. On the fused path q | k | v and attn are drawn from
    // nothing (the grids are read back), so they too share scratch slots unless read.
    const slot = (i: number, name: ModelLayerTensor | 'pre' | 'gateUp' | 'qkv' | 'lse', drawn = false) => (drawn || want.has(name) ? `h.${i}/${name}` : `scratch/${name}${i % 2}`);
    const sampleBuffer = sampleRows ? set.ensure('sample', bytes.sample) : null;
    /** Copy the sampled rows of `src` (rows of `rowWidth` floats from element `from`) to the sample buffer at `at`. */
    const copyRows = (src: GPUBuffer, from: number, rowWidth: number, at: number) => {
      if (!sampleRows || !sampleBuffer) return;
      sampleRows.forEach((r, i) => encoder.copyBufferToBuffer(src, 4 * (from + r * rowWidth), sampleBuffer, 4 * (at + i * rowWidth), 4 * rowWidth));
    };
    const layerBuffers: GpuModelBuffers['layers'] = [];
    const grids: GPUBuffer[] = [];
    const read = new Map<string, GPUBuffer>();
    const q = device.queue;
    const oom = { what: 'the model run', buffers: 'the model activations', onOutOfMemory: () => runner.freeUnheld(), advice: runner.holdAdvice() };
    // Uniforms and the tokens, written once per run.
    const rot = await scoped(device, oom, () => {
      q.writeBuffer(
        weights.params,
        0,
        packUniform(PARAMS_LAYOUT, { seqLen: T, kvLen: T, dModel: d, heads, dHead: hd, width, causal: 1, xKVOffset: 0, kOffset, vOffset, scale: 1 / Math.sqrt(hd), rows: heads * T }),
      );
      weights.embedPieces.forEach((piece, i) => q.writeBuffer(weights.embedUniforms[i], 0, packUniform(EMBED_LAYOUT, { seqLen: T, dModel: d, firstRow: piece.firstRow, rowCount: piece.rows })));
      q.writeBuffer(weights.norm, 0, packRows(RMS_NORM_LAYOUT, { rows: T, inDim: d, outDim: d, eps: c.rmsNormEps }));
      q.writeBuffer(weights.rope, 0, rope.params);
      q.writeBuffer(weights.repeat, 0, packUniform(REPEAT_KV_LAYOUT, { rows: T, headDim: hd, heads, kvHeads, kOffset, vOffset }));
      q.writeBuffer(weights.swiglu, 0, packRows(LINEAR_LAYOUT, { rows: T, inDim: 2 * dMlp, outDim: dMlp }));
      for (const [key, buffer] of weights.linear) {
        const [inDim, outDim] = key.split('→').map(Number);
        q.writeBuffer(buffer, 0, packRows(LINEAR_LAYOUT, { rows: T, inDim, outDim }));
      }
      weights.headPieces.forEach((piece, i) => {
        const columns = { inDim: d, outDim: piece.rows, outStride: vocabSize, outOffset: piece.firstRow };
        q.writeBuffer(weights.logitsTail[i], 0, packRows(LINEAR_LAYOUT, { rows: logitRows, ...columns }));
        if (sampleRows) q.writeBuffer(weights.logitsSample[i], 0, packRows(LINEAR_LAYOUT, { rows: sampleRows.length, ...columns }));
      });
      q.writeBuffer(set.ensure('tokens', 4 * T), 0, Uint32Array.from(tokens));
      return tableFor(T);
    });
    const tokensBuffer = set.ensure('tokens', 4 * T);
    const param = (name: string) => byName.get(name)!;
    const lin = (inDim: number, outDim: number) => weights.linear.get(linearKey(inDim, outDim))!;
    const { biasT, residualT, logits: storeT } = linear.kernels;
    // Bind groups are cached in the set by key: which slots a pass binds depends on what the
    // run reads, keeps and how it attends (and the rope table on its length), so those are part of the key.
    const variant = `${[...want].sort().join(',')}|${keep}|${fused ? 'fused' : 'maps'}${sampleRows ? ' sampled' : ''}${logitsFrom > 0 ? ' tail' : ''}|table ${rot.version}`;
    let encoder: GPUCommandEncoder = device.createCommandEncoder({ label: 'llama run' });
    const pass = (kernel: Kernel, bound: GPUBuffer[], size: readonly number[], label: string) =>
      encodePass(encoder, kernel, set.bind(`${label} [${variant}]`, kernel, bound), size, { label });
    const out = (i: number, name: ModelLayerTensor, size: number, drawn = false) => {
      const buffer = set.ensure(slot(i, name, drawn), size);
      if (want.has(name)) read.set(`${i}/${name}`, buffer);
      return buffer;
    };
    const mapsLabel = keep === 'all' ? '' : `(scratch ${keep === 'none' ? 'maps' : 'scores'})`;

    const embedOut = set.ensure('embed', bytes.act);
    read.set('embed', embedOut);
    /** The residual stream entering the next layer (the embedding, then each layer's resid2). */
    let x = embedOut;
    const embed = () => {
      // One dispatch per piece of the table; each writes the tokens whose rows it holds.
      weights.embedPieces.forEach(({ buffer }, p) => pass(embedK, [weights.embedUniforms[p], tokensBuffer, buffer, buffer, embedOut], all.embed, p === 0 ? 'llama/embed' : `llama/embed ${p}`));
      copyRows(embedOut, 0, d, sampleAt.embed);
    };
    /** RMSNorm, the stacked projection, RoPE and the re-layout: layer i's packed q | k | v. */
    const beforeAttention = (i: number): GPUBuffer => {
      const n = layerNames(i);
      const label = `llama/h.${i}`;
      const h1 = out(i, 'ln1', bytes.act);
      pass(rmsK, [weights.norm, x, param(n.norm1), h1], rows, `${label}/rms 1`);
      const pre = set.ensure(slot(i, 'pre'), bytes.pre);
      pass(biasT, [lin(d, qkvWidth), h1, param(n.qkv), pre, param(n.qkvBias)], all.qkvLinear, `${label}/qkv`);
      pass(ropeK, [weights.rope, rot.buffer, pre], rope.dims, `${label}/rope`);
      // Every layer keeps its own q | k | v where the scene draws from it (maps) or a check reads its keys later (sampled rows).
      const qkv = set.ensure(slot(i, 'qkv', !fused || sampleRows !== null), bytes.qkv);
      for (const name of ['q', 'k', 'v'] as const) if (want.has(name)) read.set(`${i}/${name}`, qkv);
      pass(repeatK, [weights.repeat, pre, qkv], all.repeat, `${label}/repeat kv`);
      copyRows(qkv, 0, width, sampleAt.layer(i));
      return qkv;
    };
    /** o_proj and the MLP of layer i, from its attention output. */
    const afterAttention = (i: number, attn: GPUBuffer) => {
      const n = layerNames(i);
      const label = `llama/h.${i}`;
      const resid1 = out(i, 'resid1', bytes.act);
      copyRows(attn, 0, width, sampleAt.layer(i) + nSample * width);
      pass(residualT, [lin(width, d), attn, param(n.o), resid1, param(n.oBias), x], linear.dims(T, d), `${label}/o`);
      copyRows(resid1, 0, d, sampleAt.layer(i) + 2 * nSample * width);
      const h2 = out(i, 'ln2', bytes.act);
      pass(rmsK, [weights.norm, resid1, param(n.norm2), h2], rows, `${label}/rms 2`);
      const gateUp = set.ensure(slot(i, 'gateUp'), bytes.gateUp);
      pass(storeT, [lin(d, 2 * dMlp), h2, param(n.gateUp), gateUp], all.gateUp, `${label}/gate up`);
      const act = out(i, 'mlpAct', bytes.mlp);
      pass(swigluK, [weights.swiglu, gateUp, act], all.swiglu, `${label}/swiglu`);
      const resid2 = out(i, 'resid2', bytes.act);
      pass(residualT, [lin(dMlp, d), act, param(n.down), resid2, weights.zerosD, resid1], linear.dims(T, d), `${label}/down`);
      copyRows(resid2, 0, d, sampleAt.layer(i) + 2 * nSample * width + nSample * d);
      x = resid2;
    };
    const final = () => {
      const lnF = set.ensure('lnF', bytes.act);
      if (want.has('lnF')) read.set('lnF', lnF);
      pass(rmsK, [weights.norm, x, param('model.norm.weight'), lnF], rows, 'llama/norm');
      const logits = set.ensure('logits', bytes.logits);
      read.set('logits', logits);
      // The last rows only past logitsFrom: their normed rows copied out first (a binding offset would need 256-byte alignment).
      let rowsIn = lnF;
      if (logitsFrom > 0) {
        rowsIn = set.ensure('lnF tail', 4 * logitRows * d);
        encoder.copyBufferToBuffer(lnF, 4 * logitsFrom * d, rowsIn, 0, 4 * logitRows * d);
      }
      // One dispatch per piece of lm_head (the embedding when tied), each writing its band of columns.
      weights.headPieces.forEach(({ buffer, rows: n }, p) => pass(storeT, [weights.logitsTail[p], rowsIn, buffer, logits], linear.dims(logitRows, n), p === 0 ? 'llama/logits' : `llama/logits ${p}`));
      if (sampleRows && sampleBuffer) {
        // The sampled rows' own logits, whatever logitsFrom: their normed rows, then one small product.
        const sampled = set.ensure('lnF sample', 4 * nSample * d);
        sampleRows.forEach((r, i) => encoder.copyBufferToBuffer(lnF, 4 * r * d, sampled, 4 * i * d, 4 * d));
        const sampleLogits = set.ensure('sample logits', 4 * nSample * vocabSize);
        weights.headPieces.forEach(({ buffer, rows: n }, p) => pass(storeT, [weights.logitsSample[p], sampled, buffer, sampleLogits], linear.dims(nSample, n), `llama/sample logits ${p}`));
        encoder.copyBufferToBuffer(sampleLogits, 0, sampleBuffer, 4 * sampleAt.logits, 4 * nSample * vocabSize);
      }
    };
    const submit = () => {
      q.submit([encoder.finish()]);
      encoder = device.createCommandEncoder({ label: 'llama run' });
    };

    if (!fused) {
      await scoped(device, oom, () => {
        embed();
        for (let i = 0; i < layers; i++) {
          const qkv = beforeAttention(i);
          const label = `llama/h.${i}`;
          const scores = keep === 'all' ? out(i, 'scores', bytes.map, true) : set.ensure('scratch/scores', bytes.map);
          const maps = keep === 'none' ? set.ensure('scratch/weights', bytes.map) : out(i, 'weights', bytes.map, true);
          const attn = out(i, 'attn', bytes.attn, true);
          pass(scoresK, [weights.params, qkv, scores], dims.scores, `${label}/scores${mapsLabel}`);
          pass(softmaxK, [weights.params, scores, maps], dims.softmax, `${label}/softmax${mapsLabel}`);
          pass(outputK, [weights.params, qkv, maps, attn], dims.output, `${label}/output${mapsLabel}`);
          afterAttention(i, attn);
          layerBuffers.push({ qkv, kOffset, vOffset, scores, weights: maps, attn });
        }
        final();
        runner.checkAbort(options.signal);
        submit();
      });
    } else {
      // Every layer's attention through the fused kernel, in submissions of about chunkWork
      // multiply-adds (and its reduced map in as many), each awaited: progress is reported and a
      // cancel takes effect between them. The rest of a layer rides with the next submission.
      const total = layers * (split.chunks.length + gridChunks.length);
      let done = 0;
      const between = async () => {
        await q.onSubmittedWorkDone();
        await new Promise((resolve) => setTimeout(resolve, 0));
        runner.checkAlive();
        runner.checkAbort(options.signal);
        options.onProgress?.(++done, total);
      };
      let attnBefore: GPUBuffer | null = null;
      const pairsBuffer = pairs ? set.ensure('pairs', bytes.pairs) : null;
      const pairsOut = pairs ? set.ensure('weightsAt', bytes.weightsAt) : null;
      if (pairs && pairsBuffer && pairsOut) {
        q.writeBuffer(pairsBuffer, 0, pairs);
        read.set('weightsAt', pairsOut);
      }
      const entropyOut = options.rowEntropy === true ? set.ensure('rowEntropy', bytes.rowEntropy) : null;
      if (entropyOut) read.set('rowEntropy', entropyOut);
      for (let i = 0; i < layers; i++) {
        const label = `llama/h.${i}`;
        const lse = set.ensure(slot(i, 'lse'), bytes.lse);
        const attn = out(i, 'attn', bytes.attn);
        const qkv = await scoped(device, oom, () => {
          if (i === 0) embed();
          else afterAttention(i - 1, attnBefore!);
          const qkv = beforeAttention(i);
          submit();
          return qkv;
        });
        for (const [first, count] of split.chunks) {
          await scoped(device, oom, () => {
            q.writeBuffer(weights.chunk, 0, packUniform(CHUNK_LAYOUT, { firstBlock: first }));
            pass(fusedK!.attention.kernel, [weights.params, qkv, attn, lse, weights.chunk], [count, heads, 1], `${label}/fused ${fusedK!.attention.variant}`);
            submit();
          });
          await between();
        }
        if (reduce) {
          const grid = set.ensure(`h.${i}/grid`, bytes.grid);
          grids.push(grid);
          for (const { firstRow, dims: gridDims } of gridChunks) {
            await scoped(device, oom, () => {
              q.writeBuffer(weights.grid, 0, packUniform(GRID_PARAMS_LAYOUT, { rows: reduce.rows, cols: reduce.cols, mode: reduce.mode === 'max' ? 0 : 1, firstRow }));
              pass(fusedK!.reduce, [weights.params, qkv, lse, grid, weights.grid], gridDims, `${label}/reduce`);
              submit();
            });
            await between();
          }
        }
        if (pairs && pairsBuffer && pairsOut) {
          // This layer's entries, while its log-sum-exps are still in their slot (the next layer but one reuses it).
          await scoped(device, oom, () => {
            q.writeBuffer(weights.pairs, 0, packUniform(PAIR_LAYOUT, { count: nPairs, outBase: i * heads * nPairs }));
            pass(fusedK!.pairs!, [weights.params, qkv, lse, pairsBuffer, pairsOut, weights.pairs], [Math.ceil(nPairs / 64), heads, 1], `${label}/pair weights`);
            submit();
          });
        }
        if (entropyOut) {
          // This layer's row entropies, out of its log-sum-exp slot before a later layer reuses it.
          await scoped(device, oom, () => {
            encoder.copyBufferToBuffer(lse, 4 * heads * T, entropyOut, 4 * i * heads * T, 4 * heads * T);
            submit();
          });
        }
        layerBuffers.push({ qkv, kOffset, vOffset, scores: attn, weights: attn, attn });
        attnBefore = attn;
      }
      await scoped(device, oom, () => {
        afterAttention(layers - 1, attnBefore!);
        final();
        runner.checkAbort(options.signal);
        submit();
      });
    }

    const lengths: Record<ModelLayerTensor, number> = {
      ln1: T * d,
      q: T * width,
      k: T * width,
      v: T * width,
      scores: heads * T * T,
      weights: heads * T * T,
      attn: T * width,
      resid1: T * d,
      ln2: T * d,
      mlpAct: T * dMlp,
      resid2: T * d,
    };
    const ranges: Array<readonly [GPUBuffer, number, number]> = [];
    const places: Array<(array: Float32Array, result: GpuModelResult) => void> = [];
    for (const name of wanted) {
      if (name === 'embed' || name === 'lnF' || name === 'logits') {
        ranges.push([read.get(name)!, 0, name === 'logits' ? logitRows * vocabSize : T * d]);
        places.push((array, result) => {
          result[name] = array;
        });
        continue;
      }
      for (let i = 0; i < layers; i++) {
        const offset = name === 'k' ? kOffset : name === 'v' ? vOffset : 0;
        ranges.push([read.get(`${i}/${name}`)!, offset, lengths[name]]);
        places.push((array, result) => {
          result.layers[i][name] = array;
        });
      }
    }
    if (sampleRows && sampleBuffer) {
      ranges.push([sampleBuffer, 0, sampleFloats]);
      places.push((array, result) => {
        const cut = (at: number, w: number) => array.slice(at, at + nSample * w);
        result.sample = {
          rows: sampleRows,
          embed: cut(sampleAt.embed, d),
          layers: Array.from({ length: layers }, (_, l) => {
            const at = sampleAt.layer(l);
            return { q: cut(at, width), attn: cut(at + nSample * width, width), resid1: cut(at + 2 * nSample * width, d), resid2: cut(at + 2 * nSample * width + nSample * d, d) };
          }),
          logits: cut(sampleAt.logits, vocabSize),
        };
      });
    }
    if (read.has('rowEntropy')) {
      ranges.push([read.get('rowEntropy')!, 0, layers * heads * T]);
      places.push((array, result) => {
        result.rowEntropy = Array.from({ length: layers }, (_, l) => array.slice(l * heads * T, (l + 1) * heads * T));
      });
    }
    if (pairs) {
      ranges.push([read.get('weightsAt')!, 0, layers * heads * nPairs]);
      places.push((array, result) => {
        result.weightsAt = Array.from({ length: layers }, (_, l) => array.slice(l * heads * nPairs, (l + 1) * heads * nPairs));
      });
    }
    if (reduce) {
      grids.forEach((grid, i) => {
        ranges.push([grid, 0, heads * reduce.rows * reduce.cols]);
        places.push((array, result) => {
          (result.grids ??= [])[i] = array;
        });
      });
    }
    let gpuMs: number;
    let arrays: Float32Array[];
    try {
      await device.queue.onSubmittedWorkDone();
      gpuMs = performance.now() - start;
      runner.checkAbort(options.signal);
      arrays = await readFloats(device, ranges, 'llama/results');
    } catch (error) {
      throw loss.explain(error);
    }
    const result: GpuModelResult = { seqLen: T, layers: Array.from({ length: layers }, () => ({})), gpuMs, ...(logitsFrom > 0 ? { logitsFrom } : {}) };
    arrays.forEach((array, i) => places[i](array, result));
    const shown: GpuModelBuffers = { seqLen: T, layers: layerBuffers, logits: read.get('logits')!, generation: set.generation, keep, ...(fused ? { attention: 'fused' as const } : {}) };
    if (!fused || sampleRows !== null) keysKept.add(shown);
    return { ...result, ...runner.finishRun(set, shown, options.hold) };
  }

  return {
    device,
    config: c,
    weights: format,
    pieces: new Map(
      [
        ['model.embed_tokens.weight', weights.embedPieces.length],
        ['lm_head.weight', c.tiedEmbeddings ? 0 : weights.headPieces.length],
      ].filter(([, n]) => (n as number) > 1) as Array<[string, number]>,
    ),
    run<H extends boolean = false>(tokens: readonly number[], options: GpuModelRunOptions<H> = {}) {
      return runner.enqueue(() => runNow(tokens, options));
    },
    readKeysValues(layer, from) {
      return runner.enqueue(async () => {
        const { buffers: current } = runner.readable('keys and values', from);
        if (!Number.isInteger(layer) || layer < 0 || layer >= layers) throw new AttentionInputError('layer', String(layer), `an integer from 0 to ${layers - 1}`, 'shape');
        if (!keysKept.has(current)) {
          throw new AttentionInputError('from', 'a fused run without sampleRows', "a run with maps, or a fused run given sampleRows (only those keep every layer's keys)", 'type');
        }
        const b = current.layers[layer];
        const n = current.seqLen * width;
        const [k, v] = await readFloats(device, [[b.qkv, b.kOffset, n], [b.qkv, b.vOffset, n]], 'llama/keys and values').catch((error: unknown) => Promise.reject(loss.explain(error)));
        return { k, v };
      });
    },
    buffers: () => runner.last(),
    get bufferSets() {
      return runner.sets;
    },
    destroy: () => runner.destroy(),
  };
}
