/**
 * Import and export of attention inputs as .npy / .safetensors files.
 *
 * `ImportDialog`: a modal <dialog> where files are picked or dropped, read in a worker (so a
 * file of hundreds of MB never freezes the page), listed with dtype, shape and size, mapped
 * to roles (prefilled by `guessRoles`, transposes included), checked live against the shape
 * rules, and applied. Q, K (and V) given directly are mapped onto the projection pipeline
 * exactly (see `qkvAsProjections` in workers/tensor.worker.ts). Nothing reaches the app
 * before Apply, so a bad file never disturbs the current view; every error names the file
 * and field (or the role) that broke the rules.
 *
 * `exportCurrent` / `createExportButtons`: the current x and W as one .npy per tensor, or one
 * .safetensors file, with names `guessRoles` maps back, so exports round-trip.
 */
import { AttentionInputError } from '../core/errors';
import type { AttentionInputs, AttentionShape } from '../core/types';
import { TensorFileError, formatShape, type Tensor, type TensorDtype } from '../inputs/tensors';
import { ROLES, guessRoles, tensorsFromInputs, type Role, type RoleMap } from '../inputs/tensor-roles';
import { createTensorClient, type ImportResult, type TensorClient, type TensorInfo } from '../workers/tensor-client';
import { h } from './dom';

/** What Apply hands the app: inputs for the normal run path, and labels for the tokens. */
export type ImportedExample = ImportResult & {
  /** Query tokens: indices as strings ("0", "1", …). */
  tokens: string[];
  /** Key tokens: indices as strings, kvLen of them. */
  keyTokens: string[];
  /** "seqLen 6, kvLen 6, dModel 8, heads 1, dHead 8" (or the Q/K/V form). */
  summary: string;
};

export interface ImportCallbacks {
  apply(result: ImportedExample): void;
  message(kind: 'error' | 'warn' | 'info', text: string): void;
}

type Choice = Role | 'ignore';

const DTYPE_BYTES: Record<TensorDtype, number> = { float16: 2, bfloat16: 2, float32: 4, float64: 8 };
const ROLE_LABELS: Record<Choice, string> = {
  x: 'x (queries’ input)',
  xKV: 'xKV (keys’ input)',
  wq: 'W_Q',
  wk: 'W_K',
  wv: 'W_V',
  q: 'Q directly',
  k: 'K directly',
  v: 'V directly',
  ignore: 'ignore',
};
/** Token labels are built for at most this many positions (the view labels no more). */
const MAX_TOKEN_LABELS = 65536;

/** "312 MB", "4.1 kB", "96 B" (decimal units, as file managers show sizes). */
export function formatSize(bytes: number): string {
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(2)} GB`;
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(bytes >= 1e8 ? 0 : 1)} MB`;
  if (bytes >= 1e3) return `${(bytes / 1e3).toFixed(1)} kB`;
  return `${bytes} B`;
}

/** Text for an error of a file or a mapping, naming the field. */
export function importErrorText(error: unknown): string {
  if (error instanceof TensorFileError) return error.message;
  if (error instanceof AttentionInputError) return `Invalid ${error.field}: got ${error.given}; allowed: ${error.allowed}`;
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

let sharedClient: TensorClient | null = null;
/** One tensor worker for the page, started on first use. */
function tensorClient(): TensorClient {
  sharedClient ??= createTensorClient();
  return sharedClient;
}

function download(bytes: Uint8Array, name: string, type = 'application/octet-stream'): void {
  const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type }));
  const a = h('a', { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/**
 * Export x (and xKV) and W_Q, W_K, W_V of (shape, inputs): `'npy-zip'` downloads one .npy per
 * tensor (x.npy, wq.npy, …), `'safetensors'` one file holding them all. Files are written in
 * the tensor worker. Resolves with the names downloaded; rejects with the error naming the
 * field if the inputs break the rules.
 */
export async function exportCurrent(
  shape: AttentionShape,
  inputs: AttentionInputs,
  format: 'npy-zip' | 'safetensors',
  fileName = 'attention-inputs.safetensors',
): Promise<string[]> {
  const tensors = tensorsFromInputs(shape, inputs);
  const files = await tensorClient().exportTensors(format, tensors, fileName);
  for (let i = 0; i < files.length; i++) {
    // A short pause between downloads: browsers may drop clicks that come in one burst.
    if (i > 0) await new Promise((resolve) => setTimeout(resolve, 150));
    download(files[i].bytes, files[i].name);
  }
  return files.map((f) => f.name);
}

/**
 * Two buttons, "x, W as .npy" (data-testid="export-npy") and "as .safetensors"
 * (data-testid="export-safetensors"), exporting what `current()` returns (null: nothing yet).
 */
export function createExportButtons(
  current: () => { shape: AttentionShape; inputs: AttentionInputs } | { unavailable: string } | null,
  message: ImportCallbacks['message'],
): HTMLButtonElement[] {
  const make = (format: 'npy-zip' | 'safetensors', label: string, testid: string, title: string) => {
    const button = h('button', { class: 'btn', 'data-testid': testid, title }, label);
    button.addEventListener('click', async () => {
      const c = current();
      if (!c) {
        message('warn', 'Nothing to export yet: wait for the first run.');
        return;
      }
      if ('unavailable' in c) {
        message('info', c.unavailable);
        return;
      }
      button.disabled = true;
      try {
        const names = await exportCurrent(c.shape, c.inputs, format);
        message('info', `Exported ${names.join(', ')}.`);
      } catch (error) {
        message('error', `Export failed: ${importErrorText(error)}`);
      } finally {
        button.disabled = false;
      }
    });
    return button;
  };
  return [
    make('npy-zip', 'x, W as .npy', 'export-npy', 'x (and xKV), wq, wk, wv: one .npy file each (float32, C order)'),
    make('safetensors', 'x, W as .safetensors', 'export-safetensors', 'x (and xKV), wq, wk, wv in one .safetensors file (F32)'),
  ];
}

/** The import dialog. Construct once; `open()` shows it, `attachDropTarget` accepts drops. */
export class ImportDialog {
  readonly root: HTMLDialogElement;
  private readonly client: TensorClient;
  private readonly fileInput: HTMLInputElement;
  private readonly progress: HTMLElement;
  private readonly errors: HTMLElement;
  private readonly tbody: HTMLTableSectionElement;
  private readonly table: HTMLTableElement;
  private readonly notes: HTMLUListElement;
  private readonly headsInput: HTMLInputElement;
  private readonly summary: HTMLElement;
  private readonly mappingNote: HTMLElement;
  private readonly applyButton: HTMLButtonElement;
  private infos: TensorInfo[] = [];
  private choices = new Map<string, { role: Choice; transpose: boolean }>();
  private reading = 0;
  private checkToken = 0;
  private valid = false;
  private applying = false;

  constructor(private readonly callbacks: ImportCallbacks, client?: TensorClient) {
    this.client = client ?? tensorClient();
    this.fileInput = h('input', { type: 'file', multiple: true, accept: '.npy,.safetensors', 'data-testid': 'import-files', 'aria-label': 'tensor files' });
    this.progress = h('p', { class: 'import-progress', 'data-testid': 'import-progress', 'aria-live': 'polite' });
    this.errors = h('div', { class: 'import-errors', 'data-testid': 'import-error', role: 'alert' });
    this.tbody = h('tbody', {});
    this.table = h(
      'table',
      { class: 'import-table', 'data-testid': 'import-tensors', hidden: true },
      h('thead', {}, h('tr', {}, ...['tensor', 'file', 'dtype', 'shape', 'size', 'role', 'transpose'].map((t) => h('th', {}, t)))),
      this.tbody,
    );
    this.notes = h('ul', { class: 'import-notes', 'data-testid': 'import-notes' });
    this.headsInput = h('input', { type: 'number', min: 1, step: 1, value: 1, 'data-testid': 'import-heads', 'aria-label': 'heads' });
    this.summary = h('p', { class: 'import-summary', 'data-testid': 'import-summary', 'data-state': 'empty' }, 'No tensors yet.');
    this.mappingNote = h('p', { class: 'note', hidden: true });
    this.applyButton = h('button', { class: 'btn primary', 'data-testid': 'import-apply', disabled: true }, 'Apply');
    const clearButton = h('button', { class: 'btn', 'data-testid': 'import-clear' }, 'Clear');
    const cancelButton = h('button', { class: 'btn', 'data-testid': 'import-cancel' }, 'Close');
    const drop = h(
      'label',
      { class: 'import-drop' },
      h('strong', {}, 'Drop .npy or .safetensors files here, or pick them: '),
      this.fileInput,
      h('span', { class: 'note' }, 'float32 / float64 (also float16, bfloat16), C order, little-endian. Either x with W_Q, W_K, W_V (and optionally xKV), or Q, K (and V) directly.'),
    );
    this.root = h(
      'dialog',
      { class: 'import-dialog', 'data-testid': 'import-dialog', 'aria-label': 'Import tensors' },
      h('h2', {}, 'Import tensors'),
      drop,
      this.progress,
      this.errors,
      this.table,
      this.notes,
      h('div', { class: 'import-heads' }, h('label', {}, 'heads ', this.headsInput), h('span', { class: 'note' }, 'width = heads · dHead')),
      this.summary,
      this.mappingNote,
      h('div', { class: 'import-actions' }, clearButton, h('span', { class: 'spacer' }), cancelButton, this.applyButton),
    );

    this.fileInput.addEventListener('change', () => {
      const files = [...(this.fileInput.files ?? [])];
      this.fileInput.value = '';
      void this.load(files);
    });
    this.headsInput.addEventListener('input', () => void this.check());
    clearButton.addEventListener('click', () => void this.clear());
    cancelButton.addEventListener('click', () => this.root.close());
    this.applyButton.addEventListener('click', () => void this.apply());
    this.attachDropTarget(this.root);
  }

  /** Show the dialog (modal). */
  open(): void {
    if (!this.root.isConnected) document.body.append(this.root);
    if (!this.root.open) this.root.showModal();
  }

  close(): void {
    this.root.close();
  }

  /** Accept files dropped anywhere on `el` (highlighted while dragging over it): opens the dialog and reads them. */
  attachDropTarget(el: HTMLElement): void {
    const hasFiles = (event: DragEvent) => event.dataTransfer !== null && [...event.dataTransfer.types].includes('Files');
    let depth = 0;
    el.addEventListener('dragenter', (event) => {
      if (!hasFiles(event)) return;
      event.preventDefault();
      depth++;
      el.classList.add('import-drop-active');
    });
    el.addEventListener('dragover', (event) => {
      if (!hasFiles(event)) return;
      event.preventDefault();
      event.dataTransfer!.dropEffect = 'copy';
      el.classList.add('import-drop-active');
    });
    el.addEventListener('dragleave', () => {
      depth = Math.max(0, depth - 1);
      if (depth === 0) el.classList.remove('import-drop-active');
    });
    el.addEventListener('drop', (event) => {
      if (!hasFiles(event)) return;
      event.preventDefault();
      event.stopPropagation();
      depth = 0;
      el.classList.remove('import-drop-active');
      const files = [...(event.dataTransfer?.files ?? [])];
      if (files.length === 0) return;
      this.open();
      void this.load(files);
    });
  }

  /** Read files in the worker, one after another; a bad file is reported and skipped. */
  async load(files: File[]): Promise<void> {
    if (files.length === 0) return;
    this.reading++;
    this.errors.replaceChildren();
    this.setValid(false);
    let added = 0;
    try {
      for (const file of files) {
        this.progress.textContent = `Reading ${file.name} (${formatSize(file.size)})…`;
        this.progress.dataset.state = 'reading';
        try {
          const infos = await this.client.read(file);
          this.infos.push(...infos);
          added += infos.length;
        } catch (error) {
          const text = importErrorText(error);
          this.errors.append(h('p', { class: 'import-error', 'data-file': file.name }, text));
          this.callbacks.message('error', `Import: ${text}. The current view is kept.`);
        }
      }
    } finally {
      this.reading--;
    }
    this.progress.dataset.state = 'done';
    this.progress.textContent = `Read ${files.length} file${files.length === 1 ? '' : 's'}: ${added} tensor${added === 1 ? '' : 's'}${this.infos.length > added ? ` (${this.infos.length} in all)` : ''}.`;
    this.guess();
    this.render();
    await this.check();
  }

  /** Prefill roles and transposes from the names and shapes of everything read. */
  private guess(): void {
    // guessRoles looks at names and shapes only.
    const stand: Tensor[] = this.infos.map((info) => ({ name: info.name, shape: info.shape, dtype: info.dtype, data: new Float32Array(0) }));
    const guess = guessRoles(stand);
    this.choices = new Map(this.infos.map((info) => [info.name, { role: 'ignore' as Choice, transpose: false }]));
    for (const role of ROLES) {
      const assignment = guess.roles[role];
      if (assignment) this.choices.set(assignment.name, { role, transpose: assignment.transpose });
    }
    this.notes.replaceChildren(...guess.notes.map((note) => h('li', {}, note)));
  }

  private roleMap(): RoleMap {
    const roles: RoleMap = {};
    for (const [name, choice] of this.choices) if (choice.role !== 'ignore') roles[choice.role] = { name, transpose: choice.transpose };
    return roles;
  }

  private render(): void {
    this.table.hidden = this.infos.length === 0;
    this.tbody.replaceChildren(
      ...this.infos.map((info) => {
        const choice = this.choices.get(info.name)!;
        const select = h('select', { 'data-testid': 'import-role', 'data-tensor': info.name, 'aria-label': `role of ${info.name}` });
        for (const role of [...ROLES, 'ignore'] as Choice[]) {
          const option = h('option', { value: role }, ROLE_LABELS[role]);
          option.selected = role === choice.role;
          select.append(option);
        }
        const transpose = h('input', { type: 'checkbox', 'data-testid': 'import-transpose', 'data-tensor': info.name, 'aria-label': `transpose ${info.name}`, title: 'transpose a 2-d tensor first (PyTorch nn.Linear weights are stored (out, in))' });
        transpose.checked = choice.transpose;
        select.addEventListener('change', () => {
          const role = select.value as Choice;
          // A role belongs to one tensor: whoever had it gives it up.
          if (role !== 'ignore') for (const other of this.choices.values()) if (other.role === role) other.role = 'ignore';
          choice.role = role;
          this.render();
          void this.check();
        });
        transpose.addEventListener('change', () => {
          choice.transpose = transpose.checked;
          void this.check();
        });
        const count = info.shape.reduce((a, b) => a * b, 1);
        return h(
          'tr',
          { 'data-tensor': info.name },
          h('td', { class: 'name', title: info.name }, info.name),
          h('td', { class: 'file', title: info.file }, info.file),
          h('td', {}, info.dtype),
          h('td', {}, formatShape(info.shape)),
          h('td', { title: `${count} values` }, formatSize(count * DTYPE_BYTES[info.dtype])),
          h('td', {}, select),
          h('td', {}, h('label', { class: 'import-transpose' }, transpose, 'ᵀ')),
        );
      }),
    );
  }

  private setValid(valid: boolean): void {
    this.valid = valid;
    this.applyButton.disabled = !valid || this.applying || this.reading > 0;
  }

  /** Check the mapping in the worker; show the sizes or the error naming the field. */
  private async check(): Promise<void> {
    const token = ++this.checkToken;
    this.setValid(false);
    if (this.infos.length === 0) {
      this.summary.dataset.state = 'empty';
      this.summary.textContent = 'No tensors yet.';
      this.mappingNote.hidden = true;
      return;
    }
    this.summary.dataset.state = 'pending';
    this.summary.textContent = 'Checking…';
    try {
      const { summary } = await this.client.check(this.roleMap(), Number(this.headsInput.value));
      if (token !== this.checkToken) return;
      this.summary.dataset.state = 'valid';
      this.summary.textContent = summary;
      const direct = [...this.choices.values()].some((c) => c.role === 'q');
      const usesWeights = [...this.choices.values()].some((c) => c.role === 'x');
      this.mappingNote.hidden = !direct || usesWeights;
      this.mappingNote.textContent =
        'Q, K, V run through the same pipeline, exactly: x = [Q | 0], xKV = [K | V], W_Q = W_K = [I; 0], W_V = [0; I] (dModel = 2·width); ' +
        'identity projections reproduce Q, K and V bit for bit.';
      this.setValid(true);
    } catch (error) {
      if (token !== this.checkToken) return;
      this.summary.dataset.state = 'invalid';
      this.summary.textContent = importErrorText(error);
      this.mappingNote.hidden = true;
    }
  }

  private async apply(): Promise<void> {
    if (!this.valid || this.applying) return;
    this.applying = true;
    this.setValid(false);
    this.progress.textContent = 'Preparing the inputs…';
    try {
      const { result, summary } = await this.client.take(this.roleMap(), Number(this.headsInput.value));
      const seqLen = result.shape.seqLen;
      const kvLen = result.shape.kvLen ?? seqLen;
      const labels = (n: number) => Array.from({ length: Math.min(n, MAX_TOKEN_LABELS) }, (_, i) => String(i));
      const imported: ImportedExample = { ...result, tokens: labels(seqLen), keyTokens: labels(kvLen), summary };
      if (result.mode === 'qkv' && result.vFromK) this.callbacks.message('warn', 'Import: no V was given, so V = K.');
      this.root.close();
      // The arrays are ours now; the worker's copies of the files can go.
      await this.client.clear().catch(() => undefined);
      this.infos = [];
      this.choices.clear();
      this.notes.replaceChildren();
      this.render();
      this.progress.textContent = `Applied: ${summary}.`;
      this.summary.dataset.state = 'empty';
      this.summary.textContent = 'No tensors yet.';
      this.mappingNote.hidden = true;
      this.callbacks.apply(imported);
    } catch (error) {
      this.summary.dataset.state = 'invalid';
      this.summary.textContent = importErrorText(error);
      this.progress.textContent = '';
    } finally {
      this.applying = false;
      this.setValid(this.valid && this.infos.length > 0);
    }
  }

  /** Forget every tensor read (and free the worker's memory). */
  async clear(): Promise<void> {
    this.checkToken++;
    await this.client.clear().catch(() => undefined);
    this.infos = [];
    this.choices.clear();
    this.notes.replaceChildren();
    this.errors.replaceChildren();
    this.progress.textContent = '';
    this.render();
    await this.check();
  }
}
