import { describe, expect, it } from 'vitest';
import {
  BENCH_PATHS,
  BENCH_PATH_IDS,
  DEFAULT_BENCH_PATH_IDS,
  PathUnavailableError,
  computeCrossovers,
  computeFits,
  computeRatios,
  finishReport,
  formatTable,
  makeRecord,
  makeReference,
  pickRows,
  pickSweepSettings,
  runSweep,
  sampledReference,
  sweepToCsv,
  type RepeatTiming,
  type SweepRecord,
  type SweepReport,
  type SweepSettings,
} from '../../src/bench/sweep';
import { BenchValueError } from '../../src/bench/metrics';
import { attentionCpu, attentionCpuRows } from '../../src/reference/attention';
import { makeRandomInputs } from '../../src/reference/random';

const settings: SweepSettings = {
  sizes: [64, 256, 1024],
  repeats: 3,
  warmup: 1,
  paths: ['gpu', 'cpu', 'tfjs'],
  dModel: 64,
  heads: 4,
  dHead: 16,
  causal: false,
  seed: 42,
  verify: true,
  peak: null,
};

const full = { mode: 'full' as const, rows: 0, pass: true, failed: [] };

/** Stage times t·(1, 2, 3, 4) ms plus a wall of 1.5·total; three repeats around the median. */
function stageRepeats(t: number, source: RepeatTiming['source'] = 'timestamp-query'): RepeatTiming[] {
  return [1, 0.9, 1.2].map((f) => {
    const stages = { projections: t * f, scores: 2 * t * f, softmax: 3 * t * f, output: 4 * t * f };
    return { stages, total: 10 * t * f, wall: 15 * t * f, source };
  });
}

/** Synthetic records: gpu time ∝ n², cpu ∝ n (so they cross), tfjs 3× gpu without stages. */
function synthetic(): SweepRecord[] {
  const records: SweepRecord[] = [];
  for (const n of settings.sizes) {
    const gpu = 1e-4 * n * n;
    const cpu = 0.05 * n;
    records.push(makeRecord(settings, n, 'gpu', 'GPU unfused', stageRepeats(gpu), { q: 1e-7, output: 2e-7 }, { ...full, rows: n }));
    records.push(makeRecord(settings, n, 'cpu', 'CPU fast', stageRepeats(cpu, 'wall-clock'), { output: 1e-8 }, { ...full, rows: n }));
    const t = 30 * gpu;
    records.push(
      makeRecord(settings, n, 'tfjs', 'tfjs-webgpu', [t, 1.1 * t].map((v) => ({ stages: null, total: v, wall: v, source: 'wall-clock+readback' as const, extra: { kernelMs: v / 2 } })), { output: 3e-7 }, { ...full, rows: n }),
    );
  }
  return records;
}

function report(records = synthetic(), extra: Partial<SweepReport> = {}): SweepReport {
  return finishReport({
    date: '2026-01-01T00:00:00.000Z',
    userAgent: 'test',
    hardwareConcurrency: 2,
    adapter: null,
    limits: null,
    options: settings,
    records,
    failures: [],
    unavailable: [],
    peak: null,
    ...extra,
  });
}

describe('the path list', () => {
  it('has the unfused and fused GPU paths, the fast CPU path and the tfjs peer, each labelled and described', () => {
    expect(BENCH_PATH_IDS).toEqual(['gpu', 'fused', 'cpu', 'tfjs']);
    expect(DEFAULT_BENCH_PATH_IDS).toEqual(['gpu', 'cpu', 'tfjs']);
    expect(BENCH_PATHS.fused.label).toBe('GPU fused');
    expect(BENCH_PATHS.fused.description).toMatch(/online softmax/);
    expect(BENCH_PATHS.fused.description).toMatch(/sampled rows/);
    for (const id of BENCH_PATH_IDS) {
      expect(BENCH_PATHS[id].label.length).toBeGreaterThan(0);
      expect(BENCH_PATHS[id].description.length).toBeGreaterThan(10);
      expect(typeof BENCH_PATHS[id].create).toBe('function');
    }
  });
});

describe('makeRecord', () => {
  it('takes medians and spread per stage, and GFLOP/s from the median total', () => {
    const r = makeRecord(settings, 256, 'gpu', 'GPU', stageRepeats(2), null, { mode: 'off', rows: 0, pass: true, failed: [] });
    expect(r.median.stages).toEqual({ projections: 2, scores: 4, softmax: 6, output: 8 });
    expect(r.median.total).toBe(20);
    expect(r.median.wall).toBe(30);
    expect(r.spread.total.min).toBeCloseTo(18);
    expect(r.spread.total.max).toBeCloseTo(24);
    // By hand (seqLen = kvLen 256, dModel 64, 4 heads × dHead 16 = width 64):
    // projections 2·(256 + 2·256)·64·64 = 6 291 456; scores 2·4·256·256·16 = 8 388 608;
    // softmax 5·4·256·256 = 1 310 720; output 8 388 608; total 24 379 392.
    expect(r.flops).toEqual({ projections: 6_291_456, scores: 8_388_608, softmax: 1_310_720, output: 8_388_608, total: 24_379_392 });
    // GFLOP/s = FLOPs / (ms · 1e6): 24 379 392 / 20e6 = 1.2189696; scores 8 388 608 / 4e6 = 2.097152.
    expect(r.gflops).toBeCloseTo(1.2189696, 12);
    expect(r.stageGflops!.scores).toBeCloseTo(2.097152, 12);
    expect(r.bytes.total).toBeGreaterThan(0);
    expect(r.source).toBe('timestamp-query');
  });

  it('keeps stages null for a path without a stage split, and medians its extras', () => {
    const r = synthetic().find((x) => x.path === 'tfjs')!;
    expect(r.median.stages).toBeNull();
    expect(r.spread.stages).toBeNull();
    expect(r.stageGflops).toBeNull();
    // The first tfjs record is seqLen 64: t = 30·1e-4·64² = 12.288 ms, repeats t and 1.1·t, so the
    // median total is 1.05·t = 12.9024 and the median kernelMs (v / 2 per repeat) 6.4512.
    expect(r.seqLen).toBe(64);
    expect(r.median.total).toBeCloseTo(12.9024, 10);
    expect(r.median.extra!.kernelMs).toBeCloseTo(6.4512, 10);
  });

  it('refuses a record with no repeats', () => {
    expect(() => makeRecord(settings, 64, 'gpu', 'GPU', [], null, full)).toThrow('timings: got no timed repeats of gpu at seqLen 64; allowed: at least one timed repeat');
  });
});

describe('ratios, fits and crossovers', () => {
  it('divides every path by the first (the baseline), total and wall', () => {
    const ratios = computeRatios(synthetic(), ['gpu', 'cpu', 'tfjs']);
    expect(ratios).toHaveLength(6);
    const tfjs64 = ratios.find((q) => q.seqLen === 64 && q.path === 'tfjs')!;
    expect(tfjs64.baseline).toBe('gpu');
    // tfjs median of two repeats is 1.05·30·gpu; gpu's median total is 10·gpu.
    expect(tfjs64.total).toBeCloseTo((1.05 * 30) / 10, 10);
    expect(tfjs64.wall).toBeCloseTo((1.05 * 30) / 15, 10);
    const cpu1024 = ratios.find((q) => q.seqLen === 1024 && q.path === 'cpu')!;
    expect(cpu1024.total).toBeCloseTo((0.05 * 1024) / (1e-4 * 1024 * 1024), 10);
  });

  it('skips sizes where the baseline or the other path is missing', () => {
    const records = synthetic().filter((r) => !(r.path === 'gpu' && r.seqLen === 256) && !(r.path === 'cpu' && r.seqLen === 64));
    const ratios = computeRatios(records, ['gpu', 'cpu']);
    expect(ratios.map((q) => q.seqLen)).toEqual([1024]);
  });

  it('fits time ∝ n² for the GPU and ∝ n for the CPU, per stage, and only total for a path without stages', () => {
    const fits = computeFits(synthetic(), ['gpu', 'cpu', 'tfjs']);
    const slope = (path: string, stage: string) => fits.find((f) => f.path === path && f.stage === stage)!.slope;
    expect(slope('gpu', 'total')).toBeCloseTo(2, 10);
    expect(slope('gpu', 'scores')).toBeCloseTo(2, 10);
    expect(slope('cpu', 'output')).toBeCloseTo(1, 10);
    expect(fits.filter((f) => f.path === 'tfjs').map((f) => f.stage)).toEqual(['total']);
  });

  it('finds where the GPU and CPU curves cross (1e-4·n² = 0.05·n at n = 500)', () => {
    const crossings = computeCrossovers(synthetic(), 'gpu', 'cpu');
    const total = crossings.find((c) => c.stage === 'total')!;
    expect(total.seqLen).toBeCloseTo(500, 6);
    expect(total.fasterAtLargest).toBe('cpu');
    expect(crossings.map((c) => c.stage)).toEqual(['total', 'projections', 'scores', 'softmax', 'output']);
  });
});

describe('finishReport', () => {
  it('adds ratios, fits, GPU–CPU crossovers and pass; peak fractions only with a peak', () => {
    const r = report();
    expect(r.pass).toBe(true);
    expect(r.crossovers.every((c) => c.a === 'gpu' && c.b === 'cpu')).toBe(true);
    expect(r.records.every((x) => x.peakFraction === undefined)).toBe(true);
    const withPeak = finishReport({ ...r, peak: { gflops: 100, source: 'test' } });
    for (const x of withPeak.records) expect(x.peakFraction).toBeTypeOf('number');
    // By hand at seqLen 64 (dModel 64, 4 × 16): FLOPs 2·(64 + 128)·64·64 + 2·4·64²·16 + 5·4·64² +
    // 2·4·64²·16 = 1 572 864 + 524 288 + 81 920 + 524 288 = 2 703 360. GPU median total
    // 10·1e-4·64² = 4.096 ms → 0.66 GFLOP/s → 0.0066 of 100; CPU 10·0.05·64 = 32 ms → 0.08448 → 0.0008448.
    const at64 = (path: string) => withPeak.records.find((x) => x.seqLen === 64 && x.path === path)!;
    expect(at64('gpu').gflops).toBeCloseTo(0.66, 12);
    expect(at64('gpu').peakFraction).toBeCloseTo(0.0066, 12);
    expect(at64('cpu').peakFraction).toBeCloseTo(0.0008448, 12);
  });

  it('fails when a record did not verify or a run failed', () => {
    const records = synthetic();
    records[1] = { ...records[1], verification: { mode: 'full', rows: 64, pass: false, failed: ['output'] } };
    expect(report(records).pass).toBe(false);
    expect(report(undefined, { failures: [{ seqLen: 64, path: 'gpu', error: 'boom' }] }).pass).toBe(false);
  });

  it('survives a JSON round trip unchanged (the report is what bench writes)', () => {
    const r = report();
    expect(finishReport(JSON.parse(JSON.stringify(r)))).toEqual(JSON.parse(JSON.stringify(r)));
  });
});

describe('formatTable', () => {
  it('has one line per size and path, stage medians, GFLOP/s, errors, ratios, slopes and crossovers', () => {
    const text = formatTable(report(undefined, { peak: { gflops: 100, source: 'test peak' } }));
    const lines = text.split('\n');
    const header = lines.find((l) => l.startsWith('seqLen'))!;
    for (const column of ['proj ms', 'scores ms', 'softmax ms', 'output ms', 'total ms', '±IQR', 'wall ms', 'GFLOP/s', 'max err', 'check']) {
      expect(header).toContain(column);
    }
    // The main table ends at the first blank line (the ratios table follows it).
    const rows = lines.slice(0, lines.indexOf('')).filter((l) => /^\d+\s+(gpu|cpu|tfjs)\s/.test(l));
    expect(rows).toHaveLength(9);
    // Sorted by size, then in path order.
    expect(rows.map((l) => l.split(/\s+/).slice(0, 2).join(' '))).toEqual([
      '64 gpu', '64 cpu', '64 tfjs', '256 gpu', '256 cpu', '256 tfjs', '1024 gpu', '1024 cpu', '1024 tfjs',
    ]);
    const gpu256 = rows[3];
    // 1e-4·256² = 6.5536 ms per unit: projections 6.554, scores 13.107, total 65.536.
    expect(gpu256).toContain('6.554');
    expect(gpu256).toContain('13.107');
    expect(gpu256).toContain('65.536');
    expect(gpu256).toContain('2.0e-7 output');
    expect(gpu256).toContain('pass');
    expect(rows[2]).toMatch(/^64\s+tfjs\s+–\s+–\s+–\s+–/);
    expect(text).toContain('ratios (time of path / time of gpu');
    expect(text).toMatch(/log-log slope of time vs seqLen: gpu total 2\.00/);
    expect(text).toContain('gpu/cpu total: seqLen ≈ 500');
    expect(text).toContain('% peak');
    expect(text).toContain('peak: 100.0 GFLOP/s (test peak)');
  });

  it('reports unavailable paths with their reason, failures and failed checks', () => {
    const records = synthetic().filter((r) => r.path !== 'tfjs');
    records[0] = { ...records[0], verification: { mode: 'sampled-rows', rows: 24, pass: false, failed: ['output'] } };
    const text = formatTable(
      report(records, {
        unavailable: [{ path: 'tfjs', label: 'tfjs-webgpu', reason: "tf.setBackend('webgpu') failed: no adapter" }],
        failures: [{ seqLen: 1024, path: 'cpu', error: 'RangeError: too big' }],
      }),
    );
    expect(text).toContain("tfjs (tfjs-webgpu) unavailable: tf.setBackend('webgpu') failed: no adapter");
    expect(text).toContain('cpu at seqLen 1024 FAILED: RangeError: too big');
    expect(text).toContain('FAIL (24 rows)');
  });
});

/** A fused-path record: no four-stage split, timestamp total, extras, sampled-rows check with its note. */
function fusedRecord(n: number, verification = { mode: 'sampled-rows' as const, rows: 24, pass: true, failed: [], note: 'the fused kernel never stores scores or weights' }): SweepRecord {
  const timings: RepeatTiming[] = [1, 1.2].map((f) => ({ stages: null, total: 3 * f, wall: 5 * f, source: 'timestamp-query', extra: { projections: 0.5 * f, fusedKernel: 2.5 * f } }));
  return makeRecord(settings, n, 'fused', 'GPU fused', timings, { scores: 1e-6, weights: 2e-7, output: 3e-7 }, verification);
}

describe('a path without a four-stage split (the fused kernel)', () => {
  const withFused = (records: SweepRecord[]) =>
    finishReport({ ...report(records), options: { ...settings, paths: ['gpu', 'fused', 'cpu'] } });

  it("shows – in the stage columns, its total, the sampled-rows check and why, and its passes in a detail line", () => {
    const records = [...synthetic().filter((r) => r.path !== 'tfjs'), ...settings.sizes.map((n) => fusedRecord(n))];
    const r = withFused(records);
    expect(r.pass).toBe(true);
    const text = formatTable(r);
    const rows = text.split('\n').filter((l) => /^\d+\s+(gpu|fused|cpu)\s/.test(l));
    expect(rows.map((l) => l.split(/\s+/).slice(0, 2).join(' ')).slice(0, 3)).toEqual(['64 gpu', '64 fused', '64 cpu']);
    const fused = rows[1];
    expect(fused).toMatch(/^64\s+fused\s+–\s+–\s+–\s+–\s+3\.300\s/);
    expect(fused).toContain('1.0e-6 scores');
    expect(fused).toContain('pass (24 rows)');
    expect(text).toContain('fused detail (median ms): 64: projections 0.6, fusedKernel 2.8');
    expect(text).toContain('fused check: the fused kernel never stores scores or weights.');
    expect(text).toContain('– in a stage column: fused has no split into these four stages');
    // Only total is fitted and crossed for it; the ratio is against the baseline's total.
    expect(r.fits.filter((f) => f.path === 'fused').map((f) => f.stage)).toEqual(['total']);
    expect(r.crossovers.filter((c) => c.a === 'fused').map((c) => c.stage)).toEqual(['total']);
    expect(r.ratios.find((q) => q.path === 'fused' && q.seqLen === 64)!.total).toBeCloseTo(3.3 / (1e-4 * 64 * 64 * 10), 10);
    const csv = sweepToCsv(r).trimEnd().split('\n');
    const header = csv[0].split(',');
    const row = Object.fromEntries(csv.find((l) => l.startsWith('64,fused,'))!.split(',').map((v, i) => [header[i], v]));
    expect([row.projections_ms, row.scores_ms, row.softmax_ms, row.output_ms]).toEqual(['', '', '', '']);
    expect(Number(row.total_ms)).toBeCloseTo(3.3, 12);
    expect(row.source).toBe('timestamp-query');
    expect(row.verification).toBe('sampled-rows');
  });

  it('renders a stage it could not time (NaN, e.g. no timestamp queries) as – and an empty CSV cell, never as a number', () => {
    const partial: RepeatTiming[] = [2, 2.2].map((t) => ({ stages: { projections: t, scores: 3 * t, softmax: Number.NaN, output: Number.NaN }, total: 5 * t, wall: 6 * t, source: 'wall-clock' }));
    const r = report([makeRecord(settings, 64, 'gpu', 'GPU', partial, null, { mode: 'off', rows: 0, pass: true, failed: [] })]);
    const row = formatTable(r).split('\n').find((l) => l.startsWith('64'))!;
    expect(row).toMatch(/^64\s+gpu\s+2\.100\s+6\.300\s+–\s+–\s+10\.500\s/);
    expect(row).toContain('off');
    const [header, line] = sweepToCsv(r).trimEnd().split('\n').map((l) => l.split(','));
    const cells = Object.fromEntries(line.map((v, i) => [header[i], v]));
    expect(cells.softmax_ms).toBe('');
    expect(cells.output_ms).toBe('');
    expect(Number(cells.scores_ms)).toBeCloseTo(6.3, 12);
    expect(r.fits).toEqual([]);
  });

  it('pickSweepSettings keeps exactly the settings, in order, arrays copied, peak null when absent', () => {
    const args = { ...settings, peak: undefined, out: 'x.json', signal: new AbortController().signal };
    const picked = pickSweepSettings(args);
    expect(Object.keys(picked)).toEqual(['sizes', 'repeats', 'warmup', 'paths', 'dModel', 'heads', 'dHead', 'causal', 'seed', 'verify', 'peak']);
    expect(picked).toEqual({ ...settings, peak: null });
    expect(picked.sizes).not.toBe(settings.sizes);
    expect(pickSweepSettings({ ...settings, peak: { gflops: 5, source: 'datasheet' } }).peak).toEqual({ gflops: 5, source: 'datasheet' });
  });

  it('runSweep refuses bad settings before running anything, naming the setting', async () => {
    await expect(runSweep({ ...settings, repeats: 0 })).rejects.toThrow('repeats: got 0; allowed: an integer ≥ 1');
    await expect(runSweep({ ...settings, warmup: 0.5 })).rejects.toThrow(BenchValueError);
    await expect(runSweep({ ...settings, paths: ['gpu', 'webgl' as 'gpu'] })).rejects.toThrow("paths: got 'webgl'; allowed: paths of gpu, fused, cpu, tfjs");
  });

  it('is unavailable, with a reason, without a GPUDevice or for dHead above the fused kernel limit', async () => {
    await expect(BENCH_PATHS.fused.create({}, settings)).rejects.toThrow(PathUnavailableError);
    await expect(BENCH_PATHS.fused.create({}, settings)).rejects.toThrow(/no GPUDevice/);
    const fakeDevice = {} as GPUDevice;
    const error = await BENCH_PATHS.fused.create({ device: fakeDevice }, { ...settings, dHead: 256 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PathUnavailableError);
    expect((error as PathUnavailableError).reason).toMatch(/dHead 256 > 128/);
  });
});

describe('sampledReference', () => {
  it('picks the policy’s 16 sampled rows out of a full reference, equal to the rows reference', () => {
    const shape = { seqLen: 64, dModel: 16, heads: 2, dHead: 8, causal: true };
    const inputs = makeRandomInputs(shape, 5);
    const fullRef = makeReference(shape, inputs);
    expect(fullRef.mode).toBe('full');
    const sampled = sampledReference(shape, fullRef);
    expect(sampled.mode).toBe('sampled-rows');
    expect(sampled.rows).toHaveLength(16);
    const expected = attentionCpuRows(shape, inputs, sampled.rows);
    for (const name of ['weights', 'output'] as const) {
      expect(sampled.expected[name].length).toBe(expected[name].length);
      sampled.expected[name].forEach((v, i) => expect(Math.abs(v - expected[name][i])).toBeLessThan(1e-6));
    }
    expect(sampledReference(shape, sampled)).toBe(sampled);
  });
});

describe('sweepToCsv', () => {
  it('writes a header and one parseable line per record, empty cells for what a path lacks', () => {
    const r = report();
    const lines = sweepToCsv(r).trimEnd().split('\n');
    const header = lines[0].split(',');
    expect(header.slice(0, 8)).toEqual(['seqLen', 'path', 'source', 'projections_ms', 'scores_ms', 'softmax_ms', 'output_ms', 'total_ms']);
    expect(lines).toHaveLength(1 + r.records.length);
    const rows = lines.slice(1).map((l) => Object.fromEntries(l.split(',').map((v, i) => [header[i], v])));
    for (const row of rows) expect(Object.keys(row)).toHaveLength(header.length);
    const gpu64 = rows.find((x) => x.seqLen === '64' && x.path === 'gpu')!;
    expect(Number(gpu64.total_ms)).toBeCloseTo(1e-4 * 64 * 64 * 10, 12);
    expect(Number(gpu64.max_err_output)).toBe(2e-7);
    expect(gpu64.max_err_k).toBe('');
    expect(gpu64.pass).toBe('true');
    const tfjs = rows.find((x) => x.path === 'tfjs')!;
    expect(tfjs.scores_ms).toBe('');
    expect(tfjs.source).toBe('wall-clock+readback');
  });
});

describe('pickRows', () => {
  it('takes the same rows, in the same layout, as attentionCpuRows', () => {
    const shape = { seqLen: 9, dModel: 8, heads: 2, dHead: 4, causal: true };
    const inputs = makeRandomInputs(shape, 3);
    const rows = [0, 4, 8];
    const picked = pickRows(shape, attentionCpu(shape, inputs), rows);
    const expected = attentionCpuRows(shape, inputs, rows);
    for (const name of ['scores', 'weights', 'output'] as const) {
      expect(picked[name]!.length).toBe(expected[name].length);
      picked[name]!.forEach((v, i) => {
        const e = expected[name][i];
        if (e === -Infinity) expect(v).toBe(-Infinity);
        else expect(Math.abs(v - e)).toBeLessThan(1e-6);
      });
    }
    expect(pickRows(shape, { output: new Float32Array(9 * 8) }, rows)).toEqual({ output: new Float32Array(3 * 8) });
  });
});
