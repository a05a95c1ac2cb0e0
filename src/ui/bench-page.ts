/**
 * The script of bench.html: the page around the benchmark harness (src/bench/harness.ts). It
 * exposes `window.attentionBench.run(options)` for `npm run bench` (scripts/bench.ts drives it
 * through Playwright) and touches only its own page's elements: the adapter, the progress, the
 * table and the chart. Progress also goes to the console as `[bench] …` lines, which the
 * script forwards to the terminal.
 */
import { createBenchHarness, type BenchHarness, type BenchReady, type BenchRun } from '../bench/harness';
import type { ModelBenchSettings } from '../bench/model-bench';
import type { SweepReport, SweepSettings } from '../bench/sweep';
import { renderSweepChart, sweepChartCaption } from './sweep-chart';

/** What the page exposes on `window.attentionBench`. */
export interface AttentionBenchApi {
  /** Resolves when the device is ready (or with the reason WebGPU is unavailable). */
  ready: Promise<BenchReady>;
  /** Draw the chart of a report (e.g. a saved one) without running anything. */
  chart(report: SweepReport): void;
  /** Run the sweep; resolves with the report and its text table. One run at a time. */
  run(options: SweepSettings): Promise<BenchRun>;
  /** Run the model bench (`npm run bench -- --model …`); progress as `[bench]` console lines. */
  model(options: ModelBenchSettings): ReturnType<BenchHarness['model']>;
}

declare global {
  interface Window {
    attentionBench?: AttentionBenchApi;
  }
}

const text = (id: string, value: string) => {
  const element = document.getElementById(id);
  if (element) element.textContent = value;
};

/** Draw the sweep chart (the app's own) into #chart, for the script to screenshot. */
function drawChart(report: SweepReport): void {
  const host = document.getElementById('chart');
  if (!host) return;
  host.replaceChildren();
  const title = document.createElement('div');
  title.textContent = `Attention Lens: time against seqLen (log-log) — ${report.adapter?.label ?? 'no GPU'}; dModel ${report.options.dModel}, heads ${report.options.heads}, dHead ${report.options.dHead}${report.options.causal ? ', causal' : ''}; median of ${report.options.repeats}`;
  title.style.cssText = 'font-weight:600;margin-bottom:6px';
  const plot = document.createElement('div');
  const caption = document.createElement('p');
  caption.textContent = sweepChartCaption(report);
  caption.style.cssText = 'color:#9aa3b5;font-size:12px';
  host.append(title, plot, caption);
  renderSweepChart(plot, report, 900, true);
}

const harness = createBenchHarness();
void harness.ready.then(({ adapter, error }) => text('adapter', adapter ? adapter.label : `none (${error})`));

window.attentionBench = {
  ready: harness.ready,
  chart: drawChart,
  async run(options) {
    text('progress', 'starting');
    const result = await harness.run(options, (done, total, label) => {
      const line = `${done}/${total} ${label}`;
      text('progress', line);
      console.log(`[bench] ${line}`);
    });
    text('result', result.table);
    drawChart(result.report);
    return result;
  },
  async model(options) {
    const result = await harness.model(options, (line) => console.log(`[bench] ${line}`));
    text('result', result.table);
    return result;
  },
};
