/**
 * GPT-2's initialisation (Hugging Face `_init_weights`), reproducible from a seed: every weight
 * matrix and both embeddings normal(0, 0.02); the two c_proj weights (attn and mlp, the ones
 * feeding the residual stream) normal(0, 0.02/√(2·layers)); biases 0; LayerNorm weights 1,
 * biases 0. Normals come from Box–Muller on the seeded `makeRng`, drawn tensor by tensor in
 * paramShapes order (src/model/schema.ts), so a seed gives the same model in Node and in the
 * browser.
 */
import { makeRng, type Rng } from '../reference/random';
import { paramShapes, type GptConfig, type GptParams } from '../model/schema';

/**
 * Standard normal samples from a uniform generator, by Box–Muller: two uniforms give two
 * independent normals (the second is kept for the next call). 1 − u keeps log away from 0.
 */
export function gaussian(rng: Rng): () => number {
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const s = spare;
      spare = undefined;
      return s;
    }
    const radius = Math.sqrt(-2 * Math.log(1 - rng()));
    const angle = 2 * Math.PI * rng();
    spare = radius * Math.sin(angle);
    return radius * Math.cos(angle);
  };
}

/** GPT-2's initialisation, reproducible from `seed` (module comment). */
export function initParams(config: GptConfig, seed: number): GptParams {
  const shapes = paramShapes(config);
  const normal = gaussian(makeRng(seed));
  const residualStd = 0.02 / Math.sqrt(2 * config.layers);
  const params: GptParams = new Map();
  for (const [name, shape] of shapes) {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    if (name.endsWith('.bias')) {
      // zeros
    } else if (/(^|\.)ln_(1|2|f)\.weight$/.test(name)) {
      data.fill(1);
    } else {
      const std = name.endsWith('c_proj.weight') ? residualStd : 0.02;
      for (let i = 0; i < data.length; i++) data[i] = normal() * std;
    }
    params.set(name, data);
  }
  return params;
}
