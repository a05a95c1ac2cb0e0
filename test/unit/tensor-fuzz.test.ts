/**
 * Fuzzing the .npy and .safetensors readers: every input, however broken, must either give
 * a well-formed tensor or throw a TensorFileError (never a RangeError, TypeError, …), and
 * must return quickly. Seeded, so any failure reproduces.
 */
import { describe, expect, it } from 'vitest';
import { readNpy, writeNpy } from '../../src/inputs/npy';
import { readSafetensors, writeSafetensors } from '../../src/inputs/safetensors';
import { TensorFileError, type Tensor } from '../../src/inputs/tensors';
import { makeRng, type Rng } from '../../src/reference/random';
import { concat, npyFile, stFile } from './tensor-fixtures';

type Reader = (bytes: Uint8Array) => Tensor | Tensor[];

interface Tally {
  calls: number;
  tensors: number;
  typedErrors: number;
  fieldCounts: Record<string, number>;
  failures: string[];
  slowest: number;
}

const newTally = (): Tally => ({ calls: 0, tensors: 0, typedErrors: 0, fieldCounts: {}, failures: [], slowest: 0 });

/** A returned tensor must be self-consistent: integer dims, data of product(shape) floats. */
function checkTensor(t: Tensor): string | undefined {
  if (typeof t.name !== 'string') return 'name not a string';
  if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isInteger(d) && d >= 0)) return `bad shape ${String(t.shape)}`;
  if (!(t.data instanceof Float32Array)) return 'data not a Float32Array';
  const count = t.shape.reduce((a, b) => a * b, 1);
  if (t.data.length !== count) return `data length ${t.data.length} for shape [${t.shape}]`;
  if (!['float16', 'bfloat16', 'float32', 'float64'].includes(t.dtype)) return `dtype ${t.dtype}`;
  return undefined;
}

function run(tally: Tally, reader: Reader, bytes: Uint8Array, label: string): void {
  tally.calls++;
  const start = performance.now();
  try {
    const result = reader(bytes);
    for (const t of Array.isArray(result) ? result : [result]) {
      const problem = checkTensor(t);
      if (problem !== undefined && tally.failures.length < 5) tally.failures.push(`${label}: returned ${problem}`);
    }
    tally.tensors++;
  } catch (error) {
    if (error instanceof TensorFileError) {
      tally.typedErrors++;
      tally.fieldCounts[error.field] = (tally.fieldCounts[error.field] ?? 0) + 1;
      if (!error.message.includes(error.given) || !error.message.includes(error.allowed)) {
        tally.failures.push(`${label}: message does not name given/allowed: ${error.message}`);
      }
    } else if (tally.failures.length < 5) {
      tally.failures.push(`${label}: threw ${(error as Error)?.name}: ${(error as Error)?.message}`);
    }
  }
  tally.slowest = Math.max(tally.slowest, performance.now() - start);
}

const int = (rng: Rng, n: number): number => Math.floor(rng() * n);
const pick = <T,>(rng: Rng, items: readonly T[]): T => items[int(rng, items.length)];

/** One random mutation: flips, overwrites, inserts, deletes, truncations, splices. */
function mutate(rng: Rng, source: Uint8Array, focus: number): Uint8Array {
  let bytes: Uint8Array = source.slice();
  const edits = 1 + int(rng, 4);
  for (let e = 0; e < edits; e++) {
    // Half the edits land in the first `focus` bytes, where the preamble and header are.
    const at = rng() < 0.5 ? int(rng, Math.min(focus, bytes.length) || 1) : int(rng, bytes.length || 1);
    switch (int(rng, 7)) {
      case 0:
        if (bytes.length) bytes[at] ^= 1 << int(rng, 8);
        break;
      case 1:
        if (bytes.length) bytes[at] = int(rng, 256);
        break;
      case 2:
        if (bytes.length) bytes[at] = pick(rng, [0x00, 0xff, 0x7f, 0x80, 0x27, 0x22, 0x2c, 0x28, 0x29, 0x5b, 0x5d, 0x7b, 0x7d, 0x2d, 0x30, 0x39]);
        break;
      case 3: {
        const insert = Uint8Array.from({ length: 1 + int(rng, 8) }, () => int(rng, 256));
        bytes = concat(bytes.subarray(0, at), insert, bytes.subarray(at));
        break;
      }
      case 4:
        bytes = concat(bytes.subarray(0, at), bytes.subarray(Math.min(bytes.length, at + 1 + int(rng, 8))));
        break;
      case 5:
        bytes = bytes.slice(0, int(rng, bytes.length + 1));
        break;
      default: {
        // Duplicate a run of bytes from elsewhere in the file.
        const from = int(rng, bytes.length || 1);
        const run = bytes.slice(from, from + 1 + int(rng, 16));
        bytes = concat(bytes.subarray(0, at), run, bytes.subarray(at));
      }
    }
  }
  return bytes;
}

// The fuzzer's own files: header text as UTF-8 whatever the version, zeroed data, no padding.
const npyWithHeader = (header: string, dataBytes: number, major = 1): Uint8Array => npyFile(header, new Uint8Array(dataBytes), major, 'utf8');
const stWithHeader = (header: string, dataBytes: number): Uint8Array => stFile(header, new Uint8Array(dataBytes), false);

const tensor = (name: string, shape: number[], seed: number): Tensor => {
  const rng = makeRng(seed);
  const count = shape.reduce((a, b) => a * b, 1);
  return { name, shape, dtype: 'float32', data: Float32Array.from({ length: count }, () => rng() * 4 - 2) };
};

const NPY_SEEDS: Uint8Array[] = [
  writeNpy(tensor('a', [2, 3], 1)),
  writeNpy(tensor('s', [], 2)),
  writeNpy(tensor('v', [5], 3)),
  writeNpy(tensor('c', [2, 1, 2], 4)),
  npyWithHeader("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }\n", 24, 2),
  npyWithHeader("{'descr':'<f2','fortran_order':False,'shape':(2L,)}", 4, 3),
];

const ST_SEEDS: Uint8Array[] = [
  writeSafetensors([tensor('x', [2, 3], 5), tensor('q_proj.weight', [2, 2], 6), tensor('s', [], 7)], { format: 'pt' }),
  writeSafetensors([tensor('a', [4], 8)]),
  stWithHeader(
    '{"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"b":{"dtype":"BF16","shape":[1,2],"data_offsets":[4,8]},"d":{"dtype":"F64","shape":[1],"data_offsets":[8,16]}}',
    16,
  ),
];

const readers: Array<[string, Reader, Uint8Array[]]> = [
  ['readNpy', (b) => readNpy(b, 'fuzz.npy'), NPY_SEEDS],
  ['readSafetensors', (b) => readSafetensors(b, 'fuzz.safetensors'), ST_SEEDS],
];

function report(tally: Tally): void {
  expect(tally.failures).toEqual([]);
  // No single call may take long: a hang or a blow-up on a small input would show here.
  expect(tally.slowest).toBeLessThan(250);
}

describe('fuzzing the tensor file readers: a tensor or a TensorFileError, nothing else, never slow', () => {
  const stats: string[] = [];

  for (const [name, reader, seeds] of readers) {
    it(`${name}: the seed files read`, () => {
      for (const seed of seeds) expect(() => reader(seed)).not.toThrow();
    });

    it(`${name}: truncated at every length`, () => {
      const tally = newTally();
      for (const seed of seeds) for (let n = 0; n < seed.length; n++) run(tally, reader, seed.subarray(0, n), `truncated to ${n}`);
      report(tally);
      expect(tally.tensors).toBe(0); // every truncation is refused
      stats.push(`${name} truncations: ${tally.calls}`);
    });

    it(`${name}: 4000 random mutations`, () => {
      const tally = newTally();
      const rng = makeRng(name.length * 7919);
      for (let i = 0; i < 4000; i++) {
        const seed = pick(rng, seeds);
        const mutant = mutate(rng, seed, name === 'readNpy' ? 128 : 200);
        // Some at an odd byte offset, to exercise unaligned reads.
        const bytes = rng() < 0.3 ? concat(new Uint8Array(1), mutant).subarray(1) : mutant;
        run(tally, reader, bytes, `mutation ${i}`);
      }
      report(tally);
      expect(tally.typedErrors).toBeGreaterThan(1000);
      stats.push(`${name} mutations: ${tally.calls} (${tally.tensors} read, ${tally.typedErrors} refused: ${JSON.stringify(tally.fieldCounts)})`);
    });

    it(`${name}: random header lengths`, () => {
      const tally = newTally();
      const rng = makeRng(99 + name.length);
      for (let i = 0; i < 1000; i++) {
        const bytes = pick(rng, seeds).slice();
        const view = new DataView(bytes.buffer);
        const length = pick(rng, [int(rng, 300), int(rng, 2 ** 16), int(rng, 2 ** 32), 0xffffffff, 0]);
        if (name === 'readNpy') {
          if (bytes[6] === 1) view.setUint16(8, length & 0xffff, true);
          else view.setUint32(8, length, true);
        } else {
          view.setUint32(0, length, true);
          view.setUint32(4, rng() < 0.8 ? 0 : int(rng, 2 ** 32), true);
        }
        run(tally, reader, bytes, `header length ${length}`);
      }
      report(tally);
      stats.push(`${name} header lengths: ${tally.calls}`);
    });
  }

  it('readNpy: absurd shapes and garbage headers', () => {
    const tally = newTally();
    const rng = makeRng(2024);
    const dims = ['0', '1', '2', '3', '-1', '2147483647', '2147483648', '4294967296', '9007199254740993', '1e30', '1.5', "'3'", 'None', 'True', '()', '[2]', `1${'0'.repeat(40)}`, '3L', '-0'];
    const descrs = ["'<f4'", "'<f8'", "'<f2'", "'>f4'", "'|f4'", "'<i4'", "'|b1'", "'<c16'", "'|O'", "'<U3'", "[('a', '<f4')]", '4', "''"];
    const junk = ['{', '}', '(', ')', ',', ':', "'", '"', '\\', ' ', '\n', 'True', 'False', "'shape'", "'descr'", '1', '-', '.', 'e', 'L', '\u00e9', '\0'];
    for (let i = 0; i < 3000; i++) {
      let header: string;
      const kind = int(rng, 3);
      if (kind < 2) {
        const shape = Array.from({ length: int(rng, 5) }, () => pick(rng, dims));
        const shapeText = shape.length === 1 && rng() < 0.7 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
        header = `{'descr': ${pick(rng, descrs)}, 'fortran_order': ${pick(rng, ['False', 'True', '0', 'None'])}, 'shape': ${shapeText}, }`;
        if (kind === 1) header = header.slice(0, int(rng, header.length + 1)) + Array.from({ length: int(rng, 6) }, () => pick(rng, junk)).join('');
      } else {
        header = Array.from({ length: int(rng, 40) }, () => pick(rng, junk)).join('');
      }
      run(tally, (b) => readNpy(b), npyWithHeader(header, int(rng, 4) * 4, pick(rng, [1, 2, 3])), JSON.stringify(header));
    }
    report(tally);
    stats.push(`readNpy absurd/garbage headers: ${tally.calls} (${tally.tensors} read)`);
  });

  it('readSafetensors: absurd shapes, offsets and garbage JSON', () => {
    const tally = newTally();
    const rng = makeRng(4096);
    const numbers = [0, 1, 2, 3, 4, 8, 16, -1, 0.5, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 64, 1e308, -0];
    const values = ['null', 'true', '"x"', '[]', '{}', '[1,2]', '1e999', '-1', '"F32"', '[[[[[]]]]]'];
    const dtypes = ['F32', 'F64', 'F16', 'BF16', 'I64', 'U8', 'BOOL', 'f32', '', 'F8_E4M3'];
    const junk = ['{', '}', '[', ']', ',', ':', '"', '\\', ' ', '"dtype"', '"shape"', '"data_offsets"', '"__metadata__"', '1', '-', 'e', 'null', '\u00e9'];
    for (let i = 0; i < 3000; i++) {
      let header: string;
      const kind = int(rng, 3);
      if (kind < 2) {
        const entries = Array.from({ length: 1 + int(rng, 3) }, (_, j) => {
          const shape = Array.from({ length: int(rng, 4) }, () => pick(rng, numbers));
          const offsets = rng() < 0.8 ? [pick(rng, numbers), pick(rng, numbers)] : Array.from({ length: int(rng, 4) }, () => pick(rng, numbers));
          const fields = [
            `"dtype":${rng() < 0.9 ? JSON.stringify(pick(rng, dtypes)) : pick(rng, values)}`,
            `"shape":${rng() < 0.9 ? JSON.stringify(shape) : pick(rng, values)}`,
            `"data_offsets":${rng() < 0.9 ? JSON.stringify(offsets) : pick(rng, values)}`,
          ].filter(() => rng() < 0.95);
          return `"t${j}":{${fields.join(',')}}`;
        });
        if (rng() < 0.3) entries.push(`"__metadata__":${pick(rng, ['{"a":"b"}', '{"a":1}', '[]', '"pt"', 'null'])}`);
        header = `{${entries.join(',')}}`;
        if (kind === 1) header = header.slice(0, int(rng, header.length + 1)) + Array.from({ length: int(rng, 6) }, () => pick(rng, junk)).join('');
      } else {
        header = Array.from({ length: int(rng, 40) }, () => pick(rng, junk)).join('');
      }
      run(tally, (b) => readSafetensors(b), stWithHeader(header, int(rng, 5) * 8), header);
    }
    report(tally);
    stats.push(`readSafetensors absurd/garbage headers: ${tally.calls} (${tally.tensors} read)`);
  });

  it('each reader on the other format and on random bytes', () => {
    const tally = newTally();
    const rng = makeRng(7);
    for (const seed of [...NPY_SEEDS, ...ST_SEEDS]) {
      run(tally, (b) => readNpy(b), seed, 'npy reader');
      run(tally, (b) => readSafetensors(b), seed, 'safetensors reader');
    }
    for (let i = 0; i < 500; i++) {
      const bytes = Uint8Array.from({ length: int(rng, 200) }, () => int(rng, 256));
      run(tally, (b) => readNpy(b), bytes, 'random bytes');
      run(tally, (b) => readSafetensors(b), bytes, 'random bytes');
    }
    report(tally);
    stats.push(`cross-format and random: ${tally.calls}`);
    // eslint-disable-next-line no-console
    console.log(`tensor fuzz:\n  ${stats.join('\n  ')}`);
  });
});
