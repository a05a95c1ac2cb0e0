/**
 * A minimal WebAssembly binary writer: just what the training matmul's module needs
 * (wasm-kernels.ts). Functions are built instruction by instruction on a {@link Body} with named
 * locals and named labels; {@link section}, {@link vec} and {@link wasmName} frame the module.
 * No assembler, no build step, no .wasm file to keep in sync.
 */
import { AttentionError } from '../core/errors';

/**
 * The module writer was asked for a local or a label it does not have: a bug in the kernel
 * generator (wasm-kernels.ts), not in the caller's input.
 */
export class WasmEncoderError extends AttentionError {
  override name = 'WasmEncoderError';
  constructor(what: string) {
    super(
      `The WebAssembly matmul's generator used ${what}, which it never declared: a bug in src/train/wasm-kernels.ts. ` +
        "Train with matmul: 'js' (same numbers as 'wasm', slower) until it is fixed.",
    );
  }
}

/** Unsigned LEB128. */
export function uleb(value: number): number[] {
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

/** Signed LEB128. */
export function sleb(value: number): number[] {
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

/** Value types. */
export const I32 = 0x7f;
export const V128 = 0x7b;

/** Opcodes (WebAssembly core spec 2.0, and the fixed-width SIMD proposal, prefix 0xfd). */
export const OP = {
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
export const SIMD = {
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
export class Body {
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
    if (at === undefined) throw new WasmEncoderError(`the local ${name}`);
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
    if (at < 0) throw new WasmEncoderError(`the label ${label}`);
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

/** A module section: id, byte length, content. */
export function section(id: number, content: number[]): number[] {
  return [id, ...uleb(content.length), ...content];
}

/** A vector: count, then the items. */
export function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

/** A name: byte length, then its (ASCII) bytes. */
export function wasmName(text: string): number[] {
  const bytes = Array.from(text, (ch) => ch.charCodeAt(0));
  return [...uleb(bytes.length), ...bytes];
}
