/**
 * A .safetensors file read from a stream (a download's body, `Blob.stream()`) without holding
 * the file: the 8-byte length and the JSON header are parsed as soon as they arrive (with the
 * same checks as src/inputs/safetensors.ts, which this shares), then the data section is cut
 * into tensors as bytes arrive. Each tensor is converted to float32 and handed to `onTensor`
 * before the next tensor's bytes are kept, so memory holds one tensor (and the chunk being
 * read), never the file: a 548 MB GPT-2 file costs its largest tensor, 154 MB, not 548 MB.
 */
import { AttentionAbortError } from '../core/errors';
import { decodeFloats } from '../inputs/float-codec';
import { parseSafetensorsHeader, readSafetensorsHeaderLength, type SafetensorsEntry, type SafetensorsMetadata } from '../inputs/safetensors';
import { TensorFileError } from '../inputs/tensors';

/** Options of {@link readSafetensorsStream}. */
export interface StreamReadOptions {
  /** The file's name, for messages (default `'model.safetensors'`). */
  file?: string;
  /** The file's size in bytes when known (content-length, Blob.size): offsets past it are refused before any data is read. */
  totalBytes?: number | null;
  /**
   * Called once with the checked header, before any tensor's data: return the names of the
   * tensors to decode (the others' bytes are skipped, whatever their dtype), or throw to stop
   * (a shape that disagrees with the config is found here, before the download goes on).
   */
  onHeader?: (entries: readonly SafetensorsEntry[], metadata: SafetensorsMetadata) => ReadonlySet<string> | void;
  /** Called for each wanted tensor, in the file's data order; awaited before more bytes are read. */
  onTensor: (entry: SafetensorsEntry, data: Float32Array) => void | Promise<void>;
  /** Cancels the read: the stream is cancelled and the promise rejects with AttentionAbortError. */
  signal?: AbortSignal;
}

/** What a stream held, once read. */
export interface StreamReadResult {
  /** Every tensor of the header, in data order (the wanted ones were handed to onTensor). */
  entries: SafetensorsEntry[];
  metadata: SafetensorsMetadata;
  /** Bytes read from the stream. */
  bytesRead: number;
}

/**
 * Read a .safetensors file from `stream` (see the module comment). Rejects with
 * {@link TensorFileError} for a header that breaks the format's rules (as readSafetensors),
 * for overlapping tensors (a stream cannot go back), and for a stream that ends before the
 * header or a tensor is complete ("is the file truncated?", naming the tensor); with
 * AttentionAbortError when `signal` aborts; and with whatever `onHeader` or `onTensor` throw.
 * The stream is cancelled whenever the read stops early.
 */
export async function readSafetensorsStream(stream: ReadableStream<Uint8Array>, options: StreamReadOptions): Promise<StreamReadResult> {
  const file = options.file ?? 'model.safetensors';
  const { signal } = options;
  const reader = stream.getReader();
  let bytesRead = 0;
  let chunk: Uint8Array = new Uint8Array(0);
  let at = 0; // next unread byte of `chunk`
  let finished = false;
  const onAbort = () => {
    void reader.cancel().catch(() => undefined);
  };
  signal?.addEventListener('abort', onAbort);

  /** The next chunk with bytes left, or false when the stream has ended. */
  async function more(): Promise<boolean> {
    while (at >= chunk.length) {
      if (signal?.aborted) throw new AttentionAbortError();
      let result: ReadableStreamReadResult<Uint8Array>;
      try {
        result = await reader.read();
      } catch (error) {
        if (signal?.aborted) throw new AttentionAbortError();
        throw error;
      }
      if (signal?.aborted) throw new AttentionAbortError();
      if (result.done) return false;
      chunk = result.value;
      at = 0;
      bytesRead += chunk.length;
    }
    return true;
  }

  /** Fill `target` from the stream; returns how many bytes it got (less than its length at the end). */
  async function fill(target: Uint8Array): Promise<number> {
    let filled = 0;
    while (filled < target.length && (await more())) {
      const n = Math.min(target.length - filled, chunk.length - at);
      target.set(chunk.subarray(at, at + n), filled);
      filled += n;
      at += n;
    }
    return filled;
  }

  /** Drop `count` bytes; returns how many were there. */
  async function skip(count: number): Promise<number> {
    let skipped = 0;
    while (skipped < count && (await more())) {
      const n = Math.min(count - skipped, chunk.length - at);
      skipped += n;
      at += n;
    }
    return skipped;
  }

  try {
    const first = new Uint8Array(8);
    const got = await fill(first);
    if (got < 8) throw new TensorFileError(file, 'header_length', `a file of ${got} bytes`, 'at least 8 bytes (a little-endian u64 header length)');
    const headerLength = readSafetensorsHeaderLength(first, file);
    const header = new Uint8Array(headerLength);
    const gotHeader = await fill(header);
    if (gotHeader < headerLength) {
      throw new TensorFileError(file, 'header_length', `${headerLength} bytes`, `at most the ${gotHeader} bytes after the length (is the file truncated?)`);
    }
    const total = options.totalBytes;
    const dataLength = typeof total === 'number' && Number.isFinite(total) ? Math.max(0, total - 8 - headerLength) : undefined;
    const { entries, metadata } = parseSafetensorsHeader(header, undefined, file, { otherDtypes: true });
    // A known size shorter than the header says: refuse now, naming the first tensor (in data order) cut off.
    const cut = dataLength === undefined ? undefined : entries.find((entry) => entry.end > dataLength);
    if (cut !== undefined) throw truncated(file, cut, Math.max(0, dataLength! - cut.begin));
    const wanted = options.onHeader?.(entries, metadata) ?? new Set(entries.map((e) => e.name));

    let position = 0; // bytes of the data section consumed
    for (const entry of entries) {
      if (entry.begin < position) {
        throw new TensorFileError(file, 'data_offsets', `[${entry.begin}, ${entry.end}], overlapping the tensor before it (which ends at ${position})`, 'tensors that do not overlap (a stream is read once, front to back)', entry.name);
      }
      const gap = entry.begin - position;
      if ((await skip(gap)) < gap) throw truncated(file, entry, 0);
      position = entry.begin;
      const length = entry.end - entry.begin;
      if (!wanted.has(entry.name)) {
        const skipped = await skip(length);
        if (skipped < length) throw truncated(file, entry, skipped);
        position = entry.end;
        continue;
      }
      if (entry.stored === null) {
        throw new TensorFileError(file, 'dtype', `${JSON.stringify(entry.dtype)} (not a float type)`, 'F32, F64, F16 or BF16 for a tensor the model uses', entry.name);
      }
      // The tensor's own buffer: float32 decodes as a view of it, so nothing is copied twice.
      const raw = new Uint8Array(length);
      const filled = await fill(raw);
      if (filled < length) throw truncated(file, entry, filled);
      position = entry.end;
      await options.onTensor(entry, decodeFloats(raw, 0, entry.count, entry.stored, false));
    }
    finished = true;
    return { entries, metadata, bytesRead };
  } finally {
    signal?.removeEventListener('abort', onAbort);
    if (!finished) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}

function truncated(file: string, entry: SafetensorsEntry, got: number): TensorFileError {
  const length = entry.end - entry.begin;
  return new TensorFileError(file, 'length', `the file ended after ${got} of the tensor's ${length} bytes`, `${length} bytes at data_offsets [${entry.begin}, ${entry.end}] (is the file truncated? download it again)`, entry.name);
}
