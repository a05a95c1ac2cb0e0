/**
 * The app's one state object, and its round trip through the URL so a view can be shared.
 * Pure TypeScript (tested in Node): parsing returns the state plus a message per bad value,
 * and every bad value falls back to its default.
 *
 * The input fields (input, text, sizes, seed, weights) are what src/inputs/build.ts turns into
 * an example; their types live there, so src/inputs never imports the app state. StageView is
 * the scene's (src/scene/layout.ts), imported as a type only.
 */
import type { ExampleSettings, InputKind, WeightChoice } from '../inputs/build';
import { tokenize } from '../inputs/examples';
import type { StageView } from '../scene/layout';

export type { InputKind, WeightChoice } from '../inputs/build';
export type { StageView } from '../scene/layout';

/** What the page shows: the trained model (the landing view) or the explorer's synthetic inputs. */
export type AppMode = 'model' | 'explorer';

/** The lessons: '' is the explorer (no lesson open). */
export type LessonId = '' | 'cat-sat' | 'two-d' | 'sentence' | 'experiments' | 'quiz';

/** The example's settings (src/inputs/build.ts) and what the view shows of it. */
export interface AppState extends ExampleSettings {
  /** The trained model or the explorer. */
  mode: AppMode;
  /**
   * Head shown alone, or -1 for all heads side by side (in model mode: every layer × head in a
   * grid, the model view).
   */
  head: number;
  /** Model mode: the layer whose head is shown alone (0 … layers − 1). */
  layer: number;
  stage: StageView;
  /** The open lesson ('' for none) and its step (1-based). */
  lesson: LessonId;
  step: number;
  /**
   * Model mode: which model — '' for the small model that ships with the app, else a Hugging
   * Face hub id (`gpt2`, `openai-community/gpt2`) or a base URL ending in `/` holding the files.
   */
  model: string;
  /** Model mode: the hub endpoint hub ids are fetched from ('' for https://huggingface.co; mirrors use the same layout). */
  hub: string;
  /** The Q/K panel beside the surface: 'auto' opens it on wide screens; `qk=1` / `qk=0` in the URL. */
  qk: QkPanelState;
}

/** Whether the Q/K panel is open: by the screen's width, or as the user (or URL) said. */
export type QkPanelState = 'auto' | 'on' | 'off';

export const INPUT_KINDS: readonly InputKind[] = ['cat-sat', 'two-d', 'sentence', 'random', 'sinusoidal'];
export const WEIGHT_CHOICES: readonly WeightChoice[] = ['random', 'identity', 'lesson'];
export const STAGE_VIEWS: readonly StageView[] = ['raw', 'scaled', 'masked', 'weights'];
export const LESSON_IDS: readonly LessonId[] = ['', 'cat-sat', 'two-d', 'sentence', 'experiments', 'quiz'];
/** Steps per lesson (the step in the URL must be within 1 … this). */
export const LESSON_STEPS: Record<Exclude<LessonId, ''>, number> = { 'cat-sat': 7, 'two-d': 7, sentence: 1, experiments: 5, quiz: 3 };

/** The explorer's default sequence length for synthetic inputs (random, positions). */
export const SYNTHETIC_SEQ_LEN = 64;

/**
 * The sequence length an explorer input has until the user sets one: a sentence's own number of
 * tokens (at least 2; the URL then needs no seqLen and old sentence URLs open as they did), else
 * {@link SYNTHETIC_SEQ_LEN}. A set length stays when the input or the sentence changes.
 */
export function defaultSeqLen(input: InputKind, text: string): number {
  if (input !== 'sentence') return SYNTHETIC_SEQ_LEN;
  return Math.min(LIMITS.seqLen, Math.max(2, tokenize(text).length));
}

/** The explorer's defaults (also what explorer URLs are read against). */
export const DEFAULT_STATE: AppState = {
  mode: 'explorer',
  input: 'sentence',
  text: 'The cat sat on the mat',
  seqLen: 6, // defaultSeqLen('sentence', text): the sentence's own tokens
  dModel: 32,
  heads: 2,
  dHead: 16,
  causal: false,
  seed: 1,
  weights: 'random',
  head: 0,
  layer: 0,
  stage: 'weights',
  lesson: '',
  step: 1,
  model: '',
  hub: '',
  qk: 'auto',
};

/**
 * The landing view's defaults: the trained model on the lessons' sentence extended to 32
 * tokens (few enough for every token label to be legible), every layer × head in a grid.
 */
/**
 * Model mode's landing text repeats a phrase, so the trained model's induction head shows at first
 * sight: in the second "the cat sat on the mat" each word attends to the word that followed it the
 * first time.
 */
export const MODEL_TEXT = 'The cat sat on the mat. The dog saw a bird. The cat sat on the mat.';
export const DEFAULT_MODEL_STATE: AppState = { ...DEFAULT_STATE, mode: 'model', seqLen: 32, head: -1, text: MODEL_TEXT };

/** Query parameters that only mean something in the explorer: any of them opens the explorer. */
export const EXPLORER_ONLY_PARAMS = ['input', 'dModel', 'heads', 'dHead', 'causal', 'weights', 'lesson', 'step'] as const;
/** Query parameters that only mean something in model mode: any of them (and no mode=) opens the model. */
export const MODEL_ONLY_PARAMS = ['layer', 'model', 'hub'] as const;

/** The defaults of a mode. */
export function defaultsFor(mode: AppMode): AppState {
  return mode === 'model' ? DEFAULT_MODEL_STATE : DEFAULT_STATE;
}

/**
 * The mode a query string asks for: `mode=model|explorer` when given (and valid); else the
 * explorer when any explorer-only parameter is present (so every URL written before model mode
 * existed still opens the explorer it described); else the model, the landing view.
 */
export function modeOf(params: URLSearchParams): AppMode {
  const mode = params.get('mode');
  if (mode === 'model' || mode === 'explorer') return mode;
  return EXPLORER_ONLY_PARAMS.some((name) => params.has(name)) ? 'explorer' : 'model';
}

/** Upper bounds the panel and URL accept (the device may allow less; the run then says so). */
export const LIMITS = { seqLen: 65536, dModel: 1024, heads: 64, dHead: 512, seed: 2 ** 31 - 1 } as const;

/** One URL value that could not be used. */
export interface StateProblem {
  field: keyof AppState;
  given: string;
  allowed: string;
}

const INTEGER_FIELDS = {
  seqLen: [2, LIMITS.seqLen],
  dModel: [1, LIMITS.dModel],
  heads: [1, LIMITS.heads],
  dHead: [1, LIMITS.dHead],
  seed: [0, LIMITS.seed],
} as const;

/**
 * Read the state from a query string; bad values are reported and replaced by defaults. The mode
 * comes first ({@link modeOf}); the other fields default to that mode's defaults unless
 * `defaults` is given.
 */
export function parseState(search: string, defaultsGiven?: AppState): { state: AppState; problems: StateProblem[] } {
  const params = new URLSearchParams(search);
  const problems: StateProblem[] = [];
  const modeParam = params.get('mode');
  if (modeParam !== null && modeParam !== 'model' && modeParam !== 'explorer') {
    problems.push({ field: 'mode', given: modeParam, allowed: 'model or explorer' });
  }
  const mode = modeOf(params);
  const defaults = defaultsGiven ?? defaultsFor(mode);
  const state: AppState = { ...defaults, mode };
  for (const [field, [min, max]] of Object.entries(INTEGER_FIELDS) as Array<[keyof typeof INTEGER_FIELDS, readonly [number, number]]>) {
    const raw = params.get(field);
    if (raw === null) continue;
    const value = Number(raw);
    if (raw.trim() === '' || !Number.isInteger(value) || value < min || value > max) {
      problems.push({ field, given: raw, allowed: `an integer from ${min} to ${max}` });
    } else {
      state[field] = value;
    }
  }
  const oneOf = <T extends string>(field: keyof AppState, options: readonly T[], assign: (v: T) => void) => {
    const raw = params.get(field);
    if (raw === null) return;
    if ((options as readonly string[]).includes(raw)) assign(raw as T);
    else problems.push({ field, given: raw, allowed: `one of ${options.join(', ')}` });
  };
  oneOf('input', INPUT_KINDS, (v) => (state.input = v));
  oneOf('weights', WEIGHT_CHOICES, (v) => (state.weights = v));
  oneOf('stage', STAGE_VIEWS, (v) => (state.stage = v));
  const causal = params.get('causal');
  if (causal !== null) {
    if (causal === '1' || causal === 'true') state.causal = true;
    else if (causal === '0' || causal === 'false') state.causal = false;
    else problems.push({ field: 'causal', given: causal, allowed: '0, 1, true or false' });
  }
  const head = params.get('head');
  if (head !== null) {
    const value = head === 'all' ? -1 : Number(head);
    if (head.trim() === '' || !Number.isInteger(value) || value < -1 || value >= LIMITS.heads) {
      problems.push({ field: 'head', given: head, allowed: `all, or an integer from 0 to heads − 1` });
    } else {
      state.head = value;
    }
  }
  const layer = params.get('layer');
  if (layer !== null) {
    const value = Number(layer);
    // The model's own number of layers is checked once it is loaded (the app says so then).
    if (layer.trim() === '' || !Number.isInteger(value) || value < 0 || value >= 64) {
      problems.push({ field: 'layer', given: layer, allowed: 'an integer from 0 to layers − 1' });
    } else {
      state.layer = value;
    }
  }
  oneOf('lesson', LESSON_IDS.filter((id) => id !== ''), (v) => (state.lesson = v));
  const step = params.get('step');
  if (step !== null) {
    const max = state.lesson ? LESSON_STEPS[state.lesson] : 7;
    const value = Number(step);
    if (step.trim() === '' || !Number.isInteger(value) || value < 1 || value > max) {
      problems.push({ field: 'step', given: step, allowed: `an integer from 1 to ${max}${state.lesson ? ` (lesson ${state.lesson})` : ''}` });
    } else {
      state.step = value;
    }
  }
  const text = params.get('text');
  if (text !== null) {
    if (text.length > 20000) problems.push({ field: 'text', given: `${text.length} characters`, allowed: 'at most 20000 characters' });
    else state.text = text;
  }
  const model = params.get('model');
  if (model !== null) {
    const problem = modelIdProblem(model);
    if (problem) problems.push({ field: 'model', given: model, allowed: problem });
    else state.model = model;
  }
  const qk = params.get('qk');
  if (qk !== null) {
    if (qk === '1' || qk === 'true') state.qk = 'on';
    else if (qk === '0' || qk === 'false') state.qk = 'off';
    else problems.push({ field: 'qk', given: qk, allowed: '1 (show the Q/K panel) or 0 (hide it)' });
  }
  const hub = params.get('hub');
  if (hub !== null) {
    const problem = hubProblem(hub);
    if (problem) problems.push({ field: 'hub', given: hub, allowed: problem });
    else state.hub = hub;
  }
  // An explorer URL without a (good) seqLen: the input's own default (a sentence's length).
  const seqLenGiven = params.has('seqLen') && !problems.some((problem) => problem.field === 'seqLen');
  if (state.mode === 'explorer' && !defaultsGiven && !seqLenGiven) {
    state.seqLen = defaultSeqLen(state.input, state.text);
  }
  // In model mode the heads are the model's, known once it is loaded (the app checks them then).
  if (state.mode === 'explorer' && state.head >= state.heads) {
    problems.push({ field: 'head', given: String(state.head), allowed: `all, or an integer from 0 to ${state.heads - 1} (heads = ${state.heads})` });
    state.head = 0;
  }
  return { state, problems };
}

/**
 * Write the state as a query string, leaving out values equal to the defaults of its mode. The
 * explorer always writes `mode=explorer` (its URLs must not open the model, the landing view);
 * model mode writes no explorer-only field (they are not part of its view).
 */
export function serializeState(state: AppState, defaultsGiven?: AppState): string {
  const defaults = defaultsGiven ?? defaultsFor(state.mode);
  const params = new URLSearchParams();
  for (const key of Object.keys(defaults) as Array<keyof AppState>) {
    if (key === 'mode') {
      if (state.mode === 'explorer') params.set('mode', 'explorer');
      continue;
    }
    if (state.mode === 'model' && (EXPLORER_ONLY_PARAMS as readonly string[]).includes(key)) continue;
    if (state.mode === 'explorer' && (MODEL_ONLY_PARAMS as readonly string[]).includes(key)) continue;
    if (key === 'seqLen' && state.mode === 'explorer' && !defaultsGiven) {
      if (state.seqLen !== defaultSeqLen(state.input, state.text)) params.set(key, String(state.seqLen));
      continue;
    }
    if (state[key] === defaults[key]) continue;
    const value = state[key];
    if (key === 'causal') params.set(key, value ? '1' : '0');
    else if (key === 'qk') params.set(key, value === 'on' ? '1' : '0');
    else if (key === 'head' && value === -1) params.set(key, 'all');
    else params.set(key, String(value));
  }
  return params.toString();
}

/**
 * Why a `model=` value cannot name a model, or null when it can: '' (the shipped model), a hub
 * id (`name` or `owner/name` of letters, digits, `.`, `_`, `-`; no `..`), or an http(s) base
 * URL ending in `/`. The loader checks the files themselves.
 */
export function modelIdProblem(value: string): string | null {
  if (value === '') return null;
  if (value.startsWith('files:')) return 'a hub id or URL: files from your disk cannot be reopened from a link (pick them again with “Open files”)';
  if (/^https?:\/\//i.test(value)) {
    try {
      new URL(value);
    } catch {
      return 'a hub id (gpt2, owner/name) or an http(s) URL ending in /';
    }
    return value.endsWith('/') ? null : 'a base URL ending in / (the folder holding config.json and the weights)';
  }
  if (value.length > 96 || !/^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9][A-Za-z0-9._-]*)?$/.test(value) || value.includes('..')) {
    return 'a hub id: name or owner/name of letters, digits, . _ - (at most 96 characters), or an http(s) URL ending in /';
  }
  return null;
}

/** Why a `hub=` value cannot be a hub endpoint, or null: '' (the default) or an http(s) URL. */
export function hubProblem(value: string): string | null {
  if (value === '') return null;
  try {
    const url = new URL(value);
    if (url.protocol === 'http:' || url.protocol === 'https:') return null;
  } catch {
    // falls through to the message
  }
  return 'an http(s) URL such as https://huggingface.co or a mirror with the same layout';
}

/** One line per problem, for the message area. */
export function describeProblem(problem: StateProblem): string {
  return `URL value ${problem.field}=${JSON.stringify(problem.given)} is not allowed (${problem.allowed}); using the default.`;
}
