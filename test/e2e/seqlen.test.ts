// The sequence-length control is never dead (issue 16, item 7): on the model view its range shows
// the model's context on the slider and offers the ways past it right there; in the explorer a
// sentence scales like any input (the user's words first and marked, then the corpus generator's
// text); and no main-thread task takes over 100 ms while seqLen changes, on either view. Long
// tasks come from the browser's own PerformanceObserver ('longtask'), not from the app.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright';
import { ARTIFACTS, canvasShot, hoverAt, shot, useBrowser, verdict } from './browser';

/** SwiftShader runs the model and the kernels in seconds, not the 1 s expect.poll waits by default. */
const POLL = { timeout: 120_000 };
/** The budget for one main-thread task while seqLen changes. */
const LONG_TASK_MS = 100;

const browser = useBrowser();

interface LongTask {
  start: number;
  duration: number;
}

/** Open the app with every long task recorded from the first script on. */
async function openWatched(query: string): Promise<{ page: Page; errors: string[] }> {
  const page = await browser().newPage({ viewport: { width: 1280, height: 800 } });
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' && !/favicon/.test(message.text())) errors.push(`console: ${message.text()}`);
  });
  await page.addInitScript(() => {
    const w = window as unknown as { __longTasks: LongTask[] };
    w.__longTasks = [];
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) w.__longTasks.push({ start: entry.startTime, duration: entry.duration });
    }).observe({ type: 'longtask', buffered: true });
  });
  const { inject } = await import('vitest');
  await page.goto(`${inject('baseUrl')}${query}`);
  return { page, errors };
}

/** Long tasks that started after `since` (performance.now() in the page). */
async function longTasksSince(page: Page, since: number): Promise<LongTask[]> {
  return page.evaluate((t0) => (window as unknown as { __longTasks: LongTask[] }).__longTasks.filter((t) => t.start >= t0), since);
}

/** Let startup work (model load, shader compilation) settle, then return the page's clock. */
async function settle(page: Page): Promise<number> {
  await page.waitForTimeout(1000);
  return page.evaluate(() => performance.now());
}

/** Drag the log-scale slider from `from` to `to` (fractions of its width), as a user would. */
async function drag(page: Page, from: number, to: number): Promise<void> {
  const box = (await page.getByTestId('seq-len-slider').boundingBox())!;
  const y = box.y + box.height / 2;
  await page.mouse.move(box.x + box.width * from, y);
  await page.mouse.down();
  for (let i = 1; i <= 8; i++) await page.mouse.move(box.x + box.width * (from + ((to - from) * i) / 8), y);
  await page.mouse.up();
}

/** Type a length into the number box and commit it. */
async function typeSeqLen(page: Page, value: number): Promise<void> {
  await page.getByTestId('seq-len').fill(String(value));
  await page.getByTestId('seq-len').press('Enter');
}

function report(view: string, tasks: LongTask[]): void {
  const max = tasks.reduce((m, t) => Math.max(m, t.duration), 0);
  console.info(`[e2e] ${view}: ${tasks.length} long tasks while seqLen changed, max ${Math.round(max)} ms: ${JSON.stringify(tasks.map((t) => Math.round(t.duration)))}`);
}

/**
 * Sweep the pointer over the canvas and collect the readouts of the cells it finds (query, key
 * and their origins, and the readout's text), until `enough` says so or the sweep ends.
 */
async function sweepHover(page: Page, enough: (seen: Array<Record<string, string>>) => boolean): Promise<Array<Record<string, string>>> {
  const seen: Array<Record<string, string>> = [];
  for (const fy of [0.5, 0.4, 0.6, 0.3, 0.7, 0.45, 0.55, 0.35, 0.65]) {
    for (const fx of [0.3, 0.4, 0.5, 0.6, 0.7, 0.35, 0.45, 0.55, 0.65]) {
      const data = await hoverAt(page, fx, fy);
      if (data.query === undefined || data.weight === undefined) continue;
      seen.push(data);
      if (enough(seen)) return seen;
    }
  }
  return seen;
}

async function modelTokens(page: Page): Promise<number> {
  return Number(((await page.getByTestId('model-token-count').textContent()) ?? '').match(/\d+/)![0]);
}

describe('the model view: the context on the slider, the ways past it beside it', () => {
  it('past the context from the URL a message names seqLen; the slider ends at the context, labelled; seqLen changes recompute with no task over 100 ms', async () => {
    // Opened past the context (one page for both parts: each opening compiles the model's kernels).
    const { page, errors } = await openWatched('?seqLen=300');
    expect(await verdict(page)).toBe('pass');
    const messages = (await page.getByTestId('messages').textContent()) ?? '';
    expect(messages).toContain('seqLen');
    expect(messages).toContain('300');
    expect(messages).toContain('2 to 128');
    expect(await modelTokens(page)).toBe(32);
    // The landing view ran at its default length; the offer beside the slider keeps the asked one.
    await expect.poll(() => page.getByTestId('past-context').textContent(), POLL).toContain('you asked for 300');
    expect(await page.getByTestId('past-context').textContent()).toContain('Random inputs at 300');
    const slider = page.getByTestId('seq-len-slider');
    expect(await slider.isEnabled()).toBe(true);
    // log2 scale: the slider's end is the model's context, 128, and says so on the slider.
    expect(2 ** Number(await slider.getAttribute('max'))).toBe(128);
    expect(await page.getByTestId('seq-len-max').textContent()).toContain('context 128');
    expect(await page.getByTestId('past-context').textContent()).toContain('longer-context model');

    const since = await settle(page);
    await drag(page, 0.3, 0.95);
    for (const value of [48, 96, 128, 20, 64]) {
      await typeSeqLen(page, value);
      await page.waitForTimeout(80);
    }
    await slider.focus();
    for (let i = 0; i < 6; i++) await page.keyboard.press('ArrowRight');
    // Each arrow step commits (log2 steps of 0.05 from 64: 66, 68, …); the last one wins.
    const last = Number(await page.getByTestId('seq-len').inputValue());
    expect(last).toBe(Math.round(2 ** (6 + 6 * 0.05)));
    await expect.poll(() => modelTokens(page), POLL).toBe(last);
    expect(await verdict(page)).toBe('pass');
    await page.waitForTimeout(500);
    const tasks = await longTasksSince(page, since);
    report('model view', tasks);
    await page.getByTestId('seq-control').screenshot({ path: join(ARTIFACTS, 'seqlen-model-slider.png') });
    expect(tasks.filter((t) => t.duration > LONG_TASK_MS)).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  });

  // Typing a length past the context on the landing view (the offer beside the slider, no
  // error, the view kept, and its button taking the explorer to that length) is asserted in
  // test/e2e/model.test.ts ('above the context the slider says so…'), on the page it shares.
});

describe('the explorer: a sentence scales like any input', () => {
  // The explorer's sentence view, opened once for the two tests that start from it: the first
  // reads the view as it opens, then leaves it at 48 tokens; the second sets its own lengths.
  let page: Page;
  let errors: string[];
  beforeAll(async () => {
    ({ page, errors } = await openWatched('?mode=explorer'));
  });
  afterAll(async () => {
    await page?.close();
  });

  it('opens on the sentence with a live slider; longer lengths continue it, the user words marked; no task over 100 ms', async () => {
    expect(await verdict(page)).toBe('pass');
    const slider = page.getByTestId('seq-len-slider');
    expect(await slider.isEnabled()).toBe(true);
    expect(await page.getByTestId('seq-len').inputValue()).toBe('6');
    expect(await page.getByTestId('sentence-tokens').locator('mark').allTextContents()).toEqual(['The', 'cat', 'sat', 'on', 'the', 'mat']);

    const since = await settle(page);
    await drag(page, 0.2, 0.5);
    for (const value of [64, 512, 4096, 1000, 48]) {
      await typeSeqLen(page, value);
      await page.waitForTimeout(80);
    }
    await expect.poll(() => page.getByTestId('timings').textContent(), POLL).toContain('2×48×48');
    expect(await verdict(page)).toBe('pass');
    await expect.poll(() => page.getByTestId('verify-status').textContent(), POLL).toContain('2×48×48');
    await page.waitForTimeout(500);
    const tasks = await longTasksSince(page, since);
    report('explorer', tasks);
    expect(page.url()).toContain('seqLen=48');
    // The user's six words first and marked, then 42 tokens of the corpus generator's text.
    const line = page.getByTestId('sentence-tokens');
    expect(await line.locator('mark').allTextContents()).toEqual(['The', 'cat', 'sat', 'on', 'the', 'mat']);
    expect(await line.textContent()).toContain('6 yours, 42 continued');
    await page.getByTestId('seq-control').screenshot({ path: join(ARTIFACTS, 'seqlen-explorer-slider.png') });
    expect(tasks.filter((t) => t.duration > LONG_TASK_MS)).toEqual([]);
    expect(errors).toEqual([]);
  });

  it("the user's words stand apart on the 3D view's labels and in the hover readout ('yours' or 'continued')", async () => {
    expect(await verdict(page)).toBe('pass');
    // 16 tokens (labels show words up to 32): the six words, '.', then nine continued.
    await typeSeqLen(page, 16);
    await expect.poll(() => page.getByTestId('timings').textContent(), POLL).toContain('2×16×16');
    expect(await verdict(page)).toBe('pass');
    expect(await page.getByTestId('sentence-tokens').textContent()).toContain('6 yours, 10 continued');
    const seen = await sweepHover(page, (cells) => cells.some((c) => c.queryOrigin === 'yours') && cells.some((c) => c.queryOrigin === 'continued'));
    expect(seen.length).toBeGreaterThan(0);
    for (const cell of seen) {
      expect(cell.queryOrigin, `query ${cell.query}`).toBe(Number(cell.query) < 6 ? 'yours' : 'continued');
      expect(cell.keyOrigin, `key ${cell.key}`).toBe(Number(cell.key) < 6 ? 'yours' : 'continued');
      expect(cell.text).toContain(`· ${cell.queryOrigin}`);
    }
    expect(seen.map((c) => c.queryOrigin)).toEqual(expect.arrayContaining(['yours', 'continued']));
    await shot(page, 'seqlen-explorer-your-words');
    await canvasShot(page, 'seqlen-explorer-your-words');
    // The words alone: nothing continued, so nothing is marked.
    await typeSeqLen(page, 6);
    await expect.poll(() => page.getByTestId('timings').textContent(), POLL).toContain('2×6×6');
    const plain = await sweepHover(page, (cells) => cells.length > 0);
    expect(plain.length).toBeGreaterThan(0);
    expect(plain[0].queryOrigin).toBeUndefined();
    expect(plain[0].text).not.toMatch(/· (yours|continued)/);
    expect(errors).toEqual([]);
  });

  // The lessons' worked example, whose length is fixed (the slider disabled, the note saying
  // so), is asserted on the cat-sat page that test/e2e/app.test.ts opens anyway.
  it('a length never set follows the input (64 for random inputs)', async () => {
    const fresh = await openWatched('?mode=explorer');
    expect(await verdict(fresh.page)).toBe('pass');
    await fresh.page.getByTestId('input-kind').locator('select').selectOption({ label: 'Seeded random' });
    await expect.poll(() => fresh.page.getByTestId('timings').textContent(), POLL).toContain('2×64×64');
    expect(await fresh.page.getByTestId('seq-len').inputValue()).toBe('64');
    expect(await fresh.page.getByTestId('sentence-tokens').isVisible()).toBe(false);
    expect(fresh.errors).toEqual([]);
    await fresh.page.close();
  });
});
