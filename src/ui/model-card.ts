/**
 * Model mode's sidebar card: which model, its loading status, the user's sentence, the tokens the
 * model reads (the user's words marked), and every head's measured scores (click a row to open
 * that head). What to do past the model's context sits beside the seqLen slider (src/ui/panel.ts).
 */
import { inductionSummary, type HeadReport } from '../app/head-scores';
import { headName } from '../app/model-view';
import { gpuWeightFormat, type ModelRun } from '../app/model-engine';
import { h } from './dom';
import { formatBytes } from '../core/errors';
import { countParams } from '../model/schema';
import { countLlamaParams, isLlamaConfig } from '../model/llama-schema';
import { modelMemory } from '../pretrained/memory';
import type { TrainingHistory } from '../app/training-history';
import { formationCaption, renderFormationChart } from './formation-chart';

export interface ModelCardDeps {
  /** The user committed a sentence (Enter, the button, or leaving the box). */
  commitText(text: string): void;
  /** Open one head (layer, head) as the large surface. */
  selectHead(layer: number, head: number): void;
}

export interface ModelCard {
  readonly root: HTMLElement;
  /** Where the model picker goes (src/ui/model-picker.ts, placed by the model controller). */
  readonly pickerHost: HTMLElement;
  status(kind: 'loading' | 'ready' | 'error', text: string): void;
  setText(text: string): void;
  /** Show a run: the tokens read and the head scores table. */
  show(run: ModelRun, selected: { layer: number; head: number }): void;
  /** The shipped model's training history (drawn while the shipped model is shown), or why it could not be read. */
  showFormation(log: TrainingHistory | Error): void;
}

/** How the "find heads" list can sort: the model's order, or a score, strongest first (entropy: sharpest first). */
type SortKey = 'order' | 'previousToken' | 'induction' | 'duplicateToken' | 'firstToken' | 'entropy';
const SORT_KEYS: ReadonlyArray<[SortKey, string]> = [
  ['order', 'layer, head'],
  ['previousToken', 'previous-token'],
  ['induction', 'induction'],
  ['duplicateToken', 'duplicate-token'],
  ['firstToken', 'first-token sink'],
  ['entropy', 'entropy (sharpest first)'],
];
/** Tokens the card lists (a real model reads up to 1024; the 3D labels and hover show them all). */
const TOKENS_LISTED = 160;

/** Rows the table shows before "All N heads" (GPT-2 small has 144). */
const TOP_HEADS = 16;

/** The heads in the order asked for; NaN scores last. */
export function sortHeads(heads: readonly HeadReport[], by: SortKey): HeadReport[] {
  if (by === 'order') return heads.slice();
  const sign = by === 'entropy' ? 1 : -1;
  const key = (r: HeadReport) => (Number.isFinite(r.scores[by]) ? sign * r.scores[by] : Infinity);
  return heads.slice().sort((a, b) => key(a) - key(b) || a.layer - b.layer || a.head - b.head);
}

/** The card's description of the model and what it reads. */
function describeModel(model: ModelRun['model'], tokens: number, fused = false): string {
  const { config, metadata, name } = model;
  if (model.kind === 'shipped') {
    const loss = Number(metadata.heldOutLoss);
    const unigram = Number(metadata.unigramLoss);
    return (
      `“${name}”: a GPT-2-style model trained in this repository on a generated children’s-story corpus — d_model ${config.dModel}, MLP ${config.dMlp}, ` +
      `context ${config.context}, a ${model.pieces.length}-token vocabulary (words and . , ? ! 's; case does not matter)` +
      (Number.isFinite(loss) ? `; held-out loss ${loss.toFixed(3)} nats${Number.isFinite(unigram) ? ` (a unigram model: ${unigram.toFixed(3)})` : ''}` : '') +
      `. It reads <eos> + your sentence, continued with corpus sentences up to the sequence length.`
    );
  }
  const weights = gpuWeightFormat(model);
  const onGpu = modelMemory(config, tokens, { fused, weights }).total;
  if (isLlamaConfig(config)) {
    const group = config.heads / config.kvHeads;
    const kv =
      config.kvHeads === config.heads
        ? 'a key/value head per query head'
        : `${config.kvHeads} key/value heads, each shared by ${group} query heads (grouped-query attention)`;
    return (
      `“${name}”: a ${config.modelType === 'qwen2' ? 'Qwen2' : 'Llama'}-family checkpoint — ${config.layers} layers × ${config.heads} heads, ${kv}, head_dim ${config.headDim}, ` +
      `d_model ${config.dModel}, SwiGLU MLP ${config.dMlp}, RoPE θ ${config.ropeTheta}${config.ropeScaling ? ` (Llama 3 scaling ×${config.ropeScaling.factor})` : ''}, context ${config.context}, ` +
      `a ${config.vocabSize}-token vocabulary, ${formatCount(countLlamaParams(config))} parameters stored as ${model.dtype} (${formatBytes(model.bytes)}${model.fromCache ? ', from the browser cache' : ''}); ` +
      `on the GPU at most ${formatBytes(onGpu)} (${weights === 'f32' ? 'f32 weights' : `weight matrices in their stored ${weights.toUpperCase()}, widened in the kernels`} and this run's buffers). It reads your text in its own tokens, continued with built-in story text up to the sequence length.`
    );
  }
  const params = countParams(config);
  return (
    `“${name}”: a GPT-2-family checkpoint — ${config.layers} layers × ${config.heads} heads, d_model ${config.dModel}, MLP ${config.dMlp}, context ${config.context}, ` +
    `a ${config.vocabSize}-token vocabulary, ${formatCount(params)} parameters stored as ${model.dtype} (${formatBytes(model.bytes)}${model.fromCache ? ', from the browser cache' : ''}); ` +
    `on the GPU ${formatBytes(onGpu)} (f32 weights and this run's buffers). It reads <|endoftext|> + your text in its own tokens, continued with built-in story text up to the sequence length.`
  );
}

/** 124.4M, 82.0K. */
function formatCount(n: number): string {
  return n >= 1e9 ? `${(n / 1e9).toFixed(2)}B` : n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}K` : String(n);
}

export function createModelCard(deps: ModelCardDeps): ModelCard {
  const title = h('h2', {}, 'Trained model', h('span', { class: 'pill' }, 'loading'));
  const about = h('p', { class: 'note', 'data-testid': 'model-about' }, 'Loading…');
  const status = h('p', { class: 'note', 'data-testid': 'model-status', 'data-state': 'loading' }, 'Loading the trained model…');
  const input = h('input', { type: 'text', class: 'text-input', 'data-testid': 'model-text', 'aria-label': 'your text', spellcheck: false, autocomplete: 'off' });
  const run = h('button', { class: 'btn', 'data-testid': 'model-run' }, 'Run');
  const tokens = h('p', { class: 'note tokens', 'data-testid': 'model-tokens' });
  const scores = h('div', { 'data-testid': 'head-scores' });
  const formation = h('div', { class: 'formation', 'data-testid': 'formation', hidden: true });
  let formationData: TrainingHistory | Error | null = null;
  let formationChart: { destroy(): void } | null = null;
  let shippedShown = false;
  const pickerHost = h('div', { class: 'picker-host' });
  const root = h(
    'section',
    { class: 'card model-card', 'data-testid': 'model-card' },
    title,
    pickerHost,
    about,
    status,
    h('label', { class: 'text-row' }, h('span', {}, 'Your text'), h('div', { class: 'row-actions' }, input, run)),
    tokens,
    scores,
    formation,
  );
  const findHeads = h(
    'select',
    { 'data-testid': 'find-heads', 'aria-label': 'sort the heads by a score' },
    ...SORT_KEYS.map(([key, label]) => h('option', { value: key }, label)),
  ) as HTMLSelectElement;
  findHeads.addEventListener('change', () => renderScores());
  let showAll = false;
  let lastShown: { run: ModelRun; selected: { layer: number; head: number } } | null = null;
  const commit = () => deps.commitText(input.value);
  run.addEventListener('click', commit);
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter') commit();
  });

  return {
    root,
    pickerHost,
    status(kind, text) {
      status.dataset.state = kind;
      status.className = `note${kind === 'error' ? ' bad' : ''}`;
      status.textContent = text;
    },
    setText(text) {
      if (document.activeElement !== input) input.value = text;
    },
    show(r, selected) {
      lastShown = { run: r, selected };
      const { config } = r.model;
      title.replaceChildren(r.model.kind === 'shipped' ? 'Trained model' : r.model.name, h('span', { class: 'pill' }, `${config.layers} layers × ${config.heads} heads`));
      about.textContent = describeModel(r.model, r.input.ids.length, r.fused !== null);
      const { input: inp } = r;
      const eos = r.model.kind === 'shipped' ? '<eos>' : '<|endoftext|>';
      const shown = inp.words.map((w, i) => (i === 0 && w === eos ? `⟨${eos.replace(/[<>|]/g, '')}⟩` : w));
      const source = r.model.kind === 'shipped' ? 'the corpus' : 'the built-in story text';
      const joiner = r.model.kind === 'shipped' ? ' ' : '';
      tokens.replaceChildren(
        h('span', { class: 'count', 'data-testid': 'model-token-count' }, `${inp.ids.length} tokens`),
        `: ${inp.cut ? `your text cut to fit (raise the sequence length to read all ${inp.textTokens + 1})` : `${inp.textTokens} from your text${inp.extended > 0 ? `, ${inp.extended} from ${source}` : ''}`} — `,
        // The user's tokens marked, as in the explorer's panel. A real model's tokens are their own
        // text pieces (a leading space is part of the token), so they are joined as they are.
        h(
          'span',
          { class: `words sentence-tokens${joiner === '' ? ' pieces' : ''}` },
          ...shown.slice(0, TOKENS_LISTED).flatMap((w, i) => [i > 0 ? joiner : '', i >= 1 && i <= inp.textTokens ? h('mark', { title: 'your token' }, w) : w]),
          shown.length > TOKENS_LISTED ? ` … and ${shown.length - TOKENS_LISTED} more tokens` : '',
        ),
      );
      renderScores();
      const shipped = r.model.kind === 'shipped';
      if (shipped !== shippedShown) {
        shippedShown = shipped;
        renderFormation();
      }
    },
    showFormation(log) {
      formationData = log;
      renderFormation();
    },
  };

  /** The formation chart and caption, for the shipped model only (drawn once its log has loaded). */
  function renderFormation(): void {
    formationChart?.destroy();
    formationChart = null;
    formation.hidden = !shippedShown || formationData === null;
    if (formation.hidden) {
      formation.replaceChildren();
      return;
    }
    if (formationData instanceof Error) {
      formation.replaceChildren(h('h3', {}, 'How its heads formed'), h('p', { class: 'note bad', 'data-testid': 'formation-error' }, `The training log could not be read: ${formationData.message}`));
      return;
    }
    const log = formationData!;
    const host = h('div', { class: 'formation-chart', 'data-testid': 'formation-chart' });
    formation.replaceChildren(
      h('h3', {}, 'How its heads formed'),
      host,
      h('p', { class: 'note', 'data-testid': 'formation-caption' }, formationCaption(log)),
      h(
        'p',
        { class: 'note' },
        `Solid: each head's induction score on a repeated random span; dashed: previous-token score on held-out text; grey: training loss (right axis). Bold: the induction head and the previous-token head it reads. From the training log (npm run train), measured every ${log.points.length > 1 ? log.points[1].step - log.points[0].step : 0} steps.`,
      ),
    );
    // The card's width is known once it is laid out; fall back to the sidebar's usual width.
    formationChart = renderFormationChart(host, log, Math.max(240, (scores.clientWidth || 320) - 4));
  }

  /** The head table, sorted by the "find heads" choice; past 16 heads only the top 16 unless all are asked for. */
  function renderScores(): void {
    if (!lastShown) return;
    const { run: r, selected } = lastShown;
    const sortBy = (findHeads.value || 'order') as SortKey;
    const ordered = sortHeads(r.heads, sortBy);
    const limit = showAll || ordered.length <= TOP_HEADS ? ordered.length : TOP_HEADS;
    const cell = (value: number) => h('td', {}, Number.isFinite(value) ? value.toFixed(2) : '—');
    const rows = ordered.slice(0, limit).map((rep) => {
      const { layer: l, head: hd } = rep;
      const row = h(
        'tr',
        { class: `clickable${selected.head >= 0 && selected.layer === l && selected.head === hd ? ' selected' : ''}`, 'data-layer': String(l), 'data-head': String(hd), title: `open ${headName(l, hd)} as the large surface` },
        h('td', { class: 'name' }, headName(l, hd)),
        cell(rep.scores.previousToken),
        cell(rep.scores.induction),
        cell(rep.scores.firstToken),
        cell(rep.scores.entropy),
        cell(rep.scores.duplicateToken),
        h('td', { class: 'labels' }, rep.labels.join(', ')),
      );
      row.addEventListener('click', () => deps.selectHead(l, hd));
      return row;
    });
    const more: HTMLElement[] = [];
    if (ordered.length > TOP_HEADS) {
      const toggle = h('button', { class: 'btn small', 'data-testid': 'all-heads' }, showAll ? `Top ${TOP_HEADS} only` : `All ${ordered.length} heads`);
      toggle.addEventListener('click', () => {
        showAll = !showAll;
        renderScores();
      });
      more.push(toggle);
    }
    const induction = inductionSummary(r.heads);
    const probeWords = r.model.kind === 'shipped' ? 'words' : 'random tokens';
    scores.replaceChildren(
      h('h3', {}, 'Measured heads'),
      h('label', { class: 'find-heads' }, h('span', {}, 'Find heads: sort by'), findHeads),
      h('table', { class: 'head-scores' }, h('thead', {}, h('tr', {}, ...['head', 'prev', 'induct.', 'first', 'entropy', 'dup.', 'label'].map((t) => h('th', {}, t)))), h('tbody', {}, ...rows)),
      ...more,
      h(
        'p',
        { class: 'note' },
        (r.fused
          ? `prev = mean weight on the previous token, first = on the first token, entropy = mean row entropy (nats), all on this text, every one of its ${r.input.ids.length} rows (this run stored no maps: the GPU recomputed each head's weight at those entries and each row's entropy in the fused pass); ` +
            `induct. = mean weight on the token after the previous occurrence, dup. = on earlier copies of the same token, both on a repeated span of ${r.model.probe.spanLength} ${probeWords} run through the model. A label needs ≥ 0.40. Click a row to open that head.`
          : `Computed from the maps above: prev = mean weight on the previous token, first = on the first token, entropy = mean row entropy (nats), all on this text; ` +
            `induct. = mean weight on the token after the previous occurrence, dup. = on earlier copies of the same token, both on a repeated span of ${r.model.probe.spanLength} ${probeWords} run through the model. A label needs ≥ 0.40. Click a row to open that head.`),
      ),
      ...(induction.found || !Number.isFinite(induction.best)
        ? []
        : [
            h(
              'p',
              { class: 'note', 'data-testid': 'no-induction' },
              `No head reaches ${induction.threshold.toFixed(2)} on induction (best ${induction.best.toFixed(2)})` +
                (r.model.kind === 'shipped' ? ': this model did not learn an induction head in its training — the README says what was tried.' : '.'),
            ),
          ]),
    );
  }
}
