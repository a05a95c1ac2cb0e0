/**
 * The one matrix kernel of the model's CPU code, {@link matmulNT} (C = A·Bᵀ, both operands read
 * along rows), its transposes, and the {@link Scratch} buffers the layers work in. The forward
 * layers (layers.ts), the reference (forward-reference.ts) and training (src/train) all go
 * through it.
 *
 * Register-blocked 2 rows × 4 columns. Measured on this project's machine (Node 20, one core,
 * 1024×64 · 64×192, Float32): the textbook i-k-j loop does 0.27 GMAC/s, plain dot products 0.6,
 * the 2×4 block 1.9. The other operand layouts are brought to this one by transposing into
 * scratch (cost rows·cols, against rows·cols·depth for the product). Layers that take a
 * {@link Scratch} call the kernel it carries (`scratch.matmul`, matmulNT unless the scratch was
 * made with another {@link MatmulKernel}): training's workspaces can carry the WebAssembly SIMD
 * kernel of src/train/simd-matmul.ts, which gives the same bits several times faster.
 *
 * Sums are JavaScript's, i.e. double precision: every dot product is accumulated in a double
 * local and only rounded when stored, so Float32 storage never means Float32 accumulation.
 */
import type { Floats } from './schema';

export type { Floats } from './schema';

/**
 * Buffers that outlive a call: `take(slot, length)` returns the slot's array, grown when too
 * short (never shrunk), in the storage type the scratch was made for. Slots are reused by
 * every layer in turn (a transpose of one layer's weight is dead once its product is done).
 */
export class Scratch {
  private readonly slots = new Map<string, Floats>();
  constructor(
    /** Makes a zeroed array of the scratch's storage type. */
    readonly make: (length: number) => Floats,
    /** The matrix kernel of the layers that take this scratch (default {@link matmulNT}). */
    readonly matmul: MatmulKernel = matmulNT,
  ) {}

  take(slot: string, length: number): Floats {
    const have = this.slots.get(slot);
    if (have !== undefined && have.length >= length) return have;
    const made = this.make(length);
    this.slots.set(slot, made);
    return made;
  }
}

/** A scratch whose buffers are Float32Array or Float64Array, like `like`. */
export function scratchFor(like: Floats): Scratch {
  return like instanceof Float64Array ? new Scratch((n) => new Float64Array(n)) : new Scratch((n) => new Float32Array(n));
}

// ---------------------------------------------------------------------------------------------
// The kernel
// ---------------------------------------------------------------------------------------------

/**
 * Which entries of a product over a causal (square) map are needed, so the kernel can skip
 * the rest (half the work of every attention product):
 * - `'full'`: all of C, the whole depth.
 * - `'lower'`: only C[i][j] with j ≤ i is computed; entries above the diagonal are left as
 *   they were (the caller masks them).
 * - `'kUpToRow'`: row i sums only k ≤ i + 1, because A[i][k] = 0 for k > i (A is a causal map
 *   like the softmax weights). The row pair (i, i+1) is blocked together, so A[i][i+1] is read
 *   and must really be 0.
 * - `'kFromRow'`: row i sums only k ≥ i, because A[i][k] = 0 for k < i (A is a transposed
 *   causal map); likewise A[i+1][i] must be 0.
 */
export type Band = 'full' | 'lower' | 'kUpToRow' | 'kFromRow';

/**
 * C (m × n) = A (m × depth) · Bᵀ, where B is n × depth: C[i][j] = Σ_k A[i][k] · B[j][k]. Each
 * matrix is given by its array, the offset of its first entry and its row stride (`ld`), so
 * the kernel reads one head's columns straight out of a wider row (Q inside c_attn's output).
 * `accumulate` adds to C instead of overwriting it.
 *
 * Blocked 2 rows of A × 4 rows of B: eight running sums in registers, six loads per eight
 * multiply-adds, no store inside the depth loop (see the module comment for the speed-up).
 */
export function matmulNT(
  a: Floats,
  aOff: number,
  lda: number,
  b: Floats,
  bOff: number,
  ldb: number,
  c: Floats,
  cOff: number,
  ldc: number,
  m: number,
  n: number,
  depth: number,
  accumulate: boolean,
  band: Band = 'full',
): void {
  const lower = band === 'lower';
  const kUp = band === 'kUpToRow';
  const kFrom = band === 'kFromRow';
  let i = 0;
  for (; i + 1 < m; i += 2) {
    const a0 = aOff + i * lda;
    const a1 = a0 + lda;
    const c0 = cOff + i * ldc;
    const c1 = c0 + ldc;
    const k0 = kFrom ? Math.min(i, depth) : 0;
    const k1 = kUp ? Math.min(i + 2, depth) : depth;
    // Columns both rows need (row i stops at j = i when lower), then each row's own tail.
    const end0 = lower ? Math.min(n, i + 1) : n;
    const end1 = lower ? Math.min(n, i + 2) : n;
    let j = 0;
    for (; j + 3 < end0; j += 4) {
      const b0 = bOff + j * ldb;
      const b1 = b0 + ldb;
      const b2 = b1 + ldb;
      const b3 = b2 + ldb;
      let s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0;
      for (let k = k0; k < k1; k++) {
        const x0 = a[a0 + k];
        const x1 = a[a1 + k];
        const y0 = b[b0 + k];
        const y1 = b[b1 + k];
        const y2 = b[b2 + k];
        const y3 = b[b3 + k];
        s00 += x0 * y0;
        s01 += x0 * y1;
        s02 += x0 * y2;
        s03 += x0 * y3;
        s10 += x1 * y0;
        s11 += x1 * y1;
        s12 += x1 * y2;
        s13 += x1 * y3;
      }
      if (accumulate) {
        c[c0 + j] += s00;
        c[c0 + j + 1] += s01;
        c[c0 + j + 2] += s02;
        c[c0 + j + 3] += s03;
        c[c1 + j] += s10;
        c[c1 + j + 1] += s11;
        c[c1 + j + 2] += s12;
        c[c1 + j + 3] += s13;
      } else {
        c[c0 + j] = s00;
        c[c0 + j + 1] = s01;
        c[c0 + j + 2] = s02;
        c[c0 + j + 3] = s03;
        c[c1 + j] = s10;
        c[c1 + j + 1] = s11;
        c[c1 + j + 2] = s12;
        c[c1 + j + 3] = s13;
      }
    }
    for (let jj = j; jj < end0; jj++) dotInto(a, a0, b, bOff + jj * ldb, c, c0 + jj, k0, k1, accumulate);
    for (let jj = j; jj < end1; jj++) dotInto(a, a1, b, bOff + jj * ldb, c, c1 + jj, k0, k1, accumulate);
  }
  if (i < m) {
    // The odd last row: 1 × 4 blocks.
    const a0 = aOff + i * lda;
    const c0 = cOff + i * ldc;
    const k0 = kFrom ? Math.min(i, depth) : 0;
    const k1 = kUp ? Math.min(i + 1, depth) : depth;
    const end0 = lower ? Math.min(n, i + 1) : n;
    let j = 0;
    for (; j + 3 < end0; j += 4) {
      const b0 = bOff + j * ldb;
      const b1 = b0 + ldb;
      const b2 = b1 + ldb;
      const b3 = b2 + ldb;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let k = k0; k < k1; k++) {
        const x0 = a[a0 + k];
        s0 += x0 * b[b0 + k];
        s1 += x0 * b[b1 + k];
        s2 += x0 * b[b2 + k];
        s3 += x0 * b[b3 + k];
      }
      if (accumulate) {
        c[c0 + j] += s0;
        c[c0 + j + 1] += s1;
        c[c0 + j + 2] += s2;
        c[c0 + j + 3] += s3;
      } else {
        c[c0 + j] = s0;
        c[c0 + j + 1] = s1;
        c[c0 + j + 2] = s2;
        c[c0 + j + 3] = s3;
      }
    }
    for (; j < end0; j++) dotInto(a, a0, b, bOff + j * ldb, c, c0 + j, k0, k1, accumulate);
  }
}

/**
 * The signature of {@link matmulNT}, for kernels that stand in for it with the same arguments and
 * result (src/train/simd-matmul.ts). Each {@link Scratch} carries the kernel its layers use.
 */
export type MatmulKernel = typeof matmulNT;

function dotInto(a: Floats, aAt: number, b: Floats, bAt: number, c: Floats, cAt: number, k0: number, k1: number, accumulate: boolean): void {
  let s = 0;
  for (let k = k0; k < k1; k++) s += a[aAt + k] * b[bAt + k];
  c[cAt] = accumulate ? c[cAt] + s : s;
}

/** dst[j][i] = src[i][j] for a rows × cols block; strides as in {@link matmulNT}. */
export function transpose(src: Floats, srcOff: number, lds: number, rows: number, cols: number, dst: Floats, dstOff: number, ldd: number): void {
  // 32 × 32 tiles keep both the reads and the writes within cache lines.
  for (let r0 = 0; r0 < rows; r0 += 32) {
    const r1 = Math.min(r0 + 32, rows);
    for (let c0 = 0; c0 < cols; c0 += 32) {
      const c1 = Math.min(c0 + 32, cols);
      for (let r = r0; r < r1; r++) {
        const from = srcOff + r * lds;
        for (let col = c0; col < c1; col++) dst[dstOff + col * ldd + r] = src[from + col];
      }
    }
  }
}
