/**
 * Tensors read from (and written to) .npy and .safetensors files: what a tensor is, the typed
 * error the readers and writers throw, and the checks both formats share (dims, input bytes,
 * a tensor to write). The float decoders are in float-codec.ts, the mapping from tensor names
 * to attention roles in tensor-roles.ts.
 *
 * Pure TypeScript (no DOM): the readers run unchanged in a Web Worker, which is where the app
 * should call them for big files, transferring the file's ArrayBuffer, so a file of hundreds
 * of MB never blocks the page.
 */
import { AttentionError } from '../core/errors';
import { MAX_ELEMENTS } from '../core/validate';
import type { TensorDtype } from './float-codec';

export type { ReadOptions, TensorDtype } from './float-codec';

/** One named array: row-major (C order) `data` of product(shape) float32 values. */
export interface Tensor {
  name: string;
  /** Sizes, outermost first; `[]` is a 0-d scalar holding one value. */
  shape: number[];
  /** What the file stored (see {@link TensorDtype}); `data` is float32 either way. */
  dtype: TensorDtype;
  data: Float32Array;
}

/** What part of a tensor file broke the rules. */
export type TensorFileField =
  | 'input'
  | 'magic'
  | 'version'
  | 'header_length'
  | 'header'
  | 'metadata'
  | 'tensor'
  | 'dtype'
  | 'fortran_order'
  | 'shape'
  | 'data_offsets'
  | 'length';

/**
 * A .npy or .safetensors file (or a tensor to be written) breaks the format's rules or ours.
 * Like every error of this library the message names the field, what was given and what is
 * allowed, and here also the file (and the tensor, for safetensors), so the import dialog can
 * show it as-is.
 */
export class TensorFileError extends AttentionError {
  override name = 'TensorFileError';
  constructor(
    /** The file name, e.g. `'weights.safetensors'`. */
    readonly file: string,
    /** The offending part of the file. */
    readonly field: TensorFileField,
    /** What was found, as text. */
    readonly given: string,
    /** What is allowed, as text (with a fix when there is an easy one). */
    readonly allowed: string,
    /** The tensor concerned, when the file holds several. */
    readonly tensor?: string,
  ) {
    super(`${file}${tensor === undefined ? '' : ` (tensor ${JSON.stringify(tensor)})`}: ${field}: got ${given}; allowed: ${allowed}`);
  }
}

/** Text for a shape in messages: `[3, 4]`. */
export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/**
 * The most dimensions a tensor may have. NumPy allows 64 (32 before 2.0); beyond that a
 * header is corrupt, and the cap keeps messages and loops small.
 */
export const MAX_DIMS = 64;

/**
 * Check dims read from a header: each an integer ≥ 0, at most {@link MAX_DIMS} of them, and
 * at most {@link MAX_ELEMENTS} elements in all (checked dim by dim, so the product never
 * overflows). `describeDims` renders the dims as the file wrote them, for the message.
 * Returns the element count.
 */
export function checkDims(
  file: string,
  dims: readonly unknown[],
  describeDims: string,
  tensor?: string,
): number {
  const fail = (allowed: string): never => {
    throw new TensorFileError(file, 'shape', describeDims, allowed, tensor);
  };
  if (dims.length > MAX_DIMS) fail(`at most ${MAX_DIMS} dimensions (this has ${dims.length})`);
  let count = 1;
  for (const dim of dims) {
    if (typeof dim !== 'number' || !Number.isInteger(dim) || dim < 0) fail('integers ≥ 0');
    if ((dim as number) > MAX_ELEMENTS) fail(`dimensions ≤ ${MAX_ELEMENTS}`);
    count *= dim as number;
    // Both factors are ≤ 2³¹ − 1, so the product is exact before this check stops the loop.
    if (count > MAX_ELEMENTS) fail(`at most ${MAX_ELEMENTS} elements in all`);
  }
  return count;
}

/**
 * Normalise what a reader was handed into a Uint8Array, refusing anything else with a
 * {@link TensorFileError} (callers may be plain JavaScript, or a worker message).
 */
export function toBytes(input: unknown, file: string): Uint8Array {
  if (input instanceof Uint8Array) return input;
  if (input instanceof ArrayBuffer) return new Uint8Array(input);
  const given = input === null ? 'null' : typeof input === 'object' ? (input.constructor?.name ?? 'object') : typeof input;
  throw new TensorFileError(file, 'input', given, 'an ArrayBuffer or a Uint8Array of the file’s bytes');
}

/**
 * Check a tensor before writing it: a name, integer dims and `data` of product(shape)
 * float32 values. `file` names the output in the error.
 */
export function checkTensorForWriting(tensor: Tensor, file: string): void {
  if (typeof tensor !== 'object' || tensor === null) {
    throw new TensorFileError(file, 'tensor', String(tensor), 'an object { name, shape, dtype, data }');
  }
  if (typeof tensor.name !== 'string' || tensor.name.length === 0) {
    throw new TensorFileError(file, 'tensor', JSON.stringify(tensor.name) ?? 'undefined', 'a non-empty name');
  }
  if (!Array.isArray(tensor.shape)) {
    throw new TensorFileError(file, 'shape', String(tensor.shape), 'an array of integers ≥ 0', tensor.name);
  }
  const count = checkDims(file, tensor.shape, formatShape(tensor.shape), tensor.name);
  if (!(tensor.data instanceof Float32Array)) {
    throw new TensorFileError(file, 'tensor', `data of type ${typeof tensor.data}`, 'a Float32Array', tensor.name);
  }
  if (tensor.data.length !== count) {
    throw new TensorFileError(
      file,
      'length',
      `${tensor.data.length} values`,
      `product of shape ${formatShape(tensor.shape)} = ${count} values`,
      tensor.name,
    );
  }
}
