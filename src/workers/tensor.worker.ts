/// <reference lib="webworker" />
/**
 * Tensor files off the main thread. The worker parses .npy and .safetensors files (the
 * client transfers each file's ArrayBuffer, so nothing is copied on the way in), keeps the
 * tensors, and answers with their names, dtypes and shapes only. Role mappings are checked
 * here too (`shapeFromRoles` transposes and scans every value), and only the arrays an
 * import actually uses travel back, as compact copies whose buffers are transferred. A file
 * of hundreds of MB therefore never blocks the page, and is read with `copy: false` (the
 * worker owns the buffer, nothing else writes to it), so it costs its size once.
 *
 * Also writes exports (writeNpy / writeSafetensors), the other way round.
 *
 * The pure parts (format detection, the Q/K/V → projections mapping) are exported for tests;
 * the message handler is installed only when this module runs in a worker.
 */
import { AttentionError, AttentionInputError } from '../core/errors';
import type { AttentionInputs, AttentionShape } from '../core/types';
import { validateAttention } from '../core/validate';
import { readNpy, writeNpy } from '../inputs/npy';
import { readSafetensors, writeSafetensors } from '../inputs/safetensors';
import { TensorFileError, type Tensor } from '../inputs/tensors';
import { shapeFromRoles, type DirectShape, type RoleMap } from '../inputs/tensor-roles';
import type { ExportFile, ImportResult, SerializedError, TensorInfo, TensorRequest, TensorResponse } from './tensor-client';

const NPY_MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];

/** Which reader a file needs: the .npy magic decides first, then the extension, then a JSON header. */
export function detectFormat(bytes: Uint8Array, fileName: string): 'npy' | 'safetensors' {
  if (bytes.length >= 6 && NPY_MAGIC.every((b, i) => bytes[i] === b)) return 'npy';
  const lower = fileName.toLowerCase();
  if (lower.endsWith('.npy')) return 'npy';
  if (lower.endsWith('.safetensors')) return 'safetensors';
  // A safetensors file: u64 LE header length, then a JSON object ('{').
  if (bytes.length >= 9 && bytes[4] === 0 && bytes[5] === 0 && bytes[6] === 0 && bytes[7] === 0 && bytes[8] === 0x7b) return 'safetensors';
  const start = Array.from(bytes.subarray(0, 8), (b) => b.toString(16).padStart(2, '0')).join(' ');
  throw new TensorFileError(
    fileName,
    'magic',
    bytes.length === 0 ? 'an empty file' : `bytes ${start}`,
    'a .npy file (starting with \\x93NUMPY) or a .safetensors file (u64 header length, then a JSON header)',
  );
}

/** Read one file's tensors (views into `buffer` where aligned float32: the worker owns it). */
export function readTensorFile(buffer: ArrayBuffer, fileName: string): Tensor[] {
  const bytes = new Uint8Array(buffer);
  return detectFormat(bytes, fileName) === 'npy' ? [readNpy(bytes, fileName, { copy: false })] : readSafetensors(bytes, fileName, { copy: false });
}

/**
 * Q, K, V given directly, as inputs of our projection pipeline (which computes Q = X·W_Q,
 * K = X_KV·W_K, V = X_KV·W_V), exactly. With w = heads·dHead, dModel = 2w:
 *
 *   x   = [Q | 0]   (seqLen × 2w)      wq = [I; 0]  (2w × w)   →  x·wq   = Q·I + 0·0 = Q
 *   xKV = [K | V]   (kvLen × 2w)       wk = [I; 0]             →  xKV·wk = K·I + V·0 = K
 *                                      wv = [0; I]             →  xKV·wv = K·0 + V·I = V
 *
 * Each output entry is a sum of 2w products of which exactly one is (value × 1) and every
 * other is (value × 0) = ±0; adding ±0 to a finite float is exact, in any order and with or
 * without FMA, so the GPU's and the reference's projections reproduce Q, K, V bit for bit
 * (values are checked finite first; only −0 may become +0, and a GPU that flushes subnormals
 * flushes them here as it would anyway). Without V, V = K.
 */
export function qkvAsProjections(shape: DirectShape, q: Float32Array, k: Float32Array, v: Float32Array): { shape: AttentionShape; inputs: AttentionInputs } {
  const { seqLen, kvLen, width, heads, dHead } = shape;
  const dModel = 2 * width;
  const x = new Float32Array(seqLen * dModel);
  for (let i = 0; i < seqLen; i++) x.set(q.subarray(i * width, (i + 1) * width), i * dModel);
  const xKV = new Float32Array(kvLen * dModel);
  for (let j = 0; j < kvLen; j++) {
    xKV.set(k.subarray(j * width, (j + 1) * width), j * dModel);
    xKV.set(v.subarray(j * width, (j + 1) * width), j * dModel + width);
  }
  const top = new Float32Array(dModel * width); // [I; 0]
  const bottom = new Float32Array(dModel * width); // [0; I]
  for (let c = 0; c < width; c++) {
    top[c * width + c] = 1;
    bottom[(width + c) * width + c] = 1;
  }
  const out = { shape: { seqLen, kvLen, dModel, heads, dHead }, inputs: { x, xKV, wq: top, wk: top.slice(), wv: bottom } };
  validateAttention(out.shape, out.inputs, { storesMap: false });
  return out;
}

/** The import a role mapping yields, in pipeline form (Q, K, V directly are mapped onto projections). */
export function resolveImport(roles: RoleMap, tensors: readonly Tensor[], heads: number): ImportResult {
  const resolved = shapeFromRoles(roles, tensors, heads);
  if (resolved.mode === 'weights') return { mode: 'weights', shape: resolved.shape, inputs: resolved.inputs };
  const { shape, q, k } = resolved;
  const mapped = qkvAsProjections(shape, q, k, resolved.v ?? k);
  return { mode: 'qkv', shape: mapped.shape, inputs: mapped.inputs, direct: shape, vFromK: resolved.v === undefined };
}

/**
 * Make every input array transferable without harm: an array that shares its buffer with a
 * held tensor (a view into a file, or the tensor itself) or with another input is replaced by
 * a compact copy, so transferring takes neither the file nor the worker's tensors along.
 */
function detachable(inputs: AttentionInputs, heldBuffers: ReadonlySet<ArrayBufferLike>): ArrayBuffer[] {
  const seen = new Set<ArrayBufferLike>();
  for (const key of ['x', 'xKV', 'wq', 'wk', 'wv'] as const) {
    let a = inputs[key];
    if (a === undefined) continue;
    if (heldBuffers.has(a.buffer) || seen.has(a.buffer) || a.byteOffset !== 0 || a.byteLength !== a.buffer.byteLength) a = a.slice();
    inputs[key] = a;
    seen.add(a.buffer);
  }
  return [...seen] as ArrayBuffer[];
}

/** Summary text for a mapping: "seqLen 12, kvLen 12, dModel 64, heads 4, dHead 16". */
export function describeImport(result: ImportResult): string {
  const { seqLen, kvLen, dModel, heads, dHead } = result.shape;
  if (result.mode === 'weights') return `seqLen ${seqLen}, kvLen ${kvLen ?? seqLen}, dModel ${dModel}, heads ${heads}, dHead ${dHead}`;
  const d = result.direct;
  return `Q, K${result.vFromK ? '' : ', V'} directly: seqLen ${d.seqLen}, kvLen ${d.kvLen}, width ${d.width}, heads ${d.heads}, dHead ${d.dHead}${result.vFromK ? ' (no V given: V = K)' : ''}`;
}

export function serializeError(error: unknown): SerializedError {
  if (error instanceof TensorFileError) {
    return { name: 'TensorFileError', message: error.message, file: error.file, field: error.field, given: error.given, allowed: error.allowed, tensor: error.tensor };
  }
  if (error instanceof AttentionInputError) {
    return { name: 'AttentionInputError', message: error.message, field: error.field, given: error.given, allowed: error.allowed, kind: error.kind };
  }
  if (error instanceof AttentionError) return { name: error.name, message: error.message };
  if (error instanceof RangeError) return { name: 'RangeError', message: `Not enough memory for this file (${error.message})` };
  if (error instanceof Error) return { name: error.name, message: error.message };
  return { name: 'Error', message: String(error) };
}

/** The worker's state: every tensor read so far, by its (unique) name. */
const held = new Map<string, { tensor: Tensor; file: string }>();

function uniqueName(name: string): string {
  if (!held.has(name)) return name;
  for (let n = 2; ; n++) if (!held.has(`${name} (${n})`)) return `${name} (${n})`;
}

function buffersOf(arrays: Iterable<Uint8Array>): ArrayBuffer[] {
  return [...new Set([...arrays].map((a) => a.buffer as ArrayBuffer))];
}

function handle(request: TensorRequest): { response: TensorResponse; transfer: Transferable[] } {
  const { id } = request;
  switch (request.type) {
    case 'read': {
      const tensors = readTensorFile(request.buffer, request.name);
      const infos: TensorInfo[] = tensors.map((tensor) => {
        const name = uniqueName(tensor.name);
        held.set(name, { tensor: { ...tensor, name }, file: request.name });
        return { name, file: request.name, dtype: tensor.dtype, shape: tensor.shape.slice() };
      });
      return { response: { id, ok: true, type: 'read', tensors: infos }, transfer: [] };
    }
    case 'check':
    case 'take': {
      const tensors = [...held.values()].map((entry) => entry.tensor);
      const result = resolveImport(request.roles, tensors, request.heads);
      if (request.type === 'check') return { response: { id, ok: true, type: 'check', summary: describeImport(result), shape: result.shape }, transfer: [] };
      const transfer = detachable(result.inputs, new Set(tensors.map((t) => t.data.buffer)));
      return { response: { id, ok: true, type: 'take', result, summary: describeImport(result) }, transfer };
    }
    case 'clear':
      held.clear();
      return { response: { id, ok: true, type: 'clear' }, transfer: [] };
    case 'export': {
      const files: ExportFile[] =
        request.format === 'safetensors'
          ? [{ name: request.fileName ?? 'attention-inputs.safetensors', bytes: writeSafetensors(request.tensors) }]
          : request.tensors.map((tensor) => ({ name: `${tensor.name}.npy`, bytes: writeNpy(tensor) }));
      return { response: { id, ok: true, type: 'export', files }, transfer: buffersOf(files.map((f) => f.bytes)) };
    }
  }
}

// Install the handler only inside a worker (tests import the pure functions above in Node).
const scope = globalThis as unknown as DedicatedWorkerGlobalScope;
if (typeof WorkerGlobalScope !== 'undefined' && scope instanceof WorkerGlobalScope) {
  scope.onmessage = (event: MessageEvent<TensorRequest>) => {
    try {
      const { response, transfer } = handle(event.data);
      scope.postMessage(response, transfer);
    } catch (error) {
      const response: TensorResponse = { id: event.data.id, ok: false, error: serializeError(error) };
      scope.postMessage(response);
    }
  };
}
