/**
 * The lessons' experiments and quiz as panel content. Numbers that the attention kernels can
 * compute are run on the GPU and shown beside the CPU value; the rest are CPU math, labelled so.
 */
import type { AttentionInputs, AttentionResult, AttentionShape } from '../core/types';
import { attentionCpu } from '../reference/attention';
import { embedTokens, makeWeights, tokenize } from '../inputs/examples';
import { entropyVsDk, hardVersusSoft, qvVersusQk } from '../lessons/experiments';
import { CAT_SAT_INPUTS, walkAttentionInputs } from '../lessons/walkthrough';
import type { AppState } from '../app/state';
import { h } from './dom';

export interface ExtrasContext {
  /** Run the GPU kernels (null without WebGPU: the CPU value is shown alone). */
  runGpu: ((shape: AttentionShape, inputs: AttentionInputs) => Promise<AttentionResult>) | null;
  /** Leave the lesson for the explorer with these settings. */
  explore(state: Partial<AppState>): void;
}

const pct = (v: number | undefined) => (v === undefined ? '…' : `${(v * 100).toFixed(1)}%`);
const num = (v: number | undefined) => (v === undefined ? '…' : v.toFixed(4));

function table(headers: string[], rows: string[][], testid: string): HTMLTableElement {
  return h('table', { class: 'lesson-numbers', 'data-testid': testid }, h('thead', {}, h('tr', {}, ...headers.map((t) => h('th', {}, t)))), h('tbody', {}, ...rows.map((r) => h('tr', {}, ...r.map((c, i) => h('td', { class: i === 0 ? 'name' : '' }, c))))));
}

/** A small log-x line chart drawn by hand (two series, 0…1 on y). */
function lineChart(xs: number[], series: Array<{ label: string; color: string; ys: number[] }>, xLabel: string, yLabel: string): SVGSVGElement {
  const NS = 'http://www.w3.org/2000/svg';
  const el = <K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>, text?: string) => {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (text) e.textContent = text;
    return e;
  };
  const W = 320;
  const H = 170;
  const left = 34;
  const bottom = 28;
  const svg = el('svg', { viewBox: `0 0 ${W} ${H}`, width: '100%', role: 'img', 'aria-label': `${yLabel} against ${xLabel}` });
  const lx = xs.map(Math.log2);
  const x = (v: number) => left + ((Math.log2(v) - lx[0]) / (lx[lx.length - 1] - lx[0])) * (W - left - 26);
  const y = (v: number) => 8 + (1 - v) * (H - bottom - 8);
  svg.append(el('line', { x1: left, y1: y(0), x2: W - 10, y2: y(0), stroke: '#2a3142' }), el('line', { x1: left, y1: y(0), x2: left, y2: y(1), stroke: '#2a3142' }));
  for (const t of [0, 0.5, 1]) svg.append(el('text', { x: 4, y: y(t) + 4, fill: '#9aa3b5', 'font-size': 10 }, t.toFixed(1)));
  for (const v of xs) svg.append(el('text', { x: x(v) - 8, y: H - 12, fill: '#9aa3b5', 'font-size': 10 }, String(v)));
  svg.append(el('text', { x: W / 2 - 20, y: H - 1, fill: '#9aa3b5', 'font-size': 10 }, xLabel));
  series.forEach((s, si) => {
    svg.append(el('polyline', { points: xs.map((v, i) => `${x(v)},${y(s.ys[i])}`).join(' '), fill: 'none', stroke: s.color, 'stroke-width': 2 }));
    svg.append(el('text', { x: left + 8, y: 16 + si * 13, fill: s.color, 'font-size': 11 }, s.label));
  });
  return svg;
}

/** Run on the GPU when possible and fill `fill` with the result; errors show in the element. */
function withGpu(ctx: ExtrasContext, status: HTMLElement, shape: AttentionShape, inputs: AttentionInputs, fill: (r: AttentionResult) => void): void {
  if (!ctx.runGpu) {
    status.textContent = 'No WebGPU: CPU values only.';
    return;
  }
  ctx.runGpu(shape, inputs).then(fill, (error: unknown) => (status.textContent = `GPU run failed: ${(error as Error).message}`));
}

export function experimentContent(step: number, ctx: ExtrasContext): HTMLElement {
  const status = h('p', { class: 'note' });
  const root = h('div', { 'data-testid': 'experiment', 'data-step': String(step) });
  if (step === 1) {
    const factors = [1, 2, 4, 8];
    const rows = qvVersusQk(CAT_SAT_INPUTS, factors);
    const gpuQk: number[] = [];
    const gpuQv: number[] = [];
    const render = () =>
      table(
        ['W_V ×', 'Q·K: sat→cat (GPU · CPU)', 'Q·V: sat→cat (GPU · CPU)'],
        rows.map((r, i) => [String(r.factor), `${pct(gpuQk[i])} · ${pct(r.qk[0])}`, `${pct(gpuQv[i])} · ${pct(r.qv[0])}`]),
        'experiment-qv',
      );
    let current = render();
    root.append(
      h('h3', {}, 'Q–V instead of Q–K–V'),
      h('p', { class: 'why' }, 'What if the scores came from Q·V, with no keys? Scale the values (W_V × 1, 2, 4, 8) and watch "sat". With keys, how much sat attends to cat does not move: relevance is judged on the keys alone. With Q·V, bigger values win attention whatever they mean — the word with the larger content takes over. Keys let a word advertise what it is about separately from what it carries.'),
      current,
      status,
    );
    // On the GPU, Q·V scores are the kernels' scores with W_K replaced by W_V·factor.
    const { shape, inputs } = walkAttentionInputs(CAT_SAT_INPUTS);
    if (ctx.runGpu) {
      void (async () => {
        try {
          for (const [i, factor] of factors.entries()) {
            const wv = inputs.wv.map((v) => v * factor);
            gpuQk[i] = (await ctx.runGpu!(shape, { ...inputs, wv })).weights[2];
            gpuQv[i] = (await ctx.runGpu!(shape, { ...inputs, wk: wv, wv })).weights[2];
          }
          const next = render();
          current.replaceWith(next);
          current = next;
        } catch (error) {
          status.textContent = `GPU run failed: ${(error as Error).message}`;
        }
      })();
    } else status.textContent = 'No WebGPU: CPU values only.';
  } else if (step === 2) {
    const dKs = [2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];
    const points = entropyVsDk(dKs);
    root.append(
      h('h3', {}, 'No √d_k scaling as d_k grows'),
      h('p', { class: 'why' }, 'Queries and keys with unit-variance entries have dot products whose variance grows like d_k. Without dividing by √d_k the softmax saturates: each row puts nearly all its weight on one key (entropy → 0), and the gradients through the other keys vanish. Scaled, the rows keep the same spread at every d_k. (Mean row entropy over 32 queries × 64 keys, as a fraction of ln 64; CPU, f64.)'),
      lineChart(dKs, [
        { label: 'scaled by 1/√d_k', color: '#35b779', ys: points.map((p) => p.scaled) },
        { label: 'not scaled', color: '#f0b429', ys: points.map((p) => p.unscaled) },
      ], 'd_k', 'row entropy'),
      table(['d_k', 'entropy, scaled', 'not scaled'], points.map((p) => [String(p.dK), p.scaled.toFixed(3), p.unscaled.toFixed(3)]), 'experiment-entropy'),
    );
  } else if (step === 3) {
    const r = hardVersusSoft(CAT_SAT_INPUTS);
    const gpuCell = h('span', {}, '…');
    root.append(
      h('h3', {}, 'Hard attention (argmax) vs soft (softmax)'),
      h('p', { class: 'why' }, 'Hard attention takes the single best key (one-hot weights); soft attention blends every value by its weight. Hard attention throws away the runner-up (cat, at 47.8%) and has zero gradient almost everywhere, so it cannot be trained by backpropagation; soft attention keeps both and is smooth.'),
      table(['', 'sat→cat', 'sat→sat', 'new sat'], [
        ['soft (CPU)', pct(r.soft[0]), pct(r.soft[1]), `[${r.softOutput.map((v) => v.toFixed(3)).join(', ')}]`],
        ['hard (argmax)', pct(r.hard[0]), pct(r.hard[1]), `[${r.hardOutput.map((v) => v.toFixed(3)).join(', ')}]`],
      ], 'experiment-hard'),
      h('p', { class: 'note' }, 'GPU soft weights: ', gpuCell),
      status,
    );
    const { shape, inputs } = walkAttentionInputs(CAT_SAT_INPUTS);
    withGpu(ctx, status, shape, inputs, (g) => (gpuCell.textContent = `sat→cat ${pct(g.weights[2])}, sat→sat ${pct(g.weights[3])}`));
  } else if (step === 4) {
    const queries = tokenize('the cat sat');
    const keys = tokenize('le chat est assis');
    const dModel = 8;
    const shape = { seqLen: queries.length, kvLen: keys.length, dModel, heads: 1, dHead: 8 };
    const inputs = { x: embedTokens(queries, dModel, true), xKV: embedTokens(keys, dModel, true), ...makeWeights('random', dModel, 1, 8, 3) };
    const cpu = attentionCpu(shape, inputs);
    let gpu: AttentionResult | null = null;
    const render = () => table(['query \\ key', ...keys], queries.map((q, i) => [q, ...keys.map((_, j) => `${gpu ? pct(gpu.weights[i * keys.length + j]) : '…'} · ${pct(cpu.weights[i * keys.length + j])}`)]), 'experiment-cross');
    let current = render();
    root.append(
      h('h3', {}, 'Self-attention vs cross-attention'),
      h('p', { class: 'why' }, 'Self-attention takes Q, K and V from the same sequence X: an n × n map where every word looks at every word of its own sentence. Cross-attention takes Q from one sequence and K, V from another (a translation decoder looking at the encoded source): an n × m map. Here 3 English queries attend over 4 French keys (weights GPU · CPU; random embeddings and weights, so the pattern shows the shapes, not a translation).'),
      h('p', { class: 'note' }, `Q: ${queries.length}×8 from "the cat sat"; K, V: ${keys.length}×8 from "le chat est assis"; weights: ${queries.length}×${keys.length}.`),
      current,
      status,
    );
    withGpu(ctx, status, shape, inputs, (g) => {
      gpu = g;
      const next = render();
      current.replaceWith(next);
      current = next;
    });
  } else {
    const go = h('button', { class: 'btn', 'data-testid': 'show-heads' }, 'Show 4 heads on the surface');
    go.addEventListener('click', () => ctx.explore({ input: 'sinusoidal', seqLen: 128, dModel: 64, heads: 4, dHead: 16, weights: 'identity', head: -1, causal: false, stage: 'weights', lesson: '', step: 1 }));
    root.append(
      h('h3', {}, 'Several heads find different patterns'),
      h('p', { class: 'why' }, 'Each head has its own W_Q, W_K, W_V, so each looks at a different slice of the embedding. With sinusoidal positions and identity-like weights, head 0 reads the fast-changing dimensions (a sharp diagonal: attend to yourself), later heads read slower ones (broad bands: attend to your neighbourhood). In a trained model heads specialise the same way: one tracks the previous word, another the subject, another punctuation.'),
      go,
    );
  }
  return root;
}

export function quizContent(step: number, ctx: ExtrasContext): HTMLElement {
  const reveal = (answer: HTMLElement) => h('details', { 'data-testid': 'quiz-answer' }, h('summary', {}, 'Show the answer'), h('div', { class: 'quiz-answer' }, answer));
  const root = h('div', { 'data-testid': 'quiz', 'data-step': String(step) });
  if (step === 1) {
    root.append(
      h('h3', {}, 'Q1. In a database lookup, what are the query, the keys and the values?'),
      reveal(h('p', {}, 'The query is what you ask for (WHERE title = "Dune"); the keys are what each row is indexed by (the titles) and are compared with the query; the values are what comes back (the rows’ contents). A database returns the value of the one key that matches exactly. Attention is the soft version: every key matches a little (the dot product), the softmax turns those matches into weights, and you get a weighted blend of all the values.')),
    );
  } else if (step === 2) {
    const go = h('button', { class: 'btn', 'data-testid': 'quiz-dog' }, 'Put the sentence on the surface');
    go.addEventListener('click', () => ctx.explore({ input: 'sentence', text: 'The dog chased the cat', lesson: '', step: 1, head: 0 }));
    root.append(
      h('h3', {}, 'Q2. In "The dog chased the cat", what does "chased" attend to?'),
      reveal(h('p', {}, 'In a trained model, a verb’s query looks for its arguments: "chased" attends mostly to "dog" (who chased: the subject) and "cat" (what was chased: the object), little to "the". That pattern is learned from data. This tool’s sentence embeddings and weights are random, so its surface shows the mechanism (a row of weights summing to 1), not learned grammar — try it and read the "chased" row.')),
      go,
    );
  } else {
    const tokens = tokenize('the cat saw the cat');
    const dModel = 16;
    const positions = h('input', { type: 'checkbox', 'data-testid': 'quiz-positions' });
    const out = h('div', {});
    const compute = () => {
      const withPositions = positions.checked;
      const shape = { seqLen: tokens.length, dModel, heads: 1, dHead: 16 };
      const inputs = { x: embedTokens(tokens, dModel, withPositions), ...makeWeights('random', dModel, 1, 16, 5) };
      const cpu = attentionCpu(shape, inputs);
      const gap = (arr: Float32Array, width: number) => {
        let g = 0;
        for (let c = 0; c < width; c++) g = Math.max(g, Math.abs(arr[1 * width + c] - arr[4 * width + c]));
        return g;
      };
      const rows = (r: AttentionResult, label: string) => [label, gap(r.q, 16).toExponential(2), gap(r.k, 16).toExponential(2), gap(r.v, 16).toExponential(2), gap(r.weights, tokens.length).toExponential(2)];
      const body = [rows(cpu, 'CPU')];
      out.replaceChildren(table(['max |cat₁ − cat₂|', 'Q row', 'K row', 'V row', 'weights row'], body, 'quiz-gaps'));
      if (ctx.runGpu) {
        void ctx.runGpu(shape, inputs).then((g) => {
          if (positions.checked !== withPositions) return;
          out.replaceChildren(table(['max |cat₁ − cat₂|', 'Q row', 'K row', 'V row', 'weights row'], [rows(g, 'GPU'), ...body], 'quiz-gaps'));
        });
      }
    };
    positions.addEventListener('change', compute);
    compute();
    root.append(
      h('h3', {}, 'Q3. The same word twice: do both copies get the same Q, K and V?'),
      reveal(h('p', {}, 'Yes. Q = X·W_Q is computed row by row, so two identical rows of X (the same word, the same embedding) give identical rows of Q, K and V — and identical attention rows: attention alone cannot tell the first "cat" from the second. Positional encodings add a different vector at each position, so the copies differ and word order can matter. Toggle the positions and compare.')),
      h('label', { class: 'note' }, positions, ' add sinusoidal positional encodings'),
      out,
    );
  }
  return root;
}
