/**
 * What the legend says about the current view: the stage's title and value range, how cells
 * relate to entries, how masked entries look, and why a stage asked for is not shown. Pure
 * TypeScript (the UI draws it).
 */
import { isExact, type GridPlan } from '../reference/reduce';
import { viridisCss } from './colormap';
import { cellSizeText } from './grid';
import type { DisplayRanges, StageView } from './layout';

/** Everything the UI needs to draw the legend of the current view. */
export interface LegendInfo {
  title: string;
  /** Values at the bottom and top of the colormap (and of the height range). */
  min: number;
  max: number;
  /** CSS linear-gradient of the colormap, left = min, right = max. */
  gradientCss: string;
  /** How cells relate to entries, e.g. 'exact (1 cell = 1 entry)' or 'max over 8×8 blocks'. */
  reduction: string;
  /** How masked entries look in this stage. */
  masked: string;
  /** True when the source is a precomputed weights grid (fused path). */
  fused: boolean;
  /** Anything else the legend should say (e.g. why a chosen stage is not shown); '' when nothing. */
  note: string;
}

/** What the legend says when a stage other than the weights is asked for on the fused path. */
export const FUSED_ONLY_WEIGHTS = 'only the weights exist on the fused path (scores are never stored)';

/** The title of each stage. */
export const STAGE_TITLES: Record<StageView, string> = {
  raw: 'raw scores QKᵀ',
  scaled: 'scaled scores QKᵀ/√d_k (on the raw scale)',
  masked: 'masked scores QKᵀ/√d_k + mask',
  weights: 'softmax weights',
};

/** Block sizes as text: '8' when every block has the same size, '7–8' otherwise. */
function blockText(length: number, cells: number): string {
  const small = Math.floor(length / cells);
  return length % cells === 0 ? String(small) : `${small}–${small + 1}`;
}

/** The drawn grid the legend describes. */
export interface LegendGrid {
  plan: GridPlan;
  ranges: DisplayRanges;
  causal: boolean;
  /** Cells per head of a precomputed weights grid (fused path); undefined when reduced from full maps. */
  gridRows?: number;
  gridCols?: number;
}

/** The legend for `asked` (the stage chosen) and `shown` (the stage drawn) over `grid` (null: nothing drawn yet). */
export function legendOf(grid: LegendGrid | null, asked: StageView, shown: StageView): LegendInfo {
  const logits = shown !== 'weights';
  const info: LegendInfo = {
    title: STAGE_TITLES[shown],
    min: grid ? (logits ? grid.ranges.lo : 0) : 0,
    max: grid ? (logits ? grid.ranges.hi : grid.ranges.wMax) : 1,
    gradientCss: viridisCss('to right'),
    reduction: 'exact (1 cell = 1 entry)',
    masked: 'no mask (not causal)',
    fused: false,
    note: '',
  };
  if (!grid) return info;
  const { plan } = grid;
  if (grid.gridRows !== undefined) {
    const exact = isExact(plan);
    const blocks = `${cellSizeText(plan.rows, plan.seqLen, grid.gridRows)}×${cellSizeText(plan.cols, plan.kvLen, grid.gridCols)} blocks (query × key)`;
    info.fused = true;
    info.title = `${STAGE_TITLES.weights} — fused path`;
    info.reduction = exact ? 'fused path: exact (1 cell = 1 entry); scores never stored' : `fused path: ${plan.mode} over ${blocks}; scores never stored`;
    if (plan.mode === 'mean' && !exact) info.reduction += ' (masked entries count as 0)';
    info.note = asked === 'weights' ? FUSED_ONLY_WEIGHTS : `${STAGE_TITLES[asked]} is not available: ${FUSED_ONLY_WEIGHTS}`;
    if (grid.causal) {
      info.masked = `grey floor = fully masked ${exact ? 'entries (key after query)' : 'blocks (every key after every query)'}`;
      if (!exact) info.masked += plan.mode === 'max' ? '; partly masked blocks show their unmasked maximum' : '; partly masked blocks average their masked entries as 0';
    }
    return info;
  }
  if (!isExact(plan)) {
    const blocks = `${blockText(plan.seqLen, plan.rows)}×${blockText(plan.kvLen, plan.cols)} blocks (query × key)`;
    if (plan.mode === 'max') info.reduction = `max over ${blocks}`;
    else if (shown === 'masked') info.reduction = `mean over the unmasked entries of ${blocks}`;
    else if (shown === 'weights') info.reduction = `mean over ${blocks}`;
    else info.reduction = `mean over ${blocks}, exact via block means q̄·k̄`;
  }
  if (grid.causal) {
    if (shown === 'raw' || shown === 'scaled') info.masked = 'mask not applied yet: masked entries show their real q·k';
    else info.masked = `grey floor = masked (key after query)${isExact(plan) ? '' : '; partly masked blocks show their unmasked entries'}`;
  }
  return info;
}
