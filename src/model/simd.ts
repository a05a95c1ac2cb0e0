/**
 * A WebAssembly SIMD (128-bit) version of {@link matmulNT} for training: same arguments, same
 * result. The module is written by hand, instruction by instruction, with the small binary
 * encoder below (no assembler, no build step, no .wasm file to keep in sync):
 * {@link simdModuleBytes} returns the bytes, {@link sharedSimdMatmul} compiles them once per
 * thread. Choose it per workspace: `createWorkspace(…, { matmul: 'wasm' })` (gpt.ts).
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
import type { Band, Floats, MatmulKernel } from './layers';

/** The lane type of the sums: see the module comment. */
export type SimdPrecision = 'f32' | 'f64';

/** The register block of one precision: MR rows of A × NR rows of B (NR a multiple of the lane count). */
export interface Blocking {
  mr: number;
  nr: number;
}

const BLOCKING: Record<SimdPrecision, Blocking> = {
  // 8 accumulators + 2 B vectors + 1 broadcast: 11 of x86-64's 16 vector registers.
  f32: { mr: 4, nr: 8 },
  f64: { mr: 4, nr: 4 },
};

const BAND_CODE: Record<Band, number> = { full: 0, lower: 1, kUpToRow: 2, kFromRow: 3 };

// ---------------------------------------------------------------------------------------------
// A minimal WebAssembly binary encoder (just what the kernel needs)
// ---------------------------------------------------------------------------------------------

function uleb(value: number): number[] {
  const out: number[] = [];
  let v = value >>> 0;
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
}

function sleb(value: number): number[] {
  const out: number[] = [];
  let v = value | 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

const I32 = 0x7f;
const V128 = 0x7b;

/** Opcodes (WebAssembly core spec 2.0, and the fixed-width SIMD proposal, prefix 0xfd). */
const OP = {
  block: 0x02,
  loop: 0x03,
  if: 0x04,
  end: 0x0b,
  br: 0x0c,
  brIf: 0x0d,
  select: 0x1b,
  localGet: 0x20,
  localSet: 0x21,
  localTee: 0x22,
  i32Const: 0x41,
  i32Eqz: 0x45,
  i32Eq: 0x46,
  i32LtS: 0x48,
  i32GeS: 0x4e,
  i32LeS: 0x4c,
  i32Add: 0x6a,
  i32Load: 0x28,
  i64Load: 0x29,
  f32Load: 0x2a,
  f64Load: 0x2b,
  i32Store: 0x36,
  i64Store: 0x37,
  f32Store: 0x38,
  f64Store: 0x39,
  i64Const: 0x42,
  f32Add: 0x92,
  f64Add: 0xa0,
  f32DemoteF64: 0xb6,
  f64PromoteF32: 0xbb,
  i32Sub: 0x6b,
  i32Mul: 0x6c,
  simd: 0xfd,
} as const;

/** SIMD sub-opcodes (after 0xfd, as unsigned LEB128). */
const SIMD = {
  v128Load: 0x00,
  v128Load32Splat: 0x09,
  v128Load64Splat: 0x0a,
  v128Store: 0x0b,
  v128Const: 0x0c,
  f32x4Add: 0xe4,
  f32x4Mul: 0xe6,
  f64x2Add: 0xf0,
  f64x2Mul: 0xf2,
} as const;

/** A function body under construction: named locals, named labels for br. */
class Body {
  readonly bytes: number[] = [];
  private readonly locals = new Map<string, number>();
  private readonly localTypes: number[] = [];
  private readonly labels: string[] = [];

  constructor(params: readonly string[]) {
    params.forEach((name, i) => this.locals.set(name, i));
  }

  local(name: string, type: number): this {
    this.locals.set(name, this.locals.size);
    this.localTypes.push(type);
    return this;
  }

  private index(name: string): number {
    const at = this.locals.get(name);
    if (at === undefined) throw new Error(`simd: no local ${name}`);
    return at;
  }

  op(...bytes: number[]): this {
    this.bytes.push(...bytes);
    return this;
  }

  get(name: string): this {
    return this.op(OP.localGet, ...uleb(this.index(name)));
  }

  set(name: string): this {
    return this.op(OP.localSet, ...uleb(this.index(name)));
  }

  tee(name: string): this {
    return this.op(OP.localTee, ...uleb(this.index(name)));
  }

  i32(value: number): this {
    return this.op(OP.i32Const, ...sleb(value));
  }

  simd(code: number, ...immediates: number[]): this {
    return this.op(OP.simd, ...uleb(code), ...immediates);
  }

  /** A SIMD memory access: alignment exponent and constant byte offset. */
  mem(code: number, alignLog2: number, offset: number): this {
    return this.simd(code, ...uleb(alignLog2), ...uleb(offset));
  }

  /** A scalar memory access (load or store opcode), naturally aligned, offset 0. */
  scalar(opcode: number, alignLog2: number): this {
    return this.op(opcode, ...uleb(alignLog2), 0);
  }

  block(label: string, body: () => void): this {
    return this.structured(OP.block, label, body);
  }

  loop(label: string, body: () => void): this {
    return this.structured(OP.loop, label, body);
  }

  when(body: () => void): this {
    return this.structured(OP.if, '', body);
  }

  private structured(opcode: number, label: string, body: () => void): this {
    this.op(opcode, 0x40);
    this.labels.push(label);
    body();
    this.labels.pop();
    return this.op(OP.end);
  }

  private depth(label: string): number {
    const at = this.labels.lastIndexOf(label);
    if (at < 0) throw new Error(`simd: no label ${label}`);
    return this.labels.length - 1 - at;
  }

  br(label: string): this {
    return this.op(OP.br, ...uleb(this.depth(label)));
  }

  brIf(label: string): this {
    return this.op(OP.brIf, ...uleb(this.depth(label)));
  }

  /** The encoded body: local declarations (runs of one type), code, end. */
  encode(): number[] {
    const runs: Array<[number, number]> = [];
    for (const type of this.localTypes) {
      const last = runs[runs.length - 1];
      if (last !== undefined && last[1] === type) last[0]++;
      else runs.push([1, type]);
    }
    const body = [...uleb(runs.length), ...runs.flatMap(([count, type]) => [...uleb(count), type]), ...this.bytes, OP.end];
    return [...uleb(body.length), ...body];
  }
}

function section(id: number, content: number[]): number[] {
  return [id, ...uleb(content.length), ...content];
}

function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

function name(text: string): number[] {
  const bytes = Array.from(text, (ch) => ch.charCodeAt(0));
  return [...uleb(bytes.length), ...bytes];
}

/**
 * The kernel: `mm(ap, lda, bp, cp, m, n, depth, band, bBlock, ldc)`, all i32 (byte addresses
 * and strides; band as {@link BAND_CODE}). A is row-major at ap with row stride lda (rows up to
 * the next multiple of MR must be readable), B packed in panels at bp (bBlock bytes per panel),
 * C packed at cp with row stride ldc. For each block of MR rows (i0 = 0, MR, … while i0 < m)
 * and each panel of NR columns (j0 = 0, NR, … while j0 < the block's column end), the block of C
 * is Σ_{k = kStart}^{kEnd − 1} A[i0…][k] ⊗ B panel[k], k increasing, stored (overwritten).
 */
function kernelBody(precision: SimdPrecision, { mr, nr }: Blocking): number[] {
  const size = precision === 'f32' ? 4 : 8;
  const lanes = 16 / size;
  const nv = nr / lanes;
  const splat = precision === 'f32' ? SIMD.v128Load32Splat : SIMD.v128Load64Splat;
  const add = precision === 'f32' ? SIMD.f32x4Add : SIMD.f64x2Add;
  const mul = precision === 'f32' ? SIMD.f32x4Mul : SIMD.f64x2Mul;
  const alignLog2 = precision === 'f32' ? 2 : 3;

  const f = new Body(['ap', 'lda', 'bp', 'cp', 'm', 'n', 'depth', 'band', 'bBlock', 'ldc']);
  for (const local of ['i0', 'aBase', 'cRow', 'kS', 'kE', 'jE', 'j0', 'bBase', 'pb', 'cnt', 'pc']) f.local(local, I32);
  const pa = (r: number) => `pa${r}`;
  for (let r = 0; r < mr; r++) f.local(pa(r), I32);
  const acc = (r: number, v: number) => `acc${r}_${v}`;
  for (let r = 0; r < mr; r++) for (let v = 0; v < nv; v++) f.local(acc(r, v), V128);
  for (let v = 0; v < nv; v++) f.local(`b${v}`, V128);
  f.local('x', V128);

  /** min(local a + constant, local b) onto the stack. */
  const minPlus = (a: string, plus: number, b: string) => {
    f.get(a).i32(plus).op(OP.i32Add);
    f.get(b);
    f.get(a).i32(plus).op(OP.i32Add).get(b).op(OP.i32LtS);
    f.op(OP.select);
  };

  f.i32(0).set('i0');
  f.get('ap').set('aBase');
  f.get('cp').set('cRow');
  f.block('rowsDone', () => {
    f.loop('rows', () => {
      f.get('i0').get('m').op(OP.i32GeS).brIf('rowsDone');
      // The block's k range and column end, by band.
      f.i32(0).set('kS');
      f.get('depth').set('kE');
      f.get('n').set('jE');
      f.get('band').i32(BAND_CODE.lower).op(OP.i32Eq).when(() => {
        minPlus('i0', mr, 'n');
        f.set('jE');
      });
      f.get('band').i32(BAND_CODE.kUpToRow).op(OP.i32Eq).when(() => {
        minPlus('i0', mr, 'depth');
        f.set('kE');
      });
      f.get('band').i32(BAND_CODE.kFromRow).op(OP.i32Eq).when(() => {
        minPlus('i0', 0, 'depth');
        f.set('kS');
      });
      f.i32(0).set('j0');
      f.get('bp').set('bBase');
      f.block('colsDone', () => {
        f.loop('cols', () => {
          f.get('j0').get('jE').op(OP.i32GeS).brIf('colsDone');
          for (let r = 0; r < mr; r++) for (let v = 0; v < nv; v++) f.simd(SIMD.v128Const, ...new Array<number>(16).fill(0)).set(acc(r, v));
          f.get('aBase').get('kS').i32(size).op(OP.i32Mul).op(OP.i32Add).set(pa(0));
          for (let r = 1; r < mr; r++) f.get(pa(r - 1)).get('lda').op(OP.i32Add).set(pa(r));
          f.get('bBase').get('kS').i32(nr * size).op(OP.i32Mul).op(OP.i32Add).set('pb');
          f.get('kE').get('kS').op(OP.i32Sub).set('cnt');
          f.block('kDone', () => {
            f.get('cnt').i32(0).op(OP.i32LeS).brIf('kDone');
            f.loop('k', () => {
              for (let v = 0; v < nv; v++) f.get('pb').mem(SIMD.v128Load, alignLog2, v * 16).set(`b${v}`);
              for (let r = 0; r < mr; r++) {
                f.get(pa(r)).mem(splat, alignLog2, 0).set('x');
                for (let v = 0; v < nv; v++) {
                  f.get(acc(r, v)).get('x').get(`b${v}`).simd(mul).simd(add).set(acc(r, v));
                }
                f.get(pa(r)).i32(size).op(OP.i32Add).set(pa(r));
              }
              f.get('pb').i32(nr * size).op(OP.i32Add).set('pb');
              f.get('cnt').i32(1).op(OP.i32Sub).tee('cnt').brIf('k');
            });
          });
          // Store the block: row r at pc = cRow + j0·size + r·ldc.
          f.get('cRow').get('j0').i32(size).op(OP.i32Mul).op(OP.i32Add).set('pc');
          for (let r = 0; r < mr; r++) {
            if (r > 0) f.get('pc').get('ldc').op(OP.i32Add).set('pc');
            for (let v = 0; v < nv; v++) f.get('pc').get(acc(r, v)).mem(SIMD.v128Store, alignLog2, v * 16);
          }
          f.get('j0').i32(nr).op(OP.i32Add).set('j0');
          f.get('bBase').get('bBlock').op(OP.i32Add).set('bBase');
          f.br('cols');
        });
      });
      f.get('i0').i32(mr).op(OP.i32Add).set('i0');
      f.get('aBase').get('lda').i32(mr).op(OP.i32Mul).op(OP.i32Add).set('aBase');
      f.get('cRow').get('ldc').i32(mr).op(OP.i32Mul).op(OP.i32Add).set('cRow');
      f.br('rows');
    });
  });
  return f.encode();
}

/**
 * `pack(src, ldb, dst, n, rows, depth)`: B's rows 0…rows−1 (row-major at src, stride ldb bytes)
 * into panels of NR rows at dst, k-major: dst[panel][k][lane]. Rows from n on are zeros.
 */
function packBody(precision: SimdPrecision, { nr }: Blocking): number[] {
  const size = precision === 'f32' ? 4 : 8;
  const [load, store, align] = precision === 'f32' ? [OP.i32Load, OP.i32Store, 2] : [OP.i64Load, OP.i64Store, 3];
  const f = new Body(['src', 'ldb', 'dst', 'n', 'rows', 'depth']);
  for (const local of ['j', 'lane', 'panel', 's', 'd', 'cnt']) f.local(local, I32);
  /** One row of `depth` values into the panel's lane (copied from s, or zeros). */
  const rowLoop = (copy: boolean) => {
    f.get('depth').set('cnt');
    f.block('kDone', () => {
      f.get('cnt').i32(0).op(OP.i32LeS).brIf('kDone');
      f.loop('k', () => {
        f.get('d');
        if (copy) f.get('s').scalar(load, align);
        else f.op(precision === 'f32' ? OP.i32Const : OP.i64Const, 0);
        f.scalar(store, align);
        f.get('s').i32(size).op(OP.i32Add).set('s');
        f.get('d').i32(nr * size).op(OP.i32Add).set('d');
        f.get('cnt').i32(1).op(OP.i32Sub).tee('cnt').brIf('k');
      });
    });
  };
  f.i32(0).set('j');
  f.i32(0).set('lane');
  f.get('dst').set('panel');
  f.block('done', () => {
    f.loop('row', () => {
      f.get('j').get('rows').op(OP.i32GeS).brIf('done');
      f.get('panel').get('lane').i32(size).op(OP.i32Mul).op(OP.i32Add).set('d');
      f.get('src').get('j').get('ldb').op(OP.i32Mul).op(OP.i32Add).set('s');
      f.get('j').get('n').op(OP.i32LtS).when(() => rowLoop(true));
      f.get('j').get('n').op(OP.i32GeS).when(() => rowLoop(false));
      f.get('j').i32(1).op(OP.i32Add).set('j');
      f.get('lane').i32(1).op(OP.i32Add).set('lane');
      f.get('lane').i32(nr).op(OP.i32Eq).when(() => {
        f.i32(0).set('lane');
        f.get('panel').get('depth').i32(nr * size).op(OP.i32Mul).op(OP.i32Add).set('panel');
      });
      f.br('row');
    });
  });
  return f.encode();
}

/**
 * `out32` / `out64(cp, ldcp, dst, ldd, m, n, lower, accumulate)`: the packed sums (row stride
 * ldcp bytes) into C's rows at dst (row stride ldd bytes, float32 resp. float64 entries):
 * C[i][j] = sum, or C[i][j] + sum with accumulate, for j < n (and j ≤ i when lower). Rounding as
 * the JS kernel's `c[…] = s` / `c[…] += s`: double sums are added to C in double and rounded
 * once; float32 sums added to float32 C in float32 (the same value: a double add of two
 * float32 values rounded to float32 equals the float32 add).
 */
function outBody(precision: SimdPrecision, dest: SimdPrecision): number[] {
  const sumSize = precision === 'f32' ? 4 : 8;
  const dstSize = dest === 'f32' ? 4 : 8;
  const f = new Body(['cp', 'ldcp', 'dst', 'ldd', 'm', 'n', 'lower', 'accumulate']);
  for (const local of ['i', 'jEnd', 'j', 's', 'd']) f.local(local, I32);
  const loadSum = () => f.get('s').scalar(precision === 'f32' ? OP.f32Load : OP.f64Load, precision === 'f32' ? 2 : 3);
  const loadDst = () => f.get('d').scalar(dest === 'f32' ? OP.f32Load : OP.f64Load, dest === 'f32' ? 2 : 3);
  /** Pushes the value to store: the sum, or old C + sum, in C's type. */
  const value = (accumulate: boolean) => {
    if (precision === 'f64') {
      if (accumulate) {
        loadDst();
        if (dest === 'f32') f.op(OP.f64PromoteF32);
        loadSum().op(OP.f64Add);
      } else loadSum();
      if (dest === 'f32') f.op(OP.f32DemoteF64);
    } else if (dest === 'f32') {
      if (accumulate) loadDst();
      loadSum();
      if (accumulate) f.op(OP.f32Add);
    } else {
      if (accumulate) loadDst();
      loadSum().op(OP.f64PromoteF32);
      if (accumulate) f.op(OP.f64Add);
    }
  };
  const rowLoop = (accumulate: boolean) => {
    f.block('jDone', () => {
      f.loop('cols', () => {
        f.get('j').get('jEnd').op(OP.i32GeS).brIf('jDone');
        f.get('d');
        value(accumulate);
        f.scalar(dest === 'f32' ? OP.f32Store : OP.f64Store, dest === 'f32' ? 2 : 3);
        f.get('s').i32(sumSize).op(OP.i32Add).set('s');
        f.get('d').i32(dstSize).op(OP.i32Add).set('d');
        f.get('j').i32(1).op(OP.i32Add).set('j');
        f.br('cols');
      });
    });
  };
  f.i32(0).set('i');
  f.block('done', () => {
    f.loop('rows', () => {
      f.get('i').get('m').op(OP.i32GeS).brIf('done');
      f.get('n').set('jEnd');
      f.get('lower').when(() => {
        // jEnd = min(i + 1, n)
        f.get('i').i32(1).op(OP.i32Add);
        f.get('n');
        f.get('i').i32(1).op(OP.i32Add).get('n').op(OP.i32LtS);
        f.op(OP.select).set('jEnd');
      });
      f.get('cp').get('i').get('ldcp').op(OP.i32Mul).op(OP.i32Add).set('s');
      f.get('dst').get('i').get('ldd').op(OP.i32Mul).op(OP.i32Add).set('d');
      f.i32(0).set('j');
      f.get('accumulate').when(() => rowLoop(true));
      f.get('accumulate').op(OP.i32Eqz).when(() => rowLoop(false));
      f.get('i').i32(1).op(OP.i32Add).set('i');
      f.br('rows');
    });
  });
  return f.encode();
}

/** The module's functions: export name, number of i32 parameters, body. */
function functions(precision: SimdPrecision, blocking: Blocking): Array<[string, number, number[]]> {
  return [
    ['mm', 10, kernelBody(precision, blocking)],
    ['pack', 6, packBody(precision, blocking)],
    ['out32', 8, outBody(precision, 'f32')],
    ['out64', 8, outBody(precision, 'f64')],
  ];
}

/** The whole module: one memory (exported as `memory`, 1 page to start) and the functions of {@link functions}. */
export function simdModuleBytes(precision: SimdPrecision, blocking: Blocking = BLOCKING[precision]): Uint8Array<ArrayBuffer> {
  const fns = functions(precision, blocking);
  const bytes = [
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vec(fns.map(([, params]) => [0x60, ...vec(new Array<number[]>(params).fill([I32])), ...vec([])]))),
    ...section(3, vec(fns.map((_, i) => uleb(i)))),
    ...section(5, vec([[0x00, ...uleb(1)]])),
    ...section(7, vec([[...name('memory'), 0x02, ...uleb(0)], ...fns.map(([fnName], i) => [...name(fnName), 0x00, ...uleb(i)])])),
    ...section(10, vec(fns.map(([, , body]) => body))),
  ];
  return new Uint8Array(bytes);
}

// ---------------------------------------------------------------------------------------------
// The kernel as a matmulNT
// ---------------------------------------------------------------------------------------------

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

  return function simdMatmulNT(
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
}

const shared = new Map<SimdPrecision, MatmulKernel | null>();

/** This thread's kernel of `precision`, made on first use (null without WebAssembly SIMD). */
export function sharedSimdMatmul(precision: SimdPrecision = 'f64'): MatmulKernel | null {
  if (!shared.has(precision)) shared.set(precision, createSimdMatmul(precision));
  return shared.get(precision)!;
}
