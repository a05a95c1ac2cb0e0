/**
 * A sweep report as text: the table `npm run bench` prints (and the bench page shows), and
 * the CSV written beside the JSON. Pure string building over {@link SweepReport}, so it runs
 * in Node on a saved report as well as in the page.
 */
import { RESULT_NAMES, STAGE_NAMES } from '../core/types';
import type { BenchPathId } from './registry';
import type { SweepRecord, SweepReport } from './report';

const fmt = (value: number | null | undefined, digits = 2): string => {
  if (value === null || value === undefined || !Number.isFinite(value)) return '–';
  if (value !== 0 && Math.abs(value) < 10 ** -digits) return value.toExponential(1);
  return value.toFixed(digits);
};

function padTable(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => (c < 2 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ').trimEnd()).join('\n');
}

/** The worst (largest) error of a record, and which array it is in. */
function worstError(r: SweepRecord): string {
  if (!r.maxError) return '–';
  let worst: [string, number] | null = null;
  for (const name of RESULT_NAMES) {
    const e = r.maxError[name];
    if (e !== undefined && (worst === null || e > worst[1])) worst = [name, e];
  }
  return worst ? `${worst[1].toExponential(1)} ${worst[0]}` : '–';
}

/**
 * The report as plain text: one line per size and path (stage medians, total with its IQR,
 * wall, GFLOP/s, % of peak, worst error), then ratios, slopes and crossovers.
 */
export function formatTable(report: SweepReport): string {
  const o = report.options;
  const lines: string[] = [];
  lines.push(
    `adapter: ${report.adapter?.label ?? 'none'}; shape: dModel ${o.dModel}, heads ${o.heads}, dHead ${o.dHead}${o.causal ? ', causal' : ''}; ` +
      `${o.repeats} repeats (median), ${o.warmup} warm-up; seed ${o.seed}`,
  );
  const header = ['seqLen', 'path', 'proj ms', 'scores ms', 'softmax ms', 'output ms', 'total ms', '±IQR', 'wall ms', 'GFLOP/s'];
  if (report.peak) header.push('% peak');
  header.push('max err', 'check');
  const rows: string[][] = [header];
  const sorted = [...report.records].sort((a, b) => a.seqLen - b.seqLen || o.paths.indexOf(a.path as BenchPathId) - o.paths.indexOf(b.path as BenchPathId));
  for (const r of sorted) {
    const st = r.median.stages;
    const row = [
      String(r.seqLen),
      r.path,
      fmt(st?.projections, 3),
      fmt(st?.scores, 3),
      fmt(st?.softmax, 3),
      fmt(st?.output, 3),
      fmt(r.median.total, 3),
      fmt(r.spread.total.iqr, 3),
      fmt(r.median.wall, 2),
      fmt(r.gflops, 2),
    ];
    if (report.peak) row.push(r.peakFraction !== undefined ? `${(100 * r.peakFraction).toFixed(1)}%` : '–');
    row.push(worstError(r), r.verification.mode === 'off' ? 'off' : `${r.verification.pass ? 'pass' : 'FAIL'}${r.verification.mode === 'sampled-rows' ? ` (${r.verification.rows} rows)` : ''}`);
    rows.push(row);
  }
  lines.push(padTable(rows));
  const sources = [...new Set(report.records.map((r) => `${r.path}: ${r.source}`))];
  if (sources.length > 0) lines.push(`total = ${sources.join('; ')}. wall = call to result in JS (upload, submit, readback, worker start-up).`);
  const detailed = sorted.filter((r) => r.median.extra && Object.keys(r.median.extra).length > 0);
  for (const path of [...new Set(detailed.map((r) => r.path))]) {
    const parts = detailed
      .filter((r) => r.path === path)
      .map((r) => {
        const extra = r.median.extra!;
        const plain = Object.entries(extra).filter(([k]) => !k.includes('.')).map(([k, v]) => `${k} ${fmt(v, 1)}`);
        // Dotted keys break a measure down (kernelMs.Name): name the largest part.
        const top = Object.entries(extra).filter(([k]) => k.includes('.')).sort((a, b) => b[1] - a[1])[0];
        return `${r.seqLen}: ${plain.join(', ')}${top ? ` (most: ${top[0].split('.').slice(1).join('.')} ${fmt(top[1], 1)})` : ''}`;
      });
    lines.push(`${path} detail (median ms): ${parts.join('; ')}`);
  }
  const notes = new Map(sorted.filter((r) => r.verification.note).map((r) => [r.path, r.verification.note!]));
  for (const [path, note] of notes) lines.push(`${path} check: ${note}.`);
  const stageless = [...new Set(sorted.filter((r) => !r.median.stages).map((r) => r.path))];
  if (stageless.length > 0) lines.push(`– in a stage column: ${stageless.join(', ')} has no split into these four stages (see its detail line).`);
  for (const u of report.unavailable) lines.push(`${u.path} (${u.label}) unavailable: ${u.reason}`);
  for (const f of report.failures) lines.push(`${f.path} at seqLen ${f.seqLen} FAILED: ${f.error}`);
  if (report.ratios.length > 0) {
    lines.push('');
    lines.push(`ratios (time of path / time of ${report.ratios[0].baseline}; > 1 means ${report.ratios[0].baseline} is faster):`);
    const ratioRows = [['seqLen', 'path', 'total', 'wall']];
    for (const q of report.ratios) ratioRows.push([String(q.seqLen), q.path, `${fmt(q.total, 2)}×`, `${fmt(q.wall, 2)}×`]);
    lines.push(padTable(ratioRows));
  }
  const totals = report.fits.filter((f) => f.stage === 'total');
  if (totals.length > 0) {
    lines.push('');
    lines.push(`log-log slope of time vs seqLen: ${report.fits.filter((f) => f.stage !== 'softmax').map((f) => `${f.path} ${f.stage} ${f.slope.toFixed(2)}`).join(', ')}`);
  }
  if (report.crossovers.length > 0) {
    lines.push(
      `crossovers: ${report.crossovers
        .map((c) => `${c.a}/${c.b} ${c.stage}: ${c.seqLen === null ? `none in range (${c.fasterAtLargest} faster)` : `seqLen ≈ ${Math.round(c.seqLen)}`}`)
        .join('; ')}`,
    );
  }
  if (report.peak) lines.push(`peak: ${fmt(report.peak.gflops, 1)} GFLOP/s (${report.peak.source})`);
  return lines.join('\n');
}

/** One CSV line per record: size, path, source, stage medians, total, IQR, wall, GFLOP/s, errors. */
export function sweepToCsv(report: SweepReport): string {
  const header = [
    'seqLen', 'path', 'source',
    ...STAGE_NAMES.map((s) => `${s}_ms`),
    'total_ms', 'total_iqr_ms', 'total_min_ms', 'total_max_ms', 'wall_ms', 'gflops', 'peak_fraction',
    ...RESULT_NAMES.map((n) => `max_err_${n}`),
    'verification', 'pass',
  ];
  const cell = (v: number | null | undefined) => (v === null || v === undefined || !Number.isFinite(v) ? '' : String(v));
  const lines = [header.join(',')];
  for (const r of report.records) {
    lines.push(
      [
        String(r.seqLen), r.path, r.source,
        ...STAGE_NAMES.map((s) => cell(r.median.stages?.[s])),
        cell(r.median.total), cell(r.spread.total.iqr), cell(r.spread.total.min), cell(r.spread.total.max), cell(r.median.wall),
        cell(r.gflops), cell(r.peakFraction),
        ...RESULT_NAMES.map((n) => cell(r.maxError?.[n])),
        r.verification.mode, String(r.verification.pass),
      ].join(','),
    );
  }
  return `${lines.join('\n')}\n`;
}
