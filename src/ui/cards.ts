/**
 * The sidebar's read-only cards: verification against the CPU, timings, the adapter, the small
 * matrices of short examples, and the message area.
 */
import type { StageTimings } from '../core/types';
import type { AdapterDescription } from '../gpu/device';
import type { VerificationReport } from '../verify/compare';
import { fmt, fmtMs, h } from './dom';

/** Messages at the bottom of the page: errors stay until dismissed, info fades. */
export class Messages {
  readonly root = h('div', { class: 'messages', 'data-testid': 'messages', role: 'status', 'aria-live': 'polite' });
  private readonly byKey = new Map<string, HTMLElement>();

  /** Show (or replace, by key) a message. */
  show(kind: 'error' | 'warn' | 'info', text: string, key = text, timeoutMs = kind === 'info' ? 5000 : 0): void {
    this.byKey.get(key)?.remove();
    const close = h('button', { 'aria-label': 'Dismiss', title: 'Dismiss' }, '×');
    const el = h('div', { class: `message ${kind}`, 'data-kind': kind }, h('p', {}, text), close);
    close.addEventListener('click', () => this.clear(key));
    this.root.append(el);
    this.byKey.set(key, el);
    if (timeoutMs > 0) setTimeout(() => this.byKey.get(key) === el && this.clear(key), timeoutMs);
  }

  clear(key: string): void {
    this.byKey.get(key)?.remove();
    this.byKey.delete(key);
  }
}

const STAGE_LABEL: Record<string, string> = { q: 'Q', k: 'K', v: 'V', scores: 'scores', weights: 'weights', output: 'output' };

/** The verification card: PASS/FAIL against the f64 CPU reference, per stage. */
export class VerifyCard {
  readonly root = h('section', { class: 'card', 'data-testid': 'verify-status', 'data-state': 'pending', 'aria-live': 'polite' });

  constructor() {
    this.pending('Waiting for the first run…');
  }

  pending(text: string): void {
    this.root.dataset.state = 'pending';
    this.root.replaceChildren(
      h('h2', {}, 'GPU vs CPU reference', h('span', { class: 'pill pending' }, 'CHECKING')),
      h('p', { class: 'note' }, text),
    );
  }

  skipped(text: string): void {
    this.root.dataset.state = 'skipped';
    this.root.replaceChildren(h('h2', {}, 'GPU vs CPU reference', h('span', { class: 'pill' }, 'NOT CHECKED')), h('p', { class: 'note' }, text));
  }

  show(report: VerificationReport, cpuMs: number, scope: string): void {
    this.root.dataset.state = report.pass ? 'pass' : 'fail';
    const rows = report.stages.map((s) =>
      h(
        'tr',
        { 'data-stage': s.name },
        h('td', { class: 'name' }, STAGE_LABEL[s.name]),
        h('td', { class: s.pass ? '' : 'bad', title: `tolerance: |Δ| ≤ ${s.tolerance.atol.toExponential(1)} + ${s.tolerance.rtol}·|ref|` }, s.maxAbsErr.toExponential(1)),
        h('td', {}, s.maxRelErr.toExponential(1)),
        h('td', {}, String(s.worstIndex)),
        h('td', { class: s.pass ? '' : 'bad' }, s.pass ? '✓' : `✗ ${s.failures}`),
      ),
    );
    rows.push(
      h(
        'tr',
        { 'data-stage': 'rowsum' },
        h('td', { class: 'name' }, 'Σ rows − 1'),
        h('td', { class: report.rowSum.pass ? '' : 'bad' }, report.rowSum.maxErr.toExponential(1)),
        h('td', {}, '—'),
        h('td', {}, String(report.rowSum.worstRow)),
        h('td', { class: report.rowSum.pass ? '' : 'bad' }, report.rowSum.pass ? '✓' : '✗'),
      ),
    );
    this.root.replaceChildren(
      h('h2', {}, 'GPU vs CPU reference', h('span', { class: `pill ${report.pass ? 'pass' : 'fail'}` }, report.pass ? 'PASS' : 'FAIL')),
      h('table', {}, h('thead', {}, h('tr', {}, ...['stage', 'max |Δ|', 'max rel', 'worst i', ''].map((t) => h('th', {}, t)))), h('tbody', {}, ...rows)),
      h('p', { class: 'note' }, `${scope}. Reference: Float64 on the CPU in a worker, ${fmtMs(cpuMs)}. Hover a number for its tolerance.`),
    );
  }

  failed(text: string): void {
    this.root.dataset.state = 'error';
    this.root.replaceChildren(h('h2', {}, 'GPU vs CPU reference', h('span', { class: 'pill fail' }, 'ERROR')), h('p', { class: 'note' }, text));
  }
}

/** The timings card for the current run. */
export class TimingsCard {
  readonly root = h('section', { class: 'card', 'data-testid': 'timings' }, h('h2', {}, 'Timings'), h('p', { class: 'note' }, 'No run yet.'));

  show(gpu: StageTimings | null, cpuMs: number | null, adapter: AdapterDescription | null, shapeText: string): void {
    const rows: HTMLElement[] = [];
    if (gpu) {
      for (const stage of ['projections', 'scores', 'softmax', 'output', 'total'] as const) {
        rows.push(h('tr', { 'data-stage': stage }, h('td', { class: 'name' }, stage), h('td', {}, fmtMs(gpu[stage]))));
      }
    }
    this.root.replaceChildren(
      h('h2', {}, 'Timings', h('span', { class: 'pill' }, shapeText)),
      gpu
        ? h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'GPU stage'), h('th', {}, gpu.source === 'timestamp-query' ? 'GPU timestamps' : 'wall clock'))), h('tbody', {}, ...rows))
        : h('p', { class: 'note' }, 'No GPU run (WebGPU unavailable).'),
      h('p', { class: 'note' }, cpuMs === null ? 'CPU reference: pending…' : `CPU f64 reference (worker): ${fmtMs(cpuMs)} — a correctness path, not a fast CPU path.`),
      ...(adapter ? [h('p', { class: 'note' }, `Adapter: ${adapter.label}`)] : []),
      ...(adapter?.isSoftware ? [h('p', { class: 'note', style: 'color: var(--warn)' }, 'Software adapter: these are CPU timings of an emulated GPU, not GPU performance.')] : []),
    );
  }
}

/** Small matrices with token labels, for examples short enough to read. */
export function matricesView(
  tokens: string[],
  keyTokens: string[],
  arrays: { q: Float32Array; k: Float32Array; v: Float32Array; scores: Float32Array; weights: Float32Array; output: Float32Array },
  width: number,
  kvLen: number,
  head: number,
  reference?: { weights: Float32Array } | null,
): HTMLElement {
  const table = (caption: string, rowLabels: string[], colLabels: string[], value: (r: number, c: number) => string, testid: string) =>
    h(
      'table',
      { class: 'matrix', 'data-testid': testid },
      h('caption', {}, caption),
      h('thead', {}, h('tr', {}, h('th', {}, ''), ...colLabels.map((c) => h('th', {}, c)))),
      h('tbody', {}, ...rowLabels.map((r, ri) => h('tr', {}, h('th', {}, r), ...colLabels.map((_, ci) => h('td', {}, value(ri, ci)))))),
    );
  const seqLen = tokens.length;
  const mapBase = head * seqLen * kvLen;
  const cols = Array.from({ length: Math.min(width, 8) }, (_, c) => String(c));
  const percent = (v: number) => `${(v * 100).toFixed(1)}%`;
  return h(
    'section',
    { class: 'card matrices', 'data-testid': 'matrices' },
    h('h2', {}, `Numbers (head ${head})`),
    table('Q = X·W_Q', tokens, cols, (r, c) => fmt(arrays.q[r * width + c], 3), 'matrix-q'),
    table('K = X·W_K', keyTokens, cols, (r, c) => fmt(arrays.k[r * width + c], 3), 'matrix-k'),
    table('scores QKᵀ/√d_k', tokens, keyTokens, (r, c) => fmt(arrays.scores[mapBase + r * kvLen + c], 4), 'matrix-scores'),
    table('weights softmax (GPU · CPU)', tokens, keyTokens, (r, c) => {
      const gpu = arrays.weights[mapBase + r * kvLen + c];
      const cpu = reference?.weights[mapBase + r * kvLen + c];
      return cpu === undefined ? percent(gpu) : `${percent(gpu)} · ${percent(cpu)}`;
    }, 'matrix-weights'),
    table('output P·V', tokens, cols, (r, c) => fmt(arrays.output[r * width + c], 3), 'matrix-output'),
  );
}
