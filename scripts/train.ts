/**
 * `npm run train`: trains the landing view's model, a small GPT-2-style decoder, on the corpus
 * the project writes (src/model/corpus.ts), on the CPU in Node with the hand-written forward
 * and backward of src/model, and writes the checkpoint (GPT-2 safetensors layout, vocabulary
 * in its metadata) and the training log to public/models/tiny-stories/.
 *
 * Reproducible: the corpus, the initial weights and every batch come from fixed seeds, the
 * step count is fixed (not a time budget), and the two workers' gradients are averaged in a
 * fixed order, so the same machine type gives the same checkpoint bit for bit (and any x86
 * machine the same numbers: V8's Math functions are its own, not the C library's).
 *
 * Options: --steps N (default 6000), --out DIR, --quick (100 steps, for trying the script).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { makeRng } from '../src/reference/random';
import { generateCorpus, unigramLoss } from '../src/model/corpus';
import { EOS_ID } from '../src/model/corpus-words';
import { generateDrill } from '../src/model/drills';
import { countParams, type GptConfig, type GptParams } from '../src/model/schema';
import { clipGradNorm, createAdam } from '../src/train/adam';
import { initParams } from '../src/train/init';
import { writeCheckpoint } from '../src/model/checkpoint';

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const at = args.indexOf(`--${name}`);
  if (at < 0) return fallback;
  const value = Number(args[at + 1]);
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name}: got ${args[at + 1]}; allowed: an integer ≥ 1`);
  return value;
};
const quick = args.includes('--quick');
const outAt = args.indexOf('--out');
const outDir = outAt >= 0 ? args[outAt + 1] : 'public/models/tiny-stories';

/** Everything that decides the result. */
const SETTINGS = {
  corpusSeed: 1,
  initSeed: 2,
  batchSeed: 3,
  trainTokens: 4_000_000,
  heldOutTokens: 32_768,
  steps: quick ? 100 : option('steps', 6000),
  /**
   * Sequences per step (split over the workers) and tokens each, by phase: shorter windows
   * first (the heads' early attention is less diluted, so they form sooner), then the full
   * context. Every step holds 1024 tokens. `batch`/`length` are the largest (the workers'
   * workspaces) and the held-out windows.
   */
  phases: [
    { fromStep: 0, batch: 16, length: 64 },
    { fromStep: quick ? 50 : 3000, batch: 8, length: 128 },
  ],
  batch: 16,
  length: 128,
  /** Share of each step's sequences that are drills (src/model/corpus.ts), the rest corpus windows. */
  drills: { alternation: 0.2, repeats: 0.3 },
  peakLr: 5e-3,
  warmup: 200,
  /** The cosine schedule ends at this fraction of the peak. */
  finalLr: 0.1,
  clip: 1,
  workers: 2,
};
const CONFIG_BASE = { context: 128, dModel: 64, heads: 4, layers: 2, dMlp: 256 };

function learningRate(step: number): number {
  if (step < SETTINGS.warmup) return (SETTINGS.peakLr * (step + 1)) / SETTINGS.warmup;
  const progress = (step - SETTINGS.warmup) / Math.max(1, SETTINGS.steps - SETTINGS.warmup);
  return SETTINGS.peakLr * (SETTINGS.finalLr + (1 - SETTINGS.finalLr) * 0.5 * (1 + Math.cos(Math.PI * progress)));
}

/** A batch of `count` sequences of length + 1 tokens: drills in the settings' shares, else windows of the corpus at random offsets. */
function sampleBatch(stream: Uint16Array, rng: () => number, count: number, length: number): Int32Array {
  const tokens = new Int32Array(count * (length + 1));
  for (let b = 0; b < count; b++) {
    const u = rng();
    if (u < SETTINGS.drills.alternation) {
      tokens.set(generateDrill(rng, 'alternation', length + 1), b * (length + 1));
    } else if (u < SETTINGS.drills.alternation + SETTINGS.drills.repeats) {
      tokens.set(generateDrill(rng, 'repeats', length + 1), b * (length + 1));
    } else {
      const start = Math.floor(rng() * (stream.length - length - 1));
      for (let t = 0; t <= length; t++) tokens[b * (length + 1) + t] = stream[start + t];
    }
  }
  return tokens;
}

/** The phase of a step (the last one that has started). */
function phaseAt(step: number): { batch: number; length: number } {
  let current = SETTINGS.phases[0];
  for (const phase of SETTINGS.phases) if (step >= phase.fromStep) current = phase;
  return current;
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

async function main(): Promise<void> {
  const t0 = performance.now();
  const corpus = generateCorpus(SETTINGS.corpusSeed, { trainTokens: SETTINGS.trainTokens, heldOutTokens: SETTINGS.heldOutTokens });
  const config: GptConfig = { vocabSize: corpus.vocab.tokens.length, ...CONFIG_BASE };
  const unigram = unigramLoss(corpus.train, corpus.heldOut, config.vocabSize);
  const initial = initParams(config, SETTINGS.initSeed);
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
  console.log(`model: ${config.layers} layers × ${config.heads} heads, dModel ${config.dModel}, dMlp ${config.dMlp}, context ${config.context}, vocabulary ${config.vocabSize}; ${countParams(config)} parameters (tied embeddings)`);
  console.log(`corpus: ${corpus.train.length} training tokens, ${corpus.heldOut.length} held out; unigram held-out loss ${unigram.toFixed(4)} nats`);
  console.log(`training: ${SETTINGS.steps} steps (${SETTINGS.phases.map((p) => `from step ${p.fromStep}: ${p.batch} × ${p.length}`).join(', ')} tokens; drills ${JSON.stringify(SETTINGS.drills)}) on ${SETTINGS.workers} worker threads (${cpus().length} CPUs here)`);

  const perWorker = SETTINGS.batch / SETTINGS.workers;
  const workerGrads = Array.from({ length: SETTINGS.workers }, () => new SharedArrayBuffer(total * 4));
  const workers = workerGrads.map(
    (grads) =>
      new Worker(new URL('./train/worker-entry.mjs', import.meta.url), {
        // The wasm kernel sums in double in the JS kernel's order: the same bits, ~2.6× faster.
        workerData: { config, layout, params: shared, grads, batch: perWorker, length: SETTINGS.length, matmul: 'wasm' },
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
  const adam = createAdam(params, { lr: SETTINGS.peakLr });
  const rng = makeRng(SETTINGS.batchSeed);
  const heldOut = heldOutBatches(corpus.heldOut, SETTINGS.length, SETTINGS.phases[SETTINGS.phases.length - 1].batch / SETTINGS.workers);

  async function heldOutLoss(): Promise<number> {
    let sum = 0;
    let count = 0;
    for (let i = 0; i < heldOut.length; i += SETTINGS.workers) {
      const part = heldOut.slice(i, i + SETTINGS.workers);
      const losses = await Promise.all(part.map((tokens, w) => ask(workers[w], { kind: 'eval', tokens, batch: tokens.length / (SETTINGS.length + 1), length: SETTINGS.length })));
      part.forEach((tokens, w) => {
        const rows = tokens.length / (SETTINGS.length + 1);
        sum += losses[w] * rows * SETTINGS.length;
        count += rows * SETTINGS.length;
      });
    }
    return sum / count;
  }

  const log: Array<{ step: number; loss: number; lr: number; gradNorm: number; heldOut?: number; seconds: number }> = [];
  const trainStart = performance.now();
  for (let step = 0; step < SETTINGS.steps; step++) {
    const phase = phaseAt(step);
    const rows = phase.batch / SETTINGS.workers;
    const tokens = sampleBatch(corpus.train, rng, phase.batch, phase.length);
    const stride = rows * (phase.length + 1);
    const losses = await Promise.all(workers.map((worker, w) => ask(worker, { kind: 'train', tokens: tokens.slice(w * stride, (w + 1) * stride), batch: rows, length: phase.length })));
    // The mean over all rows: the workers' means averaged, in worker order.
    for (const [name, sum] of grads) {
      sum.set(gradViews[0].get(name)!);
      for (let w = 1; w < SETTINGS.workers; w++) {
        const part = gradViews[w].get(name)!;
        for (let i = 0; i < sum.length; i++) sum[i] += part[i];
      }
      for (let i = 0; i < sum.length; i++) sum[i] /= SETTINGS.workers;
    }
    const gradNorm = clipGradNorm(grads, SETTINGS.clip);
    const lr = learningRate(step);
    adam.step(grads, lr);
    const loss = losses.reduce((a, b) => a + b, 0) / losses.length;
    const entry: (typeof log)[number] = { step: step + 1, loss, lr, gradNorm, seconds: (performance.now() - trainStart) / 1000 };
    if ((step + 1) % 500 === 0 || step + 1 === SETTINGS.steps) entry.heldOut = await heldOutLoss();
    log.push(entry);
    if ((step + 1) % 50 === 0 || entry.heldOut !== undefined) {
      const rate = ((step + 1) * phase.batch * phase.length) / entry.seconds;
      console.log(`step ${step + 1}/${SETTINGS.steps}  loss ${loss.toFixed(4)}${entry.heldOut !== undefined ? `  held-out ${entry.heldOut.toFixed(4)}` : ''}  lr ${lr.toExponential(2)}  |g| ${gradNorm.toFixed(2)}  ${rate.toFixed(0)} tokens/s`);
    }
  }
  const final = log[log.length - 1].heldOut!;
  const seconds = (performance.now() - t0) / 1000;
  await Promise.all(workers.map((worker) => worker.terminate()));

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
    JSON.stringify({ config, settings: SETTINGS, parameters: countParams(config), unigramLoss: unigram, heldOutLoss: final, seconds, log }, null, 0) + '\n',
  );
  console.log(`held-out loss ${final.toFixed(4)} nats (unigram ${unigram.toFixed(4)}); ${seconds.toFixed(0)} s in all; wrote ${join(outDir, 'model.safetensors')} (${(bytes.length / 1024).toFixed(0)} KiB) and training-log.json`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
