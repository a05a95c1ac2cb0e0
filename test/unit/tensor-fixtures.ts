/**
 * Hand-built .npy and .safetensors bytes and the checks on their refusals, shared by the
 * reader tests (npy, safetensors) and the fuzzer: the files are built here byte by byte, not
 * by our writers, so the readers are tested against the formats as specified.
 */
import { expect, it } from 'vitest';
import { AttentionError } from '../../src/core/errors';
import { TensorFileError, type TensorFileField } from '../../src/inputs/tensors';
import { thrown } from './expect-thrown';

/** The bytes of float32 values (the host is little-endian, as both formats are). */
export const f32Bytes = (values: number[]): Uint8Array => new Uint8Array(new Float32Array(values).buffer);

/** The bytes of float64 values. */
export const f64Bytes = (values: number[]): Uint8Array => new Uint8Array(new Float64Array(values).buffer);

/** The little-endian bytes of 16-bit patterns (float16, bfloat16). */
export function u16Bytes(values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 2);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => view.setUint16(i * 2, v, true));
  return out;
}

/** The parts one after the other, in a fresh buffer. */
export function concat(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * A .npy file built by hand: magic, version `major`.0, header length (u16 for 1.0, u32 after),
 * the header as given (latin-1, or UTF-8), then the data.
 */
export function npyFile(header: string, data: Uint8Array, major = 1, encoding: 'latin1' | 'utf8' = 'latin1'): Uint8Array<ArrayBuffer> {
  const headerBytes = encoding === 'utf8' ? new TextEncoder().encode(header) : Uint8Array.from(header, (c) => c.charCodeAt(0));
  const preamble = major === 1 ? 10 : 12;
  const out = new Uint8Array(preamble + headerBytes.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0]);
  const view = new DataView(out.buffer);
  if (major === 1) view.setUint16(8, headerBytes.length, true);
  else view.setUint32(8, headerBytes.length, true);
  out.set(headerBytes, preamble);
  out.set(data, preamble + headerBytes.length);
  return out;
}

/**
 * A .safetensors file built by hand: u64 LE length, the header text as given (padded with
 * spaces to 8 bytes when `pad`), then the data section.
 */
export function stFile(header: string | object, data: Uint8Array = new Uint8Array(0), pad = true): Uint8Array<ArrayBuffer> {
  let json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  if (pad && json.length % 8 !== 0) {
    const padded = new Uint8Array(Math.ceil(json.length / 8) * 8).fill(0x20);
    padded.set(json);
    json = padded;
  }
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

/** The TensorFileError `fn` throws (the test fails when it throws nothing or something else). */
export const fileError = (fn: () => unknown): TensorFileError => thrown(TensorFileError, fn);

/** A malformed file: what it is, how to make it, the field the error must name, and text the message must hold. */
export type RefusalCase = [what: string, make: () => Uint8Array | ArrayBuffer, field: TensorFileField, mention?: string];

/**
 * One test per case: `read` refuses the file with a TensorFileError (an AttentionError) whose
 * field is the case's, and whose message names the file, the field, what was given, what is
 * allowed and the case's mention.
 */
export function itRefusesEach(read: (bytes: Uint8Array | ArrayBuffer, file: string) => unknown, file: string, cases: readonly RefusalCase[]): void {
  for (const [what, make, field, mention] of cases) {
    it(`refuses ${what}`, () => {
      const e = fileError(() => read(make(), file));
      expect(e.field).toBe(field);
      expect(e).toBeInstanceOf(AttentionError);
      expect(e.message).toContain(file);
      expect(e.message).toContain(field);
      expect(e.message).toContain(e.given);
      expect(e.message).toContain(e.allowed);
      if (mention !== undefined) expect(e.message).toContain(mention);
    });
  }
}
