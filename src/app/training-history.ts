/**
 * The shipped model's training history, as `npm run train` writes it next to the checkpoint
 * (training-log.json): the loss curve, and every head's previous-token and induction scores
 * measured through training, with the step where a head first reached induction 0.5. The model
 * card draws it (src/ui/formation-chart.ts). Parsing is pure (tested in Node); loading fetches.
 */
import { AttentionError } from '../core/errors';

/** Where the app finds the shipped model's log (next to MODEL_PATH). */
export const TRAINING_LOG_PATH = 'models/tiny-stories/training-log.json';

/** The induction score a head must reach for the log's "crossed" mark. */
export const FORMATION_THRESHOLD = 0.5;

/** One measurement of every head, layer-major: heads[layer·H + head] = [previous-token, induction]. */
export interface HeadPoint {
  step: number;
  /** Training tokens seen by then. */
  tokens: number;
  heads: Array<[number, number]>;
}

/** The shipped model's training, as the card draws it. */
export interface TrainingHistory {
  layers: number;
  heads: number;
  points: HeadPoint[];
  /** Mean training loss per logged interval (nats), and the held-out loss where measured. */
  loss: Array<{ step: number; tokens: number; loss: number; heldOut?: number; seconds?: number }>;
  unigramLoss: number;
  heldOutLoss: number;
  /** Wall-clock seconds of the whole run. */
  seconds: number;
  /** The first measurement where a head reached FORMATION_THRESHOLD on induction, or null. */
  crossed: { step: number; tokens: number; layer: number; head: number } | null;
  /** The schedule's phases: where each starts (for the chart's shading). */
  phases: Array<{ name: string; fromStep: number }>;
}

/** A malformed training log: which field, what it held, what is allowed. */
export class TrainingLogError extends AttentionError {
  override name = 'TrainingLogError';
  constructor(file: string, field: string, given: string, allowed: string) {
    super(`${file}: ${field}: got ${given}; allowed: ${allowed}`);
  }
}

const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/**
 * Read a training-log.json's content. Throws {@link TrainingLogError} naming the field for
 * anything the card could not draw (missing config, a head point of the wrong size, a step
 * that goes back, a score outside [0, 1]).
 */
export function parseTrainingHistory(json: unknown, file = 'training-log.json'): TrainingHistory {
  const fail = (field: string, given: unknown, allowed: string): never => {
    const shown = typeof given === 'string' ? JSON.stringify(given.slice(0, 40)) : given === undefined ? 'nothing' : Array.isArray(given) ? `an array of ${given.length}` : typeof given === 'object' && given !== null ? 'an object' : String(given);
    throw new TrainingLogError(file, field, shown, allowed);
  };
  if (typeof json !== 'object' || json === null || Array.isArray(json)) fail('(file)', json, 'a JSON object as npm run train writes it');
  const o = json as Record<string, unknown>;
  const config = o.config as Record<string, unknown> | undefined;
  if (typeof config !== 'object' || config === null) fail('config', config, 'the model config { layers, heads, … }');
  const layers = config!.layers;
  const heads = config!.heads;
  if (!Number.isInteger(layers) || (layers as number) < 1) fail('config.layers', layers, 'an integer ≥ 1');
  if (!Number.isInteger(heads) || (heads as number) < 1) fail('config.heads', heads, 'an integer ≥ 1');
  const count = (layers as number) * (heads as number);

  if (!Array.isArray(o.heads) || o.heads.length < 1) fail('heads', o.heads, 'a non-empty array of head measurements (a log from npm run train)');
  const points: HeadPoint[] = [];
  (o.heads as unknown[]).forEach((p, i) => {
    const at = `heads[${i}]`;
    const point = p as Record<string, unknown>;
    if (typeof point !== 'object' || point === null) fail(at, p, '{ step, tokens, heads }');
    if (!Number.isInteger(point.step) || (point.step as number) < 0) fail(`${at}.step`, point.step, 'an integer ≥ 0');
    if (!isFiniteNumber(point.tokens) || point.tokens < 0) fail(`${at}.tokens`, point.tokens, 'a number of tokens ≥ 0');
    if (i > 0 && (point.step as number) <= points[i - 1].step) fail(`${at}.step`, point.step, `a step after ${points[i - 1].step}`);
    if (!Array.isArray(point.heads) || point.heads.length !== count) fail(`${at}.heads`, point.heads, `${count} pairs [previous-token, induction] (layers × heads)`);
    const pairs = (point.heads as unknown[]).map((pair, k): [number, number] => {
      if (!Array.isArray(pair) || pair.length !== 2 || !pair.every((v) => isFiniteNumber(v) && v >= 0 && v <= 1)) {
        return fail(`${at}.heads[${k}]`, pair, 'a pair of scores in [0, 1]');
      }
      return [pair[0] as number, pair[1] as number];
    });
    points.push({ step: point.step as number, tokens: point.tokens as number, heads: pairs });
  });

  if (!Array.isArray(o.log)) fail('log', o.log, 'an array of { step, tokens, loss }');
  const loss = (o.log as unknown[]).map((e, i) => {
    const entry = e as Record<string, unknown>;
    if (typeof entry !== 'object' || entry === null || !Number.isInteger(entry.step) || !isFiniteNumber(entry.tokens) || !isFiniteNumber(entry.loss)) {
      return fail(`log[${i}]`, e, '{ step, tokens, loss } with finite numbers');
    }
    return {
      step: entry.step as number,
      tokens: entry.tokens,
      loss: entry.loss,
      ...(isFiniteNumber(entry.heldOut) ? { heldOut: entry.heldOut } : {}),
      ...(isFiniteNumber(entry.seconds) ? { seconds: entry.seconds } : {}),
    };
  });
  for (const key of ['unigramLoss', 'heldOutLoss', 'seconds'] as const) if (!isFiniteNumber(o[key])) fail(key, o[key], 'a finite number');

  let crossed: TrainingHistory['crossed'] = null;
  if (o.inductionCrossed !== null && o.inductionCrossed !== undefined) {
    const c = o.inductionCrossed as Record<string, unknown>;
    const ok =
      typeof c === 'object' && Number.isInteger(c.step) && isFiniteNumber(c.tokens) && Number.isInteger(c.layer) && Number.isInteger(c.head) && (c.layer as number) < (layers as number) && (c.head as number) < (heads as number);
    if (!ok) fail('inductionCrossed', c, `null or { step, tokens, layer < ${layers as number}, head < ${heads as number} }`);
    crossed = { step: c.step as number, tokens: c.tokens as number, layer: c.layer as number, head: c.head as number };
  }
  const settings = o.settings as { phases?: Array<{ name?: unknown; fromStep?: unknown }> } | undefined;
  const phases = Array.isArray(settings?.phases)
    ? settings!.phases.filter((p) => typeof p?.name === 'string' && Number.isInteger(p.fromStep)).map((p) => ({ name: p.name as string, fromStep: p.fromStep as number }))
    : [];
  return {
    layers: layers as number,
    heads: heads as number,
    points,
    loss,
    unigramLoss: o.unigramLoss as number,
    heldOutLoss: o.heldOutLoss as number,
    seconds: o.seconds as number,
    crossed,
    phases,
  };
}

/** The heads to single out: the one that crossed (else the best final induction), and the best final previous-token head. */
export function formationHeads(log: TrainingHistory): { induction: number; previous: number } {
  const last = log.points[log.points.length - 1].heads;
  const argmax = (which: 0 | 1) => last.reduce((best, pair, k) => (pair[which] > last[best][which] ? k : best), 0);
  const induction = log.crossed ? log.crossed.layer * log.heads + log.crossed.head : argmax(1);
  return { induction, previous: argmax(0) };
}

/** Minutes into training at `step` (from the log entry at or just after it), or null where the log does not say. */
export function minutesAt(log: TrainingHistory, step: number): number | null {
  const entry = log.loss.find((e) => e.step >= step);
  return entry?.seconds === undefined ? null : entry.seconds / 60;
}

/** Fetch and parse the shipped model's training log. */
export async function loadTrainingHistory(url = TRAINING_LOG_PATH, signal?: AbortSignal): Promise<TrainingHistory> {
  const response = await fetch(url, { signal });
  if (!response.ok) throw new AttentionError(`${url}: HTTP ${response.status} ${response.statusText}`.trim());
  let json: unknown;
  try {
    json = await response.json();
  } catch (error) {
    throw new TrainingLogError(url, '(file)', 'text that is not JSON', `JSON as npm run train writes it (${error instanceof Error ? error.message.slice(0, 80) : 'unparsable'})`);
  }
  return parseTrainingHistory(json, url);
}
