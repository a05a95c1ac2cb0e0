/**
 * `npm run bench -- --model <folder>` end to end: a synthesized GPT-2-family checkpoint in the
 * hub's file layout (test/shared/gpt2-checkpoint.ts: F16, the "transformer." prefix, lm_head and
 * the mask buffers) written to a folder; the script serves it to the bench page, which loads it
 * with loadPretrained and times the GPU forward and the app's CPU forward (its worker). A tiny model keeps it to seconds
 * (`--model gpt2-shape`, GPT-2 small's shape, takes minutes on SwiftShader and is left to the
 * measurement itself).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ModelBenchReport } from '../../src/bench/model-report';
import { synthGpt2Checkpoint } from '../shared/gpt2-checkpoint';
import { tinyTokenizerFiles } from '../shared/tiny-tokenizer';

const dir = mkdtempSync(join(tmpdir(), 'attention-model-bench-'));
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

const CONFIG = { vocabSize: tinyTokenizerFiles().vocabSize, context: 24, dModel: 30, heads: 3, layers: 2, dMlp: 50 };

describe('npm run bench -- --model <folder>', () => {
  it('times a checkpoint folder at each length on GPU and CPU, checks the logits, and writes the JSON', async () => {
    const folder = join(dir, 'tiny-gpt2');
    mkdirSync(folder);
    const checkpoint = synthGpt2Checkpoint({ config: CONFIG, dtype: 'F16', prefix: true, lmHead: true, maskBuffers: true, seed: 5 });
    for (const [name, bytes] of Object.entries(checkpoint.files)) writeFileSync(join(folder, name), bytes);
    const out = join(dir, 'model.json');
    const { code, output } = await runBench(['--model', folder, '--lengths', '5,24', '--repeats', '2', '--out', out]);
    console.info(output);
    expect(code, output).toBe(0);
    expect(output).toMatch(/^seqLen\s+path\s+median ms\s+±IQR\s+tokens\/s\s+GFLOP\s+GFLOP\/s/m);
    const report = JSON.parse(readFileSync(out, 'utf8')) as ModelBenchReport;
    expect(report.kind).toBe('model');
    expect(report.model).toBe(`${folder} (F16)`);
    expect(report.config).toEqual(CONFIG);
    expect(report.adapter?.label).toMatch(/\S/);
    expect(report.linear).toMatch(/^(lanes \d+×\d+|workgroup|registers)$/);
    expect(report.cpuPath).toMatch(/^f32 forward in a worker \(wasm-f32, \d+ threads?\)$/);
    expect(report.failures).toEqual([]);
    expect(report.pass).toBe(true);
    for (const seqLen of [5, 24]) {
      for (const path of ['gpu', 'cpu'] as const) {
        const r = report.records.find((x) => x.seqLen === seqLen && x.path === path);
        expect(r, `${path} at ${seqLen}`).toBeDefined();
        expect(r!.ms).toHaveLength(2);
        expect(r!.median).toBeGreaterThan(0);
        expect(r!.gflops).toBeGreaterThan(0);
        expect(r!.tokensPerSecond).toBeCloseTo(seqLen / (r!.median / 1000), 6);
      }
      const check = report.checks.find((c) => c.seqLen === seqLen);
      expect(check?.pass).toBe(true);
      expect(check!.maxAbsErr).toBeLessThan(1e-3);
    }
    expect(report.speedups.map((s) => s.seqLen)).toEqual([5, 24]);
  });

  it('refuses a folder without config.json, and a length past the context, before a browser starts (exit 1)', async () => {
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    const missing = await runBench(['--model', empty, '--repeats', '1']);
    expect(missing.code).toBe(1);
    expect(missing.output).toContain(`--model ${empty}: not gpt2-shape and no config.json in that folder`);
    const long = await runBench(['--model', join(dir, 'tiny-gpt2'), '--lengths', '25', '--repeats', '1', '--out', join(dir, 'long.json')]);
    expect(long.code).toBe(1);
    expect(long.output).toContain("--lengths 25: past the model's context, 24 (config.json n_positions); give lengths from 1 to 24.");
    // Both were refused from config.json alone: no browser was launched.
    for (const run of [missing, long]) expect(run.output).not.toContain('[bench] adapter');
  });
});
