// The run pipeline (src/app/pipeline.ts) driven by fake modes whose steps wait on promises the
// test resolves by hand, so every interleaving (supersede, cancel, errors) is set up exactly and
// the expected log is written out here, not derived from the pipeline.
import { describe, expect, it } from 'vitest';
import { createPipeline, type Commit, type FailureInfo, type RunContext, type RunSteps } from '../../src/app/pipeline';

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}
function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
const tick = () => new Promise((r) => setTimeout(r, 0));
const abortError = () => Object.assign(new Error('aborted'), { name: 'AbortError' });

/** A fake mode: each request name gets its own gates for compute, verify and CPU timing. */
function fakeMode(log: string[], label = '') {
  const gates = new Map<string, { compute: Deferred<string>; verify: Deferred<void>; cpu: Deferred<void> }>();
  const signals = new Map<string, AbortSignal>();
  const failures: Array<[unknown, FailureInfo]> = [];
  const gate = (name: string) => {
    if (!gates.has(name)) gates.set(name, { compute: deferred(), verify: deferred(), cpu: deferred() });
    return gates.get(name)!;
  };
  const steps: RunSteps<string, string> = {
    async compute(request: string, run: RunContext) {
      signals.set(request, run.signal);
      log.push(`${label}compute ${request}`);
      return gate(request).compute.promise;
    },
    show(result: string) {
      log.push(`${label}show ${result}`);
    },
    async verify(result: string): Promise<Commit> {
      log.push(`${label}verify ${result}`);
      await gate(result).verify.promise;
      return () => log.push(`${label}verified ${result}`);
    },
    async timeCpu(result: string): Promise<Commit> {
      log.push(`${label}cpu ${result}`);
      await gate(result).cpu.promise;
      return () => log.push(`${label}timed ${result}`);
    },
    release(result: string) {
      log.push(`${label}release ${result}`);
    },
    failed(error: unknown, info: FailureInfo) {
      failures.push([error, info]);
      log.push(`${label}failed ${info.phase}${info.cancelled ? ' cancelled' : ''}${info.kept ? ' kept' : ''}`);
    },
  };
  return { steps, gate, signals, failures };
}

/** Run `name` to the end (compute, verify and CPU timing all let through). */
async function runThrough(pipeline: ReturnType<typeof createPipeline>, mode: ReturnType<typeof fakeMode>, name: string) {
  const g = mode.gate(name);
  g.compute.resolve(name);
  g.verify.resolve();
  g.cpu.resolve();
  return pipeline.run(mode.steps, name);
}

describe('the run pipeline', () => {
  it('runs compute → show → verify → CPU timing, in that order, each only after the one before', async () => {
    const log: string[] = [];
    const mode = fakeMode(log);
    const pipeline = createPipeline();
    const done = pipeline.run(mode.steps, 'a');
    await tick();
    expect(log).toEqual(['compute a']);
    mode.gate('a').compute.resolve('a');
    await tick();
    expect(log).toEqual(['compute a', 'show a', 'verify a']);
    mode.gate('a').verify.resolve();
    await tick();
    // CPU timing starts only once the verification is on screen.
    expect(log).toEqual(['compute a', 'show a', 'verify a', 'verified a', 'cpu a']);
    mode.gate('a').cpu.resolve();
    expect(await done).toBe('verified');
    expect(log).toEqual(['compute a', 'show a', 'verify a', 'verified a', 'cpu a', 'timed a']);
    expect(pipeline.shown()?.result).toBe('a');
  });

  it('a newer request supersedes the older: its signal fires, its result never shows and is released', async () => {
    const log: string[] = [];
    const mode = fakeMode(log);
    const pipeline = createPipeline();
    const first = pipeline.run(mode.steps, 'a');
    await tick();
    const second = pipeline.run(mode.steps, 'b');
    await tick();
    expect(mode.signals.get('a')!.aborted).toBe(true);
    expect(mode.signals.get('b')!.aborted).toBe(false);
    // The older compute finishes late anyway (it ignored the signal): dropped, released, not shown.
    mode.gate('a').compute.resolve('a');
    expect(await first).toBe('superseded');
    mode.gate('b').compute.resolve('b');
    mode.gate('b').verify.resolve();
    mode.gate('b').cpu.resolve();
    expect(await second).toBe('verified');
    expect(log).toEqual(['compute a', 'compute b', 'release a', 'show b', 'verify b', 'verified b', 'cpu b', 'timed b']);
  });

  it('releases each replaced result exactly once, when the next one is shown', async () => {
    const log: string[] = [];
    const mode = fakeMode(log);
    const pipeline = createPipeline();
    await runThrough(pipeline, mode, 'a');
    await runThrough(pipeline, mode, 'b');
    await runThrough(pipeline, mode, 'c');
    expect(log.filter((line) => line.startsWith('release'))).toEqual(['release a', 'release b']);
    // A device loss lets go of the one on screen too; a second forget releases nothing more.
    pipeline.forget();
    pipeline.forget();
    expect(log.filter((line) => line.startsWith('release'))).toEqual(['release a', 'release b', 'release c']);
    expect(pipeline.shown()).toBeNull();
  });

  it('a verification of a superseded run is never shown, and its CPU timing never starts', async () => {
    const log: string[] = [];
    const mode = fakeMode(log);
    const pipeline = createPipeline();
    mode.gate('a').compute.resolve('a');
    const first = pipeline.run(mode.steps, 'a');
    await tick();
    expect(log).toEqual(['compute a', 'show a', 'verify a']);
    const second = pipeline.run(mode.steps, 'b');
    mode.gate('a').verify.resolve();
    expect(await first).toBe('shown');
    mode.gate('b').compute.resolve('b');
    mode.gate('b').verify.resolve();
    mode.gate('b').cpu.resolve();
    await second;
    expect(log).toEqual(['compute a', 'show a', 'verify a', 'compute b', 'release a', 'show b', 'verify b', 'verified b', 'cpu b', 'timed b']);
  });

  it('cancel mid-compute aborts the run; nothing of it shows and the shown result stays', async () => {
    const log: string[] = [];
    const mode = fakeMode(log);
    const pipeline = createPipeline();
    await runThrough(pipeline, mode, 'a');
    log.length = 0;
    const running = pipeline.run(mode.steps, 'b');
    await tick();
    pipeline.cancel();
    expect(mode.signals.get('b')!.aborted).toBe(true);
    // The compute rejects with the AbortError its signal caused: the pipeline says nothing more.
    mode.gate('b').compute.reject(abortError());
    expect(await running).toBe('superseded');
    expect(log).toEqual(['compute b']);
    expect(mode.failures).toEqual([]);
    expect(pipeline.shown()?.result).toBe('a');
  });

  it('an error keeps the last good result and goes to the mode; an abort of the newest run is reported as cancelled', async () => {
    const log: string[] = [];
    const mode = fakeMode(log);
    const pipeline = createPipeline();
    const boom = new Error('out of memory');
    mode.gate('a').compute.reject(boom);
    expect(await pipeline.run(mode.steps, 'a')).toBe('failed');
    expect(mode.failures[0]).toEqual([boom, { phase: 'compute', cancelled: false, kept: false }]);
    await runThrough(pipeline, mode, 'b');
    mode.gate('c').compute.reject(abortError());
    expect(await pipeline.run(mode.steps, 'c')).toBe('failed');
    expect(mode.failures[1][1]).toEqual({ phase: 'compute', cancelled: true, kept: true });
    expect(pipeline.shown()?.result).toBe('b');
    expect(log.filter((line) => line.startsWith('release'))).toEqual([]);
  });

  it('a failed verification is reported and the CPU timing still runs; a superseded run’s error is dropped', async () => {
    const log: string[] = [];
    const mode = fakeMode(log);
    const pipeline = createPipeline();
    mode.gate('a').compute.resolve('a');
    mode.gate('a').verify.reject(new Error('worker died'));
    mode.gate('a').cpu.resolve();
    expect(await pipeline.run(mode.steps, 'a')).toBe('failed');
    expect(log).toEqual(['compute a', 'show a', 'verify a', 'failed verify kept', 'cpu a', 'timed a']);
    log.length = 0;
    const late = pipeline.run(mode.steps, 'b');
    await tick();
    void pipeline.run(mode.steps, 'c');
    mode.gate('b').compute.reject(new Error('late failure'));
    expect(await late).toBe('superseded');
    expect(log).toEqual(['compute b', 'compute c']);
  });

  it('modes share one pipeline: a request of one mode supersedes the other and releases its shown result', async () => {
    const log: string[] = [];
    const explorer = fakeMode(log, 'E:');
    const model = fakeMode(log, 'M:');
    const pipeline = createPipeline();
    await runThrough(pipeline, explorer, 'x');
    const slow = pipeline.run(explorer.steps, 'y');
    await tick();
    await runThrough(pipeline, model, 'm');
    explorer.gate('y').compute.resolve('y');
    expect(await slow).toBe('superseded');
    expect(log).toEqual([
      'E:compute x', 'E:show x', 'E:verify x', 'E:verified x', 'E:cpu x', 'E:timed x',
      'E:compute y', 'M:compute m', 'E:release x', 'M:show m', 'M:verify m', 'M:verified m', 'M:cpu m', 'M:timed m', 'E:release y',
    ]);
    expect(pipeline.shown()?.result).toBe('m');
    expect(pipeline.shownBy(model.steps)).toBe('m');
    expect(pipeline.shownBy(explorer.steps)).toBeNull();
  });

  it('progress reaches the hook only from the newest run; onStart runs once per request', async () => {
    const lines: string[] = [];
    let starts = 0;
    const pipeline = createPipeline({ onProgress: (text) => lines.push(text), onStart: () => starts++ });
    let older: RunContext | null = null;
    const gate = deferred<string>();
    const steps: RunSteps<string, string> = {
      compute: async (_request, run) => {
        older ??= run;
        run.progress(`working ${_request}`);
        return gate.promise;
      },
      show: () => undefined,
      failed: () => undefined,
    };
    void pipeline.run(steps, 'a');
    void pipeline.run(steps, 'b');
    older!.progress('stale');
    expect(older!.current()).toBe(false);
    expect(lines).toEqual(['working a', 'working b']);
    expect(starts).toBe(2);
    gate.resolve('done');
  });
});
