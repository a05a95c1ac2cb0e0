/**
 * Hover readouts: the cell under the pointer (its tokens, score and weight, with the CPU
 * reference beside them when it was kept), its query row highlighted on the surface. Values
 * come from the view on screen (src/app/shown.ts: memory, or the device for large maps), in either mode.
 */
import { tokenOrigin, type CellInfo, type RowHighlight, type SurfaceView } from '../scene';
import type { ShownMaps } from '../app/shown';
import { headName, kvHeadName, topPredictions } from '../app/model-view';
import { fmt, h } from './dom';

export interface HoverDeps {
  canvas: HTMLCanvasElement;
  readout: HTMLElement;
  surface: () => SurfaceView;
  /** The view on screen (either mode): its cells, tokens and model readouts. */
  view: () => ShownMaps | null;
  /** The row a lesson points at, highlighted when nothing is hovered. */
  restingHighlight: () => RowHighlight | null;
  /** A failed read (lost device, …). */
  onError: (error: unknown) => void;
  /** The cell under the pointer, or null when it left the surface (the Q/K view lights the pair). */
  onCell?: (cell: CellInfo | null) => void;
}

/** What hover says for a score a large real-model run did not keep. */
const NOT_KEPT = '— (not kept at this length)';

/** Wire hover to the canvas; returns `clear()` to empty the readout (after a new view). */
export function attachHover(deps: HoverDeps): { clear(): void } {
  const { canvas, readout } = deps;
  let frame = 0;
  let token = 0;

  function clear(): void {
    token++;
    readout.className = 'overlay readout empty';
    readout.replaceChildren('Hover the surface to read a cell.');
    for (const key of ['head', 'query', 'key', 'score', 'weight', 'queryOrigin', 'keyOrigin', 'layer', 'modelHead', 'predictions']) delete readout.dataset[key];
    deps.surface().highlightRow(deps.restingHighlight());
    void deps.surface().render();
    deps.onCell?.(null);
  }

  async function show(cell: CellInfo): Promise<void> {
    const view = deps.view();
    if (!view) return;
    const mine = ++token;
    const values = await view.readCell(cell);
    if (mine !== token) return;
    readout.className = 'overlay readout';
    if ('unavailable' in values) {
      readout.replaceChildren(h('p', {}, values.unavailable));
      return;
    }
    const { score, weight } = values;
    const { seqLen, kvLen, dHead } = view.shape;
    const at = (cell.head * seqLen + cell.query) * kvLen + cell.key;
    const ref = view.reference;
    const tokenOf = (list: string[], i: number) => (list[i] !== undefined ? ` “${list[i]}”` : '');
    const keyTokens = view.keyTokens;
    // Whether each token is one of the user's own words or continued text (when the view knows).
    const queryOrigin = tokenOrigin(cell.query, view.userTokens, view.tokens.length);
    const keyOrigin = tokenOrigin(cell.key, view.userTokens, keyTokens.length);
    const originOf = (origin: string | null) => (origin ? ` · ${origin}` : '');
    const model = view.model;
    const named = model ? model.headOf(cell.head) : null;
    const rows: Array<[string, string]> = [
      named ? ['layer, head', headName(named.layer, named.head)] : ['head', String(cell.head)],
      ...(named && model?.kvGroups ? [['key/value head', kvHeadName(named.head, model.kvGroups.heads, model.kvGroups.kvHeads)] as [string, string]] : []),
      ['query', `${cell.query}${tokenOf(view.tokens, cell.query)}${originOf(queryOrigin)}`],
      ['key', `${cell.key}${tokenOf(keyTokens, cell.key)}${originOf(keyOrigin)}`],
      ['QKᵀ (raw)', score === -Infinity ? 'masked' : Number.isNaN(score) ? NOT_KEPT : fmt(score * Math.sqrt(dHead), 5)],
      ['score QKᵀ/√d_k', Number.isNaN(score) ? NOT_KEPT : fmt(score, 5) + (ref ? `  (CPU ${fmt(ref.scores[at], 5)})` : '')],
      ['weight', `${fmt(weight, 5)} = ${(weight * 100).toFixed(1)}%` + (ref ? `  (CPU ${fmt(ref.weights[at], 5)})` : '')],
    ];
    if (cell.queryEnd - cell.query > 1 || cell.keyEnd - cell.key > 1) rows.push(['cell', `block ${cell.queryEnd - cell.query}×${cell.keyEnd - cell.key}; first entry shown`]);
    Object.assign(readout.dataset, { head: String(cell.head), query: String(cell.query), key: String(cell.key), score: String(score), weight: String(weight) });
    for (const [name, origin] of [['queryOrigin', queryOrigin], ['keyOrigin', keyOrigin]] as const) {
      if (origin) readout.dataset[name] = origin;
      else delete readout.dataset[name];
    }
    const table = h('table', {}, h('tbody', {}, ...rows.map(([k, v]) => h('tr', {}, h('td', {}, k), h('td', {}, v)))));
    if (!model || !named) {
      delete readout.dataset.layer;
      delete readout.dataset.modelHead;
      delete readout.dataset.predictions;
      readout.replaceChildren(table);
      return;
    }
    // The model's next-token guesses after the hovered query token: softmax of its logits row
    // (a long fused run has logits for its last rows only).
    const logitsFrom = model.logitsFrom ?? 0;
    const top = cell.query >= logitsFrom ? topPredictions(model.logits, cell.query - logitsFrom, model.vocab, 5) : [];
    const report = model.reports.find((r) => r.layer === named.layer && r.head === named.head);
    Object.assign(readout.dataset, { layer: String(named.layer), modelHead: String(named.head), predictions: JSON.stringify(top.map((p) => [p.token, p.probability])) });
    readout.replaceChildren(
      table,
      ...(report ? [h('p', { class: 'note' }, `${headName(named.layer, named.head)}: ${report.labels.join(', ')}`)] : []),
      h(
        'div',
        { class: 'predictions', 'data-testid': 'predictions' },
        h('div', { class: 'caption' }, top.length > 0 ? `next token after “${view.tokens[cell.query] ?? cell.query}”` : `next token: computed for rows ${logitsFrom}… only on this long run (the logits of every row would not fit)`),
        ...top.map((p) =>
          h('div', { class: 'prediction' }, h('span', { class: 'word' }, p.token), h('span', { class: 'bar', style: `width:${Math.max(1, Math.round(p.probability * 80))}px` }), h('span', { class: 'p' }, `${(p.probability * 100).toFixed(1)}%`)),
        ),
      ),
    );
  }

  canvas.addEventListener('pointermove', (event) => {
    if (event.buttons !== 0) return; // orbiting
    cancelAnimationFrame(frame);
    frame = requestAnimationFrame(() => {
      const rect = canvas.getBoundingClientRect();
      const surface = deps.surface();
      const cell = surface.pick(event.clientX - rect.left, event.clientY - rect.top);
      if (!cell) {
        if (readout.dataset.query !== undefined) clear();
        return;
      }
      surface.highlightRow(cell);
      void surface.render();
      deps.onCell?.(cell);
      show(cell).catch(deps.onError);
    });
  });
  canvas.addEventListener('pointerleave', () => {
    cancelAnimationFrame(frame);
    clear();
  });
  return { clear };
}
