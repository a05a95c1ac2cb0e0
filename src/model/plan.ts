/**
 * The forward plan: the GPT-2-style forward pass as data, the ordered steps a runner encodes.
 * A model is a config + a parameter schema (schema.ts) + this plan. The GPU forward
 * (src/kernels/model.ts) walks it, one kernel per op; test/unit/model-plan.test.ts checks it
 * against the schema (every parameter read by exactly one step, wte by two when it is tied) and
 * against the tensors the verification compares. The CPU forward (forward.ts) runs the same
 * order of operations written out by hand, kept as it is so training stays bit-identical.
 *
 * Tensors are named in one namespace: `tokens`, `embed`, `lnF`, `logits` for the whole pass,
 * `h.{i}/{tensor}` for block i's (`h.0/ln1`, `h.0/q`, …; {@link layerTensor}). The per-layer
 * names are those a GPU run can read back (MODEL_LAYER_TENSORS of src/kernels/model.ts).
 *
 * Ops are a closed union, open to extension: another architecture (Llama's RMSNorm, RoPE,
 * grouped-query attention, SwiGLU) adds its ops here and a case to each runner's switch.
 *
 * Imports only core and schema.ts, so the kernels layer may use it (.dependency-cruiser.cjs).
 */
import { isTied, validateConfig, type GptConfig } from './schema';

/** LayerNorm's ε, as GPT-2. */
export const PLAN_LAYER_NORM_EPS = 1e-5;

/** Token embedding + position embedding: x₀[t] = wte[token_t] + wpe[t]. params: wte, wpe; inputs: tokens. */
export interface EmbedStep {
  op: 'embed';
}

/** LayerNorm over each token's row (biased variance). params: weight, bias. */
export interface LayerNormStep {
  op: 'layerNorm';
  eps: number;
}

/**
 * The attention's input projection: c_attn (Conv1D d → 3d, with bias) split into Q, K, V
 * (outputs q, k, v, each seqLen × dModel, heads side by side). params: c_attn weight, bias.
 */
export interface QkvStep {
  op: 'qkv';
}

/**
 * Causal multi-head attention: inputs q, k, v; outputs the masked scores QKᵀ/√dHead, the
 * softmax weights (heads × seqLen × seqLen) and P·V (seqLen × dModel). No parameters.
 */
export interface AttentionStep {
  op: 'attention';
  heads: number;
  causal: true;
}

/**
 * y = x·W + b (Conv1D, W stored [inDim, outDim]), then `epilogue`: 'gelu' applies GPT-2's tanh
 * GELU; 'residual' adds inputs[1] (the residual stream). params: weight, bias.
 */
export interface LinearStep {
  op: 'linear';
  inDim: number;
  outDim: number;
  epilogue: 'none' | 'gelu' | 'residual';
}

/** logits = x·Wᵀ, W [vocab, d]: params wte (tied) or lm_head (untied). */
export interface LogitsStep {
  op: 'logits';
  vocabSize: number;
}

/** What every step has: where it is, what it reads and what it writes. */
export interface StepBase {
  /** The block (0-based), or null for the steps before and after the blocks. */
  layer: number | null;
  /** The GPT-2 module it runs, as a label: `embed`, `h.0/ln_1`, `h.0/attn.c_attn`, `h.0/attn`, …, `ln_f`, `logits`. */
  name: string;
  /** The parameters it reads, by their schema.ts names, in the order the op takes them. */
  params: readonly string[];
  /** The tensors it reads. */
  inputs: readonly string[];
  /** The tensors it writes. */
  outputs: readonly string[];
}

/** One step of the plan. */
export type PlanStep = StepBase & (EmbedStep | LayerNormStep | QkvStep | AttentionStep | LinearStep | LogitsStep);
/** The ops of a plan. */
export type PlanOp = PlanStep['op'];

/** The tensors of a whole pass (not per block). */
export const PLAN_GLOBAL_TENSORS = ['tokens', 'embed', 'lnF', 'logits'] as const;

/** Block i's tensor `name` in the plan's namespace: `h.{i}/{name}`. */
export function layerTensor(layer: number, name: string): string {
  return `h.${layer}/${name}`;
}

/** The ordered steps of the forward pass of `config` (validated; throws AttentionInputError as validateConfig). */
export function forwardPlan(config: GptConfig): PlanStep[] {
  const c = validateConfig(config);
  const { dModel: d, dMlp, heads, layers, vocabSize } = c;
  const steps: PlanStep[] = [{ op: 'embed', layer: null, name: 'embed', params: ['wte.weight', 'wpe.weight'], inputs: ['tokens'], outputs: ['embed'] }];
  let x = 'embed';
  for (let i = 0; i < layers; i++) {
    const p = (name: string) => `h.${i}.${name}`;
    const t = (name: string) => layerTensor(i, name);
    const [q, k, v] = [t('q'), t('k'), t('v')];
    steps.push(
      { op: 'layerNorm', eps: PLAN_LAYER_NORM_EPS, layer: i, name: t('ln_1'), params: [p('ln_1.weight'), p('ln_1.bias')], inputs: [x], outputs: [t('ln1')] },
      { op: 'qkv', layer: i, name: t('attn.c_attn'), params: [p('attn.c_attn.weight'), p('attn.c_attn.bias')], inputs: [t('ln1')], outputs: [q, k, v] },
      { op: 'attention', heads, causal: true, layer: i, name: t('attn'), params: [], inputs: [q, k, v], outputs: [t('scores'), t('weights'), t('attn')] },
      {
        op: 'linear',
        inDim: d,
        outDim: d,
        epilogue: 'residual',
        layer: i,
        name: t('attn.c_proj'),
        params: [p('attn.c_proj.weight'), p('attn.c_proj.bias')],
        inputs: [t('attn'), x],
        outputs: [t('resid1')],
      },
      { op: 'layerNorm', eps: PLAN_LAYER_NORM_EPS, layer: i, name: t('ln_2'), params: [p('ln_2.weight'), p('ln_2.bias')], inputs: [t('resid1')], outputs: [t('ln2')] },
      { op: 'linear', inDim: d, outDim: dMlp, epilogue: 'gelu', layer: i, name: t('mlp.c_fc'), params: [p('mlp.c_fc.weight'), p('mlp.c_fc.bias')], inputs: [t('ln2')], outputs: [t('mlpAct')] },
      {
        op: 'linear',
        inDim: dMlp,
        outDim: d,
        epilogue: 'residual',
        layer: i,
        name: t('mlp.c_proj'),
        params: [p('mlp.c_proj.weight'), p('mlp.c_proj.bias')],
        inputs: [t('mlpAct'), t('resid1')],
        outputs: [t('resid2')],
      },
    );
    x = t('resid2');
  }
  steps.push(
    { op: 'layerNorm', eps: PLAN_LAYER_NORM_EPS, layer: null, name: 'ln_f', params: ['ln_f.weight', 'ln_f.bias'], inputs: [x], outputs: ['lnF'] },
    { op: 'logits', vocabSize, layer: null, name: 'logits', params: [isTied(c) ? 'wte.weight' : 'lm_head.weight'], inputs: ['lnF'], outputs: ['logits'] },
  );
  return steps;
}
