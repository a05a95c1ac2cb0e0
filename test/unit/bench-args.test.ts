import { describe, expect, it } from 'vitest';
import { BenchArgumentError, DEFAULT_BENCH_ARGS, DEFAULT_SIZES, benchUsage, parseBenchArgs } from '../../src/bench/args';
import { BENCH_PATH_IDS } from '../../src/bench/sweep';

/** Every benchmark path, written out (the list the usage text and the errors must name). */
const ALL_PATHS = ['gpu', 'fused', 'cpu', 'tfjs'];

/** The error parseBenchArgs throws for argv (fails the test if it does not throw one). */
function argError(argv: string[]): BenchArgumentError {
  try {
    parseBenchArgs(argv);
  } catch (error) {
    expect(error).toBeInstanceOf(BenchArgumentError);
    return error as BenchArgumentError;
  }
  throw new Error(`parseBenchArgs(${JSON.stringify(argv)}) did not throw`);
}

describe('parseBenchArgs', () => {
  it('gives the defaults with no arguments: powers of two 64…2048, every path but the opt-in fused one, 3 repeats', () => {
    const args = parseBenchArgs([]);
    expect(args.sizes).toEqual([64, 128, 256, 512, 1024, 2048]);
    expect(args.paths).toEqual(['gpu', 'cpu', 'tfjs']);
    expect(args.paths).not.toContain('fused');
    expect(args).toMatchObject({ repeats: 3, warmup: 1, dModel: 64, heads: 4, dHead: 16, causal: false, seed: 42, verify: true, out: null, hardware: false, peakGflops: null, help: false });
  });

  it('does not share the default arrays between calls', () => {
    parseBenchArgs([]).sizes.push(99);
    parseBenchArgs([]).paths.push('fused');
    expect(parseBenchArgs([]).sizes).toEqual([64, 128, 256, 512, 1024, 2048]);
    expect(parseBenchArgs([]).paths).toEqual(['gpu', 'cpu', 'tfjs']);
    expect(DEFAULT_SIZES).toEqual([64, 128, 256, 512, 1024, 2048]);
    expect(DEFAULT_BENCH_ARGS.sizes).toEqual([64, 128, 256, 512, 1024, 2048]);
  });

  it('parses every option, in both --option value and --option=value forms', () => {
    const args = parseBenchArgs([
      '--sizes', '64,256', '--repeats=2', '--warmup', '0', '--paths', 'cpu,gpu', '--d-model', '32', '--heads=2',
      '--d-head', '8', '--causal', '--seed', '7', '--out', 'x/y.json', '--no-verify', '--hardware', '--peak-gflops', '1500.5', '--timeout', '90',
    ]);
    expect(args).toEqual({
      sizes: [64, 256], repeats: 2, warmup: 0, paths: ['cpu', 'gpu'], dModel: 32, heads: 2, dHead: 8, causal: true, seed: 7,
      verify: false, out: 'x/y.json', hardware: true, peakGflops: 1500.5, timeoutMs: 90_000, chartFrom: null, help: false,
      model: null, lengths: [128, 512], keep: 'weights', linear: null, ort: false,
    });
  });

  it('keeps the order of sizes and paths as given and drops duplicates', () => {
    const args = parseBenchArgs(['--sizes', '256, 64,256', '--paths', 'tfjs,gpu,tfjs']);
    expect(args.sizes).toEqual([256, 64]);
    expect(args.paths).toEqual(['tfjs', 'gpu']);
  });

  it('lets a later flag override an earlier one', () => {
    expect(parseBenchArgs(['--causal', '--no-causal']).causal).toBe(false);
    expect(parseBenchArgs(['--no-verify', '--verify']).verify).toBe(true);
  });

  it('recognises --help and -h, and documents every option and path', () => {
    expect(parseBenchArgs(['--help']).help).toBe(true);
    expect(parseBenchArgs(['-h']).help).toBe(true);
    const usage = benchUsage();
    for (const option of ['--sizes', '--repeats', '--warmup', '--paths', '--d-model', '--heads', '--d-head', '--causal', '--seed', '--out', '--no-verify', '--hardware', '--peak-gflops', '--timeout']) {
      expect(usage).toContain(option);
    }
    for (const path of ALL_PATHS) expect(usage).toContain(`    ${path}`);
    expect(usage).toContain('--paths gpu,fused,cpu');
  });

  it("accepts the opt-in 'fused' path, in the order given", () => {
    expect(BENCH_PATH_IDS).toEqual(ALL_PATHS);
    expect(parseBenchArgs(['--paths', 'gpu,fused,cpu']).paths).toEqual(['gpu', 'fused', 'cpu']);
    expect(parseBenchArgs(['--paths=fused']).paths).toEqual(['fused']);
  });
});

describe('parseBenchArgs: bad arguments', () => {
  it.each([
    [['--sizes', '64,abc'], '--sizes', "'abc'"],
    [['--sizes', '64,1.5'], '--sizes', "'1.5'"],
    [['--sizes', '0'], '--sizes', "'0'"],
    [['--sizes', '-64'], '--sizes', "'-64'"],
    [['--sizes', '1e3'], '--sizes', "'1e3'"],
    [['--sizes', '99999999'], '--sizes', "'99999999'"],
    [['--repeats', '0'], '--repeats', "'0'"],
    [['--repeats', '2.5'], '--repeats', "'2.5'"],
    [['--repeats=two'], '--repeats', "'two'"],
    [['--warmup', '-1'], '--warmup', "'-1'"],
    [['--heads', 'NaN'], '--heads', "'NaN'"],
    [['--d-model', '0'], '--d-model', "'0'"],
    [['--d-head', ' '], '--d-head', 'an empty value'],
    [['--seed', '-3'], '--seed', "'-3'"],
    [['--peak-gflops', '0'], '--peak-gflops', "'0'"],
    [['--peak-gflops', 'fast'], '--peak-gflops', "'fast'"],
    [['--timeout', '0'], '--timeout', "'0'"],
  ])('%j: names %s and the value given', (argv, option, given) => {
    const error = argError(argv as string[]);
    expect(error.option).toBe(option);
    expect(error.given).toBe(given);
    expect(error.allowed.length).toBeGreaterThan(0);
    expect(error.message).toBe(`${option}: got ${given}; allowed: ${error.allowed}`);
  });

  it('says what the integer range is', () => {
    expect(argError(['--repeats', '0']).allowed).toBe('an integer from 1 to 1000');
    expect(argError(['--sizes', '0']).allowed).toBe('an integer from 1 to 65536');
  });

  it('rejects an empty item in a list', () => {
    const error = argError(['--sizes', '64,,256']);
    expect(error.option).toBe('--sizes');
    expect(error.allowed).toContain('no empty items');
    expect(argError(['--paths', 'gpu,']).option).toBe('--paths');
  });

  it('rejects an unknown path and lists the known ones', () => {
    const error = argError(['--paths', 'gpu,webgl']);
    expect(error.option).toBe('--paths');
    expect(error.given).toBe("'webgl'");
    for (const path of ALL_PATHS) expect(error.allowed).toContain(path);
  });

  it('rejects an unknown flag, naming it', () => {
    const error = argError(['--size', '64']);
    expect(error.option).toBe('--size');
    expect(error.given).toBe('an unknown argument');
    expect(error.allowed).toContain('--sizes');
    expect(argError(['64']).option).toBe('64');
    expect(argError(['--frobnicate=1']).option).toBe('--frobnicate=1');
  });

  it('rejects a missing value, at the end or before the next option', () => {
    for (const argv of [['--sizes'], ['--repeats', '--sizes', '64'], ['--out']]) {
      const error = argError(argv);
      expect(error.option).toBe(argv[0]);
      expect(error.given).toBe('no value');
    }
    expect(argError(['--sizes=']).given).toBe('an empty value');
  });

  it('rejects a value given to a flag', () => {
    const error = argError(['--causal=yes']);
    expect(error.option).toBe('--causal');
    expect(error.allowed).toContain('takes no value');
  });
});

describe('--chart-from', () => {
  it('takes a JSON report and refuses anything else, naming the option', async () => {
    const { parseBenchArgs, BenchArgumentError } = await import('../../src/bench/args');
    expect(parseBenchArgs(['--chart-from', 'bench-results/swiftshader.json']).chartFrom).toBe('bench-results/swiftshader.json');
    expect(parseBenchArgs([]).chartFrom).toBeNull();
    expect(() => parseBenchArgs(['--chart-from', 'report.txt'])).toThrow(BenchArgumentError);
    expect(() => parseBenchArgs(['--chart-from', 'report.txt'])).toThrow(/--chart-from: got 'report.txt'/);
    expect(() => parseBenchArgs(['--chart-from'])).toThrow(/--chart-from/);
  });
});

describe('--model (the model bench)', () => {
  it('defaults to the attention sweep; with --model: lengths 128,512, 2 repeats, no warm-up, gpu and cpu, keep weights', () => {
    expect(parseBenchArgs([]).model).toBeNull();
    expect(parseBenchArgs(['--model', 'gpt2-shape'])).toMatchObject({ model: 'gpt2-shape', lengths: [128, 512], repeats: 2, warmup: 0, paths: ['gpu', 'cpu'], keep: 'weights', linear: null });
  });

  it('takes lengths, repeats, warm-up, paths, keep and a linear variant as given', () => {
    const args = parseBenchArgs(['--model=gpt2-shape', '--lengths', '512,128,512,1024', '--repeats', '3', '--warmup=1', '--paths', 'gpu', '--keep', 'all', '--linear', 'lanes:16x32']);
    expect(args).toMatchObject({ lengths: [512, 128, 1024], repeats: 3, warmup: 1, paths: ['gpu'], keep: 'all', linear: { kind: 'lanes', tile: { rows: 16, cols: 32 } } });
    expect(parseBenchArgs(['--model', 'x', '--linear', 'lanes']).linear).toEqual({ kind: 'lanes', tile: { rows: 32, cols: 32 } });
    expect(parseBenchArgs(['--model', 'x', '--linear', 'workgroup']).linear).toEqual({ kind: 'workgroup' });
    expect(parseBenchArgs(['--model', 'x', '--linear', 'registers']).linear).toEqual({ kind: 'registers' });
    expect(parseBenchArgs(['--model', 'x', '--linear', 'auto']).linear).toBeNull();
  });

  it('adds onnxruntime-web with --paths …,ort (opt-in), and refuses ort without --model', () => {
    expect(parseBenchArgs(['--model', 'gpt2-shape']).ort).toBe(false);
    expect(parseBenchArgs(['--model', 'gpt2-shape', '--paths', 'gpu,cpu,ort'])).toMatchObject({ paths: ['gpu', 'cpu'], ort: true });
    expect(parseBenchArgs(['--model', 'gpt2-shape', '--paths', 'ort'])).toMatchObject({ paths: [], ort: true });
    expect(argError(['--paths', 'gpu,ort'])).toMatchObject({ option: '--paths', given: "'ort' without --model" });
  });

  it('refuses paths other than gpu and cpu, a bad keep, a bad linear variant and a bad length, naming the option', () => {
    expect(argError(['--model', 'gpt2-shape', '--paths', 'gpu,tfjs'])).toMatchObject({ option: '--paths', given: "'tfjs' with --model" });
    expect(argError(['--keep', 'scores'])).toMatchObject({ option: '--keep', given: "'scores'" });
    for (const bad of ['lanes:6x32', 'lanes:32x128', 'tiles', 'lanes:32']) expect(argError(['--linear', bad]).option).toBe('--linear');
    expect(argError(['--lengths', '128,0']).option).toBe('--lengths');
  });
});
