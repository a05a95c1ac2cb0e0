/**
 * The model's forward plan (src/model/plan.ts), the order of operations the GPU forward
 * (src/kernels/model.ts) encodes: for the shipped config (2 layers) the steps written out by
 * hand here; every parameter of the schema read by exactly one step (wte by two: the embedding
 * and the tied output layer); every tensor read after a step wrote it; and the per-layer tensors
 * the plan writes are those a GPU run reads back (MODEL_LAYER_TENSORS) and include every one the
 * verification compares (src/verify/model.ts's LayerArrays).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AttentionInputError } from '../../src/core/errors';
import { MODEL_LAYER_TENSORS } from '../../src/kernels/model';
import { readCheckpoint } from '../../src/model/checkpoint';
import { forwardPlan, layerTensor, PLAN_GLOBAL_TENSORS, type PlanStep } from '../../src/model/plan';
import { paramShapes, type GptConfig } from '../../src/model/schema';
import type { LayerArrays } from '../../src/verify/model';

const FILE = 'public/models/tiny-stories/model.safetensors';
const shipped = readCheckpoint(readFileSync(FILE), FILE).config;

/** The per-layer tensors the verification compares: every key of LayerArrays, checked by the type below. */
const VERIFIED = ['q', 'k', 'v', 'scores', 'weights', 'attn'] as const;
type Missing = Exclude<keyof LayerArrays, (typeof VERIFIED)[number]>;
const allVerified: Missing extends never ? true : never = true;

/** A step as [op, name, params, inputs, outputs] (what the hand-written list below spells out). */
const brief = (s: PlanStep) => [s.op, s.name, s.params, s.inputs, s.outputs];

/** Block i's steps, written out. */
function block(i: number, x: string, d: number, dMlp: number): unknown[][] {
  const p = (name: string) => `h.${i}.${name}`;
  const t = (name: string) => `h.${i}/${name}`;
  return [
    ['layerNorm', t('ln_1'), [p('ln_1.weight'), p('ln_1.bias')], [x], [t('ln1')]],
    ['qkv', t('attn.c_attn'), [p('attn.c_attn.weight'), p('attn.c_attn.bias')], [t('ln1')], [t('q'), t('k'), t('v')]],
    ['attention', t('attn'), [], [t('q'), t('k'), t('v')], [t('scores'), t('weights'), t('attn')]],
    ['linear', t('attn.c_proj'), [p('attn.c_proj.weight'), p('attn.c_proj.bias')], [t('attn'), x], [t('resid1')], d, d, 'residual'],
    ['layerNorm', t('ln_2'), [p('ln_2.weight'), p('ln_2.bias')], [t('resid1')], [t('ln2')]],
    ['linear', t('mlp.c_fc'), [p('mlp.c_fc.weight'), p('mlp.c_fc.bias')], [t('ln2')], [t('mlpAct')], d, dMlp, 'gelu'],
    ['linear', t('mlp.c_proj'), [p('mlp.c_proj.weight'), p('mlp.c_proj.bias')], [t('mlpAct'), t('resid1')], [t('resid2')], dMlp, d, 'residual'],
  ];
}

describe('forwardPlan', () => {
  const plan = forwardPlan(shipped);

  it('the shipped model is the 2-layer config this file writes out', () => {
    expect(shipped).toEqual({ vocabSize: 331, context: 128, dModel: 64, heads: 4, layers: 2, dMlp: 256, tiedEmbeddings: false });
  });

  it('lists the steps of GPT-2, in order, with the parameters and tensors of each', () => {
    const { dModel: d, dMlp } = shipped;
    const withShape = (s: PlanStep) => (s.op === 'linear' ? [...brief(s), s.inDim, s.outDim, s.epilogue] : brief(s));
    expect(plan.map(withShape)).toEqual([
      ['embed', 'embed', ['wte.weight', 'wpe.weight'], ['tokens'], ['embed']],
      ...block(0, 'embed', d, dMlp),
      ...block(1, 'h.0/resid2', d, dMlp),
      ['layerNorm', 'ln_f', ['ln_f.weight', 'ln_f.bias'], ['h.1/resid2'], ['lnF']],
      // Its output layer is untied: the logits read lm_head.weight.
      ['logits', 'logits', ['lm_head.weight'], ['lnF'], ['logits']],
    ]);
    expect(plan.map((s) => s.layer)).toEqual([null, ...Array<number>(7).fill(0), ...Array<number>(7).fill(1), null, null]);
    for (const step of plan) {
      if (step.op === 'layerNorm') expect(step.eps).toBe(1e-5);
      if (step.op === 'attention') expect([step.heads, step.causal]).toEqual([4, true]);
      if (step.op === 'logits') expect(step.vocabSize).toBe(331);
    }
  });

  it('reads every parameter of the schema once (wte twice when tied: embedding and logits), and nothing else', () => {
    const tiedShipped: GptConfig = { ...shipped, tiedEmbeddings: true };
    for (const config of [shipped, tiedShipped, { vocabSize: 7, context: 5, dModel: 6, heads: 3, layers: 3, dMlp: 10 }] satisfies GptConfig[]) {
      const tied = config.tiedEmbeddings !== false;
      const reads = new Map<string, string[]>();
      for (const step of forwardPlan(config)) for (const name of step.params) reads.set(name, [...(reads.get(name) ?? []), step.name]);
      expect([...reads.keys()].sort()).toEqual([...paramShapes(config).keys()].sort());
      for (const [name, steps] of reads) expect(steps, name).toEqual(name === 'wte.weight' && tied ? ['embed', 'logits'] : [expect.any(String)]);
    }
  });

  it('an untied config reads lm_head.weight in the logits step, wte once', () => {
    const untied: GptConfig = { vocabSize: 7, context: 5, dModel: 6, heads: 3, layers: 1, dMlp: 10, tiedEmbeddings: false };
    const steps = forwardPlan(untied);
    expect(steps.at(-1)!.params).toEqual(['lm_head.weight']);
    const reads = steps.flatMap((step) => step.params);
    expect(reads.filter((name) => name === 'wte.weight')).toHaveLength(1);
    expect([...reads].sort()).toEqual([...paramShapes(untied).keys()].sort());
  });

  it('reads each tensor only after a step wrote it, and writes each once', () => {
    const written = new Set<string>(['tokens']);
    for (const step of plan) {
      for (const name of step.inputs) expect(written.has(name), `${step.name} reads ${name}`).toBe(true);
      for (const name of step.outputs) {
        expect(written.has(name), `${name} written twice`).toBe(false);
        written.add(name);
      }
    }
    expect([...written].filter((name) => !name.startsWith('h.'))).toEqual([...PLAN_GLOBAL_TENSORS]);
  });

  it('writes per layer the tensors a GPU run reads back, among them those the verification compares', () => {
    expect(allVerified).toBe(true);
    for (let layer = 0; layer < shipped.layers; layer++) {
      const outputs = plan.filter((s) => s.layer === layer).flatMap((s) => s.outputs);
      expect(outputs).toEqual(MODEL_LAYER_TENSORS.map((name) => layerTensor(layer, name)));
      for (const name of VERIFIED) expect(outputs).toContain(layerTensor(layer, name));
    }
  });

  it('checks the config (AttentionInputError naming the field)', () => {
    expect(() => forwardPlan({ ...shipped, heads: 5 })).toThrow(AttentionInputError);
  });
});
