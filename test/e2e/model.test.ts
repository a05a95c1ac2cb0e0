// The landing view: the trained model (public/models/tiny-stories/model.safetensors) on the
// lessons' sentence, every layer × head, measured head labels, every layer verified against the
// f64 reference, selectors, hover with the model's next-token predictions, seqLen, the user's
// own sentence, the context limit, and a failed model fetch. Expected values come from the
// checkpoint read in Node and the f64 forward reference (src/model/forward-reference.ts), not from the page.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright';
import { DEFAULT_MODEL_STATE } from '../../src/app/state';
import { measureHeads, inductionProbeFor } from '../../src/app/head-scores';
import { modelInput } from '../../src/app/model-input';
import { topPredictions } from '../../src/app/model-view';
import { readCheckpoint } from '../../src/model/checkpoint';
import { forwardReference, type GptTrace } from '../../src/model/forward-reference';
import { makeVocabulary } from '../../src/model/vocab';
import { join } from 'node:path';
import { ARTIFACTS, canvasPoint, canvasShot, hoverAt, hoverQkPoint, openApp, shot, useBrowser, verdict } from './browser';

const checkpoint = readCheckpoint(readFileSync('public/models/tiny-stories/model.safetensors'));
const { config } = checkpoint;
const vocab = makeVocabulary(checkpoint.vocab!);

/** The reference of what the page should show for a text and seqLen. */
function expected(text: string, seqLen: number): { ids: number[]; words: string[]; trace: GptTrace } {
  const input = modelInput(text, seqLen, DEFAULT_MODEL_STATE.seed, vocab, config.context);
  return { ids: input.ids, words: input.words, trace: forwardReference(config, checkpoint.params, input.ids) };
}

/** SwiftShader runs the model and draws in seconds, not the 1 s expect.poll waits by default. */
const POLL = { timeout: 60_000 };

const browser = useBrowser();

/** Sweep the pointer over the canvas until the readout names a cell; returns its dataset. */
async function hoverSomeCell(page: Page, where: Array<[number, number]> = []): Promise<Record<string, string>> {
  const points: Array<[number, number]> = [...where];
  for (const fy of [0.5, 0.45, 0.55, 0.4, 0.6, 0.35, 0.65]) for (const fx of [0.5, 0.45, 0.55, 0.4, 0.6, 0.35, 0.65]) points.push([fx, fy]);
  for (const [fx, fy] of points) {
    const cell = await hoverAt(page, fx, fy);
    if (cell.predictions !== undefined) return cell;
  }
  throw new Error('no position over the canvas produced a model hover readout');
}

async function tokenCount(page: Page): Promise<number> {
  return Number(((await page.getByTestId('model-token-count').textContent()) ?? '').match(/\d+/)![0]);
}

/** The sentence the input test types (read back by the seqLen test that follows it on the same page). */
const SENTENCE = 'The dog chased the cat into the garden';

// One page for the landing view's tests: opening it loads the checkpoint, runs every layer on
// the GPU and verifies it against the f64 reference, which is most of what a test here costs.
// The tests take turns on it in the order written (Vitest runs a file's tests in order), each
// leaving the view where the next expects it: the selectors go back to every layer × head, the
// context test comes back to the model at 32 tokens, the sentence test leaves SENTENCE in, and
// the seqLen test reads that sentence.
describe('the landing view: one page, in turn', () => {
  let page: Page;
  let errors: string[];
  beforeAll(async () => {
    ({ page, errors } = await openApp(browser()));
  });
  afterAll(async () => {
    await page?.close();
  });

  it('opens on the model: every layer × head drawn and labelled, every layer verified', async () => {
    expect(await verdict(page)).toBe('pass');
    const card = await page.getByTestId('model-card').textContent();
    expect(card).toContain('Trained model');
    expect(card).toContain(`${config.layers} layers × ${config.heads} heads`);
    expect(card).toContain(`${vocab.tokens.length}-token vocabulary`);
    expect(await page.getByTestId('mode').locator('[aria-pressed="true"]').textContent()).toBe('Trained model');
    // Verification: a passing row for each layer's six tensors and the logits.
    const rows = page.getByTestId('verify-status').locator('tbody tr');
    expect(await rows.count()).toBe(6 * config.layers + 1);
    expect(await page.getByTestId('verify-status').locator('tr[data-pass="false"]').count()).toBe(0);
    for (let layer = 0; layer < config.layers; layer++) {
      for (const stage of ['q', 'k', 'v', 'scores', 'weights', 'attn']) {
        expect(await page.getByTestId('verify-status').locator(`tr[data-layer="${layer}"][data-stage="${stage}"]`).getAttribute('data-pass'), `L${layer} ${stage}`).toBe('true');
      }
    }
    // The tokens: <eos>, the sentence, then corpus sentences up to 32.
    const reference = expected(DEFAULT_MODEL_STATE.text, DEFAULT_MODEL_STATE.seqLen);
    expect(await tokenCount(page)).toBe(32);
    expect(await page.getByTestId('model-tokens').textContent()).toContain(reference.words.slice(1).join(' '));
    // Head labels: measured from the reference's maps here, and equal to the page's (2 decimals).
    const probe = inductionProbeFor(vocab, config);
    const probeTrace = forwardReference(config, checkpoint.params, probe.tokens);
    const reports = measureHeads(reference.trace.layers.map((l) => l.weights), reference.ids, probeTrace.layers.map((l) => l.weights), probe.tokens, config.heads);
    const table = page.getByTestId('head-scores');
    for (const r of reports) {
      const row = table.locator(`tr[data-layer="${r.layer}"][data-head="${r.head}"]`);
      const cells = await row.locator('td').allTextContents();
      expect(cells[0]).toBe(`L${r.layer} H${r.head}`);
      expect(Number(cells[1]), `L${r.layer} H${r.head} previous`).toBeCloseTo(r.scores.previousToken, 2);
      expect(Number(cells[2]), `L${r.layer} H${r.head} induction`).toBeCloseTo(r.scores.induction, 2);
      expect(Number(cells[3]), `L${r.layer} H${r.head} first`).toBeCloseTo(r.scores.firstToken, 2);
      expect(Number(cells[4]), `L${r.layer} H${r.head} entropy`).toBeCloseTo(r.scores.entropy, 2);
      console.info(`[model] L${r.layer} H${r.head}: prev ${r.scores.previousToken.toFixed(2)} induction ${r.scores.induction.toFixed(2)} first ${r.scores.firstToken.toFixed(2)} entropy ${r.scores.entropy.toFixed(2)} → ${r.labels.join(', ')}`);
    }
    // The shipped model has an induction head (measured here by the reference on the probe): the
    // page labels it so, and says nothing about a missing one.
    const inductionHead = reports.reduce((best, r) => (r.scores.induction > best.scores.induction ? r : best));
    expect(inductionHead.scores.induction).toBeGreaterThanOrEqual(0.5);
    const labels = await table.locator(`tr[data-layer="${inductionHead.layer}"][data-head="${inductionHead.head}"] td.labels`).textContent();
    expect(labels).toContain('induction');
    expect(await page.getByTestId('no-induction').count()).toBe(0);
    const timings = await page.getByTestId('timings').textContent();
    console.info(`[model] timings: GPU ${await page.getByTestId('model-gpu-ms').textContent()} vs CPU f64 ${await page.getByTestId('model-cpu-ms').textContent()}`);
    expect(timings).toContain('CPU f64 reference');
    expect(await page.getByTestId('model-gpu-ms').textContent()).toMatch(/ms|s$/);
    expect(await page.getByTestId('model-cpu-ms').textContent()).toMatch(/ms|s$/);
    const { png, colours } = await canvasShot(page, 'model-landing');
    expect(colours).toBeGreaterThan(40);
    await shot(page, 'model-landing');
    // The formation chart: drawn from the training log, its caption naming the step the log records.
    const log = JSON.parse(readFileSync('public/models/tiny-stories/training-log.json', 'utf8')) as { inductionCrossed: { step: number; layer: number; head: number } };
    await expect.poll(() => page.getByTestId('formation-chart').locator('canvas').count(), POLL).toBeGreaterThan(0);
    const caption = (await page.getByTestId('formation-caption').textContent()) ?? '';
    expect(caption).toContain(`L${log.inductionCrossed.layer} H${log.inductionCrossed.head} became an induction head at step ${log.inductionCrossed.step.toLocaleString('en-US')}`);
    await page.getByTestId('formation').scrollIntoViewIfNeeded();
    await shot(page, 'model-formation');
    await page.getByTestId('model-card').evaluate((card) => card.scrollIntoView());
    expect(errors).toEqual([]);
    void png;
  });

  it('every layer × head is drawn and pickable; clicking one opens it; layer and head selectors change the map', async () => {
    expect(await verdict(page)).toBe('pass');
    expect(await page.getByTestId('surface-canvas').getAttribute('data-shown')).toBe('all');
    const reference = expected(DEFAULT_MODEL_STATE.text, DEFAULT_MODEL_STATE.seqLen);
    const T = reference.ids.length;
    // Sweep the canvas: every surface of the model view answers hover with its own layer and head.
    const seen = new Map<string, [number, number]>();
    for (let fy = 0.32; fy <= 0.8 && seen.size < config.layers * config.heads; fy += 0.07) {
      for (let fx = 0.12; fx <= 0.9 && seen.size < config.layers * config.heads; fx += 0.06) {
        const cell = await hoverAt(page, fx, fy);
        if (cell.layer === undefined) continue;
        const key = `${cell.layer},${cell.modelHead}`;
        if (!seen.has(key)) seen.set(key, [fx, fy]);
      }
    }
    expect([...seen.keys()].sort(), 'every layer × head surface answers hover').toEqual(
      Array.from({ length: config.layers * config.heads }, (_, i) => `${Math.floor(i / config.heads)},${i % config.heads}`).sort(),
    );
    // Hover: the readout's weight is the reference's at that layer, head, query and key; the
    // top-5 predictions are the softmax of the reference's logits row of that query.
    const cell = await hoverSomeCell(page, [seen.get('1,2')!]);
    const [layer, head, q, k] = [cell.layer, cell.modelHead, cell.query, cell.key].map(Number);
    expect(Number(cell.weight)).toBeCloseTo(reference.trace.layers[layer].weights[(head * T + q) * T + k], 5);
    const top = topPredictions(reference.trace.logits, q, vocab.tokens, 5);
    const shown = JSON.parse(cell.predictions) as Array<[string, number]>;
    expect(shown.map(([token]) => token)).toEqual(top.map((p) => p.token));
    shown.forEach(([, p], i) => expect(p).toBeCloseTo(top[i].probability, 4));
    const readoutText = await page.getByTestId('hover-readout').textContent();
    expect(readoutText).toContain(`L${layer} H${head}`);
    expect(readoutText).toContain(`${(top[0].probability * 100).toFixed(1)}%`);
    await shot(page, 'model-hover');
    // Click L1 H2's surface: it opens as the one large surface, with L1 and H2 pressed.
    const [cx, cy] = seen.get('1,2')!;
    await page.mouse.click(...(await canvasPoint(page, cx, cy)));
    await expect.poll(() => page.getByTestId('surface-canvas').getAttribute('data-shown'), POLL).toBe('L1 H2');
    expect(await page.getByTestId('layer').locator('[aria-pressed="true"]').textContent()).toBe('L1');
    expect(await page.getByTestId('head').locator('[aria-pressed="true"]').textContent()).toBe('H2');
    expect(page.url()).toContain('head=2');
    expect(page.url()).toContain('layer=1');
    const l1h2 = await hoverSomeCell(page);
    expect([l1h2.layer, l1h2.modelHead]).toEqual(['1', '2']);
    const at = (h: number, c: Record<string, string>) => (h * T + Number(c.query)) * T + Number(c.key);
    expect(Number(l1h2.weight)).toBeCloseTo(reference.trace.layers[1].weights[at(2, l1h2)], 5);
    await shot(page, 'model-l1h2');
    // The selectors: L0, then H3 — the readout at the same point now reads layer 0, head 3.
    await page.getByTestId('layer').getByRole('button', { name: 'L0' }).click();
    await page.getByTestId('head').getByRole('button', { name: 'H3' }).click();
    await expect.poll(() => page.getByTestId('surface-canvas').getAttribute('data-shown'), POLL).toBe('L0 H3');
    expect(page.url()).toContain('head=3');
    expect(page.url()).not.toContain('layer=');
    const l0h3 = await hoverSomeCell(page);
    expect([l0h3.layer, l0h3.modelHead]).toEqual(['0', '3']);
    expect(Number(l0h3.weight)).toBeCloseTo(reference.trace.layers[0].weights[at(3, l0h3)], 5);
    const { colours } = await canvasShot(page, 'model-l0h3');
    expect(colours).toBeGreaterThan(40);
    // Back to every layer × head.
    await page.getByTestId('layer').getByRole('button', { name: 'all layers × heads' }).click();
    await expect.poll(() => page.getByTestId('surface-canvas').getAttribute('data-shown'), POLL).toBe('all');
    expect(page.url()).not.toContain('head=');
    expect(errors).toEqual([]);
  });

  it('above the context the slider says so and offers the explorer at that length', async () => {
    // (This also stands for test/e2e/seqlen.test.ts's "past the context" case, which typed 300
    // on the landing view and asserted the same offer: its checks are all here.)
    expect(await tokenCount(page)).toBe(32);
    await page.getByTestId('seq-len').fill('300');
    await page.getByTestId('seq-len').press('Enter');
    // The offer sits beside the slider (no error message after the fact); the view stays.
    const past = page.getByTestId('past-context');
    await expect.poll(() => past.textContent(), POLL).toContain(`reads at most ${config.context} tokens`);
    expect(await past.textContent()).toContain('300');
    expect(await page.getByTestId('messages').textContent()).not.toContain('Invalid');
    expect(await tokenCount(page)).toBe(32);
    await shot(page, 'model-context-limit');
    await page.getByTestId('seq-control').screenshot({ path: join(ARTIFACTS, 'seqlen-model-past-context.png') });
    const offer = past.getByRole('button', { name: /Random inputs at 300/ });
    expect(await offer.getAttribute('data-testid')).toBe('past-random');
    await offer.click();
    await expect.poll(() => page.url(), POLL).toContain('mode=explorer');
    expect(await verdict(page)).toBe('pass');
    expect(page.url()).toContain('input=random');
    expect(page.url()).toContain('seqLen=300');
    expect(await page.getByTestId('timings').textContent()).toContain('×300×300');
    // And back: the model as it was.
    await page.getByTestId('mode').getByRole('button', { name: 'Trained model' }).click();
    await expect.poll(() => page.getByTestId('model-card').isVisible(), POLL).toBe(true);
    expect(await verdict(page)).toBe('pass');
    expect(await tokenCount(page)).toBe(32);
    expect(errors).toEqual([]);
  });

  it('your own sentence is read with the vocabulary; an unknown word is named and the previous view stays', async () => {
    await page.getByTestId('model-text').fill(SENTENCE);
    await page.getByTestId('model-text').press('Enter');
    await expect.poll(() => page.getByTestId('model-tokens').textContent(), POLL).toContain('8 from your text');
    expect(await verdict(page)).toBe('pass');
    expect(await tokenCount(page)).toBe(32);
    expect(await page.getByTestId('model-tokens').textContent()).toContain(expected(SENTENCE, 32).words.slice(1).join(' '));
    const before = await page.getByTestId('model-tokens').textContent();
    await page.getByTestId('model-text').fill('The zebra sat on the mta');
    await page.getByTestId('model-run').click();
    await expect.poll(() => page.getByTestId('messages').textContent(), POLL).toContain('"zebra"');
    const message = await page.getByTestId('messages').textContent();
    expect(message).toMatch(/"mta" \(did you mean mat\b/);
    expect(message).toContain(`${vocab.tokens.length}-token vocabulary`);
    expect(message).toContain('previous view is kept');
    expect(await page.getByTestId('model-tokens').textContent()).toBe(before);
    expect(page.url()).toContain('text=The+dog+chased');
    await shot(page, 'model-unknown-word');
    // Empty text: a clear message, the view stays.
    await page.getByTestId('model-text').fill('   ');
    await page.getByTestId('model-run').click();
    await expect.poll(() => page.getByTestId('messages').textContent(), POLL).toContain('Invalid text');
    expect(await page.getByTestId('model-tokens').textContent()).toBe(before);
    expect(errors).toEqual([]);
  });

  it('seqLen is live: 48 tokens extend the text and recompute; verified again', async () => {
    // The text is the sentence the test above left in (its refusals kept it).
    expect(await verdict(page)).toBe('pass');
    expect(await page.getByTestId('seq-len').isEnabled()).toBe(true);
    await page.getByTestId('seq-len').fill('48');
    await page.getByTestId('seq-len').press('Enter');
    await expect.poll(() => tokenCount(page), POLL).toBe(48);
    expect(await verdict(page)).toBe('pass');
    const reference = expected(SENTENCE, 48);
    expect(await page.getByTestId('model-tokens').textContent()).toContain(reference.words.slice(1).join(' '));
    expect(page.url()).toContain('seqLen=48');
    await page.getByTestId('seq-len').fill('12');
    await page.getByTestId('seq-len').press('Enter');
    await expect.poll(() => tokenCount(page), POLL).toBe(12);
    expect(await verdict(page)).toBe('pass');
    // Export works in model mode: the CSV of the model view holds every layer × head (layer-major).
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-csv').click()]);
    const csv = readFileSync(await download.path(), 'utf8').trim().split('\n');
    const T = 12;
    expect(csv[0]).toBe('head,query,key,query_token,key_token,score,weight');
    expect(csv).toHaveLength(1 + config.layers * config.heads * T * T);
    const short = expected(SENTENCE, T);
    // Line of layer 1, head 2, query 5, key 3: head index 1·H + 2 of the combined map.
    const combined = config.heads + 2;
    const line = csv[1 + (combined * T + 5) * T + 3].split(',');
    expect(line.slice(0, 3)).toEqual([String(combined), '5', '3']);
    expect(Number(line[6])).toBeCloseTo(short.trace.layers[1].weights[(2 * T + 5) * T + 3], 5);
    expect(errors).toEqual([]);
  });

  // The Q/K panel (issue 19) on this page (the lesson's d_head = 3 view is asserted in
  // lessons.test.ts, step 4): head L1 H1 projected by the GPU PCA, linked to the surface both
  // ways, values toggled, then the explorer in the same page; closing writes qk=0.
  it('Q·K space: GPU PCA of the head, hover links the points and the surface; values; the explorer follows', async () => {
    await page.getByTestId('qk-toggle').click();
    expect(await page.getByTestId('qk-toggle').getAttribute('aria-pressed')).toBe('true');
    await expect.poll(() => page.url()).toContain('qk=1');
    await page.getByTestId('layer').getByRole('button', { name: 'L1' }).click();
    await page.getByTestId('head').getByRole('button', { name: 'H1' }).click();
    const panel = page.getByTestId('qk-panel');
    await expect.poll(async () => (await panel.getAttribute('data-state')) === 'shown' && ((await panel.locator('header').textContent()) ?? '').includes('L1 H1'), POLL).toBe(true);
    // 12 tokens (the length the test above left) of a d_head = 16 head: every query and key drawn, projected on the GPU.
    expect(await panel.getAttribute('data-raw')).toBe('false');
    expect(await panel.getAttribute('data-backend')).toBe('gpu');
    expect([await panel.getAttribute('data-queries'), await panel.getAttribute('data-keys')]).toEqual(['12', '12']);
    const share = Number(await panel.getAttribute('data-share'));
    expect(share).toBeGreaterThan(0.2);
    expect(share).toBeLessThanOrEqual(1);
    const summary = (await page.getByTestId('qk-summary').textContent()) ?? '';
    expect(summary).toContain('Joint PCA of 16-dim queries and keys, on the GPU');
    expect(summary).toContain(`${(share * 100).toFixed(1)}% of the variance`);
    expect(summary).toContain('every softmax weight is unchanged');

    // Points → surface: hovering query 10 lists its strongest keys with the map's weights (those
    // of the f64 forward reference of the same tokens) and lights its row on the surface.
    const top = await hoverQkPoint(page, 'query', 10);
    expect(top).toHaveLength(5);
    const T = 12;
    const reference = expected(SENTENCE, T).trace.layers[1].weights;
    for (const [key, weight] of top) {
      expect(key).toBeLessThanOrEqual(10); // causal: no key after the query
      expect(weight).toBeCloseTo(reference[(1 * T + 10) * T + key], 4);
    }
    for (let i = 1; i < top.length; i++) expect(top[i][1]).toBeLessThanOrEqual(top[i - 1][1]);
    const canvas = page.getByTestId('surface-canvas');
    expect(await canvas.getAttribute('data-qk-query')).toBe('10');
    expect(await canvas.getAttribute('data-qk-key')).toBe(String(top[0][0]));
    await shot(page, 'qk-model');
    await page.getByTestId('qk-canvas').screenshot({ path: join(ARTIFACTS, 'qk-model-canvas.png') });

    // Surface → points: a hovered cell lights its query and key in the panel (rings: the panel's canvas changes).
    const before = await page.getByTestId('qk-canvas').screenshot();
    const cell = await hoverAt(page, 0.45, 0.55);
    expect(cell.query).toBeDefined();
    await page.evaluate(() => (window as unknown as { attentionLens: { qkIdle(): Promise<void> } }).attentionLens.qkIdle());
    expect((await page.getByTestId('qk-canvas').screenshot()).equals(before)).toBe(false);

    // Values as a third cloud on the same axes, and back.
    await page.getByTestId('qk-values').check();
    await expect.poll(() => panel.getAttribute('data-values'), POLL).toBe('12');
    await page.getByTestId('qk-values').uncheck();
    await expect.poll(() => panel.getAttribute('data-values'), POLL).toBe('0');

    // The explorer in the same page: the panel follows its head (d_head 16).
    await page.locator('[data-mode="explorer"]').click();
    await expect.poll(() => page.url(), POLL).toContain('mode=explorer');
    expect(await verdict(page)).toBe('pass');
    await expect.poll(async () => (await panel.getAttribute('data-state')) === 'shown' && ((await panel.locator('header').textContent()) ?? '').includes('head 0'), POLL).toBe(true);
    expect(await panel.getAttribute('data-raw')).toBe('false');
    expect(page.url()).toContain('qk=1');
    const { colours } = await canvasShot(page, 'qk-explorer');
    expect(colours).toBeGreaterThan(4);
    await page.getByTestId('qk-canvas').screenshot({ path: join(ARTIFACTS, 'qk-explorer-points.png') });

    // Closing writes qk=0 and gives the surface the room back.
    await page.getByTestId('qk-close').click();
    expect(await panel.isHidden()).toBe(true);
    await expect.poll(() => page.url()).toContain('qk=0');
    expect(errors).toEqual([]);
  });
});

describe('loading the model', () => {
  it('a failed fetch says so and the explorer still works', async () => {
    const page = await browser().newPage({ viewport: { width: 1280, height: 800 } });
    await page.route('**/model.safetensors', (route) => route.fulfill({ status: 404, body: 'not here' }));
    await page.goto((await import('vitest')).inject('baseUrl'));
    await expect.poll(() => page.getByTestId('messages').textContent(), POLL).toContain('could not be loaded');
    expect(await page.getByTestId('messages').textContent()).toContain('HTTP 404');
    expect(await page.getByTestId('model-status').getAttribute('data-state')).toBe('error');
    await page.getByTestId('mode').getByRole('button', { name: 'Explorer' }).click();
    // The explorer's own run: its verdict (the failed model's card may still hold a state of its
    // own for a moment after the click, so wait for the explorer's pass, not for any verdict).
    await expect.poll(() => page.getByTestId('verify-status').getAttribute('data-state'), POLL).toBe('pass');
    await page.close();
  });

  it('a bad file says which file and why', async () => {
    const page = await browser().newPage({ viewport: { width: 1280, height: 800 } });
    await page.route('**/model.safetensors', (route) => route.fulfill({ status: 200, body: Buffer.from('this is not a safetensors file at all') }));
    await page.goto((await import('vitest')).inject('baseUrl'));
    await expect.poll(() => page.getByTestId('messages').textContent(), POLL).toContain('could not be loaded');
    expect(await page.getByTestId('messages').textContent()).toContain('model.safetensors');
    await page.close();
  });
});

