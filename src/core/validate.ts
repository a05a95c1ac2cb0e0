import { AttentionInputError } from './errors';
import { resolveShape, type AttentionInputs, type AttentionShape, type ResolvedShape } from './types';

/**
 * The largest number of elements any one array may hold. Indices inside the WGSL kernels are
 * u32, and heads·seqLen·kvLen is the biggest array, so it must stay below 2³²; 2³¹ − 1 also
 * keeps every JavaScript typed array within its engine's limit.
 */
export const MAX_ELEMENTS = 2 ** 31 - 1;

const SIZE_FIELDS = ['seqLen', 'dModel', 'heads', 'dHead'] as const;

function describe(value: unknown): string {
  if (typeof value === 'number') return Number.isNaN(value) ? 'NaN' : String(value);
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === undefined) return 'undefined';
  if (value === null) return 'null';
  return typeof value;
}

function checkSize(field: string, value: unknown): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new AttentionInputError(field, describe(value), 'an integer ≥ 1', 'shape');
  }
  if (value > MAX_ELEMENTS) {
    throw new AttentionInputError(field, describe(value), `an integer ≤ ${MAX_ELEMENTS}`, 'shape');
  }
}

/** What a computation keeps in memory, which decides the size rules of {@link validateShape}. */
export interface ShapeRules {
  /**
   * Whether the heads × seqLen × kvLen map is stored whole (default true). The fused path and
   * the sampled-row reference never store it, so only the arrays they do hold (x, W, Q, K, V,
   * output) must fit in {@link MAX_ELEMENTS}: seqLen 65536 with one head is 2³² map entries.
   */
  storesMap?: boolean;
}

/**
 * Check a shape and fill in its defaults. Throws {@link AttentionInputError} naming the first
 * bad field: sizes must be integers ≥ 1 (zero, negatives, fractions, NaN and non-numbers are
 * refused), `causal` a boolean, and the largest array must fit in {@link MAX_ELEMENTS}.
 */
export function validateShape(shape: AttentionShape, rules: ShapeRules = {}): ResolvedShape {
  if (typeof shape !== 'object' || shape === null) {
    throw new AttentionInputError('shape', describe(shape), 'an object { seqLen, dModel, heads, dHead }', 'shape');
  }
  for (const field of SIZE_FIELDS) checkSize(field, shape[field]);
  if (shape.kvLen !== undefined) checkSize('kvLen', shape.kvLen);
  if (shape.causal !== undefined && typeof shape.causal !== 'boolean') {
    throw new AttentionInputError('causal', describe(shape.causal), 'true or false', 'shape');
  }
  const s = resolveShape(shape);
  const products: Array<[string, number]> = [
    ...(rules.storesMap === false ? [] : ([['heads·seqLen·kvLen', s.heads * s.seqLen * s.kvLen]] as Array<[string, number]>)),
    ['seqLen·heads·dHead', s.seqLen * s.width],
    ['kvLen·heads·dHead', s.kvLen * s.width],
    ['dModel·heads·dHead', s.dModel * s.width],
    ['seqLen·dModel', s.seqLen * s.dModel],
    ['kvLen·dModel', s.kvLen * s.dModel],
  ];
  for (const [field, count] of products) {
    if (count > MAX_ELEMENTS) {
      throw new AttentionInputError(field, `${count} elements`, `at most ${MAX_ELEMENTS} elements`, 'too-large');
    }
  }
  return s;
}

function checkArray(field: string, array: unknown, expected: number, rule: string, cols: number): void {
  if (!(array instanceof Float32Array)) {
    const given =
      array === undefined ? 'undefined' : array === null ? 'null' : (array as object).constructor?.name ?? typeof array;
    throw new AttentionInputError(field, given, `a Float32Array of length ${expected} (${rule})`, 'type');
  }
  if (array.length !== expected) {
    throw new AttentionInputError(field, `length ${array.length}`, `length ${expected} (${rule})`, 'length');
  }
  for (let i = 0; i < array.length; i++) {
    const value = array[i];
    // `value - value` is 0 for finite numbers and NaN for NaN and ±Infinity: one test for both.
    if (value - value !== 0) {
      const where = `${field}[${i}] (row ${Math.floor(i / cols)}, column ${i % cols})`;
      throw new AttentionInputError(where, describe(value), 'a finite number', 'non-finite');
    }
  }
}

/**
 * Check inputs against a (valid) shape: every array a Float32Array of the right length and
 * every value finite. `xKV` is required when kvLen differs from seqLen.
 */
export function validateInputs(shape: ResolvedShape, inputs: AttentionInputs): void {
  if (typeof inputs !== 'object' || inputs === null) {
    throw new AttentionInputError('inputs', describe(inputs), 'an object { x, wq, wk, wv, xKV? }', 'type');
  }
  const { seqLen, kvLen, dModel, heads, dHead, width } = shape;
  checkArray('x', inputs.x, seqLen * dModel, `seqLen·dModel = ${seqLen}·${dModel}`, dModel);
  if (inputs.xKV !== undefined) {
    checkArray('xKV', inputs.xKV, kvLen * dModel, `kvLen·dModel = ${kvLen}·${dModel}`, dModel);
  } else if (kvLen !== seqLen) {
    throw new AttentionInputError(
      'xKV',
      'undefined',
      `a Float32Array of length kvLen·dModel = ${kvLen * dModel}, required when kvLen (${kvLen}) ≠ seqLen (${seqLen})`,
      'type',
    );
  }
  const rule = `dModel·heads·dHead = ${dModel}·${heads}·${dHead}`;
  checkArray('wq', inputs.wq, dModel * width, rule, width);
  checkArray('wk', inputs.wk, dModel * width, rule, width);
  checkArray('wv', inputs.wv, dModel * width, rule, width);
}

/** Validate a shape and its inputs together; returns the resolved shape. */
export function validateAttention(shape: AttentionShape, inputs: AttentionInputs, rules: ShapeRules = {}): ResolvedShape {
  const resolved = validateShape(shape, rules);
  validateInputs(resolved, inputs);
  return resolved;
}
