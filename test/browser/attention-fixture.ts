/**
 * What the attention browser tests share: the f64-reference check of one run, the worst error
 * per stage over a file (printed at its end), and the device's subgroup facts read straight
 * from GPUDevice (they decide which tests run, so they must not come from src/kernels/tuning).
 */
import { afterAll, expect } from 'vitest';
import { attentionCpu, makeRandomInputs, verifyAttention, type AttentionShape, type GpuAttention, type VerificationReport } from '../../src/index';

/** Worst error per stage over every shape run in this file (see {@link reportWorstErrors}). */
const worst: Record<string, { abs: number; rel: number; shape: string }> = {};
/** Keep the worst error per stage of `report`. */
export function record(shape: AttentionShape, report: VerificationReport): void {
  const label = JSON.stringify(shape);
  for (const stage of report.stages) {
    const current = worst[stage.name];
    if (!current || stage.maxAbsErr > current.abs) worst[stage.name] = { abs: stage.maxAbsErr, rel: stage.maxRelErr, shape: label };
  }
  const rows = worst.rowSum;
  if (!rows || report.rowSum.maxErr > rows.abs) worst.rowSum = { abs: report.rowSum.maxErr, rel: 0, shape: label };
}

/** Print the worst error per stage of the file after its last test (call once at the top). */
export function reportWorstErrors(): void {
  afterAll(() => {
    console.info('[gpu] worst error per stage (GPU vs f64 reference):');
    for (const [name, w] of Object.entries(worst)) console.info(`  ${name.padEnd(8)} max abs ${w.abs.toExponential(2)}  max rel ${w.rel.toExponential(2)}  at ${w.shape}`);
  });
}

/** What failed in `report`, for an assertion message. */
export function describeFailure(report: VerificationReport): string {
  return report.stages
    .filter((s) => !s.pass)
    .map((s) => `${s.name}: ${s.failures} failures, worst [${s.worstIndex}] ${s.worstActual} vs ${s.worstExpected} (atol ${s.tolerance.atol.toExponential(2)})`)
    .concat(report.rowSum.pass ? [] : [`row sums: ${report.rowSum.maxErr}`])
    .join('; ');
}

/** Run `shape` with seed `seed` on `on`, check it against the f64 reference, and record its errors. */
export async function check(on: GpuAttention, shape: AttentionShape, seed = 1): Promise<VerificationReport> {
  const inputs = makeRandomInputs(shape, seed);
  const gpuResult = await on.run(shape, inputs);
  const reference = attentionCpu(shape, inputs);
  const report = verifyAttention(shape, gpuResult, reference);
  record(shape, report);
  expect(report.pass, describeFailure(report)).toBe(true);
  for (const stage of ['projections', 'scores', 'softmax', 'output', 'total'] as const) {
    expect(gpuResult.timings[stage]).toBeGreaterThanOrEqual(0);
  }
  return report;
}

type AdapterInfoWithSubgroups = GPUAdapterInfo & { subgroupMinSize?: number; subgroupMaxSize?: number; isFallbackAdapter?: boolean };

/**
 * What the device says about itself, read straight from GPUDevice (features, adapterInfo), not
 * through src/kernels/tuning: these decide which tests run and which are skipped, so they must
 * not come from the code under test.
 */
export function subgroupFacts(device: GPUDevice) {
  const info = (device as GPUDevice & { adapterInfo?: AdapterInfoWithSubgroups }).adapterInfo;
  const has = device.features.has('subgroups' as GPUFeatureName);
  const min = info?.subgroupMinSize;
  const max = info?.subgroupMaxSize;
  const text = [info?.vendor, info?.architecture, info?.device, info?.description].filter(Boolean).join(' ') || 'unknown adapter';
  // CPU implementations of WebGPU, by the names their adapters report.
  const software = /swiftshader|llvmpipe|lavapipe|warp|software|basic render/i.test(text) || info?.isFallbackAdapter === true;
  return { has, min, max, text, software, fourLanes: has && min === 4 && max === 4 };
}

/** Why lane tiles cannot run on a device (for skip notes). */
export function laneTilesMissing(facts: ReturnType<typeof subgroupFacts>): string {
  if (!facts.has) return `this device (${facts.text}) has no 'subgroups' feature`;
  if (facts.min === undefined || facts.max === undefined) return `this adapter (${facts.text}) does not report its subgroup sizes`;
  return `this adapter's (${facts.text}) subgroups are ${facts.min === facts.max ? `${facts.min}` : `${facts.min}–${facts.max}`} lanes wide`;
}

