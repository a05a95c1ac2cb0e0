/**
 * The one run pipeline every mode of the page goes through: a request is computed, shown,
 * verified and (optionally) timed on the CPU. The mode supplies the steps ({@link RunSteps});
 * the pipeline owns what every mode used to hand-roll: which request is the newest (a newer one
 * supersedes the older: its abort signal fires, its later steps never run, its result is never
 * shown), cancelling, keeping the last good result on any error (the error goes to the mode's
 * `failed`), and releasing what a result holds (its GPU buffers) once it is replaced on screen or
 * was never shown. No DOM: test/unit/pipeline.test.ts drives it with fakes.
 */

/** Handed to every step of one run. */
export interface RunContext {
  /** Fires when a newer request or {@link Pipeline.cancel} replaces this run. */
  readonly signal: AbortSignal;
  /** True while no newer request or cancel has replaced this run. */
  current(): boolean;
  /** Progress for the busy bar; dropped once the run is replaced. */
  progress(text: string, fraction?: number): void;
}

/** Which step an error came from. */
export type RunPhase = 'compute' | 'stage' | 'show' | 'verify' | 'timeCpu';

/** What a mode's `failed` learns with the error. */
export interface FailureInfo {
  phase: RunPhase;
  /** The run was aborted (an AbortError while it was still the newest request). */
  cancelled: boolean;
  /** A result (of any mode) is on screen: the page keeps it. */
  kept: boolean;
}

/**
 * What a late step hands back to put on screen: the pipeline calls it only while its run is
 * still the newest, so a superseded run's verification or timing never shows.
 */
export type Commit = (() => void) | void;

/**
 * The steps of one mode. `compute` makes the result; `stage` may prepare the screen
 * asynchronously (upload to the scene) and is the last point where a newer request drops the
 * result unshown; `show` commits it (from here it is the result on screen); `verify`, then
 * `timeCpu`, run while it is still the newest request (a failed verification is reported and
 * the CPU timing still runs), and what they return is shown only if it still is.
 */
export interface RunSteps<Request, Result> {
  compute(request: Request, run: RunContext): Promise<Result>;
  stage?(result: Result, request: Request, run: RunContext): Promise<void>;
  show(result: Result, request: Request, run: RunContext): Promise<void> | void;
  verify?(result: Result, run: RunContext): Promise<Commit>;
  timeCpu?(result: Result, run: RunContext): Promise<Commit>;
  /** Free what the result holds (held GPU buffers); called once, when it is replaced or dropped. */
  release?(result: Result): void;
  /** An error of the newest run (a superseded run's errors are dropped); the shown result stays. */
  failed(error: unknown, info: FailureInfo, request: Request): void;
}

/** How a run ended. */
export type RunOutcome = 'verified' | 'shown' | 'superseded' | 'failed';

/** The result on screen, with the steps that made it. */
export interface ShownResult {
  result: unknown;
  steps: RunSteps<never, unknown>;
}

export interface Pipeline {
  /** Run `request` through `steps`, superseding whatever runs now; resolves when it is done. */
  run<Request, Result>(steps: RunSteps<Request, Result>, request: Request): Promise<RunOutcome>;
  /** Cancel the run in flight (its signal fires, nothing more of it shows); the shown result stays. */
  cancel(): void;
  /** The result on screen, or null before the first one. */
  shown(): ShownResult | null;
  /** The result on screen if `steps` made it (a mode asks for its own), else null. */
  shownBy<Result>(steps: RunSteps<never, Result>): Result | null;
  /** Release the shown result and forget it (the device it lived on was lost). */
  forget(): void;
}

/** Hooks of the whole page, whatever the mode. */
export interface PipelineHooks {
  /** A request starts (after the older one was aborted): e.g. cancel the reference worker's jobs. */
  onStart?(): void;
  /** Progress of the newest run. */
  onProgress?(text: string, fraction?: number): void;
}

/** Whether an error means the request was cancelled. */
export function isAbort(error: unknown): boolean {
  return error instanceof Error && error.name === 'AbortError';
}

export function createPipeline(hooks: PipelineHooks = {}): Pipeline {
  let latest = 0;
  let abort: AbortController | null = null;
  let shown: ShownResult | null = null;

  const supersede = () => {
    latest++;
    abort?.abort();
    abort = null;
  };

  async function run<Request, Result>(steps: RunSteps<Request, Result>, request: Request): Promise<RunOutcome> {
    supersede();
    const token = latest;
    const controller = new AbortController();
    abort = controller;
    hooks.onStart?.();
    const context: RunContext = {
      signal: controller.signal,
      current: () => token === latest,
      progress: (text, fraction) => {
        if (token === latest) hooks.onProgress?.(text, fraction);
      },
    };
    const fail = (error: unknown, phase: RunPhase): RunOutcome => {
      if (token !== latest) return 'superseded';
      steps.failed(error, { phase, cancelled: isAbort(error), kept: shown !== null }, request);
      return 'failed';
    };

    let result: Result;
    try {
      result = await steps.compute(request, context);
    } catch (error) {
      return fail(error, 'compute');
    }
    const own = steps as unknown as RunSteps<never, unknown>;
    if (token !== latest) {
      steps.release?.(result);
      return 'superseded';
    }
    try {
      await steps.stage?.(result, request, context);
    } catch (error) {
      steps.release?.(result);
      return fail(error, 'stage');
    }
    // Staging (the scene's geometry and labels) and showing (the cards and the first frame) in
    // separate main-thread tasks: together they ran past 100 ms on each seqLen change.
    if (steps.stage) await new Promise((resolve) => setTimeout(resolve, 0));
    if (token !== latest) {
      steps.release?.(result);
      return 'superseded';
    }
    // From here the result is the one on screen: the one it replaces lets go of its buffers.
    const previous = shown;
    shown = { result, steps: own };
    if (previous && previous.result !== result) previous.steps.release?.(previous.result);
    try {
      await steps.show(result, request, context);
    } catch (error) {
      return fail(error, 'show');
    }
    let outcome: RunOutcome = 'verified';
    for (const phase of ['verify', 'timeCpu'] as const) {
      if (token !== latest) return 'shown';
      const step = steps[phase];
      if (!step) continue;
      try {
        const commit = await step.call(steps, result, context);
        if (token !== latest) return 'shown';
        commit?.();
      } catch (error) {
        if (fail(error, phase) === 'superseded') return 'shown';
        outcome = 'failed';
      }
    }
    return token === latest ? outcome : 'shown';
  }

  return {
    run,
    cancel: supersede,
    shown: () => shown,
    shownBy: <Result>(steps: RunSteps<never, Result>) => (shown && shown.steps === (steps as unknown) ? (shown.result as Result) : null),
    forget() {
      supersede();
      const previous = shown;
      shown = null;
      previous?.steps.release?.(previous.result);
    },
  };
}
