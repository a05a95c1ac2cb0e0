import { describe, expect, it } from 'vitest';
import { canvasShot, openApp, shot, useBrowser, verdict } from './browser';

const browser = useBrowser();

describe('never break', () => {
  it('a lost GPU device is reported, and device, kernels and scene are recreated without a reload', async () => {
    const { page } = await openApp(browser(), '?input=random&seqLen=200&heads=2&dModel=32&dHead=16');
    expect(await verdict(page)).toBe('pass');
    await page.evaluate(() => (window as unknown as { attentionLens: { loseDevice(): void } }).attentionLens.loseDevice());
    await expect.poll(() => page.evaluate(() => (window as unknown as { attentionLens: { recoveries: number } }).attentionLens.recoveries), { timeout: 60_000 }).toBe(1);
    await expect.poll(() => page.getByTestId('messages').textContent(), { timeout: 60_000 }).toContain('Recovered from a lost GPU device');
    expect(await verdict(page)).toBe('pass');
    await expect.poll(() => page.getByTestId('verify-status').getAttribute('data-state'), { timeout: 60_000 }).toBe('pass');
    const { colours } = await canvasShot(page, 'after-device-loss');
    expect(colours).toBeGreaterThan(40);
    expect(await page.getByTestId('adapter').textContent()).not.toContain('lost');
    await shot(page, 'after-device-loss');
    await page.close();
  });
});

describe('maps that do not fit', () => {
  it('switch to the fused path, say so, draw the reduced weights and verify sampled rows', async () => {
    // 16 heads × 4100² entries × 4 bytes = 1.08 GB: more than one 1 GiB storage buffer.
    const { page, errors } = await openApp(browser(), '?input=random&seqLen=4100&heads=16&dModel=4&dHead=1');
    expect(await verdict(page, 170_000)).toBe('pass');
    expect(await page.getByTestId('messages').textContent()).toContain('fused path');
    expect(await page.getByTestId('legend').textContent()).toContain('fused path');
    expect(await page.getByTestId('verify-status').textContent()).toContain('sampled query rows');
    expect(await page.getByTestId('timings').textContent()).toContain('16×4100×4100');
    expect(await page.getByTestId('stage').locator('button[data-stage="raw"]').isDisabled()).toBe(true);
    const { colours } = await canvasShot(page, 'fused');
    expect(colours).toBeGreaterThan(40);
    await shot(page, 'fused');
    expect(errors).toEqual([]);
    await page.close();
  });
});
