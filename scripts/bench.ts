/**
 * `npm run bench`: serve the built app (dist/, made by `vite build` in the npm script) with
 * `vite preview`, open bench.html in headless Chromium through Playwright, run the sweep there
 * (src/bench/sweep.ts), print the table and write the JSON report (and a CSV beside it).
 * Exits 0 when every record verified and nothing failed, 1 otherwise, 2 for bad arguments.
 *
 * Run with tsx: `tsx scripts/bench.ts --sizes 64,256 --repeats 2`.
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { chromium, type Browser } from 'playwright';
import { preview, type PreviewServer } from 'vite';
import { AttentionError } from '../src/core/errors.ts';
import { BenchArgumentError, benchUsage, parseBenchArgs, type BenchArgs } from '../src/bench/args.ts';
import { finishReport, type SweepReport } from '../src/bench/report.ts';
import { formatTable, sweepToCsv } from '../src/bench/format.ts';
import { pickSweepSettings, type Peak } from '../src/bench/registry.ts';
import type { ModelBenchSettings } from '../src/bench/model-bench.ts';
import { formatModelTable, type ModelBenchReport } from '../src/bench/model-report.ts';
import type { Page } from 'playwright';
import { chromiumArgs, requireChromium } from './chromium.ts';

/** Bench results go here by default; the timestamped files are git-ignored. */
const RESULTS_DIR = 'bench-results';

/**
 * A justified upper bound on the throughput of this machine's CPU, for a software adapter
 * (SwiftShader runs the "GPU" on the CPU): physical cores × clock × f32 SIMD lanes × 2 (a
 * fused multiply-add is 2 FLOPs) × 2 FMA pipes per core. The two pipes are an assumption (true
 * of AMD Zen and Intel Skylake and later; older or smaller cores have one, halving the peak),
 * and the base clock is used (turbo would raise it). Null when /proc/cpuinfo is not readable.
 */
export function estimateCpuPeak(): Peak | null {
  let info: string;
  try {
    info = readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return null;
  }
  const field = (name: string) => new RegExp(`^${name}\\s*:\\s*(.*)$`, 'm').exec(info)?.[1]?.trim();
  const flags = new Set((field('flags') ?? '').split(/\s+/));
  const logical = cpus().length;
  const siblings = Number(field('siblings'));
  const coresPerSocket = Number(field('cpu cores'));
  const threadsPerCore = siblings > 0 && coresPerSocket > 0 ? Math.max(1, Math.round(siblings / coresPerSocket)) : 1;
  const cores = Math.max(1, Math.round(logical / threadsPerCore));
  const mhz = cpus()[0]?.speed || Number(field('cpu MHz')) || 0;
  if (!(mhz > 0)) return null;
  const [lanes, isa] = flags.has('avx512f') ? [16, 'AVX-512'] : flags.has('avx2') || flags.has('avx') ? [8, flags.has('avx2') ? 'AVX2' : 'AVX'] : [4, 'SSE'];
  const fma = flags.has('fma');
  const perCycle = lanes * 2 * (fma ? 2 : 1);
  const ghz = mhz / 1000;
  const gflops = cores * ghz * perCycle;
  const model = field('model name') ?? 'unknown CPU';
  return {
    gflops,
    source:
      `estimate for a software adapter (it runs on the CPU: ${model}): ${cores} core${cores === 1 ? '' : 's'} × ${ghz.toFixed(2)} GHz × ` +
      `${lanes} f32 lanes (${isa}) × ${fma ? '2 (FMA) × 2 FMA pipes per core (assumed, as on Zen and Skylake+)' : '2 (separate add and multiply pipes)'}; base clock, no turbo`,
  };
}

function slug(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '') || 'unknown';
}

function defaultOut(report: SweepReport): string {
  const a = report.adapter;
  const name = a ? slug([a.vendor, a.architecture || a.device].filter(Boolean).join(' ')) : 'no-gpu';
  const stamp = report.date.replace(/[:.]/g, '-');
  return join(RESULTS_DIR, `bench-${name}-${stamp}.json`);
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new AttentionError(`${what} took longer than ${ms / 1000} s: give it more with --timeout S, or measure fewer --sizes`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function bench(args: BenchArgs): Promise<number> {
  if (args.hardware) process.env.CHROMIUM_GPU = 'hardware';
  if (!existsSync('dist/bench.html')) {
    throw new AttentionError('dist/bench.html is missing: run `npm run build` first (`npm run bench` builds for you).');
  }
  checkModelFolder(args);
  const executablePath = requireChromium();
  let server: PreviewServer | undefined;
  let browser: Browser | undefined;
  try {
    server = await preview({ preview: { port: 0, host: '127.0.0.1', strictPort: false }, logLevel: 'warn' });
    const address = server.httpServer.address();
    if (!address || typeof address === 'string') throw new AttentionError('vite preview did not report a port: is another server holding the address? Run `npx vite preview` to see why.');
    browser = await chromium.launch({ executablePath, args: chromiumArgs(), headless: true });
    const page = await browser.newPage();
    page.on('console', (message) => {
      const line = message.text();
      if (line.startsWith('[bench]')) console.log(line);
      else if (message.type() === 'error') console.error(`[page] ${line}`);
    });
    page.on('pageerror', (error) => console.error(`[page] uncaught: ${error.message}`));
    await page.goto(`http://127.0.0.1:${address.port}/bench.html`);
    await page.waitForFunction(() => window.attentionBench !== undefined, undefined, { timeout: 60_000 });
    if (args.chartFrom) {
      const saved = JSON.parse(readFileSync(args.chartFrom, 'utf8')) as SweepReport;
      await page.evaluate((report) => window.attentionBench!.chart(report), saved);
      const png = args.chartFrom.replace(/\.json$/i, '') + '.png';
      await page.locator('#chart').screenshot({ path: png });
      console.log(`wrote the chart ${png}`);
      return 0;
    }
    const ready = await page.evaluate(() => window.attentionBench!.ready);
    console.log(`[bench] adapter: ${ready.adapter?.label ?? `none (${ready.error})`}`);
    if (args.model !== null) return await benchModel(page, args, `${browser.browserType().name()} ${browser.version()}`);

    const peak: Peak | null = args.peakGflops !== null
      ? { gflops: args.peakGflops, source: '--peak-gflops' }
      : ready.adapter?.isSoftware ? estimateCpuPeak() : null;
    const settings = pickSweepSettings({ ...args, peak });
    const { report: raw } = await withTimeout(
      page.evaluate((options) => window.attentionBench!.run(options), settings),
      args.timeoutMs,
      'the sweep',
    );
    // Recomputed here from the records, so the table and the JSON come from the same code in Node.
    const report = finishReport(raw);
    const out = args.out ?? defaultOut(report);
    mkdirSync(dirname(out) || '.', { recursive: true });
    const record = {
      ...report,
      host: { browser: `${browser.browserType().name()} ${browser.version()}`, chromiumFlags: chromiumArgs(), node: process.version, cpu: cpus()[0]?.model ?? 'unknown', logicalCpus: cpus().length },
    };
    writeFileSync(out, `${JSON.stringify(record, null, 2)}\n`);
    const csv = out.replace(/\.json$/i, '') + '.csv';
    writeFileSync(csv, sweepToCsv(report));
    const png = out.replace(/\.json$/i, '') + '.png';
    await page.locator('#chart').screenshot({ path: png });
    console.log('');
    console.log(formatTable(report));
    console.log('');
    console.log(`wrote ${out}, ${csv} and the chart ${png}`);
    if (!report.pass) console.error('bench: some records failed or did not verify (see above)');
    return report.pass ? 0 : 1;
  } finally {
    await browser?.close();
    if (server) await new Promise<void>((resolve) => server!.httpServer.close(() => resolve()));
  }
}

/**
 * `--model <folder>`: what Node can check before a browser starts (seconds on a software
 * adapter): the folder holds config.json, and every length fits the context it gives.
 */
function checkModelFolder(args: BenchArgs): void {
  if (args.model === null || args.model === 'gpt2-shape' || args.model === 'smollm2-shape') return;
  const folder = args.model;
  if (!existsSync(join(folder, 'config.json'))) {
    throw new AttentionError(`--model ${folder}: not gpt2-shape and no config.json in that folder; give a folder holding config.json, model.safetensors (or the index and shards) and tokenizer.json (or vocab.json + merges.txt).`);
  }
  let config: Record<string, unknown>;
  try {
    config = JSON.parse(readFileSync(join(folder, 'config.json'), 'utf8')) as Record<string, unknown>;
  } catch (error) {
    throw new AttentionError(`--model ${folder}: config.json is not JSON (${error instanceof Error ? error.message : String(error)}).`);
  }
  // GPT-2's field (n_positions, older n_ctx); the page checks the whole config again when it loads.
  const context = config.n_positions ?? config.n_ctx;
  if (typeof context !== 'number' || !Number.isInteger(context)) return;
  const over = args.lengths.filter((length) => length > context);
  if (over.length > 0) {
    throw new AttentionError(`--lengths ${over.join(',')}: past the model's context, ${context} (config.json n_positions); give lengths from 1 to ${context}.`);
  }
}

/**
 * `--model`: the model bench in the page (src/bench/model-bench.ts); prints its table and writes
 * its JSON (bench-results/model-<adapter>-<timestamp>.json unless --out). Exit 0 when every run
 * finished and the GPU's logits agreed with the CPU's.
 */
async function benchModel(page: Page, args: BenchArgs, browserName: string): Promise<number> {
  let source: string | undefined;
  if (args.model !== 'gpt2-shape' && args.model !== 'smollm2-shape') {
    // A folder: its files are served to the page under /bench-model/, where loadPretrained reads them as from a hub mirror.
    const folder = args.model!;
    await page.route('**/bench-model/**', async (route) => {
      const file = decodeURIComponent(new URL(route.request().url()).pathname.replace(/^.*\/bench-model\//, ''));
      const path = join(folder, file);
      if (file.includes('..') || !existsSync(path)) await route.fulfill({ status: 404, body: `${file} is not in ${folder}` });
      else await route.fulfill({ status: 200, path, headers: { 'content-length': String(statSync(path).size) } });
    });
    source = new URL('/bench-model/', page.url()).href;
  }
  const settings: ModelBenchSettings = { model: args.model!, source, lengths: args.lengths, repeats: args.repeats, warmup: args.warmup, paths: [...args.paths.filter((p): p is 'gpu' | 'cpu' => p === 'gpu' || p === 'cpu'), ...(args.ort ? ['ort' as const] : [])], seed: args.seed, keep: args.model === 'smollm2-shape' && !process.argv.includes('--keep') ? 'none' : args.keep, linear: args.linear };
  const { report } = await withTimeout(page.evaluate((options) => window.attentionBench!.model(options), settings), args.timeoutMs, 'the model bench');
  const a = report.adapter;
  const name = a ? slug([a.vendor, a.architecture || a.device].filter(Boolean).join(' ')) : 'no-gpu';
  const out = args.out ?? join(RESULTS_DIR, `model-${name}-${report.date.replace(/[:.]/g, '-')}.json`);
  mkdirSync(dirname(out) || '.', { recursive: true });
  const record: ModelBenchReport & { host: object } = { ...report, host: { browser: browserName, chromiumFlags: chromiumArgs(), node: process.version, cpu: cpus()[0]?.model ?? 'unknown', logicalCpus: cpus().length } };
  writeFileSync(out, `${JSON.stringify(record, null, 2)}\n`);
  console.log('');
  console.log(formatModelTable(report));
  console.log('');
  console.log(`wrote ${out}`);
  if (!report.pass) console.error('bench: some runs failed or the GPU logits disagreed with the CPU forward (see above)');
  return report.pass ? 0 : 1;
}

async function main(): Promise<number> {
  let args: BenchArgs;
  try {
    args = parseBenchArgs(process.argv.slice(2));
  } catch (error) {
    if (error instanceof BenchArgumentError) {
      console.error(`bench: ${error.message}\nRun with --help for the options.`);
      return 2;
    }
    throw error;
  }
  if (args.help) {
    console.log(benchUsage());
    return 0;
  }
  try {
    return await bench(args);
  } catch (error) {
    console.error(`bench: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
    return 1;
  }
}

process.exitCode = await main();
