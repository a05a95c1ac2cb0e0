/**
 * When the surface renders: only on demand (no render loop: a software adapter spends a second
 * on a large frame), serialised, and coalesced while one render waits to start; stage morphs as
 * a few frames rendered one after another; rebuilds serialised, a queued one reading the newest
 * settings; and `whenIdle` for everything pending. No three.js here: the caller gives the frame.
 */

/** Frames of a stage morph: enough to read as motion, few enough for SwiftShader. */
export const MORPH_FRAMES = 6;

/** What the scheduler drives. */
export interface FrameHooks {
  /** Draw one frame now (synchronously encode and submit it). */
  draw(): void;
  /** Resolve once the GPU has finished the frames submitted so far. */
  finish(): Promise<void>;
  /** Called after each render. */
  rendered(): void;
  /** True once the view is destroyed: nothing more is drawn. */
  destroyed(): boolean;
}

/** Create with {@link createScheduler}. */
export interface Scheduler {
  /** Render once (coalesced with a render still waiting to start); resolves with the frame time in ms once the GPU is done. */
  render(): Promise<number>;
  /** Run `task` after the renders queued so far, with no render in between (e.g. render and encode the canvas). */
  exclusive<T>(task: () => Promise<T>): Promise<T>;
  /** Run `rebuild` after the current one; calls while one is queued share it. */
  rebuild(rebuild: () => Promise<void>): Promise<void>;
  /**
   * Morph a value from `from` to `to` over {@link MORPH_FRAMES} eased frames: `apply(value)`, then a
   * render, per frame. A later morph (or `cancelMorph`) stops an earlier one.
   */
  morph(from: readonly number[], to: readonly number[], apply: (value: number[]) => boolean): void;
  cancelMorph(): void;
  /** Resolves when every pending rebuild, morph and render is done. */
  idle(): Promise<void>;
}

export function createScheduler(hooks: FrameHooks): Scheduler {
  let chain: Promise<unknown> = Promise.resolve();
  let waiting: Promise<number> | null = null;
  let work: Promise<void> = Promise.resolve();
  let queued: Promise<void> | null = null;
  let morphToken = 0;
  let animation: Promise<void> = Promise.resolve();

  function render(): Promise<number> {
    if (waiting) return waiting;
    const next = chain.then(async () => {
      waiting = null;
      if (hooks.destroyed()) return 0;
      const t0 = performance.now();
      hooks.draw();
      await hooks.finish();
      const ms = performance.now() - t0;
      hooks.rendered();
      return ms;
    });
    waiting = next;
    chain = next.catch(() => undefined);
    return next;
  }

  return {
    render,
    exclusive(task) {
      const next = chain.then(task);
      chain = next.catch(() => undefined);
      return next;
    },
    rebuild(rebuild) {
      if (queued) return queued;
      const next = work.then(async () => {
        queued = null;
        await rebuild();
      });
      queued = next;
      work = next.catch(() => undefined);
      return next;
    },
    morph(from, to, apply) {
      const token = ++morphToken;
      animation = (async () => {
        for (let frame = 1; frame <= MORPH_FRAMES; frame++) {
          if (token !== morphToken || hooks.destroyed()) return;
          const s = frame / MORPH_FRAMES;
          const eased = s * s * (3 - 2 * s);
          // apply returns false while there is nothing to draw yet.
          if (apply(from.map((a, p) => a + (to[p] - a) * eased))) await render();
        }
      })();
    },
    cancelMorph() {
      morphToken++;
    },
    async idle() {
      await work;
      await animation;
      await chain;
    },
  };
}
