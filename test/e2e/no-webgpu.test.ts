import { describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { canvasShot, shot, useBrowser, verdict } from './browser';

const browser = useBrowser();

describe('a browser without WebGPU', () => {
  it('says so and what to do, and still computes on the CPU and draws with WebGL', async () => {
    const page = await browser().newPage({ viewport: { width: 1280, height: 800 } });
    // As in a browser that has no WebGPU at all.
    await page.addInitScript(() => Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined, configurable: true }));
    await page.goto(`${inject('baseUrl')}?input=sentence&text=The+cat+sat+on+the+mat`);
    expect(await verdict(page)).toBe('skipped');
    const messages = await page.getByTestId('messages').textContent();
    expect(messages).toContain('no WebGPU');
    expect(messages).toMatch(/Chrome|Edge|Safari|Firefox/);
    expect(await page.getByTestId('adapter').textContent()).toContain('No WebGPU');
    const { colours } = await canvasShot(page, 'no-webgpu');
    expect(colours, 'the WebGL fallback draws the CPU result').toBeGreaterThan(40);
    expect(await page.getByTestId('timings').textContent()).toContain('f64 reference took');
    await shot(page, 'no-webgpu');
    await page.close();
  });

  it('the landing view, the trained model, runs from the f64 CPU forward reference and draws with WebGL', async () => {
    const page = await browser().newPage({ viewport: { width: 1280, height: 800 } });
    await page.addInitScript(() => Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined, configurable: true }));
    await page.goto(inject('baseUrl'));
    expect(await verdict(page)).toBe('skipped');
    expect(await page.getByTestId('verify-status').textContent()).toContain('f64 reference itself is drawn');
    expect(await page.getByTestId('model-card').textContent()).toContain('on the CPU (no WebGPU)');
    expect(await page.getByTestId('model-token-count').textContent()).toBe('32 tokens');
    expect(await page.getByTestId('head-scores').locator('tbody tr').count()).toBe(8);
    expect(await page.getByTestId('model-cpu-ms').textContent()).toMatch(/ms|s$/);
    expect(await page.getByTestId('surface-canvas').getAttribute('data-shown')).toBe('all');
    const { colours } = await canvasShot(page, 'no-webgpu-model');
    expect(colours, 'the WebGL fallback draws every layer × head from the CPU reference').toBeGreaterThan(40);
    await shot(page, 'no-webgpu-model');
    await page.close();
  });
});
