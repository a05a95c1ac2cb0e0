/**
 * Lesson routing without the DOM: which example a state runs (a lesson's own inputs, an
 * import, or the explorer's settings), which row a lesson points at, and the inputs a lesson
 * starts from.
 */
import type { Example } from '../inputs/examples';
import { buildExample } from '../inputs/build';
import { corpusContinuation } from './continuation';
import { CAT_SAT_INPUTS, TWO_D_INPUTS, walkAttentionInputs, type WalkInputs } from '../lessons/walkthrough';
import type { AppState, LessonId } from './state';

/** The sentence lesson's text and the query it follows ("sat"). */
export const LESSON_SENTENCE = 'The cat sat on the mat';
export const SENTENCE_QUERY = 2;

/** A row to highlight: queries [query, queryEnd) of `head`, as the scene's CellInfo. */
export interface LessonRow {
  head: number;
  query: number;
  key: number;
  queryEnd: number;
  keyEnd: number;
}

/** The example a state runs: an import (explorer only), a lesson's own inputs, or the settings. */
export function exampleFor(state: AppState, context: { imported: Example | null; lessonInputs: WalkInputs }): Example {
  if (context.imported && state.lesson === '') return context.imported;
  if (state.lesson === 'cat-sat' || state.lesson === 'two-d') {
    const { shape, inputs } = walkAttentionInputs(context.lessonInputs);
    return { shape, inputs, tokens: [...context.lessonInputs.tokens] };
  }
  if (state.lesson === 'sentence') return buildExample({ ...state, input: 'sentence', text: LESSON_SENTENCE, causal: false });
  // The explorer's sentence scales with seqLen, continued with the corpus generator's text.
  return buildExample(state, corpusContinuation);
}

/** The row a lesson points at: "sat" (query 1 of the worked example, 2 of the sentence). */
export function lessonHighlight(lesson: LessonId): LessonRow | null {
  if (lesson === 'cat-sat' || lesson === 'two-d') return { head: 0, query: 1, key: 0, queryEnd: 2, keyEnd: 1 };
  if (lesson === 'sentence') return { head: 0, query: SENTENCE_QUERY, key: 0, queryEnd: SENTENCE_QUERY + 1, keyEnd: 1 };
  return null;
}

/** The inputs a walkthrough lesson starts from (a fresh copy), or null for other lessons. */
export function startingInputs(lesson: LessonId): WalkInputs | null {
  if (lesson === 'cat-sat') return structuredClone(CAT_SAT_INPUTS);
  if (lesson === 'two-d') return structuredClone(TWO_D_INPUTS);
  return null;
}
