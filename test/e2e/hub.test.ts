// Real checkpoints through a local server laid out like the Hugging Face hub
// (`/<id>/resolve/main/<file>`, large files answered with a redirect as the hub's are), serving
// GPT-2-layout models synthesized here (test/shared/gpt2-checkpoint.ts; no test reaches the
// internet): ?model=…&hub=… opens one with progress, every head drawn, labelled and verified;
// a reload opens it from the browser cache with the server stopped; Cancel stops a download and
// keeps the view; broken checkpoints give clear messages and keep the last view; files picked
// from disk open too. Expected numbers come from the f64 forward reference in Node.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright';
import { MODEL_TEXT } from '../../src/app/state';
import { pretrainedInput } from '../../src/app/model-input';
import { tokenPieces } from '../../src/app/pretrained-model';
import { topPredictions } from '../../src/app/model-view';
import { forwardReference } from '../../src/model/forward-reference';
import { loadTokenizer } from '../../src/pretrained/tokenizer';
import { synthGpt2Checkpoint, type SynthCheckpoint } from '../../test/shared/gpt2-checkpoint';
import { synthLlamaCheckpoint } from '../../test/shared/llama-checkpoint';
import { llamaForwardReference } from '../../src/model/llama-reference';
import type { LlamaConfig } from '../../src/model/llama-schema';
import { startLocalHub, type LocalHub } from '../../test/shared/local-hub';
import { tinyTokenizerFiles } from '../../test/shared/tiny-tokenizer';
import { ARTIFACTS, canvasShot, hoverAt, openApp, shot, useBrowser, verdict } from './browser';

const tiny = tinyTokenizerFiles();
const config = { vocabSize: tiny.vocabSize, context: 64, dModel: 12, heads: 3, layers: 2, dMlp: 20 };
const good = synthGpt2Checkpoint({ config, seed: 7, dtype: 'F16', prefix: true, lmHead: true, maskBuffers: true });
const sharded = synthGpt2Checkpoint({ config, seed: 8, dtype: 'BF16', shards: 2, tokenizerFormat: 'vocab+merges' });
/**
 * A Llama-layout model: 4 query heads over 2 key/value heads, head_dim 6 ≠ 16 / 4, Llama 3's
 * frequency scaling, untied, F16, an 8192-token context: at 4200 tokens its maps (2 × 4 × 4200²
 * floats, 564 MB) pass the app's budget, so it runs fused there.
 */
const llamaConfig: LlamaConfig = {
  modelType: 'llama',
  vocabSize: tiny.vocabSize,
  context: 8192,
  dModel: 16,
  heads: 4,
  kvHeads: 2,
  headDim: 6,
  layers: 2,
  dMlp: 24,
  rmsNormEps: 1e-5,
  ropeTheta: 500000,
  ropeScaling: { ropeType: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalContext: 32 },
  tiedEmbeddings: false,
  qkvBias: false,
  oBias: false,
};
const llama = synthLlamaCheckpoint({ config: llamaConfig, seed: 9, dtype: 'F16', invFreq: true });
const POLL = { timeout: 90_000 };
const browser = useBrowser();

/** The models the local hub serves: good ones and each kind of broken one. */
function hubModels(): Record<string, Record<string, Uint8Array>> {
  const truncated = { ...good.files, 'model.safetensors': good.files['model.safetensors'].subarray(0, good.files['model.safetensors'].length - 100) };
  const noHeads = synthGpt2Checkpoint({ config, seed: 7, configOverrides: { n_head: undefined } }).files;
  // config.json says 16 positions; the weights have 64 rows of wpe.
  const wrongShape = { ...good.files, 'config.json': synthGpt2Checkpoint({ config: { ...config, context: 16 }, seed: 7 }).files['config.json'] };
  const noTokenizer = synthGpt2Checkpoint({ config, seed: 7, noTokenizer: true }).files;
  return { 'test/tiny-gpt2': good.files, 'test/sharded': sharded.files, 'test/tiny-llama': llama.files, 'bad/truncated': truncated, 'bad/no-heads': noHeads, 'bad/wrong-shape': wrongShape, 'bad/no-tokenizer': noTokenizer };
}

/** What the page should show for a model: the f64 reference of its input. */
const tokenizer = loadTokenizer({ tokenizerJson: tiny.tokenizerJson }, 'test');
function expected(model: SynthCheckpoint, text: string, seqLen: number) {
  const input = pretrainedInput(text, seqLen, 1, tokenizer, config.context);
  return { input, trace: forwardReference(config, model.params, input.ids) };
}

async function messages(page: Page): Promise<string> {
  return (await page.getByTestId('messages').textContent()) ?? '';
}

/** Open a model by typing its id in the picker. */
async function openTyped(page: Page, id: string): Promise<void> {
  await page.getByTestId('model-pick').selectOption('__other__');
  await page.getByTestId('model-id').fill(id);
  await page.getByTestId('model-open').click();
}

describe('models from a hub', () => {
  it('?model=&hub= opens a GPT-2-layout checkpoint with progress: every head drawn, labelled and verified; a reload opens it from the cache with the server stopped', async () => {
    let hub: LocalHub | null = await startLocalHub(hubModels(), { redirectOver: 2000 });
    try {
      const query = `?model=test/tiny-gpt2&hub=${encodeURIComponent(hub.url)}`;
      const { page, errors } = await openApp(browser(), query);
      expect(await verdict(page)).toBe('pass');
      // Every file came from the hub's layout; the weights through its redirect.
      expect(hub.requests).toContain('GET /test/tiny-gpt2/resolve/main/config.json');
      expect(hub.requests).toContain('GET /test/tiny-gpt2/resolve/main/model.safetensors');
      expect(hub.requests.some((r) => r.startsWith('GET /cdn/'))).toBe(true);
      const card = (await page.getByTestId('model-card').textContent()) ?? '';
      expect(card).toContain('test/tiny-gpt2');
      expect(card).toContain('2 layers × 3 heads');
      expect(card).toContain('stored as F16');
      // Every layer × head in the model view, each measured and labelled.
      expect(await page.getByTestId('surface-canvas').getAttribute('data-shown')).toBe('all');
      expect(await page.getByTestId('head-scores').locator('tbody tr').count()).toBe(6);
      // The tokens: <|endoftext|>, the text in the model's own pieces (leading spaces kept), then the built-in text.
      const reference = expected(good, MODEL_TEXT, 32);
      expect(await page.getByTestId('model-token-count').textContent()).toBe('32 tokens');
      expect(await page.getByTestId('model-tokens').textContent()).toContain(reference.input.words.slice(1, reference.input.textTokens + 1).join(''));
      // The page's verification card ran the f64 reference on this very model: every row passes.
      expect(await page.getByTestId('verify-status').locator('tr[data-pass="false"]').count()).toBe(0);
      // GPU vs CPU forward time of this run: the CPU column is the f32 forward in a worker.
      await expect.poll(() => page.getByTestId('model-cpu-ms').textContent(), POLL).toMatch(/\d( ms| s)$/);
      expect(await page.getByTestId('timings').textContent()).toContain('CPU f32 forward');
      // Find heads: sorting by first-token puts the head with the largest first-token share first.
      await page.getByTestId('find-heads').selectOption('firstToken');
      const firstRow = await page.getByTestId('head-scores').locator('tbody tr').first().locator('td').allTextContents();
      const shares = (await page.getByTestId('head-scores').locator('tbody tr').evaluateAll((rows) => rows.map((r) => Number(r.children[3].textContent))));
      expect(Number(firstRow[3])).toBe(Math.max(...shares));
      // …and clicking the top head opens it as the large surface; "all layers × heads" goes back to the gallery.
      await page.getByTestId('head-scores').locator('tbody tr').first().click();
      await expect.poll(() => page.getByTestId('surface-canvas').getAttribute('data-shown'), POLL).toBe(firstRow[0]);
      await page.getByTestId('layer').locator('button[data-head="-1"]').click();
      await expect.poll(() => page.getByTestId('surface-canvas').getAttribute('data-shown'), POLL).toBe('all');
      // Hover: query and key tokens, the weight, and the model's top-5 next tokens (from the reference's logits).
      let readout: Record<string, string> = {};
      for (const [fx, fy] of [[0.3, 0.5], [0.5, 0.5], [0.4, 0.6], [0.6, 0.45], [0.35, 0.4]]) {
        readout = await hoverAt(page, fx, fy);
        if (readout.query !== undefined) break;
      }
      expect(readout.query, 'a hovered cell').toBeDefined();
      const row = Number(readout.query);
      const top = topPredictions(reference.trace.logits, row, tokenPieces(config, tokenizer), 5);
      const shown = JSON.parse(readout.predictions ?? '[]') as Array<[string, number]>;
      expect(shown).toHaveLength(5);
      // The page's top token and probabilities match the f64 reference's (f32 may swap near-ties below the top).
      expect(shown[0][0]).toBe(top[0].token);
      shown.forEach(([, p], i) => expect(p).toBeCloseTo(top[i].probability, 3));
      await canvasShot(page, 'hub-model');
      await shot(page, 'hub-model');
      expect(errors).toEqual([]);

      // The second visit (a reload: the same browser profile): no network needed.
      await hub.stop();
      hub = null;
      await page.reload();
      expect(await verdict(page)).toBe('pass');
      expect(await page.getByTestId('model-card').textContent()).toContain('from the browser cache');
      await page.close();
      expect(errors).toEqual([]);
    } finally {
      await hub?.stop();
    }
  });

  it('a sharded BF16 checkpoint with vocab.json + merges.txt opens from the picker; broken ones say what is wrong and keep the view; Cancel stops a download; files picked from disk open', async () => {
    const models = hubModels();
    const hub = await startLocalHub(models, { chunkBytes: 512, chunkDelayMs: 40 });
    try {
      const { page, errors } = await openApp(browser(), `?model=test/sharded&hub=${encodeURIComponent(hub.url)}`);
      expect(await verdict(page)).toBe('pass');
      expect(hub.requests).toContain('GET /test/sharded/resolve/main/model.safetensors.index.json');
      expect(await page.getByTestId('model-card').textContent()).toContain('stored as BF16');
      const shownBefore = await page.getByTestId('model-card').locator('h2').textContent();

      const cases: Array<[string, RegExp]> = [
        ['bad/truncated', /truncated/],
        ['bad/no-heads', /n_head/],
        ['bad/wrong-shape', /wpe\.weight/],
        ['bad/no-tokenizer', /tokenizer\.json|vocab\.json/],
      ];
      for (const [id, pattern] of cases) {
        await openTyped(page, id);
        await expect.poll(() => messages(page), POLL).toMatch(pattern);
        expect(await messages(page), id).toContain('previous view is kept');
        // The last good view stays: its card, its verdict.
        expect(await page.getByTestId('model-card').locator('h2').textContent()).toBe(shownBefore);
        expect(await page.getByTestId('verify-status').getAttribute('data-state')).toBe('pass');
      }

      // Cancel mid-download: the bytes stop, the view stays.
      await openTyped(page, 'test/tiny-gpt2');
      await expect.poll(() => page.getByTestId('busy').textContent(), POLL).toMatch(/Downloading .*model\.safetensors/);
      await page.getByTestId('cancel').click();
      await expect.poll(() => messages(page), POLL).toContain('Cancelled');
      const requestsAfterCancel = hub.requests.length;
      await page.waitForTimeout(500);
      expect(hub.requests.length).toBe(requestsAfterCancel);
      expect(await page.getByTestId('model-card').locator('h2').textContent()).toBe(shownBefore);
      await shot(page, 'hub-errors');

      // Files picked from disk open as a model (the same checkpoint's files, written to a folder).
      const folder = join(ARTIFACTS, 'picked-model');
      mkdirSync(folder, { recursive: true });
      for (const [name, bytes] of Object.entries(good.files)) writeFileSync(join(folder, name), bytes);
      await page.getByTestId('model-files').setInputFiles(Object.keys(good.files).map((name) => join(folder, name)));
      await expect.poll(() => page.getByTestId('model-card').locator('h2').textContent(), POLL).not.toBe(shownBefore);
      expect(await page.getByTestId('model-card').locator('h2').textContent()).toContain('2 layers × 3 heads');
      expect(page.url()).toContain('model=files%3Adisk');
      expect(await verdict(page)).toBe('pass');
      expect(await page.getByTestId('head-scores').locator('tbody tr').count()).toBe(6);

      // A Llama-layout checkpoint (grouped-query attention, RoPE, SwiGLU) opens from the same hub:
      // the card names its key/value heads, every head is drawn and measured, the f64 check passes.
      await openTyped(page, 'test/tiny-llama');
      await expect.poll(() => page.getByTestId('model-card').locator('h2').textContent(), POLL).toContain('2 layers × 4 heads');
      expect(await verdict(page)).toBe('pass');
      const llamaCard = (await page.getByTestId('model-card').textContent()) ?? '';
      expect(llamaCard).toContain('Llama-family checkpoint — 2 layers × 4 heads, 2 key/value heads, each shared by 2 query heads (grouped-query attention), head_dim 6');
      expect(llamaCard).toContain('stored as F16');
      expect(await page.getByTestId('surface-canvas').getAttribute('data-shown')).toBe('all');
      expect(await page.getByTestId('head-scores').locator('tbody tr').count()).toBe(8);
      expect(await page.getByTestId('verify-status').locator('tr[data-pass="false"]').count()).toBe(0);
      // Hover's top-5 next tokens are the Llama reference's (its tokens: the tokenizer's start ids, the text, the built-in text).
      const llamaInput = pretrainedInput(MODEL_TEXT, 32, 1, tokenizer, llamaConfig.context);
      const llamaTrace = llamaForwardReference(llamaConfig, llama.params, llamaInput.ids);
      let hovered: Record<string, string> = {};
      for (const [fx, fy] of [[0.3, 0.5], [0.5, 0.5], [0.4, 0.6], [0.6, 0.45], [0.35, 0.4]]) {
        hovered = await hoverAt(page, fx, fy);
        if (hovered.query !== undefined) break;
      }
      expect(hovered.query, 'a hovered cell').toBeDefined();
      // The hover names the head's key/value head and the query heads sharing it; the gallery's titles carry it too.
      const hoveredHead = Number(hovered.head) % llamaConfig.heads;
      const kv = Math.floor(hoveredHead / 2);
      expect(hovered.text).toContain(`key/value headkv${kv} (H${2 * kv}–H${2 * kv + 1})`);
      const llamaTop = topPredictions(llamaTrace.logits, Number(hovered.query), tokenPieces(llamaConfig, tokenizer), 5);
      const llamaShown = JSON.parse(hovered.predictions ?? '[]') as Array<[string, number]>;
      expect(llamaShown[0][0]).toBe(llamaTop[0].token);
      llamaShown.forEach(([, p], i) => expect(p).toBeCloseTo(llamaTop[i].probability, 3));
      await canvasShot(page, 'hub-llama');
      await shot(page, 'hub-llama');

      // Past the full-map limit: 4200 tokens of the same model run every head
      // on the fused path with progress, the gallery draws each head's block maxima, and the check
      // (a layer at a time, on sampled rows, against each layer's keys and values) passes.
      await page.evaluate(() => {
        const seen: string[] = [];
        (window as unknown as { busySeen: string[] }).busySeen = seen;
        new MutationObserver(() => {
          const text = document.querySelector('[data-testid="busy"]')?.textContent ?? '';
          if (text !== '' && seen.at(-1) !== text) seen.push(text);
        }).observe(document.body, { subtree: true, childList: true, characterData: true });
      });
      await page.getByTestId('seq-len').fill('4200');
      await page.getByTestId('seq-len').press('Enter');
      await expect.poll(() => page.getByTestId('source-note').textContent(), POLL).toContain('4200 tokens on the fused path');
      expect(await verdict(page, 240_000)).toBe('pass');
      const busySeen = await page.evaluate(() => (window as unknown as { busySeen: string[] }).busySeen);
      expect(busySeen.some((text) => /every head on the fused path \(no 4200² maps\), \d+ of \d+ steps/.test(text)), busySeen.join(' | ')).toBe(true);
      expect(await page.getByTestId('source-note').textContent()).toContain('each surface is its 128 × 128 block maxima');
      expect(await page.getByTestId('surface-canvas').getAttribute('data-shown')).toBe('all');
      expect(await page.getByTestId('head-scores').locator('tbody tr').count()).toBe(8);
      // Previous-token and first-token scores on the text itself, every row, from the GPU's single weights.
      expect(await page.getByTestId('head-scores').textContent()).toContain('all on this text, every one of its 4200 rows (this run stored no maps');
      const rowsChecked = await page.getByTestId('verify-status').locator('tr').count();
      expect(rowsChecked).toBeGreaterThan(2 * 6);
      await canvasShot(page, 'hub-llama-fused');
      await shot(page, 'hub-llama-fused');
      await page.close();
      expect(errors.filter((e) => !/Failed to load resource/.test(e))).toEqual([]);
    } finally {
      await hub.stop();
    }
  });
});
