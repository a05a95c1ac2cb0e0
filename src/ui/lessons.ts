/**
 * Lesson routing in the page: the lesson card for the open lesson (walkthrough steps with GPU
 * beside CPU numbers, the sentence's row, the experiments and the quiz), the surface stage a
 * step shows, and navigation between lessons and steps. What each lesson computes comes from
 * src/app/lessons.ts and src/lessons/.
 */
import { AttentionError } from '../core/errors';
import type { AttentionResult } from '../core/types';
import type { GpuAttention } from '../kernels/attention';
import { walkthrough, type WalkInputs } from '../lessons/walkthrough';
import { LESSON_STEPS, type AppState, type LessonId, type StageView } from '../app/state';
import { SENTENCE_QUERY, lessonHighlight, startingInputs } from '../app/lessons';
import type { ComputedView } from '../app/view';
import type { SurfaceView } from '../scene';
import { LessonView } from './lesson-view';
import { experimentContent, quizContent, type ExtrasContext } from './lesson-extras';

export interface LessonDeps {
  surface: () => SurfaceView;
  view: () => ComputedView | null;
  /** The kept state; lessons change it through `apply` (recompute) or `setState` (same view). */
  state: () => AppState;
  setState: (state: AppState) => void;
  apply: (state: AppState) => Promise<void>;
  /** Show a stage on the toolbar without changing the state (a walkthrough step picks it). */
  showStage: (stage: StageView) => void;
  /** A device for the experiments' own runs, or null without WebGPU. */
  device: () => GPUDevice | null;
  /** The lessons' own runner on `device` (one per device: the app asks the device's registry). */
  createAttention: (device: GPUDevice) => Promise<GpuAttention>;
  invalid: (field: string, given: string) => void;
  /** The panel, hidden while a lesson is open. */
  panel: HTMLElement;
  lessonsButton: HTMLElement;
}

export interface LessonController {
  readonly root: HTMLElement;
  /** The walkthrough's current inputs (edited in the card). */
  inputs(): WalkInputs;
  /** Show the lesson of the current view (after every apply). */
  render(): void;
  navigate(lesson: LessonId, step: number): Promise<void>;
}

export function createLessons(deps: LessonDeps): LessonController {
  let inputs: WalkInputs = startingInputs(deps.state().lesson === 'two-d' ? 'two-d' : 'cat-sat')!;
  const view = new LessonView({
    navigate: (lesson, step) => void navigate(lesson, step),
    editInputs: (next) => {
      inputs = next;
      void deps.apply(deps.state());
    },
    invalid: deps.invalid,
  });
  view.root.hidden = true;

  // The experiments run on their own GpuAttention, so the explorer's buffers (which the surface
  // and hover read) are never overwritten by a lesson's small runs.
  const extras: ExtrasContext = {
    runGpu: deps.device()
      ? async (shape, runInputs) => {
          const device = deps.device();
          if (!device) throw new AttentionError('WebGPU is not available any more: reload the page, or continue the lesson on the CPU path.');
          const attention = await deps.createAttention(device);
          const { timings: _timings, ...result } = await attention.run(shape, runInputs);
          return result;
        }
      : null,
    explore: (patch) => void deps.apply({ ...deps.state(), ...patch, lesson: '', step: 1 }),
  };

  function render(): void {
    const current = deps.view();
    const state = deps.state();
    const lesson = current ? state.lesson : '';
    view.root.hidden = lesson === '';
    deps.panel.hidden = lesson !== '';
    deps.lessonsButton.hidden = lesson !== '';
    if (!current || lesson === '') return;
    const surface = deps.surface();
    if (lesson === 'cat-sat' || lesson === 'two-d') {
      const gpu = current.arrays.scores ? (current.arrays as AttentionResult) : undefined;
      const steps = walkthrough(inputs, gpu);
      const step = steps[Math.min(state.step, steps.length) - 1];
      view.showWalk(lesson, step.step, steps, inputs, gpu !== undefined);
      surface.setStage(step.stage);
      deps.showStage(step.stage);
    } else if (lesson === 'sentence') {
      const w = current.arrays.weights;
      const kvLen = current.shape.kvLen;
      const row = w ? Array.from(w.subarray(SENTENCE_QUERY * kvLen, (SENTENCE_QUERY + 1) * kvLen)) : null;
      view.showSentence(current.example.tokens, SENTENCE_QUERY, row);
    } else {
      const content = lesson === 'experiments' ? experimentContent(state.step, extras) : quizContent(state.step, extras);
      view.showContent(lesson, state.step, LESSON_STEPS[lesson], content);
    }
    surface.highlightRow(lessonHighlight(lesson));
    void surface.render();
  }

  async function navigate(lesson: LessonId, step: number): Promise<void> {
    const state = deps.state();
    const next: AppState = { ...state, lesson, step: lesson ? Math.max(1, Math.min(step, LESSON_STEPS[lesson])) : 1 };
    if (lesson !== state.lesson) {
      inputs = startingInputs(lesson) ?? inputs;
      await deps.apply({ ...next, head: 0 });
      return;
    }
    deps.setState(next);
    render();
  }

  return {
    root: view.root,
    inputs: () => inputs,
    render,
    navigate,
  };
}
