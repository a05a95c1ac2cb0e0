/**
 * The view's overlays: the stage and head toolbar, the legend, the hover readout, the busy bar
 * with Cancel, and the chart host, around the canvas the scene draws on.
 */
import type { ResolvedShape } from '../core/types';
import { STAGE_VIEWS, type AppState, type StageView } from '../app/state';
import type { SurfaceView } from '../scene';
import { fmt, h } from './dom';

const STAGE_LABELS: Record<StageView, string> = { raw: 'QKᵀ', scaled: 'QKᵀ/√d_k', masked: 'masked', weights: 'softmax' };

export interface Viewport {
  readonly root: HTMLElement;
  readonly canvas: HTMLCanvasElement;
  readonly readout: HTMLElement;
  readonly chartHost: HTMLElement;
  readonly stageGroup: HTMLElement;
  readonly headGroup: HTMLElement;
  /** Model mode: the layer selector (hidden in the explorer). */
  readonly layerGroup: HTMLElement;
  readonly reductionButton: HTMLButtonElement;
  readonly resetButton: HTMLButtonElement;
  /** Opens and closes the Q/K panel beside the view (aria-pressed says which). */
  readonly qkButton: HTMLButtonElement;
  readonly cancelButton: HTMLButtonElement;
  /** Show (or hide, with null) the busy overlay; `fraction` fills its bar (indeterminate when absent). */
  setBusy(text: string | null, fraction?: number): void;
  /** Redraw the legend from the surface, and enable the stages it can show. */
  updateLegend(surface: SurfaceView): void;
  /** Press the state's stage and head; `selectHead` is called by the many-heads menu. */
  syncToolbar(state: AppState, shape: ResolvedShape, selectHead: (head: number) => void): void;
  /**
   * Model mode: "every layer × head" (the model view), a layer button per layer and a head
   * button per head, pressed as the state says (head −1: the model view).
   */
  syncModelToolbar(state: AppState, layers: number, heads: number): void;
}

/** Up to this many layers (or heads) get a button each in the toolbar; more get a list. */
const TOOLBAR_BUTTONS = 8;

export function createViewport(): Viewport {
  const canvas = h('canvas', { 'data-testid': 'surface-canvas', 'aria-label': 'attention map as a 3D surface; drag to orbit, scroll to zoom' });
  const stageButtons = STAGE_VIEWS.map((stage) => h('button', { 'data-stage': stage, 'aria-pressed': 'false', title: `show ${STAGE_LABELS[stage]}` }, STAGE_LABELS[stage]));
  const stageGroup = h('div', { class: 'segmented', role: 'group', 'aria-label': 'stage', 'data-testid': 'stage' }, ...stageButtons);
  const headGroup = h('div', { class: 'segmented', role: 'group', 'aria-label': 'head', 'data-testid': 'head' });
  const layerGroup = h('div', { class: 'segmented', role: 'group', 'aria-label': 'layer', 'data-testid': 'layer', hidden: true });
  const reductionButton = h('button', { class: 'btn', 'data-testid': 'reduction', title: 'how blocks of a large map become one surface cell' }, 'blocks: max');
  const resetButton = h('button', { class: 'btn', 'data-testid': 'reset-view' }, 'Reset view');
  const qkButton = h('button', { class: 'btn', 'data-testid': 'qk-toggle', 'aria-pressed': 'false', title: 'the selected head’s queries and keys as points in one 3D space (qk=1)' }, 'Q·K space');
  const toolbar = h('div', { class: 'overlay toolbar' }, stageGroup, layerGroup, headGroup, reductionButton, resetButton, qkButton);
  const legendBar = h('div', { class: 'bar' });
  const legendMin = h('span', {});
  const legendMax = h('span', {});
  const legendTitle = h('div', {});
  const legendNote = h('div', { class: 'note' });
  const legendMasked = h('div', { class: 'note' });
  const legend = h('div', { class: 'overlay legend', 'data-testid': 'legend' }, legendTitle, legendBar, h('div', { class: 'ends' }, legendMin, legendMax), legendNote, legendMasked);
  const readout = h('div', { class: 'overlay readout empty', 'data-testid': 'hover-readout' }, 'Hover the surface to read a cell.');
  const busyText = h('span', {}, '');
  const busyProgress = h('progress', {});
  const cancelButton = h('button', { class: 'btn', 'data-testid': 'cancel' }, 'Cancel');
  const busy = h('div', { class: 'overlay busy', 'data-testid': 'busy', hidden: true }, busyProgress, busyText, cancelButton);
  const chartHost = h('div', { class: 'overlay chart-host', hidden: true });
  // The readout sits under the toolbar however many rows the toolbar wraps to.
  const topLeft = h('div', { class: 'overlay top-left' }, toolbar, readout);
  const root = h('section', { class: 'viewport' }, canvas, topLeft, legend, busy, chartHost);

  return {
    root,
    canvas,
    readout,
    chartHost,
    stageGroup,
    headGroup,
    layerGroup,
    reductionButton,
    resetButton,
    qkButton,
    cancelButton,
    setBusy(text, fraction) {
      busy.hidden = text === null;
      busyText.textContent = text ?? '';
      if (fraction === undefined) busyProgress.removeAttribute('value');
      else busyProgress.value = Math.min(1, Math.max(0, fraction));
    },
    updateLegend(surface) {
      const info = surface.legend();
      legendTitle.textContent = info.title;
      legendBar.style.background = info.gradientCss;
      legendMin.textContent = fmt(info.min, 3);
      legendMax.textContent = fmt(info.max, 3);
      legendNote.textContent = info.reduction;
      legendMasked.textContent = info.note ? `${info.masked} · ${info.note}` : info.masked;
      const available = surface.availableStages();
      for (const button of stageButtons) button.disabled = !available.includes(button.dataset.stage as StageView);
    },
    syncToolbar(state, shape, selectHead) {
      for (const button of stageButtons) button.setAttribute('aria-pressed', String(button.dataset.stage === state.stage));
      const heads = shape.heads;
      const buttons: HTMLElement[] = [];
      if (heads > 1) buttons.push(h('button', { 'data-head': '-1', 'aria-pressed': String(state.head === -1) }, 'all heads'));
      if (heads <= 8) {
        for (let head = 0; head < heads; head++) buttons.push(h('button', { 'data-head': String(head), 'aria-pressed': String(state.head === head) }, `h${head}`));
      } else {
        // Many heads: one menu instead of a row of buttons that would cover the view.
        const select = h('select', { 'aria-label': 'head', 'data-testid': 'head-select' }, ...Array.from({ length: heads }, (_, head) => h('option', { value: head, selected: state.head === head }, `head ${head}`)));
        select.addEventListener('change', () => selectHead(Number(select.value)));
        buttons.push(select);
      }
      headGroup.replaceChildren(...buttons);
      headGroup.hidden = heads === 1;
      layerGroup.hidden = true;
    },
    syncModelToolbar(state, layers, heads) {
      for (const button of stageButtons) button.setAttribute('aria-pressed', String(button.dataset.stage === state.stage));
      const grid = state.head < 0;
      // Buttons while they fit in the toolbar; a list past that (GPT-2 small: 12 × 12, medium 24 × 16).
      const choices = (count: number, prefix: 'L' | 'H', chosen: number, name: string) =>
        count <= TOOLBAR_BUTTONS
          ? Array.from({ length: count }, (_, i) => h('button', { [`data-${name}`]: String(i), 'aria-pressed': String(!grid && chosen === i), title: `${name} ${i}` }, `${prefix}${i}`))
          : [
              h(
                'select',
                { 'data-testid': `${name}-select`, 'aria-label': name },
                h('option', { value: '', selected: grid }, `${name}…`),
                ...Array.from({ length: count }, (_, i) => h('option', { value: String(i), selected: !grid && chosen === i }, `${prefix}${i}`)),
              ),
            ];
      layerGroup.replaceChildren(
        h('button', { 'data-head': '-1', 'aria-pressed': String(grid), title: 'every layer × head as small surfaces (rows = layers, columns = heads)' }, 'all layers × heads'),
        ...choices(layers, 'L', state.layer, 'layer'),
      );
      headGroup.replaceChildren(...choices(heads, 'H', state.head, 'head'));
      layerGroup.hidden = false;
      headGroup.hidden = false;
    },
  };
}
