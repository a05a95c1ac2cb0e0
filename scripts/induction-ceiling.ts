/**
 * `npx tsx scripts/induction-ceiling.ts [model.safetensors] [--steps N] [--embed]`: how far an
 * induction head in layer 1 could get with what layer 0 gives it.
 *
 * A layer-1 head scores keys by a bilinear form of its (LayerNorm-ed) inputs, qᵢ·kⱼ =
 * aᵢᵀ·W_Q·W_Kᵀ·aⱼ. This fits that form directly — one full-rank 64 × 64 matrix A instead of a
 * rank-dHead product, by Adam on the cross-entropy of the softmax over keys against the
 * induction key — on the layer-1 inputs of repeats drills (src/model/corpus.ts), and reports the
 * mean weight it puts on the induction key of held-out drills. That is roughly the best any
 * layer-1 head could score (it ignores rank, the softmax temperature and the value path), so a
 * low number says the previous word's identity is not in the keys, whatever the training does.
 * `--embed` fits on the embeddings instead (no layer 0: the chance level of this measure).
 *
 * The shipped model gives ≈ 0.32 after 500 steps, embeddings alone ≈ 0.06 (README, "Not yet").
 */
import { readFileSync } from 'node:fs';
import { readCheckpoint } from '../src/model/checkpoint';
import { generateDrill } from '../src/model/drills';
import { forwardReference } from '../src/model/forward-reference';
import { makeRng } from '../src/reference/random';

const args = process.argv.slice(2);
const stepsAt = args.indexOf('--steps');
const file = args.filter((a, i) => !a.startsWith('--') && i !== stepsAt + 1)[0] ?? 'public/models/tiny-stories/model.safetensors';
const steps = stepsAt >= 0 ? Number(args[stepsAt + 1]) : 500;
if (!Number.isInteger(steps) || steps < 1) throw new Error(`--steps: got ${args[stepsAt + 1]}; allowed: an integer ≥ 1`);
const embedOnly = args.includes('--embed');

const { config, params } = readCheckpoint(readFileSync(file), file);
const d = config.dModel;
const length = Math.min(64, config.context);
const rng = makeRng(5);

/** One drill: its rows (length × d) and the (query, induction key) pairs. */
interface Example {
  rows: Float64Array;
  pairs: Array<[number, number]>;
}

function examples(count: number): Example[] {
  const out: Example[] = [];
  for (let s = 0; s < count; s++) {
    const tokens = generateDrill(rng, 'repeats', length);
    const trace = forwardReference(config, params, tokens);
    const rows = embedOnly ? trace.embed : trace.layers[Math.min(1, config.layers - 1)].ln1;
    const last = new Map<number, number>();
    const pairs: Array<[number, number]> = [];
    for (let i = 0; i < length; i++) {
      const previous = last.get(tokens[i]);
      if (previous !== undefined && previous + 1 < i) pairs.push([i, previous + 1]);
      last.set(tokens[i], i);
    }
    out.push({ rows, pairs });
  }
  return out;
}

const train = examples(300);
const test = examples(60);
const A = new Float64Array(d * d);
const m = new Float64Array(d * d);
const v = new Float64Array(d * d);
const scale = 1 / Math.sqrt(d / config.heads);

/** Mean weight on the induction key over `set`; adds the loss gradient into `grad` when given. */
function score(set: Example[], grad: Float64Array | null): number {
  let sum = 0;
  let count = 0;
  const qa = new Float64Array(d);
  for (const { rows, pairs } of set) {
    for (const [i, key] of pairs) {
      for (let r = 0; r < d; r++) {
        let s = 0;
        for (let c = 0; c < d; c++) s += rows[i * d + c] * A[c * d + r];
        qa[r] = s;
      }
      const w = new Float64Array(i + 1);
      let max = -Infinity;
      for (let j = 0; j <= i; j++) {
        let s = 0;
        for (let r = 0; r < d; r++) s += qa[r] * rows[j * d + r];
        w[j] = s * scale;
        max = Math.max(max, w[j]);
      }
      let z = 0;
      for (let j = 0; j <= i; j++) z += (w[j] = Math.exp(w[j] - max));
      for (let j = 0; j <= i; j++) w[j] /= z;
      sum += w[key];
      count++;
      if (grad === null) continue;
      for (let j = 0; j <= i; j++) {
        const g = (w[j] - (j === key ? 1 : 0)) * scale;
        for (let c = 0; c < d; c++) {
          const gc = rows[i * d + c] * g;
          for (let r = 0; r < d; r++) grad[c * d + r] += gc * rows[j * d + r];
        }
      }
    }
  }
  return sum / count;
}

for (let step = 1; step <= steps; step++) {
  const grad = new Float64Array(d * d);
  score(Array.from({ length: 20 }, () => train[Math.floor(rng() * train.length)]), grad);
  for (let k = 0; k < grad.length; k++) {
    m[k] = 0.9 * m[k] + 0.1 * grad[k];
    v[k] = 0.999 * v[k] + 0.001 * grad[k] * grad[k];
    A[k] -= (0.05 * (m[k] / (1 - 0.9 ** step))) / (Math.sqrt(v[k] / (1 - 0.999 ** step)) + 1e-8);
  }
  if (step % 50 === 0 || step === steps) console.log(`step ${step}: weight on the induction key, held-out drills ${score(test, null).toFixed(3)}`);
}
