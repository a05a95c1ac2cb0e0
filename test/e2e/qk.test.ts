// The Q/K panel (issue 19) on the views that are not lessons (the lesson's d_head = 3 view is
// asserted in lessons.test.ts, step 4): the trained model's head projected by the GPU PCA, linked
// to the surface both ways, then the explorer's random input in the same page.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ARTIFACTS, canvasShot, hoverAt, hoverQkPoint, openApp, shot, useBrowser, verdict } from './browser';

const browser = useBrowser();
const POLL = { timeout: 60_000 };

describe('queries and keys in one space', () => {
  it('?qk=1 on the trained model: GPU PCA of the head, hover links the points and the surface; the explorer follows', async () => {
    const { page, errors } = await openApp(browser(), '?qk=1&layer=1&head=1');
    expect(await verdict(page)).toBe('pass');
    const panel = page.getByTestId('qk-panel');
    await expect.poll(() => panel.getAttribute('data-state'), POLL).toBe('shown');
    expect(await page.getByTestId('qk-toggle').getAttribute('aria-pressed')).toBe('true');
    // 32 tokens of a d_head = 16 head: every query and key drawn, projected on the GPU.
    expect(await panel.getAttribute('data-raw')).toBe('false');
    expect(await panel.getAttribute('data-backend')).toBe('gpu');
    expect([await panel.getAttribute('data-queries'), await panel.getAttribute('data-keys')]).toEqual(['32', '32']);
    const share = Number(await panel.getAttribute('data-share'));
    expect(share).toBeGreaterThan(0.2);
    expect(share).toBeLessThanOrEqual(1);
    const summary = (await page.getByTestId('qk-summary').textContent()) ?? '';
    expect(summary).toContain('Joint PCA of 16-dim queries and keys, on the GPU');
    expect(summary).toContain(`${(share * 100).toFixed(1)}% of the variance`);
    expect(summary).toContain('every softmax weight is unchanged');
    expect(await page.getByTestId('qk-panel').locator('header').textContent()).toContain('L1 H1');

    // Points → surface: hovering query 20 lists its strongest keys with the map's weights, and
    // lights its row on the surface (the page notes the row on the surface's canvas).
    const top = await hoverQkPoint(page, 'query', 20);
    expect(top).toHaveLength(5);
    for (let i = 1; i < top.length; i++) expect(top[i][1]).toBeLessThanOrEqual(top[i - 1][1]);
    for (const [key] of top) expect(key).toBeLessThanOrEqual(20); // causal: no key after the query
    const canvas = page.getByTestId('surface-canvas');
    expect(await canvas.getAttribute('data-qk-query')).toBe('20');
    expect(await canvas.getAttribute('data-qk-key')).toBe(String(top[0][0]));
    await shot(page, 'qk-model');
    await page.getByTestId('qk-canvas').screenshot({ path: join(ARTIFACTS, 'qk-model-canvas.png') });

    // Surface → points: a hovered cell lights its query and key in the panel (drawn as rings:
    // the panel's canvas changes).
    const before = await page.getByTestId('qk-canvas').screenshot();
    const cell = await hoverAt(page, 0.45, 0.55);
    expect(cell.query).toBeDefined();
    await page.evaluate(() => (window as unknown as { attentionLens: { qkIdle(): Promise<void> } }).attentionLens.qkIdle());
    const after = await page.getByTestId('qk-canvas').screenshot();
    expect(after.equals(before)).toBe(false);

    // Values as a third cloud on the same axes, and back.
    await page.getByTestId('qk-values').check();
    await expect.poll(() => panel.getAttribute('data-values'), POLL).toBe('32');
    await page.getByTestId('qk-values').uncheck();
    await expect.poll(() => panel.getAttribute('data-values'), POLL).toBe('0');

    // The explorer in the same page: the panel follows its head (random input, d_head 16).
    await page.locator('[data-mode="explorer"]').click();
    await expect.poll(() => page.url(), POLL).toContain('mode=explorer');
    expect(await verdict(page)).toBe('pass');
    await expect.poll(async () => (await panel.getAttribute('data-state')) === 'shown' && (await panel.locator('header').textContent())?.includes('head 0'), POLL).toBe(true);
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
    await page.close();
  });
});
