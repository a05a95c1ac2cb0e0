/**
 * Playwright helpers for the end-to-end tests: launch the system Chromium with WebGPU on
 * SwiftShader, open the app, collect console errors, and save screenshots as artifacts.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright';
import { afterAll, beforeAll, inject } from 'vitest';
import { chromiumTestArgs, requireChromium } from '../../scripts/chromium.ts';

/** Where screenshots go (kept as CI artifacts; look at them). */
export const ARTIFACTS = join('test-results', 'e2e');

export async function launch(): Promise<Browser> {
  mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launch({ executablePath: requireChromium(), args: chromiumTestArgs(), headless: true });
}

/**
 * One Chromium for the tests of a file: launched before them and closed after them (call in
 * the file's top level). The returned function gives the browser to a test.
 */
export function useBrowser(): () => Browser {
  let browser: Browser | undefined;
  beforeAll(async () => {
    browser = await launch();
  });
  afterAll(async () => {
    await browser?.close();
  });
  return () => {
    if (!browser) throw new Error('useBrowser: the browser is launched in beforeAll; use it inside a test');
    return browser;
  };
}

/** Open the app with a query string; resolves when the page says the GPU result is verified (or failed). */
export async function openApp(browser: Browser, query = '', viewport = { width: 1280, height: 800 }): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport });
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' && !/favicon/.test(message.text())) errors.push(`console: ${message.text()}`);
  });
  await page.goto(`${inject('baseUrl')}${query}`);
  return { page, errors };
}

/** Wait until the verification card has a verdict; returns it ('pass' | 'fail' | 'skipped' | 'error'). */
export async function verdict(page: Page, timeout = 120_000): Promise<string> {
  const card = page.getByTestId('verify-status');
  await page.waitForFunction(() => {
    const state = document.querySelector('[data-testid="verify-status"]')?.getAttribute('data-state');
    return state !== undefined && state !== null && state !== 'pending';
  }, undefined, { timeout });
  return (await card.getAttribute('data-state')) ?? '';
}

/** Where a fraction of the canvas lies on the page (for pointer moves). */
export async function canvasPoint(page: Page, fx: number, fy: number): Promise<[number, number]> {
  const box = (await page.getByTestId('surface-canvas').boundingBox())!;
  return [box.x + box.width * fx, box.y + box.height * fy];
}

/**
 * Move the pointer to a fraction of the canvas and return the hover readout's dataset once the
 * app has answered the move (empty when the point is off every surface). The app picks the
 * cell in the animation frame after a pointermove and fills the readout from the view's
 * arrays in the microtasks that follow, so three frames later the readout says what this
 * point shows: a point off the surfaces costs three frames, not a timeout that waits for
 * something that will never come. (Views whose cells are read back from the GPU — maps over
 * the readback limit — answer later; wait for those as the test needs.)
 */
export async function hoverAt(page: Page, fx: number, fy: number): Promise<Record<string, string>> {
  const [x, y] = await canvasPoint(page, fx, fy);
  await page.mouse.move(x, y);
  return page.evaluate(async () => {
    for (let i = 0; i < 3; i++) await new Promise((resolve) => requestAnimationFrame(resolve));
    const el = document.querySelector('[data-testid="hover-readout"]') as HTMLElement;
    return { ...el.dataset, text: el.textContent ?? '' } as Record<string, string>;
  });
}

export async function shot(page: Page, name: string): Promise<Buffer> {
  return page.screenshot({ path: join(ARTIFACTS, `${name}.png`) });
}

/** Screenshot of the canvas alone, and how many distinct colours it has (a blank canvas has ~1). */
export async function canvasShot(page: Page, name: string): Promise<{ png: Buffer; colours: number }> {
  const canvas = page.getByTestId('surface-canvas');
  const png = await canvas.screenshot({ path: join(ARTIFACTS, `${name}-canvas.png`) });
  const colours = await page.evaluate(async (base64) => {
    const blob = await (await fetch(`data:image/png;base64,${base64}`)).blob();
    const bitmap = await createImageBitmap(blob);
    const off = new OffscreenCanvas(bitmap.width, bitmap.height);
    const ctx = off.getContext('2d')!;
    ctx.drawImage(bitmap, 0, 0);
    const data = ctx.getImageData(0, 0, bitmap.width, bitmap.height).data;
    const seen = new Set<number>();
    for (let i = 0; i < data.length; i += 4 * 7) seen.add((data[i] >> 3) | ((data[i + 1] >> 3) << 5) | ((data[i + 2] >> 3) << 10));
    return seen.size;
  }, png.toString('base64'));
  return { png, colours };
}

/**
 * Hover the Q/K panel's point of token `index` of a kind (its place on the canvas from the
 * page's test hook) and return the readout's links: [key, weight] or [key, weight, q·k].
 */
export async function hoverQkPoint(page: Page, kind: 'query' | 'key', index: number): Promise<Array<[number, number, number?]>> {
  await page.evaluate(() => (window as unknown as { attentionLens: { qkIdle(): Promise<void> } }).attentionLens.qkIdle());
  const points = await page.evaluate(() => (window as unknown as { attentionLens: { qkPoints(): Array<{ kind: string; index: number; x: number; y: number }> } }).attentionLens.qkPoints());
  const point = points.find((p) => p.kind === kind && p.index === index);
  if (!point) throw new Error(`hoverQkPoint: no drawn ${kind} ${index} among ${points.length} points`);
  const box = (await page.getByTestId('qk-canvas').boundingBox())!;
  await page.mouse.move(box.x + point.x, box.y + point.y);
  const readout = page.getByTestId('qk-readout');
  await page.waitForFunction(
    ([k, i]) => {
      const el = document.querySelector('[data-testid="qk-readout"]') as HTMLElement | null;
      return el?.dataset.kind === k && el.dataset.index === String(i);
    },
    [kind, index] as const,
    { timeout: 30_000 },
  );
  return JSON.parse((await readout.getAttribute('data-top')) ?? '[]') as Array<[number, number, number?]>;
}
