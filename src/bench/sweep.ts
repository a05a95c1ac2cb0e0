/**
 * The benchmark sweep: every selected path (GPU kernels, fast CPU, the tfjs peer, …) on the
 * same shapes, in the same browser, on the same adapter, with medians and spread over repeats
 * and each path's error against the f64 reference. Shared by the bench page (`npm run bench`)
 * and the app's sweep panel, so both measure the same thing the same way.
 *
 * The parts live by role: the paths and what a sweep hands them in registry.ts, a path's
 * runner interface and its reference in path.ts, the report's records and derived maths in
 * report.ts, the table and CSV in format.ts. This module runs them and re-exports them, so
 * callers import the sweep from one place. Like its parts it imports no WebGPU kernels and no
 * tfjs statically (see registry.ts): it loads in Node.
 */
import type { AttentionShape, ResultName } from '../core/types';
import { AttentionAbortError } from '../core/errors';
import { describeDevice } from '../kernels/tuning';
import { deviceLimits } from '../gpu/limits';
import { makeRandomInputs } from '../reference/random';
import { verifyAttention } from '../verify/compare';
import { BenchValueError } from './metrics';
import { PathUnavailableError, makeReference, sampledReference, type PathRunner, type Reference, type RepeatTiming } from './path';
import { BENCH_PATHS, BENCH_PATH_IDS, pickSweepSettings, type PathSpec, type SweepDeps, type SweepSettings } from './registry';
import { finishReport, makeRecord, type SweepFailure, type SweepRecord, type SweepReport, type UnavailablePath, type Verification } from './report';

export { PathUnavailableError, makeReference, pickRows, sampledReference, type PathRunner, type Reference, type RepeatTiming, type TimingSource } from './path';
export {
  BENCH_PATHS, BENCH_PATH_IDS, DEFAULT_BENCH_PATH_IDS, gpuPath, pickSweepSettings,
  type BenchPathId, type Peak, type PathSpec, type SweepDeps, type SweepSettings,
} from './registry';
export {
  computeCrossovers, computeFits, computeRatios, finishReport, makeRecord,
  type Crossover, type Ratio, type SlopeFit, type SweepFailure, type SweepRecord, type SweepReport, type TimingSummary, type UnavailablePath, type Verification,
} from './report';
export { formatTable, sweepToCsv } from './format';

/** {@link SweepSettings} plus what cannot go into JSON. */
export interface SweepOptions extends SweepSettings {
  signal?: AbortSignal;
  /** Called after each step: `done` of `total` steps, and what just finished. */
  onProgress?: (done: number, total: number, label: string) => void;
}

function errorText(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/**
 * Run the sweep: per size, seeded random inputs (`makeRandomInputs`) and their reference; per
 * path, `warmup` untimed runs, `repeats` timed ones, then the check against the reference.
 * A path that cannot start is reported in `unavailable`; a (size, path) that throws is
 * reported in `failures` and the sweep goes on. Cancelling through `signal` rejects with
 * AttentionAbortError.
 */
export async function runSweep(options: SweepOptions, deps: SweepDeps = {}): Promise<SweepReport> {
  const { signal, onProgress } = options;
  const settings = pickSweepSettings(options);
  for (const [field, value, min] of [['repeats', settings.repeats, 1], ['warmup', settings.warmup, 0]] as const) {
    if (!Number.isInteger(value) || value < min) throw new BenchValueError(field, String(value), `an integer ≥ ${min}`);
  }
  for (const path of settings.paths) {
    if (!(path in BENCH_PATHS)) throw new BenchValueError('paths', `'${path}'`, `paths of ${BENCH_PATH_IDS.join(', ')}`);
  }
  const checkAbort = () => {
    if (signal?.aborted) throw new AttentionAbortError();
  };
  const device = deps.device ?? deps.attention?.device ?? null;
  const steps = settings.sizes.length * settings.paths.length + settings.paths.length;
  let done = 0;
  const step = (label: string) => onProgress?.(++done, steps, label);

  const runners = new Map<string, PathRunner>();
  const unavailable: UnavailablePath[] = [];
  const records: SweepRecord[] = [];
  const failures: SweepFailure[] = [];
  try {
    for (const path of settings.paths) {
      checkAbort();
      const spec: PathSpec = BENCH_PATHS[path];
      try {
        runners.set(path, await spec.create(deps, settings));
        step(`${path}: ready`);
      } catch (error) {
        const reason = error instanceof PathUnavailableError ? error.reason : errorText(error);
        unavailable.push({ path, label: spec.label, reason });
        step(`${path}: unavailable (${reason})`);
      }
    }
    for (const seqLen of settings.sizes) {
      checkAbort();
      const shape: AttentionShape = { seqLen, dModel: settings.dModel, heads: settings.heads, dHead: settings.dHead, causal: settings.causal };
      const inputs = makeRandomInputs(shape, settings.seed);
      let reference: Reference | null = null;
      for (const path of settings.paths) {
        const runner = runners.get(path);
        if (!runner) continue;
        checkAbort();
        try {
          for (let i = 0; i < settings.warmup; i++) await runner.run(shape, inputs, false, signal);
          const timings: RepeatTiming[] = [];
          for (let i = 0; i < settings.repeats; i++) timings.push(await runner.run(shape, inputs, true, signal));
          let maxError: Partial<Record<ResultName, number>> | null = null;
          let verification: Verification = { mode: 'off', rows: 0, pass: true, failed: [] };
          if (settings.verify) {
            // Computed once per size, after the first path's timing (so it never overlaps a timed run).
            reference ??= makeReference(shape, inputs);
            const against = runner.sampledRowsOnly ? sampledReference(shape, reference) : reference;
            const actual = await runner.actual(shape, inputs, against);
            const report = verifyAttention(shape, actual, against.expected);
            maxError = Object.fromEntries(report.stages.map((s) => [s.name, s.maxAbsErr]));
            const failed = report.stages.filter((s) => !s.pass).map((s) => s.name);
            verification = {
              mode: against.mode,
              rows: against.mode === 'full' ? seqLen : against.rows.length,
              pass: report.stages.length > 0 && failed.length === 0,
              failed,
              ...(runner.sampledRowsOnly ? { note: runner.sampledRowsOnly.reason } : {}),
            };
          }
          records.push(makeRecord(settings, seqLen, path, BENCH_PATHS[path].label, timings, maxError, verification));
          step(`${path} seqLen ${seqLen}: ${records[records.length - 1].median.total.toFixed(3)} ms`);
        } catch (error) {
          if (error instanceof AttentionAbortError || signal?.aborted) throw new AttentionAbortError();
          failures.push({ seqLen, path, error: errorText(error) });
          step(`${path} seqLen ${seqLen}: FAILED (${errorText(error)})`);
        }
      }
    }
  } finally {
    for (const runner of runners.values()) runner.dispose();
  }

  const limits = device ? deviceLimits(device) : null;
  return finishReport({
    date: new Date().toISOString(),
    userAgent: typeof navigator === 'undefined' ? 'node' : navigator.userAgent,
    hardwareConcurrency: typeof navigator === 'undefined' ? 0 : navigator.hardwareConcurrency,
    adapter: device ? describeDevice(device) : null,
    limits,
    options: settings,
    records,
    failures,
    unavailable,
    peak: settings.peak ?? null,
  });
}
