/**
 * attention-lens: the library surface. The app, the tests and the benchmark all use these
 * exports, so what is measured is what users run.
 */
export type {
  AttentionShape,
  AttentionInputs,
  AttentionResult,
  ResolvedShape,
  ResultName,
  StageName,
  StageTimings,
} from './core/types';
export { RESULT_NAMES, STAGE_NAMES, resolveShape, resultLengths } from './core/types';
export {
  AttentionError,
  AttentionInputError,
  AttentionAbortError,
  GpuLimitError,
  GpuDeviceLostError,
  GpuOutOfMemoryError,
  WebGpuUnavailableError,
  formatBytes,
} from './core/errors';
export type { InputErrorKind } from './core/errors';
export { validateShape, validateInputs, validateAttention, MAX_ELEMENTS } from './core/validate';
export type { ShapeRules } from './core/validate';
export { attentionCpu, attentionCpu64, attentionCpuRows, sampleRows, softmaxRowInPlace } from './reference/attention';
export type { AttentionResult64, AttentionRows } from './reference/attention';
export { makeRng, makeUniform, makeRandomInputs } from './reference/random';
export type { Rng } from './reference/random';
export { compareArrays, maxRowSumError, verifyAttention, defaultTolerances } from './verify/compare';
export { verificationPlan, describePlan, referenceCost, FULL_REFERENCE_BUDGET, SAMPLED_ROWS } from './verify/policy';
export type { VerificationPlan } from './verify/policy';
export type { Comparison, Tolerance, VerificationReport, StageReport } from './verify/compare';
export { requestGpuDevice } from './gpu/device';
export type { GpuDeviceOptions } from './gpu/device';
export { ShaderCompileError } from './gpu/pipeline';
export type { ShaderSource, LineOrigin } from './gpu/pipeline';
export {
  describeDevice,
  classifyAdapter,
  DEFAULT_TUNING,
  SOFTWARE_TUNING,
  WORKGROUP_TUNING,
  LANE_TUNING,
  hasFourLaneSubgroups,
  tuningFor,
} from './kernels/tuning';
export type { AdapterDescription, AdapterClass } from './kernels/tuning';
export { createGpuAttention } from './kernels/attention';
export { createAttentionSession, ATTENTION_KEY } from './kernels/session';
export type { AttentionSession } from './kernels/session';
export { deviceRegistry } from './gpu/registry';
export type { DeviceRegistry, Destroyable } from './gpu/registry';
export type { HeldRun, HoldResult } from './gpu/runner';
export type { GpuAttention, RunOptions, RunResult, AttentionBuffers, AttentionTuning } from './kernels/attention';
export { createFlashAttention, FLASH_MAX_DHEAD, FLASH_MAX_GRID_SIDE } from './kernels/flash';
export type {
  FlashAttention,
  FlashBuffers,
  FlashOptions,
  FlashRunOptions,
  FlashRunResult,
  FlashResultName,
  FlashTimings,
  ReducedMapRequest,
} from './kernels/flash';

// Models: the GPT-2-family forward pass on WebGPU, and real checkpoints (hub, URL or files).
export { createGpuModel, MODEL_LAYER_TENSORS, DEFAULT_MODEL_READ } from './kernels/model';
export type { GpuModel, GpuModelConfig, GpuModelParams, GpuModelResult, GpuModelRunOptions, GpuModelBuffers, ModelReadName, ModelLayerTensor, ModelKeep } from './kernels/model';
export type { LinearTuning } from './kernels/tuning';
export type { ModelConfig } from './core/types';
export { forwardReference } from './model/forward-reference';
export type { GptTrace } from './model/forward-reference';
export { paramShapes, countParams, checkModelParams, ModelParamsError } from './model/schema';
export { loadPretrained } from './pretrained/load';
export type { PretrainedSource, LoadProgress, LoadPretrainedOptions, PretrainedModel } from './pretrained/load';
export { loadTokenizer, TokenizerFileError } from './pretrained/tokenizer';
export type { ModelTokenizer, TokenizerFiles } from './pretrained/tokenizer';
export { readGpt2Config } from './pretrained/config';
export type { Gpt2Config } from './pretrained/config';
export { parseLlamaConfig, llamaTensorShapes, LLAMA_MODEL_TYPES, type LlamaConfig, type LlamaModelType } from './pretrained/llama-config';
export { llamaForwardReference, checkLlamaConfig, checkLlamaParams, type LlamaTrace, type LlamaLayerTrace } from './model/llama-reference';
export { ropeInverseFrequencies, applyRope, checkRopeConfig, type RopeConfig, type Llama3RopeScaling } from './model/rope';
export { ropeTable, runRmsNorm, runRope, rmsNormKernel, ropeKernel, ropeUniform, type RopeLayout } from './kernels/llama-ops';
export { DEFAULT_HUB, HUB_MODELS, hubBase, fetchModelFile, clearModelCache } from './pretrained/hub';
export type { HubModel, ModelCache } from './pretrained/hub';
export { modelMemory, checkModelFits } from './pretrained/memory';
export type { ModelMemory, ModelLimits } from './pretrained/memory';
export { PretrainedFileError, ModelSourceError, ModelTooLargeError } from './pretrained/errors';

// Queries and keys in one 3D space (issue 19): AttentionViz's normalisation and a joint PCA, f64 on the CPU and on the GPU.
export { projectQkReference, qkNormalisation, symmetricEigen, QK_FLAT_SPREAD, type QkProjection, type QkNormalisation } from './reference/qk-projection';
export { createQkProjector, QK_POINT_LIMIT, QK_MAX_POINT_LIMIT, QK_MAX_DHEAD, QK_SUBSPACE_ITERATIONS, type GpuQkInput, type GpuQkProjection, type GpuQkProjector } from './kernels/qk-projection';
