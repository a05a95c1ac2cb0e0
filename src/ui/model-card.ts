/**
 * Model mode's sidebar card: which model, its loading status, the user's sentence, the tokens the
 * model reads (the user's words marked), and every head's measured scores (click a row to open
 * that head). What to do past the model's context sits beside the seqLen slider (src/ui/panel.ts).
 */
import { inductionSummary, type HeadReport } from '../app/head-scores';
import { headName } from '../app/model-view';
import type { ModelRun } from '../app/model-engine';
import { h } from './dom';

export interface ModelCardDeps {
  /** The user committed a sentence (Enter, the button, or leaving the box). */
  commitText(text: string): void;
  /** Open one head (layer, head) as the large surface. */
  selectHead(layer: number, head: number): void;
}

export interface ModelCard {
  readonly root: HTMLElement;
  status(kind: 'loading' | 'ready' | 'error', text: string): void;
  setText(text: string): void;
  /** Show a run: the tokens read and the head scores table. */
  show(run: ModelRun, selected: { layer: number; head: number }): void;
}

export function createModelCard(deps: ModelCardDeps): ModelCard {
  const title = h('h2', {}, 'Trained model', h('span', { class: 'pill' }, 'loading'));
  const about = h('p', { class: 'note', 'data-testid': 'model-about' }, 'Loading…');
  const status = h('p', { class: 'note', 'data-testid': 'model-status', 'data-state': 'loading' }, 'Loading the trained model…');
  const input = h('input', { type: 'text', class: 'text-input', 'data-testid': 'model-text', 'aria-label': 'your sentence (words of the model’s vocabulary)', spellcheck: false, autocomplete: 'off' });
  const run = h('button', { class: 'btn', 'data-testid': 'model-run' }, 'Run');
  const tokens = h('p', { class: 'note tokens', 'data-testid': 'model-tokens' });
  const scores = h('div', { 'data-testid': 'head-scores' });
  const root = h(
    'section',
    { class: 'card model-card', 'data-testid': 'model-card' },
    title,
    about,
    status,
    h('label', { class: 'text-row' }, h('span', {}, 'Your sentence'), h('div', { class: 'row-actions' }, input, run)),
    tokens,
    scores,
  );
  const commit = () => deps.commitText(input.value);
  run.addEventListener('click', commit);
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter') commit();
  });

  return {
    root,
    status(kind, text) {
      status.dataset.state = kind;
      status.className = `note${kind === 'error' ? ' bad' : ''}`;
      status.textContent = text;
    },
    setText(text) {
      if (document.activeElement !== input) input.value = text;
    },
    show(r, selected) {
      const { config, metadata, vocab, name } = r.model;
      title.replaceChildren('Trained model', h('span', { class: 'pill' }, `${config.layers} layers × ${config.heads} heads`));
      const loss = Number(metadata.heldOutLoss);
      const unigram = Number(metadata.unigramLoss);
      about.textContent =
        `“${name}”: a GPT-2-style model trained in this repository on a generated children’s-story corpus — d_model ${config.dModel}, MLP ${config.dMlp}, ` +
        `context ${config.context}, a ${vocab.tokens.length}-token vocabulary (words and . , ? ! 's; case does not matter)` +
        (Number.isFinite(loss) ? `; held-out loss ${loss.toFixed(3)} nats${Number.isFinite(unigram) ? ` (a unigram model: ${unigram.toFixed(3)})` : ''}` : '') +
        `. It reads <eos> + your sentence, continued with corpus sentences up to the sequence length.`;
      const { input: inp } = r;
      const shown = inp.words.map((w) => (w === '<eos>' ? '⟨eos⟩' : w));
      tokens.replaceChildren(
        h('span', { class: 'count', 'data-testid': 'model-token-count' }, `${inp.ids.length} tokens`),
        `: ${inp.cut ? `your sentence cut to fit (raise the sequence length to read all ${inp.textTokens + 1})` : `${inp.textTokens} from your sentence${inp.extended > 0 ? `, ${inp.extended} from the corpus` : ''}`} — `,
        // The user's words marked, as in the explorer's panel (textContent stays the words joined by spaces).
        h('span', { class: 'words sentence-tokens' }, ...shown.flatMap((w, i) => [i > 0 ? ' ' : '', i >= 1 && i <= inp.textTokens ? h('mark', { title: 'your word' }, w) : w])),
      );
      const layers = config.layers;
      const head = (l: number, hd: number) => r.heads.find((x) => x.layer === l && x.head === hd)!;
      const cell = (value: number) => h('td', {}, Number.isFinite(value) ? value.toFixed(2) : '—');
      const rows: HTMLElement[] = [];
      for (let l = 0; l < layers; l++) {
        for (let hd = 0; hd < config.heads; hd++) {
          const rep: HeadReport = head(l, hd);
          const row = h(
            'tr',
            { class: `clickable${selected.head >= 0 && selected.layer === l && selected.head === hd ? ' selected' : ''}`, 'data-layer': String(l), 'data-head': String(hd), title: `open ${headName(l, hd)} as the large surface` },
            h('td', { class: 'name' }, headName(l, hd)),
            cell(rep.scores.previousToken),
            cell(rep.scores.induction),
            cell(rep.scores.firstToken),
            cell(rep.scores.entropy),
            h('td', { class: 'labels' }, rep.labels.join(', ')),
          );
          row.addEventListener('click', () => deps.selectHead(l, hd));
          rows.push(row);
        }
      }
      const induction = inductionSummary(r.heads);
      scores.replaceChildren(
        h('h3', {}, 'Measured heads'),
        h('table', { class: 'head-scores' }, h('thead', {}, h('tr', {}, ...['head', 'prev', 'induct.', 'first', 'entropy', 'label'].map((t) => h('th', {}, t)))), h('tbody', {}, ...rows)),
        h(
          'p',
          { class: 'note' },
          `Computed from the maps above: prev = mean weight on the previous token, first = on the first token (⟨eos⟩), entropy = mean row entropy (nats), all on this text; ` +
            `induct. = mean weight on the token after the previous occurrence, on a repeated random span of ${r.model.probe.spanLength} words run through the model. A label needs ≥ 0.40. Click a row to open that head.`,
        ),
        ...(induction.found || !Number.isFinite(induction.best)
          ? []
          : [
              h(
                'p',
                { class: 'note', 'data-testid': 'no-induction' },
                `No head reaches ${induction.threshold.toFixed(2)} on induction (best ${induction.best.toFixed(2)}): this model did not learn an induction head in its training — the README says what was tried.`,
              ),
            ]),
      );
    },
  };
}
