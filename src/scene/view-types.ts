/**
 * The surface view's public types: what a caller can do with a view ({@link SurfaceView}), what
 * picking returns ({@link CellInfo}) and what a highlight names ({@link RowHighlight}).
 * src/scene/index.ts implements them.
 */
import type { ReductionMode } from '../reference/reduce';
import type { StageView } from './layout';
import type { LegendInfo } from './legend';
import type { SurfaceSource } from './sources';

/**
 * A row to highlight: queries [query, queryEnd) and keys [key, keyEnd) (EXCLUSIVE ends) of head
 * `head` (its index in the source's list).
 */
export interface RowHighlight {
  head: number;
  query: number;
  key: number;
  queryEnd: number;
  keyEnd: number;
}

/** What is under the cursor: the cell (one entry each when the grid is exact) and which head it is. */
export interface CellInfo extends RowHighlight {
  /** The head's layer (a model's head), or undefined (a single attention). */
  layer?: number;
  /** The head within its layer (or attention). */
  layerHead: number;
  /** The head's panel title. */
  title: string;
}

/** A 3D attention surface bound to one canvas. Create with {@link createSurfaceView}. */
export interface SurfaceView {
  readonly backend: 'webgpu' | 'webgl';
  /** Check the source, reduce the heads on show (GPU reduction when needed) and redraw. */
  setSource(source: SurfaceSource): Promise<void>;
  /**
   * Morph to a stage over a few frames, rendering each on demand. A stage the source does not
   * have (see {@link SurfaceView.availableStages}) is remembered but the weights stay shown, and
   * `legend().note` says why; it comes back when a source that has it is set.
   */
  setStage(stage: StageView): void;
  /** The stages the current source can show: all four, or ['weights'] for a weights grid. */
  availableStages(): StageView[];
  /** Show one head (its index in the source's list), or all heads (−1). */
  setHead(head: number): void;
  /** How blocks become cells when the map is larger than the grid. */
  setReduction(mode: ReductionMode): void;
  /** Put the camera back where it starts. */
  resetView(): void;
  /** The entry (or block) under a point in CSS pixels relative to the canvas; null when none. */
  pick(canvasX: number, canvasY: number): CellInfo | null;
  /** Highlight the query row of a cell and the cell itself; null clears. */
  highlightRow(cell: RowHighlight | null): void;
  legend(): LegendInfo;
  /** Render once now; resolves with the frame time in ms once the GPU is done. */
  render(): Promise<number>;
  /** Render and encode the canvas as PNG (labels included). */
  toPngBlob(): Promise<Blob>;
  /** Follow the canvas's CSS size. */
  resize(): void;
  /** Resolves when every pending source/head/reduction change and stage animation has been drawn. */
  whenIdle(): Promise<void>;
  destroy(): void;
  /** Called after each render (the UI refreshes the legend). */
  onChange?: () => void;
  /** Called when a source (or head) is on show: the source and the head shown (−1: every head). */
  onShown?: (source: SurfaceSource, head: number) => void;
}

/** Options of {@link createSurfaceView}. */
export interface SurfaceOptions {
  /** Device pixels per CSS pixel (the page's devicePixelRatio; capped at 2). Default 1. */
  pixelRatio?: number;
}
