/**
 * Keeping long scene work off one main-thread task: a pacer measures how long the current task
 * has run and, past a budget, yields to the browser (input, rendering, other tasks) before the
 * work goes on. A rebuild of the model view (geometry for every head, label textures, heights)
 * took ~105 ms as one task on a 2-core machine; the app's budget for one task is 100 ms.
 */

/** How long one slice of scene work may run before it yields (ms). */
export const PACE_BUDGET_MS = 24;

interface TaskScheduler {
  yield?: () => Promise<void>;
}

/** Give the event loop a turn: `scheduler.yield()` where the browser has it (its continuation runs before other queued tasks), else a macrotask. */
export function yieldTask(): Promise<void> {
  const scheduler = (globalThis as { scheduler?: TaskScheduler }).scheduler;
  if (typeof scheduler?.yield === 'function') return scheduler.yield();
  return new Promise((resolve) => setTimeout(resolve, 0));
}

export interface Pacer {
  /** Yield when the slice has run past the budget; resolves at once otherwise. */
  tick(): Promise<void>;
  /** Yield now and start a new slice. */
  yieldNow(): Promise<void>;
}

export function createPacer(budgetMs = PACE_BUDGET_MS, clock: () => number = () => performance.now()): Pacer {
  let start = clock();
  const yieldNow = async () => {
    await yieldTask();
    start = clock();
  };
  return {
    tick: () => (clock() - start >= budgetMs ? yieldNow() : Promise.resolve()),
    yieldNow,
  };
}
