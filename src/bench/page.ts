/**
 * Entry of bench.html: requests the device, creates the GPU attention and exposes
 * `window.attentionBench.run(options)` for `npm run bench` (scripts/bench.ts drives it through
 * Playwright). It touches only its own page's three text elements; progress also goes to the
 * console as `[bench] …` lines, which the script forwards to the terminal.
 */
import { requestGpuDevice, describeDevice, type AdapterDescription } from '../gpu/device';
import { createGpuAttention, type GpuAttention } from '../kernels/attention';
import { formatTable, runSweep, type SweepReport, type SweepSettings } from './sweep';
import { renderSweepChart, sweepChartCaption } from '../ui/sweep-chart';

/** What the page exposes on `window.attentionBench`. */
export interface AttentionBenchApi {
  /** Resolves when the device is ready (or with the reason WebGPU is unavailable). */
  ready: Promise<{ adapter: AdapterDescription | null; error: string | null }>;
  /** Draw the chart of a report (e.g. a saved one) without running anything. */
  chart(report: SweepReport): void;
  /** Run the sweep; resolves with the report and its text table. One run at a time. */
  run(options: SweepSettings): Promise<{ report: SweepReport; table: string }>;
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

let attention: GpuAttention | undefined;
let device: GPUDevice | undefined;

const ready = (async () => {
  try {
    device = await requestGpuDevice();
    attention = await createGpuAttention(device);
    const adapter = describeDevice(device);
    text('adapter', adapter.label);
    return { adapter, error: null };
  } catch (error) {
    // No WebGPU: the GPU paths are reported unavailable; the CPU path still runs.
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    text('adapter', `none (${message})`);
    return { adapter: null, error: message };
  }
})();

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

let running: Promise<unknown> = Promise.resolve();

window.attentionBench = {
  ready,
  chart: drawChart,
  run(options) {
    const result = running.then(async () => {
      await ready;
      text('progress', 'starting');
      const report = await runSweep(
        {
          ...options,
          onProgress: (done, total, label) => {
            const line = `${done}/${total} ${label}`;
            text('progress', line);
            console.log(`[bench] ${line}`);
          },
        },
        { attention, device },
      );
      const table = formatTable(report);
      text('result', table);
      drawChart(report);
      return { report, table };
    });
    running = result.catch(() => undefined);
    return result;
  },
};
