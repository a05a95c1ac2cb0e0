/**
 * The benchmark page's engine, without the page: the device, the GpuAttention the 'gpu' path
 * measures (made once, so its pipelines are warm across sweeps) and one sweep at a time.
 * src/ui/bench-page.ts (the script of bench.html) puts it on `window.attentionBench` for
 * `npm run bench` and shows the adapter, the progress, the table and the chart.
 */
import { requestGpuDevice } from '../gpu/device';
import { createGpuAttention, type GpuAttention } from '../kernels/attention';
import { describeDevice, type AdapterDescription } from '../kernels/tuning';
import { runModelBench, type ModelBenchSettings } from './model-bench';
import { formatModelTable, type ModelBenchReport } from './model-report';
import { formatTable, runSweep, type SweepOptions, type SweepReport, type SweepSettings } from './sweep';

/** The device the sweeps run on, or why there is none (the CPU path still runs then). */
export interface BenchReady {
  adapter: AdapterDescription | null;
  error: string | null;
}

/** A finished sweep: the report and its text table. */
export interface BenchRun {
  report: SweepReport;
  table: string;
}

export interface BenchHarness {
  /** Resolves when the device is ready, or with the reason WebGPU is unavailable. */
  ready: Promise<BenchReady>;
  /** Run a sweep after the device is ready and after any earlier sweep has finished. */
  run(settings: SweepSettings, onProgress?: SweepOptions['onProgress']): Promise<BenchRun>;
  /** Run the model bench (src/bench/model-bench.ts) on the same device, after any earlier run. */
  model(settings: ModelBenchSettings, onProgress?: (line: string) => void): Promise<{ report: ModelBenchReport; table: string }>;
}

/** Request the device now; sweeps wait for it. */
export function createBenchHarness(): BenchHarness {
  let attention: GpuAttention | undefined;
  let device: GPUDevice | undefined;
  const ready = (async (): Promise<BenchReady> => {
    try {
      device = await requestGpuDevice();
      attention = await createGpuAttention(device);
      return { adapter: describeDevice(device), error: null };
    } catch (error) {
      // No WebGPU: the GPU paths are reported unavailable; the CPU path still runs.
      return { adapter: null, error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
    }
  })();
  let running: Promise<unknown> = Promise.resolve();
  return {
    ready,
    run(settings, onProgress) {
      const result = running.then(async () => {
        await ready;
        const report = await runSweep({ ...settings, onProgress }, { attention, device });
        return { report, table: formatTable(report) };
      });
      running = result.catch(() => undefined);
      return result;
    },
    model(settings, onProgress) {
      const result = running.then(async () => {
        await ready;
        const report = await runModelBench(settings, device, onProgress);
        return { report, table: formatModelTable(report) };
      });
      running = result.catch(() => undefined);
      return result;
    },
  };
}
