/**
 * What the page's shell (src/ui/app.ts) gives each mode's controller, and what a controller
 * gives back. Every mode runs its requests through the one pipeline (src/app/pipeline.ts); the
 * shell keeps the page's state (the state on screen, the last state of each mode, the URL) and
 * the parts every mode shares.
 */
import type { AppMode, AppState } from '../app/state';
import type { Pipeline } from '../app/pipeline';
import type { ShownMaps } from '../app/shown';
import type { AdapterDescription } from '../kernels/tuning';
import type { SurfaceView } from '../scene';
import type { ReferenceClient } from '../workers/reference-client';
import type { Messages, TimingsCard, VerifyCard } from './cards';
import type { LessonController } from './lessons';
import type { ModelCard } from './model-card';
import type { Panel } from './panel';
import type { Viewport } from './viewport';

/** The shared parts of the page a controller drives. */
export interface Page {
  readonly pipeline: Pipeline;
  readonly viewport: Viewport;
  readonly messages: Messages;
  readonly verify: VerifyCard;
  readonly timings: TimingsCard;
  readonly panel: Panel;
  readonly modelCard: ModelCard;
  readonly lessons: LessonController;
  /** The card that says where imported tensors came from. */
  readonly sourceNote: HTMLElement;
  /** Matrices as numbers, for short explorer examples. */
  readonly numbersHost: HTMLElement;
  readonly reference: ReferenceClient;
  readonly cpuWorkers: number;
  /** The scene (a new one after a device loss). */
  surface(): SurfaceView;
  /** The GPU device, or null without WebGPU. */
  device(): GPUDevice | null;
  adapter(): AdapterDescription | null;
  /** The state on screen, and the last state shown in a mode. */
  state(): AppState;
  last(mode: AppMode): AppState;
  /** The view on screen as hover and export read it (either mode), or null before the first. */
  shown(): ShownMaps | null;
  /**
   * A view was shown: its state becomes the page's (the last of its mode, the URL), the mode's
   * parts of the page are shown, and hover and export read `maps` from now on.
   */
  commit(state: AppState, maps: ShownMaps): void;
  /** Keep a toolbar change (stage, head, layer) in the state of the view on screen. */
  keep(patch: Partial<AppState>): void;
  /** Compute and show any state (the shell routes it to its mode's controller). */
  apply(state: AppState): Promise<void>;
  /** Show the parts of the page of a mode (the view itself changes when its run is shown). */
  showMode(mode: AppMode): void;
  /** Redraw the legend after the surface changed. */
  updateLegend(): void;
  /** An error as one line of text for the page. */
  errorText(error: unknown): string;
  /** Empty the hover readout (after a new view). */
  clearHover(): void;
}

/** One mode of the page. */
export interface ModeController {
  /** Compute and show `next` (a state of this mode) through the pipeline. */
  apply(next: AppState): Promise<void>;
  /** The toolbar's head buttons. */
  selectHead(head: number): void;
  /** The blocks max/mean toggle changed: redraw (or recompute) in `reduction`. */
  reductionChanged(reduction: 'max' | 'mean'): void;
  /** Press the toolbar's buttons for `state` (after a stage or head change). */
  syncToolbar(state: AppState): void;
}

/**
 * Draw a new view's first frame and finish showing it: its time on the canvas
 * (`data-frame-ms`) and in `timings`, the legend, the busy state and the hover readout.
 */
export async function drawShown(page: Page, surface: SurfaceView, timings: { frameMs?: number }): Promise<void> {
  const frameMs = await surface.render();
  page.viewport.canvas.dataset.frameMs = frameMs.toFixed(1);
  timings.frameMs = frameMs;
  page.updateLegend();
  page.viewport.setBusy(null);
  page.clearHover();
}
