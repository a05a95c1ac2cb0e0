/**
 * The explorer's controller: a state becomes an example (preset, imported tensors or a lesson's
 * inputs), runs on the path the view engine picks (full maps on the GPU, fused, or the f64
 * reference without WebGPU) through the page's pipeline, is drawn, verified by the one policy and
 * its fast CPU path timed. Input errors are caught before the pipeline, so the view on screen
 * and a run in flight are left alone.
 */
import type { ResolvedShape } from '../core/types';
import { validateAttention } from '../core/validate';
import type { Example } from '../inputs/examples';
import type { RunContext, RunSteps } from '../app/pipeline';
import { checkReach, cpuTimingPlan, seqLenReach, shapeIntoState } from '../app/plan';
import { exampleFor } from '../app/lessons';
import { prepareContinuationFor } from '../app/continuation';
import { explorerMaps } from '../app/shown';
import type { AppState } from '../app/state';
import { isAbort, type ComputedView, type ViewEngine } from '../app/view';
import { attentionBytes, attentionFlops } from '../bench/metrics';
import { matricesView, type TimingsView } from './cards';
import { h } from './dom';
import { drawShown, type ModeController, type Page } from './mode-controller';

/** Examples this short show their matrices as numbers. */
const NUMBERS_MAX_TOKENS = 12;

/** A request of the explorer: the state and the example it was validated into. */
interface ExplorerRequest {
  state: AppState;
  example: Example;
}

/** The explorer's result: the view, the state it shows, its timings card. */
export interface ExplorerResult {
  view: ComputedView;
  state: AppState;
  timings: TimingsView;
}

export interface ExplorerController extends ModeController {
  /** Imported tensors replace the explorer's inputs until the panel is used again (null clears). */
  setImported(example: Example | null): void;
  /** The explorer's view on screen, or null (lessons read it). */
  view(): ComputedView | null;
}

export function createExplorerController(page: Page, engine: ViewEngine, reduction: () => 'max' | 'mean'): ExplorerController {
  let imported: Example | null = null;
  /** Cancels a CPU timing started from the timings card when a newer request starts. */
  let offeredTiming: AbortController | null = null;
  const { messages, verify, timings, panel, viewport } = page;
  const facts = () => engine.facts();

  /** The explorer's result on screen, if the view on screen is the explorer's. */
  const shownResult = (): ExplorerResult | null => page.pipeline.shownBy(steps);

  function renderNumbers(): void {
    const c = shownResult();
    if (!c || c.view.shape.seqLen > NUMBERS_MAX_TOKENS || c.view.shape.kvLen > NUMBERS_MAX_TOKENS || !c.view.arrays.scores) {
      page.numbersHost.replaceChildren();
      return;
    }
    const { view } = c;
    const arrays = view.arrays as Parameters<typeof matricesView>[2];
    page.numbersHost.replaceChildren(matricesView(view.example.tokens, view.example.keyTokens ?? view.example.tokens, arrays, view.shape.width, view.shape.kvLen, Math.max(0, c.state.head), view.reference));
  }

  function showSource(view: ComputedView): void {
    const showing = imported !== null && view.example === imported;
    page.sourceNote.hidden = !showing;
    if (!showing) return;
    const { shape } = view;
    page.sourceNote.replaceChildren(
      h('h2', {}, 'Imported tensors', h('span', { class: 'pill' }, `${shape.heads}×${shape.seqLen}×${shape.kvLen}`)),
      h('p', { class: 'note' }, `${((imported as Example & { summary?: string }).summary ?? 'From your files').replace(/\.?$/, '.')} The panel's sizes show the imported shape; change any setting to return to the explorer's inputs. Imported data is not in the URL.`),
    );
  }

  const syncToolbar = (state: AppState, shape: ResolvedShape) => viewport.syncToolbar(state, shape, selectHead);

  /** Time the fast CPU path on a result (workers); what it returns puts the timing on the card. */
  async function timeCpu(c: ExplorerResult, signal: AbortSignal): Promise<() => void> {
    c.timings.cpu = { pending: `Timing the fast CPU path on ${page.cpuWorkers} workers…` };
    timings.show(c.timings);
    try {
      const result = await engine.timeCpu(c.view, signal);
      return () => {
        c.timings.cpu = result;
        timings.show(c.timings);
      };
    } catch (error) {
      return () => {
        c.timings.cpu = { skipped: isAbort(error) ? 'CPU timing cancelled.' : `CPU timing failed: ${page.errorText(error)}` };
        timings.show(c.timings);
      };
    }
  }

  /** The timings card's "time it anyway": runs while this result is still on screen. */
  async function timeCpuOffered(c: ExplorerResult): Promise<void> {
    offeredTiming?.abort();
    const abort = new AbortController();
    offeredTiming = abort;
    const commit = await timeCpu(c, abort.signal);
    if (shownResult() === c && !abort.signal.aborted) commit();
  }

  const steps: RunSteps<ExplorerRequest, ExplorerResult> = {
    async compute({ state, example }, run: RunContext) {
      offeredTiming?.abort();
      viewport.setBusy(`Computing ${example.shape.heads}×${example.shape.seqLen}×${example.shape.kvLen ?? example.shape.seqLen}…`);
      verify.running();
      const view = await engine.compute({
        example,
        reduction: reduction(),
        signal: run.signal,
        onProgress: run.progress,
        onFused: (why) => messages.show('info', `${why}: computing on the fused path (FlashAttention-style). Only the weights, reduced to blocks, are drawn; scores are never stored.`, 'fused', 0),
      });
      const { shape } = view;
      const timingsView: TimingsView = {
        shapeText: `${shape.heads}×${shape.seqLen}×${shape.kvLen}${shape.causal ? ' causal' : ''}`,
        gpu: view.timings,
        cpu: { pending: 'The fast CPU path is timed after verification.' },
        cpuWorkers: page.cpuWorkers,
        flops: attentionFlops(shape),
        bytes: attentionBytes(shape),
        referenceMs: view.referenceMs,
        adapter: page.adapter(),
      };
      if (view.path === 'fused') timingsView.note = 'Fused path: the scores row holds the whole fused kernel (scores → softmax → output in one pass).';
      return { view, state, timings: timingsView };
    },

    async stage({ view }) {
      await page.surface().setSource(view.source);
    },

    async show(c) {
      const { view, state } = c;
      const surface = page.surface();
      surface.setHead(state.head);
      surface.setStage(state.stage);
      page.commit(state, explorerMaps(view, engine));
      delete viewport.canvas.dataset.shown;
      if (view.path !== 'fused') messages.clear('fused');
      const { shape } = view;
      panel.setMaxSeqLen(seqLenReach(facts(), shape.heads, shape.dHead));
      panel.sync(shapeIntoState(state, shape));
      panel.showTokens(view.example);
      showSource(view);
      syncToolbar(state, shape);
      messages.clear('input');
      await drawShown(page, surface, c.timings);
      timings.show(c.timings);
      renderNumbers();
      page.lessons.render();
    },

    async verify(c, run) {
      verify.pending(c.view.path === 'fused' ? 'Fused path: checking sampled query rows in a worker…' : 'Computing the f64 reference and comparing, in a worker…');
      const outcome = await engine.verify(c.view, run.signal);
      return () => {
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
      };
    },

    async timeCpu(c, run) {
      const plan = cpuTimingPlan(c.view.path, c.timings.flops.total);
      if (plan.auto) return timeCpu(c, run.signal);
      c.timings.cpu = { skipped: plan.why, ...(plan.offer ? { action: () => void timeCpuOffered(c) } : {}) };
      timings.show(c.timings);
    },

    // The run held its GPU buffers (no later run writes them, cancelled or not): let go of them
    // once another view replaced this one, or when it was never shown.
    release: (c) => c.view.held?.release(),

    failed(error, { phase, cancelled, kept }) {
      if (phase === 'verify') {
        if (!cancelled) verify.failed(page.errorText(error));
        return;
      }
      viewport.setBusy(null);
      if (cancelled) verify.skipped('Cancelled.');
      else {
        messages.show('error', page.errorText(error), 'input');
        panel.sync(page.state());
        if (kept) verify.skipped('The last request failed; the view shows the previous good result.');
        else verify.failed(page.errorText(error));
      }
      // The view on screen holds its own GPU buffers, which the failed run never wrote: it stays
      // as it was, drawn and readable.
    },
  };

  let requests = 0;
  let preparing: AbortController | null = null;

  /** Validate `next` into an example and run it; an input error leaves the page as it is. */
  async function run(next: AppState): Promise<void> {
    // A sentence continued to a long seqLen: its text is generated between yields first, and a
    // newer request that came meanwhile wins.
    const request = ++requests;
    preparing?.abort();
    preparing = new AbortController();
    await prepareContinuationFor(next, preparing.signal);
    if (request !== requests) return;
    let example: Example;
    try {
      checkReach(next, facts());
      example = exampleFor(next, { imported, lessonInputs: page.lessons.inputs() });
      // The path is chosen by the engine: a map too large to store goes to the fused path, so
      // only the arrays every path holds are checked here (each path checks its own on run).
      const shape = validateAttention(example.shape, example.inputs, { storesMap: false });
      if (next.head >= shape.heads) next = { ...next, head: 0 };
    } catch (error) {
      messages.show('error', page.errorText(error), 'input');
      panel.sync(page.state());
      return;
    }
    await page.pipeline.run(steps, { state: next, example });
  }

  function selectHead(head: number): void {
    const c = shownResult();
    if (!c) return;
    page.keep({ head });
    page.surface().setHead(head);
    renderNumbers();
    void page.surface().render().then(page.updateLegend);
  }

  return {
    apply: (next) => run(next),
    selectHead,
    reductionChanged(mode) {
      // The fused path's grid is reduced on the GPU in one mode: recompute it in the other.
      const c = shownResult();
      if (c?.view.path === 'fused') {
        void run(page.state());
        return;
      }
      page.surface().setReduction(mode);
      void page.surface().render().then(page.updateLegend);
    },
    syncToolbar(state) {
      const c = shownResult();
      if (c) syncToolbar(state, c.view.shape);
    },
    setImported(example) {
      imported = example;
    },
    view: () => shownResult()?.view ?? null,
  };
}
