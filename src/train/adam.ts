/**
 * AdamW and global-norm gradient clipping for the decoder's parameters (src/model/schema.ts).
 *
 * Choices (as GPT-2 / nanoGPT-style training, stated so a run can be reproduced):
 * - Adam with bias correction, β₁ = 0.9, β₂ = 0.95 (the GPT-3 paper's β₂: faster to adapt
 *   than 0.999 when the loss moves quickly in a short run), ε = 1e-8.
 * - Weight decay 0.1, DECOUPLED (AdamW, Loshchilov & Hutter): p ← p·(1 − lr·wd) before the
 *   Adam step, as PyTorch's AdamW, not added to the gradient.
 * - Decay applies to the blocks' weight matrices only (c_attn, attn.c_proj, c_fc,
 *   mlp.c_proj). Not to biases or LayerNorm weights/biases (decaying a LayerNorm gain towards
 *   0 fights the normalisation), and not to the embeddings: `wte` is also the tied output
 *   layer, and decay would shrink the rows of rare tokens, which get little gradient, towards
 *   zero (as minGPT; nanoGPT decays every 2-d tensor instead). Pass `decay` to choose others.
 * - Moments are Float32Array, like the parameters; the update arithmetic is double.
 */
import { AttentionInputError } from '../core/errors';
import type { GptParams } from '../model/schema';

/** Options of {@link createAdam}. */
export interface AdamOptions {
  /** Learning rate used when `step` is given none (a schedule passes its own each step). */
  lr: number;
  /** Default 0.9. */
  beta1?: number;
  /** Default 0.95. */
  beta2?: number;
  /** Default 1e-8. */
  eps?: number;
  /** Decoupled weight decay (AdamW), default 0.1, applied where `decay(name)` is true. */
  weightDecay?: number;
  /** Which parameters are decayed; default {@link isDecayed}. */
  decay?: (name: string) => boolean;
}

/** An AdamW optimizer bound to one parameter map, updating it in place. */
export interface Adam {
  /** Steps taken so far (the bias correction's t). */
  readonly steps: number;
  /**
   * One update of every parameter from `grads` (same names and lengths as the parameters),
   * with learning rate `lr` (default: the options' lr). Refuses non-finite gradients before
   * changing anything (AttentionInputError naming `grads["name"][i]`), so one bad batch
   * cannot poison the parameters.
   */
  step(grads: GptParams, lr?: number): void;
  /** The first and second moments by parameter name (for inspection and tests). */
  readonly moments: ReadonlyMap<string, { m: Float32Array; v: Float32Array }>;
}

/** The default decay rule: the blocks' weight matrices, nothing else (module comment). */
export function isDecayed(name: string): boolean {
  return /^h\.\d+\.(attn\.c_attn|attn\.c_proj|mlp\.c_fc|mlp\.c_proj)\.weight$/.test(name);
}

function checkRate(field: string, value: unknown, allowed: string, ok: (v: number) => boolean): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || !ok(value)) {
    throw new AttentionInputError(field, typeof value === 'number' ? String(value) : typeof value, allowed, 'shape');
  }
  return value;
}

/** AdamW over `params` (see the module comment for the defaults and the decay rule). */
export function createAdam(params: GptParams, options: AdamOptions): Adam {
  const baseLr = checkRate('lr', options.lr, 'a finite number ≥ 0', (v) => v >= 0);
  const beta1 = checkRate('beta1', options.beta1 ?? 0.9, 'a number in [0, 1)', (v) => v >= 0 && v < 1);
  const beta2 = checkRate('beta2', options.beta2 ?? 0.95, 'a number in [0, 1)', (v) => v >= 0 && v < 1);
  const eps = checkRate('eps', options.eps ?? 1e-8, 'a finite number > 0', (v) => v > 0);
  const weightDecay = checkRate('weightDecay', options.weightDecay ?? 0.1, 'a finite number ≥ 0', (v) => v >= 0);
  const decay = options.decay ?? isDecayed;
  const moments = new Map<string, { m: Float32Array; v: Float32Array }>();
  for (const [name, data] of params) moments.set(name, { m: new Float32Array(data.length), v: new Float32Array(data.length) });
  let steps = 0;

  const step = (grads: GptParams, lr = baseLr): void => {
    checkRate('lr', lr, 'a finite number ≥ 0', (v) => v >= 0);
    for (const [name, data] of params) {
      const g = grads.get(name);
      const field = `grads[${JSON.stringify(name)}]`;
      if (g === undefined) throw new AttentionInputError(field, 'nothing', `a gradient of ${data.length} values`, 'type');
      if (g.length !== data.length) throw new AttentionInputError(field, `length ${g.length}`, `length ${data.length}`, 'length');
      for (let i = 0; i < g.length; i++) {
        if (!Number.isFinite(g[i])) throw new AttentionInputError(`${field}[${i}]`, String(g[i]), 'a finite number', 'non-finite');
      }
    }
    steps++;
    const correction1 = 1 - beta1 ** steps;
    const correction2 = 1 - beta2 ** steps;
    for (const [name, p] of params) {
      const g = grads.get(name)!;
      const { m, v } = moments.get(name)!;
      const shrink = decay(name) ? 1 - lr * weightDecay : 1;
      for (let i = 0; i < p.length; i++) {
        const gi = g[i];
        const mi = beta1 * m[i] + (1 - beta1) * gi;
        const vi = beta2 * v[i] + (1 - beta2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] = p[i] * shrink - (lr * (mi / correction1)) / (Math.sqrt(vi / correction2) + eps);
      }
    }
  };

  return {
    get steps() {
      return steps;
    },
    step,
    moments,
  };
}

/** The L2 norm of all gradients together, √(Σ g²), summed in double. */
export function gradNorm(grads: GptParams): number {
  let sum = 0;
  for (const g of grads.values()) for (let i = 0; i < g.length; i++) sum += g[i] * g[i];
  return Math.sqrt(sum);
}

/**
 * Scale every gradient by maxNorm / norm when the global norm exceeds `maxNorm` (in place),
 * as torch.nn.utils.clip_grad_norm_. Returns the norm BEFORE clipping (worth logging: spikes
 * show instability). A non-finite norm is returned as it is and nothing is scaled, so the
 * caller can skip that step (Adam refuses it anyway).
 */
export function clipGradNorm(grads: GptParams, maxNorm: number): number {
  checkRate('maxNorm', maxNorm, 'a finite number > 0', (v) => v > 0);
  const norm = gradNorm(grads);
  if (Number.isFinite(norm) && norm > maxNorm) {
    const scale = maxNorm / norm;
    for (const g of grads.values()) for (let i = 0; i < g.length; i++) g[i] *= scale;
  }
  return norm;
}
