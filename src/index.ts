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
