/**
 * The export card: the view as PNG, the map as CSV or JSON (text from src/app/export.ts), the
 * inputs as .npy/.safetensors (the import dialog's writers).
 */
import { exportStem, mapToCsv, mapToJson } from '../app/export';
import { EXPORT_ENTRIES } from '../app/plan';
import type { ShownMaps } from '../app/shown';
import type { AppState } from '../app/state';
import type { SurfaceView } from '../scene';
import { h } from './dom';
import { createExportButtons } from './import-dialog';

/** Save a blob under `name` through a temporary link. */
export function download(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export interface ExportDeps {
  /** The view on screen (either mode), or null before the first. */
  view: () => ShownMaps | null;
  state: () => AppState;
  surface: () => SurfaceView;
  adapter: () => string;
  message: (kind: 'error' | 'warn' | 'info', text: string) => void;
  errorText: (error: unknown) => string;
}

/** The export card, wired. */
export function createExportCard(deps: ExportDeps): HTMLElement {
  const buttons = {
    png: h('button', { class: 'btn', 'data-testid': 'export-png' }, 'PNG'),
    csv: h('button', { class: 'btn', 'data-testid': 'export-csv' }, 'CSV'),
    json: h('button', { class: 'btn', 'data-testid': 'export-json' }, 'JSON'),
  };
  const stem = () => exportStem(deps.view()?.shape ?? null);
  buttons.png.addEventListener('click', async () => {
    try {
      download(await deps.surface().toPngBlob(), `${stem()}.png`);
    } catch (error) {
      deps.message('error', `PNG export failed: ${deps.errorText(error)}`);
    }
  });
  const exportMap = async (format: 'csv' | 'json') => {
    const view = deps.view();
    if (!view) return;
    const entries = view.shape.heads * view.shape.seqLen * view.shape.kvLen;
    if (entries > EXPORT_ENTRIES) {
      deps.message('error', `Export is limited to ${EXPORT_ENTRIES} map entries; this map has ${entries}. Reduce seqLen or heads, or export the PNG.`);
      return;
    }
    try {
      const map = await view.readMap();
      const content = {
        shape: view.shape,
        state: deps.state(),
        tokens: view.tokens,
        keyTokens: view.keyTokens,
        adapter: deps.adapter(),
        ...map,
      };
      const blob = format === 'csv' ? new Blob([mapToCsv(content)], { type: 'text/csv' }) : new Blob([mapToJson(content)], { type: 'application/json' });
      download(blob, `${stem()}.${format}`);
    } catch (error) {
      deps.message('error', deps.errorText(error));
    }
  };
  buttons.csv.addEventListener('click', () => void exportMap('csv'));
  buttons.json.addEventListener('click', () => void exportMap('json'));
  const view = deps.view;
  return h(
    'section',
    { class: 'card' },
    h('h2', {}, 'Export'),
    h('p', { class: 'note' }, 'The view as PNG; the map (scores and weights) as CSV or JSON; the inputs X, W_Q, W_K, W_V as .npy or .safetensors (they import back).'),
    h(
      'div',
      { class: 'row-actions' },
      ...Object.values(buttons),
      ...createExportButtons(() => view()?.exportInputs() ?? null, deps.message),
    ),
  );
}
