/**
 * Which model model mode runs: the small model that ships with the app, a GPT-2-family model of
 * the short list (with its download size), any hub id or base URL, or files from the user's disk
 * (picked or dropped). The hub endpoint is settable (mirrors use the hub's layout) and written to
 * the URL as hub=, the model as model=. Downloads show their progress on the busy bar, with
 * Cancel; files stay in the browser's cache for the next visit.
 */
import { formatBytes } from '../core/errors';
import { DEFAULT_HUB, HUB_MODELS, type HubModel } from '../pretrained/hub';
import { h } from './dom';

export interface ModelPickerDeps {
  /** Open a model by id or base URL ('' = the shipped model) from `hub` ('' = huggingface.co). */
  open(model: string, hub: string): void;
  /** Open the model in files the user picked or dropped (file name → file). */
  openFiles(files: Record<string, Blob>, name: string): void;
  /** Empty the browser's model cache; resolves to whether there was one. */
  clearCache(): Promise<boolean>;
}

export interface ModelPicker {
  readonly root: HTMLElement;
  /** Show what the URL/state asks for (the select, the id box and the endpoint). */
  sync(model: string, hub: string): void;
}

const OTHER = '__other__';
const SHIPPED = '';

/** "openai-community/gpt2 — 12 × 12, 124M params, 548 MB". */
export function describeHubModel(model: HubModel): string {
  const params = model.params >= 1e9 ? `${(model.params / 1e9).toFixed(2)}B` : `${Math.round(model.params / 1e6)}M`;
  const kv = model.kvHeads !== undefined && model.kvHeads < model.heads ? ` (${model.kvHeads} kv)` : '';
  const gated = model.gated ? ' — gated on the hub: needs a token this page does not send (use files from disk or a mirror)' : '';
  return `${model.id.split('/').pop()} — ${model.layers} × ${model.heads} heads${kv}, ${params} params, ${formatBytes(model.downloadBytes)} ${model.dtype}${gated}`;
}

/** Files that make a model: the names the loader reads (a folder's other files are ignored). */
const MODEL_FILES = /(^|\/)(config\.json|model\.safetensors|model\.safetensors\.index\.json|model-\d+-of-\d+\.safetensors|tokenizer\.json|vocab\.json|merges\.txt)$/;

/** The files of a pick or drop by their base names, keeping only what a model needs. */
export function modelFiles(list: Iterable<File>): Record<string, Blob> {
  const out: Record<string, Blob> = {};
  for (const file of list) {
    const path = (file as File & { webkitRelativePath?: string }).webkitRelativePath || file.name;
    if (MODEL_FILES.test(path)) out[path.split('/').pop()!] = file;
  }
  return out;
}

export function createModelPicker(deps: ModelPickerDeps): ModelPicker {
  const select = h(
    'select',
    { 'data-testid': 'model-pick', 'aria-label': 'model' },
    h('option', { value: SHIPPED }, 'tiny-stories — ships with the app (2 × 4 heads, 512 KiB)'),
    ...HUB_MODELS.map((m) => h('option', { value: m.id }, describeHubModel(m))),
    h('option', { value: OTHER }, 'Another hub id or URL…'),
  ) as HTMLSelectElement;
  const idInput = h('input', {
    type: 'text',
    class: 'text-input',
    'data-testid': 'model-id',
    placeholder: 'owner/name, or https://…/folder/',
    'aria-label': 'hub model id or base URL',
    spellcheck: false,
    autocomplete: 'off',
  });
  const hubInput = h('input', {
    type: 'url',
    class: 'text-input',
    'data-testid': 'hub-endpoint',
    placeholder: DEFAULT_HUB,
    'aria-label': 'hub endpoint',
    spellcheck: false,
    autocomplete: 'off',
  });
  const openButton = h('button', { class: 'btn', 'data-testid': 'model-open' }, 'Open');
  const filesInput = h('input', { type: 'file', multiple: true, 'data-testid': 'model-files', 'aria-label': 'model files from disk' }) as HTMLInputElement;
  const clear = h('button', { class: 'btn small', 'data-testid': 'clear-model-cache' }, 'Clear cached models');
  const note = h('p', { class: 'note', 'data-testid': 'picker-note' });
  const idRow = h('div', { class: 'row-actions' }, idInput);
  const root = h(
    'div',
    { class: 'model-picker', 'data-testid': 'model-picker' },
    h('label', { class: 'text-row' }, h('span', {}, 'Model'), h('div', { class: 'row-actions' }, select, openButton)),
    idRow,
    h(
      'details',
      { class: 'picker-more' },
      h('summary', {}, 'Hub endpoint, files from disk, cache'),
      h('label', { class: 'text-row' }, h('span', {}, 'Hub endpoint (a mirror with the hub’s layout works too)'), hubInput),
      h('label', { class: 'text-row' }, h('span', {}, 'Or open files: config.json, model.safetensors (or its index and shards), tokenizer.json or vocab.json + merges.txt — or drop them on the page'), filesInput),
      h('div', { class: 'row-actions' }, clear),
    ),
    note,
  );

  const showIdRow = () => {
    idRow.hidden = select.value !== OTHER;
  };
  select.addEventListener('change', () => {
    showIdRow();
    // A choice from the list opens at once; "another" waits for the id.
    if (select.value !== OTHER) deps.open(select.value, hubInput.value.trim());
    else idInput.focus();
  });
  const openTyped = () => deps.open(select.value === OTHER ? idInput.value.trim() : select.value, hubInput.value.trim());
  openButton.addEventListener('click', openTyped);
  for (const input of [idInput, hubInput]) {
    input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter') openTyped();
    });
  }
  filesInput.addEventListener('change', () => {
    const picked = [...(filesInput.files ?? [])];
    filesInput.value = '';
    if (picked.length > 0) deps.openFiles(modelFiles(picked), 'disk');
  });
  clear.addEventListener('click', () => {
    void deps.clearCache().then(
      (had) => {
        note.textContent = had ? 'The browser’s model cache is empty now: the next open downloads again.' : 'This browser has no model cache (Cache Storage needs https or localhost).';
      },
      () => {
        note.textContent = 'The model cache could not be cleared.';
      },
    );
  });
  showIdRow();

  return {
    root,
    sync(model, hub) {
      const listed = model === SHIPPED || HUB_MODELS.some((m) => m.id === model);
      select.value = listed ? model : OTHER;
      if (!listed && document.activeElement !== idInput) idInput.value = model.startsWith('files:') ? '' : model;
      if (document.activeElement !== hubInput) hubInput.value = hub;
      showIdRow();
    },
  };
}
