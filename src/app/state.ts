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
import type { StageView } from '../scene/layout';

export type { InputKind, WeightChoice } from '../inputs/build';
export type { StageView } from '../scene/layout';

/** The lessons: '' is the explorer (no lesson open). */
export type LessonId = '' | 'cat-sat' | 'two-d' | 'sentence' | 'experiments' | 'quiz';

/** The example's settings (src/inputs/build.ts) and what the view shows of it. */
export interface AppState extends ExampleSettings {
  /** Head shown alone, or -1 for all heads side by side. */
  head: number;
  stage: StageView;
  /** The open lesson ('' for none) and its step (1-based). */
  lesson: LessonId;
  step: number;
}

export const INPUT_KINDS: readonly InputKind[] = ['cat-sat', 'two-d', 'sentence', 'random', 'sinusoidal'];
export const WEIGHT_CHOICES: readonly WeightChoice[] = ['random', 'identity', 'lesson'];
export const STAGE_VIEWS: readonly StageView[] = ['raw', 'scaled', 'masked', 'weights'];
export const LESSON_IDS: readonly LessonId[] = ['', 'cat-sat', 'two-d', 'sentence', 'experiments', 'quiz'];
/** Steps per lesson (the step in the URL must be within 1 … this). */
export const LESSON_STEPS: Record<Exclude<LessonId, ''>, number> = { 'cat-sat': 7, 'two-d': 7, sentence: 1, experiments: 5, quiz: 3 };

export const DEFAULT_STATE: AppState = {
  input: 'sentence',
  text: 'The cat sat on the mat',
  seqLen: 64,
  dModel: 32,
  heads: 2,
  dHead: 16,
  causal: false,
  seed: 1,
  weights: 'random',
  head: 0,
  stage: 'weights',
  lesson: '',
  step: 1,
};

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

/** Read the state from a query string; bad values are reported and replaced by defaults. */
export function parseState(search: string, defaults: AppState = DEFAULT_STATE): { state: AppState; problems: StateProblem[] } {
  const params = new URLSearchParams(search);
  const state: AppState = { ...defaults };
  const problems: StateProblem[] = [];
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
  if (state.head >= state.heads) {
    problems.push({ field: 'head', given: String(state.head), allowed: `all, or an integer from 0 to ${state.heads - 1} (heads = ${state.heads})` });
    state.head = 0;
  }
  return { state, problems };
}

/** Write the state as a query string, leaving out values equal to the defaults. */
export function serializeState(state: AppState, defaults: AppState = DEFAULT_STATE): string {
  const params = new URLSearchParams();
  for (const key of Object.keys(defaults) as Array<keyof AppState>) {
    if (state[key] === defaults[key]) continue;
    const value = state[key];
    if (key === 'causal') params.set(key, value ? '1' : '0');
    else if (key === 'head' && value === -1) params.set(key, 'all');
    else params.set(key, String(value));
  }
  return params.toString();
}

/** One line per problem, for the message area. */
export function describeProblem(problem: StateProblem): string {
  return `URL value ${problem.field}=${JSON.stringify(problem.given)} is not allowed (${problem.allowed}); using the default.`;
}
