/**
 * The forward plan of the GPT-2-style decoder on the CPU: the activations a pass keeps and the
 * pass itself, in the order GPT-2 runs it. Training (src/train, which adds the backward's
 * buffers) and the Float64 reference (forward-reference.ts) run this same code, so the numbers
 * the GPU is checked against are the numbers training optimised.
 *
 * The model, as GPT-2 (choices stated so a checkpoint means the same thing everywhere):
 * - Learned token (`wte`) and position (`wpe`) embeddings, summed: x₀[t] = wte[token_t] + wpe[t].
 * - `layers` pre-LayerNorm blocks: x += attn(ln_1(x)); x += mlp(ln_2(x)).
 * - attn: c_attn (Conv1D d → 3d, with bias) gives Q | K | V side by side; causal multi-head
 *   attention, `heads` heads of dHead = dModel/heads, scores QKᵀ/√dHead, key j hidden from
 *   query i when j > i; c_proj (d → d, with bias).
 * - mlp: c_fc (d → dMlp) → GELU → c_proj (dMlp → d), with biases. GELU is GPT-2's tanh
 *   approximation ("gelu_new"): 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
 * - Final LayerNorm ln_f, then logits = ln_f(x)·wteᵀ: by default the output layer is TIED to the
 *   token embedding (no separate lm_head), so `wte` gets gradient from both ends; a config with
 *   tiedEmbeddings false reads a separate `lm_head.weight` [vocab, d] instead.
 * - LayerNorm: biased variance, ε = 1e-5, learned weight and bias.
 * Names and shapes of the parameters: schema.ts.
 *
 * Pure TypeScript: runs in Node and in the browser (no DOM, no WebGPU, no node: modules).
 */
import { AttentionInputError } from '../core/errors';
import { MAX_ELEMENTS } from '../core/validate';
import {
  attentionForward,
  embeddingForward,
  geluForward,
  layerNormForward,
  linearForward,
  outputForward,
} from './layers';
import type { Scratch } from './matmul';
import { describeValue, validateConfig, type Floats, type GptConfig, type ModelParams } from './schema';

/** One block's activations; rows are batch·length tokens (layouts as GptLayerTrace in forward-reference.ts). */
export interface LayerActs {
  /** The block's input: the previous block's resid2, or the embeddings (an alias, no copy). */
  input: Floats;
  ln1: Floats;
  ln1Mean: Floats;
  ln1Rstd: Floats;
  qkv: Floats;
  probs: Floats;
  scores: Floats | null;
  attn: Floats;
  attnOut: Floats;
  resid1: Floats;
  ln2: Floats;
  ln2Mean: Floats;
  ln2Rstd: Floats;
  mlpPre: Floats;
  mlpAct: Floats;
  mlpOut: Floats;
  resid2: Floats;
}

/**
 * Every activation of a forward pass of up to `batch` sequences of up to `length` tokens, kept
 * for a backward (training) or a trace (the reference): about (layers·(10·d + 2·dMlp) + 2·d +
 * vocab)·batch·length + layers·heads·batch·length² values (twice the last with the scores).
 */
export interface Activations {
  readonly config: GptConfig;
  readonly batch: number;
  readonly length: number;
  readonly float64: boolean;
  /** Whether it also keeps the masked scores (the forward reference does; training need not). */
  readonly scores: boolean;
  /** @internal The token ids read, batch × length. */ readonly inputs: Int32Array;
  /** @internal Each row's first position (wpe row), batch of them; 0 unless a training batch sets them. */ readonly offsets: Int32Array;
  /** @internal */ readonly x0: Floats;
  /** @internal */ readonly layers: LayerActs[];
  /** @internal */ readonly lnF: Floats;
  /** @internal */ readonly lnFMean: Floats;
  /** @internal */ readonly lnFRstd: Floats;
  /** @internal */ readonly logits: Floats;
}

/** Options of {@link createActivations}. */
export interface ActivationOptions {
  /** Float64 storage (default false: Float32). Must match the parameters' kind. */
  float64?: boolean;
  /** Keep the masked scores too (default false). */
  scores?: boolean;
}

/** Throws {@link AttentionInputError} (`field`) unless `value` is an integer in [min, max]. */
export function checkCount(field: string, value: unknown, min: number, max: number): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new AttentionInputError(field, describeValue(value), `an integer from ${min} to ${max}`, 'shape');
  }
}

/** A maker of zeroed arrays of the storage kind asked for. */
export function floatMaker(float64: boolean): (n: number) => Floats {
  return float64 ? (n: number): Floats => new Float64Array(n) : (n: number): Floats => new Float32Array(n);
}

/**
 * Buffers for a forward pass of up to `batch` × `length` tokens. Throws {@link AttentionInputError}
 * for a bad config, a batch or length out of range (`length` ≤ context), or arrays over MAX_ELEMENTS.
 */
export function createActivations(config: GptConfig, batch: number, length: number, options: ActivationOptions = {}): Activations {
  const c = validateConfig(config);
  checkCount('batch', batch, 1, MAX_ELEMENTS);
  checkCount('length', length, 1, c.context);
  const float64 = options.float64 ?? false;
  const make = floatMaker(float64);
  const rows = batch * length;
  const { dModel: d, dMlp, heads, vocabSize } = c;
  const map = batch * heads * length * length;
  if (map > MAX_ELEMENTS || rows * Math.max(vocabSize, 3 * d, dMlp) > MAX_ELEMENTS) {
    throw new AttentionInputError('batch', String(batch), `fewer sequences: batch·heads·length² and batch·length·vocab must stay ≤ ${MAX_ELEMENTS}`, 'too-large');
  }
  const x0 = make(rows * d);
  const layers: LayerActs[] = [];
  let input = x0;
  for (let l = 0; l < c.layers; l++) {
    const acts: LayerActs = {
      input,
      ln1: make(rows * d),
      ln1Mean: make(rows),
      ln1Rstd: make(rows),
      qkv: make(rows * 3 * d),
      probs: make(map),
      scores: options.scores === true ? make(map) : null,
      attn: make(rows * d),
      attnOut: make(rows * d),
      resid1: make(rows * d),
      ln2: make(rows * d),
      ln2Mean: make(rows),
      ln2Rstd: make(rows),
      mlpPre: make(rows * dMlp),
      mlpAct: make(rows * dMlp),
      mlpOut: make(rows * d),
      resid2: make(rows * d),
    };
    layers.push(acts);
    input = acts.resid2;
  }
  return {
    config: c,
    batch,
    length,
    float64,
    scores: options.scores === true,
    inputs: new Int32Array(rows),
    offsets: new Int32Array(batch),
    x0,
    layers,
    lnF: make(rows * d),
    lnFMean: make(rows),
    lnFRstd: make(rows),
    logits: make(rows * vocabSize),
  };
}

/**
 * Embeddings → blocks → ln_f → logits for `acts.inputs` (batch × length ids, checked by the
 * caller), into `acts`; the products go through `scratch`'s kernel. `p` must be checked
 * parameters (schema.ts) of the same storage kind as `acts`.
 */
export function forwardPass(config: GptConfig, p: ModelParams, acts: Activations, scratch: Scratch, batch: number, length: number): void {
  const { dModel: d, dMlp, heads, vocabSize } = config;
  const rows = batch * length;
  const n = rows * d;
  const s = scratch;
  embeddingForward(acts.inputs, p.wte, p.wpe, acts.x0, batch, length, d, acts.offsets);
  for (let l = 0; l < config.layers; l++) {
    const a = acts.layers[l];
    const w = p.blocks[l];
    layerNormForward(a.input, w.ln1w, w.ln1b, a.ln1, a.ln1Mean, a.ln1Rstd, rows, d);
    linearForward(a.ln1, w.attnW, w.attnB, a.qkv, rows, d, 3 * d, s);
    attentionForward(a.qkv, a.attn, a.probs, batch, length, heads, d / heads, s, a.scores);
    linearForward(a.attn, w.projW, w.projB, a.attnOut, rows, d, d, s);
    for (let i = 0; i < n; i++) a.resid1[i] = a.input[i] + a.attnOut[i];
    layerNormForward(a.resid1, w.ln2w, w.ln2b, a.ln2, a.ln2Mean, a.ln2Rstd, rows, d);
    linearForward(a.ln2, w.fcW, w.fcB, a.mlpPre, rows, d, dMlp, s);
    geluForward(a.mlpPre, a.mlpAct, rows * dMlp);
    linearForward(a.mlpAct, w.mlpW, w.mlpB, a.mlpOut, rows, dMlp, d, s);
    for (let i = 0; i < n; i++) a.resid2[i] = a.resid1[i] + a.mlpOut[i];
  }
  const last = acts.layers[config.layers - 1].resid2; // layers ≥ 1 (validateConfig)
  layerNormForward(last, p.lnfW, p.lnfB, acts.lnF, acts.lnFMean, acts.lnFRstd, rows, d);
  outputForward(acts.lnF, p.lmHead, acts.logits, rows, d, vocabSize, s.matmul);
}
