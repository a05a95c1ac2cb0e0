/**
 * The app's wiring: the page's parts (panel, toolbar, cards, lessons, sweep, export, hover)
 * around one state object and the view pipeline of src/app/view.ts. Every change goes
 * through `apply`, which validates first, keeps the last good view on any error, and lets a
 * newer request supersede an older one. Policy (which path, what is verified, how far seqLen
 * reaches) lives in src/app and src/verify/policy.ts, not here.
 */
import { AttentionError, AttentionInputError, GpuLimitError, WebGpuUnavailableError } from '../core/errors';
import type { ResolvedShape } from '../core/types';
import { validateAttention } from '../core/validate';
import type { Example } from '../inputs/examples';
import { createGpuAttention, type GpuAttention } from '../kernels/attention';
import { createAttentionSession, type AttentionSession } from '../kernels/session';
import { describeDevice, type AdapterDescription } from '../kernels/tuning';
import { createSurfaceView, type SurfaceView } from '../scene';
import { DEFAULT_MODEL_STATE, DEFAULT_STATE, describeProblem, parseState, serializeState, type AppMode, type AppState, type StageView } from '../app/state';
import { ContextLimitError, MODEL_PATH, describeUnknownWords, modelInput, seqLenForText, type ModelInput } from '../app/model-input';
import { createModelEngine, loadModel, type LoadedModel, type ModelRun } from '../app/model-engine';
import { splitWords, UnknownWordsError } from '../model/vocab';
import { checkReach, cpuTimingPlan, maxFullSeqLen, seqLenReach, shapeIntoState } from '../app/plan';
import { exampleFor, lessonHighlight } from '../app/lessons';
import { createViewEngine, isAbort, type ComputedView } from '../app/view';
import { attentionBytes, attentionFlops } from '../bench/metrics';
import { createReferenceClient } from '../workers/reference-client';
import { Messages, TimingsCard, VerifyCard, matricesView, showModelTimings, type ModelTimingsView, type TimingsView } from './cards';
import { createModelCard } from './model-card';
import { h } from './dom';
import { createViewport } from './viewport';
import { Panel } from './panel';
import { ImportDialog } from './import-dialog';
import { SweepPanel } from './sweep-panel';
import { attachHover } from './hover';
import { createExportCard, download } from './export';
import { createLessons } from './lessons';
import './styles.css';

/** Examples this short show their matrices as numbers. */
const NUMBERS_MAX_TOKENS = 12;

function errorText(error: unknown): string {
  if (error instanceof AttentionInputError) return `Invalid ${error.field}: got ${error.given}; allowed: ${error.allowed}. The previous view is kept.`;
  if (error instanceof GpuLimitError) return `${error.message} The previous view is kept.`;
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

/** What is on screen now: the computed view, the state it shows and its timings card. */
interface Current {
  view: ComputedView;
  state: AppState;
  /** The explorer's timings (model mode keeps its own, {@link ModelTimingsView}). */
  timings: TimingsView;
}

function kib(bytes: number): string {
  return `${(bytes / 1024).toFixed(0)} KiB`;
}

/** Build the page inside `root` and run the view the URL describes. */
export async function startApp(root: HTMLElement): Promise<void> {
  const parsed = parseState(location.search);
  let good: AppState = parsed.state;
  /** The last state of each mode, so the mode switch returns to where the user was. */
  let lastExplorer: AppState = good.mode === 'explorer' ? good : DEFAULT_STATE;
  let lastModel: AppState = good.mode === 'model' ? good : DEFAULT_MODEL_STATE;
  let current: Current | null = null;
  let latest = 0;
  let runAbort: AbortController | null = null;

  // ---- layout ----
  const messages = new Messages();
  const adapterBadge = h('span', { class: 'badge', 'data-testid': 'adapter' }, 'WebGPU: starting…');
  const lessonsButton = h('button', { class: 'btn', 'data-testid': 'open-lessons' }, 'Lessons: cat sat, step by step');
  const importButton = h('button', { class: 'btn', 'data-testid': 'open-import', title: 'load X and W_Q/W_K/W_V, or Q, K, V, from .npy or .safetensors files (or drop them on the view)' }, 'Import tensors');
  const modeButtons = (['model', 'explorer'] as const).map((mode) =>
    h(
      'button',
      { 'data-mode': mode, 'aria-pressed': String(good.mode === mode), title: mode === 'model' ? 'the trained model: every layer and head on your sentence' : 'synthetic inputs: random, positions, lessons, imports, any size' },
      mode === 'model' ? 'Trained model' : 'Explorer',
    ),
  );
  const modeGroup = h('div', { class: 'segmented mode-switch', role: 'group', 'aria-label': 'mode', 'data-testid': 'mode' }, ...modeButtons);
  const topbar = h(
    'header',
    { class: 'topbar' },
    h('h1', {}, 'Attention ', h('span', {}, 'Lens')),
    modeGroup,
    h('span', { class: 'tagline' }, 'WGSL attention kernels, verified against a CPU reference, drawn as 3D surfaces'),
    h('span', { class: 'spacer' }),
    importButton,
    lessonsButton,
    adapterBadge,
  );
  const viewport = createViewport();
  const { canvas, readout, chartHost, stageGroup, headGroup, layerGroup, reductionButton, resetButton, cancelButton, setBusy } = viewport;
  const verify = new VerifyCard();
  const sourceNote = h('section', { class: 'card', 'data-testid': 'source-note', hidden: true });
  const timings = new TimingsCard();
  const numbersHost = h('div', {});

  // ---- device, engine, scene ----
  let session: AttentionSession | null = null;
  let adapter: AdapterDescription | null = null;
  const showAdapter = () => {
    if (!session) return;
    adapter = describeDevice(session.device);
    adapterBadge.textContent = adapter.label;
    adapterBadge.className = `badge${adapter.isSoftware ? ' warn' : ''}`;
    adapterBadge.title = `${adapter.label}\nfeatures: ${adapter.features.join(', ')}\nmax storage buffer: ${adapter.maxStorageBufferBindingSize} bytes`;
  };
  try {
    session = await createAttentionSession();
    showAdapter();
  } catch (error) {
    session = null;
    adapterBadge.textContent = 'No WebGPU: CPU fallback';
    adapterBadge.classList.add('bad');
    const text = error instanceof WebGpuUnavailableError ? error.message : errorText(error);
    messages.show('error', `${text} Meanwhile the app computes on the CPU (small sizes only) and draws with WebGL.`, 'no-webgpu');
  }
  const device = () => session?.device ?? null;
  const reference = createReferenceClient();
  const cpuWorkers = Math.max(1, Math.min(8, navigator.hardwareConcurrency || 2));
  const engine = createViewEngine({ gpu: () => (session ? { device: session.device, attention: session.attention } : null), reference, cpuWorkers });
  const modelEngine = createModelEngine({ device, reference });
  /** The trained model, once loaded; the run on screen in model mode. */
  let loadedModel: LoadedModel | null = null;
  let loadingModel: Promise<LoadedModel> | null = null;
  let modelRun: ModelRun | null = null;
  let modelTimings: ModelTimingsView | null = null;
  let surface: SurfaceView;
  try {
    surface = await createSurfaceView(canvas, device(), { pixelRatio: window.devicePixelRatio });
  } catch (error) {
    messages.show('error', `The 3D view could not start: ${errorText(error)}`, 'scene');
    throw error;
  }
  surface.onChange = () => updateLegend();
  new ResizeObserver(() => {
    surface.resize();
    void surface.render();
  }).observe(viewport.root);

  // ---- panel, import, lessons, sweep, export, hover ----
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
      void apply({ ...(good.mode === 'explorer' ? good : lastExplorer), mode: 'explorer', lesson: '', step: 1, head: 0 });
    },
    message: (kind, text) => messages.show(kind, text, 'import'),
  });
  importButton.addEventListener('click', () => importDialog.open());
  importDialog.attachDropTarget(viewport.root);
  const lessons = createLessons({
    surface: () => surface,
    view: () => current?.view ?? null,
    state: () => good,
    setState: (state) => {
      good = state;
      if (current) current.state = state;
      writeUrl(state);
    },
    apply: (state) => apply(state),
    showStage: (stage) => current && syncToolbar({ ...current.state, stage }, current.view.shape),
    device,
    createAttention: (d) => createGpuAttention(d),
    invalid: (field, given) => messages.show('error', `Invalid ${field}: got ${JSON.stringify(given)}; allowed: a finite number. The previous value is kept.`, 'input'),
    panel: panel.root,
    lessonsButton,
  });
  lessonsButton.addEventListener('click', () => void lessons.navigate('cat-sat', 1));
  let sweepAttention: GpuAttention | null = null;
  const sweepPanel = new SweepPanel(
    {
      shape: () => ({ dModel: good.dModel, heads: good.heads, dHead: good.dHead, causal: good.causal, seed: good.seed }),
      run: async (options) => {
        const { runSweep } = await import('../bench/sweep');
        // Its own GpuAttention (same cached pipelines), so the view's buffers are left alone.
        const d = device();
        if (d && sweepAttention?.device !== d) sweepAttention = await createGpuAttention(d);
        const paths = d ? options.paths : options.paths.filter((p) => p !== 'gpu' && p !== 'tfjs');
        return runSweep({ ...options, paths }, d && sweepAttention ? { attention: sweepAttention, device: d } : {});
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
  const exportCard = createExportCard({
    engine,
    view: () => current?.view ?? null,
    state: () => good,
    surface: () => surface,
    adapter: () => adapter?.label ?? 'none (CPU)',
    message: (kind, text) => messages.show(kind, text, 'export'),
    errorText,
  });
  const hover = attachHover({
    canvas,
    readout,
    surface: () => surface,
    engine,
    view: () => current?.view ?? null,
    restingHighlight: () => (current ? lessonHighlight(current.state.lesson) : null),
    onError: (error) => messages.show('error', `Reading the cell failed: ${errorText(error)}`, 'hover'),
  });
  const modelCard = createModelCard({
    commitText: (text) => {
      const base = good.mode === 'model' ? good : lastModel;
      const context = loadedModel?.config.context ?? 128;
      void apply({ ...base, mode: 'model', text, seqLen: seqLenForText(splitWords(text).length, base.seqLen, context) });
    },
    selectHead: (layer, head) => void selectModel(layer, head),
    explore: (input, seqLen) => {
      imported = null;
      void apply({ ...lastExplorer, mode: 'explorer', input, seqLen, weights: input === 'sinusoidal' ? 'identity' : 'random', lesson: '', step: 1, head: 0 });
    },
  });
  modelCard.setText(lastModel.text);
  const sidebar = h('aside', { class: 'sidebar' }, modelCard.root, lessons.root, sourceNote, panel.root, verify.root, timings.root, sweepPanel.root, exportCard, numbersHost);
  for (const button of modeButtons) {
    button.addEventListener('click', () => {
      const mode = button.dataset.mode as AppMode;
      if (mode === good.mode && current) return;
      if (mode === 'explorer') imported = null;
      void apply(mode === 'model' ? lastModel : lastExplorer);
    });
  }
  /** Show the parts of the page of a mode (the view itself changes when its run succeeds). */
  function showMode(mode: AppMode): void {
    for (const button of modeButtons) button.setAttribute('aria-pressed', String(button.dataset.mode === mode));
    modelCard.root.hidden = mode !== 'model';
    sweepPanel.root.hidden = mode === 'model';
    layerGroup.hidden = mode !== 'model';
    root.dataset.mode = mode;
  }
  showMode(good.mode);
  root.replaceChildren(topbar, h('main', { class: 'layout' }, viewport.root, sidebar), messages.root);
  for (const problem of parsed.problems) messages.show('warn', describeProblem(problem), `url-${problem.field}`);

  const facts = () => engine.facts();
  panel.setMaxSeqLen(seqLenReach(facts(), good.heads, good.dHead));
  sweepPanel.setMaxSeqLen(maxFullSeqLen(facts(), good.heads));

  // ---- device loss ----
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
    engine.reset();
    modelEngine.reset();
    lessons.reset();
    sweepAttention = null;
    showAdapter();
    surface.destroy();
    surface = await createSurfaceView(canvas, device(), { pixelRatio: window.devicePixelRatio });
    surface.onChange = () => updateLegend();
    await apply(good);
    messages.show('info', `Recovered from a lost GPU device (${event.message}): new device, kernels and scene; the view was recomputed.`, 'device-lost', 8000);
  }
  session?.onDeviceChange((event) => void onDeviceChange(event));
  // A hook for tests and the curious: lose the device on purpose and watch the recovery.
  (window as unknown as { attentionLens: object }).attentionLens = {
    loseDevice: () => session?.loseDevice(),
    get recoveries() {
      return session?.recoveries ?? 0;
    },
  };

  // ---- toolbar and legend ----
  let reduction: 'max' | 'mean' = 'max';
  const updateLegend = () => viewport.updateLegend(surface);
  const syncToolbar = (state: AppState, shape: ResolvedShape) =>
    state.mode === 'model' && loadedModel ? viewport.syncModelToolbar(state, loadedModel.config.layers, loadedModel.config.heads) : viewport.syncToolbar(state, shape, selectHead);

  function writeUrl(state: AppState): void {
    const query = serializeState(state);
    history.replaceState(null, '', query ? `?${query}` : location.pathname);
  }

  /** Keep a toolbar change (stage, head) in the state of the current view. */
  function keep(patch: Partial<AppState>): void {
    if (!current) return;
    good = { ...good, ...patch };
    if (good.mode === 'model') lastModel = good;
    else lastExplorer = good;
    current.state = good;
    syncToolbar(good, current.view.shape);
    writeUrl(good);
  }

  stageGroup.addEventListener('click', (event) => {
    const stage = (event.target as HTMLElement).closest('button')?.dataset.stage as StageView | undefined;
    if (!stage || !current) return;
    keep({ stage });
    surface.setStage(stage);
  });
  headGroup.addEventListener('click', (event) => {
    const head = (event.target as HTMLElement).closest('button')?.dataset.head;
    if (head !== undefined) selectHead(Number(head));
  });
  layerGroup.addEventListener('click', (event) => {
    const button = (event.target as HTMLElement).closest('button');
    if (!button || !current?.view.model) return;
    const wanted = pendingSelection ?? { layer: good.layer, head: good.head };
    if (button.dataset.head === '-1') void selectModel(wanted.layer, -1);
    else if (button.dataset.layer !== undefined) void selectModel(Number(button.dataset.layer), Math.max(0, wanted.head));
  });
  // Click (not drag) a surface of the model view: open that layer and head as the large surface.
  let pressedAt: [number, number] | null = null;
  canvas.addEventListener('pointerdown', (event) => {
    pressedAt = [event.clientX, event.clientY];
  });
  canvas.addEventListener('pointerup', (event) => {
    const start = pressedAt;
    pressedAt = null;
    const model = current?.view.model;
    if (!start || !model || model.selection !== null || Math.hypot(event.clientX - start[0], event.clientY - start[1]) > 4) return;
    const rect = canvas.getBoundingClientRect();
    const cell = surface.pick(event.clientX - rect.left, event.clientY - rect.top);
    if (!cell) return;
    const { layer, head } = model.headOf(cell.head);
    void selectModel(layer, head);
  });

  /** What the canvas shows in model mode (for tests and the curious): 'all' or 'L1 H2'. */
  const shownName = (layer: number, head: number) => (head < 0 ? 'all' : `L${layer} H${head}`);

  /** The selection asked for and not shown yet (quick clicks build on it), and the newest request. */
  let pendingSelection: { layer: number; head: number } | null = null;
  let selectToken = 0;

  /** Model mode: show another layer/head (or every one, head −1) of the run on screen, without recomputing. */
  async function selectModel(layer: number, head: number): Promise<void> {
    const c = current;
    const run = modelRun;
    if (!c?.view.model || !run) return;
    const mine = ++selectToken;
    pendingSelection = { layer, head };
    const view = await modelEngine.view(run, { layer, head });
    if (current !== c || mine !== selectToken) return;
    // The surface first, then the view hover reads: picking and naming then always agree.
    surface.setHead(head < 0 ? -1 : head);
    await surface.setSource(view.source);
    if (current !== c || mine !== selectToken) return;
    pendingSelection = null;
    c.view = view;
    keep({ layer, head });
    canvas.dataset.shown = shownName(layer, head);
    modelCard.show(run, { layer, head });
    hover.clear();
    renderNumbers();
    updateLegend();
  }

  function selectHead(head: number): void {
    if (!current) return;
    if (current.view.model) {
      void selectModel((pendingSelection ?? good).layer, head);
      return;
    }
    keep({ head });
    surface.setHead(head);
    renderNumbers();
    void surface.render().then(updateLegend);
  }
  reductionButton.addEventListener('click', () => {
    reduction = reduction === 'max' ? 'mean' : 'max';
    reductionButton.textContent = `blocks: ${reduction}`;
    // The fused path's grid is reduced on the GPU in one mode: recompute it in the other.
    if (current?.view.path === 'fused') {
      void apply(good);
      return;
    }
    surface.setReduction(reduction);
    // Model mode: rebuild the shown view, which checks that its GPU buffers are still this run's
    // (a later, cancelled run may have overwritten them) and falls back to the run's arrays.
    if (current?.view.model) {
      const at = pendingSelection ?? good;
      void selectModel(at.layer, at.head);
      return;
    }
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
  window.addEventListener('unhandledrejection', (event) => {
    if (event.reason instanceof AttentionError) {
      messages.show('error', errorText(event.reason), 'unhandled');
      event.preventDefault();
    }
  });

  function renderNumbers(): void {
    const c = current;
    if (!c || c.view.shape.seqLen > NUMBERS_MAX_TOKENS || c.view.shape.kvLen > NUMBERS_MAX_TOKENS || !c.view.arrays.scores) {
      numbersHost.replaceChildren();
      return;
    }
    const { view } = c;
    const arrays = view.arrays as Parameters<typeof matricesView>[2];
    numbersHost.replaceChildren(matricesView(view.example.tokens, view.example.keyTokens ?? view.example.tokens, arrays, view.shape.width, view.shape.kvLen, Math.max(0, c.state.head), view.reference));
  }

  function showSource(view: ComputedView): void {
    const showing = imported !== null && view.example === imported;
    sourceNote.hidden = !showing;
    if (!showing) return;
    const { shape } = view;
    sourceNote.replaceChildren(
      h('h2', {}, 'Imported tensors', h('span', { class: 'pill' }, `${shape.heads}×${shape.seqLen}×${shape.kvLen}`)),
      h('p', { class: 'note' }, `${((imported as Example & { summary?: string }).summary ?? 'From your files').replace(/\.?$/, '.')} The panel's sizes show the imported shape; change any setting to return to the explorer's inputs. Imported data is not in the URL.`),
    );
  }

  // ---- model mode ----
  /** Load the checkpoint once (progress on the busy bar and the model card). */
  function ensureModel(): Promise<LoadedModel> {
    if (loadedModel) return Promise.resolve(loadedModel);
    loadingModel ??= loadModel(MODEL_PATH, (loaded, total) => {
      const text = `Loading the trained model (${MODEL_PATH}): ${kib(loaded)}${total ? ` of ${kib(total)}` : ''}…`;
      setBusy(text, total ? loaded / total : undefined);
      modelCard.status('loading', text);
    }).then(
      (model) => {
        loadedModel = model;
        panel.setModelContext(model.config.context);
        modelCard.status('ready', `Loaded ${MODEL_PATH} (${kib(model.bytes)}) and ran it ${session ? 'on the GPU' : 'on the CPU (no WebGPU)'}.`);
        return model;
      },
      (error: unknown) => {
        loadingModel = null;
        throw error;
      },
    );
    return loadingModel;
  }

  /** Say why a model-mode request cannot run (the previous view stays). */
  function modelInputError(error: unknown, model: LoadedModel): void {
    if (error instanceof ContextLimitError) {
      modelCard.contextLimit({ seqLen: error.seqLen, context: error.context });
      messages.show(
        'error',
        `The model reads at most ${error.context} tokens (its context); you asked for ${error.seqLen}. The previous view is kept. The model card offers the explorer's random and positional inputs at ${error.seqLen}.`,
        'input',
      );
    } else if (error instanceof UnknownWordsError) {
      messages.show('error', describeUnknownWords(error, model.vocab), 'input');
    } else {
      messages.show('error', errorText(error), 'input');
    }
  }

  /** Run the trained model for `next` and show it; any failure keeps the last good view. */
  async function applyModel(next: AppState): Promise<void> {
    const token = ++latest;
    selectToken++;
    pendingSelection = null;
    runAbort?.abort();
    reference.cancel();
    const abort = new AbortController();
    runAbort = abort;
    let model: LoadedModel;
    try {
      if (!loadedModel) setBusy('Loading the trained model…');
      model = await ensureModel();
    } catch (error) {
      if (token !== latest) return;
      setBusy(null);
      const text = `The trained model could not be loaded: ${errorText(error)} The explorer (top bar) works without it.`;
      modelCard.status('error', text);
      messages.show('error', text, 'model-load');
      if (!current) {
        showMode('model');
        verify.failed(text);
      }
      return;
    }
    if (token !== latest) return;
    const { config } = model;
    let input: ModelInput;
    try {
      if (next.layer >= config.layers) throw new AttentionInputError('layer', String(next.layer), `an integer from 0 to ${config.layers - 1} (the model has ${config.layers} layers)`, 'shape');
      if (next.head >= config.heads) throw new AttentionInputError('head', String(next.head), `all, or an integer from 0 to ${config.heads - 1} (the model has ${config.heads} heads per layer)`, 'shape');
      input = modelInput(next.text, next.seqLen, next.seed, model.vocab, config.context);
    } catch (error) {
      setBusy(null);
      modelInputError(error, model);
      if (!current) {
        // Nothing on screen yet (a bad URL): show the landing view instead, the message stays.
        showMode('model');
        const fallback = error instanceof ContextLimitError ? { ...next, seqLen: DEFAULT_MODEL_STATE.seqLen } : { ...DEFAULT_MODEL_STATE, stage: next.stage };
        if (fallback.seqLen !== next.seqLen || fallback.text !== next.text || fallback.layer !== next.layer || fallback.head !== next.head) void applyModel(fallback);
        return;
      }
      panel.sync(good);
      modelCard.setText(good.mode === 'model' ? good.text : lastModel.text);
      return;
    }
    modelCard.contextLimit(null);
    setBusy(`Running the trained model on ${input.ids.length} tokens ${session ? 'on the GPU' : 'on the CPU (f64 reference, in a worker)'}…`);
    verify.pending('Running…');
    try {
      const run = await modelEngine.run(model, input, abort.signal);
      if (token !== latest) return;
      const view = await modelEngine.view(run, { layer: next.layer, head: next.head });
      if (token !== latest) return;
      surface.setHead(next.head < 0 ? -1 : next.head);
      await surface.setSource(view.source);
      if (token !== latest) return;
      surface.setStage(next.stage);
      imported = null;
      good = next;
      lastModel = next;
      modelRun = run;
      showMode('model');
      sourceNote.hidden = true;
      current = { view, state: next, timings: current?.timings ?? emptyTimings(view.shape) };
      modelTimings = { tokens: input.ids.length, layers: config.layers, gpuMs: run.gpuMs, cpuMs: run.cpuMs, adapter };
      panel.sync(next);
      modelCard.setText(next.text);
      modelCard.show(run, { layer: next.layer, head: next.head });
      syncToolbar(next, view.shape);
      writeUrl(next);
      messages.clear('input');
      messages.clear('model-load');
      canvas.dataset.shown = shownName(next.layer, next.head);
      const frameMs = await surface.render();
      canvas.dataset.frameMs = frameMs.toFixed(1);
      modelTimings.frameMs = frameMs;
      updateLegend();
      setBusy(null);
      hover.clear();
      showModelTimings(timings, modelTimings);
      renderNumbers();
      lessons.render();
      verify.pending(run.path === 'gpu' ? 'Computing the f64 forward reference in a worker and comparing every layer…' : 'Without WebGPU the f64 reference is the result.');
      const check = await modelEngine.verify(run, abort.signal);
      if (token !== latest) return;
      if (check.kind === 'skipped') verify.skipped(check.why);
      else verify.showModel(check.verification, check.cpuMs, input.ids.length);
      modelTimings.cpuMs = run.cpuMs;
      showModelTimings(timings, modelTimings);
    } catch (error) {
      if (token !== latest) return;
      setBusy(null);
      if (isAbort(error)) {
        verify.skipped('Cancelled.');
        return;
      }
      messages.show('error', errorText(error), 'input');
      panel.sync(good);
      if (current) verify.skipped('The last request failed; the view shows the previous good result.');
      else verify.failed(errorText(error));
    }
  }

  /** A timings record for the explorer's card when the first view was the model's (the explorer overwrites it on its first run). */
  function emptyTimings(shape: ResolvedShape): TimingsView {
    return { shapeText: `${shape.heads}×${shape.seqLen}×${shape.kvLen}`, gpu: null, cpu: null, cpuWorkers, flops: attentionFlops(shape), bytes: attentionBytes(shape), referenceMs: null, adapter };
  }

  // ---- the one path every change takes ----
  /** Compute and show `next`; `restoring`: this recomputes the kept view after a failed request. */
  async function apply(next: AppState, restoring = false): Promise<void> {
    // A lesson is the explorer's: opened from model mode, it starts from the explorer's settings.
    if (next.mode === 'model' && next.lesson !== '') next = { ...lastExplorer, mode: 'explorer', lesson: next.lesson, step: next.step, head: 0 };
    if (next.mode === 'model') return applyModel(next);
    const token = ++latest;
    let example: Example;
    try {
      checkReach(next, facts());
      example = exampleFor(next, { imported, lessonInputs: lessons.inputs() });
      // The path is chosen by the engine: a map too large to store goes to the fused path, so
      // only the arrays every path holds are checked here (each path checks its own on run).
      const shape = validateAttention(example.shape, example.inputs, { storesMap: false });
      if (next.head >= shape.heads) next = { ...next, head: 0 };
    } catch (error) {
      messages.show('error', errorText(error), 'input');
      panel.sync(good);
      return;
    }
    runAbort?.abort();
    reference.cancel();
    const abort = new AbortController();
    runAbort = abort;
    setBusy(`Computing ${example.shape.heads}×${example.shape.seqLen}×${example.shape.kvLen ?? example.shape.seqLen}…`);
    verify.pending('Running…');
    try {
      const view = await engine.compute({
        example,
        reduction,
        signal: abort.signal,
        onProgress: (text, fraction) => token === latest && setBusy(text, fraction),
        onFused: (why) => messages.show('info', `${why}: computing on the fused path (FlashAttention-style). Only the weights, reduced to blocks, are drawn; scores are never stored.`, 'fused', 0),
      });
      if (token !== latest) return;
      await surface.setSource(view.source);
      if (token !== latest) return;
      surface.setHead(next.head);
      surface.setStage(next.stage);
      good = next;
      lastExplorer = next;
      modelRun = null;
      delete canvas.dataset.shown;
      showMode('explorer');
      modelCard.contextLimit(null);
      const { shape } = view;
      const shapeText = `${shape.heads}×${shape.seqLen}×${shape.kvLen}${shape.causal ? ' causal' : ''}`;
      current = {
        view,
        state: next,
        timings: {
          shapeText,
          gpu: view.timings,
          cpu: { pending: 'The fast CPU path is timed after verification.' },
          cpuWorkers,
          flops: attentionFlops(shape),
          bytes: attentionBytes(shape),
          referenceMs: view.referenceMs,
          adapter,
        },
      };
      if (view.path === 'fused') current.timings.note = 'Fused path: the scores row holds the whole fused kernel (scores → softmax → output in one pass).';
      else messages.clear('fused');
      panel.setMaxSeqLen(seqLenReach(facts(), shape.heads, shape.dHead));
      panel.sync(shapeIntoState(next, shape));
      showSource(view);
      syncToolbar(next, shape);
      writeUrl(next);
      messages.clear('input');
      const frameMs = await surface.render();
      canvas.dataset.frameMs = frameMs.toFixed(1);
      current.timings.frameMs = frameMs;
      updateLegend();
      setBusy(null);
      hover.clear();
      timings.show(current.timings);
      renderNumbers();
      lessons.render();
      await verifyView(token, current);
      if (token !== latest) return;
      const cpuPlan = cpuTimingPlan(view.path, current.timings.flops.total);
      if (cpuPlan.auto) await timeCpu(token, current);
      else {
        current.timings.cpu = { skipped: cpuPlan.why, ...(cpuPlan.offer ? { action: () => current && void timeCpu(latest, current) } : {}) };
        timings.show(current.timings);
      }
    } catch (error) {
      if (token !== latest) return;
      setBusy(null);
      const cancelled = isAbort(error);
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
      const kept = current?.view;
      if (!restoring && kept && !kept.model && kept.path === 'full' && session && session.attention.buffers() !== kept.gpuBuffers) {
        messages.show('info', `${cancelled ? 'Cancelled' : 'Failed'} after the GPU had started; recomputing the previous view (its GPU buffers were reused).`, 'restore');
        void apply(current!.state, true);
      }
    }
  }

  /** Verify the view by the one policy (src/verify/policy.ts); the card shows what was compared. */
  async function verifyView(token: number, c: Current): Promise<void> {
    verify.pending(c.view.path === 'fused' ? 'Fused path: checking sampled query rows in a worker…' : 'Computing the f64 reference and comparing, in a worker…');
    try {
      const outcome = await engine.verify(c.view, runAbort!.signal);
      if (token !== latest) return;
      if (outcome.kind === 'skipped') {
        verify.skipped(outcome.why);
        return;
      }
      verify.show(outcome.report, outcome.referenceMs, outcome.scope);
      if (outcome.reference) {
        c.view.reference = outcome.reference;
        renderNumbers();
      }
      c.timings.referenceMs = outcome.referenceMs;
      timings.show(c.timings);
    } catch (error) {
      if (token !== latest || isAbort(error)) return;
      verify.failed(errorText(error));
    }
  }

  /** Time the fast CPU path on the current example (workers; cancelled by a newer request). */
  async function timeCpu(token: number, c: Current): Promise<void> {
    if (token !== latest) return;
    c.timings.cpu = { pending: `Timing the fast CPU path on ${cpuWorkers} workers…` };
    timings.show(c.timings);
    try {
      const result = await engine.timeCpu(c.view, runAbort!.signal);
      if (token !== latest || current !== c) return;
      c.timings.cpu = result;
    } catch (error) {
      if (token !== latest || current !== c) return;
      c.timings.cpu = { skipped: isAbort(error) ? 'CPU timing cancelled.' : `CPU timing failed: ${errorText(error)}` };
    }
    timings.show(c.timings);
  }

  await apply(good);
}
