// The CPU forward split over parts (src/workers/model-cpu-shard.ts), its parts run in this
// thread: one part is bit for bit the one-thread forward (createCpuForward, same sums in the same
// order); 2, 3 and 5 parts (5 > heads: a part without heads) equal it within float32 rounding and
// the f64 reference within the same tolerance as the one-thread forward.
import { describe, expect, it } from 'vitest';
import { forwardReference } from '../../src/model/forward-reference';
import type { GptConfig, GptParams } from '../../src/model/schema';
import { makeRng } from '../../src/reference/random';
import { gaussian, initParams } from '../../src/train/init';
import { sharedSimdMatmul } from '../../src/train/simd-matmul';
import { compareArrays } from '../../src/verify/compare';
import { createCpuForward, prepareCpuModel } from '../../src/workers/model-cpu-forward';
import { createShardSteps, partRange, shardCpuModel, shardedForward, trunkOf, type ShardRunner } from '../../src/workers/model-cpu-shard';

const ODD: GptConfig = { vocabSize: 31, context: 41, dModel: 36, heads: 3, layers: 3, dMlp: 58 };

function oddParams(seed: number): GptParams {
  const params = initParams(ODD, seed);
  const normal = gaussian(makeRng(seed + 1));
  for (const [name, data] of params) {
    if (name.endsWith('.bias')) for (let i = 0; i < data.length; i++) data[i] = 0.3 * normal();
    else if (/ln_(1|2|f)\.weight$/.test(name)) for (let i = 0; i < data.length; i++) data[i] = 1 + 0.3 * normal();
    else if (name.endsWith('c_attn.weight')) for (let i = 0; i < data.length; i++) data[i] *= 12;
    else if (name === 'wte.weight') for (let i = 0; i < data.length; i++) data[i] *= 25;
  }
  return params;
}

const params = oddParams(8);
const model = prepareCpuModel(ODD, new Map(params));
const matmul = sharedSimdMatmul('f32')!;
const single = createCpuForward(model, matmul);

/** The parts of a `parts`-way split, run in this thread. */
function runners(parts: number): ShardRunner[] {
  return Array.from({ length: parts }, (_, p) => {
    const steps = createShardSteps(shardCpuModel(model, parts, p), matmul);
    return {
      attention: async (l, ln, T) => steps.attention(l, ln, T),
      mlp: async (l, ln, T) => steps.mlp(l, ln, T),
      logits: async (lnF, T) => steps.logits(lnF, T),
    };
  });
}

describe('the CPU forward split over parts', () => {
  it('splits ranges into near-equal parts that cover them', () => {
    expect([0, 1, 2].map((p) => partRange(58, 3, p))).toEqual([[0, 19], [19, 38], [38, 58]]);
    expect([0, 1, 2, 3, 4].map((p) => partRange(3, 5, p))).toEqual([[0, 0], [0, 1], [1, 1], [1, 2], [2, 3]]);
  });

  it('slices each part’s heads, hidden units and vocabulary rows out of the prepared weights', () => {
    const s = shardCpuModel(model, 3, 1); // head 1 (columns 12…23), hidden 19…37, vocab 10…19
    expect([s.heads, s.hidden, s.vocab]).toEqual([[1, 2], [19, 38], [10, 20]]);
    const w = model.blocks[2];
    const b = s.blocks[2];
    const d = ODD.dModel;
    // K row 3 of the part is c_attn's (transposed) row d + 12 + 3.
    expect(b.attnWT.subarray((12 + 3) * d, (12 + 4) * d)).toEqual(w.attnWT.subarray((d + 15) * d, (d + 16) * d));
    expect(b.attnB[2 * 12 + 5]).toBe(w.attnB[2 * d + 12 + 5]);
    expect(b.projWT[7 * 12 + 4]).toBe(w.projWT[7 * d + 12 + 4]);
    expect(b.fcWT.subarray(0, d)).toEqual(w.fcWT.subarray(19 * d, 20 * d));
    expect(b.mlpWT[5 * 19 + 18]).toBe(w.mlpWT[5 * ODD.dMlp + 37]);
    expect(s.wte.subarray(0, d)).toEqual(model.wte.subarray(10 * d, 11 * d));
  });

  it('in one part is bit for bit the one-thread forward', async () => {
    const tokens = Array.from({ length: 41 }, (_, i) => (i * 7 + 2) % ODD.vocabSize);
    const logits = await shardedForward(trunkOf(model), runners(1), tokens);
    expect(Array.from(logits)).toEqual(Array.from(single(tokens)));
  });

  for (const parts of [2, 3, 5]) {
    it(`in ${parts} parts equals the one-thread forward within float32 rounding and the f64 reference`, async () => {
      for (const length of [41, 1, 17]) {
        const tokens = Array.from({ length }, (_, i) => (i * 5 + parts) % ODD.vocabSize);
        const logits = await shardedForward(trunkOf(model), runners(parts), tokens);
        const reference = forwardReference(ODD, params, tokens).logits;
        let scale = 0;
        for (const v of reference) scale = Math.max(scale, Math.abs(v));
        const vsSingle = compareArrays(logits, single(tokens), { atol: 1e-5 * scale, rtol: 1e-5 });
        expect(vsSingle.failures, `${length} tokens vs one thread: max |Δ| ${vsSingle.maxAbsErr}`).toBe(0);
        const vsReference = compareArrays(logits, reference, { atol: 2e-5 * scale, rtol: 1e-4 });
        expect(vsReference.failures, `${length} tokens vs f64: worst [${vsReference.worstIndex}] ${vsReference.worstActual} vs ${vsReference.worstExpected}`).toBe(0);
      }
    });
  }
});
