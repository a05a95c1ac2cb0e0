/**
 * Inputs with meaning: the lessons' worked examples, sentences split into tokens with
 * deterministic embeddings, sinusoidal positions, seeded random, and weight matrices of a few
 * kinds. Everything is a pure function of its arguments (and a seed), so URLs reproduce views
 * (the positions table is memoised, which changes no result).
 */
import type { AttentionInputs, AttentionShape } from '../core/types';
import { makeRng, makeUniform } from '../reference/random';

/** A ready-to-run example: a shape, its inputs and a label per query/key token. */
export interface Example {
  shape: AttentionShape;
  inputs: AttentionInputs;
  tokens: string[];
  /** Key tokens when they differ from the query tokens (cross-attention). */
  keyTokens?: string[];
  /**
   * A sentence continued to seqLen: its first `userTokens` tokens are the user's own words, the
   * rest generated text (the panel marks them; hover and labels may too). Absent: all tokens are
   * the input's own.
   */
  userTokens?: number;
}

const f32 = (values: number[]) => new Float32Array(values);

/** The lessons' embeddings for "cat sat" (d = 3). */
export const CAT_SAT = {
  cat: [1.0, 0.5, 0.2],
  sat: [0.3, 1.0, 0.8],
  wq: [0.5, 0, 0, 0, 0.5, 0, 0, 0, 0.5],
  wk: [0.4, 0.1, 0, 0.1, 0.4, 0, 0, 0, 0.5],
  wv: [0.8, 0, 0, 0, 0.8, 0, 0, 0, 0.8],
} as const;

/** "cat sat": two tokens, d = 3, one head, the lesson's W_Q = 0.5·I, W_K, W_V = 0.8·I. */
export function catSatExample(): Example {
  return {
    shape: { seqLen: 2, dModel: 3, heads: 1, dHead: 3 },
    inputs: { x: f32([...CAT_SAT.cat, ...CAT_SAT.sat]), wq: f32([...CAT_SAT.wq]), wk: f32([...CAT_SAT.wk]), wv: f32([...CAT_SAT.wv]) },
    tokens: ['cat', 'sat'],
  };
}

/** The 2-token 2-D example: cat = [1, 0], sat = [0, 1], W_Q = I, W_K = [[0,1],[1,0]], W_V = [[1,2],[0,3]]. */
export function twoDExample(): Example {
  return {
    shape: { seqLen: 2, dModel: 2, heads: 1, dHead: 2 },
    inputs: { x: f32([1, 0, 0, 1]), wq: f32([1, 0, 0, 1]), wk: f32([0, 1, 1, 0]), wv: f32([1, 2, 0, 3]) },
    tokens: ['cat', 'sat'],
  };
}

/** Split text into word and punctuation tokens: "I like NLP, a lot !" → I, like, NLP, ",", a, lot, "!". */
export function tokenize(text: string): string[] {
  return text.match(/[\p{L}\p{N}'’]+|[^\s\p{L}\p{N}]/gu) ?? [];
}

/** FNV-1a hash of a string: the seed of a token's embedding, so equal words embed equally. */
export function hashToken(token: string): number {
  let hash = 0x811c9dc5;
  for (const char of token.toLowerCase()) {
    hash ^= char.codePointAt(0)!;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

/** The longest positions table computed so far, per dModel (its rows do not depend on seqLen). */
const positionTables = new Map<number, Float32Array>();

/**
 * Sinusoidal positional encoding (Vaswani et al.): PE[p, 2i] = sin(p/10000^(2i/d)), PE[p, 2i+1] = cos(…).
 * A fresh array each call; rows are computed once per dModel and copied after (2M sin/cos at
 * 65536 × 32 take ~50 ms, too long to repeat on every seqLen change).
 */
export function sinusoidalPositions(seqLen: number, dModel: number): Float32Array {
  return positionTable(seqLen, dModel).slice(0, seqLen * dModel);
}

/** The remembered table of at least seqLen rows (read only: it is shared). */
function positionTable(seqLen: number, dModel: number): Float32Array {
  const size = seqLen * dModel;
  const known = positionTables.get(dModel);
  if (known && known.length >= size) return known;
  const out = new Float32Array(size);
  const start = known ? known.length / dModel : 0;
  if (known) out.set(known);
  // One divisor per column, computed once (the same expression, so the same numbers).
  const divisors = Array.from({ length: dModel }, (_, c) => 10000 ** ((2 * Math.floor(c / 2)) / dModel));
  for (let p = start; p < seqLen; p++) {
    for (let c = 0; c < dModel; c++) {
      const angle = p / divisors[c];
      out[p * dModel + c] = c % 2 === 0 ? Math.sin(angle) : Math.cos(angle);
    }
  }
  positionTables.clear(); // one dModel at a time: the explorer changes it rarely
  positionTables.set(dModel, out);
  return out;
}

/**
 * Token embeddings: each distinct word gets a fixed random vector (seeded by its hash, scaled
 * to unit-ish length); with `positions` the sinusoidal encoding is added, so repeated words
 * differ by position.
 */
export function embedTokens(tokens: string[], dModel: number, positions: boolean): Float32Array {
  const out = new Float32Array(tokens.length * dModel);
  const scale = Math.sqrt(3);
  // A long sentence repeats a few hundred words: each distinct word is hashed and its vector
  // drawn once (by spelling; equal hashes share the draw, as "The" and "the").
  const byHash = new Map<number, Float32Array>();
  const byToken = new Map<string, Float32Array>();
  tokens.forEach((token, row) => {
    let vector = byToken.get(token);
    if (!vector) {
      const hash = hashToken(token);
      vector = byHash.get(hash) ?? makeUniform(makeRng(hash), dModel, scale);
      byHash.set(hash, vector);
      byToken.set(token, vector);
    }
    out.set(vector, row * dModel);
  });
  if (positions) {
    const pe = positionTable(tokens.length, dModel); // read in place: no copy of 65536 rows
    for (let i = 0; i < out.length; i++) out[i] += pe[i];
  }
  return out;
}

/** How the query/key/value matrices are made. */
export type WeightKind = 'random' | 'identity';

/**
 * Weights of dModel × (heads·dHead). 'random': uniform, scaled by `sharpness`·√(3/dModel) so the
 * score spread (and so the softmax) is neither flat nor one-hot. 'identity': each head's block
 * is the identity on a shifting window of the embedding (plus small noise), so a token attends
 * mostly to tokens like itself.
 */
export function makeWeights(kind: WeightKind, dModel: number, heads: number, dHead: number, seed: number, sharpness = 1): { wq: Float32Array; wk: Float32Array; wv: Float32Array } {
  const width = heads * dHead;
  const rng = makeRng(seed ^ 0x5bd1e995);
  if (kind === 'random') {
    const scale = sharpness * Math.sqrt(3 / dModel);
    return { wq: makeUniform(rng, dModel * width, scale), wk: makeUniform(rng, dModel * width, scale), wv: makeUniform(rng, dModel * width, Math.sqrt(3 / dModel)) };
  }
  const identityLike = (noise: number) => {
    const w = makeUniform(rng, dModel * width, noise);
    for (let h = 0; h < heads; h++) {
      for (let d = 0; d < dHead; d++) {
        const row = (h * dHead + d) % dModel;
        w[row * width + h * dHead + d] += sharpness;
      }
    }
    return w;
  };
  return { wq: identityLike(0.05), wk: identityLike(0.05), wv: identityLike(0.05) };
}

/**
 * The lessons' matrices generalised to any size: W_Q = 0.5·I, W_V = 0.8·I and W_K = 0.5·M with
 * M the lesson's 3×3 block [[0.8,0.2,0],[0.2,0.8,0],[0,0,1]] repeated down the diagonal; each
 * head's columns h·dHead … map onto embedding rows (h·dHead + d) mod dModel.
 */
export function lessonWeights(dModel: number, heads: number, dHead: number): { wq: Float32Array; wk: Float32Array; wv: Float32Array } {
  const width = heads * dHead;
  const block = [
    [0.8, 0.2, 0],
    [0.2, 0.8, 0],
    [0, 0, 1],
  ];
  const wq = new Float32Array(dModel * width);
  const wk = new Float32Array(dModel * width);
  const wv = new Float32Array(dModel * width);
  for (let col = 0; col < width; col++) {
    const target = col % dModel;
    wq[target * width + col] = 0.5;
    wv[target * width + col] = 0.8;
    // Column `col` of the block-diagonal M: rows in the same 3-block as `target`.
    const blockStart = target - (target % 3);
    for (let r = blockStart; r < Math.min(blockStart + 3, dModel); r++) {
      wk[r * width + col] = 0.5 * block[r - blockStart][target - blockStart];
    }
  }
  return { wq, wk, wv };
}
