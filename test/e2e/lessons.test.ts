import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright';
import { hoverQkPoint, openApp, shot, useBrowser, verdict } from './browser';

const browser = useBrowser();

/** The GPU and CPU cells of one number row in the step table. */
async function cells(page: import('playwright').Page, id: string): Promise<{ gpu: string; cpu: string }> {
  const row = page.locator(`[data-testid="step-numbers"] tr[data-id="${id}"]`);
  return { gpu: (await row.locator('td').nth(1).textContent()) ?? '', cpu: (await row.locator('td').nth(2).textContent()) ?? '' };
}

describe('the "cat sat" lesson', () => {
  // Step 6, opened once: the first test reads it as it opens, the second then edits it.
  let page: Page;
  let errors: string[];
  beforeAll(async () => {
    ({ page, errors } = await openApp(browser(), '?lesson=cat-sat&step=6'));
  });
  afterAll(async () => {
    await page?.close();
  });

  it('?lesson=cat-sat&step=6 shows sat → cat 47.8% and sat → sat 52.2%, on the GPU and the CPU', async () => {
    expect(await verdict(page)).toBe('pass');
    expect(await page.getByTestId('step-label').textContent()).toBe('Step 6 of 7');
    expect(await cells(page, 'weight.sat.cat')).toEqual({ gpu: '47.8%', cpu: '47.8%' });
    expect(await cells(page, 'weight.sat.sat')).toEqual({ gpu: '52.2%', cpu: '52.2%' });
    await shot(page, 'lesson-step6');
    expect(errors).toEqual([]);
  });

  it('editing an embedding changes step 6 to the new reference value', async () => {
    expect(await verdict(page)).toBe('pass');
    expect(await cells(page, 'weight.sat.cat')).toEqual({ gpu: '47.8%', cpu: '47.8%' });
    // cat[0] = 2: by hand, K(cat) = 0.5·[2·0.8 + 0.5·0.2, 2·0.2 + 0.5·0.8, 0.2] = [0.85, 0.4, 0.1],
    // Q(sat)·K(cat) = 0.15·0.85 + 0.5·0.4 + 0.4·0.1 = 0.3675, Q(sat)·K(sat) = 0.408,
    // p(sat → cat) = 1 / (1 + e^((0.408 − 0.3675)/√3)).
    const expected = 1 / (1 + Math.exp((0.408 - 0.3675) / Math.sqrt(3)));
    const input = page.getByTestId('edit-x-0-0');
    await input.fill('2');
    await input.press('Enter');
    const text = `${(expected * 100).toFixed(1)}%`;
    await expect.poll(() => cells(page, 'weight.sat.cat'), { timeout: 30_000 }).toEqual({ gpu: text, cpu: text });
    expect(text).toBe('49.4%');
    expect(page.url()).toContain('lesson=cat-sat');
    await shot(page, 'lesson-edited');
    // A bad number is refused with a message naming it, and the value stays.
    await input.fill('abc');
    await input.press('Enter');
    await expect.poll(() => page.getByTestId('messages').textContent()).toContain('cat[0]');
    expect(await input.inputValue()).toBe('2');
  });

  it('steps navigate and keep the URL in step', async () => {
    const { page } = await openApp(browser(), '?lesson=cat-sat&step=1');
    expect(await verdict(page)).toBe('pass');
    await page.getByTestId('next-step').click();
    await page.getByTestId('next-step').click();
    await page.getByTestId('next-step').click();
    expect(await page.getByTestId('step-label').textContent()).toBe('Step 4 of 7');
    expect(page.url()).toContain('step=4');
    expect((await cells(page, 'dot.sat.cat')).cpu).toBe('0.2575');
    expect((await cells(page, 'dot.sat.sat')).cpu).toBe('0.4080');
    // Step 4 opens the Q/K panel: d_head = 3, so the raw vectors, no projection; hovering
    // Q(sat) lists both keys with the step's dot products and the softmax weights of step 6.
    const panel = page.getByTestId('qk-panel');
    await expect.poll(() => panel.getAttribute('data-state'), { timeout: 30_000 }).toBe('shown');
    expect(await panel.getAttribute('data-raw')).toBe('true');
    expect([await panel.getAttribute('data-queries'), await panel.getAttribute('data-keys')]).toEqual(['2', '2']);
    expect(await page.getByTestId('qk-summary').textContent()).toContain('raw vectors, no projection');
    const top = await hoverQkPoint(page, 'query', 1);
    expect(top.map(([key]) => key)).toEqual([1, 0]);
    expect(top.map(([, weight]) => (weight * 100).toFixed(1))).toEqual(['52.2', '47.8']);
    expect(top.map(([, , dot]) => dot!.toFixed(4))).toEqual(['0.4080', '0.2575']);
    expect(await page.getByTestId('qk-readout').textContent()).toContain('“sat”');
    await shot(page, 'lesson-step4');
    await page.close();
  });
});

describe('experiments, the quiz and the sentence lesson (one page, moved between by the lesson tabs)', () => {
  let page: Page;
  beforeAll(async () => {
    ({ page } = await openApp(browser(), '?lesson=experiments&step=1'));
  });
  afterAll(async () => {
    await page?.close();
  });

  /** Open another lesson from the tabs (and a step from its dots), as a reader would. */
  async function openLesson(id: string, step?: number): Promise<void> {
    await page.locator(`[data-lesson="${id}"]`).click();
    await expect.poll(() => page.url(), { timeout: 30_000 }).toContain(`lesson=${id}`);
    if (step !== undefined) {
      await page.getByRole('button', { name: `step ${step}`, exact: true }).click();
      await expect.poll(() => page.getByTestId('step-label').textContent(), { timeout: 30_000 }).toContain(`Step ${step} of`);
      await expect.poll(() => page.url(), { timeout: 30_000 }).toContain(`step=${step}`);
    }
    expect(await verdict(page)).toBe('pass');
  }

  it('Q–V vs Q–K: the GPU agrees with the CPU, and Q·V weights follow the values', async () => {
    expect(await verdict(page)).toBe('pass');
    const table = page.getByTestId('experiment-qv');
    // By hand: Q(sat)·V(cat) = 0.384·f, Q(sat)·V(sat) = 0.692·f, scaled by 1/√3; f = 8 → 19.4%.
    const p8 = 1 / (1 + Math.exp(((0.692 - 0.384) * 8) / Math.sqrt(3)));
    await expect.poll(() => table.textContent(), { timeout: 30_000 }).toContain(`${(p8 * 100).toFixed(1)}% · ${(p8 * 100).toFixed(1)}%`);
    expect(await table.textContent()).toContain('47.8% · 47.8%');
    await shot(page, 'experiment-qv');
  });

  it('quiz: identical words give identical rows until positions are added', async () => {
    await openLesson('quiz', 3);
    const gaps = page.getByTestId('quiz-gaps');
    await expect.poll(() => gaps.locator('tr').count(), { timeout: 30_000 }).toBe(3);
    const rowValues = async () => (await gaps.locator('tbody tr').allTextContents()).join(' | ');
    expect(await rowValues()).toMatch(/^GPU0\.00e\+00\.00e\+00\.00e\+00\.00e\+0 \| CPU0\.00e\+00\.00e\+00\.00e\+00\.00e\+0$/);
    await page.getByTestId('quiz-positions').check();
    await expect.poll(rowValues, { timeout: 30_000 }).toMatch(/^GPU/);
    expect(await rowValues()).not.toContain('0.00e+0');
    await page.locator('[data-testid="quiz-answer"] summary').click();
    expect(await page.getByTestId('quiz-answer').textContent()).toContain('Positional encodings');
    await shot(page, 'quiz-positions');
  });

  it('"The cat sat on the mat": the words "sat" attends to, equal to the reference row', async () => {
    await openLesson('sentence');
    await expect.poll(() => page.getByTestId('lesson').textContent(), { timeout: 30_000 }).toContain('What does “sat” attend to?');
    const table = page.locator('[data-testid="sentence-weights"] tbody tr');
    await expect.poll(() => table.count(), { timeout: 30_000 }).toBe(6);
    const rows = await table.allTextContents();
    const percents = rows.map((r) => Number(/([\d.]+)%$/.exec(r)![1]));
    expect(percents.reduce((a, b) => a + b, 0)).toBeCloseTo(100, 0);
    // Sorted from most to least attended.
    expect([...percents].sort((a, b) => b - a)).toEqual(percents);
    // The same row from the f64 reference, computed in Node from the same example.
    const { buildExample } = await import('../../src/inputs/build');
    const { parseState } = await import('../../src/app/state');
    const { attentionCpu } = await import('../../src/index');
    const ex = buildExample({ ...parseState('').state, input: 'sentence', text: 'The cat sat on the mat', causal: false });
    const ref = attentionCpu(ex.shape, ex.inputs);
    const refRow = Array.from(ref.weights.subarray(2 * 6, 3 * 6));
    const best = refRow.indexOf(Math.max(...refRow));
    expect(rows[0]).toContain(`${best} “${ex.tokens[best]}”`);
    expect(percents[0]).toBeCloseTo(refRow[best] * 100, 1);
    await shot(page, 'lesson-sentence');
  });
});
