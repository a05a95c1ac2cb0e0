/**
 * Import and export of .npy / .safetensors through the app: files written here in Node are
 * set on the dialog's file input, roles are guessed, Apply runs them through the normal GPU
 * path (verified against the CPU reference); bad files are refused with a message naming the
 * file and field while the previous view stays; exports read back equal to the inputs.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Download, Page } from 'playwright';
import { buildExample } from '../../src/inputs/build';
import { readNpy, writeNpy } from '../../src/inputs/npy';
import { readSafetensors } from '../../src/inputs/safetensors';
import type { Tensor } from '../../src/inputs/tensors';
import { tensorsFromInputs } from '../../src/inputs/tensor-roles';
import { makeRng, makeUniform } from '../../src/reference/random';
import { parseState } from '../../src/app/state';
import { openApp, shot, useBrowser, verdict } from './browser';

const browser = useBrowser();

/** The view the tests start from (2 heads, 16 tokens), so an import visibly replaces it. */
const START = '?input=random&seqLen=16&heads=2&dModel=16&dHead=8&seed=5';

function tensor(name: string, rows: number, cols: number, seed: number): Tensor {
  return { name, shape: [rows, cols], dtype: 'float32', data: makeUniform(makeRng(seed), rows * cols) };
}

function npyFile(t: Tensor): { name: string; mimeType: string; buffer: Buffer } {
  return { name: `${t.name}.npy`, mimeType: 'application/octet-stream', buffer: Buffer.from(writeNpy(t)) };
}

/**
 * A file's bytes as a plain Uint8Array: a Node Buffer's slice() is a view, not a copy, which
 * decodeFloats (src/inputs/float-codec.ts) assumes it is.
 */
const fileBytes = (path: string) => new Uint8Array(readFileSync(path));

const state = (page: Page) => page.getByTestId('verify-status').getAttribute('data-state');
const summary = (page: Page) => page.getByTestId('import-summary');

/** Row-softmax of Q·Kᵀ/√dHead for one head, in float64 (independent of the app's code). */
function softmaxWeights(q: Float32Array, k: Float32Array, seqLen: number, kvLen: number, width: number, head: number, dHead: number): number[][] {
  return Array.from({ length: seqLen }, (_, i) => {
    const s = Array.from({ length: kvLen }, (_, j) => {
      let dot = 0;
      for (let c = head * dHead; c < (head + 1) * dHead; c++) dot += q[i * width + c] * k[j * width + c];
      return dot / Math.sqrt(dHead);
    });
    const max = Math.max(...s);
    const e = s.map((v) => Math.exp(v - max));
    const sum = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / sum);
  });
}

/** Wait for a run of the given shape ("heads×seqLen×kvLen") to be shown and verified. */
async function expectVerifiedRun(page: Page, shapeText: string): Promise<void> {
  await expect.poll(() => page.getByTestId('timings').textContent(), { timeout: 60_000 }).toContain(shapeText);
  await expect.poll(() => state(page), { timeout: 120_000 }).toBe('pass');
}

// The START view, opened once for the imports and the refusals: each import is told apart from
// the view before it by its shape (1×6×6, then 1×4×4, then 2×5×7), and the refusals check that
// whatever view is on screen stays exactly as it was. The dialog keeps what was set in it, so the
// one import that sets heads (2) comes after those that read the files' own.
describe('on one START page, in turn', () => {
  let page: Page;
  let errors: string[];
  beforeAll(async () => {
    ({ page, errors } = await openApp(browser(), START));
    expect(await verdict(page)).toBe('pass');
  });
  afterAll(async () => {
    await page?.close();
  });

  describe('import', () => {
    it('x and W_Q/W_K/W_V as .npy files: roles guessed, applied, computed and verified', async () => {
      expect(await state(page)).toBe('pass');
      const x = tensor('x', 6, 8, 11);
      const ws = ['wq', 'wk', 'wv'].map((name, i) => tensor(name, 8, 8, 20 + i));
      await page.getByTestId('open-import').click();
      await expect.poll(() => page.getByTestId('import-dialog').isVisible()).toBe(true);
      await page.getByTestId('import-files').setInputFiles([x, ...ws].map(npyFile));
      await expect.poll(() => summary(page).getAttribute('data-state'), { timeout: 30_000 }).toBe('valid');
      expect(await summary(page).textContent()).toContain('seqLen 6, kvLen 6, dModel 8, heads 1, dHead 8');
      for (const name of ['x', 'wq', 'wk', 'wv']) {
        expect(await page.locator(`select[data-testid="import-role"][data-tensor="${name}"]`).inputValue()).toBe(name);
        expect(await page.locator(`input[data-testid="import-transpose"][data-tensor="${name}"]`).isChecked()).toBe(false);
      }
      expect(await page.getByTestId('import-tensors').textContent()).toContain('[6, 8]');
      await shot(page, 'import-dialog');
      expect(await page.getByTestId('import-apply').isEnabled()).toBe(true);
      await page.getByTestId('import-apply').click();
      await expectVerifiedRun(page, '1×6×6');
      expect(await page.getByTestId('import-dialog').isVisible()).toBe(false);
      // The numbers card shows the imported example's weights (head 0, query 0, key 0).
      const q = new Float32Array(6 * 8);
      const k = new Float32Array(6 * 8);
      for (let i = 0; i < 6; i++) {
        for (let c = 0; c < 8; c++) {
          for (let m = 0; m < 8; m++) {
            q[i * 8 + c] += x.data[i * 8 + m] * ws[0].data[m * 8 + c];
            k[i * 8 + c] += x.data[i * 8 + m] * ws[1].data[m * 8 + c];
          }
        }
      }
      const weights = softmaxWeights(q, k, 6, 6, 8, 0, 8);
      await expect.poll(() => page.getByTestId('matrix-weights').textContent()).toContain(`${(weights[0][0] * 100).toFixed(1)}%`);
      await shot(page, 'import-applied');
      expect(errors).toEqual([]);
    });

    it('files dropped on the view open the dialog and are read', async () => {
      expect(await state(page)).toBe('pass');
      const files = [tensor('x', 4, 6, 41), tensor('wq', 6, 6, 42), tensor('wk', 6, 6, 43), tensor('wv', 6, 6, 44)].map((t) => ({ name: `${t.name}.npy`, bytes: Array.from(writeNpy(t)) }));
      await page.getByTestId('surface-canvas').evaluate((canvas, list) => {
        const transfer = new DataTransfer();
        for (const f of list) transfer.items.add(new File([new Uint8Array(f.bytes)], f.name));
        for (const type of ['dragenter', 'dragover', 'drop']) canvas.dispatchEvent(new DragEvent(type, { dataTransfer: transfer, bubbles: true, cancelable: true }));
      }, files);
      await expect.poll(() => page.getByTestId('import-dialog').isVisible()).toBe(true);
      await expect.poll(() => summary(page).getAttribute('data-state'), { timeout: 30_000 }).toBe('valid');
      expect(await summary(page).textContent()).toContain('seqLen 4, kvLen 4, dModel 6, heads 1, dHead 6');
      await page.getByTestId('import-apply').click();
      await expectVerifiedRun(page, '1×4×4');
      expect(errors).toEqual([]);
    });

    it('Q and K given directly (no V: V = K) run through the identity projections exactly', async () => {
      expect(await state(page)).toBe('pass');
      const q = tensor('q', 5, 8, 31);
      const k = tensor('k', 7, 8, 32);
      await page.getByTestId('open-import').click();
      await page.getByTestId('import-files').setInputFiles([q, k].map(npyFile));
      await expect.poll(() => summary(page).getAttribute('data-state'), { timeout: 30_000 }).toBe('valid');
      await page.getByTestId('import-heads').fill('2');
      await expect.poll(() => summary(page).textContent()).toContain('heads 2, dHead 4');
      expect(await summary(page).textContent()).toContain('V = K');
      expect(await summary(page).getAttribute('data-state')).toBe('valid');
      await page.getByTestId('import-apply').click();
      await expectVerifiedRun(page, '2×5×7');
      const weights = softmaxWeights(q.data, k.data, 5, 7, 8, 0, 4);
      await expect.poll(() => page.getByTestId('matrix-weights').textContent()).toContain(`${(weights[0][0] * 100).toFixed(1)}%`);
      expect(await page.getByTestId('messages').textContent()).toContain('V = K');
      expect(errors).toEqual([]);
    });
  });

  describe('bad files keep the last good view', () => {
    it('a file with the wrong magic is named with its field; a shape mismatch names the role; nothing changes', async () => {
      expect(await state(page)).toBe('pass');
      const url = page.url();
      const timingsBefore = await page.getByTestId('timings').locator('h2').textContent();
      await page.getByTestId('open-import').click();
      await page.getByTestId('import-files').setInputFiles([{ name: 'bad.npy', mimeType: 'application/octet-stream', buffer: Buffer.from('this is not a numpy file at all') }]);
      await expect.poll(() => page.getByTestId('import-error').textContent(), { timeout: 30_000 }).toContain('bad.npy');
      const inline = (await page.getByTestId('import-error').textContent()) ?? '';
      expect(inline).toContain('magic');
      const messages = (await page.getByTestId('messages').textContent()) ?? '';
      expect(messages).toContain('bad.npy');
      expect(messages).toContain('magic');
      expect(await page.getByTestId('import-apply').isEnabled()).toBe(false);
      await shot(page, 'import-bad-magic');

      // Readable files whose shapes disagree: wk is 7 × 8 (proposed transposed to 8 × 7), so
      // its width differs from wq's 8 and the summary names wk.
      const files = [tensor('x', 6, 8, 1), tensor('wq', 8, 8, 2), tensor('wk', 7, 8, 3), tensor('wv', 8, 8, 4)].map(npyFile);
      await page.getByTestId('import-files').setInputFiles(files);
      await expect.poll(() => summary(page).getAttribute('data-state'), { timeout: 30_000 }).toBe('invalid');
      expect(await summary(page).textContent()).toContain('wk');
      expect(await page.getByTestId('import-apply').isEnabled()).toBe(false);
      await shot(page, 'import-bad-shape');
      await page.getByTestId('import-cancel').click();
      expect(await page.getByTestId('import-dialog').isVisible()).toBe(false);

      expect(await state(page)).toBe('pass');
      expect(page.url()).toBe(url);
      expect(await page.getByTestId('timings').locator('h2').textContent()).toBe(timingsBefore);
    });
  });
});

describe('export', () => {
  it('x and W as .safetensors read back equal to the inputs, and re-import to the same view', async () => {
    const query = '?input=random&seqLen=8&heads=2&dModel=16&dHead=8&seed=3';
    const { page, errors } = await openApp(browser(), query);
    expect(await verdict(page)).toBe('pass');
    const example = buildExample(parseState(query).state);
    const expected = tensorsFromInputs(example.shape, example.inputs);

    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-safetensors').click()]);
    expect(download.suggestedFilename()).toMatch(/\.safetensors$/);
    const path = await download.path();
    const read = readSafetensors(fileBytes(path), download.suggestedFilename());
    expect(read.map((t) => t.name)).toEqual(expected.map((t) => t.name));
    for (const [i, t] of read.entries()) {
      expect(t.shape).toEqual(expected[i].shape);
      expect(t.dtype).toBe('float32');
      expect(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).equals(Buffer.from(expected[i].data.buffer, expected[i].data.byteOffset, expected[i].data.byteLength))).toBe(true);
    }

    // One .npy per tensor.
    const npy: Array<{ name: string; path: string }> = [];
    const onDownload = async (d: Download) => npy.push({ name: d.suggestedFilename(), path: await d.path() });
    page.on('download', onDownload);
    await page.getByTestId('export-npy').click();
    await expect.poll(() => npy.length, { timeout: 30_000 }).toBe(expected.length);
    page.off('download', onDownload);
    for (const t of expected) {
      const file = npy.find((f) => f.name === `${t.name}.npy`);
      expect(file, `${t.name}.npy downloaded`).toBeDefined();
      const back = readNpy(fileBytes(file!.path), file!.name);
      expect(back.shape).toEqual(t.shape);
      expect(Array.from(back.data)).toEqual(Array.from(t.data));
    }

    // Round trip: the exported file imports back (as one head of width 16, so the new run is
    // told apart from the view it came from by its shape, 1×8×8).
    await page.getByTestId('open-import').click();
    await page.getByTestId('import-files').setInputFiles(path);
    await expect.poll(() => summary(page).getAttribute('data-state'), { timeout: 30_000 }).toBe('valid');
    expect(await summary(page).textContent()).toContain('seqLen 8, kvLen 8, dModel 16, heads 1, dHead 16');
    for (const name of ['x', 'wq', 'wk', 'wv']) {
      expect(await page.locator(`select[data-testid="import-role"][data-tensor="${name}"]`).inputValue()).toBe(name);
    }
    await page.getByTestId('import-apply').click();
    await expectVerifiedRun(page, '1×8×8');
    expect(errors).toEqual([]);
    await page.close();
  });
});
