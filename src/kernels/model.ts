/**
 * The whole forward pass of the project's GPT-2-style model (src/model/forward.ts) on WebGPU,
 * encoded by walking the model's forward plan (src/model/plan.ts), one switch from op to kernel:
 * embedding, then per block LN1 → Q, K, V with c_attn's bias (the attention projections kernel,
 * bias variant) → causal scores → softmax → P·V (the attention kernels themselves, with the
 * device's tuning) → c_proj + bias + residual → LN2 → c_fc + bias + GELU → c_proj + bias +
 * residual; then ln_f and the logits x·wteᵀ (or x·lm_headᵀ, untied). Everything stays on the device
 * between kernels; one submission per run; only what is asked for is read back.
 *
 * The config and the parameters come in as plain data ({@link GpuModelConfig} has GptConfig's
 * fields; the parameters are a Map by GPT-2 name, as GptParams) and are checked against the
 * model's schema (src/model/schema.ts; it and plan.ts are the parts of src/model the kernels may import).
 *
 * Results use the layouts of GptTrace (src/model/forward-reference.ts): q, k, v, attn seqLen × dModel with
 * the heads side by side; scores and weights heads × seqLen × seqLen (−∞ and 0 where masked);
 * logits seqLen × vocabSize.
 */
import { AttentionError, AttentionInputError } from '../core/errors';
import type { ModelConfig, ResolvedShape } from '../core/types';
import { checkStorageSize } from '../gpu/buffers';
import { scoped, watchLoss } from '../gpu/guard';
import { encodePass, getKernel, type BindingKind, type Kernel } from '../gpu/pipeline';
import { readFloats } from '../gpu/readback';
import { createRunner, type HoldResult } from '../gpu/runner';
import { align64, checkRunOptions, checkTokens, checkWeightFormat, type GpuModelOptions, type GpuModel, type GpuModelBuffers, type GpuModelResult, type GpuModelRunOptions, type ModelLayerTensor } from './model-run';
import { packUniform } from '../gpu/uniforms';
import { BINDINGS, checkTuning, coreKernels } from './attention';
import { attentionDims, checkDims, flatDims, type Dims } from './launch';
import { createLinearKernels } from './model-linear';
import { EMBED_LAYOUT, LAYER_NORM_LAYOUT, LINEAR_LAYOUT, linearKey, packRows, uploadModelWeights } from './model-weights';
import { PARAMS_LAYOUT } from './packing';
import { kernelSource } from './shaders';
import { forwardPlan, layerTensor, PLAN_LAYER_NORM_EPS, type PlanStep } from '../model/plan';
import { checkModelParams, validateConfig } from '../model/schema';
import { tuningFor, type AttentionTuning } from './tuning';
import { createGpuLlamaModel, isLlamaConfig, type GpuLlamaModel } from './llama-model';
import type { LlamaConfig } from '../model/llama-schema';

/** The model's sizes (the GptConfig of src/model/schema.ts). */
export type GpuModelConfig = ModelConfig;

export * from './model-run';

/** The parameters by GPT-2 name and shape (as GptParams: `wte.weight`, `h.0.attn.c_attn.weight`, …). */
export type GpuModelParams = ReadonlyMap<string, Float32Array | Float64Array>;

/** LayerNorm's ε, as GPT-2 (the plan's, and src/model/layers.ts's LAYER_NORM_EPS): one uniform block serves every LayerNorm step. */
const LAYER_NORM_EPS = PLAN_LAYER_NORM_EPS;

/** A forward plan this runner cannot encode (a step reading a tensor no earlier step wrote, an op without a kernel): a bug, not an input. */
export class ModelPlanError extends AttentionError {
  override name = 'ModelPlanError';
}
function planError(problem: string): never {
  throw new ModelPlanError(`The model's forward plan ${problem}.`);
}

export { EMBED_LAYOUT, LAYER_NORM_LAYOUT, LINEAR_LAYOUT, packRows } from './model-weights';

const RO: BindingKind = 'read-only-storage';
const MODEL_BINDINGS = {
  embed: ['uniform', RO, RO, RO, 'storage'],
  layerNorm: ['uniform', RO, RO, RO, 'storage'],
  projectionsBias: [...BINDINGS.projections, RO],
} satisfies Record<string, readonly BindingKind[]>;

/**
 * Upload the parameters once and compile the kernels (the attention kernels with the device's
 * tuning, as createGpuAttention). A GPT-2-family config (GpuModelConfig: parameters by GPT-2
 * name) runs here; a Llama-family config (LlamaConfig, parameters by their Hugging Face names)
 * runs in src/kernels/llama-model.ts. Throws AttentionInputError for a bad config or parameters.
 */
export async function createGpuModel(device: GPUDevice, config: LlamaConfig, params: GpuModelParams, tuning?: AttentionTuning, options?: GpuModelOptions): Promise<GpuLlamaModel>;
export async function createGpuModel(device: GPUDevice, config: GpuModelConfig, params: GpuModelParams, tuning?: AttentionTuning, options?: GpuModelOptions): Promise<GpuModel>;
export async function createGpuModel(
  device: GPUDevice,
  config: GpuModelConfig | LlamaConfig,
  params: GpuModelParams,
  tuning: AttentionTuning = tuningFor(device),
  options: GpuModelOptions = {},
): Promise<GpuModel | GpuLlamaModel> {
  // A Llama-family config (it names its architecture: model_type llama or qwen2) has its own runner.
  if (isLlamaConfig(config)) return createGpuLlamaModel(device, config, params, tuning, options);
  if (checkWeightFormat(options.weights) !== 'f32') {
    throw new AttentionInputError('options.weights', JSON.stringify(options.weights), "'f32' for a GPT-2-family model (16-bit weights are kept for the Llama family only)", 'type');
  }
  const c = validateConfig(config);
  checkModelParams(c, params, { finite: true });
  checkTuning(device, tuning);
  const { dModel: d, dMlp, heads, vocabSize } = c;
  const dHead = d / heads;
  // Watched from the start, so a loss while the kernels compile is reported as the loss.
  const loss = watchLoss(device);

  const [wgX, wgY] = tuning.matmulWorkgroup;
  const lanes = tuning.laneTiles;
  // The attention core only (scores, softmax, this head size's output): the model has its own projections.
  const core = coreKernels(device, tuning);
  const [scoresK, softmaxK, outputKernel, projections, embedK, layerNormK, linearKernels] = await Promise.all([
    core.scores,
    core.softmax,
    core.output(dHead),
    lanes
      ? getKernel(device, { label: 'model/projections bias lanes', source: kernelSource('projectionsLanesBias', lanes.projections), bindings: MODEL_BINDINGS.projectionsBias })
      : getKernel(device, { label: 'model/projections bias', source: kernelSource('projectionsBias'), constants: { WG_X: wgX, WG_Y: wgY }, bindings: MODEL_BINDINGS.projectionsBias }),
    getKernel(device, { label: 'model/embed', source: kernelSource('embed'), bindings: MODEL_BINDINGS.embed }),
    getKernel(device, { label: 'model/layer norm', source: kernelSource('layerNorm'), bindings: MODEL_BINDINGS.layerNorm }),
    createLinearKernels(device, tuning),
  ]);
  const { linear: linearK, gelu: geluK, residual: residualK, logits: logitsK } = linearKernels;
  loss.check();
  const { byName, uniforms, linearUniforms, owned } = await uploadModelWeights(device, c, params);
  // The order of operations: the model's forward plan (src/model/plan.ts), walked by each run.
  const plan = forwardPlan(c);
  // Activations: slots of the run's buffer set (global ones, and `h.${i}/…` per layer), grown
  // with the sequence and reused between runs unless a run is held.
  const runner = createRunner<string, GpuModelBuffers>(device, { prefix: 'model', kind: 'GpuModel', runName: 'model run', cleanup: () => owned.forEach((b) => b.destroy()) });

  async function runNow<H extends boolean>(tokens: readonly number[], options: GpuModelRunOptions<H>): Promise<GpuModelResult & HoldResult<H, GpuModelBuffers>> {
    checkTokens(c, tokens);
    const { wanted, keep } = checkRunOptions(options);
    if (options.attention === 'fused') {
      throw new AttentionInputError('attention', "'fused'", "'maps' for a GPT-2-family model (the fused path runs the Llama family's models so far; GPT-2's maps fit at its 1024-token context)", 'type');
    }
    runner.checkAlive();
    runner.checkAbort(options.signal);
    const T = tokens.length;
    const shape: ResolvedShape = { seqLen: T, kvLen: T, dModel: d, heads, dHead, causal: true, width: d };
    const maxGroups = device.limits.maxComputeWorkgroupsPerDimension;
    const dims = attentionDims(shape, tuning, maxGroups);
    const linearDims = linearKernels.dims;
    const rowDims: Dims = [Math.ceil(T / 64), 1, 1];
    const all: Record<string, Dims> = { ...dims, mlp: linearDims(T, dMlp), logits: linearDims(T, vocabSize), embed: flatDims(T * d) };
    checkDims(all, maxGroups);
    const kOffset = align64(T * d);
    const vOffset = kOffset + align64(T * d);
    const bytes = {
      act: 4 * T * d,
      qkv: 4 * (vOffset + T * d),
      map: 4 * heads * T * T,
      mlp: 4 * T * dMlp,
      logits: 4 * T * vocabSize,
    };
    for (const [field, size] of Object.entries(bytes)) checkStorageSize(device, field, size);

    const set = runner.beginRun();
    const start = performance.now();
    const tensors = await scoped(
      device,
      { what: 'the model run', buffers: 'the model activations', onOutOfMemory: () => runner.freeUnheld(), advice: runner.holdAdvice() },
      () => {
        const q = device.queue;
        q.writeBuffer(
          uniforms.params,
          0,
          packUniform(PARAMS_LAYOUT, {
            seqLen: T,
            kvLen: T,
            dModel: d,
            heads,
            dHead,
            width: d,
            causal: 1,
            xKVOffset: 0,
            kOffset,
            vOffset,
            scale: 1 / Math.sqrt(dHead),
            rows: heads * T,
          }),
        );
        q.writeBuffer(uniforms.embed, 0, packUniform(EMBED_LAYOUT, { seqLen: T, dModel: d, firstRow: 0, rowCount: vocabSize }));
        q.writeBuffer(uniforms.layerNorm, 0, packRows(LAYER_NORM_LAYOUT, { rows: T, inDim: d, outDim: d, eps: LAYER_NORM_EPS }));
        for (const [key, buffer] of linearUniforms) {
          const [inDim, outDim] = key.split('→').map(Number);
          q.writeBuffer(buffer, 0, packRows(LINEAR_LAYOUT, { rows: T, inDim, outDim }));
        }
        q.writeBuffer(uniforms.logits, 0, packRows(LINEAR_LAYOUT, { rows: T, inDim: d, outDim: vocabSize }));

        // The plan's tensors: each a slot of the run's buffer set, named as the plan names it
        // (q, k and v of a block share its packed `h.{i}/qkv` slot), grown with the sequence.
        const tensors = new Map<string, GPUBuffer>();
        const output = (step: PlanStep, index: number, bytes: number, slot = step.outputs[index]) => {
          const buffer = set.ensure(slot, bytes);
          tensors.set(step.outputs[index], buffer);
          return buffer;
        };
        const tensor = (name: string) => tensors.get(name) ?? planError(`reads ${name} before any step wrote it`);
        const param = (name: string) => byName.get(name) ?? planError(`reads ${name}, which is not a parameter`);
        tensors.set('tokens', set.ensure('tokens', 4 * T));
        q.writeBuffer(tensors.get('tokens')!, 0, Uint32Array.from(tokens));

        const encoder = device.createCommandEncoder({ label: 'model run' });
        // Bind groups are cached in the set: rebuilt only when one of its buffers was replaced.
        const pass = (kernel: Kernel, bound: GPUBuffer[], size: readonly number[], label: string) =>
          encodePass(encoder, kernel, set.bind(label, kernel, bound), size, { label });
        for (const step of plan) {
          const label = `model/${step.name}`;
          const [p0, p1] = step.params.map(param);
          switch (step.op) {
            case 'embed':
              pass(embedK, [uniforms.embed, tensor(step.inputs[0]), p0, p1, output(step, 0, bytes.act)], all.embed, label);
              break;
            case 'layerNorm':
              if (step.eps !== LAYER_NORM_EPS) planError(`${step.name} has ε ${step.eps}; the runner writes ${LAYER_NORM_EPS}`);
              pass(layerNormK, [uniforms.layerNorm, tensor(step.inputs[0]), p0, p1, output(step, 0, bytes.act)], rowDims, label);
              break;
            case 'qkv': {
              const packed = step.layer === null ? 'qkv' : layerTensor(step.layer, 'qkv');
              const qkv = output(step, 0, bytes.qkv, packed);
              output(step, 1, bytes.qkv, packed);
              output(step, 2, bytes.qkv, packed);
              pass(projections, [uniforms.params, tensor(step.inputs[0]), p0, qkv, p1], dims.projections, label);
              break;
            }
            case 'attention': {
              const qkv = tensor(step.inputs[0]);
              if (step.inputs.some((name) => tensor(name) !== qkv)) planError(`${step.name} reads q, k and v that are not one qkv step's`);
              // keep 'weights': every layer's scores go to one scratch slot (each layer's softmax reads them before the next layer writes).
              const scores = output(step, 0, bytes.map, keep !== 'all' ? 'scores' : step.outputs[0]);
              // keep 'none': the weights too.
              const [weights, attn] = [output(step, 1, bytes.map, keep === 'none' ? 'weights' : step.outputs[1]), output(step, 2, bytes.act)];
              // The bind groups are cached by label: a run's keep is part of it, so one that switches keep binds its own scores buffer.
              const scoresLabel = keep === 'all' ? '' : `(scratch ${keep === 'none' ? 'maps' : 'scores'})`;
              pass(scoresK, [uniforms.params, qkv, scores], dims.scores, `${label}/scores${scoresLabel}`);
              pass(softmaxK, [uniforms.params, scores, weights], dims.softmax, `${label}/softmax${scoresLabel}`);
              pass(outputKernel, [uniforms.params, qkv, weights, attn], dims.output, `${label}/output${scoresLabel}`);
              break;
            }
            case 'linear': {
              const uniform = linearUniforms.get(linearKey(step.inDim, step.outDim)) ?? planError(`${step.name} has a shape the upload made no uniform for`);
              const kernel = step.epilogue === 'gelu' ? geluK : step.epilogue === 'residual' ? residualK : linearK;
              const residual = step.epilogue === 'residual' ? [tensor(step.inputs[1])] : [];
              pass(kernel, [uniform, tensor(step.inputs[0]), p0, output(step, 0, 4 * T * step.outDim), p1, ...residual], linearDims(T, step.outDim), label);
              break;
            }
            case 'logits':
              pass(logitsK, [uniforms.logits, tensor(step.inputs[0]), p0, output(step, 0, bytes.logits)], all.logits, label);
              break;
            default:
              planError(`has an op this runner does not encode: ${(step as { op: string }).op}`);
          }
        }
        runner.checkAbort(options.signal);
        q.submit([encoder.finish()]);
        return tensors;
      },
    );

    const layerLengths: Record<ModelLayerTensor, number> = {
      ln1: T * d,
      q: T * d,
      k: T * d,
      v: T * d,
      scores: heads * T * T,
      weights: heads * T * T,
      attn: T * d,
      resid1: T * d,
      ln2: T * d,
      mlpAct: T * dMlp,
      resid2: T * d,
    };
    const ranges: Array<readonly [GPUBuffer, number, number]> = [];
    const places: Array<(array: Float32Array, result: GpuModelResult) => void> = [];
    for (const name of wanted) {
      if (name === 'embed' || name === 'lnF' || name === 'logits') {
        ranges.push([tensors.get(name)!, 0, name === 'logits' ? T * vocabSize : T * d]);
        places.push((array, result) => {
          result[name] = array;
        });
        continue;
      }
      for (let i = 0; i < c.layers; i++) {
        const offset = name === 'k' ? kOffset : name === 'v' ? vOffset : 0;
        ranges.push([tensors.get(layerTensor(i, name))!, offset, layerLengths[name]]);
        places.push((array, result) => {
          result.layers[i][name] = array;
        });
      }
    }
    let gpuMs: number;
    let arrays: Float32Array[];
    try {
      await device.queue.onSubmittedWorkDone();
      gpuMs = performance.now() - start;
      runner.checkAbort(options.signal);
      arrays = await readFloats(device, ranges, 'model/results');
    } catch (error) {
      throw loss.explain(error);
    }
    const result: GpuModelResult = { seqLen: T, layers: Array.from({ length: c.layers }, () => ({})), gpuMs };
    arrays.forEach((array, i) => places[i](array, result));
    const shown: GpuModelBuffers = {
      seqLen: T,
      layers: Array.from({ length: c.layers }, (_, i) => {
        const at = (name: ModelLayerTensor) => tensors.get(layerTensor(i, name))!;
        return { qkv: at('q'), kOffset, vOffset, scores: at('scores'), weights: at('weights'), attn: at('attn') };
      }),
      logits: tensors.get('logits')!,
      generation: set.generation,
      keep,
    };
    return { ...result, ...runner.finishRun(set, shown, options.hold) };
  }

  return {
    device,
    config: c,
    weights: 'f32',
    run<H extends boolean = false>(tokens: readonly number[], options: GpuModelRunOptions<H> = {}) {
      return runner.enqueue(() => runNow(tokens, options));
    },
    buffers: () => runner.last(),
    get bufferSets() {
      return runner.sets;
    },
    destroy: () => runner.destroy(),
  };
}
