/**
 * The control panel: lil-gui for the ordinary fields, plus a log-scale sequence-length control
 * (lil-gui sliders are linear). The panel edits a draft copy of the state and reports each
 * committed change; the app decides whether the change is good and may revert the panel.
 */
import GUI, { type Controller } from 'lil-gui';
import { LIMITS, type AppState, type InputKind, type WeightChoice } from '../app/state';
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

/** Inputs whose length comes from the example itself, not the seqLen control. */
function seqLenFromExample(input: InputKind): boolean {
  return input === 'sentence' || input === 'cat-sat' || input === 'two-d';
}
function fixedShape(input: InputKind): boolean {
  return input === 'cat-sat' || input === 'two-d';
}

export class Panel {
  readonly root = h('section', { class: 'panel' });
  private readonly draft: AppState;
  private readonly gui: GUI;
  private readonly controllers: Controller[] = [];
  private readonly byField = new Map<keyof AppState, Controller>();
  private readonly seqRange: HTMLInputElement;
  private readonly seqNumber: HTMLInputElement;
  private readonly seqNote: HTMLElement;
  private maxSeqLen: number;
  private readonly guiHost: HTMLElement;
  /** The trained model's context (model mode's seqLen range), once it is loaded. */
  private modelContext = 128;
  private sentencePreset: Controller | null = null;

  constructor(
    initial: AppState,
    private readonly onCommit: (next: AppState) => void,
    maxSeqLen: number,
  ) {
    this.draft = { ...initial };
    this.maxSeqLen = maxSeqLen;

    this.seqRange = h('input', { type: 'range', min: 1, max: Math.log2(maxSeqLen), step: 0.05, 'aria-label': 'sequence length (log scale)', 'data-testid': 'seq-len-slider' });
    this.seqNumber = h('input', { type: 'number', min: 2, max: maxSeqLen, step: 1, 'aria-label': 'sequence length', 'data-testid': 'seq-len' });
    this.seqNote = h('span', {}, '');
    const seqControl = h('div', { class: 'seq-control card' }, h('label', {}, h('span', {}, 'Sequence length (log scale)'), this.seqNote), this.seqRange, this.seqNumber);
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
    this.sync(initial);
  }

  /** The largest seqLen the device can hold as a full map (sets the slider's range). */
  setMaxSeqLen(maxSeqLen: number): void {
    this.maxSeqLen = maxSeqLen;
    if (this.draft.mode === 'model') return;
    this.seqRange.max = String(Math.log2(maxSeqLen));
    this.seqNumber.max = String(maxSeqLen);
    if (!seqLenFromExample(this.draft.input)) this.seqNote.textContent = `2 … ${maxSeqLen}`;
  }

  /** Model mode's seqLen range: 2 … the model's context (the slider stops there; the number box takes more, and the app says why not). */
  setModelContext(context: number): void {
    this.modelContext = context;
    if (this.draft.mode === 'model') this.sync(this.draft);
  }

  private commitSeqLen(value: number): void {
    // Out-of-range and fractional values go to the app, which names the field in a message and
    // restores the last good value; the panel itself does not silently clamp.
    this.draft.seqLen = value;
    this.commit();
  }

  private commit(): void {
    this.onCommit({ ...this.draft });
  }

  /** Show a state (after a good run, or to revert a bad edit). */
  sync(state: AppState): void {
    Object.assign(this.draft, state);
    for (const ctrl of this.controllers) ctrl.updateDisplay();
    this.seqNumber.value = String(state.seqLen);
    this.seqRange.value = String(Math.log2(Math.max(2, state.seqLen)));
    const model = state.mode === 'model';
    // Model mode: only the sequence length (the model fixes every other size).
    this.guiHost.hidden = model;
    const fromExample = !model && seqLenFromExample(state.input);
    this.seqRange.disabled = fromExample;
    this.seqNumber.disabled = fromExample;
    const max = model ? this.modelContext : this.maxSeqLen;
    this.seqRange.max = String(Math.log2(max));
    this.seqNumber.max = model ? '' : String(max);
    this.seqRange.value = String(Math.log2(Math.max(2, Math.min(state.seqLen, max))));
    this.seqNote.textContent = model ? `2 … ${max} (the model's context)` : fromExample ? 'set by the example' : `2 … ${max}`;
    const fixed = fixedShape(state.input);
    for (const field of ['dModel', 'heads', 'dHead', 'weights', 'seed'] as const) this.byField.get(field)?.disable(fixed);
    this.byField.get('text')?.show(state.input === 'sentence');
    this.sentencePreset?.show(state.input === 'sentence');
  }
}
