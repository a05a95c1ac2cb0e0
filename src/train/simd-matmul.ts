/**
 * A WebAssembly SIMD (128-bit) version of src/model/matmul.ts's matmulNT for training: same
 * arguments, same result. The module is written by hand, instruction by instruction
 * (wasm-kernels.ts, with the small binary writer of wasm-encoder.ts: no assembler, no build
 * step, no .wasm file to keep in sync); this file instantiates it and is the JS glue:
 * {@link createSimdMatmul} makes a kernel, {@link sharedSimdMatmul} one per thread. Choose it
 * per workspace: `createWorkspace(…, { matmul: 'wasm' })` (workspace.ts).
 *
 * How it computes C (m × n) = A (m × depth) · Bᵀ (B is n × depth), see {@link createSimdMatmul}:
 * - A's rows and B's rows are copied into the module's memory (each as one native typed-array
 *   copy of its strided span: a JS element loop costs ~2 ns a value here, as much as ~10
 *   multiply-adds), B is packed by wasm into panels of NR rows stored k-major (NR values per
 *   k), and the needed entries of C are written back by wasm and copied out. The copies cost
 *   m·depth + n·depth + m·n against m·n·depth for the product, and let A, B and C be any typed
 *   arrays (shared memory too), with any offsets and strides, like matmulNT's.
 * - The inner loop keeps an MR × NR block of C in registers (MR·NR/lanes v128 accumulators):
 *   per k it loads B's NR values as vectors, broadcasts each of the MR values A[i0 + r][k]
 *   (load-and-splat), and does one mul and one add per accumulator (no fused multiply-add:
 *   wasm has none outside relaxed-simd, which is not used).
 * - Summation order is fixed: every entry C[i][j] is the sum over k in increasing order,
 *   starting from 0, the same order as the JS kernel, whatever the blocking. Wasm arithmetic is
 *   IEEE-754 (round to nearest even, no FMA contraction, no flush-to-zero), so the same inputs
 *   give the same bits on any machine.
 *
 * Precision ({@link SimdPrecision}), chosen per module:
 * - `'f64'` (the default, `matmul: 'wasm'`): values are widened to double when copied in (exact)
 *   and summed in f64x2 lanes, exactly as the JS kernel does with its double locals (the product
 *   of two float32 values is exact in double), and each sum is rounded once when stored (or
 *   added to C in double, then rounded, with `accumulate`). The result is therefore bit for bit
 *   the JS kernel's, for Float32 and Float64 storage alike: switching a run to this kernel
 *   changes no number it produces, and the JS kernel is a fallback with the same results.
 * - `'f32'` (`matmul: 'wasm-f32'`): values are rounded to float32 and summed in f32x4 lanes,
 *   each product and partial sum rounded to float32: twice the lanes, but the results differ
 *   from the JS kernel's by float32 rounding (|error| ≤ (depth + 2)·2⁻²⁴·Σ_k|a||b| per entry).
 *
 * The bands of {@link Band} are honoured exactly: `'lower'` writes only C[i][j] with j ≤ i
 * (blocks wholly above the diagonal are not computed); `'kUpToRow'` / `'kFromRow'` sum, per
 * block of MR rows, only the k that some row of the block needs, and the copy of A gets explicit
 * zeros for the entries the band says are zero (k > i, resp. k < i), so those entries of A are
 * never read at all (the JS kernel reads A[i][i+1] and needs it to be 0).
 *
 * Measured on this project's 2-core machine (Node 20, one thread, Float32 data, shared with
 * other jobs, medians): 'f64' ~4–7 GMAC/s, 'f32' ~8–13, the JS kernel ~0.8–1.4; a training step
 * of the model of scripts/train.ts (512 tokens) ~2.4× faster with 'f64', ~3× with 'f32'.
 *
 * Pure TypeScript over the WebAssembly global: runs in Node and in browsers (the module is
 * small enough to compile synchronously); {@link createSimdMatmul} returns null where
 * WebAssembly or its SIMD proposal is missing.
 */
import type { Band, MatmulKernel } from '../model/matmul';
import { BAND_CODE, BLOCKING, simdModuleBytes, type Blocking, type SimdPrecision } from './wasm-kernels';

export type { Blocking, SimdPrecision } from './wasm-kernels';

type Exports = {
  memory: WebAssembly.Memory;
  mm: (ap: number, lda: number, bp: number, cp: number, m: number, n: number, depth: number, band: number, bBlock: number, ldc: number) => void;
  pack: (src: number, ldb: number, dst: number, n: number, rows: number, depth: number) => void;
  out32: (cp: number, ldcp: number, dst: number, ldd: number, m: number, n: number, lower: number, accumulate: number) => void;
  out64: (cp: number, ldcp: number, dst: number, ldd: number, m: number, n: number, lower: number, accumulate: number) => void;
};

/** Whether this engine compiles the module (WebAssembly with fixed-width SIMD). */
export function simdSupported(precision: SimdPrecision = 'f64'): boolean {
  try {
    return typeof WebAssembly === 'object' && WebAssembly.validate(simdModuleBytes(precision));
  } catch {
    return false;
  }
}

const PAGE = 65536;
const align16 = (bytes: number) => Math.ceil(bytes / 16) * 16;

/**
 * A {@link MatmulKernel} running the module of `precision` (module comment), or null where the
 * engine has no WebAssembly SIMD. Each call of this function makes its own instance and memory
 * (grown as needed, never shrunk); one per thread is enough (see {@link sharedSimdMatmul}).
 *
 * Per product: A's rows (the whole strided span, one native copy) and B's rows are copied in,
 * B is packed into panels, the kernel runs, and C's span is copied back out (C's span is first
 * copied in when entries of it must survive: `accumulate`, `'lower'`, or a stride wider than
 * n). C must not overlap A or B (neither may it for the JS kernel).
 */
export function createSimdMatmul(precision: SimdPrecision = 'f64', blocking: Blocking = BLOCKING[precision]): MatmulKernel | null {
  if (!simdSupported(precision)) return null;
  const instance = new WebAssembly.Instance(new WebAssembly.Module(simdModuleBytes(precision, blocking)));
  const { memory, mm, pack, out32, out64 } = instance.exports as unknown as Exports;
  const { mr, nr } = blocking;
  const size = precision === 'f32' ? 4 : 8;
  let h32 = new Float32Array(memory.buffer);
  let h64 = new Float64Array(memory.buffer);

  // The parameters of matmulNT (their types from MatmulKernel).
  const simdMatmulNT: MatmulKernel = (a, aOff, lda, b, bOff, ldb, c, cOff, ldc, m, n, depth, accumulate, band = 'full') => {
    if (m <= 0 || n <= 0) return;
    const lower = band === 'lower';
    const kUp = band === 'kUpToRow';
    const kFrom = band === 'kFromRow';
    const mPad = Math.ceil(m / mr) * mr;
    // The columns any needed entry uses: all n, or for 'lower' none past the last row.
    const nUsed = lower ? Math.min(n, mPad) : n;
    const nPad = Math.ceil(nUsed / nr) * nr;
    // Memory (byte addresses): A's span (readable up to row mPad − 1), B's span, B packed,
    // the sums (mPad × nPad), C's span in C's own type.
    const aSpan = depth > 0 ? (m - 1) * lda + depth : 0;
    const aExtent = depth > 0 ? (mPad - 1) * lda + depth : 0;
    const bSpan = depth > 0 ? (nUsed - 1) * ldb + depth : 0;
    const cSize = c instanceof Float64Array ? 8 : 4;
    const cSpan = (m - 1) * ldc + n;
    const aAt = 0;
    const bAt = align16(aAt + aExtent * size);
    const pAt = align16(bAt + bSpan * size);
    const sAt = align16(pAt + nPad * depth * size);
    const cAt = align16(sAt + mPad * nPad * size);
    const end = cAt + cSpan * cSize;
    if (end > memory.buffer.byteLength) {
      memory.grow(Math.ceil((end - memory.buffer.byteLength) / PAGE));
      h32 = new Float32Array(memory.buffer);
      h64 = new Float64Array(memory.buffer);
    }
    const h = size === 8 ? h64 : h32;

    if (depth > 0) {
      const a0 = aAt / size;
      h.set(a.subarray(aOff, aOff + aSpan), a0);
      if (aExtent > aSpan) h.fill(0, a0 + aSpan, a0 + aExtent); // the rows past m in the last block
      // The zeros a k-band promises, written rather than trusted: within each block's k range,
      // A[i][k] = 0 for k > i ('kUpToRow') or k < i ('kFromRow').
      if (kUp || kFrom) {
        for (let i = 0; i < m; i++) {
          const i0 = i - (i % mr);
          const row = a0 + i * lda;
          if (kUp) for (let k = i + 1, kE = Math.min(i0 + mr, depth); k < kE; k++) h[row + k] = 0;
          else for (let k = Math.min(i0, depth), kE = Math.min(i, depth); k < kE; k++) h[row + k] = 0;
        }
      }
      h.set(b.subarray(bOff, bOff + bSpan), bAt / size);
    }
    pack(bAt, ldb * size, pAt, nUsed, nPad, depth);
    mm(aAt, lda * size, pAt, sAt, m, nUsed, depth, BAND_CODE[band], nr * depth * size, nPad * size);

    const hc = cSize === 8 ? h64 : h32;
    const c0 = cAt / cSize;
    if (accumulate || lower || ldc !== n) hc.set(c.subarray(cOff, cOff + cSpan), c0);
    (cSize === 8 ? out64 : out32)(sAt, nPad * size, cAt, ldc * cSize, m, n, lower ? 1 : 0, accumulate ? 1 : 0);
    c.set(hc.subarray(c0, c0 + cSpan), cOff);
  };
  return simdMatmulNT;
}

const shared = new Map<SimdPrecision, MatmulKernel | null>();

/** This thread's kernel of `precision`, made on first use (null without WebAssembly SIMD). */
export function sharedSimdMatmul(precision: SimdPrecision = 'f64'): MatmulKernel | null {
  if (!shared.has(precision)) shared.set(precision, createSimdMatmul(precision));
  return shared.get(precision)!;
}
