/**
 * The functions of the training matmul's WebAssembly module, written with wasm-encoder.ts:
 * `mm` (the register-blocked kernel), `pack` (B into k-major panels) and `out32` / `out64`
 * (the sums into C). simd-matmul.ts instantiates the module and explains the method;
 * {@link simdModuleBytes} returns the bytes.
 */
import type { Band } from '../model/matmul';
import { Body, I32, OP, SIMD, V128, section, sleb, uleb, vec, wasmName } from './wasm-encoder';

/** The lane type of the sums: see the module comment. */
export type SimdPrecision = 'f32' | 'f64';

/** The register block of one precision: MR rows of A × NR rows of B (NR a multiple of the lane count). */
export interface Blocking {
  mr: number;
  nr: number;
}

/** The default register block of each precision. */
export const BLOCKING: Record<SimdPrecision, Blocking> = {
  // 8 accumulators + 2 B vectors + 1 broadcast: 11 of x86-64's 16 vector registers.
  f32: { mr: 4, nr: 8 },
  f64: { mr: 4, nr: 4 },
};

/** The band argument of `mm`. */
export const BAND_CODE: Record<Band, number> = { full: 0, lower: 1, kUpToRow: 2, kFromRow: 3 };

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
    ...section(7, vec([[...wasmName('memory'), 0x02, ...uleb(0)], ...fns.map(([fnName], i) => [...wasmName(fnName), 0x00, ...uleb(i)])])),
    ...section(10, vec(fns.map(([, , body]) => body))),
  ];
  return new Uint8Array(bytes);
}
