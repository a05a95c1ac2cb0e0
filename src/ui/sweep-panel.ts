/**
 * The sweep: seqLen over powers of two, GPU and fast CPU paths timed per stage with the same
 * runner as `npm run bench`, a log-log chart (uPlot) of time against seqLen per path and stage,
 * the fitted slopes and where the lines cross. Results export as JSON and CSV.
 */
import type uPlot from 'uplot';
import type { SweepReport, SweepOptions } from '../bench/sweep';
import { h } from './dom';
import { renderSweepChart, sweepChartCaption } from './sweep-chart';

export interface SweepPanelHooks {
  /** Current explorer shape (sizes other than seqLen). */
  shape(): { dModel: number; heads: number; dHead: number; causal: boolean; seed: number };
  /** Run the sweep (the app supplies the GpuAttention). */
  run(options: SweepOptions): Promise<SweepReport>;
  /** Show a chart container over the view. */
  showChart(content: HTMLElement | null): void;
  download(blob: Blob, name: string): void;
  message(kind: 'error' | 'info', text: string): void;
}


/** The sidebar card with the sweep's settings, progress, summary and exports. */
export class SweepPanel {
  readonly root: HTMLElement;
  private readonly from = h('select', { 'aria-label': 'smallest seqLen', 'data-testid': 'sweep-from' });
  private readonly to = h('select', { 'aria-label': 'largest seqLen', 'data-testid': 'sweep-to' });
  private readonly repeats = h('input', { type: 'number', min: 1, max: 20, step: 1, value: 3, 'aria-label': 'repeats', 'data-testid': 'sweep-repeats' });
  private readonly useCpu = h('input', { type: 'checkbox', checked: true, 'data-testid': 'sweep-cpu' });
  private readonly useTfjs = h('input', { type: 'checkbox', 'data-testid': 'sweep-tfjs' });
  private readonly runButton = h('button', { class: 'btn', 'data-testid': 'sweep-run' }, 'Run sweep');
  private readonly cancelButton = h('button', { class: 'btn', hidden: true }, 'Cancel');
  private readonly progress = h('progress', { max: 1, value: 0, hidden: true });
  private readonly status = h('p', { class: 'note', 'data-testid': 'sweep-status' }, 'Times every stage at each power of two, GPU against the fast CPU path.');
  private readonly exports = h('div', { class: 'row-actions', hidden: true });
  private abort: AbortController | null = null;
  private report: SweepReport | null = null;
  private plot: uPlot | null = null;

  constructor(private readonly hooks: SweepPanelHooks, maxSeqLen: number) {
    this.setMaxSeqLen(maxSeqLen);
    const json = h('button', { class: 'btn', 'data-testid': 'sweep-json' }, 'JSON');
    const csv = h('button', { class: 'btn', 'data-testid': 'sweep-csv' }, 'CSV');
    const chart = h('button', { class: 'btn' }, 'Chart');
    json.addEventListener('click', () => this.report && hooks.download(new Blob([JSON.stringify(this.report, null, 2)], { type: 'application/json' }), 'attention-sweep.json'));
    csv.addEventListener('click', async () => {
      if (!this.report) return;
      const { sweepToCsv } = await import('../bench/sweep');
      hooks.download(new Blob([sweepToCsv(this.report)], { type: 'text/csv' }), 'attention-sweep.csv');
    });
    chart.addEventListener('click', () => this.report && this.showChart(this.report));
    this.exports.append(chart, json, csv);
    this.runButton.addEventListener('click', () => void this.start());
    this.cancelButton.addEventListener('click', () => this.abort?.abort());
    this.root = h(
      'section',
      { class: 'card sweep', 'data-testid': 'sweep' },
      h('h2', {}, 'Sweep: cost against seqLen'),
      h('div', { class: 'sweep-row' }, h('label', {}, 'seqLen ', this.from, ' to ', this.to), h('label', {}, 'repeats ', this.repeats)),
      h('div', { class: 'sweep-row' }, h('label', {}, this.useCpu, ' fast CPU'), h('label', { title: 'the tfjs-webgpu peer: slow to load and to run' }, this.useTfjs, ' tfjs-webgpu peer')),
      h('div', { class: 'row-actions' }, this.runButton, this.cancelButton, this.progress),
      this.status,
      this.exports,
    );
  }

  setMaxSeqLen(maxSeqLen: number): void {
    const powers: number[] = [];
    for (let n = 2; n <= maxSeqLen; n *= 2) powers.push(n);
    const keepFrom = Number(this.from.value) || 64;
    const keepTo = Number(this.to.value) || Math.min(2048, powers[powers.length - 1]);
    this.from.replaceChildren(...powers.map((n) => h('option', { value: n, selected: n === keepFrom }, String(n))));
    this.to.replaceChildren(...powers.map((n) => h('option', { value: n, selected: n === Math.min(keepTo, powers[powers.length - 1]) }, String(n))));
  }

  private async start(): Promise<void> {
    const lo = Number(this.from.value);
    const hi = Number(this.to.value);
    const repeats = Number(this.repeats.value);
    if (!(hi >= lo)) return this.hooks.message('error', `Sweep: the largest seqLen (${hi}) must be at least the smallest (${lo}).`);
    if (!Number.isInteger(repeats) || repeats < 1 || repeats > 20) return this.hooks.message('error', `Sweep: repeats must be an integer from 1 to 20; got ${this.repeats.value}.`);
    const sizes: number[] = [];
    for (let n = lo; n <= hi; n *= 2) sizes.push(n);
    const paths = ['gpu', ...(this.useCpu.checked ? ['cpu'] : []), ...(this.useTfjs.checked ? ['tfjs'] : [])] as SweepOptions['paths'];
    this.abort = new AbortController();
    this.runButton.disabled = true;
    this.cancelButton.hidden = false;
    this.progress.hidden = false;
    this.progress.value = 0;
    try {
      const report = await this.hooks.run({
        ...this.hooks.shape(),
        sizes,
        repeats,
        warmup: 1,
        paths,
        verify: true,
        signal: this.abort.signal,
        onProgress: (done, total, label) => {
          this.progress.value = done / total;
          this.status.textContent = `${done}/${total}: ${label}`;
        },
      });
      this.report = report;
      this.status.replaceChildren(...summary(report));
      this.exports.hidden = false;
      this.showChart(report);
    } catch (error) {
      const name = (error as Error).name;
      this.status.textContent = name === 'AbortError' ? 'Sweep cancelled.' : `Sweep failed: ${(error as Error).message}`;
    } finally {
      this.runButton.disabled = false;
      this.cancelButton.hidden = true;
      this.progress.hidden = true;
      this.abort = null;
    }
  }

  private showChart(report: SweepReport): void {
    this.plot?.destroy();
    const host = h('div', { class: 'sweep-chart', 'data-testid': 'sweep-chart' });
    const close = h('button', { class: 'btn', 'aria-label': 'close the chart' }, 'Close');
    close.addEventListener('click', () => {
      this.plot?.destroy();
      this.plot = null;
      this.hooks.showChart(null);
    });
    const panel = h(
      'div',
      { class: 'sweep-overlay' },
      h('div', { class: 'sweep-head' }, h('strong', {}, `Time against seqLen (log-log), ${report.adapter?.label ?? 'no GPU'}`), close),
      host,
      h('p', { class: 'note' }, `${sweepChartCaption(report)} Click a legend entry to show or hide a series.`),
    );
    this.hooks.showChart(panel);
    this.plot = renderSweepChart(host, report, Math.max(360, host.clientWidth || 640));
  }
}

/** One line per result that matters: fits, crossings, peak and pass. */
function summary(report: SweepReport): HTMLElement[] {
  const fit = (path: string, stage: string) => report.fits.find((f) => f.path === path && f.stage === stage);
  const lines: string[] = [];
  for (const path of report.options.paths) {
    const s = fit(path, 'scores');
    const t = fit(path, 'total');
    if (t) lines.push(`${path}: time ∝ seqLen^${t.slope.toFixed(2)} overall${s ? `, scores ^${s.slope.toFixed(2)}` : ''}`);
  }
  const total = report.crossovers.find((c) => c.a === 'gpu' && c.b === 'cpu' && c.stage === 'total');
  if (total) lines.push(total.seqLen === null ? `GPU and CPU totals do not cross here; ${total.fasterAtLargest} is faster at the largest size.` : `GPU and CPU totals cross at seqLen ≈ ${Math.round(total.seqLen)}; ${total.fasterAtLargest} is faster at the largest size.`);
  lines.push(report.pass ? 'Every path matched the f64 reference.' : 'Some results did not match the reference: see the JSON.');
  return lines.map((line) => h('span', { style: 'display:block' }, line));
}
