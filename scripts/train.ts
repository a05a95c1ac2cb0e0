/**
 * `npm run train`: trains the landing view's model, a small GPT-2-style decoder, on the corpus
 * the project writes (src/model/corpus.ts), on the CPU in Node with the hand-written forward
 * and backward of src/model, and writes the checkpoint (GPT-2 safetensors layout, vocabulary
 * in its metadata) and the training log to public/models/tiny-stories/.
 *
 * The schedule (src/train/schedule.ts) has two phases: an induction phase of short windows at
 * random positions in the context, most of them repeated random spans, with corpus windows in
 * the mix; then the context phase of full 128-token windows, corpus and drills. Every
 * `scoreEvery` steps the log records each head's previous-token score (on held-out text) and
 * induction score (on the project's probe, src/model/heads.ts projectProbe), by the f64
 * forward reference.
 *
 * Reproducible: the corpus, the initial weights and every batch come from fixed seeds, the
 * step count is fixed (not a time budget), and the two workers' gradients are averaged in a
 * fixed order, so the same machine type gives the same checkpoint bit for bit (and any x86
 * machine the same numbers: V8's Math functions are its own, not the C library's).
 *
 * Options: --out DIR; --quick (a few hundred steps, for trying the script); --set JSON (merged
 * over SETTINGS, for experiments: e.g. --set '{"steps":8000,"tied":true}'); --snapshots (write
 * the weights so far to DIR/snapshot.safetensors at every held-out measurement).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { makeRng } from '../src/reference/random';
import { generateCorpus, unigramLoss } from '../src/model/corpus';
import { EOS_ID, wordIds } from '../src/model/corpus-words';
import { forwardReference } from '../src/model/forward-reference';
import { inductionScore, previousTokenScore, projectProbe } from '../src/model/heads';
import { countParams, type GptConfig, type GptParams } from '../src/model/schema';
import { clipGradNorm, createAdam } from '../src/train/adam';
import { initParams } from '../src/train/init';
import { checkPhase, phaseAt, sampleWindows, type Phase } from '../src/train/schedule';
import { writeCheckpoint } from '../src/model/checkpoint';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const valueOf = (name: string): string | undefined => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? args[at + 1] : undefined;
};
const outDir = valueOf('out') ?? 'public/models/tiny-stories';

/** Everything that decides the result. */
const DEFAULTS = {
  corpusSeed: 1,
  initSeed: 2,
  batchSeed: 3,
  trainTokens: 4_000_000,
  heldOutTokens: 32_768,
  steps: 50_000,
  /** A separate lm_head.weight (GPT2LMHeadModel untied); see README for why. */
  tied: false,
  phases: [
    // 90% repeated random spans, 10% corpus; no alternation drill (in 32-token windows it pays heads that
    // look back by content, and no induction head formed in any run that had it: README).
    { name: 'induction', fromStep: 0, batch: 8, length: 32, randomOffsets: true, mix: { spans: 0.9, alternation: 0, repeats: 0 } },
    { name: 'context', fromStep: 46_000, batch: 8, length: 128, randomOffsets: false, mix: { spans: 0, alternation: 0.2, repeats: 0.3 } },
  ] as Phase[],
  /** AdamW: constant peak after warm-up until `decayFrom`, then cosine to peak·finalLr at the last step. */
  peakLr: 1e-3,
  warmup: 200,
  decayFrom: 46_000,
  finalLr: 0.1,
  weightDecay: 0.01,
  /** Which tensors decay: 'matrices' (the blocks' weight matrices) or '2d' (every 2-D tensor: embeddings and lm_head too). */
  decay: '2d' as 'matrices' | '2d',
  clip: 1,
  workers: 2,
  /**
   * Attention first: the MLPs' output weights start at 0 and stay frozen (with their biases) until
   * this step, so the MLPs add nothing and the model is attention-only while the induction head
   * forms; from this step they train like every other weight. 0: no freezing.
   */
  mlpFrozenUntil: 46_000,
  /** Steps between head-score measurements in the log. */
  scoreEvery: 250,
  /** Steps between held-out losses. */
  heldOutEvery: 4000,
  model: { context: 128, dModel: 64, heads: 4, layers: 2, dMlp: 256 },
};
type Settings = typeof DEFAULTS;
/** Steps per entry of the log's loss curve (the mean over them). */
const LOSS_EVERY = 50;

function settingsFromArgs(): Settings {
  const settings: Settings = structuredClone(DEFAULTS);
  const override = valueOf('set');
  if (override !== undefined) {
    const parsed = JSON.parse(override) as Partial<Settings>;
    Object.assign(settings, parsed);
  }
  if (quick) {
    settings.steps = 400;
    settings.phases = settings.phases.map((phase, i) => ({ ...phase, fromStep: i === 0 ? 0 : 300 }));
    settings.decayFrom = 300;
    settings.scoreEvery = 100;
    settings.heldOutEvery = 200;
  }
  if (!Number.isInteger(settings.steps) || settings.steps < 1) throw new Error(`steps: got ${settings.steps}; allowed: an integer ≥ 1`);
  settings.phases.forEach((phase, i) => checkPhase(phase, settings.model.context, `phases[${i}]`));
  if (settings.phases[0].fromStep !== 0) throw new Error(`phases[0].fromStep: got ${settings.phases[0].fromStep}; allowed: 0`);
  for (const phase of settings.phases) {
    if (phase.batch % settings.workers !== 0) throw new Error(`phase ${phase.name}: batch ${phase.batch} must split evenly over ${settings.workers} workers`);
  }
  return settings;
}

const SETTINGS = settingsFromArgs();

function learningRate(step: number): number {
  const { peakLr, warmup, decayFrom, steps, finalLr } = SETTINGS;
  if (step < warmup) return (peakLr * (step + 1)) / warmup;
  if (step < decayFrom) return peakLr;
  const progress = (step - decayFrom) / Math.max(1, steps - decayFrom);
  return peakLr * (finalLr + (1 - finalLr) * 0.5 * (1 + Math.cos(Math.PI * progress)));
}

/** The held-out stream cut into consecutive windows (every token predicted once). */
function heldOutBatches(stream: Uint16Array, length: number, perBatch: number): Int32Array[] {
  const windows = Math.floor((stream.length - 1) / length);
  const batches: Int32Array[] = [];
  for (let w0 = 0; w0 < windows; w0 += perBatch) {
    const count = Math.min(perBatch, windows - w0);
    const tokens = new Int32Array(count * (length + 1));
    for (let b = 0; b < count; b++) tokens.set(stream.subarray((w0 + b) * length, (w0 + b) * length + length + 1), b * (length + 1));
    batches.push(tokens);
  }
  return batches;
}

/** One measurement of every head: [previous-token on held-out text, induction on the project's probe], layer-major. */
type HeadPoint = { step: number; tokens: number; heads: Array<[number, number]> };

async function main(): Promise<void> {
  const t0 = performance.now();
  const corpus = generateCorpus(SETTINGS.corpusSeed, { trainTokens: SETTINGS.trainTokens, heldOutTokens: SETTINGS.heldOutTokens });
  const config: GptConfig = { vocabSize: corpus.vocab.tokens.length, ...SETTINGS.model, ...(SETTINGS.tied ? {} : { tiedEmbeddings: false }) };
  const unigram = unigramLoss(corpus.train, corpus.heldOut, config.vocabSize);
  const initial = initParams(config, SETTINGS.initSeed);
  const frozenMlp = (name: string) => /^h\.\d+\.mlp\.c_proj\.(weight|bias)$/.test(name);
  if (SETTINGS.mlpFrozenUntil > 0) for (const [name, values] of initial) if (frozenMlp(name)) values.fill(0);
  const layout: Array<[string, number]> = [...initial].map(([name, values]) => [name, values.length]);
  const total = layout.reduce((n, [, length]) => n + length, 0);
  const shared = new SharedArrayBuffer(total * 4);
  const params: GptParams = new Map();
  let at = 0;
  for (const [name, values] of initial) {
    const view = new Float32Array(shared, at * 4, values.length);
    view.set(values);
    params.set(name, view);
    at += values.length;
  }
  const maxBatch = Math.max(...SETTINGS.phases.map((p) => p.batch));
  const maxLength = SETTINGS.model.context;
  console.log(`model: ${config.layers} layers × ${config.heads} heads, dModel ${config.dModel}, dMlp ${config.dMlp}, context ${config.context}, vocabulary ${config.vocabSize}; ${countParams(config)} parameters (${SETTINGS.tied ? 'tied' : 'untied'} embeddings)`);
  console.log(`corpus: ${corpus.train.length} training tokens, ${corpus.heldOut.length} held out; unigram held-out loss ${unigram.toFixed(4)} nats`);
  console.log(`training: ${SETTINGS.steps} steps; ${SETTINGS.phases.map((p) => `${p.name} from step ${p.fromStep}: ${p.batch} × ${p.length}${p.randomOffsets ? ' at random offsets' : ''}, mix ${JSON.stringify(p.mix)}`).join('; ')}; ${SETTINGS.workers} worker threads (${cpus().length} CPUs here)`);

  const workerGrads = Array.from({ length: SETTINGS.workers }, () => new SharedArrayBuffer(total * 4));
  const workers = workerGrads.map(
    (grads) =>
      new Worker(new URL('./train/worker-entry.mjs', import.meta.url), {
        // The wasm kernel sums in double in the JS kernel's order: the same bits, ~2.6× faster.
        workerData: { config, layout, params: shared, grads, batch: maxBatch / SETTINGS.workers, length: maxLength, matmul: 'wasm' },
      }),
  );
  // One request at a time per worker: its reply settles the pending promise.
  const pending = new Map<Worker, { resolve: (loss: number) => void; reject: (error: unknown) => void }>();
  for (const worker of workers) {
    worker.on('message', (reply: { loss: number }) => pending.get(worker)?.resolve(reply.loss));
    worker.on('error', (error) => pending.get(worker)?.reject(error));
  }
  const ask = (worker: Worker, message: object) =>
    new Promise<number>((resolve, reject) => {
      pending.set(worker, { resolve, reject });
      worker.postMessage(message);
    });
  const gradViews = workerGrads.map((buffer) => {
    const views: GptParams = new Map();
    let offset = 0;
    for (const [name, length] of layout) {
      views.set(name, new Float32Array(buffer, offset * 4, length));
      offset += length;
    }
    return views;
  });
  const grads: GptParams = new Map(layout.map(([name, length]) => [name, new Float32Array(length)]));
  const decayed = (name: string) =>
    SETTINGS.decay === '2d' ? /(\.weight)$/.test(name) && !/ln_|ln_f/.test(name) : /^h\.\d+\.(attn\.c_attn|attn\.c_proj|mlp\.c_fc|mlp\.c_proj)\.weight$/.test(name);
  const adam = createAdam(params, { lr: SETTINGS.peakLr, weightDecay: SETTINGS.weightDecay, decay: decayed });
  const rng = makeRng(SETTINGS.batchSeed);
  const evalLength = SETTINGS.model.context;
  const heldOut = heldOutBatches(corpus.heldOut, evalLength, maxBatch / SETTINGS.workers);

  async function heldOutLoss(): Promise<number> {
    let sum = 0;
    let count = 0;
    for (let i = 0; i < heldOut.length; i += SETTINGS.workers) {
      const part = heldOut.slice(i, i + SETTINGS.workers);
      const losses = await Promise.all(part.map((tokens, w) => ask(workers[w], { kind: 'eval', tokens, batch: tokens.length / (evalLength + 1), length: evalLength })));
      part.forEach((tokens, w) => {
        const rows = tokens.length / (evalLength + 1);
        sum += losses[w] * rows * evalLength;
        count += rows * evalLength;
      });
    }
    return sum / count;
  }

  // Head scores, as the app measures them: previous-token on held-out text, induction on the project's probe.
  const probe = projectProbe(config.vocabSize, config.context, EOS_ID, wordIds(corpus.vocab));
  const text = Array.from(corpus.heldOut.subarray(0, config.context));
  function measure(step: number, tokens: number): HeadPoint {
    const onProbe = forwardReference(config, params, probe.tokens);
    const onText = forwardReference(config, params, text);
    const n = probe.tokens.length;
    const m = text.length;
    const heads: Array<[number, number]> = [];
    for (let layer = 0; layer < config.layers; layer++) {
      for (let head = 0; head < config.heads; head++) {
        const previous = previousTokenScore(onText.layers[layer].weights.subarray(head * m * m, (head + 1) * m * m), m);
        const induction = inductionScore(onProbe.layers[layer].weights.subarray(head * n * n, (head + 1) * n * n), probe.tokens);
        heads.push([Number(previous.toFixed(4)), Number(induction.toFixed(4))]);
      }
    }
    return { step, tokens, heads };
  }
  const best = (point: HeadPoint, which: 0 | 1) => Math.max(...point.heads.map((h) => h[which]));

  const log: Array<{ step: number; tokens: number; loss: number; lr: number; gradNorm: number; heldOut?: number; seconds: number }> = [];
  const headLog: HeadPoint[] = [measure(0, 0)];
  let crossed: { step: number; tokens: number; layer: number; head: number } | null = null;
  let lossSum = 0;
  let lossCount = 0;
  let seen = 0;
  const trainStart = performance.now();
  for (let step = 0; step < SETTINGS.steps; step++) {
    const phase = phaseAt(SETTINGS.phases, step);
    const rows = phase.batch / SETTINGS.workers;
    const { tokens, offsets } = sampleWindows(rng, corpus.train, phase, config.context);
    const stride = rows * (phase.length + 1);
    const losses = await Promise.all(
      workers.map((worker, w) =>
        ask(worker, { kind: 'train', tokens: tokens.slice(w * stride, (w + 1) * stride), offsets: offsets.slice(w * rows, (w + 1) * rows), batch: rows, length: phase.length }),
      ),
    );
    // The mean over all rows: the workers' means averaged, in worker order.
    for (const [name, sum] of grads) {
      sum.set(gradViews[0].get(name)!);
      for (let w = 1; w < SETTINGS.workers; w++) {
        const part = gradViews[w].get(name)!;
        for (let i = 0; i < sum.length; i++) sum[i] += part[i];
      }
      for (let i = 0; i < sum.length; i++) sum[i] /= SETTINGS.workers;
    }
    // Frozen tensors get no gradient: their Adam moments stay 0, so neither the step nor the decay moves them from 0.
    if (step < SETTINGS.mlpFrozenUntil) for (const [name, g] of grads) if (frozenMlp(name)) g.fill(0);
    const gradNorm = clipGradNorm(grads, SETTINGS.clip);
    const lr = learningRate(step);
    adam.step(grads, lr);
    seen += phase.batch * phase.length;
    const loss = losses.reduce((a, b) => a + b, 0) / losses.length;
    lossSum += loss;
    lossCount++;
    const entry: (typeof log)[number] = { step: step + 1, tokens: seen, loss: Number((lossSum / lossCount).toFixed(5)), lr, gradNorm: Number(gradNorm.toFixed(4)), seconds: Number(((performance.now() - trainStart) / 1000).toFixed(2)) };
    if ((step + 1) % SETTINGS.heldOutEvery === 0 || step + 1 === SETTINGS.steps) entry.heldOut = await heldOutLoss();
    // --snapshots: the weights so far, next to the output (for looking into a run while it trains).
    if (args.includes('--snapshots') && (step + 1) % SETTINGS.heldOutEvery === 0) {
      mkdirSync(outDir, { recursive: true });
      writeFileSync(join(outDir, 'snapshot.safetensors'), writeCheckpoint(config, params, corpus.vocab.tokens, { name: 'snapshot', step: String(step + 1) }));
    }
    // The log keeps one entry per LOSS_EVERY steps (the mean training loss over them), and every held-out measurement.
    if ((step + 1) % LOSS_EVERY === 0 || entry.heldOut !== undefined) {
      log.push(entry);
      lossSum = 0;
      lossCount = 0;
    }
    if ((step + 1) % SETTINGS.scoreEvery === 0 || step + 1 === SETTINGS.steps) {
      const point = measure(step + 1, seen);
      headLog.push(point);
      if (crossed === null) {
        const at = point.heads.findIndex((h) => h[1] >= 0.5);
        if (at >= 0) crossed = { step: step + 1, tokens: seen, layer: Math.floor(at / config.heads), head: at % config.heads };
      }
      if ((step + 1) % (4 * SETTINGS.scoreEvery) === 0) {
        console.log(`  heads [previous, induction]: ${point.heads.map((h, k) => `L${Math.floor(k / config.heads)}H${k % config.heads} ${h[0].toFixed(2)}/${h[1].toFixed(2)}`).join('  ')}`);
      }
      console.log(
        `step ${step + 1}/${SETTINGS.steps} [${phase.name}]  ${(seen / 1e6).toFixed(2)} M tokens  loss ${loss.toFixed(4)}${entry.heldOut !== undefined ? `  held-out ${entry.heldOut.toFixed(4)}` : ''}  lr ${lr.toExponential(2)}  best previous ${best(point, 0).toFixed(2)}  best induction ${best(point, 1).toFixed(2)}  ${(seen / entry.seconds).toFixed(0)} tokens/s  ${entry.seconds.toFixed(0)} s`,
      );
    } else if (entry.heldOut !== undefined) {
      console.log(`step ${step + 1}  held-out ${entry.heldOut.toFixed(4)}`);
    }
  }
  const final = log[log.length - 1].heldOut!; // the last step always measures it
  const seconds = (performance.now() - t0) / 1000;
  await Promise.all(workers.map((worker) => worker.terminate()));
  const last = headLog[headLog.length - 1];

  mkdirSync(outDir, { recursive: true });
  const metadata = {
    name: 'tiny-stories',
    trainedBy: 'npm run train (scripts/train.ts)',
    settings: JSON.stringify(SETTINGS),
    heldOutLoss: String(final),
    unigramLoss: String(unigram),
    eosId: String(EOS_ID),
  };
  const bytes = writeCheckpoint(config, params, corpus.vocab.tokens, metadata);
  writeFileSync(join(outDir, 'model.safetensors'), bytes);
  writeFileSync(
    join(outDir, 'training-log.json'),
    JSON.stringify({ config, settings: SETTINGS, parameters: countParams(config), unigramLoss: unigram, heldOutLoss: final, seconds, inductionCrossed: crossed, probe: probe.tokens, heads: headLog, log }, null, 0) + '\n',
  );
  console.log(`held-out loss ${final.toFixed(4)} nats (unigram ${unigram.toFixed(4)}); best previous-token ${best(last, 0).toFixed(2)}, best induction ${best(last, 1).toFixed(2)}${crossed ? ` (crossed 0.5 at step ${crossed.step}, ${(crossed.tokens / 1e6).toFixed(2)} M tokens, L${crossed.layer} H${crossed.head})` : ' (never reached 0.5)'}`);
  console.log(`${seconds.toFixed(0)} s in all; wrote ${join(outDir, 'model.safetensors')} (${(bytes.length / 1024).toFixed(0)} KiB) and training-log.json`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
