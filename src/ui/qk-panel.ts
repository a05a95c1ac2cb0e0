/**
 * The Q/K panel beside the surface (issue 19): the selected head's queries and keys as points in
 * one 3D space (src/scene/qk-view.ts), what the projection kept, a hover readout, and the links
 * to the surface both ways (a query point lights its row there; a surface cell lights its query
 * and key here). The view is created the first time the panel opens, so a closed panel costs
 * nothing.
 */
import { createQkView, QK_COLORS, type QkLink, type QkPick, type QkShown, type QkView } from '../scene/qk-view';
import type { CellInfo, SurfaceSource, SurfaceView } from '../scene';
import { fmt, h } from './dom';

export interface QkPanelDeps {
  device: () => GPUDevice | null;
  surface: () => SurfaceView;
  /** The panel was opened or closed by the user (the URL says qk=1 / qk=0). */
  onToggle: (open: boolean) => void;
  onError: (error: unknown) => void;
  /** The row a lesson points at (its query's lines are drawn while nothing is hovered). */
  resting: () => { head: number; query: number } | null;
  /** The panel lit a row on the surface (null: cleared): the page notes it on the surface's canvas. */
  highlighted: (row: { head: number; query: number; key: number } | null) => void;
}

export interface QkPanel {
  readonly root: HTMLElement;
  setOpen(open: boolean): void;
  isOpen(): boolean;
  /** The surface now shows `source`, head `head` of its list (−1: every head; the panel follows the hovered one). */
  follow(source: SurfaceSource, head: number): void;
  /** The surface cell under the pointer (null: none). */
  cell(cell: CellInfo | null): void;
  /** The GPU device was replaced: the view is made again on the next show. */
  deviceChanged(): void;
  /** Resolves when the panel's view has drawn everything asked of it. */
  whenIdle(): Promise<void>;
  /** Where each drawn point is on the panel's canvas (CSS px): the test hook behind window.attentionLens.qkPoints. */
  screenPoints(): ReturnType<QkView['screenPoints']>;
}

/** The panel's description of a shown cloud: where it came from and what the projection keeps. */
export function describeCloud(shown: Extract<QkShown, { cloud: unknown }>, dHead: number): string {
  const c = shown.cloud;
  const where = c.backend === 'gpu' ? `on the GPU in ${c.ms.toFixed(1)} ms` : `on the CPU in ${c.ms.toFixed(1)} ms`;
  const parts: string[] = [];
  if (c.raw) {
    parts.push(`d_head = ${dHead}: the raw vectors, no projection (axes = the ${dHead} dimensions; q·k is read off the arrows).`);
  } else {
    parts.push(`Joint PCA of ${dHead}-dim queries and keys, ${where}: the 3 axes keep ${(c.share * 100).toFixed(1)}% of the variance.`);
    parts.push(`Keys shifted so the centroids meet, queries × ${fmt(c.scale, 3)} and keys ÷ ${fmt(c.scale, 3)}: every softmax weight is unchanged.`);
  }
  const sampled: string[] = [];
  if (c.stride.queries > 1) sampled.push(`every ${ordinal(c.stride.queries)} query (${c.drawn.queries} of ${c.total.queries})`);
  if (c.stride.keys > 1) sampled.push(`every ${ordinal(c.stride.keys)} key (${c.drawn.keys} of ${c.total.keys})`);
  if (sampled.length > 0) parts.push(`Drawn: ${sampled.join(', ')}, so the view stays responsive; the PCA uses every token.`);
  return parts.join(' ');
}

/** 2nd, 3rd, 4th, 11th, 21st … */
function ordinal(n: number): string {
  const teen = n % 100 >= 11 && n % 100 <= 13;
  const suffix = teen ? 'th' : ({ 1: 'st', 2: 'nd', 3: 'rd' } as Record<number, string>)[n % 10] ?? 'th';
  return `${n}${suffix}`;
}

/** A softmax weight as a percentage, or in exponent form when it rounds to 0.0 %. */
function percent(weight: number): string {
  return weight >= 0.0005 ? `${(weight * 100).toFixed(1)}%` : `${(weight * 100).toExponential(1)}%`;
}

export function createQkPanel(deps: QkPanelDeps): QkPanel {
  const canvas = h('canvas', { 'data-testid': 'qk-canvas', 'aria-label': 'queries and keys of the selected head as points in 3D; drag to orbit' });
  const title = h('span', { class: 'qk-title' }, 'Queries & keys');
  const valuesBox = h('input', { type: 'checkbox', 'data-testid': 'qk-values' });
  const valuesToggle = h('label', { class: 'qk-toggle', title: 'draw the values v_j as a third cloud (same axes; not part of the fit)' }, valuesBox, ' values');
  const closeButton = h('button', { class: 'btn qk-close', 'data-testid': 'qk-close', title: 'hide this panel (qk=0)' }, '×');
  const summary = h('div', { class: 'qk-summary', 'data-testid': 'qk-summary' }, 'Opening…');
  const readout = h('div', { class: 'qk-readout empty', 'data-testid': 'qk-readout' }, 'Hover a point to read it.');
  const legend = h(
    'div',
    { class: 'qk-legend' },
    ...(['query', 'key', 'value'] as const).map((kind) => h('span', { 'data-kind': kind }, h('i', { style: `background:${QK_COLORS[kind]}` }), kind === 'query' ? 'queries q_i' : kind === 'key' ? 'keys k_j' : 'values v_j')),
  );
  const root = h('section', { class: 'qk-panel', 'data-testid': 'qk-panel', hidden: true }, h('header', {}, title, valuesToggle, closeButton), h('div', { class: 'qk-stage' }, canvas, readout), summary, legend);

  let view: QkView | null = null;
  let viewDevice: GPUDevice | null = null;
  let opening: Promise<QkView> | null = null;
  let source: SurfaceSource | null = null;
  let surfaceHead = 0;
  /** The head the panel shows (an index in the source's list). */
  let focus = 0;
  let open = false;
  let work: Promise<unknown> = Promise.resolve();

  async function ensureView(): Promise<QkView> {
    const device = deps.device();
    if (view && viewDevice === device) return view;
    if (!opening) {
      view?.destroy();
      view = null;
      opening = createQkView(canvas, device, { pixelRatio: window.devicePixelRatio }).then((made) => {
        view = made;
        viewDevice = device;
        opening = null;
        new ResizeObserver(() => {
          made.resize();
          void made.render();
        }).observe(canvas);
        return made;
      });
    }
    return opening;
  }

  function dHeadOf(src: SurfaceSource): number {
    return src.kind === 'weights-grid' ? 0 : src.dHead;
  }

  async function refresh(): Promise<void> {
    if (!open || !source) return;
    const src = source;
    const made = await ensureView();
    const shown = await made.show(src, focus);
    if (src !== source) return;
    if ('unavailable' in shown) {
      title.textContent = 'Queries & keys';
      summary.textContent = shown.unavailable;
      root.dataset.state = 'unavailable';
      return;
    }
    title.textContent = `Queries & keys — ${shown.title.split('\n')[0]}`;
    await showResting(made);
    summary.textContent = describeCloud(shown, dHeadOf(src));
    const c = shown.cloud;
    Object.assign(root.dataset, { state: 'shown', raw: String(c.raw), share: String(c.share), queries: String(c.drawn.queries), keys: String(c.drawn.keys), values: String(c.drawn.values), backend: c.backend });
    const hasValues = src.kind !== 'weights-grid' && src.heads.some((head) => ('vOffset' in head && head.vOffset !== undefined) || ('v' in head && head.v !== undefined));
    valuesToggle.hidden = !hasValues;
  }

  /** The lesson's row, when it is on this head: its query's lines to the keys. */
  async function showResting(made: QkView): Promise<void> {
    const rest = deps.resting();
    if (rest && rest.head === focus) await made.highlight({ query: rest.query });
  }

  function queue(task: () => Promise<unknown>): Promise<unknown> {
    work = work.then(task).catch(deps.onError);
    return work;
  }

  function readoutFor(pick: QkPick, strongest: QkLink[], keyTokens: readonly string[]): void {
    readout.className = 'qk-readout';
    Object.assign(readout.dataset, { kind: pick.kind, index: String(pick.index), top: JSON.stringify(strongest.map((s) => (s.dot === undefined ? [s.key, s.weight] : [s.key, s.weight, s.dot]))) });
    const coords = pick.coords.map((x) => fmt(x, 3)).join(', ');
    const rows = [h('div', {}, h('b', { style: `color:${QK_COLORS[pick.kind]}` }, `${pick.kind} ${pick.index}`), ` “${pick.text}”`), h('div', { class: 'muted' }, `(${coords})`)];
    if (pick.kind === 'query' && strongest.length > 0) {
      const raw = strongest.some((link) => link.dot !== undefined);
      rows.push(h('div', { class: 'muted' }, raw ? 'keys: q·k (raw) → softmax weight' : 'strongest keys (softmax weight):'));
      for (const { key, weight, dot } of strongest) {
        const value = dot === undefined ? percent(weight) : `${dot.toFixed(4)} → ${percent(weight)}`;
        rows.push(h('div', { class: 'qk-top' }, `${key} “${keyTokens[key] ?? key}”`, h('span', {}, value)));
      }
    }
    readout.replaceChildren(...rows);
  }

  function clearReadout(): void {
    readout.className = 'qk-readout empty';
    for (const key of ['kind', 'index', 'top']) delete readout.dataset[key];
    readout.replaceChildren('Hover a point to read it.');
  }

  let frame = 0;
  canvas.addEventListener('pointermove', (event) => {
    if (event.buttons !== 0 || !view) return;
    cancelAnimationFrame(frame);
    frame = requestAnimationFrame(() => {
      const made = view;
      if (!made || !source || source.kind === 'weights-grid') return;
      const rect = canvas.getBoundingClientRect();
      const pick = made.pick(event.clientX - rect.left, event.clientY - rect.top);
      if (!pick) {
        if (readout.dataset.kind !== undefined) {
          clearReadout();
          void made.highlight(null);
          deps.surface().highlightRow(null);
          deps.highlighted(null);
        }
        return;
      }
      const keyTokens = source.heads[focus]?.keyTokens ?? [];
      void queue(async () => {
        if (pick.kind === 'query') {
          const strongest = await made.highlight({ query: pick.index });
          readoutFor(pick, strongest, keyTokens);
          const top = strongest[0]?.key ?? 0;
          // The query's row on the surface, its strongest key as the cell.
          deps.surface().highlightRow({ head: focus, query: pick.index, queryEnd: pick.index + 1, key: top, keyEnd: top + 1 });
          deps.highlighted({ head: focus, query: pick.index, key: top });
        } else {
          await made.highlight({ key: pick.index });
          readoutFor(pick, [], keyTokens);
        }
      });
    });
  });
  canvas.addEventListener('pointerleave', () => {
    cancelAnimationFrame(frame);
    if (readout.dataset.kind === undefined) return;
    clearReadout();
    const made = view;
    if (made) void queue(async () => {
      await made.highlight(null);
      await showResting(made);
    });
  });
  valuesBox.addEventListener('change', () => {
    void queue(async () => {
      const made = await ensureView();
      await made.setValues(valuesBox.checked);
      await refresh();
    });
  });
  closeButton.addEventListener('click', () => {
    panel.setOpen(false);
    deps.onToggle(false);
  });

  const panel: QkPanel = {
    root,
    setOpen(next) {
      if (next === open) return;
      open = next;
      root.hidden = !open;
      if (open) void queue(refresh);
    },
    isOpen: () => open,
    follow(next, head) {
      source = next;
      surfaceHead = head;
      const heads = next.heads.length;
      focus = head >= 0 ? Math.min(head, heads - 1) : Math.min(focus, heads - 1);
      if (open) void queue(refresh);
    },
    cell(cell) {
      if (!open || !view || !source) return;
      const made = view;
      if (!cell) {
        void made.highlight(null);
        return;
      }
      // Every head on the surface: the panel follows the head under the pointer.
      if (surfaceHead < 0 && cell.head !== focus) {
        focus = cell.head;
        void queue(refresh);
      }
      if (cell.head !== focus) return;
      void queue(async () => {
        await made.highlight({ query: cell.query, key: cell.key });
      });
    },
    deviceChanged() {
      view?.destroy();
      view = null;
      viewDevice = null;
      if (open) void queue(refresh);
    },
    screenPoints: () => view?.screenPoints() ?? [],
    whenIdle: async () => {
      await work;
      await view?.whenIdle();
    },
  };
  return panel;
}
