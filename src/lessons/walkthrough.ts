/**
 * The worked example, step by step: two tokens, d-dimensional embeddings, one head. Every
 * number a step shows is listed here with its CPU value (the f64 reference) and, when a GPU
 * result is given, the GPU value beside it. Pure TypeScript: the lesson view renders it and the
 * unit tests check each number against hand arithmetic.
 */
import type { AttentionResult } from '../core/types';
import { attentionCpu64 } from '../reference/attention';
import { validateAttention } from '../core/validate';

/** The lesson's inputs: two tokens, their embeddings (2 × d) and three d × d matrices. */
export interface WalkInputs {
  tokens: [string, string];
  x: number[][];
  wq: number[][];
  wk: number[][];
  wv: number[][];
}

/** One number on a step: what it is, the CPU value, and the GPU value when there is one. */
export interface WalkNumber {
  id: string;
  label: string;
  cpu: number;
  gpu?: number;
  percent?: boolean;
}

/** What the step's small picture draws. */
export type WalkPicture =
  | { kind: 'vectors'; labels: string[]; vectors: number[][] }
  | { kind: 'matrices'; labels: string[]; matrices: number[][][] }
  | { kind: 'products'; label: string; terms: number[]; sum: number }[]
  | { kind: 'bars'; labels: string[]; values: number[]; percent: boolean };

export interface WalkStep {
  step: number;
  title: string;
  why: string;
  numbers: WalkNumber[];
  picture: WalkPicture;
  /** The surface stage that fits the step. */
  stage: 'raw' | 'scaled' | 'weights';
}

/** The lessons' "cat sat" inputs. */
export const CAT_SAT_INPUTS: WalkInputs = {
  tokens: ['cat', 'sat'],
  x: [
    [1.0, 0.5, 0.2],
    [0.3, 1.0, 0.8],
  ],
  wq: [
    [0.5, 0, 0],
    [0, 0.5, 0],
    [0, 0, 0.5],
  ],
  wk: [
    [0.4, 0.1, 0],
    [0.1, 0.4, 0],
    [0, 0, 0.5],
  ],
  wv: [
    [0.8, 0, 0],
    [0, 0.8, 0],
    [0, 0, 0.8],
  ],
};

/** The 2-token, 2-D example: cat = [1, 0], sat = [0, 1], W_Q = I, W_K = [[0,1],[1,0]], W_V = [[1,2],[0,3]]. */
export const TWO_D_INPUTS: WalkInputs = {
  tokens: ['cat', 'sat'],
  x: [
    [1, 0],
    [0, 1],
  ],
  wq: [
    [1, 0],
    [0, 1],
  ],
  wk: [
    [0, 1],
    [1, 0],
  ],
  wv: [
    [1, 2],
    [0, 3],
  ],
};

/** The walkthrough's inputs as the library's shape and Float32 arrays. */
export function walkAttentionInputs(w: WalkInputs) {
  const d = w.x[0].length;
  const flat = (m: number[][]) => new Float32Array(m.flat());
  return {
    shape: { seqLen: 2, dModel: d, heads: 1, dHead: d },
    inputs: { x: flat(w.x), wq: flat(w.wq), wk: flat(w.wk), wv: flat(w.wv) },
  };
}

const fmtVec = (v: number[]) => `[${v.map((n) => +n.toFixed(4)).join(', ')}]`;

/**
 * The seven steps for the given inputs. CPU values come from the f64 reference; GPU values from
 * `gpu` (the kernels' result for the same inputs) where the GPU computes that number.
 */
export function walkthrough(w: WalkInputs, gpu?: AttentionResult): WalkStep[] {
  const { shape, inputs } = walkAttentionInputs(w);
  const resolved = validateAttention(shape, inputs);
  const ref = attentionCpu64(resolved, inputs);
  const d = resolved.dModel;
  const [a, b] = w.tokens;
  const row = (arr: ArrayLike<number>, r: number) => Array.from({ length: d }, (_, c) => arr[r * d + c]);
  const sqrtD = Math.sqrt(d);
  const vecNumbers = (prefix: string, name: string, cpu: Float64Array, gpuArr?: Float32Array): WalkNumber[] =>
    [0, 1].flatMap((r) =>
      Array.from({ length: d }, (_, c) => ({
        id: `${prefix}.${w.tokens[r]}.${c}`,
        label: `${name}(${w.tokens[r]})[${c}]`,
        cpu: cpu[r * d + c],
        gpu: gpuArr?.[r * d + c],
      })),
    );
  const q = (r: number) => row(ref.q, r);
  const k = (r: number) => row(ref.k, r);
  const products = (qi: number, kj: number) => q(qi).map((value, c) => value * k(kj)[c]);

  return [
    {
      step: 1,
      title: 'Embeddings: each word is a vector',
      why: `Before attention, each word is a list of ${d} numbers. ${a} = ${fmtVec(w.x[0])}, ${b} = ${fmtVec(w.x[1])}. They are the rows of X (rows are tokens).`,
      numbers: [0, 1].flatMap((r) => w.x[r].map((value, c) => ({ id: `x.${w.tokens[r]}.${c}`, label: `${w.tokens[r]}[${c}]`, cpu: value }))),
      picture: { kind: 'vectors', labels: [a, b], vectors: w.x },
      stage: 'weights',
    },
    {
      step: 2,
      title: 'Three matrices: three views of every word',
      why: 'W_Q turns a word into the question it asks (the query: what you look for in a library), W_K into the label it offers (the key: the title on the spine), W_V into what it gives when chosen (the value: the book’s content). Three matrices, so the same word can ask, advertise and answer differently.',
      numbers: (['wq', 'wk', 'wv'] as const).flatMap((name) =>
        w[name].flatMap((r, i) => r.map((value, j) => ({ id: `${name}.${i}.${j}`, label: `${name === 'wq' ? 'W_Q' : name === 'wk' ? 'W_K' : 'W_V'}[${i}][${j}]`, cpu: value }))),
      ),
      picture: { kind: 'matrices', labels: ['W_Q', 'W_K', 'W_V'], matrices: [w.wq, w.wk, w.wv] },
      stage: 'weights',
    },
    {
      step: 3,
      title: 'Q, K and V for each word',
      why: 'Q = X·W_Q, K = X·W_K, V = X·W_V: each row is one word seen through one matrix. The GPU computed these in one dispatch; the CPU reference is beside each number.',
      numbers: [...vecNumbers('q', 'Q', ref.q, gpu?.q), ...vecNumbers('k', 'K', ref.k, gpu?.k), ...vecNumbers('v', 'V', ref.v, gpu?.v)],
      picture: { kind: 'vectors', labels: [`Q(${a})`, `Q(${b})`, `K(${a})`, `K(${b})`, `V(${a})`, `V(${b})`], vectors: [q(0), q(1), k(0), k(1), row(ref.v, 0), row(ref.v, 1)] },
      stage: 'weights',
    },
    {
      step: 4,
      title: `Dot products: how well ${b}'s question matches each key`,
      why: `Q(${b})·K(${a}) and Q(${b})·K(${b}) multiply matching entries and add them up. A larger dot product means the key answers the question better. The Q·K space panel draws the three vectors as arrows from the origin: a dot product is one length times the other's shadow along it, so the key that points more the way Q(${b}) points wins.`,
      numbers: [
        ...[0, 1].map((j) => ({ id: `dot.${b}.${w.tokens[j]}`, label: `Q(${b})·K(${w.tokens[j]})`, cpu: ref.scores[2 + j] * sqrtD, gpu: gpu ? gpu.scores[2 + j] * sqrtD : undefined })),
        ...[0, 1].map((j) => ({ id: `dot.${a}.${w.tokens[j]}`, label: `Q(${a})·K(${w.tokens[j]})`, cpu: ref.scores[j] * sqrtD, gpu: gpu ? gpu.scores[j] * sqrtD : undefined })),
      ],
      picture: [0, 1].map((j) => ({ kind: 'products' as const, label: `Q(${b})·K(${w.tokens[j]})`, terms: products(1, j), sum: products(1, j).reduce((s, t) => s + t, 0) })),
      stage: 'raw',
    },
    {
      step: 5,
      title: `Scaling by √d_k = √${d}`,
      why: `Dot products grow with the dimension d_k; dividing by √d_k = ${sqrtD.toFixed(4)} keeps them in a range where the softmax still spreads attention instead of picking one word.`,
      numbers: [0, 1].flatMap((i) => [0, 1].map((j) => ({ id: `score.${w.tokens[i]}.${w.tokens[j]}`, label: `score(${w.tokens[i]} → ${w.tokens[j]})`, cpu: ref.scores[i * 2 + j], gpu: gpu?.scores[i * 2 + j] }))),
      picture: { kind: 'bars', labels: [`${b}→${a}`, `${b}→${b}`], values: [ref.scores[2], ref.scores[3]], percent: false },
      stage: 'scaled',
    },
    {
      step: 6,
      title: 'Softmax: scores become attention weights',
      why: `softmax turns each row of scores into positive weights that sum to 1: weight = e^score / Σ e^score (the row maximum is subtracted first so nothing overflows). ${b} attends ${(ref.weights[2] * 100).toFixed(1)}% to ${a} and ${(ref.weights[3] * 100).toFixed(1)}% to itself.`,
      numbers: [0, 1].flatMap((i) => [0, 1].map((j) => ({ id: `weight.${w.tokens[i]}.${w.tokens[j]}`, label: `${w.tokens[i]} → ${w.tokens[j]}`, cpu: ref.weights[i * 2 + j], gpu: gpu?.weights[i * 2 + j], percent: true }))),
      picture: { kind: 'bars', labels: [`${b}→${a}`, `${b}→${b}`], values: [ref.weights[2], ref.weights[3]], percent: true },
      stage: 'weights',
    },
    {
      step: 7,
      title: `The weighted sum of values: the new "${b}"`,
      why: `The output for ${b} is ${(ref.weights[2] * 100).toFixed(1)}% of V(${a}) plus ${(ref.weights[3] * 100).toFixed(1)}% of V(${b}): the word now carries context from the word it attended to.`,
      numbers: [...vecNumbers('out', 'new', ref.output, gpu?.output)],
      picture: { kind: 'vectors', labels: [`V(${a})`, `V(${b})`, `new ${b}`], vectors: [row(ref.v, 0), row(ref.v, 1), row(ref.output, 1)] },
      stage: 'weights',
    },
  ];
}
