/**
 * The page's shell: the layout, the WebGPU session and the scene, the parts every mode shares
 * (panel, toolbar, cards, lessons, import, sweep, export, hover), the state on screen and the
 * URL, and one controller per mode (src/ui/explorer-controller.ts, src/ui/model-controller.ts).
 * Every request goes through the one pipeline of src/app/pipeline.ts (supersede, cancel, last
 * good view on any error); policy (which path, what is verified, how far seqLen reaches) lives
 * in src/app and src/verify/policy.ts, not here.
 */
import { AttentionError, AttentionInputError, GpuLimitError, WebGpuUnavailableError } from '../core/errors';
import { createGpuAttention } from '../kernels/attention';
import { deviceRegistry } from '../gpu/registry';
import { createAttentionSession, type AttentionSession } from '../kernels/session';
import { describeDevice, type AdapterDescription } from '../kernels/tuning';
import { createSurfaceView, type SurfaceView } from '../scene';
import { DEFAULT_MODEL_STATE, DEFAULT_STATE, describeProblem, parseState, serializeState, type AppMode, type AppState, type QkPanelState, type StageView } from '../app/state';
import { seqLenForText } from '../app/model-input';
import { splitWords } from '../model/vocab';
import { maxFullSeqLen, seqLenReach } from '../app/plan';
import { lessonHighlight } from '../app/lessons';
import { createPipeline } from '../app/pipeline';
import type { ShownMaps } from '../app/shown';
import { createViewEngine } from '../app/view';
import { createReferenceClient } from '../workers/reference-client';
import { Messages, TimingsCard, VerifyCard } from './cards';
import { createModelCard } from './model-card';
import { h } from './dom';
import { createViewport } from './viewport';
import { Panel } from './panel';
import { ImportDialog } from './import-dialog';
import { SweepPanel } from './sweep-panel';
import { attachHover } from './hover';
import { createExportCard, download } from './export';
import { createLessons } from './lessons';
import { createExplorerController } from './explorer-controller';
import { createModelController } from './model-controller';
import { createQkPanel } from './qk-panel';
import type { ModeController, Page } from './mode-controller';
import './styles.css';

/** The Q/K panel opens by itself on windows at least this wide (CSS px); qk=1 opens it anywhere. */
const QK_AUTO_WIDTH = 1600;

/** Registry keys (src/gpu/registry) of the lessons' and the sweep's own attention runners. */
const LESSONS_KEY = 'lessons/attention';
const SWEEP_KEY = 'sweep/attention';

function errorText(error: unknown): string {
  if (error instanceof AttentionInputError) return `Invalid ${error.field}: got ${error.given}; allowed: ${error.allowed}. The previous view is kept.`;
  if (error instanceof GpuLimitError) return `${error.message} The previous view is kept.`;
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

/** Build the page inside `root` and run the view the URL describes. */
export async function startApp(root: HTMLElement): Promise<void> {
  const parsed = parseState(location.search);
  /** The state on screen, and the last state of each mode (the mode switch returns to it). */
  let good: AppState = parsed.state;
  const last: Record<AppMode, AppState> = { explorer: good.mode === 'explorer' ? good : DEFAULT_STATE, model: good.mode === 'model' ? good : DEFAULT_MODEL_STATE };
  /** What hover and export read of the view on screen. */
  let shown: ShownMaps | null = null;

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
    // The explorer's kernels compile when it first runs: the landing view (the model) has its own.
    session = await createAttentionSession({ kernels: 'first-use' });
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
  const pipeline = createPipeline({ onStart: () => reference.cancel(), onProgress: (text, fraction) => setBusy(text, fraction) });
  let surface: SurfaceView;
  try {
    surface = await createSurfaceView(canvas, device(), { pixelRatio: window.devicePixelRatio });
  } catch (error) {
    messages.show('error', `The 3D view could not start: ${errorText(error)}`, 'scene');
    throw error;
  }
  const updateLegend = () => viewport.updateLegend(surface);
  // ---- the Q/K panel beside the surface ----
  const layout = h('main', { class: 'layout' });
  const qkPanel = createQkPanel({
    device,
    surface: () => surface,
    onToggle: (open) => setQk(open ? 'on' : 'off'),
    onError: (error) => messages.show('error', `The Q/K view failed: ${errorText(error)}`, 'qk'),
    resting: () => (shown ? lessonHighlight(good.lesson) : null),
    highlighted: (row) => {
      if (row) Object.assign(canvas.dataset, { qkHead: String(row.head), qkQuery: String(row.query), qkKey: String(row.key) });
      else for (const key of ['qkHead', 'qkQuery', 'qkKey']) delete canvas.dataset[key];
    },
  });
  /** Open or close the panel as `qk` says ('auto': open on screens at least QK_AUTO_WIDTH wide). */
  function syncQk(qk: QkPanelState): void {
    const open = qk === 'on' || (qk === 'auto' && window.innerWidth >= QK_AUTO_WIDTH);
    qkPanel.setOpen(open);
    layout.classList.toggle('with-qk', open);
    viewport.qkButton.setAttribute('aria-pressed', String(open));
  }
  function setQk(qk: QkPanelState): void {
    good = { ...good, qk };
    last.explorer = { ...last.explorer, qk };
    last.model = { ...last.model, qk };
    writeUrl(good);
    syncQk(qk);
  }
  viewport.qkButton.addEventListener('click', () => setQk(qkPanel.isOpen() ? 'off' : 'on'));
  /** The "cat sat" lesson's dot-product step draws its vectors in the Q/K panel: open it there (unless the user closed it). */
  function showLessonQk(state: AppState): void {
    if (state.lesson === 'cat-sat' && state.step === 4 && state.qk === 'auto') syncQk('on');
  }
  const linkSurface = (s: SurfaceView) => {
    s.onChange = updateLegend;
    s.onShown = (source, head) => qkPanel.follow(source, head);
  };
  linkSurface(surface);
  new ResizeObserver(() => {
    surface.resize();
    void surface.render();
  }).observe(viewport.root);

  // ---- panel, import, lessons, sweep, export, hover, model card ----
  const panel = new Panel(
    good,
    (next) => {
      explorer.setImported(null);
      void apply(next);
    },
    16384,
    // Past the model's context: the explorer's synthetic inputs at that length.
    (input, seqLen) => {
      explorer.setImported(null);
      void apply({ ...last.explorer, mode: 'explorer', input, seqLen, weights: input === 'sinusoidal' ? 'identity' : 'random', lesson: '', step: 1, head: 0 });
    },
  );
  const importDialog = new ImportDialog({
    apply: (example) => {
      explorer.setImported(example);
      void apply({ ...(good.mode === 'explorer' ? good : last.explorer), mode: 'explorer', lesson: '', step: 1, head: 0 });
    },
    message: (kind, text) => messages.show(kind, text, 'import'),
  });
  importButton.addEventListener('click', () => importDialog.open());
  importDialog.attachDropTarget(viewport.root);
  const lessons = createLessons({
    surface: () => surface,
    view: () => explorer.view(),
    state: () => good,
    setState: (state) => {
      good = { ...state, qk: good.qk };
      writeUrl(good);
      showLessonQk(good);
    },
    apply: (state) => apply(state),
    showStage: (stage) => controller().syncToolbar({ ...good, stage }),
    device,
    // Their own runner (same cached pipelines), so the view's buffers are left alone.
    createAttention: (d) => deviceRegistry(d).get(LESSONS_KEY, createGpuAttention),
    invalid: (field, given) => messages.show('error', `Invalid ${field}: got ${JSON.stringify(given)}; allowed: a finite number. The previous value is kept.`, 'input'),
    panel: panel.root,
    lessonsButton,
  });
  lessonsButton.addEventListener('click', () => void lessons.navigate('cat-sat', 1));
  const sweepPanel = new SweepPanel(
    {
      shape: () => ({ dModel: good.dModel, heads: good.heads, dHead: good.dHead, causal: good.causal, seed: good.seed }),
      run: async (options) => {
        const { runSweep } = await import('../bench/sweep');
        // Its own GpuAttention (same cached pipelines), so the view's buffers are left alone.
        const d = device();
        const paths = d ? options.paths : options.paths.filter((p) => p !== 'gpu' && p !== 'tfjs');
        return runSweep({ ...options, paths }, d ? { attention: await deviceRegistry(d).get(SWEEP_KEY, createGpuAttention), device: d } : {});
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
    view: () => shown,
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
    view: () => shown,
    restingHighlight: () => (shown ? lessonHighlight(good.lesson) : null),
    onError: (error) => messages.show('error', `Reading the cell failed: ${errorText(error)}`, 'hover'),
    onCell: (cell) => qkPanel.cell(cell),
  });
  const modelCard = createModelCard({
    commitText: (text) => {
      const base = good.mode === 'model' ? good : last.model;
      const context = model.context() ?? 128;
      void apply({ ...base, mode: 'model', text, seqLen: seqLenForText(model.textTokens(text), base.seqLen, context) });
    },
    selectHead: (layer, head) => void model.select(layer, head),
  });
  modelCard.setText(last.model.text);
  const sidebar = h('aside', { class: 'sidebar' }, modelCard.root, lessons.root, sourceNote, panel.root, verify.root, timings.root, sweepPanel.root, exportCard, numbersHost);

  function writeUrl(state: AppState): void {
    const query = serializeState(state);
    history.replaceState(null, '', query ? `?${query}` : location.pathname);
  }

  /** Show the parts of the page of a mode (the view itself changes when its run succeeds). */
  function showMode(mode: AppMode): void {
    for (const button of modeButtons) button.setAttribute('aria-pressed', String(button.dataset.mode === mode));
    modelCard.root.hidden = mode !== 'model';
    sweepPanel.root.hidden = mode === 'model';
    layerGroup.hidden = mode !== 'model';
    root.dataset.mode = mode;
  }

  // ---- the mode controllers, on the one pipeline ----
  const page: Page = {
    pipeline,
    viewport,
    messages,
    verify,
    timings,
    panel,
    modelCard,
    lessons,
    sourceNote,
    numbersHost,
    reference,
    cpuWorkers,
    surface: () => surface,
    device,
    adapter: () => adapter,
    state: () => good,
    last: (mode) => last[mode],
    shown: () => shown,
    commit(state, maps) {
      // The Q/K panel's setting is the page's, not the request's (it may have changed meanwhile).
      state = { ...state, qk: good.qk };
      good = state;
      last[state.mode] = state;
      shown = maps;
      if (state.mode === 'model') explorer.setImported(null);
      showMode(state.mode);
      writeUrl(state);
    },
    keep(patch) {
      if (!shown) return;
      good = { ...good, ...patch };
      last[good.mode] = good;
      controller().syncToolbar(good);
      writeUrl(good);
    },
    apply: (state) => apply(state),
    showMode,
    updateLegend,
    errorText,
    clearHover: () => hover.clear(),
  };
  const explorer = createExplorerController(page, engine, () => reduction);
  const model = createModelController(page);
  const controller = (): ModeController => (good.mode === 'model' ? model : explorer);

  /** Compute and show `next`, by its mode's controller. */
  function apply(next: AppState): Promise<void> {
    // A lesson is the explorer's: opened from model mode, it starts from the explorer's settings.
    if (next.mode === 'model' && next.lesson !== '') next = { ...last.explorer, mode: 'explorer', lesson: next.lesson, step: next.step, head: 0 };
    return next.mode === 'model' ? model.apply(next) : explorer.apply(next);
  }

  for (const button of modeButtons) {
    button.addEventListener('click', () => {
      const mode = button.dataset.mode as AppMode;
      if (mode === good.mode && shown) return;
      if (mode === 'explorer') explorer.setImported(null);
      void apply(last[mode]);
    });
  }
  showMode(good.mode);
  layout.replaceChildren(viewport.root, qkPanel.root, sidebar);
  root.replaceChildren(topbar, layout, messages.root);
  syncQk(good.qk);
  showLessonQk(good);
  // 'auto' follows the window's width until the user (or the URL) says otherwise.
  window.addEventListener('resize', () => {
    if (good.qk === 'auto') syncQk('auto');
  });
  for (const problem of parsed.problems) messages.show('warn', describeProblem(problem), `url-${problem.field}`);
  panel.setMaxSeqLen(seqLenReach(engine.facts(), good.heads, good.dHead));
  sweepPanel.setMaxSeqLen(maxFullSeqLen(engine.facts(), good.heads));

  // ---- device loss ----
  /** Device lost: say so; once the session has a new device, rebuild the scene and recompute. */
  async function onDeviceChange(event: { recovered: boolean; message: string; error?: Error }): Promise<void> {
    if (!event.recovered) {
      pipeline.cancel();
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
    // Every runner lives in its device's registry (src/gpu/registry), which destroyed them with
    // the old device: asked again, the new device's registry makes new ones. Only the scene is ours.
    showAdapter();
    surface.destroy();
    surface = await createSurfaceView(canvas, device(), { pixelRatio: window.devicePixelRatio });
    linkSurface(surface);
    qkPanel.deviceChanged();
    await apply(good);
    messages.show('info', `Recovered from a lost GPU device (${event.message}): new device, kernels and scene; the view was recomputed.`, 'device-lost', 8000);
  }
  session?.onDeviceChange((event) => void onDeviceChange(event));
  // A hook for tests and the curious: lose the device on purpose and watch the recovery.
  (window as unknown as { attentionLens: object }).attentionLens = {
    loseDevice: () => session?.loseDevice(),
    qkPoints: () => qkPanel.screenPoints(),
    qkIdle: () => qkPanel.whenIdle(),
    get recoveries() {
      return session?.recoveries ?? 0;
    },
  };

  // ---- toolbar ----
  let reduction: 'max' | 'mean' = 'max';
  stageGroup.addEventListener('click', (event) => {
    const stage = (event.target as HTMLElement).closest('button')?.dataset.stage as StageView | undefined;
    if (!stage || !shown) return;
    page.keep({ stage });
    surface.setStage(stage);
  });
  headGroup.addEventListener('click', (event) => {
    const head = (event.target as HTMLElement).closest('button')?.dataset.head;
    if (head !== undefined && shown) controller().selectHead(Number(head));
  });
  reductionButton.addEventListener('click', () => {
    reduction = reduction === 'max' ? 'mean' : 'max';
    reductionButton.textContent = `blocks: ${reduction}`;
    if (shown) controller().reductionChanged(reduction);
    else surface.setReduction(reduction);
  });
  resetButton.addEventListener('click', () => {
    surface.resetView();
    void surface.render();
  });
  cancelButton.addEventListener('click', () => {
    pipeline.cancel();
    reference.cancel();
    setBusy(null);
    // The view on screen stays, and so does its verdict (the cancelled request had set "Running…").
    if (!verify.restore()) verify.skipped('Cancelled before the view on screen was checked.');
    panel.sync(good);
    messages.show('info', 'Cancelled; the previous view is kept.', 'cancel');
  });
  window.addEventListener('unhandledrejection', (event) => {
    if (event.reason instanceof AttentionError) {
      messages.show('error', errorText(event.reason), 'unhandled');
      event.preventDefault();
    }
  });

  await apply(good);
}

/**
 * Mount the app in the page's #app element and make any startup failure visible there (the
 * entry point, src/main.ts, only calls this).
 */
export function mountApp(doc: Document = document): void {
  const root = doc.getElementById('app');
  if (!root) throw new AttentionError('index.html has no #app element: the page needs <div id="app"></div> for the app to mount in.');
  startApp(root).catch((error: unknown) => {
    console.error(error);
    const message = doc.createElement('pre');
    message.setAttribute('role', 'alert');
    message.style.cssText = 'color:#ef5d5d;padding:16px;white-space:pre-wrap';
    message.textContent = `Attention Lens could not start: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`;
    root.append(message);
  });
}
