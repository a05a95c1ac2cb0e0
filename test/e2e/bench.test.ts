/**
 * `npm run bench` end to end: the script serves dist/ (built by `npm run test:e2e` before
 * vitest starts), drives bench.html in headless Chromium and writes its JSON report. Small
 * sizes and two repeats keep it well under a minute on a 2-core SwiftShader machine.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { STAGE_NAMES } from '../../src/core/types';
import type { SweepReport } from '../../src/bench/sweep';

const dir = mkdtempSync(join(tmpdir(), 'attention-bench-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function runBench(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(join('node_modules', '.bin', 'tsx'), ['scripts/bench.ts', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

describe('npm run bench', () => {
  it('--sizes 64,256 --repeats 2 exits 0 and writes a JSON report with a record per size and path', async () => {
    const out = join(dir, 'bench.json');
    const { code, output } = await runBench(['--sizes', '64,256', '--repeats', '2', '--out', out]);
    console.info(output);
    expect(code, output).toBe(0);
    expect(output).toMatch(/^seqLen\s+path\s+proj ms/m);

    const report = JSON.parse(readFileSync(out, 'utf8')) as SweepReport;
    expect(report.adapter?.label).toMatch(/\S/);
    expect(report.adapter?.features).toEqual(expect.any(Array));
    expect(report.limits?.maxStorageBufferBindingSize).toBeGreaterThan(0);
    expect(report.options).toMatchObject({ sizes: [64, 256], repeats: 2 });
    expect(report.pass).toBe(true);
    expect(report.failures).toEqual([]);

    // Every path runs, or says why it cannot (the tfjs peer may lack WebGPU somewhere).
    const unavailable = new Set(report.unavailable.map((u) => u.path));
    for (const u of report.unavailable) expect(u.reason).toMatch(/\S/);
    expect(unavailable.has('gpu')).toBe(false);
    expect(unavailable.has('cpu')).toBe(false);
    for (const seqLen of [64, 256]) {
      for (const path of report.options.paths.filter((p) => !unavailable.has(p))) {
        const r = report.records.find((x) => x.seqLen === seqLen && x.path === path);
        expect(r, `${path} at ${seqLen}`).toBeDefined();
        expect(r!.timings).toHaveLength(2);
        expect(r!.median.total).toBeGreaterThan(0);
        expect(r!.median.wall).toBeGreaterThan(0);
        expect(r!.gflops).toBeGreaterThan(0);
        if (r!.median.stages) {
          const sum = STAGE_NAMES.reduce((s, name) => s + r!.median.stages![name], 0);
          for (const name of STAGE_NAMES) expect(r!.median.stages[name]).toBeGreaterThanOrEqual(0);
          // Stages run one after another inside the total (CPU: the slowest worker per stage,
          // which can be a different worker for each stage, so allow clock granularity there).
          for (const t of r!.timings) {
            const stageSum = STAGE_NAMES.reduce((s, name) => s + t.stages![name], 0);
            expect(stageSum).toBeLessThanOrEqual(t.total * 1.001 + (path === 'cpu' ? 0.5 : 0.01));
          }
          expect(sum).toBeGreaterThan(0);
        }
        expect(r!.verification.mode).toBe('full');
        expect(r!.verification.pass).toBe(true);
        for (const error of Object.values(r!.maxError ?? {})) expect(error).toBeLessThan(1e-4);
        expect(r!.maxError?.output).toBeLessThan(1e-5);
      }
    }
    expect(report.ratios.length).toBeGreaterThan(0);
    expect(report.fits.some((f) => f.path === 'gpu' && f.stage === 'total')).toBe(true);
    expect(readFileSync(out.replace(/\.json$/, '.csv'), 'utf8').split('\n')[0]).toContain('seqLen,path');
  });

  it('rejects a bad argument with exit code 2, naming the option', async () => {
    const { code, output } = await runBench(['--sizes', '64,zero']);
    expect(code).toBe(2);
    expect(output).toContain("--sizes: got 'zero'; allowed: an integer from 1 to 65536");
  });
});
