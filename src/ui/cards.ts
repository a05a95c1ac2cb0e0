/**
 * The sidebar's read-only cards: verification against the CPU, timings, the adapter, the small
 * matrices of short examples, and the message area.
 */
import type { StageTimings } from '../core/types';
import type { AdapterDescription } from '../kernels/tuning';
import type { VerificationReport } from '../verify/compare';
import { MODEL_TOLERANCES, type ModelVerification } from '../verify/model';
import { describeModelRows } from '../verify/model-rows';
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

  /** The settled card of the view on screen, kept while a new request runs (see {@link running}). */
  private kept: { state: string; children: Node[] } | null = null;

  /**
   * A new request started; the view on screen (and so this card's last verdict) stays until it
   * shows. {@link restore} brings that verdict back if the request is cancelled first.
   */
  running(): void {
    const settled = this.root.dataset.state !== 'pending' ? { state: this.root.dataset.state ?? 'pending', children: [...this.root.childNodes] } : this.kept;
    this.pending('Running…');
    this.kept = settled;
  }

  /**
   * After a cancel: put back the verdict of the view still on screen. False when there is none
   * (the cancelled request came before any check, or a newer view was shown and not yet checked).
   */
  restore(): boolean {
    if (!this.kept) return false;
    this.root.dataset.state = this.kept.state;
    this.root.replaceChildren(...this.kept.children);
    this.kept = null;
    return true;
  }

  pending(text: string): void {
    this.kept = null;
    this.root.dataset.state = 'pending';
    this.root.replaceChildren(
      h('h2', {}, 'GPU vs CPU reference', h('span', { class: 'pill pending' }, 'CHECKING')),
      h('p', { class: 'note' }, text),
    );
  }

  skipped(text: string): void {
    this.kept = null;
    this.root.dataset.state = 'skipped';
    this.root.replaceChildren(h('h2', {}, 'GPU vs CPU reference', h('span', { class: 'pill' }, 'NOT CHECKED')), h('p', { class: 'note' }, text));
  }

  show(report: VerificationReport, cpuMs: number, scope: string): void {
    this.kept = null;
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

  /** Model mode: every layer's Q, K, V, scores, weights, attention output and the logits. */
  showModel(result: ModelVerification, cpuMs: number, tokens: number): void {
    this.kept = null;
    this.root.dataset.state = result.pass ? 'pass' : 'fail';
    const label: Record<string, string> = { ...STAGE_LABEL, attn: 'attention out', logits: 'logits', embed: 'embedding', resid1: 'residual after attention', resid2: 'residual after MLP' };
    const sampled = 'sampledRows' in result && Array.isArray(result.sampledRows) ? (result.sampledRows as number[]) : null;
    const rows = result.rows.map(({ layer, name, comparison: c }) =>
      h(
        'tr',
        { 'data-layer': layer === null ? '' : String(layer), 'data-stage': name, 'data-pass': String(c.pass) },
        h('td', { class: 'name' }, layer === null ? 'out' : `L${layer}`),
        h('td', { class: 'name' }, label[name] ?? name),
        h('td', { class: c.pass ? '' : 'bad', title: `tolerance: |Δ| ≤ ${c.tolerance.atol.toExponential(1)} + ${c.tolerance.rtol}·|ref|` }, c.maxAbsErr.toExponential(1)),
        h('td', {}, c.maxRelErr.toExponential(1)),
        h('td', { class: c.pass ? '' : 'bad' }, c.pass ? '✓' : `✗ ${c.failures}`),
      ),
    );
    const t = MODEL_TOLERANCES;
    this.root.replaceChildren(
      h('h2', {}, 'GPU vs CPU reference, per layer', h('span', { class: `pill ${result.pass ? 'pass' : 'fail'}` }, result.pass ? 'PASS' : 'FAIL')),
      h('table', {}, h('thead', {}, h('tr', {}, ...['layer', 'tensor', 'max |Δ|', 'max rel', ''].map((x) => h('th', {}, x)))), h('tbody', {}, ...rows)),
      h(
        'p',
        { class: 'note' },
        (sampled
          ? `Each layer of the GPU forward pass (f32) against the f64 reference computed from the GPU's own input to that layer (so errors do not compound), on ${describeModelRows(sampled, tokens)}. A row passes`
          : `The GPU forward pass (f32) against the f64 forward reference on the same ${tokens} tokens, every element. A row passes`) +
          ` when every |Δ| ≤ atol + rtol·|ref|: ` +
          `weights atol ${t.weights.atol.toExponential(0)}, scores and logits ${t.scores.atol.toExponential(0)}, Q/K/V/attention ${t.activations.atol.toExponential(0)}; rtol ${t.activations.rtol.toExponential(0)} ` +
          `(f32 rounding grows with depth; masked scores must be −∞ on both sides). Reference: Float64 in a worker, ${fmtMs(cpuMs)}.`,
      ),
    );
  }

  failed(text: string): void {
    this.kept = null;
    this.root.dataset.state = 'error';
    this.root.replaceChildren(h('h2', {}, 'GPU vs CPU reference', h('span', { class: 'pill fail' }, 'ERROR')), h('p', { class: 'note' }, text));
  }
}

/** What the timings card shows for one run. */
export interface TimingsView {
  shapeText: string;
  gpu: StageTimings | null;
  /** Fast CPU path (Float32, blocked, split over workers), or why there is none yet. */
  cpu: StageTimings | { pending: string } | { skipped: string; action?: () => void } | null;
  cpuWorkers: number;
  /** FLOPs per stage (2 per multiply-add) and the minimum bytes each stage moves. */
  flops: Record<'projections' | 'scores' | 'softmax' | 'output' | 'total', number>;
  bytes: Record<'projections' | 'scores' | 'softmax' | 'output' | 'total', number>;
  referenceMs: number | null;
  adapter: AdapterDescription | null;
  /** One 3D frame of the surface: render call to GPU done. */
  frameMs?: number;
  /** A line about how the GPU numbers were taken (e.g. the fused path). */
  note?: string;
}

const STAGES = ['projections', 'scores', 'softmax', 'output', 'total'] as const;

function fmtCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k`;
  return String(n);
}

function gflopsText(flops: number, ms: number): string {
  return ms > 0 && Number.isFinite(ms) ? (flops / ms / 1e6).toFixed(2) : '—';
}

/** The timings card for the current run: GPU and fast CPU per stage, speed-up, GFLOP/s, bytes. */
export class TimingsCard {
  readonly root = h('section', { class: 'card', 'data-testid': 'timings' }, h('h2', {}, 'Timings'), h('p', { class: 'note' }, 'No run yet.'));

  show(view: TimingsView): void {
    const { gpu, flops, bytes, adapter } = view;
    const cpu = view.cpu && 'total' in view.cpu ? view.cpu : null;
    const header = h('tr', {}, ...['stage', gpu ? `GPU${gpu.source === 'timestamp-query' ? ' (timestamps)' : ' (wall clock)'}` : 'GPU', `CPU fast (${view.cpuWorkers} workers)`, 'GPU speed-up'].map((t) => h('th', {}, t)));
    // performance.now() is coarsened to 0.1 ms in pages that are not cross-origin isolated: a CPU
    // stage below that reads as 0, and a speed-up against it would mean nothing.
    const CLOCK_RESOLUTION_MS = 0.1;
    const cpuText = (ms: number) => (ms < CLOCK_RESOLUTION_MS ? `< ${CLOCK_RESOLUTION_MS} ms` : fmtMs(ms));
    const rows = STAGES.map((stage) => {
      const g = gpu ? gpu[stage] : NaN;
      const c = cpu ? cpu[stage] : NaN;
      const speedUp = gpu && cpu && g > 0 && c >= CLOCK_RESOLUTION_MS ? c / g : NaN;
      return h(
        'tr',
        { 'data-stage': stage },
        h('td', { class: 'name', title: `${fmtCount(flops[stage])}FLOP, ≥ ${formatBytesShort(bytes[stage])} moved` }, stage),
        h('td', {}, gpu ? fmtMs(g) : '—'),
        h('td', {}, cpu ? cpuText(c) : '—'),
        h('td', { class: Number.isFinite(speedUp) && speedUp < 1 ? 'bad' : '' }, Number.isFinite(speedUp) ? `${speedUp.toFixed(speedUp < 10 ? 2 : 1)}×` : '—'),
      );
    });
    rows.push(
      h(
        'tr',
        { 'data-stage': 'gflops' },
        h('td', { class: 'name' }, 'GFLOP/s'),
        h('td', {}, gpu ? gflopsText(flops.total, gpu.total) : '—'),
        h('td', {}, cpu ? gflopsText(flops.total, cpu.total) : '—'),
        h('td', {}, ''),
      ),
    );
    let cpuNote: HTMLElement | null = null;
    if (view.cpu && 'pending' in view.cpu) cpuNote = h('p', { class: 'note' }, view.cpu.pending);
    else if (view.cpu && 'skipped' in view.cpu) {
      const action = view.cpu.action;
      cpuNote = h('p', { class: 'note' }, view.cpu.skipped, ' ');
      if (action) {
        const button = h('button', { class: 'btn', 'data-testid': 'time-cpu' }, 'Time the CPU path');
        button.addEventListener('click', action);
        cpuNote.append(button);
      }
    }
    this.root.replaceChildren(
      h('h2', {}, 'Timings', h('span', { class: 'pill' }, view.shapeText)),
      h('table', {}, h('thead', {}, header), h('tbody', {}, ...rows)),
      ...(cpuNote ? [cpuNote] : []),
      ...(view.note ? [h('p', { class: 'note' }, view.note)] : []),
      h(
        'p',
        { class: 'note' },
        `Work: ${fmtCount(flops.total)}FLOP (2 per multiply-add, 5 per softmax entry, full map counted), ≥ ${formatBytesShort(bytes.total)} moved. ` +
          (view.referenceMs === null ? '' : `The f64 reference took ${fmtMs(view.referenceMs)} (a correctness path, not timed for speed).`) +
          (view.frameMs === undefined ? '' : ` One 3D frame: ${fmtMs(view.frameMs)}.`),
      ),
      ...(adapter ? [h('p', { class: 'note' }, `Adapter: ${adapter.label}`)] : []),
      ...(adapter?.isSoftware ? [h('p', { class: 'note', style: 'color: var(--warn)' }, 'Software adapter: the “GPU” is emulated on the same CPU cores as the CPU path, so these are CPU timings of an emulated GPU, not GPU performance.')] : []),
    );
  }
}

/** Model mode's timings: one forward pass of the trained model, GPU against the f64 CPU reference. */
export interface ModelTimingsView {
  tokens: number;
  layers: number;
  /** GPU forward pass, wall clock (null without WebGPU). */
  gpuMs: number | null;
  /** The CPU forward's time (null until it ran): the f64 reference in the worker, or `cpu`'s. */
  cpuMs: number | null;
  /** What the CPU column timed when it is not the f64 reference (a real model: the f32 forward in a worker). */
  cpu?: { label: string; note: string };
  adapter: AdapterDescription | null;
  frameMs?: number;
}

export function showModelTimings(card: TimingsCard, view: ModelTimingsView): void {
  const { gpuMs, cpuMs } = view;
  const speedUp = gpuMs !== null && cpuMs !== null && gpuMs > 0 ? cpuMs / gpuMs : NaN;
  card.root.replaceChildren(
    h('h2', {}, 'Timings', h('span', { class: 'pill' }, `${view.tokens} tokens, ${view.layers} layers`)),
    h(
      'table',
      {},
      h('thead', {}, h('tr', {}, ...['forward pass', 'GPU (wall clock)', view.cpu?.label ?? 'CPU f64 reference', 'GPU speed-up'].map((t) => h('th', {}, t)))),
      h(
        'tbody',
        {},
        h(
          'tr',
          { 'data-stage': 'forward' },
          h('td', { class: 'name' }, 'whole model'),
          h('td', { 'data-testid': 'model-gpu-ms' }, gpuMs === null ? '—' : fmtMs(gpuMs)),
          h('td', { 'data-testid': 'model-cpu-ms' }, cpuMs === null ? 'pending…' : fmtMs(cpuMs)),
          h('td', { class: Number.isFinite(speedUp) && speedUp < 1 ? 'bad' : '' }, Number.isFinite(speedUp) ? `${speedUp.toFixed(speedUp < 10 ? 2 : 1)}×` : '—'),
        ),
      ),
    ),
    h(
      'p',
      { class: 'note' },
      `GPU: embedding, ${view.layers} blocks (LayerNorm, Q/K/V, scores, softmax, P·V, projections, MLP) and the logits in one submission, from encoding until the device is done (before the readback). ` +
        `CPU: ${view.cpu?.note ?? 'the f64 forward reference (plain JavaScript, one worker), the same pass the verification compares against'}${view.frameMs !== undefined ? `. One 3D frame: ${fmtMs(view.frameMs)}` : ''}.`,
    ),
    ...(view.adapter?.isSoftware ? [h('p', { class: 'note warn' }, 'The adapter is a software rasteriser (SwiftShader): the GPU is emulated on the same CPU cores, so these are CPU timings of an emulated GPU, not GPU performance.')] : []),
  );
}

function formatBytesShort(bytes: number): string {
  if (bytes >= 2 ** 30) return `${(bytes / 2 ** 30).toFixed(2)} GiB`;
  if (bytes >= 2 ** 20) return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  if (bytes >= 2 ** 10) return `${(bytes / 2 ** 10).toFixed(1)} KiB`;
  return `${bytes} B`;
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
