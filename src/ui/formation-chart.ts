/**
 * The model card's formation chart (uPlot): every head's induction score (solid) and
 * previous-token score (dashed) against training tokens, the training loss on a second axis, and
 * a vertical mark where a head first reached induction 0.5. The induction head and the
 * previous-token head it builds on are drawn bold; the other heads thin, so the phase change
 * reads at a glance.
 */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { FORMATION_THRESHOLD, formationHeads, minutesAt, type TrainingHistory } from '../app/training-history';
import { headName } from '../app/model-view';

/** One colour per head within a layer (viridis-like, readable on the dark panel). */
const HEAD_COLOURS = ['#fde725', '#5ec962', '#21918c', '#b5a4ff', '#f89540', '#e16462', '#8fd3ff', '#ff7ab2'];
/** The loss line and the marks: neutral, apart from every head's colour. */
const LOSS_COLOUR = '#8a93a6';
const MARK_COLOUR = '#ffffff';

/** The caption under the chart: when the induction head formed, or that none did. */
export function formationCaption(log: TrainingHistory): string {
  const c = log.crossed;
  const { induction, previous } = formationHeads(log);
  const last = log.points[log.points.length - 1].heads;
  const name = (k: number) => headName(Math.floor(k / log.heads), k % log.heads);
  const total = log.points[log.points.length - 1].tokens;
  if (c === null) {
    return `No head reached induction ${FORMATION_THRESHOLD} in training (best ${Math.max(...last.map((p) => p[1])).toFixed(2)} after ${(total / 1e6).toFixed(1)} M tokens).`;
  }
  const minutes = minutesAt(log, c.step);
  return (
    `${name(induction)} became an induction head at step ${c.step.toLocaleString('en-US')} (${(c.tokens / 1e6).toFixed(2)} M tokens` +
    `${minutes === null ? '' : `, ${minutes.toFixed(1)} min into training`}), once ${name(previous)} attended to the previous token; ` +
    `at the end ${name(induction)} scores ${last[induction][1].toFixed(2)} on induction and ${name(previous)} ${last[previous][0].toFixed(2)} on previous-token. ` +
    `Held-out loss ${log.heldOutLoss.toFixed(3)} nats (unigram ${log.unigramLoss.toFixed(3)}).`
  );
}

/** Draw the chart into `host`, `width` pixels wide. */
export function renderFormationChart(host: HTMLElement, log: TrainingHistory, width: number): uPlot {
  const { induction, previous } = formationHeads(log);
  // One x axis for both logs: the loss log's steps include every head measurement's step (both
  // are multiples of the loss interval), and head series skip the steps they were not measured at.
  const steps = [...new Set([...log.loss.map((e) => e.step), ...log.points.map((p) => p.step)])].sort((a, b) => a - b);
  const tokensAt = new Map<number, number>([...log.loss.map((e): [number, number] => [e.step, e.tokens]), ...log.points.map((p): [number, number] => [p.step, p.tokens])]);
  const x = steps.map((s) => tokensAt.get(s)! / 1e6);
  const pointAt = new Map(log.points.map((p) => [p.step, p]));
  const lossAt = new Map(log.loss.map((e) => [e.step, e.loss]));
  const series: uPlot.Series[] = [{ label: 'M tokens' }];
  const data: Array<Array<number | null>> = [x];
  const count = log.layers * log.heads;
  for (const which of [1, 0] as const) {
    for (let k = 0; k < count; k++) {
      const special = which === 1 ? k === induction : k === previous;
      series.push({
        label: `${headName(Math.floor(k / log.heads), k % log.heads)} ${which === 1 ? 'induction' : 'previous'}`,
        stroke: HEAD_COLOURS[k % HEAD_COLOURS.length] + (special ? '' : '66'),
        width: special ? 3 : 1,
        dash: which === 0 ? [6, 4] : [],
        spanGaps: true,
        scale: 'score',
        points: { show: false },
      });
      data.push(steps.map((s) => pointAt.get(s)?.heads[k][which] ?? null));
    }
  }
  series.push({ label: 'training loss', stroke: LOSS_COLOUR, width: 1, dash: [2, 2], scale: 'loss', spanGaps: true, points: { show: false } });
  data.push(steps.map((s) => lossAt.get(s) ?? null));

  const crossedAt = log.crossed ? log.crossed.tokens / 1e6 : null;
  const phaseStarts = log.phases.slice(1).map((p) => ({ name: p.name, at: tokensAt.get(p.fromStep) ?? null }));
  return new uPlot(
    {
      width,
      height: 240,
      scales: { x: { time: false }, score: { range: [0, 1] }, loss: { auto: true } },
      axes: [
        { label: 'training tokens (M)', stroke: '#9aa3b5', grid: { stroke: '#2a3142' }, ticks: { stroke: '#2a3142' } },
        { scale: 'score', label: 'score', stroke: '#9aa3b5', grid: { stroke: '#2a3142' }, ticks: { stroke: '#2a3142' }, size: 40 },
        { scale: 'loss', label: 'loss (nats)', side: 1, stroke: '#9aa3b5', grid: { show: false }, ticks: { stroke: '#2a3142' }, size: 44 },
      ],
      series,
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      hooks: {
        draw: [
          (u) => {
            const ctx = u.ctx;
            // A vertical line with its label on a dark box, low in the plot (the scores sit near 0 or 1 there less often than at the top).
            const mark = (at: number, text: string, dash: number[], row: number) => {
              const px = u.valToPos(at, 'x', true);
              const dpr = devicePixelRatio;
              ctx.save();
              ctx.strokeStyle = MARK_COLOUR;
              ctx.setLineDash(dash);
              ctx.lineWidth = 1.2 * dpr;
              ctx.beginPath();
              ctx.moveTo(px, u.bbox.top);
              ctx.lineTo(px, u.bbox.top + u.bbox.height);
              ctx.stroke();
              ctx.font = `${10 * dpr}px system-ui, sans-serif`;
              const width = ctx.measureText(text).width + 6 * dpr;
              const x = Math.min(px + 3 * dpr, u.bbox.left + u.bbox.width - width);
              const y = u.bbox.top + u.bbox.height * 0.62 + row * 15 * dpr;
              ctx.fillStyle = 'rgba(16, 19, 26, 0.85)';
              ctx.fillRect(x, y - 11 * dpr, width, 14 * dpr);
              ctx.fillStyle = MARK_COLOUR;
              ctx.fillText(text, x + 3 * dpr, y);
              ctx.restore();
            };
            phaseStarts.forEach((phase, i) => {
              if (phase.at !== null) mark(phase.at, `${phase.name} phase →`, [2, 3], i + 1);
            });
            if (crossedAt !== null) mark(crossedAt, `induction ≥ ${FORMATION_THRESHOLD}: step ${log.crossed!.step.toLocaleString('en-US')}`, [], 0);
          },
        ],
      },
    },
    data as uPlot.AlignedData,
    host,
  );
}
