/**
 * Training's loss and gradients: a batch through the forward pass (src/model/forward.ts),
 * softmax cross-entropy against the next tokens, and the hand-written backward (backward.ts)
 * into gradients by parameter name. Float32Array parameters give Float32 storage throughout
 * (training); Float64Array parameters run the same code in Float64 (the gradient checks).
 *
 * Pure TypeScript: runs in Node and in the browser (no DOM, no WebGPU, no node: modules).
 */
import { AttentionInputError } from '../core/errors';
import { MAX_ELEMENTS } from '../core/validate';
import { checkCount, forwardPass } from '../model/forward';
import { byRole, checkModelParams, checkTokenIds, describeValue, validateConfig, zerosLike, type Floats, type GptConfig, type GptParams, type ModelParams } from '../model/schema';
import {
  attentionBackward,
  crossEntropy,
  embeddingBackward,
  geluBackward,
  layerNormBackward,
  linearBackward,
  outputBackward,
} from './backward';
import { workspaceFor, type GptWorkspace } from './workspace';

/** Backward of forwardPass (src/model/forward.ts), from dlogits already in ws.logits; ADDS into `g`. */
function backwardPass(config: GptConfig, p: ModelParams, g: ModelParams, ws: GptWorkspace, batch: number, length: number): void {
  const { dModel: d, dMlp, heads, vocabSize } = config;
  const rows = batch * length;
  const s = ws.scratch;
  const dResid = ws.dResid;
  outputBackward(ws.lnF, p.lmHead, ws.logits, ws.dA, g.lmHead, rows, d, vocabSize, s);
  dResid.fill(0, 0, rows * d);
  const last = ws.layers[config.layers - 1].resid2; // layers ≥ 1 (validateConfig)
  layerNormBackward(last, p.lnfW, ws.lnFMean, ws.lnFRstd, ws.dA, dResid, g.lnfW, g.lnfB, rows, d);
  for (let l = config.layers - 1; l >= 0; l--) {
    const a = ws.layers[l];
    const w = p.blocks[l];
    const gw = g.blocks[l];
    // resid2 = resid1 + mlp(ln_2(resid1)): dResid reaches the MLP's output unchanged.
    linearBackward(a.mlpAct, w.mlpW, dResid, ws.dH2, gw.mlpW, gw.mlpB, rows, dMlp, d, s);
    geluBackward(a.mlpPre, ws.dH2, ws.dH1, rows * dMlp);
    linearBackward(a.ln2, w.fcW, ws.dH1, ws.dA, gw.fcW, gw.fcB, rows, d, dMlp, s);
    layerNormBackward(a.resid1, w.ln2w, a.ln2Mean, a.ln2Rstd, ws.dA, dResid, gw.ln2w, gw.ln2b, rows, d);
    // resid1 = input + attn(ln_1(input)).
    linearBackward(a.attn, w.projW, dResid, ws.dA, gw.projW, gw.projB, rows, d, d, s);
    attentionBackward(a.qkv, a.probs, ws.dA, ws.dQkv, batch, length, heads, d / heads, s);
    linearBackward(a.ln1, w.attnW, ws.dQkv, ws.dB, gw.attnW, gw.attnB, rows, d, 3 * d, s);
    layerNormBackward(a.input, w.ln1w, a.ln1Mean, a.ln1Rstd, ws.dB, dResid, gw.ln1w, gw.ln1b, rows, d);
  }
  embeddingBackward(ws.inputs, dResid, g.wte, g.wpe, batch, length, d, ws.offsets);
}

/**
 * A batch of training sequences: `batch` rows of `length + 1` token ids each (row-major in
 * `tokens`). Position t of a row predicts the token at t + 1, so each row gives `length`
 * predictions and the model sees `length` ≤ context tokens.
 */
export interface TokenBatch {
  tokens: Int32Array;
  batch: number;
  length: number;
  /**
   * The position of each row's first token (batch of them; default all 0): a window of `length`
   * tokens read with positions offsets[b] … offsets[b] + length − 1, each ≤ context − 1, so short
   * windows train every learned position.
   */
  offsets?: Int32Array;
}

/** Options of {@link lossAndGrads} and {@link lossOnly}. */
export interface TrainOptions<A extends Floats = Float32Array> {
  /**
   * Buffers to use (from {@link createWorkspace}, same kind as the parameters, large enough).
   * Default: one kept per parameter map, grown when a larger batch comes.
   */
  workspace?: GptWorkspace;
  /** Write the gradients into these (zeroed first) instead of new arrays. */
  grads?: GptParams<A>;
}

/** Loss and gradients of one batch. */
export interface LossAndGrads<A extends Floats = Float32Array> {
  /** Mean cross-entropy in nats per predicted token (batch·length of them). */
  loss: number;
  /** ∂loss/∂parameter, by parameter name, same kind as the parameters. */
  grads: GptParams<A>;
}

/** Check a batch and split it into the workspace's inputs and targets. */
function loadBatch(config: GptConfig, batch: TokenBatch, ws: GptWorkspace): void {
  const { batch: rows, length, tokens } = batch;
  ws.offsets.fill(0);
  if (batch.offsets !== undefined) ws.offsets.set(batch.offsets);
  for (let b = 0; b < rows; b++) {
    const from = b * (length + 1);
    for (let t = 0; t < length; t++) {
      ws.inputs[b * length + t] = tokens[from + t];
      ws.targets[b * length + t] = tokens[from + t + 1];
    }
  }
}

function checkBatch(config: GptConfig, batch: TokenBatch): void {
  if (typeof batch !== 'object' || batch === null) throw new AttentionInputError('batch', describeValue(batch), 'an object { tokens, batch, length }', 'type');
  checkCount('batch.batch', batch.batch, 1, MAX_ELEMENTS);
  checkCount('batch.length', batch.length, 1, config.context);
  const { tokens } = batch;
  if (!(tokens instanceof Int32Array)) throw new AttentionInputError('batch.tokens', describeValue(tokens), 'an Int32Array', 'type');
  const expected = batch.batch * (batch.length + 1);
  if (tokens.length !== expected) {
    throw new AttentionInputError('batch.tokens', `length ${tokens.length}`, `length ${expected} = batch ${batch.batch} × (length ${batch.length} + 1)`, 'length');
  }
  checkTokenIds('batch.tokens', tokens, config.vocabSize);
  const { offsets } = batch;
  if (offsets !== undefined) {
    if (!(offsets instanceof Int32Array)) throw new AttentionInputError('batch.offsets', describeValue(offsets), 'an Int32Array', 'type');
    if (offsets.length !== batch.batch) throw new AttentionInputError('batch.offsets', `length ${offsets.length}`, `length ${batch.batch} (one per row)`, 'length');
    const last = config.context - batch.length;
    for (let b = 0; b < offsets.length; b++) {
      if (offsets[b] < 0 || offsets[b] > last) {
        throw new AttentionInputError(`batch.offsets[${b}]`, String(offsets[b]), `a first position from 0 to ${last} (context ${config.context} − length ${batch.length})`, 'shape');
      }
    }
  }
}

/**
 * Mean cross-entropy of a batch and its gradient with respect to every parameter: the
 * forward pass, softmax cross-entropy against the next tokens, and the hand-written backward
 * (backward.ts). Float32Array parameters give Float32 storage throughout (training);
 * Float64Array parameters run the same code in Float64 (the gradient checks).
 *
 * Validates the config, the parameters and the batch (typed {@link AttentionInputError}s
 * naming the field). Buffers are reused across calls (see {@link TrainOptions}); the returned
 * gradients are new arrays unless `options.grads` is given.
 */
export function lossAndGrads<A extends Floats = Float32Array>(config: GptConfig, params: GptParams<A>, batch: TokenBatch, options: TrainOptions<A> = {}): LossAndGrads<A> {
  const c = validateConfig(config);
  checkModelParams(c, params);
  checkBatch(c, batch);
  const ws = workspaceFor(c, params, batch.batch, batch.length, options.workspace);
  let grads: GptParams<A>;
  if (options.grads !== undefined) {
    checkModelParams(c, options.grads);
    if ((options.grads.get('wte.weight') instanceof Float64Array) !== ws.float64) {
      throw new AttentionInputError('grads', 'arrays of another kind', 'the same kind (Float32Array or Float64Array) as the parameters', 'type');
    }
    grads = options.grads;
    for (const g of grads.values()) g.fill(0);
  } else {
    grads = zerosLike(params);
  }
  loadBatch(c, batch, ws);
  const p = byRole(c, params);
  forwardPass(c, p, ws, ws.scratch, batch.batch, batch.length);
  const rows = batch.batch * batch.length;
  // The mean over predicted tokens: dloss/dlogits = (softmax − onehot)/rows, in place.
  const total = crossEntropy(ws.logits, ws.targets, rows, c.vocabSize, ws.logits, 1 / rows);
  backwardPass(c, p, byRole(c, grads), ws, batch.batch, batch.length);
  return { loss: total / rows, grads };
}

/** Mean cross-entropy of a batch (nats per predicted token), forward only. */
export function lossOnly<A extends Floats = Float32Array>(config: GptConfig, params: GptParams<A>, batch: TokenBatch, options: Pick<TrainOptions<A>, 'workspace'> = {}): number {
  const c = validateConfig(config);
  checkModelParams(c, params);
  checkBatch(c, batch);
  const ws = workspaceFor(c, params, batch.batch, batch.length, options.workspace);
  loadBatch(c, batch, ws);
  forwardPass(c, byRole(c, params), ws, ws.scratch, batch.batch, batch.length);
  const rows = batch.batch * batch.length;
  return crossEntropy(ws.logits, ws.targets, rows, c.vocabSize) / rows;
}

/** Held-out loss: the mean over every predicted token of all batches, and how many there were. */
export function evaluate<A extends Floats = Float32Array>(config: GptConfig, params: GptParams<A>, batches: Iterable<TokenBatch>): { loss: number; tokens: number } {
  let total = 0;
  let tokens = 0;
  for (const batch of batches) {
    const count = batch.batch * batch.length;
    total += lossOnly(config, params, batch) * count;
    tokens += count;
  }
  if (tokens === 0) throw new AttentionInputError('batches', 'none', 'at least one batch', 'length');
  return { loss: total / tokens, tokens };
}
