/**
 * readSafetensorsStream (src/pretrained/safetensors-stream.ts): the same tensors as the
 * whole-file reader (src/inputs/safetensors.ts) and as the synthesized file's own values
 * (test/shared/gpt2-checkpoint.ts, written and rounded independently), whatever the chunking;
 * one tensor at a time (each handed on before the next tensor's bytes are read); skipped
 * tensors of any dtype; truncation, bad headers and overlaps as typed errors; abort.
 */
import { describe, expect, it } from 'vitest';
import { AttentionAbortError } from '../../src/core/errors';
import { readSafetensors, type SafetensorsEntry } from '../../src/inputs/safetensors';
import { TensorFileError } from '../../src/inputs/tensors';
import type { GptConfig } from '../../src/model/schema';
import { readSafetensorsStream } from '../../src/pretrained/safetensors-stream';
import { synthGpt2Checkpoint, tensorRange } from '../shared/gpt2-checkpoint';

const CONFIG: GptConfig = { vocabSize: 40, context: 8, dModel: 12, heads: 3, layers: 2, dMlp: 20 };

/** A stream of `bytes` in pieces of `chunk` bytes, counting what was pulled and whether it was cancelled. */
function chunked(bytes: Uint8Array, chunk: number) {
  const state = { pulled: 0, cancelled: false };
  let at = 0;
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (at >= bytes.length) return controller.close();
        const piece = bytes.slice(at, at + chunk);
        at += piece.length;
        state.pulled = at;
        controller.enqueue(piece);
      },
      cancel() {
        state.cancelled = true;
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, state };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (error: unknown) => error,
  );
}

describe('readSafetensorsStream', () => {
  for (const dtype of ['F32', 'F16', 'BF16'] as const) {
    it(`${dtype}: the whole-file reader's tensors, whatever the chunking, one at a time`, async () => {
      const { files, params } = synthGpt2Checkpoint({ config: CONFIG, seed: 11, dtype, prefix: false });
      const file = files['model.safetensors'];
      const whole = readSafetensors(file);
      for (const chunk of [1, 7, 64, 1000, file.length]) {
        const { stream, state } = chunked(file, chunk);
        const seen: Array<{ entry: SafetensorsEntry; data: Float32Array }> = [];
        const result = await readSafetensorsStream(stream, {
          onTensor: (entry, data) => {
            // Nothing of the next tensor's bytes is read before this one is handed on.
            expect(state.pulled, `${entry.name}, chunks of ${chunk}`).toBeLessThan(tensorRange(file, entry.name).end + chunk);
            seen.push({ entry, data: data.slice() });
          },
        });
        expect(result.bytesRead).toBe(file.length);
        expect(state.cancelled).toBe(false);
        expect(seen.map((s) => s.entry.name)).toEqual(whole.map((t) => t.name));
        seen.forEach(({ entry, data }, i) => {
          expect(data).toEqual(whole[i].data);
          expect(data).toEqual(params.get(entry.name));
          expect(entry.dtype).toBe(dtype);
        });
      }
    });
  }

  it('skips unwanted tensors of any dtype (U8 mask buffers), and refuses a wanted non-float one', async () => {
    const { files } = synthGpt2Checkpoint({ config: CONFIG, maskBuffers: true });
    const file = files['model.safetensors'];
    const names: string[] = [];
    const result = await readSafetensorsStream(chunked(file, 100).stream, {
      onHeader: (entries) => new Set(entries.filter((e) => e.name.startsWith('h.1.')).map((e) => e.name).filter((n) => !/^h\.\d+\.attn\.bias$/.test(n))),
      onTensor: (entry) => void names.push(entry.name),
    });
    expect(result.entries.find((e) => e.name === 'h.0.attn.bias')).toMatchObject({ dtype: 'U8', stored: null, shape: [1, 1, 8, 8] });
    expect(names).toEqual(['h.1.ln_1.weight', 'h.1.attn.masked_bias', 'h.1.ln_1.bias', 'h.1.attn.c_attn.weight', 'h.1.attn.c_attn.bias', 'h.1.attn.c_proj.weight', 'h.1.attn.c_proj.bias', 'h.1.ln_2.weight', 'h.1.ln_2.bias', 'h.1.mlp.c_fc.weight', 'h.1.mlp.c_fc.bias', 'h.1.mlp.c_proj.weight', 'h.1.mlp.c_proj.bias']);
    const error = await rejection(readSafetensorsStream(chunked(file, 100).stream, { onTensor: () => undefined }));
    expect(error).toBeInstanceOf(TensorFileError);
    expect((error as TensorFileError).tensor).toBe('h.0.attn.bias');
    expect((error as Error).message).toContain('"U8" (not a float type)');
  });

  it('a stream ending inside a tensor names it (is the file truncated?), and inside the header too', async () => {
    const file = synthGpt2Checkpoint({ config: CONFIG }).files['model.safetensors'];
    const range = tensorRange(file, 'h.1.attn.c_proj.weight');
    const { stream, state } = chunked(file.slice(0, range.begin + 100), 64);
    const handed: string[] = [];
    const error = await rejection(readSafetensorsStream(stream, { onTensor: (entry) => void handed.push(entry.name) }));
    expect(error).toBeInstanceOf(TensorFileError);
    expect(error).toMatchObject({ file: 'model.safetensors', field: 'length', tensor: 'h.1.attn.c_proj.weight' });
    expect((error as Error).message).toContain(`the file ended after 100 of the tensor's ${12 * 12 * 4} bytes`);
    expect(handed[handed.length - 1]).toBe('h.1.attn.c_attn.bias');
    expect(state.pulled).toBe(range.begin + 100);

    const header = await rejection(readSafetensorsStream(chunked(file.slice(0, 50), 16).stream, { onTensor: () => undefined }));
    expect(header).toMatchObject({ field: 'header_length' });
    expect((header as Error).message).toContain('at most the 42 bytes after the length (is the file truncated?)');
    const tiny = await rejection(readSafetensorsStream(chunked(file.slice(0, 5), 16).stream, { onTensor: () => undefined }));
    expect((tiny as Error).message).toBe('model.safetensors: header_length: got a file of 5 bytes; allowed: at least 8 bytes (a little-endian u64 header length)');
  });

  it('a known size shorter than the header says is refused before any tensor, naming the first one cut', async () => {
    const file = synthGpt2Checkpoint({ config: CONFIG }).files['model.safetensors'];
    const range = tensorRange(file, 'h.0.ln_2.weight');
    const handed: string[] = [];
    const error = await rejection(readSafetensorsStream(chunked(file, 64).stream, { totalBytes: range.begin + 4, file: 'x.safetensors', onTensor: (e) => void handed.push(e.name) }));
    expect(error).toMatchObject({ file: 'x.safetensors', field: 'length', tensor: 'h.0.ln_2.weight' });
    expect(handed).toEqual([]);
  });

  it('refuses a bad header with the whole-file reader\'s message, and overlapping tensors', async () => {
    const bad = new Uint8Array(16);
    new DataView(bad.buffer).setUint32(0, 8, true);
    bad.set(new TextEncoder().encode('{"a": 1,'), 8);
    const streamed = await rejection(readSafetensorsStream(chunked(bad, 3).stream, { onTensor: () => undefined }));
    let whole: unknown;
    try {
      readSafetensors(bad);
    } catch (error) {
      whole = error;
    }
    expect(streamed).toBeInstanceOf(TensorFileError);
    expect((streamed as Error).message).toBe((whole as Error).message);

    // b's bytes lie inside a's: a hand-written header.
    const header = JSON.stringify({ a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] }, b: { dtype: 'F32', shape: [2], data_offsets: [8, 16] } });
    const padded = header.padEnd(Math.ceil(header.length / 8) * 8, ' ');
    const overlapping = new Uint8Array(8 + padded.length + 16);
    new DataView(overlapping.buffer).setUint32(0, padded.length, true);
    overlapping.set(new TextEncoder().encode(padded), 8);
    const error = await rejection(readSafetensorsStream(chunked(overlapping, 5).stream, { onTensor: () => undefined }));
    expect(error).toMatchObject({ field: 'data_offsets', tensor: 'b' });
    expect((error as Error).message).toContain('overlapping the tensor before it (which ends at 16)');
  });

  it('abort: rejects with AttentionAbortError and cancels the stream', async () => {
    const file = synthGpt2Checkpoint({ config: CONFIG }).files['model.safetensors'];
    const controller = new AbortController();
    const { stream, state } = chunked(file, 32);
    let count = 0;
    const error = await rejection(
      readSafetensorsStream(stream, {
        signal: controller.signal,
        onTensor: () => {
          if (++count === 3) controller.abort();
        },
      }),
    );
    expect(error).toBeInstanceOf(AttentionAbortError);
    expect(count).toBe(3);
    expect(state.cancelled).toBe(true);
    expect(state.pulled).toBeLessThan(file.length);
  });
});
