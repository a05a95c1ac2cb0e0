/**
 * Mapping imported tensors to attention roles (src/inputs/tensor-roles.ts): names to roles,
 * transposes of PyTorch weights, shapes derived and checked, Q/K/V given directly, and the
 * export that maps back. Files go through the .safetensors writer and reader, as in the app.
 */
import { describe, expect, it } from 'vitest';
import { AttentionInputError } from '../../src/core/errors';
import { readSafetensors, writeSafetensors } from '../../src/inputs/safetensors';
import { guessRoles, shapeFromRoles, tensorsFromInputs, transpose2d } from '../../src/inputs/tensor-roles';
import type { Tensor } from '../../src/inputs/tensors';
import { makeRandomInputs } from '../../src/reference/random';
import { thrown } from './expect-thrown';

describe('role mapping (import dialog)', () => {
  const t = (name: string, shape: number[], fill = 0.5): Tensor => ({
    name,
    shape,
    dtype: 'float32',
    data: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(fill),
  });

  const inputError = (fn: () => unknown): AttentionInputError => thrown(AttentionInputError, fn);

  it('maps common names to roles', () => {
    const cases: Array<[string, string]> = [
      ['x', 'x'], ['X', 'x'], ['input', 'x'], ['embeddings', 'x'], ['hidden_states', 'x'],
      ['x_kv', 'xKV'], ['context', 'xKV'],
      ['wq', 'wq'], ['W_Q', 'wq'], ['w_k', 'wk'], ['Wv', 'wv'], ['to_q', 'wq'],
      ['q', 'q'], ['K', 'k'], ['value', 'v'],
    ];
    for (const [name, role] of cases) {
      const guess = guessRoles([t(name, [4, 4])]);
      expect(Object.entries(guess.roles).map(([r, a]) => [r, a?.name])).toEqual([[role, name]]);
    }
    expect(guessRoles([t('bias', [4]), t('q_proj.bias', [4])]).unassigned).toEqual(['bias', 'q_proj.bias']);
  });

  it('proposes transposes for PyTorch Linear weights, and says why', () => {
    const tensors = [
      t('model.layers.0.self_attn.q_proj.weight', [48, 32]),
      t('model.layers.0.self_attn.k_proj.weight', [48, 32]),
      t('encoder.layer.0.attention.self.value.weight', [48, 32]),
      t('inputs_embeds', [1, 6, 32]),
    ];
    const guess = guessRoles(tensors);
    expect(guess.roles.x).toEqual({ name: 'inputs_embeds', transpose: false });
    expect(guess.roles.wq).toEqual({ name: tensors[0].name, transpose: true });
    expect(guess.roles.wk?.transpose).toBe(true);
    expect(guess.roles.wv).toEqual({ name: tensors[2].name, transpose: true });
    expect(guess.notes.join('\n')).toContain('transposed');
    // Already dModel × width: no transpose, even with a .weight name.
    expect(guessRoles([t('x', [6, 32]), t('query.weight', [32, 48])]).roles.wq?.transpose).toBe(false);
    // Shape alone: a weight named wq stored (out, in).
    expect(guessRoles([t('x', [6, 32]), t('wq', [48, 32])]).roles.wq?.transpose).toBe(true);
    // Ambiguous names: first one wins, the note says so.
    const twice = guessRoles([t('wq', [2, 2]), t('W_Q', [2, 2])]);
    expect(twice.roles.wq?.name).toBe('wq');
    expect(twice.unassigned).toEqual(['W_Q']);
    expect(twice.notes[0]).toContain('both');
  });

  it('derives the shape and inputs from x and PyTorch weights through a .safetensors round trip', () => {
    const rows = 6;
    const dModel = 4;
    const width = 6;
    const wqOutIn = t('q_proj.weight', [width, dModel]);
    wqOutIn.data.forEach((_, i, a) => (a[i] = i));
    const file = writeSafetensors([t('x', [1, rows, dModel]), wqOutIn, t('k_proj.weight', [width, dModel]), t('v_proj.weight', [width, dModel])]);
    const tensors = readSafetensors(file);
    const { roles } = guessRoles(tensors);
    const result = shapeFromRoles(roles, tensors, 2);
    expect(result.mode).toBe('weights');
    if (result.mode !== 'weights') return;
    expect(result.shape).toEqual({ seqLen: rows, kvLen: rows, dModel, heads: 2, dHead: 3 });
    // wq[i][j] = W[j][i]: row i of ours is column i of PyTorch's (out, in) weight.
    expect(result.inputs.wq[0 * width + 1]).toBe(wqOutIn.data[1 * dModel + 0]);
    expect(result.inputs.wq[3 * width + 5]).toBe(wqOutIn.data[5 * dModel + 3]);
  });

  it('explains disagreeing shapes, naming the tensor, its shape and the shape expected', () => {
    const tensors = [t('x', [5, 32]), t('wq', [64, 48]), t('wk', [32, 48]), t('wv', [32, 48])];
    const roles = { x: { name: 'x', transpose: false }, wq: { name: 'wq', transpose: false }, wk: { name: 'wk', transpose: false }, wv: { name: 'wv', transpose: false } };
    let e = inputError(() => shapeFromRoles(roles, tensors, 4));
    expect(e.field).toBe('wq');
    expect(e.message).toContain('[64, 48]');
    expect(e.message).toContain('dModel 32');
    expect(e.message).toContain('[32, heads·dHead]');
    e = inputError(() => shapeFromRoles(roles, [t('x', [5, 32]), t('wq', [48, 32]), tensors[2], tensors[3]], 4));
    expect(e.message).toContain('transpose');
    e = inputError(() => shapeFromRoles(roles, [tensors[0], t('wq', [32, 48]), t('wk', [32, 40]), tensors[3]], 4));
    expect(e.field).toBe('wk');
    e = inputError(() => shapeFromRoles(roles, [tensors[0], t('wq', [32, 48]), tensors[2], tensors[3]], 5));
    expect(e.field).toBe('heads');
    expect(e.message).toContain('48');
    e = inputError(() => shapeFromRoles({ ...roles, xKV: { name: 'ctx', transpose: false } }, [...tensors, t('ctx', [7, 16])], 4));
    expect(e.field).toBe('xKV');
    e = inputError(() => shapeFromRoles({ ...roles, x: { name: 'nope', transpose: false } }, tensors, 4));
    expect(e.given).toContain('nope');
    e = inputError(() => shapeFromRoles(roles, [t('x', [2, 5, 32]), ...tensors.slice(1)], 4));
    expect(e.message).toContain('[2, 5, 32]');
    e = inputError(() => shapeFromRoles({ x: roles.x, wq: roles.wq }, tensors, 4));
    expect(e.field).toBe('roles');
    e = inputError(() => shapeFromRoles(roles, [t('x', [5, 32], Number.NaN), t('wq', [32, 48]), tensors[2], tensors[3]], 4));
    expect(e.kind).toBe('non-finite');
    expect(inputError(() => shapeFromRoles(roles, tensors, 0)).field).toBe('heads');
  });

  it('supports cross-attention through xKV', () => {
    const tensors = [t('x', [3, 8]), t('memory', [5, 8]), t('wq', [8, 4]), t('wk', [8, 4]), t('wv', [8, 4])];
    const result = shapeFromRoles(guessRoles(tensors).roles, tensors, 2);
    expect(result.shape).toEqual({ seqLen: 3, kvLen: 5, dModel: 8, heads: 2, dHead: 2 });
  });

  it('takes Q, K (and V) directly', () => {
    const tensors = [t('q', [3, 8]), t('k', [5, 8]), t('v', [5, 8])];
    const result = shapeFromRoles(guessRoles(tensors).roles, tensors, 2);
    expect(result.mode).toBe('direct');
    expect(result.shape).toEqual({ seqLen: 3, kvLen: 5, width: 8, heads: 2, dHead: 4 });
    const noV = shapeFromRoles(guessRoles(tensors.slice(0, 2)).roles, tensors.slice(0, 2), 4);
    expect(noV.mode === 'direct' && noV.v === undefined).toBe(true);
    const roles = guessRoles(tensors).roles;
    expect(inputError(() => shapeFromRoles(roles, [tensors[0], t('k', [5, 6]), tensors[2]], 2)).field).toBe('k');
    expect(inputError(() => shapeFromRoles(roles, [tensors[0], tensors[1], t('v', [4, 8])], 2)).field).toBe('v');
    expect(inputError(() => shapeFromRoles(roles, tensors, 3)).field).toBe('heads');
  });

  it('exports the current inputs so they import back unchanged', () => {
    const shape = { seqLen: 3, kvLen: 4, dModel: 4, heads: 2, dHead: 3 };
    const inputs = makeRandomInputs(shape, 7);
    const back = readSafetensors(writeSafetensors(tensorsFromInputs(shape, inputs)));
    const result = shapeFromRoles(guessRoles(back).roles, back, 2);
    expect(result).toEqual({ mode: 'weights', shape, inputs });
  });

  it('transposes 2-d tensors of any size', () => {
    const m = t('m', [37, 70]);
    m.data.forEach((_, i, a) => (a[i] = i));
    const tt = transpose2d(m);
    expect(tt.shape).toEqual([70, 37]);
    expect(tt.data[5 * 37 + 36]).toBe(36 * 70 + 5);
    expect(transpose2d(tt).data).toEqual(m.data);
    expect(inputError(() => transpose2d(t('v', [3]))).kind).toBe('shape');
  });
});
