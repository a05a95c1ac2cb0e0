/**
 * Model mode's controller: the shipped checkpoint is loaded once, the user's text becomes the
 * model's tokens, the model runs on the GPU (else its f64 forward reference in the worker)
 * through the page's pipeline, every layer × head (or one layer's heads) is drawn, the card
 * shows each head's scores, and every layer is checked against the f64 forward. Switching the
 * layer or head shows another part of the same run without recomputing.
 */
import { AttentionAbortError, AttentionError, AttentionInputError } from '../core/errors';
import type { RunSteps } from '../app/pipeline';
import { createModelEngine, inputFor, loadModel, type LoadedModel, type ModelView } from '../app/model-engine';
import { FILES_PREFIX, modelKey, openPretrainedModel, type ModelRequest, type OpenProgress } from '../app/pretrained-model';
import { formatBytes } from '../core/errors';
import type { ModelConfig } from '../core/types';
import { checkModelFits } from '../pretrained/memory';
import { bufferLimits } from '../gpu/limits';
import { clearModelCache } from '../pretrained/hub';
import { createModelPicker, modelFiles } from './model-picker';
import { createModelCpuClient } from '../workers/model-cpu-client';
import { ContextLimitError, MODEL_PATH, describeUnknownWords } from '../app/model-input';
import { loadTrainingHistory } from '../app/training-history';
import { isLlamaConfig } from '../model/llama-schema';
import { modelMaps } from '../app/shown';
import { DEFAULT_MODEL_STATE, hubProblem, modelIdProblem, type AppState } from '../app/state';
import { UnknownWordsError, splitWords } from '../model/vocab';
import { showModelTimings, type ModelTimingsView } from './cards';
import { drawShown, type ModeController, type Page } from './mode-controller';

/** Model mode's result: the view of the run, the state it shows, its timings. */
interface ModelResult {
  view: ModelView;
  state: AppState;
  timings: ModelTimingsView;
}

/** The checkpoint could not be loaded (the page says so, keeps the last view, or offers the shipped model / the explorer). */
class ModelLoadFailed extends AttentionError {
  override name = 'ModelLoadFailed';
  constructor(
    message: string,
    readonly request: AppState,
  ) {
    super(message);
  }
}

/** The request's text, seqLen, layer or head does not fit the model: nothing ran. */
class ModelInputRejected extends AttentionError {
  override name = 'ModelInputRejected';
  constructor(
    readonly error: unknown,
    readonly model: LoadedModel,
  ) {
    super(error instanceof Error ? error.message : String(error));
  }
}

/** A load failure as text: the loaders' errors say the file, the tensor and what to do in their message. */
function loadErrorText(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return /[.!?]$/.test(text) ? text : `${text}.`;
}

function kib(bytes: number): string {
  return `${(bytes / 1024).toFixed(0)} KiB`;
}

/** What the canvas shows in model mode (for tests and the curious): 'all' or 'L1 H2'. */
const shownName = (layer: number, head: number) => (head < 0 ? 'all' : `L${layer} H${head}`);

export interface ModelController extends ModeController {
  /** The model's context once loaded (the text box grows seqLen up to it). */
  context(): number | null;
  /** How many tokens the loaded model reads for `text` (its tokenizer, or the shipped model's words). */
  textTokens(text: string): number;
  /** Show another layer/head (or every one, head −1) of the run on screen, without recomputing. */
  select(layer: number, head: number): Promise<void>;
}

export function createModelController(page: Page): ModelController {
  const { messages, verify, timings, panel, viewport, modelCard } = page;
  const engine = createModelEngine({ device: page.device, reference: page.reference });
  const cpuForward = createModelCpuClient();
  /** The model of the last successful load, and the load under way (one per model key; runs asking for it share it). */
  let loaded: { key: string; model: LoadedModel } | null = null;
  let loading: { key: string; promise: Promise<LoadedModel>; abort: AbortController; waiters: number } | null = null;
  /** Files the user picked or dropped, by the model= value that names them. */
  const pickedFiles = new Map<string, Record<string, Blob>>();
  /** The selection asked for and not shown yet (quick clicks build on it), and the newest one. */
  let pendingSelection: { layer: number; head: number } | null = null;
  let selectToken = 0;

  const shownResult = (): ModelResult | null => page.pipeline.shownBy(steps);

  let historyRequested = false;

  /** Load the model the state names (once: later runs share the load; progress on the busy bar and the model card). */
  function startLoad(request: ModelRequest, key: string): Promise<LoadedModel> {
    const abort = new AbortController();
    const progress = ({ text, fraction }: OpenProgress) => {
      viewport.setBusy(text, fraction);
      modelCard.status('loading', text);
    };
    const promise: Promise<LoadedModel> =
      request.model === ''
        ? loadModel(MODEL_PATH, (bytes, total) => progress({ text: `Loading the trained model (${MODEL_PATH}): ${kib(bytes)}${total ? ` of ${kib(total)}` : ''}…`, fraction: total ? bytes / total : undefined }))
        : openPretrainedModel(request, pickedFiles.get(request.model) ?? null, { onProgress: progress, signal: abort.signal, beforeWeights: checkFits });
    const entry = { key, promise, abort, waiters: 0 };
    loading = entry;
    // The shipped model's training log, for the card's formation chart: fetched once, beside the model.
    if (request.model === '' && !historyRequested) {
      historyRequested = true;
      loadTrainingHistory().then(
        (log) => modelCard.showFormation(log),
        (error: unknown) => modelCard.showFormation(error instanceof Error ? error : new AttentionError(String(error))),
      );
    }
    promise.then(
      (model) => {
        if (loading === entry) loading = null;
        loaded = { key, model };
        panel.setModelContext(model.config.context);
        const from = model.kind === 'shipped' ? `${MODEL_PATH} (${kib(model.bytes)})` : `${model.name} (${formatBytes(model.bytes)}${model.fromCache ? ', from the browser cache' : ''})`;
        modelCard.status('ready', `Loaded ${from} and ran it ${page.device() ? 'on the GPU' : 'on the CPU (no WebGPU)'}.`);
      },
      () => {
        if (loading === entry) loading = null;
      },
    );
    return promise;
  }

  /** The model for a request: loaded, loading (shared), or a new load (a different load under way is cancelled). */
  function ensureModel(request: ModelRequest, signal: AbortSignal): Promise<LoadedModel> {
    const key = modelKey(request);
    if (loaded?.key === key) return Promise.resolve(loaded.model);
    if (loading && loading.key !== key) loading.abort.abort();
    const entry = loading?.key === key ? loading : null;
    const promise = entry ? entry.promise : startLoad(request, key);
    const current = loading!;
    current.waiters++;
    // This run stops waiting when it is superseded or cancelled; the download itself stops only
    // when no newer run wants the same model (a seqLen change during a download keeps it going).
    return new Promise<LoadedModel>((resolve, reject) => {
      const onAbort = () => {
        current.waiters--;
        setTimeout(() => {
          if (current.waiters === 0 && loading === current) current.abort.abort();
        }, 0);
        reject(new AttentionAbortError());
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      promise.then(
        (model) => {
          signal.removeEventListener('abort', onAbort);
          current.waiters--;
          resolve(model);
        },
        (error: unknown) => {
          signal.removeEventListener('abort', onAbort);
          current.waiters--;
          reject(error);
        },
      );
    });
  }

  /** Before a real model's weights are fetched: will it fit the device at its full context? */
  function checkFits(config: ModelConfig): void {
    const device = page.device();
    // The parameters at one token: a run at any length is checked again before it allocates (createGpuModel).
    // A Llama-family checkpoint in F16/BF16 keeps its weight matrices at 16 bits on the GPU; config.json
    // does not say how the file stores them, so the lower bound is checked here and each tensor again at upload.
    if (device) checkModelFits(config, 1, bufferLimits(device), { weights: isLlamaConfig(config) ? 'bf16' : 'f32' });
  }

  /** Say why a request cannot run (the previous view stays). */
  function inputError(error: unknown, model: LoadedModel): void {
    if (error instanceof ContextLimitError) {
      // The panel's own offer, beside the slider, takes the explorer's synthetic inputs there.
      panel.offerPastContext(error.seqLen);
      // Only a URL asks past the context (the panel offers instead of committing): a URL problem, kept.
      messages.show('error', `${page.errorText(error)} The sequence-length slider offers the explorer's random and positional inputs at ${error.seqLen}.`, 'url-seqLen');
    } else if (error instanceof UnknownWordsError) {
      messages.show('error', model.vocab ? describeUnknownWords(error, model.vocab) : page.errorText(error), 'input');
    } else {
      messages.show('error', page.errorText(error), 'input');
    }
  }

  const steps: RunSteps<AppState, ModelResult> = {
    async compute(next, run) {
      selectToken++;
      pendingSelection = null;
      let model: LoadedModel;
      const request: ModelRequest = { model: next.model, hub: next.hub };
      try {
        if (loaded?.key !== modelKey(request)) viewport.setBusy(next.model === '' ? 'Loading the trained model…' : `Opening ${next.model}…`);
        model = await ensureModel(request, run.signal);
      } catch (error) {
        if (error instanceof AttentionAbortError) throw error;
        throw new ModelLoadFailed(
          next.model === ''
            ? `The trained model could not be loaded: ${page.errorText(error)} The explorer (top bar) works without it.`
            : `${next.model.startsWith(FILES_PREFIX) ? 'Your files' : next.model} could not be opened: ${loadErrorText(error)}`,
          next,
        );
      }
      if (run.signal.aborted) throw new AttentionAbortError();
      const { config } = model;
      let input;
      try {
        if (next.layer >= config.layers) throw new AttentionInputError('layer', String(next.layer), `an integer from 0 to ${config.layers - 1} (the model has ${config.layers} layers)`, 'shape');
        if (next.head >= config.heads) throw new AttentionInputError('head', String(next.head), `all, or an integer from 0 to ${config.heads - 1} (the model has ${config.heads} heads per layer)`, 'shape');
        input = inputFor(model, next.text, next.seqLen, next.seed);
      } catch (error) {
        throw new ModelInputRejected(error, model);
      }
      const gpu = page.device() !== null;
      viewport.setBusy(`Running ${model.kind === 'shipped' ? 'the trained model' : model.name} on ${input.ids.length} tokens ${gpu ? 'on the GPU' : 'on the CPU (f64 reference, in a worker)'}…`);
      verify.running();
      const label = `Running ${model.name} on ${input.ids.length} tokens on the GPU`;
      // A long run of a Llama-family model goes through the fused path in many submissions: its progress.
      const result = await engine.run(model, input, run.signal, (done, total) => viewport.setBusy(`${label}: every head on the fused path (no ${input.ids.length}² maps), ${done} of ${total} steps…`, done / total));
      const view = await engine.view(result, { layer: next.layer, head: next.head });
      const modelTimings: ModelTimingsView = { tokens: input.ids.length, layers: config.layers, gpuMs: result.gpuMs, cpuMs: result.cpuMs, adapter: page.adapter() };
      return { view, state: next, timings: modelTimings };
    },

    async stage({ view, state }) {
      const surface = page.surface();
      surface.setHead(state.head < 0 ? -1 : state.head);
      await surface.setSource(view.source);
    },

    async show(c) {
      const { view, state } = c;
      const { run } = view;
      const surface = page.surface();
      surface.setStage(state.stage);
      page.commit(state, modelMaps(view));
      // A long fused run says what is drawn and measured instead of full maps.
      if (run.fused) {
        page.sourceNote.hidden = false;
        page.sourceNote.textContent =
          `${run.input.ids.length} tokens on the fused path: every head's attention was computed without storing its ${run.input.ids.length} × ${run.input.ids.length} map; ` +
          `each surface is its ${run.fused.rows} × ${run.fused.cols} block maxima, and every head's scores are measured on the repeated random probe` +
          (run.fused.logitsFrom > 0 ? `; next-token guesses for rows ${run.fused.logitsFrom}… only.` : '.');
      } else {
        page.sourceNote.hidden = true;
      }
      page.numbersHost.replaceChildren();
      panel.sync(state);
      modelCard.setText(state.text);
      picker.sync(state.model, state.hub);
      modelCard.show(run, { layer: state.layer, head: state.head });
      viewport.syncModelToolbar(state, run.model.config.layers, run.model.config.heads);
      messages.clear('input');
      messages.clear('model-load');
      viewport.canvas.dataset.shown = shownName(state.layer, state.head);
      await drawShown(page, surface, c.timings);
      showModelTimings(timings, c.timings);
      page.lessons.render();
    },

    async verify(c, run) {
      const modelRun = c.view.run;
      verify.pending(modelRun.path === 'gpu' ? 'Computing the f64 forward reference in a worker and comparing every layer…' : 'Without WebGPU the f64 reference is the result.');
      const check = await engine.verify(modelRun, run.signal);
      return () => {
        if (check.kind === 'skipped') verify.skipped(check.why);
        else verify.showModel(check.verification, check.cpuMs, modelRun.input.ids.length);
        c.timings.cpuMs = modelRun.cpuMs;
        showModelTimings(timings, c.timings);
      };
    },

    // A real model's CPU time is its f32 forward in a worker (the f64 check runs on sampled rows only).
    async timeCpu(c, run) {
      const modelRun = c.view.run;
      if (modelRun.model.kind !== 'pretrained' || modelRun.path !== 'gpu') return;
      const { model, input } = modelRun;
      const cpu = await cpuForward.forward(model.config, model.params, input.ids, { signal: run.signal, logits: false });
      return () => {
        c.timings.cpuMs = cpu.ms;
        c.timings.cpu = {
          label: 'CPU f32 forward',
          note: `the same forward in f32 on the CPU (${cpu.kernel === 'js' ? 'JavaScript' : 'WebAssembly SIMD'}, ${cpu.threads} thread${cpu.threads === 1 ? '' : 's'}), timed in the worker; the verification above runs the f64 reference per layer on sampled rows`,
        };
        showModelTimings(timings, c.timings);
      };
    },

    // The run held its GPU buffers (no later run writes them, cancelled or not): let go of them
    // once another view replaced this one, or when it was never shown.
    release: (c) => c.view.run.held?.release(),

    failed(error, { cancelled, kept }, next) {
      viewport.setBusy(null);
      if (error instanceof ModelLoadFailed) {
        modelCard.status('error', error.message);
        messages.show('error', `${error.message}${kept ? ' The previous view is kept.' : ''}`, 'model-load');
        if (kept) {
          // The URL and the picker go back to what is on screen.
          panel.sync(page.state());
          picker.sync(page.state().model, page.state().hub);
          verify.restore();
          return;
        }
        page.showMode('model');
        if (error.request.model !== '') {
          // Nothing on screen yet (a link to a model that cannot open): the shipped model instead; the message stays.
          void apply({ ...error.request, model: '', hub: '', layer: 0, head: -1 });
          return;
        }
        verify.failed(error.message);
        return;
      }
      if (error instanceof ModelInputRejected) {
        inputError(error.error, error.model);
        if (!kept) {
          // Nothing on screen yet (a bad URL): show the landing view instead, the message stays.
          page.showMode('model');
          const fallback = error.error instanceof ContextLimitError ? { ...next, seqLen: DEFAULT_MODEL_STATE.seqLen } : { ...DEFAULT_MODEL_STATE, stage: next.stage };
          if (fallback.seqLen !== next.seqLen || fallback.text !== next.text || fallback.layer !== next.layer || fallback.head !== next.head) void apply(fallback);
          return;
        }
        panel.sync(page.state());
        modelCard.setText(page.last('model').text);
        return;
      }
      if (cancelled) {
        verify.skipped('Cancelled.');
        return;
      }
      messages.show('error', page.errorText(error), 'input');
      panel.sync(page.state());
      if (kept) verify.skipped('The last request failed; the view shows the previous good result.');
      else verify.failed(page.errorText(error));
    },
  };

  const apply = (next: AppState) => page.pipeline.run(steps, next).then(() => undefined);

  /** Open another model: its layers and heads are its own, so the view starts from every layer × head. */
  function openModel(model: string, hub: string): void {
    const problem = modelIdProblem(model) ?? hubProblem(hub);
    if (problem) {
      messages.show('error', `${problem === hubProblem(hub) ? `Hub endpoint ${JSON.stringify(hub)}` : `Model ${JSON.stringify(model)}`} cannot be opened: use ${problem}. The previous view is kept.`, 'model-load');
      picker.sync(page.state().model, page.state().hub);
      return;
    }
    messages.clear('model-load');
    const base = page.state().mode === 'model' ? page.state() : page.last('model');
    void apply({ ...base, mode: 'model', model, hub, layer: 0, head: -1, seqLen: Math.min(base.seqLen, DEFAULT_MODEL_STATE.seqLen) });
  }
  /** Open the model in files from disk (`name`: their folder, else "disk"). */
  function openFiles(files: Record<string, Blob>, name: string): void {
    const model = `${FILES_PREFIX}${name}`;
    pickedFiles.set(model, files);
    // A second pick under the same name is new files: load them again.
    if (loaded?.key === model) loaded = null;
    messages.clear('model-load');
    const base = page.state().mode === 'model' ? page.state() : page.last('model');
    void apply({ ...base, mode: 'model', model, layer: 0, head: -1, seqLen: Math.min(base.seqLen, DEFAULT_MODEL_STATE.seqLen) });
  }
  const picker = createModelPicker({ open: openModel, openFiles, clearCache: clearModelCache });
  modelCard.pickerHost.append(picker.root);

  /** Files dropped on the view or the card in model mode open as a model when they hold config.json (else the import dialog takes them). */
  const onDrop = (event: DragEvent) => {
    if (page.state().mode !== 'model') return;
    const files = [...(event.dataTransfer?.files ?? [])];
    if (!files.some((f) => f.name === 'config.json')) return;
    event.preventDefault();
    event.stopPropagation();
    viewport.root.classList.remove('import-drop-active');
    openFiles(modelFiles(files), 'disk');
  };
  viewport.root.addEventListener('drop', onDrop, { capture: true });
  modelCard.root.addEventListener('dragover', (event) => event.preventDefault());
  modelCard.root.addEventListener('drop', onDrop);

  async function select(layer: number, head: number): Promise<void> {
    const c = shownResult();
    if (!c) return;
    const mine = ++selectToken;
    pendingSelection = { layer, head };
    const view = await engine.view(c.view.run, { layer, head });
    if (shownResult() !== c || mine !== selectToken) return;
    // The surface first, then the view hover reads: picking and naming then always agree.
    const surface = page.surface();
    surface.setHead(head < 0 ? -1 : head);
    await surface.setSource(view.source);
    if (shownResult() !== c || mine !== selectToken) return;
    pendingSelection = null;
    c.view = view;
    page.commit({ ...page.state(), layer, head }, modelMaps(view));
    viewport.syncModelToolbar(page.state(), view.run.model.config.layers, view.run.model.config.heads);
    viewport.canvas.dataset.shown = shownName(layer, head);
    modelCard.show(view.run, { layer, head });
    page.clearHover();
    page.updateLegend();
  }

  // The layer buttons, and a click (not a drag) on a surface of the model view opens that head.
  viewport.layerGroup.addEventListener('click', (event) => {
    const button = (event.target as HTMLElement).closest('button');
    if (!button || !shownResult()) return;
    const wanted = pendingSelection ?? page.state();
    if (button.dataset.head === '-1') void select(wanted.layer, -1);
    else if (button.dataset.layer !== undefined) void select(Number(button.dataset.layer), Math.max(0, wanted.head));
  });
  // The lists that replace the buttons for many layers or heads.
  viewport.root.addEventListener('change', (event) => {
    const list = event.target as HTMLSelectElement;
    const which = list.dataset.testid;
    if ((which !== 'layer-select' && which !== 'head-select') || list.value === '' || !shownResult()) return;
    const wanted = pendingSelection ?? page.state();
    if (which === 'layer-select') void select(Number(list.value), Math.max(0, wanted.head));
    else void select(wanted.layer, Number(list.value));
  });
  let pressedAt: [number, number] | null = null;
  const { canvas } = viewport;
  canvas.addEventListener('pointerdown', (event) => {
    pressedAt = [event.clientX, event.clientY];
  });
  canvas.addEventListener('pointerup', (event) => {
    const start = pressedAt;
    pressedAt = null;
    const c = shownResult();
    if (!start || !c || c.view.info.selection !== null || Math.hypot(event.clientX - start[0], event.clientY - start[1]) > 4) return;
    const rect = canvas.getBoundingClientRect();
    const cell = page.surface().pick(event.clientX - rect.left, event.clientY - rect.top);
    if (!cell) return;
    const { layer, head } = c.view.info.headOf(cell.head);
    void select(layer, head);
  });

  return {
    apply,
    select,
    context: () => loaded?.model.config.context ?? null,
    textTokens(text) {
      const model = loaded?.model;
      if (model?.tokenizer) return model.tokenizer.encode(text).length;
      return splitWords(text).length;
    },
    selectHead(head) {
      if (shownResult()) void select((pendingSelection ?? page.state()).layer, head);
    },
    reductionChanged(mode) {
      page.surface().setReduction(mode);
      // Rebuild the shown view: the surface reduces the run's held buffers (or, on a new device,
      // its arrays) in the new mode.
      const at = pendingSelection ?? page.state();
      void select(at.layer, at.head);
    },
    syncToolbar(state) {
      const c = shownResult();
      if (c) viewport.syncModelToolbar(state, c.view.run.model.config.layers, c.view.run.model.config.heads);
    },
  };
}
