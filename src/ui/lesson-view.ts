/**
 * The lessons panel: the worked example step by step (every number with its GPU and CPU value,
 * a small picture and a sentence of why), editable inputs, the sentence lesson, and navigation.
 * It renders what it is given; the app runs the kernels and hands results back.
 */
import type { WalkInputs, WalkPicture, WalkStep } from '../lessons/walkthrough';
import type { LessonId } from '../app/state';
import { h } from './dom';

const SVG = 'http://www.w3.org/2000/svg';
function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number> = {}, ...children: Array<Node | string>): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children) el.append(typeof c === 'string' ? document.createTextNode(c) : c);
  return el;
}

const LESSON_TITLES: Array<[Exclude<LessonId, ''>, string]> = [
  ['cat-sat', '“cat sat”'],
  ['two-d', '2-D example'],
  ['sentence', 'The cat sat on the mat'],
  ['experiments', 'Experiments'],
  ['quiz', 'Quiz'],
];

const COLORS = ['#5ec962', '#3b528b', '#fde725', '#21918c', '#f89540', '#cc4778'];

/** A small picture for a step. */
function picture(p: WalkPicture): SVGSVGElement {
  const width = 320;
  if (Array.isArray(p)) {
    // Dot products: one row of term bars per product, the sum at the end.
    const height = 34 * p.length + 10;
    const root = svg('svg', { viewBox: `0 0 ${width} ${height}`, width: '100%', role: 'img', 'aria-label': 'dot product terms' });
    const max = Math.max(1e-9, ...p.flatMap((r) => r.terms.map(Math.abs)), ...p.map((r) => Math.abs(r.sum)));
    p.forEach((r, ri) => {
      const y = 8 + ri * 34;
      root.append(svg('text', { x: 0, y: y + 14, fill: '#9aa3b5', 'font-size': 11 }, r.label));
      let x = 96;
      r.terms.forEach((t, ti) => {
        const w = Math.max(2, (Math.abs(t) / max) * 60);
        root.append(svg('rect', { x, y, width: w, height: 18, fill: COLORS[ti % COLORS.length], opacity: t < 0 ? 0.4 : 0.9 }, svg('title', {}, `term ${ti}: ${t.toFixed(4)}`)));
        x += w + 2;
      });
      root.append(svg('text', { x: x + 6, y: y + 14, fill: '#e6e9ef', 'font-size': 12 }, `= ${r.sum.toFixed(4)}`));
    });
    return root;
  }
  if (p.kind === 'bars') {
    const height = 30 * p.values.length + 10;
    const root = svg('svg', { viewBox: `0 0 ${width} ${height}`, width: '100%', role: 'img', 'aria-label': 'bars' });
    const max = Math.max(1e-9, ...p.values.map(Math.abs));
    p.values.forEach((v, i) => {
      const y = 6 + i * 30;
      const w = p.percent ? v * 200 : (Math.abs(v) / max) * 200;
      root.append(svg('text', { x: 0, y: y + 15, fill: '#9aa3b5', 'font-size': 12 }, p.labels[i]));
      root.append(svg('rect', { x: 70, y, width: Math.max(1, w), height: 20, rx: 3, fill: '#35b779' }));
      root.append(svg('text', { x: 76 + w, y: y + 15, fill: '#e6e9ef', 'font-size': 12 }, p.percent ? `${(v * 100).toFixed(1)}%` : v.toFixed(4)));
    });
    return root;
  }
  if (p.kind === 'vectors') {
    const d = p.vectors[0].length;
    const rowH = 22;
    const height = rowH * p.vectors.length + 10;
    const root = svg('svg', { viewBox: `0 0 ${width} ${height}`, width: '100%', role: 'img', 'aria-label': 'vectors' });
    const max = Math.max(1e-9, ...p.vectors.flat().map(Math.abs));
    const cell = Math.min(60, 220 / d);
    p.vectors.forEach((vec, i) => {
      const y = 4 + i * rowH;
      root.append(svg('text', { x: 0, y: y + 14, fill: '#9aa3b5', 'font-size': 11 }, p.labels[i]));
      vec.forEach((v, c) => {
        const w = (Math.abs(v) / max) * (cell - 4);
        root.append(svg('rect', { x: 90 + c * cell, y: y + 2, width: Math.max(1, w), height: 16, fill: COLORS[c % COLORS.length], opacity: v < 0 ? 0.4 : 0.9 }, svg('title', {}, v.toFixed(4))));
      });
    });
    return root;
  }
  // Matrices as small heat grids.
  const d = p.matrices[0].length;
  const cell = Math.min(26, 90 / d);
  const height = cell * d + 24;
  const root = svg('svg', { viewBox: `0 0 ${width} ${height}`, width: '100%', role: 'img', 'aria-label': 'matrices' });
  const max = Math.max(1e-9, ...p.matrices.flat(2).map(Math.abs));
  p.matrices.forEach((m, mi) => {
    const x0 = mi * (cell * d + 16);
    root.append(svg('text', { x: x0, y: 11, fill: '#9aa3b5', 'font-size': 11 }, p.labels[mi]));
    m.forEach((r, i) =>
      r.forEach((v, j) => {
        const t = Math.abs(v) / max;
        root.append(svg('rect', { x: x0 + j * cell, y: 16 + i * cell, width: cell - 1, height: cell - 1, fill: `rgba(53,183,121,${0.1 + 0.9 * t})` }, svg('title', {}, v.toFixed(4))));
      }),
    );
  });
  return root;
}

function fmtValue(value: number | undefined, percent: boolean | undefined): string {
  if (value === undefined) return '—';
  return percent ? `${(value * 100).toFixed(1)}%` : value.toFixed(4);
}

export interface LessonCallbacks {
  /** Open a lesson at a step ('' closes the lessons). */
  navigate(lesson: LessonId, step: number): void;
  /** The walkthrough inputs were edited (already validated: every number finite). */
  editInputs(inputs: WalkInputs): void;
  /** A value typed into an input is not a number. */
  invalid(field: string, given: string): void;
}

/** The lessons panel. */
export class LessonView {
  readonly root = h('section', { class: 'card lesson', 'data-testid': 'lesson' });

  constructor(private readonly callbacks: LessonCallbacks) {}

  private header(lesson: Exclude<LessonId, ''>, step: number, steps: number): HTMLElement[] {
    const tabs = h(
      'div',
      { class: 'segmented lesson-tabs', role: 'tablist' },
      ...LESSON_TITLES.map(([id, title]) => {
        const b = h('button', { 'aria-pressed': String(id === lesson), 'data-lesson': id }, title);
        b.addEventListener('click', () => this.callbacks.navigate(id, 1));
        return b;
      }),
    );
    const close = h('button', { class: 'btn', 'data-testid': 'close-lesson' }, '← Explorer');
    close.addEventListener('click', () => this.callbacks.navigate('', 1));
    const out: HTMLElement[] = [h('div', { class: 'lesson-top' }, close, tabs)];
    if (steps > 1) {
      const prev = h('button', { class: 'btn', 'data-testid': 'prev-step', disabled: step <= 1 }, '◀');
      const next = h('button', { class: 'btn', 'data-testid': 'next-step', disabled: step >= steps }, '▶');
      prev.addEventListener('click', () => this.callbacks.navigate(lesson, step - 1));
      next.addEventListener('click', () => this.callbacks.navigate(lesson, step + 1));
      const dots = Array.from({ length: steps }, (_, i) => {
        const dot = h('button', { class: 'dot', 'aria-label': `step ${i + 1}`, 'aria-current': i + 1 === step ? 'step' : undefined }, String(i + 1));
        dot.addEventListener('click', () => this.callbacks.navigate(lesson, i + 1));
        return dot;
      });
      out.push(h('div', { class: 'stepper' }, prev, h('span', { 'data-testid': 'step-label' }, `Step ${step} of ${steps}`), next, h('span', { class: 'dots' }, ...dots)));
    }
    return out;
  }

  /** Show a walkthrough step with its numbers and the editable inputs. */
  showWalk(lesson: 'cat-sat' | 'two-d', stepIndex: number, steps: WalkStep[], inputs: WalkInputs, gpuReady: boolean): void {
    const step = steps[stepIndex - 1];
    const rows = step.numbers.map((n) =>
      h('tr', { 'data-id': n.id }, h('td', { class: 'name' }, n.label), h('td', { 'data-gpu': n.gpu === undefined ? '' : String(n.gpu) }, n.gpu === undefined ? (gpuReady ? 'input' : '…') : fmtValue(n.gpu, n.percent)), h('td', { 'data-cpu': String(n.cpu) }, fmtValue(n.cpu, n.percent))),
    );
    this.root.replaceChildren(
      ...this.header(lesson, stepIndex, steps.length),
      h('h3', { 'data-testid': 'step-title' }, `${stepIndex}. ${step.title}`),
      h('p', { class: 'why' }, step.why),
      picture(step.picture),
      h('table', { class: 'lesson-numbers', 'data-testid': 'step-numbers' }, h('thead', {}, h('tr', {}, h('th', {}, ''), h('th', {}, 'GPU'), h('th', {}, 'CPU (f64)'))), h('tbody', {}, ...rows)),
      this.inputsEditor(inputs),
    );
  }

  private inputsEditor(inputs: WalkInputs): HTMLElement {
    const d = inputs.x[0].length;
    const field = (label: string, value: number, onValue: (v: number) => void, testid: string) => {
      const input = h('input', { type: 'text', inputmode: 'decimal', value: String(value), 'aria-label': label, 'data-testid': testid, size: 5 });
      input.addEventListener('change', () => {
        const text = input.value.trim();
        const v = Number(text);
        if (text === '' || !Number.isFinite(v)) {
          this.callbacks.invalid(label, input.value);
          input.value = String(value);
          return;
        }
        onValue(v);
      });
      return input;
    };
    const copy = (): WalkInputs => JSON.parse(JSON.stringify(inputs)) as WalkInputs;
    const embeddings = inputs.x.map((vec, r) =>
      h('div', { class: 'edit-row' }, h('span', {}, inputs.tokens[r]), ...vec.map((v, c) => field(`${inputs.tokens[r]}[${c}]`, v, (nv) => { const next = copy(); next.x[r][c] = nv; this.callbacks.editInputs(next); }, `edit-x-${r}-${c}`))),
    );
    const matrices = (['wq', 'wk', 'wv'] as const).map((name) =>
      h(
        'div',
        { class: 'edit-matrix' },
        h('span', {}, name === 'wq' ? 'W_Q' : name === 'wk' ? 'W_K' : 'W_V'),
        ...inputs[name].map((row, i) => h('div', { class: 'edit-row' }, ...row.map((v, j) => field(`${name}[${i}][${j}]`, v, (nv) => { const next = copy(); next[name][i][j] = nv; this.callbacks.editInputs(next); }, `edit-${name}-${i}-${j}`)))),
      ),
    );
    return h('details', { class: 'lesson-inputs', open: true }, h('summary', {}, `Inputs (d = ${d}; edit any number, later steps follow)`), ...embeddings, h('div', { class: 'edit-matrices' }, ...matrices));
  }

  /** The sentence lesson: which words does "sat" attend to? */
  showSentence(tokens: string[], query: number, weights: number[] | null): void {
    const order = weights ? tokens.map((t, j) => ({ t, j, w: weights[j] })).sort((a, b) => b.w - a.w) : [];
    this.root.replaceChildren(
      ...this.header('sentence', 1, 1),
      h('h3', {}, `What does “${tokens[query]}” attend to?`),
      h('p', { class: 'why' }, `The highlighted row of the surface is the query “${tokens[query]}”: its height over each key is how much of that word’s value flows into the new “${tokens[query]}”. Hover the row to read each weight. The embeddings here are fixed random vectors per word plus positions, and the weights are random, so the pattern shows the mechanics, not a trained model’s grammar.`),
      h(
        'table',
        { class: 'lesson-numbers', 'data-testid': 'sentence-weights' },
        h('thead', {}, h('tr', {}, h('th', {}, 'key'), h('th', {}, 'weight (GPU)'))),
        h('tbody', {}, ...order.map(({ t, j, w }) => h('tr', {}, h('td', { class: 'name' }, `${j} “${t}”`), h('td', {}, `${(w * 100).toFixed(1)}%`)))),
      ),
    );
  }

  /** Plain content (experiments, quiz). */
  showContent(lesson: 'experiments' | 'quiz', step: number, steps: number, content: HTMLElement): void {
    this.root.replaceChildren(...this.header(lesson, step, steps), content);
  }
}
