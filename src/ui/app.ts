/**
 * The app: one state object, a panel that edits it, the GPU run, the 3D surface, hover
 * readouts, verification against the CPU reference and export. Every change goes through
 * `apply`, which validates first, keeps the last good view on any error, and lets a newer
 * request supersede an older one.
 */
import { AttentionAbortError, AttentionError, AttentionInputError, GpuLimitError, GpuOutOfMemoryError, WebGpuUnavailableError, formatBytes } from '../core/errors';
import { RESULT_NAMES, type AttentionResult, type ResolvedShape } from '../core/types';
import { validateAttention } from '../core/validate';
import { describeDevice, type AdapterDescription } from '../gpu/device';
import { maxStorageBytes } from '../gpu/buffers';
import type { Example } from '../inputs/examples';
import { buildExample } from '../inputs/build';
import { createGpuAttention, type AttentionBuffers, type GpuAttention, type RunResult } from '../kernels/attention';
import { createAttentionSession, type AttentionSession } from '../kernels/session';
import { createFlashAttention, FLASH_MAX_DHEAD, type FlashAttention, type FlashBuffers } from '../kernels/flash';
import { sampleRows } from '../reference/attention';
import { createSurfaceView, type CellInfo, type SurfaceView } from '../scene';
import { LESSON_STEPS, STAGE_VIEWS, describeProblem, parseState, serializeState, type AppState, type LessonId, type StageView } from '../state';
import { createReferenceClient } from '../workers/reference-client';
import { Messages, TimingsCard, VerifyCard, matricesView, type TimingsView } from './cards';
import { attentionBytes, attentionFlops } from '../bench/metrics';
import { attentionCpuParallel } from '../cpu/parallel';
import { fmt, h } from './dom';
import { Panel } from './panel';
import { ImportDialog, createExportButtons } from './import-dialog';
import { SweepPanel } from './sweep-panel';
import { LessonView } from './lesson-view';
import { experimentContent, quizContent, type ExtrasContext } from './lesson-extras';
import { CAT_SAT_INPUTS, TWO_D_INPUTS, walkAttentionInputs, walkthrough, type WalkInputs } from '../lessons/walkthrough';
import './styles.css';

/** Above this many multiply-adds the full f64 reference is replaced by sampled rows. */
const FULL_REFERENCE_BUDGET = 6e8;
/** Maps up to this many entries are copied back whole (hover and export read them directly). */
const READBACK_ENTRIES = 1 << 21;
/** Export refuses maps over this many entries (a CSV of more is not useful in a spreadsheet). */
const EXPORT_ENTRIES = 1 << 22;
/** Examples this short show their matrices as numbers. */
const NUMBERS_MAX_TOKENS = 12;

const STAGE_LABELS: Record<StageView, string> = { raw: 'QKᵀ', scaled: 'QKᵀ/√d_k', masked: 'masked', weights: 'softmax' };

/** What is on screen now: the example, its shape and the arrays read back. */
interface Current {
  state: AppState;
  example: Example;
  shape: ResolvedShape;
  /** Arrays copied back from the GPU (or computed on the CPU without WebGPU). */
  arrays: Partial<AttentionResult>;
  reference: AttentionResult | null;
  timings: TimingsView;
  /** Computed on the fused path: no scores or weights on the device, only a reduced grid. */
  fused: boolean;
  /** The fused run this view came from: hover recomputes rows from its q, k and lse. */
  fusedBuffers: FlashBuffers | null;
  /** The unfused run this view came from, when hover reads cells from the device. */
  gpuBuffers: AttentionBuffers | null;
}

/** The longest sequence the app offers on the fused path. */
const FUSED_MAX_SEQ_LEN = 65536;

/** The fast CPU path is timed automatically up to this many FLOPs (about a second here). */
const CPU_AUTO_FLOPS = 2e9;

function errorText(error: unknown): string {
  if (error instanceof AttentionInputError) return `Invalid ${error.field}: got ${error.given}; allowed: ${error.allowed}. The previous view is kept.`;
  if (error instanceof GpuLimitError) return `${error.message} The previous view is kept.`;
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

function download(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** Build the page inside `root` and run the view the URL describes. */
export async function startApp(root: HTMLElement): Promise<void> {
  const parsed = parseState(location.search);
  let good: AppState = parsed.state;
  let current: Current | null = null;
  let latest = 0;
  let runAbort: AbortController | null = null;

  // ---- layout ----
  const messages = new Messages();
  const adapterBadge = h('span', { class: 'badge', 'data-testid': 'adapter' }, 'WebGPU: starting…');
  const lessonsButton = h('button', { class: 'btn', 'data-testid': 'open-lessons' }, 'Lessons: cat sat, step by step');
  const importButton = h('button', { class: 'btn', 'data-testid': 'open-import', title: 'load X and W_Q/W_K/W_V, or Q, K, V, from .npy or .safetensors files (or drop them on the view)' }, 'Import tensors');
  const topbar = h(
    'header',
    { class: 'topbar' },
    h('h1', {}, 'Attention ', h('span', {}, 'Lens')),
    h('span', { class: 'tagline' }, 'WGSL attention kernels, verified against a CPU reference, drawn as 3D surfaces'),
    h('span', { class: 'spacer' }),
    importButton,
    lessonsButton,
    adapterBadge,
  );
  const canvas = h('canvas', { 'data-testid': 'surface-canvas', 'aria-label': 'attention map as a 3D surface; drag to orbit, scroll to zoom' });
  const stageButtons = STAGE_VIEWS.map((stage) => h('button', { 'data-stage': stage, 'aria-pressed': 'false', title: `show ${STAGE_LABELS[stage]}` }, STAGE_LABELS[stage]));
  const stageGroup = h('div', { class: 'segmented', role: 'group', 'aria-label': 'stage', 'data-testid': 'stage' }, ...stageButtons);
  const headGroup = h('div', { class: 'segmented', role: 'group', 'aria-label': 'head', 'data-testid': 'head' });
  const reductionButton = h('button', { class: 'btn', 'data-testid': 'reduction', title: 'how blocks of a large map become one surface cell' }, 'blocks: max');
  const resetButton = h('button', { class: 'btn', 'data-testid': 'reset-view' }, 'Reset view');
  const toolbar = h('div', { class: 'overlay toolbar' }, stageGroup, headGroup, reductionButton, resetButton);
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
  const viewport = h('section', { class: 'viewport' }, canvas, toolbar, legend, readout, busy, chartHost);

  const verify = new VerifyCard();
  const sourceNote = h('section', { class: 'card', 'data-testid': 'source-note', hidden: true });
  const timings = new TimingsCard();
  const numbersHost = h('div', {});
  const exportButtons = {
    png: h('button', { class: 'btn', 'data-testid': 'export-png' }, 'PNG'),
    csv: h('button', { class: 'btn', 'data-testid': 'export-csv' }, 'CSV'),
    json: h('button', { class: 'btn', 'data-testid': 'export-json' }, 'JSON'),
  };
  const exportCard = h(
    'section',
    { class: 'card' },
    h('h2', {}, 'Export'),
    h('p', { class: 'note' }, 'The view as PNG; the map (scores and weights) as CSV or JSON; the inputs X, W_Q, W_K, W_V as .npy or .safetensors (they import back).'),
    h(
      'div',
      { class: 'row-actions' },
      ...Object.values(exportButtons),
      ...createExportButtons(() => (current ? { shape: current.example.shape, inputs: current.example.inputs } : null), (kind, text) => messages.show(kind, text, 'export')),
    ),
  );
  /** An imported example replaces the explorer's inputs until the panel is used again. */
  let imported: Example | null = null;
  const panel = new Panel(
    good,
    (next) => {
      imported = null;
      void apply(next);
    },
    16384,
  );
  const importDialog = new ImportDialog({
    apply: (example) => {
      imported = example;
      void apply({ ...good, lesson: '', step: 1, head: 0 });
    },
    message: (kind, text) => messages.show(kind, text, 'import'),
  });
  importButton.addEventListener('click', () => importDialog.open());
  let lessonInputs: WalkInputs = structuredClone(good.lesson === 'two-d' ? TWO_D_INPUTS : CAT_SAT_INPUTS);
  const lessonView = new LessonView({
    navigate: (lesson, step) => void navigateLesson(lesson, step),
    editInputs: (inputs) => {
      lessonInputs = inputs;
      void apply(good);
    },
    invalid: (field, given) => messages.show('error', `Invalid ${field}: got ${JSON.stringify(given)}; allowed: a finite number. The previous value is kept.`, 'input'),
  });
  lessonView.root.hidden = true;
  let sweepAttention: GpuAttention | null = null;
  const sweepPanel = new SweepPanel(
    {
      shape: () => ({ dModel: good.dModel, heads: good.heads, dHead: good.dHead, causal: good.causal, seed: good.seed }),
      run: async (options) => {
        const { runSweep } = await import('../bench/sweep');
        // Its own GpuAttention (same cached pipelines), so the view's buffers are left alone.
        if (device) sweepAttention ??= await createGpuAttention(device);
        const paths = device ? options.paths : options.paths.filter((p) => p !== 'gpu' && p !== 'tfjs');
        return runSweep({ ...options, paths }, sweepAttention ? { attention: sweepAttention, device: device! } : {});
      },
      showChart: (content) => {
        chartHost.hidden = content === null;
        chartHost.replaceChildren(...(content ? [content] : []));
      },
      download,
      message: (kind, text) => messages.show(kind, text, 'sweep'),
    },
    2048,
  );
  const sidebar = h('aside', { class: 'sidebar' }, lessonView.root, sourceNote, panel.root, verify.root, timings.root, sweepPanel.root, exportCard, numbersHost);
  root.replaceChildren(topbar, h('main', { class: 'layout' }, viewport, sidebar), messages.root);
  for (const problem of parsed.problems) messages.show('warn', describeProblem(problem), `url-${problem.field}`);

  /** Show (or hide, with null) the busy overlay; `fraction` fills its bar (indeterminate when absent). */
  const setBusy = (text: string | null, fraction?: number) => {
    busy.hidden = text === null;
    busyText.textContent = text ?? '';
    if (fraction === undefined) busyProgress.removeAttribute('value');
    else busyProgress.value = Math.min(1, Math.max(0, fraction));
  };

  // ---- devices ----
  let device: GPUDevice | null = null;
  let adapter: AdapterDescription | null = null;
  let attention: GpuAttention | null = null;
  let session: AttentionSession | null = null;
  const showAdapter = () => {
    if (!device) return;
    adapter = describeDevice(device);
    adapterBadge.textContent = adapter.label;
    adapterBadge.className = `badge${adapter.isSoftware ? ' warn' : ''}`;
    adapterBadge.title = `${adapter.label}\nfeatures: ${adapter.features.join(', ')}\nmax storage buffer: ${adapter.maxStorageBufferBindingSize} bytes`;
  };
  try {
    session = await createAttentionSession();
    device = session.device;
    attention = session.attention;
    showAdapter();
    session.onDeviceChange((event) => void onDeviceChange(event));
  } catch (error) {
    device = null;
    attention = null;
    adapterBadge.textContent = 'No WebGPU: CPU fallback';
    adapterBadge.classList.add('bad');
    const text = error instanceof WebGpuUnavailableError ? error.message : errorText(error);
    messages.show('error', `${text} Meanwhile the app computes on the CPU (small sizes only) and draws with WebGL.`, 'no-webgpu');
  }

  /** Device lost: say so; once the session has a new device, rebuild the scene and recompute. */
  async function onDeviceChange(event: { recovered: boolean; message: string; error?: Error }): Promise<void> {
    if (!event.recovered) {
      latest++;
      adapterBadge.textContent = 'GPU device lost: recovering…';
      adapterBadge.className = 'badge bad';
      messages.show(
        'error',
        event.error
          ? `The GPU device was lost (${event.message}) and a new one could not be created: ${event.error.message}. Reload the page, or check chrome://gpu.`
          : `The GPU device was lost (${event.message}). Creating a new device, kernels and scene…`,
        'device-lost',
      );
      return;
    }
    device = session!.device;
    attention = session!.attention;
    lessonAttention = null;
    sweepAttention = null;
    fused = null;
    showAdapter();
    surface.destroy();
    surface = await createSurfaceView(canvas, device);
    surface.onChange = () => updateLegend();
    await apply(good);
    messages.show('info', `Recovered from a lost GPU device (${event.message}): new device, kernels and scene; the view was recomputed.`, 'device-lost', 8000);
  }

  // A hook for tests and the curious: lose the device on purpose and watch the recovery.
  (window as unknown as { attentionLens: object }).attentionLens = {
    loseDevice: () => session?.loseDevice(),
    get recoveries() {
      return session?.recoveries ?? 0;
    },
  };
  const reference = createReferenceClient();
  const cpuWorkers = Math.max(1, Math.min(8, navigator.hardwareConcurrency || 2));
  let cpuWarm = false;
  let surface: SurfaceView;
  try {
    surface = await createSurfaceView(canvas, device);
  } catch (error) {
    messages.show('error', `The 3D view could not start: ${errorText(error)}`, 'scene');
    throw error;
  }
  surface.onChange = () => updateLegend();
  const resizeObserver = new ResizeObserver(() => {
    surface.resize();
    void surface.render();
  });
  resizeObserver.observe(viewport);
  importDialog.attachDropTarget(viewport);

  let reduction: 'max' | 'mean' = 'max';
  let fused: FlashAttention | null = null;

  /** Largest seqLen whose full map (heads × seqLen²) fits one storage buffer. */
  const maxSeqLenFor = (heads: number) => {
    if (!device) return 2048;
    const bytes = maxStorageBytes(device).bytes;
    return Math.max(2, Math.floor(Math.sqrt(bytes / 4 / heads)));
  };
  /** Largest seqLen the app offers: full maps, then the fused path where it applies. */
  const reachFor = (heads: number, dHead: number) => (device && dHead <= FLASH_MAX_DHEAD ? FUSED_MAX_SEQ_LEN : maxSeqLenFor(heads));
  panel.setMaxSeqLen(reachFor(good.heads, good.dHead));
  sweepPanel.setMaxSeqLen(maxSeqLenFor(good.heads));

  function updateLegend(): void {
    const info = surface.legend();
    legendTitle.textContent = info.title;
    legendBar.style.background = info.gradientCss;
    legendMin.textContent = fmt(info.min, 3);
    legendMax.textContent = fmt(info.max, 3);
    legendNote.textContent = info.reduction;
    legendMasked.textContent = info.note ? `${info.masked} · ${info.note}` : info.masked;
    const available = surface.availableStages();
    for (const button of stageButtons) button.disabled = !available.includes(button.dataset.stage as StageView);
  }

  function syncToolbar(state: AppState, shape: ResolvedShape): void {
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
  }

  function writeUrl(state: AppState): void {
    const query = serializeState(state);
    history.replaceState(null, '', query ? `?${query}` : location.pathname);
  }

  // ---- the one path every change takes ----
  /** Compute and show `next`; `restoring`: this recomputes the kept view after a failed request. */
  async function apply(next: AppState, restoring = false): Promise<void> {
    const token = ++latest;
    let example: Example;
    let shape: ResolvedShape;
    try {
      const usesSeqLen = next.input === 'random' || next.input === 'sinusoidal';
      const maxSeqLen = maxSeqLenFor(Number.isInteger(next.heads) && next.heads > 0 ? next.heads : 1);
      const reach = device && Number.isInteger(next.dHead) && next.dHead <= FLASH_MAX_DHEAD ? FUSED_MAX_SEQ_LEN : maxSeqLen;
      if (usesSeqLen && Number.isInteger(next.seqLen) && next.seqLen > reach) {
        const why = reach > maxSeqLen ? `up to ${maxSeqLen} as a full map, beyond that on the fused path` : `the largest full ${next.heads}-head map this device holds${device ? `; the fused path needs dHead ≤ ${FLASH_MAX_DHEAD}` : ''}`;
        throw new AttentionInputError('seqLen', String(next.seqLen), `an integer from 2 to ${reach} (${why})`, 'too-large');
      }
      example = exampleFor(next);
      // The path is chosen below: a map too large to store goes to the fused path, so only the
      // arrays every path holds are checked here (each path checks its own on run).
      shape = validateAttention(example.shape, example.inputs, { storesMap: false });
    } catch (error) {
      messages.show('error', errorText(error), 'input');
      panel.sync(good);
      return;
    }
    if (next.head >= shape.heads) next = { ...next, head: 0 };
    runAbort?.abort();
    reference.cancel();
    const abort = new AbortController();
    runAbort = abort;
    const entries = shape.heads * shape.seqLen * shape.kvLen;
    setBusy(`Computing ${shape.heads}×${shape.seqLen}×${shape.kvLen} on the ${attention ? 'GPU' : 'CPU'}…`);
    verify.pending('Running…');
    try {
      let arrays: Partial<AttentionResult> = {};
      let run: RunResult | Partial<RunResult> | null = null;
      let referenceResult: AttentionResult | null = null;
      let cpuMs: number | null = null;
      const fullBytes = 4 * entries;
      const fits = !device || fullBytes <= maxStorageBytes(device).bytes;
      let fusedRun = false;
      // The full map does not fit one storage buffer, or the device could not allocate it: the
      // fused path computes the output without ever storing the map, and a reduced map of the
      // weights for the surface.
      const runFused = async (why: string) => {
        fusedRun = true;
        messages.show('info', `${why}: computing on the fused path (FlashAttention-style). Only the weights, reduced to blocks, are drawn; scores are never stored.`, 'fused', 0);
        fused ??= await createFlashAttention(device!);
        // Two passes over the whole map (the output, then the reduced weights), each reported
        // as half of the bar; both run in chunks, so the page draws and Cancel works between.
        const computing = `Fused path: computing ${shape.heads}×${shape.seqLen}×${shape.kvLen} without storing the map`;
        setBusy(`${computing}…`, 0);
        const result = await fused.run(example.shape, example.inputs, {
          read: ['output'],
          signal: abort.signal,
          onProgress: (done, total) => {
            if (token === latest) setBusy(`${computing}: ${done} of ${total} query blocks…`, done / total / 2);
          },
        });
        if (token !== latest) return false;
        setBusy('Fused path: reducing the weights to the surface grid…', 0.5);
        const rows = Math.min(shape.seqLen, 256);
        const cols = Math.min(shape.kvLen, 256);
        const grid = await fused.reducedMap({
          rows,
          cols,
          mode: reduction,
          signal: abort.signal,
          onProgress: (done, total) => {
            if (token === latest) setBusy(`Fused path: reducing the weights to the surface grid: ${done} of ${total} rows…`, 0.5 + done / total / 2);
          },
        });
        if (token !== latest) return false;
        arrays = { output: result.output };
        run = { timings: { projections: result.timings.projections, scores: result.timings.attention, softmax: Number.NaN, output: Number.NaN, total: result.timings.total, source: result.timings.source } };
        await surface.setSource({ shape, tokens: example.tokens, keyTokens: example.keyTokens ?? example.tokens, grid: { weights: grid, rows, cols, mode: reduction } });
        return true;
      };
      let fullFailed: GpuOutOfMemoryError | null = null;
      if (attention && fits) {
        try {
          const read = entries <= READBACK_ENTRIES ? RESULT_NAMES : (['q', 'k', 'v', 'output'] as const);
          run = await attention.run(example.shape, example.inputs, { read, signal: abort.signal });
          if (token !== latest) return;
          arrays = run;
          await surface.setSource({ shape, tokens: example.tokens, keyTokens: example.keyTokens ?? example.tokens, gpu: attention.buffers()! });
        } catch (error) {
          if (!(error instanceof GpuOutOfMemoryError) || shape.dHead > FLASH_MAX_DHEAD) throw error;
          fullFailed = error;
        }
      }
      if (attention && device && (!fits || fullFailed)) {
        const why = fullFailed
          ? `The device could not allocate the full ${formatBytes(fullBytes)} map twice (scores and weights)`
          : `The full ${shape.heads}×${shape.seqLen}×${shape.kvLen} map needs ${formatBytes(fullBytes)} (${fullBytes} bytes), more than one storage buffer holds (${formatBytes(maxStorageBytes(device).bytes)}, ${maxStorageBytes(device).bytes} bytes)`;
        if (!(await runFused(why))) return;
      } else if (!attention) {
        if (entries * shape.dHead > FULL_REFERENCE_BUDGET) {
          throw new AttentionInputError('seqLen', String(shape.seqLen), `a smaller size on the CPU fallback (heads·seqLen·kvLen·dHead ≤ ${FULL_REFERENCE_BUDGET.toExponential(0)})`, 'too-large');
        }
        const cpu = await reference.verify(example.shape, example.inputs, {}, { returnReference: true });
        if (token !== latest) return;
        arrays = cpu.reference!;
        referenceResult = cpu.reference!;
        cpuMs = cpu.referenceMs;
        await surface.setSource({ shape, tokens: example.tokens, keyTokens: example.keyTokens ?? example.tokens, cpu: referenceResult });
      }
      if (token !== latest) return;
      surface.setHead(next.head);
      surface.setStage(next.stage);
      good = next;
      current = { state: next, example, shape, arrays, reference: referenceResult, timings: current?.timings as TimingsView, fused: fusedRun, fusedBuffers: fusedRun ? fused!.buffers() : null, gpuBuffers: !fusedRun && attention ? attention.buffers() : null };
      panel.setMaxSeqLen(reachFor(shape.heads, shape.dHead));
      panel.sync(shapeIntoState(next, shape));
      if (!fusedRun) messages.clear('fused');
      const showingImport = imported !== null && example === imported;
      sourceNote.hidden = !showingImport;
      if (showingImport) {
        sourceNote.replaceChildren(
          h('h2', {}, 'Imported tensors', h('span', { class: 'pill' }, `${shape.heads}×${shape.seqLen}×${shape.kvLen}`)),
          h('p', { class: 'note' }, `${((imported as Example & { summary?: string }).summary ?? 'From your files').replace(/\.?$/, '.')} The panel's sizes show the imported shape; change any setting to return to the explorer's inputs. Imported data is not in the URL.`),
        );
      }
      syncToolbar(next, shape);
      writeUrl(next);
      messages.clear('input');
      const frameMs = await surface.render();
      canvas.dataset.frameMs = frameMs.toFixed(1);
      updateLegend();
      setBusy(null);
      clearReadout();
      const shapeText = `${shape.heads}×${shape.seqLen}×${shape.kvLen}${shape.causal ? ' causal' : ''}`;
      current.timings = {
        shapeText,
        gpu: run && 'timings' in run ? run.timings! : null,
        cpu: { pending: 'The fast CPU path is timed after verification.' },
        cpuWorkers,
        flops: attentionFlops(shape),
        bytes: attentionBytes(shape),
        referenceMs: cpuMs,
        adapter,
        frameMs,
      };
      if (fusedRun) current.timings.note = 'Fused path: the scores row holds the whole fused kernel (scores → softmax → output in one pass).';
      timings.show(current.timings);
      renderNumbers(null);
      renderLesson();
      if (fusedRun) await verifyFused(token, example, shape);
      else if (attention) await verifyRun(token, example, shape, shapeText, run as RunResult);
      else verify.skipped('No GPU result to compare: without WebGPU the CPU reference itself is drawn.');
      if (token !== latest) return;
      if (fusedRun) {
        current.timings.cpu = { skipped: 'The fast CPU path stores the full map, which at this size does not fit; it is not timed on the fused path.' };
        timings.show(current.timings);
      } else if (current.timings.flops.total <= CPU_AUTO_FLOPS) await timeCpu(token);
      else {
        current.timings.cpu = { skipped: `Not timed automatically above ${CPU_AUTO_FLOPS / 1e9} GFLOP (this run is ${(current.timings.flops.total / 1e9).toFixed(1)}).`, action: () => void timeCpu(latest) };
        timings.show(current.timings);
      }
    } catch (error) {
      if (token !== latest) return;
      setBusy(null);
      const cancelled = error instanceof AttentionAbortError || (error instanceof Error && error.name === 'AbortError');
      if (cancelled) verify.skipped('Cancelled.');
      else {
        messages.show('error', errorText(error), 'input');
        panel.sync(good);
        if (current) verify.skipped('The last request failed; the view shows the previous good result.');
        else verify.failed(errorText(error));
      }
      // The request got as far as the GPU and reused the kept view's buffers there (the surface
      // re-reduces them on a head switch, hover reads cells from them): compute the kept view
      // again so what is drawn and read stays its own.
      if (!restoring && current && !current.fused && attention && current.gpuBuffers && attention.buffers() !== current.gpuBuffers) {
        messages.show('info', `${cancelled ? 'Cancelled' : 'Failed'} after the GPU had started; recomputing the previous view (its GPU buffers were reused).`, 'restore');
        void apply(current.state, true);
      }
    }
  }

  /** The panel shows the example's real sizes (lesson examples fix them). */
  function shapeIntoState(state: AppState, shape: ResolvedShape): AppState {
    return { ...state, seqLen: shape.seqLen, dModel: shape.dModel, heads: shape.heads, dHead: shape.dHead, causal: shape.causal };
  }

  /** Fused path: sampled rows, recomputed from the GPU's q, k and row log-sum-exps, and its output rows. */
  async function verifyFused(token: number, example: Example, shape: ResolvedShape): Promise<void> {
    try {
      const rows = sampleRows(shape.seqLen, 8);
      verify.pending(`Fused path: checking ${rows.length} sampled query rows in a worker…`);
      const gpuRows = await fused!.readRows(rows);
      if (token !== latest) return;
      const { lse: _lse, ...actual } = gpuRows;
      const outcome = await reference.verify(example.shape, example.inputs, actual, { rows });
      if (token !== latest) return;
      verify.show(outcome.report, outcome.referenceMs, `Fused path: ${rows.length} sampled query rows × all heads and keys; weights rebuilt from the GPU's q, k and log-sum-exps, output read from the GPU`);
    } catch (error) {
      if (token !== latest || error instanceof AttentionAbortError) return;
      verify.failed(errorText(error));
    }
  }

  async function verifyRun(token: number, example: Example, shape: ResolvedShape, shapeText: string, run: RunResult): Promise<void> {
    const cost = shape.heads * shape.seqLen * shape.kvLen * shape.dHead * 2 + (shape.seqLen + 2 * shape.kvLen) * shape.dModel * shape.width;
    try {
      if (cost <= FULL_REFERENCE_BUDGET) {
        verify.pending('Computing the f64 reference and comparing, in a worker…');
        const gpuArrays = run.scores ? run : { ...run, ...(await attention!.readRows(Array.from({ length: shape.seqLen }, (_, i) => i))) };
        if (token !== latest) return;
        const small = shape.heads * shape.seqLen * shape.kvLen <= READBACK_ENTRIES;
        const { timings: _t, ...actual } = gpuArrays;
        const outcome = await reference.verify(example.shape, example.inputs, actual, { returnReference: small });
        if (token !== latest || !current) return;
        current.reference = outcome.reference ?? null;
        verify.show(outcome.report, outcome.referenceMs, `All ${shapeText} entries and Q, K, V, output compared`);
        current.timings.referenceMs = outcome.referenceMs;
        timings.show(current.timings);
        renderNumbers(current.reference);
      } else {
        const rows = sampleRows(shape.seqLen, 16);
        verify.pending(`Map too large for the full reference: checking ${rows.length} sampled query rows in a worker…`);
        const gpuRows = await attention!.readRows(rows);
        if (token !== latest) return;
        const outcome = await reference.verify(example.shape, example.inputs, gpuRows, { rows });
        if (token !== latest) return;
        verify.show(outcome.report, outcome.referenceMs, `${rows.length} sampled query rows (0, …, ${shape.seqLen - 1}) × all heads and keys compared`);
      }
    } catch (error) {
      if (token !== latest) return;
      if (error instanceof AttentionAbortError) return;
      verify.failed(errorText(error));
    }
  }

  /** Time the fast CPU path on the current example (workers; cancelled by a newer request). */
  async function timeCpu(token: number): Promise<void> {
    const c = current;
    if (!c || token !== latest) return;
    c.timings.cpu = { pending: `Timing the fast CPU path on ${cpuWorkers} workers…` };
    timings.show(c.timings);
    try {
      // The first run starts the workers and compiles their code: time the second, as the
      // GPU side is timed with its pipelines already compiled.
      if (!cpuWarm) {
        await attentionCpuParallel(c.example.shape, c.example.inputs, { workers: cpuWorkers, signal: runAbort?.signal });
        cpuWarm = true;
      }
      const result = await attentionCpuParallel(c.example.shape, c.example.inputs, { workers: cpuWorkers, signal: runAbort?.signal });
      if (token !== latest || current !== c) return;
      c.timings.cpu = result.timings;
    } catch (error) {
      if (token !== latest || current !== c) return;
      c.timings.cpu = { skipped: error instanceof AttentionAbortError ? 'CPU timing cancelled.' : `CPU timing failed: ${errorText(error)}` };
    }
    timings.show(c.timings);
  }

  function renderNumbers(referenceResult: AttentionResult | null): void {
    const c = current;
    if (!c || c.shape.seqLen > NUMBERS_MAX_TOKENS || c.shape.kvLen > NUMBERS_MAX_TOKENS || !c.arrays.scores) {
      numbersHost.replaceChildren();
      return;
    }
    const a = c.arrays as AttentionResult;
    const head = Math.max(0, c.state.head);
    numbersHost.replaceChildren(matricesView(c.example.tokens, c.example.keyTokens ?? c.example.tokens, a, c.shape.width, c.shape.kvLen, head, referenceResult));
  }

  // ---- hover ----
  let hoverFrame = 0;
  let hoverToken = 0;
  function clearReadout(): void {
    readout.className = 'overlay readout empty';
    readout.replaceChildren('Hover the surface to read a cell.');
    delete readout.dataset.query;
    surface.highlightRow(lessonHighlight());
    void surface.render();
  }
  async function showCell(cell: CellInfo): Promise<void> {
    const c = current;
    if (!c) return;
    const token = ++hoverToken;
    const { seqLen, kvLen } = c.shape;
    const at = (cell.head * seqLen + cell.query) * kvLen + cell.key;
    let score: number;
    let weight: number;
    // A later run that was cancelled (or superseded) after it reached the GPU has overwritten
    // this view's buffers there: a readout would mix the two, so say so instead.
    const replaced = (recomputing: boolean) => {
      readout.className = 'overlay readout';
      readout.replaceChildren(
        h('p', {}, recomputing
          ? 'Cell values are not available until this view is recomputed: a newer request that did not finish reused its buffers on the GPU.'
          : 'Cell values are not available: a newer fused run that did not finish replaced this view’s data on the GPU. Change any setting (or re-enter the sequence length) to recompute.'),
      );
    };
    if (c.arrays.scores && c.arrays.weights) {
      score = c.arrays.scores[at];
      weight = c.arrays.weights[at];
    } else if (c.fused && fused) {
      if (fused.buffers() !== c.fusedBuffers) return replaced(false);
      const row = await fused.readRows([cell.query]);
      if (token !== hoverToken) return;
      score = row.scores[cell.head * kvLen + cell.key];
      weight = row.weights[cell.head * kvLen + cell.key];
    } else if (attention) {
      if (attention.buffers() !== c.gpuBuffers) return replaced(true);
      [{ score, weight }] = await attention.readEntries([[cell.head, cell.query, cell.key]]);
      if (token !== hoverToken) return;
    } else return;
    const ref = c.reference;
    const tokenOf = (list: string[], i: number) => (list[i] !== undefined ? ` “${list[i]}”` : '');
    const block = cell.queryEnd - cell.query > 1 || cell.keyEnd - cell.key > 1 ? `block ${cell.queryEnd - cell.query}×${cell.keyEnd - cell.key}; first entry shown` : null;
    const rows: Array<[string, string]> = [
      ['head', String(cell.head)],
      ['query', `${cell.query}${tokenOf(c.example.tokens, cell.query)}`],
      ['key', `${cell.key}${tokenOf(c.example.keyTokens ?? c.example.tokens, cell.key)}`],
      ['QKᵀ (raw)', score === -Infinity ? 'masked' : fmt(score * Math.sqrt(c.shape.dHead), 5)],
      ['score QKᵀ/√d_k', fmt(score, 5) + (ref ? `  (CPU ${fmt(ref.scores[at], 5)})` : '')],
      ['weight', `${fmt(weight, 5)} = ${(weight * 100).toFixed(1)}%` + (ref ? `  (CPU ${fmt(ref.weights[at], 5)})` : '')],
    ];
    if (block) rows.push(['cell', block]);
    readout.className = 'overlay readout';
    readout.dataset.head = String(cell.head);
    readout.dataset.query = String(cell.query);
    readout.dataset.key = String(cell.key);
    readout.dataset.score = String(score);
    readout.dataset.weight = String(weight);
    readout.replaceChildren(h('table', {}, h('tbody', {}, ...rows.map(([k, v]) => h('tr', {}, h('td', {}, k), h('td', {}, v))))));
  }
  canvas.addEventListener('pointermove', (event) => {
    if (event.buttons !== 0) return; // orbiting
    cancelAnimationFrame(hoverFrame);
    hoverFrame = requestAnimationFrame(() => {
      const rect = canvas.getBoundingClientRect();
      const cell = surface.pick(event.clientX - rect.left, event.clientY - rect.top);
      if (!cell) {
        if (readout.dataset.query !== undefined) clearReadout();
        return;
      }
      surface.highlightRow(cell);
      void surface.render();
      void showCell(cell);
    });
  });
  canvas.addEventListener('pointerleave', () => {
    cancelAnimationFrame(hoverFrame);
    clearReadout();
  });

  // ---- toolbar ----
  stageGroup.addEventListener('click', (event) => {
    const stage = (event.target as HTMLElement).closest('button')?.dataset.stage as StageView | undefined;
    if (!stage || !current) return;
    good = { ...good, stage };
    current.state = good;
    surface.setStage(stage);
    syncToolbar(good, current.shape);
    writeUrl(good);
  });
  headGroup.addEventListener('click', (event) => {
    const head = (event.target as HTMLElement).closest('button')?.dataset.head;
    if (head !== undefined) selectHead(Number(head));
  });
  function selectHead(head: number): void {
    if (!current) return;
    good = { ...good, head };
    current.state = good;
    surface.setHead(good.head);
    syncToolbar(good, current.shape);
    writeUrl(good);
    renderNumbers(current.reference);
    void surface.render().then(updateLegend);
  }
  reductionButton.addEventListener('click', () => {
    reduction = reduction === 'max' ? 'mean' : 'max';
    reductionButton.textContent = `blocks: ${reduction}`;
    // The fused path's grid is reduced on the GPU in one mode: recompute it in the other.
    if (current?.fused) {
      void apply(good);
      return;
    }
    surface.setReduction(reduction);
    void surface.render().then(updateLegend);
  });
  resetButton.addEventListener('click', () => {
    surface.resetView();
    void surface.render();
  });
  cancelButton.addEventListener('click', () => {
    latest++;
    runAbort?.abort();
    reference.cancel();
    setBusy(null);
    panel.sync(good);
    messages.show('info', 'Cancelled; the previous view is kept.', 'cancel');
  });

  // ---- export ----
  const stamp = () => `attention-${current ? `${current.shape.heads}x${current.shape.seqLen}x${current.shape.kvLen}` : 'view'}`;
  exportButtons.png.addEventListener('click', async () => {
    try {
      download(await surface.toPngBlob(), `${stamp()}.png`);
    } catch (error) {
      messages.show('error', `PNG export failed: ${errorText(error)}`, 'export');
    }
  });
  async function mapForExport(): Promise<{ scores: Float32Array; weights: Float32Array } | null> {
    const c = current;
    if (!c) return null;
    const entries = c.shape.heads * c.shape.seqLen * c.shape.kvLen;
    if (entries > EXPORT_ENTRIES) {
      messages.show('error', `Export is limited to ${EXPORT_ENTRIES} map entries; this map has ${entries}. Reduce seqLen or heads, or export the PNG.`, 'export');
      return null;
    }
    if (c.arrays.scores && c.arrays.weights) return { scores: c.arrays.scores, weights: c.arrays.weights };
    const rows = await attention!.readRows(Array.from({ length: c.shape.seqLen }, (_, i) => i));
    return rows;
  }
  exportButtons.csv.addEventListener('click', async () => {
    const c = current;
    const map = await mapForExport().catch((error: unknown) => (messages.show('error', errorText(error), 'export'), null));
    if (!c || !map) return;
    const { heads, seqLen, kvLen } = c.shape;
    const keyTokens = c.example.keyTokens ?? c.example.tokens;
    const quote = (text: string | undefined) => (text === undefined ? '' : `"${text.replaceAll('"', '""')}"`);
    const lines = ['head,query,key,query_token,key_token,score,weight'];
    for (let head = 0; head < heads; head++) {
      for (let i = 0; i < seqLen; i++) {
        for (let j = 0; j < kvLen; j++) {
          const at = (head * seqLen + i) * kvLen + j;
          lines.push(`${head},${i},${j},${quote(c.example.tokens[i])},${quote(keyTokens[j])},${map.scores[at]},${map.weights[at]}`);
        }
      }
    }
    download(new Blob([lines.join('\n') + '\n'], { type: 'text/csv' }), `${stamp()}.csv`);
  });
  exportButtons.json.addEventListener('click', async () => {
    const c = current;
    const map = await mapForExport().catch((error: unknown) => (messages.show('error', errorText(error), 'export'), null));
    if (!c || !map) return;
    const { heads, seqLen, kvLen } = c.shape;
    const rowsOf = (values: Float32Array, head: number) =>
      Array.from({ length: seqLen }, (_, i) => Array.from(values.subarray((head * seqLen + i) * kvLen, (head * seqLen + i + 1) * kvLen), (v) => (Number.isFinite(v) ? v : null)));
    const json = {
      shape: c.shape,
      state: c.state,
      tokens: c.example.tokens,
      keyTokens: c.example.keyTokens ?? c.example.tokens,
      adapter: adapter?.label ?? 'none (CPU)',
      note: 'scores = QKᵀ/√dHead (null where masked); weights = row softmax',
      heads: Array.from({ length: heads }, (_, head) => ({ head, scores: rowsOf(map.scores, head), weights: rowsOf(map.weights, head) })),
    };
    download(new Blob([JSON.stringify(json)], { type: 'application/json' }), `${stamp()}.json`);
  });

  window.addEventListener('unhandledrejection', (event) => {
    if (event.reason instanceof AttentionError) {
      messages.show('error', errorText(event.reason), 'unhandled');
      event.preventDefault();
    }
  });

  // ---- lessons ----
  /** The example a state runs: a lesson's own inputs, or the explorer's. */
  function exampleFor(state: AppState): Example {
    if (imported && state.lesson === '') return imported;
    if (state.lesson === 'cat-sat' || state.lesson === 'two-d') {
      const { shape, inputs } = walkAttentionInputs(lessonInputs);
      return { shape, inputs, tokens: [...lessonInputs.tokens] };
    }
    if (state.lesson === 'sentence') return buildExample({ ...state, input: 'sentence', text: LESSON_SENTENCE, causal: false });
    return buildExample(state);
  }

  /** The row a lesson points at: "sat" (query 1 of the worked example, 2 of the sentence). */
  function lessonHighlight(): CellInfo | null {
    if (!current) return null;
    const lesson = current.state.lesson;
    if (lesson === 'cat-sat' || lesson === 'two-d') return { head: 0, query: 1, key: 0, queryEnd: 2, keyEnd: 1 };
    if (lesson === 'sentence') return { head: 0, query: SENTENCE_QUERY, key: 0, queryEnd: SENTENCE_QUERY + 1, keyEnd: 1 };
    return null;
  }

  function renderLesson(): void {
    const c = current;
    const lesson = c?.state.lesson ?? '';
    lessonView.root.hidden = lesson === '';
    panel.root.hidden = lesson !== '';
    lessonsButton.hidden = lesson !== '';
    if (!c || lesson === '') return;
    if (lesson === 'cat-sat' || lesson === 'two-d') {
      const gpu = c.arrays.scores ? (c.arrays as AttentionResult) : undefined;
      const steps = walkthrough(lessonInputs, gpu);
      const step = steps[Math.min(c.state.step, steps.length) - 1];
      lessonView.showWalk(lesson, step.step, steps, lessonInputs, gpu !== undefined);
      surface.setStage(step.stage);
      syncToolbar({ ...c.state, stage: step.stage }, c.shape);
    } else if (lesson === 'sentence') {
      const w = c.arrays.weights;
      const row = w ? Array.from(w.subarray(SENTENCE_QUERY * c.shape.kvLen, (SENTENCE_QUERY + 1) * c.shape.kvLen)) : null;
      lessonView.showSentence(c.example.tokens, SENTENCE_QUERY, row);
    } else {
      const content = lesson === 'experiments' ? experimentsContent(c.state.step) : quizContentFor(c.state.step);
      lessonView.showContent(lesson, c.state.step, LESSON_STEPS[lesson], content);
    }
    surface.highlightRow(lessonHighlight());
    void surface.render();
  }

  async function navigateLesson(lesson: LessonId, step: number): Promise<void> {
    const previous = good.lesson;
    const next: AppState = { ...good, lesson, step: lesson ? Math.max(1, Math.min(step, LESSON_STEPS[lesson])) : 1 };
    if (lesson !== previous) {
      if (lesson === 'cat-sat') lessonInputs = structuredClone(CAT_SAT_INPUTS);
      if (lesson === 'two-d') lessonInputs = structuredClone(TWO_D_INPUTS);
      await apply({ ...next, head: 0 });
      return;
    }
    good = next;
    if (current) current.state = next;
    writeUrl(next);
    renderLesson();
  }
  lessonsButton.addEventListener('click', () => void navigateLesson('cat-sat', 1));

  // The experiments run on their own GpuAttention, so the explorer's buffers (which the
  // surface and hover readouts read) are never overwritten by a lesson's small runs.
  let lessonAttention: GpuAttention | null = null;
  const extras: ExtrasContext = {
    runGpu: device
      ? async (shape, inputs) => {
          lessonAttention ??= await createGpuAttention(device!);
          const { timings: _timings, ...result } = await lessonAttention.run(shape, inputs);
          return result;
        }
      : null,
    explore: (patch) => void apply({ ...good, ...patch, lesson: '', step: 1 }),
  };
  const experimentsContent = (step: number) => experimentContent(step, extras);
  const quizContentFor = (step: number) => quizContent(step, extras);

  await apply(good);
}

/** The sentence lesson's text and the query it follows ("sat"). */
const LESSON_SENTENCE = 'The cat sat on the mat';
const SENTENCE_QUERY = 2;
