/**
 * The sweep's log-log chart (uPlot): median time against seqLen, one line per path and stage,
 * each labelled with its fitted slope. Shared by the app's sweep panel and the bench page, so
 * the chart in the README is the one users see.
 */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { STAGE_NAMES } from '../core/types';
import type { SweepReport } from '../bench/sweep';

const STAGE_COLOURS: Record<string, string> = { projections: '#3b528b', scores: '#21918c', softmax: '#5ec962', output: '#f89540', total: '#fde725' };
const PATH_DASH: Record<string, number[]> = { gpu: [], fused: [12, 3, 2, 3], cpu: [6, 4], tfjs: [2, 3] };

/** Draw the chart into `host`; `allStages` shows every stage (else total, scores, softmax). */
export function renderSweepChart(host: HTMLElement, report: SweepReport, width: number, allStages = false): uPlot {
  const sizes = report.options.sizes;
  const series: uPlot.Series[] = [{ label: 'seqLen' }];
  const data: Array<Array<number | null>> = [sizes];
  for (const path of report.options.paths) {
    const records = sizes.map((n) => report.records.find((r) => r.seqLen === n && r.path === path) ?? null);
    if (records.every((r) => r === null)) continue;
    const hasStages = records.some((r) => r?.median.stages);
    for (const stage of [...(hasStages ? STAGE_NAMES : []), 'total' as const]) {
      const fit = report.fits.find((f) => f.path === path && f.stage === stage);
      series.push({
        label: `${path} ${stage}${fit ? ` (slope ${fit.slope.toFixed(2)})` : ''}`,
        stroke: STAGE_COLOURS[stage],
        dash: PATH_DASH[path] ?? [],
        width: stage === 'total' ? 2.5 : 1.5,
        points: { show: true, size: 5 },
        show: allStages || stage === 'total' || stage === 'scores' || stage === 'softmax',
      });
      data.push(records.map((r) => (r ? (stage === 'total' ? r.median.total : (r.median.stages?.[stage] ?? null)) : null)).map((v) => (v !== null && v > 0 ? v : null)));
    }
  }
  return new uPlot(
    {
      width,
      height: 340,
      scales: { x: { time: false, distr: 3, log: 2 }, y: { distr: 3, log: 10 } },
      axes: [
        { label: 'seqLen', stroke: '#9aa3b5', grid: { stroke: '#2a3142' }, ticks: { stroke: '#2a3142' } },
        { label: 'ms (median)', stroke: '#9aa3b5', grid: { stroke: '#2a3142' }, ticks: { stroke: '#2a3142' }, size: 60 },
      ],
      series,
      legend: { live: false },
    },
    data as uPlot.AlignedData,
    host,
  );
}

/** Where GPU and CPU cross, per stage, in words. */
export function sweepCrossings(report: SweepReport): string {
  return report.crossovers
    .filter((c) => c.a === 'gpu' && c.b === 'cpu')
    .map((c) => `${c.stage}: ${c.seqLen === null ? `no crossing, ${c.fasterAtLargest} faster throughout` : `cross at seqLen ≈ ${Math.round(c.seqLen)}, ${c.fasterAtLargest} faster above`}`)
    .join(' · ');
}

/** The legend line under the chart. */
export function sweepChartCaption(report: SweepReport): string {
  return `Solid: GPU (timestamp queries); dash-dot: GPU fused path (timestamp queries); dashed: fast CPU (${report.hardwareConcurrency} workers, wall clock); dotted: tfjs-webgpu (wall clock with readback). ${sweepCrossings(report)}`;
}
