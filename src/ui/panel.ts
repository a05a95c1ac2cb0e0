/**
 * The control panel: lil-gui for the ordinary fields, plus a log-scale sequence-length control
 * (lil-gui sliders are linear). The panel edits a draft copy of the state and reports each
 * committed change; the app decides whether the change is good and may revert the panel.
 */
import GUI, { type Controller } from 'lil-gui';
import { LIMITS, defaultSeqLen, type AppState, type InputKind, type WeightChoice } from '../app/state';
import { h } from './dom';

const INPUT_LABELS: Record<string, InputKind> = {
  'Sentence (text box)': 'sentence',
  'Lesson: cat sat (d = 3)': 'cat-sat',
  'Lesson: 2-D example': 'two-d',
  'Seeded random': 'random',
  'Sinusoidal positions': 'sinusoidal',
};
/** The sentences the lessons use. */
export const SENTENCE_PRESETS = ['The cat sat on the mat', 'I like NLP, a lot !', 'The dog chased the cat', 'The animal didn’t cross the street because it was too tired'];

const WEIGHT_LABELS: Record<string, WeightChoice> = {
  'Random (scaled)': 'random',
  'Identity-like': 'identity',
  "Lesson's matrices": 'lesson',
};

/** Why the length is fixed ('' when the seqLen control sets it): the lessons' worked examples fix theirs. */
function fixedLength(state: AppState): string {
  if (state.lesson === 'cat-sat' || state.lesson === 'two-d' || state.input === 'cat-sat' || state.input === 'two-d') return 'fixed by the lesson example: 2 tokens';
  if (state.lesson === 'sentence') return "fixed by the lesson: the sentence's 6 tokens";
  return '';
}
function fixedShape(input: InputKind): boolean {
  return input === 'cat-sat' || input === 'two-d';
}

/** Tokens of a sentence shown in the panel before "…" (the rest are in the hover readout). */
const SHOWN_TOKENS = 24;

/** What the panel shows of an example: its tokens and how many are the user's own words. */
export interface ShownTokens {
  tokens: readonly string[];
  userTokens?: number;
}

/** Synthetic inputs offered past the model's context: the explorer's random and positional inputs. */
export type PastContextInput = 'random' | 'sinusoidal';

export class Panel {
  readonly root = h('section', { class: 'panel' });
  private readonly draft: AppState;
  private readonly gui: GUI;
  private readonly controllers: Controller[] = [];
  private readonly byField = new Map<keyof AppState, Controller>();
  private readonly seqRange: HTMLInputElement;
  private readonly seqNumber: HTMLInputElement;
  private readonly seqNote: HTMLElement;
  private readonly seqMin: HTMLElement;
  private readonly seqMax: HTMLElement;
  private readonly ticks: HTMLDataListElement;
  private readonly pastContext: HTMLElement;
  private readonly tokensLine: HTMLElement;
  private maxSeqLen: number;
  private readonly guiHost: HTMLElement;
  /** The trained model's context (model mode's seqLen range), once it is loaded. */
  private modelContext = 128;
  /** A length past the context that was asked for (the offer names it), or null. */
  private askedPast: number | null = null;
  private sentencePreset: Controller | null = null;
  /** The state last committed or shown: an input or sentence change keeps a set length, and follows an unset one. */
  private committed: AppState;

  /**
   * `onExplore`: take the explorer's synthetic inputs to a length past the model's context (the
   * offer beside the slider in model mode).
   */
  constructor(
    initial: AppState,
    private readonly onCommit: (next: AppState) => void,
    maxSeqLen: number,
    private readonly onExplore: (input: PastContextInput, seqLen: number) => void = () => {},
  ) {
    this.draft = { ...initial };
    this.maxSeqLen = maxSeqLen;

    this.ticks = h('datalist', { id: 'seq-len-ticks' }) as HTMLDataListElement;
    this.seqRange = h('input', { type: 'range', min: 1, max: Math.log2(maxSeqLen), step: 0.05, list: 'seq-len-ticks', 'aria-label': 'sequence length (log scale)', 'data-testid': 'seq-len-slider' });
    this.seqNumber = h('input', { type: 'number', min: 2, max: maxSeqLen, step: 1, 'aria-label': 'sequence length', 'data-testid': 'seq-len' });
    this.seqNote = h('span', { 'data-testid': 'seq-len-note' }, '');
    this.seqMin = h('span', {}, '2');
    this.seqMax = h('span', { class: 'seq-max', 'data-testid': 'seq-len-max' }, '');
    this.pastContext = h('div', { class: 'past-context', 'data-testid': 'past-context', hidden: true });
    this.tokensLine = h('p', { class: 'note tokens sentence-tokens', 'data-testid': 'sentence-tokens', hidden: true });
    const seqControl = h(
      'div',
      { class: 'seq-control card', 'data-testid': 'seq-control' },
      h('label', {}, h('span', {}, 'Sequence length (log scale)'), this.seqNote),
      h('div', { class: 'seq-track' }, this.seqRange, h('div', { class: 'seq-ends' }, this.seqMin, this.seqMax), this.ticks),
      this.seqNumber,
      this.pastContext,
      this.tokensLine,
    );
    this.seqRange.addEventListener('input', () => {
      this.seqNumber.value = String(Math.round(2 ** Number(this.seqRange.value)));
    });
    this.seqRange.addEventListener('change', () => this.commitSeqLen(Number(this.seqNumber.value)));
    this.seqNumber.addEventListener('change', () => this.commitSeqLen(Number(this.seqNumber.value)));

    const guiHost = h('div', {});
    this.guiHost = guiHost;
    this.gui = new GUI({ container: guiHost, title: 'Attention', width: 336 });
    const add = (field: keyof AppState, ctrl: Controller, testid: string) => {
      ctrl.domElement.dataset.testid = testid;
      this.controllers.push(ctrl);
      this.byField.set(field, ctrl);
      return ctrl;
    };
    add('input', this.gui.add(this.draft, 'input', INPUT_LABELS).name('Input'), 'input-kind').onChange((input: InputKind) => {
      // Each input comes with the weights that show what it is for: positions need
      // identity-like projections for q·k to depend on i − j (diagonal bands).
      if (input === 'sinusoidal') this.draft.weights = 'identity';
      else if (input === 'sentence' || input === 'random') this.draft.weights = 'random';
      this.commit();
    });
    add('text', this.gui.add(this.draft, 'text').name('Sentence'), 'sentence').onFinishChange(() => this.commit());
    // The lessons' sentences, one click away (the text box takes any other).
    const presets = { sentence: '' };
    this.sentencePreset = this.gui
      .add(presets, 'sentence', ['', ...SENTENCE_PRESETS])
      .name('… or a lesson sentence')
      .onChange((text: string) => {
        if (!text) return;
        this.draft.text = text;
        this.draft.input = 'sentence';
        presets.sentence = '';
        this.sentencePreset?.updateDisplay();
        this.commit();
      });
    this.sentencePreset.domElement.dataset.testid = 'sentence-preset';
    add('dModel', this.gui.add(this.draft, 'dModel', 1, LIMITS.dModel, 1).name('d_model'), 'd-model').onFinishChange(() => this.commit());
    add('heads', this.gui.add(this.draft, 'heads', 1, 16, 1).name('heads'), 'heads').onFinishChange(() => this.commit());
    add('dHead', this.gui.add(this.draft, 'dHead', 1, 256, 1).name('d_head (d_k)'), 'd-head').onFinishChange(() => this.commit());
    add('causal', this.gui.add(this.draft, 'causal').name('causal mask'), 'causal').onChange(() => this.commit());
    add('weights', this.gui.add(this.draft, 'weights', WEIGHT_LABELS).name('W_Q, W_K, W_V'), 'weights').onChange(() => this.commit());
    add('seed', this.gui.add(this.draft, 'seed', 0, 9999, 1).name('seed'), 'seed').onFinishChange(() => this.commit());

    this.root.append(seqControl, guiHost);
    this.committed = { ...initial };
    this.sync(initial);
  }

  /** The largest seqLen the device can hold as a full map (sets the slider's range). */
  setMaxSeqLen(maxSeqLen: number): void {
    this.maxSeqLen = maxSeqLen;
    if (this.draft.mode !== 'model') this.sync(this.draft);
  }

  /** Model mode's seqLen range: 2 … the model's context, shown at the slider's end; the ways past it sit beside it. */
  setModelContext(context: number): void {
    this.modelContext = context;
    if (this.draft.mode === 'model') this.sync(this.draft);
  }

  /** Past the context (the URL asked for it): show the offer for `seqLen` beside the slider. */
  offerPastContext(seqLen: number): void {
    this.askedPast = seqLen;
    this.renderPastContext();
  }

  /** The explorer's example: its tokens, the user's words marked; null hides the line. */
  showTokens(example: ShownTokens | null): void {
    const show = example !== null && example.userTokens !== undefined && this.draft.mode === 'explorer' && this.draft.input === 'sentence';
    this.tokensLine.hidden = !show;
    if (!show) return;
    const { tokens } = example;
    const yours = example.userTokens ?? tokens.length;
    const words: Array<HTMLElement | string> = [];
    for (let i = 0; i < Math.min(tokens.length, SHOWN_TOKENS); i++) {
      words.push(i < yours ? h('mark', { title: 'your word' }, tokens[i]) : tokens[i], ' ');
    }
    if (tokens.length > SHOWN_TOKENS) words.push('…');
    const continued = tokens.length - yours;
    this.tokensLine.replaceChildren(
      h('span', { class: 'count' }, `${tokens.length} tokens: ${yours} yours${continued > 0 ? `, ${continued} continued` : ''}`),
      continued > 0 ? ' (generated stories, as the trained model’s corpus) — ' : ' — ',
      h('span', { class: 'words' }, ...words),
    );
  }

  private commitSeqLen(value: number): void {
    if (this.draft.mode === 'model' && Number.isInteger(value) && value > this.modelContext) {
      // Past the context: no run and no error after the fact; the offer beside the slider says
      // what the model reads and takes the explorer's synthetic inputs to this length.
      this.offerPastContext(value);
      this.seqNumber.value = String(this.draft.seqLen);
      return;
    }
    // Out-of-range and fractional values go to the app, which names the field in a message and
    // restores the last good value; the panel itself does not silently clamp. The thumb follows
    // a typed value at once (the run that shows it may take a while).
    if (Number.isFinite(value) && value >= 2) this.seqRange.value = String(Math.min(Math.log2(value), Number(this.seqRange.max)));
    this.draft.seqLen = value;
    this.commit();
  }

  private commit(): void {
    // A length the user never set follows the input (a sentence's own length, else 64).
    const before = this.committed;
    if (this.draft.mode === 'explorer' && this.draft.seqLen === before.seqLen && before.seqLen === defaultSeqLen(before.input, before.text)) {
      this.draft.seqLen = defaultSeqLen(this.draft.input, this.draft.text);
    }
    this.committed = { ...this.draft };
    this.askedPast = null;
    this.renderPastContext();
    this.onCommit({ ...this.draft });
  }

  private renderPastContext(): void {
    const model = this.draft.mode === 'model';
    this.pastContext.hidden = !model;
    if (!model) return;
    const context = this.modelContext;
    const length = this.askedPast ?? 4 * context;
    const button = (input: PastContextInput, text: string, testid: string) => {
      const b = h('button', { class: 'btn', 'data-testid': testid }, text);
      b.addEventListener('click', () => this.onExplore(input, length));
      return b;
    };
    this.pastContext.classList.toggle('asked', this.askedPast !== null);
    this.pastContext.replaceChildren(
      h(
        'p',
        {},
        this.askedPast !== null
          ? `The model reads at most ${context} tokens (its context); you asked for ${this.askedPast}. Past it, the explorer's synthetic inputs:`
          : `Past the context (${context}), the explorer's synthetic inputs go to 65536:`,
      ),
      h('div', { class: 'row-actions' }, button('random', `Random inputs at ${length}`, 'past-random'), button('sinusoidal', `Positions at ${length}`, 'past-positions')),
      h('p', { class: 'note' }, 'A longer-context model comes with real checkpoints.'),
    );
  }

  /** Show a state (after a good run, or to revert a bad edit). */
  sync(state: AppState): void {
    // The offer keeps the length asked for (a URL's, after the fallback view runs) until the mode changes or the user commits.
    if (state.mode !== this.draft.mode) this.askedPast = null;
    Object.assign(this.draft, state);
    this.committed = { ...state };
    for (const ctrl of this.controllers) ctrl.updateDisplay();
    const model = state.mode === 'model';
    // Model mode: only the sequence length (the model fixes every other size).
    this.guiHost.hidden = model;
    const fixed = model ? '' : fixedLength(state);
    this.seqRange.disabled = fixed !== '';
    this.seqNumber.disabled = fixed !== '';
    const max = model ? this.modelContext : this.maxSeqLen;
    this.seqRange.max = String(Math.log2(max));
    this.seqNumber.max = model ? '' : String(max);
    this.seqNumber.value = String(state.seqLen);
    this.seqRange.value = String(Math.log2(Math.max(2, Math.min(state.seqLen, max))));
    // Ticks at the powers of two, and the range's end named on the slider itself.
    const ticks = [2];
    while (ticks[ticks.length - 1] * 2 < max) ticks.push(ticks[ticks.length - 1] * 2);
    ticks.push(max);
    this.ticks.replaceChildren(...ticks.map((n) => h('option', { value: String(Math.log2(n)) })));
    this.seqMax.textContent = model ? `context ${max}` : String(max);
    this.seqMax.title = model ? `the model reads at most ${max} tokens` : `the most this device takes for these sizes`;
    // Only a fixed length needs words here: the ends under the track give the range.
    this.seqNote.textContent = fixed;
    this.renderPastContext();
    if (model || state.input !== 'sentence') this.tokensLine.hidden = true;
    for (const field of ['dModel', 'heads', 'dHead', 'weights', 'seed'] as const) this.byField.get(field)?.disable(fixedShape(state.input));
    this.byField.get('text')?.show(state.input === 'sentence');
    this.sentencePreset?.show(state.input === 'sentence');
  }
}
