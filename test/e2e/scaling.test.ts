import { describe, expect, it } from 'vitest';
import { attentionCpuRows } from '../../src/index';
import { buildExample } from '../../src/inputs/build';
import { parseState } from '../../src/app/state';
import { openApp, shot, useBrowser, verdict } from './browser';

const browser = useBrowser();

describe('scaling the sequence length live', () => {
  it('rapid changes: the last request wins, the timings update, and no main-thread task exceeds 200 ms', async () => {
    const page = await browser().newPage({ viewport: { width: 1280, height: 800 } });
    // Record long tasks from the start; the test only judges those after the first view is up.
    await page.addInitScript(() => {
      const w = window as unknown as { __longTasks: Array<{ start: number; duration: number }> };
      w.__longTasks = [];
      new PerformanceObserver((list) => {
        for (const entry of list.getEntries()) w.__longTasks.push({ start: entry.startTime, duration: entry.duration });
      }).observe({ type: 'longtask', buffered: true });
    });
    const { inject } = await import('vitest');
    await page.goto(`${inject('baseUrl')}?input=random&seqLen=64&heads=2&dModel=32&dHead=16`);
    expect(await verdict(page)).toBe('pass');
    const timingsBefore = await page.getByTestId('timings').textContent();
    expect(timingsBefore).toContain('2×64×64');
    // Let startup work (shader compilation) settle, then watch only the interaction.
    await page.waitForTimeout(500);
    const since = await page.evaluate(() => performance.now());

    const control = page.getByTestId('seq-len');
    for (const value of ['100', '300', '1000', '200', '700', '384']) {
      await control.fill(value);
      await control.press('Enter');
      await page.waitForTimeout(60);
    }
    await expect.poll(() => page.getByTestId('timings').textContent(), { timeout: 120_000 }).toContain('2×384×384');
    expect(await verdict(page)).toBe('pass');
    await expect.poll(() => page.getByTestId('verify-status').textContent(), { timeout: 120_000 }).toContain('2×384×384');
    expect(page.url()).toContain('seqLen=384');
    expect(await control.inputValue()).toBe('384');
    const longTasks = await page.evaluate((t0) => (window as unknown as { __longTasks: Array<{ start: number; duration: number }> }).__longTasks.filter((t) => t.start >= t0), since);
    console.info(`[e2e] long tasks during the changes: ${JSON.stringify(longTasks.map((t) => Math.round(t.duration)))}`);
    expect(longTasks.filter((t) => t.duration > 200)).toEqual([]);
    await shot(page, 'scaling-last-wins');
    await page.close();
  });

  // One view for both: a long run is cancelled, the previous view is kept whole (its length,
  // URL, timings and verdict), and hovering it reads its own numbers.
  it('a long run shows progress and can be cancelled, keeping the previous view; hovering the kept view never shows the cancelled run’s numbers', async () => {
    // 1536² entries: above the app's readback limit, so hover reads cells from the GPU buffers
    // that the cancelled 8192 run may already have overwritten.
    const query = '?input=random&seqLen=1536&heads=1&dModel=32&dHead=16&seed=4';
    const { page, errors } = await openApp(browser(), query);
    expect(await verdict(page)).toBe('pass');
    const control = page.getByTestId('seq-len');
    await control.fill('8192');
    await control.press('Enter');
    await page.getByTestId('busy').waitFor({ state: 'visible' });
    expect(await page.getByTestId('busy').textContent()).toContain('8192');
    await page.getByTestId('cancel').click();
    await page.getByTestId('busy').waitFor({ state: 'hidden' });
    await expect.poll(() => page.getByTestId('seq-len').inputValue()).toBe('1536');
    expect(page.url()).toContain('seqLen=1536');
    expect(await page.getByTestId('timings').textContent()).toContain('1×1536×1536');
    // The kept view's verdict comes back (the cancelled request had set the card to "Running…").
    expect(await page.getByTestId('verify-status').getAttribute('data-state')).toBe('pass');
    expect(await page.getByTestId('verify-status').textContent()).toContain('1×1536×1536');
    const box = (await page.getByTestId('surface-canvas').boundingBox())!;
    const readout = page.getByTestId('hover-readout');
    let seen: Record<string, string> | null = null;
    let unavailable = false;
    for (const [fx, fy] of [[0.5, 0.5], [0.45, 0.55], [0.55, 0.45], [0.4, 0.6], [0.6, 0.4]]) {
      await page.mouse.move(box.x + box.width * fx, box.y + box.height * fy);
      await page.waitForTimeout(800);
      const text = (await readout.textContent()) ?? '';
      if (text.includes('not available')) {
        unavailable = true;
        break;
      }
      const data = await readout.evaluate((el) => ({ ...(el as HTMLElement).dataset }) as Record<string, string>);
      if (data.query !== undefined && data.weight !== undefined) {
        seen = data;
        break;
      }
    }
    await shot(page, 'cancel-then-hover');
    expect(unavailable || seen !== null, 'the hover readout showed neither a cell nor the not-available note').toBe(true);
    if (seen) {
      const example = buildExample(parseState(query).state);
      const row = attentionCpuRows(example.shape, example.inputs, [Number(seen.query)]);
      const key = Number(seen.key);
      expect(Number(seen.weight)).toBeCloseTo(row.weights[key], 5);
      expect(Number(seen.score)).toBeCloseTo(row.scores[key], 4);
    }
    expect(errors).toEqual([]);
    await page.close();
  });
});
