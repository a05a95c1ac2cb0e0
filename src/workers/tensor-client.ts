/**
 * The main thread's handle on the tensor worker (tensor.worker.ts): read .npy / .safetensors
 * files, check role mappings and take the resulting inputs, write exports, all off the main
 * thread. Every call returns a promise; errors come back as real {@link TensorFileError} and
 * {@link AttentionInputError} objects (field, given, allowed intact), so callers can show
 * them as they would a local one.
 *
 * The worker keeps the tensors it read (only names, dtypes and shapes cross over) until
 * `clear()`; a mapping's arrays cross once, on `take()`, as compact transferred copies.
 */
import { AttentionError, AttentionInputError, type InputErrorKind } from '../core/errors';
import type { AttentionInputs, AttentionShape } from '../core/types';
import { TensorFileError, type Tensor, type TensorDtype, type TensorFileField } from '../inputs/tensors';
import type { DirectShape, RoleMap } from '../inputs/tensor-roles';

/** What the main thread learns about a tensor the worker holds. */
export interface TensorInfo {
  /** Unique among everything read so far ("x", or "x (2)" for a second file's "x"). */
  name: string;
  file: string;
  dtype: TensorDtype;
  shape: number[];
}

/**
 * A role mapping as inputs of the usual pipeline. `qkv`: Q, K (and V) were given directly and
 * are mapped onto projections exactly (see `qkvAsProjections` in tensor.worker.ts); `direct`
 * holds their own sizes, `vFromK` says V was missing and K stands in for it.
 */
export type ImportResult =
  | { mode: 'weights'; shape: AttentionShape; inputs: AttentionInputs }
  | { mode: 'qkv'; shape: AttentionShape; inputs: AttentionInputs; direct: DirectShape; vFromK: boolean };

/** One file an export produces. */
export interface ExportFile {
  name: string;
  bytes: Uint8Array;
}

/** An error as it crosses the worker boundary. */
export interface SerializedError {
  name: string;
  message: string;
  file?: string;
  field?: string;
  given?: string;
  allowed?: string;
  tensor?: string;
  kind?: InputErrorKind;
}

export type TensorRequest =
  | { id: number; type: 'read'; name: string; buffer: ArrayBuffer }
  | { id: number; type: 'check' | 'take'; roles: RoleMap; heads: number }
  | { id: number; type: 'clear' }
  | { id: number; type: 'export'; format: 'npy-zip' | 'safetensors'; tensors: Tensor[]; fileName?: string };

export type TensorResponse =
  | { id: number; ok: true; type: 'read'; tensors: TensorInfo[] }
  | { id: number; ok: true; type: 'check'; summary: string; shape: AttentionShape }
  | { id: number; ok: true; type: 'take'; result: ImportResult; summary: string }
  | { id: number; ok: true; type: 'clear' }
  | { id: number; ok: true; type: 'export'; files: ExportFile[] }
  | { id: number; ok: false; error: SerializedError };

/** Rebuild the typed error a worker serialised. */
export function deserializeError(e: SerializedError): Error {
  if (e.name === 'TensorFileError' && e.file !== undefined && e.field !== undefined) {
    return new TensorFileError(e.file, e.field as TensorFileField, e.given ?? '', e.allowed ?? '', e.tensor);
  }
  if (e.name === 'AttentionInputError' && e.field !== undefined) {
    return new AttentionInputError(e.field, e.given ?? '', e.allowed ?? '', e.kind ?? 'shape');
  }
  const error = new AttentionError(e.message);
  error.name = e.name;
  return error;
}

export interface TensorClient {
  /** Read a file's tensors into the worker (its bytes are transferred, not copied). */
  read(file: File | { name: string; buffer: ArrayBuffer }): Promise<TensorInfo[]>;
  /** Check a mapping; resolves with the summary text, rejects with the error naming the field. */
  check(roles: RoleMap, heads: number): Promise<{ summary: string; shape: AttentionShape }>;
  /** The mapping's inputs (compact arrays, now owned by the caller). */
  take(roles: RoleMap, heads: number): Promise<{ result: ImportResult; summary: string }>;
  /** Drop every tensor the worker holds (frees the files' memory). */
  clear(): Promise<void>;
  /** Write tensors: one .npy per tensor ('npy-zip'), or one .safetensors file. */
  exportTensors(format: 'npy-zip' | 'safetensors', tensors: Tensor[], fileName?: string): Promise<ExportFile[]>;
  /** Stop the worker; pending calls reject and its tensors are gone. */
  terminate(): void;
}

type Pending = { resolve: (response: TensorResponse) => void; reject: (error: Error) => void };

type Body<T> = T extends unknown ? Omit<T, 'id'> : never;

export function createTensorClient(): TensorClient {
  let worker: Worker | null = null;
  let nextId = 1;
  const pending = new Map<number, Pending>();

  const failAll = (error: Error) => {
    for (const entry of pending.values()) entry.reject(error);
    pending.clear();
  };
  const start = () => {
    const w = new Worker(new URL('./tensor.worker.ts', import.meta.url), { type: 'module', name: 'tensor files' });
    w.onmessage = (event: MessageEvent<TensorResponse>) => {
      const data = event.data;
      const entry = pending.get(data.id);
      if (!entry) return;
      pending.delete(data.id);
      if (data.ok) entry.resolve(data);
      else entry.reject(deserializeError(data.error));
    };
    w.onerror = (event) => {
      event.preventDefault();
      failAll(new AttentionError(`The tensor worker failed: ${event.message || 'out of memory?'}`));
      w.terminate();
      worker = null;
    };
    return w;
  };
  const send = (body: Body<TensorRequest>, transfer: Transferable[] = []): Promise<TensorResponse> => {
    worker ??= start();
    const id = nextId++;
    const request = { ...body, id } as TensorRequest;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      worker!.postMessage(request, transfer);
    });
  };

  return {
    async read(file) {
      const buffer = 'buffer' in file ? file.buffer : await file.arrayBuffer();
      const response = await send({ type: 'read', name: file.name, buffer }, [buffer]);
      return response.ok && response.type === 'read' ? response.tensors : [];
    },
    async check(roles, heads) {
      const response = await send({ type: 'check', roles, heads });
      if (!response.ok || response.type !== 'check') throw new AttentionError('unexpected reply from the tensor worker');
      return { summary: response.summary, shape: response.shape };
    },
    async take(roles, heads) {
      const response = await send({ type: 'take', roles, heads });
      if (!response.ok || response.type !== 'take') throw new AttentionError('unexpected reply from the tensor worker');
      return { result: response.result, summary: response.summary };
    },
    async clear() {
      if (worker) await send({ type: 'clear' });
    },
    async exportTensors(format, tensors, fileName) {
      const response = await send({ type: 'export', format, tensors, fileName });
      return response.ok && response.type === 'export' ? response.files : [];
    },
    terminate() {
      worker?.terminate();
      worker = null;
      failAll(new AttentionError('The tensor worker was stopped.'));
    },
  };
}
