/**
 * The scaffolding every GPU runner shares (attention, the fused path, the model): a watch on
 * device loss, a serial queue (a runner's runs share its buffers), the destroyed/alive and
 * abort checks, and per-run buffer ownership.
 *
 * A run writes into a {@link BufferSet}: named storage slots that grow on demand, with bind
 * groups cached until one of the set's buffers is replaced (its `generation`). A consumer that
 * shows a run may HOLD it (`run(…, { hold: true })`): until it calls `release()`, no later run
 * writes into that set — a later run takes another set from the runner's pool (allocated on
 * demand), so a cancelled or superseded run never touches the buffers on screen. A released
 * set goes back to the pool; the pool keeps at most one spare. Without holds a runner has one
 * set and behaves as before: each run overwrites the last.
 */
import { AttentionAbortError, AttentionError } from '../core/errors';
import { createSerialQueue } from '../core/serial';
import { GrowableBuffer } from './buffers';
import { watchLoss, type LossWatch } from './guard';
import type { Kernel } from './pipeline';

/** Storage slots of one run, their bind groups, and whether a buffer was replaced. */
export class BufferSet<K extends string = string> {
  private readonly slots = new Map<K, GrowableBuffer>();
  private readonly groups = new Map<string, { kernel: Kernel; generation: number; group: GPUBindGroup }>();
  private generationCount = 0;

  constructor(
    private readonly device: GPUDevice,
    private readonly prefix: string,
    /** Numbers the sets of one runner, for labels (`attention/1/scores`). */
    readonly index: number,
  ) {}

  /**
   * Increases whenever one of this set's buffers is replaced (grown, or freed after an
   * out-of-memory error): bind groups built on the old ones are stale.
   */
  get generation(): number {
    return this.generationCount;
  }

  /** The buffer of `slot`, at least `bytes` long (contents not kept when it grows). */
  ensure(slot: K, bytes: number): GPUBuffer {
    let growable = this.slots.get(slot);
    if (!growable) {
      const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
      const label = this.index === 0 ? `${this.prefix}/${slot}` : `${this.prefix}/${slot} (set ${this.index + 1})`;
      growable = new GrowableBuffer(this.device, label, usage);
      this.slots.set(slot, growable);
    }
    const before = growable.current;
    const buffer = growable.ensure(bytes);
    if (buffer !== before) this.generationCount++;
    return buffer;
  }

  /** Every slot at its size, as one record (see {@link ensure}). */
  ensureAll<S extends K>(bytes: Record<S, number>): Record<S, GPUBuffer> {
    return Object.fromEntries(Object.entries<number>(bytes).map(([slot, size]) => [slot, this.ensure(slot as S, size)])) as Record<S, GPUBuffer>;
  }

  /**
   * The bind group of `kernel` over `buffers`, cached under `key`: rebuilt only when the set's
   * buffers were replaced or the kernel differs. Buffers outside the set (parameters,
   * uniforms) must be the runner's own and fixed for its lifetime.
   */
  bind(key: string, kernel: Kernel, buffers: ReadonlyArray<GPUBuffer | GPUBufferBinding>): GPUBindGroup {
    const cached = this.groups.get(key);
    if (cached && cached.kernel === kernel && cached.generation === this.generationCount) return cached.group;
    const group = kernel.bind(buffers, key);
    this.groups.set(key, { kernel, generation: this.generationCount, group });
    return group;
  }

  /** Free every buffer (the slots stay and are allocated again on the next `ensure`). */
  free(): void {
    for (const slot of this.slots.values()) {
      if (slot.current) this.generationCount++;
      slot.destroy();
    }
    this.groups.clear();
  }
}

/** A completed run whose buffers no later run may write until {@link release} is called. */
export interface HeldRun<B> {
  /** The run's buffers (valid until `release()` or the runner's destroy). */
  readonly buffers: B;
  /** True once released (or the runner destroyed). */
  readonly released: boolean;
  /** Give the buffers back to the runner's pool. Idempotent. */
  release(): void;
}

/** What a run resolves to besides its arrays: `held` when it was asked for (`hold: true`). */
export type HoldResult<H extends boolean, B> = H extends true ? { held: HeldRun<B> } : { held?: undefined };

/** The shared part of a GPU runner. Create with {@link createRunner}. */
export interface Runner<K extends string, B> {
  readonly device: GPUDevice;
  readonly loss: LossWatch;
  /** Queue a task after every earlier one (runs and reads share the buffers). */
  enqueue<T>(task: () => Promise<T>): Promise<T>;
  /** Throw GpuDeviceLostError if the device is lost, else AttentionError if destroyed. */
  checkAlive(): void;
  /** Throw AttentionAbortError if `signal` is aborted. */
  checkAbort(signal: AbortSignal | undefined): void;
  /**
   * The set a new run writes into: the last run's if no one holds it, else a spare, else a new
   * one. From here the last run is gone if it lived in that set.
   */
  beginRun(): BufferSet<K>;
  /** Record a completed run in `set`; with `hold`, also hold it for the caller. */
  finishRun<H extends boolean>(set: BufferSet<K>, buffers: B, hold: H | undefined): HoldResult<H, B>;
  /** The last completed run's buffers (null before the first, or while a run writes over them). */
  last(): B | null;
  /**
   * The buffers a read works on: `from` if it is the last run's or a live hold's, else the last
   * run's. Throws AttentionError saying what to do when there is none.
   */
  readable(what: string, from?: B): { set: BufferSet<K>; buffers: B };
  /** Free the buffers of every set no one holds (after an out-of-memory error). */
  freeUnheld(): void;
  /** How many buffer sets exist now (held, last and spare). */
  readonly sets: number;
  /**
   * Advice for an out-of-memory error while runs are held (their buffers stay allocated beside
   * the new run's), else undefined (the error's default advice).
   */
  holdAdvice(): string | undefined;
  /** Free every set and call `cleanup` (the runner's own objects). Idempotent. */
  destroy(): void;
}

/**
 * Create the shared part of a runner: `prefix` labels its buffers (`'attention'`), `kind` and
 * `runName` name it in errors (`'FlashAttention'`, `'fused run'`); `cleanup` frees what the
 * runner made itself (uniforms, parameters) on destroy.
 */
export function createRunner<K extends string, B>(
  device: GPUDevice,
  options: { prefix: string; kind: string; runName?: string; cleanup?: () => void },
): Runner<K, B> {
  const loss = watchLoss(device);
  const enqueue = createSerialQueue();
  const sets: Array<BufferSet<K>> = [];
  const held = new Map<BufferSet<K>, HeldRun<B>>();
  let lastRun: { set: BufferSet<K>; buffers: B } | null = null;
  let destroyed = false;
  let nextIndex = 0;

  const checkAlive = () => {
    // A loss first: whoever destroys the runner of a lost device wants callers to learn that
    // the device went, not that the runner was destroyed.
    loss.check();
    if (destroyed) throw new AttentionError(`This ${options.kind} was destroyed; create a new one (or ask the device registry for the current one).`);
  };
  const spare = () => sets.find((set) => !held.has(set) && set !== lastRun?.set);
  const retire = (set: BufferSet<K>) => {
    // Keep at most one spare: a second one is freed.
    const spares = sets.filter((s) => !held.has(s) && s !== lastRun?.set);
    if (spares.length > 1) {
      set.free();
      sets.splice(sets.indexOf(set), 1);
    }
  };

  return {
    device,
    loss,
    enqueue,
    checkAlive,
    checkAbort(signal) {
      if (signal?.aborted) throw new AttentionAbortError();
    },
    beginRun() {
      checkAlive();
      if (lastRun && !held.has(lastRun.set)) {
        const set = lastRun.set;
        lastRun = null;
        return set;
      }
      const reuse = spare();
      if (reuse) return reuse;
      const set = new BufferSet<K>(device, options.prefix, nextIndex++);
      sets.push(set);
      return set;
    },
    finishRun<H extends boolean>(set: BufferSet<K>, buffers: B, hold: H | undefined): HoldResult<H, B> {
      const previous = lastRun?.set;
      lastRun = { set, buffers };
      if (previous && previous !== set && !held.has(previous)) retire(previous);
      if (!hold) return {} as HoldResult<H, B>;
      let released = false;
      const handle: HeldRun<B> = {
        buffers,
        get released() {
          return released || destroyed;
        },
        release() {
          if (released) return;
          released = true;
          if (held.get(set) !== handle) return;
          held.delete(set);
          if (!destroyed && set !== lastRun?.set) retire(set);
        },
      };
      held.set(set, handle);
      return { held: handle } as HoldResult<H, B>;
    },
    last: () => lastRun?.buffers ?? null,
    readable(what, from) {
      checkAlive();
      if (from === undefined || from === lastRun?.buffers) {
        if (!lastRun) throw new AttentionError(`No ${options.runName ?? 'run'} has completed yet (or a newer run is writing over the last one): there are no ${what} to read. Run first, or hold the run you want to read.`);
        return lastRun;
      }
      for (const [set, handle] of held) if (handle.buffers === from) return { set, buffers: from };
      throw new AttentionError(`The buffers given to read ${what} from were released or overwritten by a newer run; read them before release(), or run again.`);
    },
    freeUnheld() {
      for (const set of sets) if (!held.has(set)) set.free();
      if (lastRun && !held.has(lastRun.set)) lastRun = null;
    },
    get sets() {
      return sets.length;
    },
    holdAdvice() {
      if (held.size === 0) return undefined;
      return `${held.size} held run${held.size > 1 ? 's keep their' : ' keeps its'} buffers allocated beside this one: release ${held.size > 1 ? 'them' : 'it'} (held.release()) and run again, or use a smaller seqLen, kvLen or heads.`;
    },
    destroy() {
      if (destroyed) return;
      destroyed = true;
      for (const set of sets) set.free();
      sets.length = 0;
      held.clear();
      lastRun = null;
      options.cleanup?.();
    },
  };
}
