/**
 * Which imported tensor plays which role of an attention computation (x, xKV, W_Q, W_K, W_V,
 * or Q, K, V directly): proposing roles from tensor names and shapes for the import dialog,
 * turning a mapping into checked inputs in our layouts, and the export that maps back.
 * Pure TypeScript: runs in Node and in the tensor worker.
 */
import { AttentionInputError } from '../core/errors';
import type { AttentionInputs, AttentionShape } from '../core/types';
import { validateAttention, validateShape } from '../core/validate';
import { formatShape, type Tensor } from './tensors';

/**
 * What a tensor is for. `x` (seqLen × dModel), `xKV` (kvLen × dModel, cross-attention) and
 * `wq|wk|wv` (dModel × heads·dHead) feed the projections; `q`, `k`, `v` skip them.
 */
export type Role = 'x' | 'xKV' | 'wq' | 'wk' | 'wv' | 'q' | 'k' | 'v';

/** Every role, in the order the import dialog lists them. */
export const ROLES: readonly Role[] = ['x', 'xKV', 'wq', 'wk', 'wv', 'q', 'k', 'v'];

/** One tensor assigned to a role. */
export interface RoleAssignment {
  /** The tensor's name in the file. */
  name: string;
  /**
   * Transpose a 2-d tensor before use. Needed for PyTorch `nn.Linear` weights, which are
   * stored (out, in) = (heads·dHead, dModel) while we use dModel × heads·dHead.
   */
  transpose: boolean;
}

/** Which tensor plays which role (a role may be left out). */
export type RoleMap = Partial<Record<Role, RoleAssignment>>;

/** A proposed role mapping, for the import dialog to show and let the user change. */
export interface RoleGuess {
  roles: RoleMap;
  /** One line per proposal that needs explaining (transposes, ambiguities), for the dialog. */
  notes: string[];
  /** Names of tensors no role was proposed for. */
  unassigned: string[];
}

type Family = 'q' | 'k' | 'v';

// Names are matched after lower-casing and dropping '_' and '-'; the last dotted segment
// other than 'weight' is the base ('model.layers.0.self_attn.q_proj.weight' → 'qproj').
const X_NAMES = new Set(['x', 'input', 'inputs', 'inputembeds', 'inputsembeds', 'embeddings', 'embedding', 'embeds', 'hiddenstates', 'hidden', 'tokens', 'xq']);
const XKV_NAMES = new Set(['xkv', 'kvinput', 'context', 'memory', 'encoderhiddenstates', 'encoderoutput', 'source']);
const FAMILY_WORDS: Record<Family, string[]> = { q: ['q', 'query'], k: ['k', 'key'], v: ['v', 'value'] };

function weightFamily(base: string, dottedWeight: boolean): Family | undefined {
  for (const family of ['q', 'k', 'v'] as const) {
    for (const word of FAMILY_WORDS[family]) {
      // A bare 'q' / 'query' is a weight only when the name ends in '.weight' (attn.q.weight).
      if (dottedWeight && base === word) return family;
      for (const form of [`w${word}`, `${word}proj`, `${word}projection`, `to${word}`, `${word}weight`, `weight${word}`, `${word}w`, `${word}linear`]) {
        if (base === form) return family;
      }
    }
  }
  return undefined;
}

function directFamily(base: string): Family | undefined {
  if (['q', 'query', 'queries'].includes(base)) return 'q';
  if (['k', 'key', 'keys'].includes(base)) return 'k';
  if (['v', 'value', 'values'].includes(base)) return 'v';
  return undefined;
}

/** Shape with leading size-1 dims dropped down to 2-d ([1, 6, 32] → [6, 32]): batch of one. */
function squeezeLeading(shape: readonly number[]): number[] {
  const out = shape.slice();
  while (out.length > 2 && out[0] === 1) out.shift();
  return out;
}

/**
 * Propose roles from tensor names: `x`/`input`/`embeddings`/`hidden_states` → x;
 * `x_kv`/`context`/`memory` → xKV; `wq`/`W_Q`/`q_proj.weight`/`query.weight`/`to_q` → wq (and
 * likewise k, v); bare `q`/`query`, `k`/`key`, `v`/`value` → q, k, v. Each tensor gets at most
 * one role, each role at most one tensor (the first match; later ones are noted).
 *
 * A weight is proposed transposed when its name ends in `.weight` (PyTorch `nn.Linear`
 * stores (out, in)), unless x's width shows it is already dModel × width; and any 2-d
 * weight whose second dim, not first, equals x's width is proposed transposed too. When the
 * matrix is square the shapes cannot tell, so the name decides; the note says so.
 */
export function guessRoles(tensors: readonly Tensor[]): RoleGuess {
  const roles: RoleMap = {};
  const notes: string[] = [];
  const unassigned: string[] = [];
  const claim = (role: Role, tensor: Tensor, transpose: boolean): boolean => {
    const taken = roles[role];
    if (taken !== undefined) {
      notes.push(`${role}: both ${JSON.stringify(taken.name)} and ${JSON.stringify(tensor.name)} match; proposed ${JSON.stringify(taken.name)}.`);
      return false;
    }
    roles[role] = { name: tensor.name, transpose };
    return true;
  };

  const weights: Array<[Family, Tensor, boolean]> = [];
  for (const tensor of tensors) {
    const segments = tensor.name.toLowerCase().split(/[./]/).filter((s) => s.length > 0);
    const dottedWeight = segments.length > 1 && segments[segments.length - 1] === 'weight';
    const base = (dottedWeight ? segments[segments.length - 2] : segments[segments.length - 1] ?? '').replace(/[_-]/g, '');
    const weight = weightFamily(base, dottedWeight);
    let claimed = false;
    if (weight !== undefined) {
      weights.push([weight, tensor, dottedWeight]);
      continue;
    }
    if (X_NAMES.has(base)) claimed = claim('x', tensor, false);
    else if (XKV_NAMES.has(base)) claimed = claim('xKV', tensor, false);
    else {
      const direct = directFamily(base);
      if (direct !== undefined) claimed = claim(direct, tensor, false);
    }
    if (!claimed) unassigned.push(tensor.name);
  }

  // Weights last, so x's width is known when deciding on transposes.
  const x = roles.x === undefined ? undefined : tensors.find((t) => t.name === roles.x?.name);
  const xShape = x === undefined ? undefined : squeezeLeading(x.shape);
  const dModel = xShape !== undefined && xShape.length === 2 ? xShape[1] : undefined;
  for (const [family, tensor, dottedWeight] of weights) {
    const role = `w${family}` as Role;
    let transpose = dottedWeight;
    let why = 'its name ends in .weight (PyTorch nn.Linear stores (out, in))';
    if (tensor.shape.length === 2 && dModel !== undefined) {
      const [rows, cols] = tensor.shape;
      if (rows === dModel && cols !== dModel) {
        transpose = false;
      } else if (cols === dModel && rows !== dModel) {
        transpose = true;
        why = `its shape ${formatShape(tensor.shape)} has x's width ${dModel} second`;
      } else if (rows === dModel && cols === dModel && dottedWeight) {
        why += '; the matrix is square, so check this';
      }
    }
    if (claim(role, tensor, transpose)) {
      if (transpose) notes.push(`${role}: ${JSON.stringify(tensor.name)} proposed transposed, because ${why}.`);
    } else {
      unassigned.push(tensor.name);
    }
  }
  return { roles, notes, unassigned };
}

/** A 2-d tensor transposed: shape [rows, cols] → [cols, rows], data row-major again. */
export function transpose2d(tensor: Tensor): Tensor {
  if (tensor.shape.length !== 2) {
    throw new AttentionInputError(tensor.name, `shape ${formatShape(tensor.shape)}`, 'a 2-d tensor to transpose', 'shape');
  }
  const [rows, cols] = tensor.shape;
  const src = tensor.data;
  const out = new Float32Array(rows * cols);
  // 32 × 32 tiles keep both the reads and the writes within cache lines for big matrices.
  const tile = 32;
  for (let r0 = 0; r0 < rows; r0 += tile) {
    const r1 = Math.min(r0 + tile, rows);
    for (let c0 = 0; c0 < cols; c0 += tile) {
      const c1 = Math.min(c0 + tile, cols);
      for (let r = r0; r < r1; r++) {
        for (let c = c0; c < c1; c++) out[c * rows + r] = src[r * cols + c];
      }
    }
  }
  return { name: tensor.name, shape: [cols, rows], dtype: tensor.dtype, data: out };
}

/** Sizes for Q, K, V given directly: no projections to run. */
export interface DirectShape {
  seqLen: number;
  kvLen: number;
  /** heads·dHead: columns of q, k and v. */
  width: number;
  heads: number;
  dHead: number;
}

/** What a role mapping yields: inputs for the full pipeline, or Q, K (and V) directly. */
export type RoleInputs =
  | { mode: 'weights'; shape: Required<Omit<AttentionShape, 'causal'>>; inputs: AttentionInputs }
  | { mode: 'direct'; shape: DirectShape; q: Float32Array; k: Float32Array; v?: Float32Array };

/**
 * Derive the attention sizes from the tensors a role mapping names, checking they agree, and
 * return the arrays in our layouts (transposed where the mapping says). Two modes:
 * - weights: x, wq, wk, wv (and optionally xKV) → seqLen, kvLen, dModel, heads, dHead and
 *   {@link AttentionInputs}, validated like any other input (sizes, lengths, finite values);
 * - direct: q, k (and optionally v) → seqLen, kvLen, width = heads·dHead.
 * `x`, `xKV`, `q`, `k`, `v` may carry leading batch dims of size 1 ([1, seqLen, dModel]).
 * Throws {@link AttentionInputError} whose field is the role and whose message names the
 * tensor, its shape and the shape expected.
 */
export function shapeFromRoles(roles: RoleMap, tensors: readonly Tensor[], heads: number): RoleInputs {
  validateShape({ seqLen: 1, dModel: 1, heads, dHead: 1 }); // heads: an integer ≥ 1
  const byName = new Map(tensors.map((t) => [t.name, t]));
  const get = (role: Role): Tensor | undefined => {
    const assignment = roles[role];
    if (assignment === undefined) return undefined;
    const tensor = byName.get(assignment.name);
    if (tensor === undefined) {
      throw new AttentionInputError(role, `tensor ${JSON.stringify(assignment.name)}`, `one of the file's tensors: ${[...byName.keys()].map((n) => JSON.stringify(n)).join(', ')}`, 'type');
    }
    const label = `${role} (tensor ${JSON.stringify(tensor.name)})`;
    let matrix: Tensor = { ...tensor, shape: squeezeLeading(tensor.shape) };
    if (matrix.shape.length !== 2) {
      throw new AttentionInputError(label, `shape ${formatShape(tensor.shape)}`, 'a 2-d matrix (leading dims of size 1 are dropped)', 'shape');
    }
    if (assignment.transpose) matrix = transpose2d(matrix);
    return matrix;
  };
  const describeTensor = (role: Role, t: Tensor): string => {
    const assignment = roles[role]!;
    return `shape ${formatShape(t.shape)}${assignment.transpose ? ' after transposing' : ''} (tensor ${JSON.stringify(assignment.name)})`;
  };
  const widthRule = (role: Role, width: number): void => {
    if (width % heads !== 0) {
      throw new AttentionInputError('heads', String(heads), `a divisor of ${role}'s width ${width} (width = heads·dHead)`, 'shape');
    }
  };

  const x = get('x');
  if (x !== undefined && roles.wq !== undefined && roles.wk !== undefined && roles.wv !== undefined) {
    const [seqLen, dModel] = x.shape;
    const xKV = get('xKV');
    if (xKV !== undefined && xKV.shape[1] !== dModel) {
      throw new AttentionInputError('xKV', describeTensor('xKV', xKV), `x has dModel ${dModel} columns, so xKV must be [kvLen, ${dModel}]`, 'shape');
    }
    const kvLen = xKV === undefined ? seqLen : xKV.shape[0];
    let width = -1;
    const ws: Record<'wq' | 'wk' | 'wv', Float32Array> = { wq: x.data, wk: x.data, wv: x.data };
    for (const role of ['wq', 'wk', 'wv'] as const) {
      const w = get(role)!;
      const [rows, cols] = w.shape;
      if (rows !== dModel) {
        const hint = cols === dModel ? ' (transpose it: PyTorch nn.Linear weights are stored (out, in))' : '';
        throw new AttentionInputError(role, describeTensor(role, w), `x has dModel ${dModel} columns, so ${role} must be [${dModel}, heads·dHead]${hint}`, 'shape');
      }
      if (width === -1) {
        width = cols;
        widthRule(role, width);
      } else if (cols !== width) {
        throw new AttentionInputError(role, describeTensor(role, w), `[${dModel}, ${width}], the shape of wq (wq, wk and wv share heads·dHead)`, 'shape');
      }
      ws[role] = w.data;
    }
    const shape = { seqLen, kvLen, dModel, heads, dHead: width / heads };
    const inputs: AttentionInputs = { x: x.data, wq: ws.wq, wk: ws.wk, wv: ws.wv };
    if (xKV !== undefined) inputs.xKV = xKV.data;
    validateAttention(shape, inputs, { storesMap: false });
    return { mode: 'weights', shape, inputs };
  }

  const q = get('q');
  const k = get('k');
  if (q !== undefined && k !== undefined) {
    const [seqLen, width] = q.shape;
    widthRule('q', width);
    const [kvLen, kWidth] = k.shape;
    if (kWidth !== width) {
      throw new AttentionInputError('k', describeTensor('k', k), `q has width ${width}, so k must be [kvLen, ${width}]`, 'shape');
    }
    const v = get('v');
    if (v !== undefined && (v.shape[0] !== kvLen || v.shape[1] !== width)) {
      throw new AttentionInputError('v', describeTensor('v', v), `[${kvLen}, ${width}]: k's rows (kvLen) by q's width`, 'shape');
    }
    const shape: DirectShape = { seqLen, kvLen, width, heads, dHead: width / heads };
    // Same size rules as the full pipeline: dModel stands in as 1, since no projection runs.
    validateShape({ seqLen, kvLen, dModel: 1, heads, dHead: shape.dHead }, { storesMap: false });
    for (const [role, t] of [['q', q], ['k', k], ['v', v]] as const) {
      if (t !== undefined) checkFinite(role, t);
    }
    return v === undefined ? { mode: 'direct', shape, q: q.data, k: k.data } : { mode: 'direct', shape, q: q.data, k: k.data, v: v.data };
  }

  const given = ROLES.filter((role) => roles[role] !== undefined);
  throw new AttentionInputError(
    'roles',
    given.length === 0 ? 'none' : given.join(', '),
    'x, wq, wk, wv (and optionally xKV), or q, k (and optionally v)',
    'type',
  );
}

function checkFinite(role: string, t: Tensor): void {
  const cols = t.shape[1];
  for (let i = 0; i < t.data.length; i++) {
    const value = t.data[i];
    if (value - value !== 0) {
      throw new AttentionInputError(`${role}[${i}] (row ${Math.floor(i / cols)}, column ${i % cols})`, String(value), 'a finite number', 'non-finite');
    }
  }
}

/**
 * The current inputs as named tensors, for export (`x`, `xKV` when present, `wq`, `wk`, `wv`
 * in our layouts). {@link guessRoles} maps these names back without transposes, so exports
 * round-trip.
 */
export function tensorsFromInputs(shape: AttentionShape, inputs: AttentionInputs): Tensor[] {
  const s = validateAttention(shape, inputs, { storesMap: false });
  const tensor = (name: string, rows: number, cols: number, data: Float32Array): Tensor => ({
    name,
    shape: [rows, cols],
    dtype: 'float32',
    data,
  });
  const out = [tensor('x', s.seqLen, s.dModel, inputs.x)];
  if (inputs.xKV !== undefined) out.push(tensor('xKV', s.kvLen, s.dModel, inputs.xKV));
  out.push(tensor('wq', s.dModel, s.width, inputs.wq), tensor('wk', s.dModel, s.width, inputs.wk), tensor('wv', s.dModel, s.width, inputs.wv));
  return out;
}
