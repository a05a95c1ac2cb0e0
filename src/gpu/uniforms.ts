/**
 * Uniform blocks laid out from their WGSL declaration: the host writes fields by name, at the
 * offsets WGSL gives them, so a field added to or moved in a `struct` cannot silently shift the
 * others. Pure TypeScript (no WebGPU calls; unit-tested in Node).
 *
 * Only what the kernels' uniform blocks use is understood: scalar `u32`, `i32` and `f32` fields,
 * without `@align` / `@size` attributes. Anything else is refused with an error rather than laid
 * out by a guess.
 */
import { AttentionError } from '../core/errors';

/** The scalar types a uniform field may have. */
export type UniformScalar = 'u32' | 'i32' | 'f32';

/** One field of a uniform block: its byte offset and type. */
export interface UniformField {
  offset: number;
  type: UniformScalar;
}

/** Byte layout of one WGSL struct used as a uniform block. */
export interface UniformLayout {
  /** The struct's name, for error messages. */
  name: string;
  /** Bytes to allocate: the struct's size rounded up to 16 (uniform buffers are bound in 16-byte units). */
  size: number;
  fields: Readonly<Record<string, UniformField>>;
}

const SCALARS: ReadonlySet<string> = new Set<UniformScalar>(['u32', 'i32', 'f32']);
/** Size and alignment of every scalar above (WGSL: 4 bytes each). */
const SCALAR_BYTES = 4;

function roundUp(multiple: number, value: number): number {
  return Math.ceil(value / multiple) * multiple;
}

/** `wgsl` without its comments (line and block comments; WGSL block comments nest). */
function stripComments(wgsl: string): string {
  let out = '';
  let depth = 0;
  for (let i = 0; i < wgsl.length; i++) {
    const pair = wgsl.slice(i, i + 2);
    if (depth === 0 && pair === '//') {
      while (i < wgsl.length && wgsl[i] !== '\n') i++;
      out += '\n';
    } else if (pair === '/*') {
      depth++;
      i++;
    } else if (depth > 0 && pair === '*/') {
      depth--;
      i++;
    } else if (depth === 0) {
      out += wgsl[i];
    }
  }
  return out;
}

/**
 * The layout of `struct structName { … }` in `wgsl` under WGSL's rules: every scalar is 4 bytes,
 * aligned to 4, in declaration order. Throws if the struct is missing, declared twice, or has a
 * field this module does not lay out.
 */
export function uniformLayout(wgsl: string, structName: string): UniformLayout {
  const code = stripComments(wgsl);
  const declaration = new RegExp(`\\bstruct\\s+${structName}\\s*\\{([^}]*)\\}`, 'g');
  const matches = [...code.matchAll(declaration)];
  if (matches.length !== 1) {
    throw new AttentionError(`uniformLayout: struct ${structName} is declared ${matches.length} times in the WGSL (expected once); declare it exactly once in the kernel's WGSL.`);
  }
  const fields: Record<string, UniformField> = {};
  let end = 0;
  for (const member of matches[0][1].split(',').map((text) => text.trim()).filter((text) => text !== '')) {
    const parsed = /^([A-Za-z_]\w*)\s*:\s*(\S+)$/.exec(member);
    if (!parsed) throw new AttentionError(`uniformLayout: cannot lay out member "${member}" of struct ${structName}; write each member as \`name: type\`.`);
    const [, name, type] = parsed;
    if (!SCALARS.has(type)) {
      throw new AttentionError(`uniformLayout: field ${structName}.${name} has type ${type}; only u32, i32 and f32 are supported: split vectors into scalar fields.`);
    }
    if (name in fields) throw new AttentionError(`uniformLayout: field ${structName}.${name} is declared twice; rename one of them.`);
    const offset = roundUp(SCALAR_BYTES, end);
    fields[name] = { offset, type: type as UniformScalar };
    end = offset + SCALAR_BYTES;
  }
  if (end === 0) throw new AttentionError(`uniformLayout: struct ${structName} has no fields; give it at least one u32, i32 or f32 field.`);
  return { name: structName, size: roundUp(16, end), fields };
}

function checkValue(layout: UniformLayout, name: string, type: UniformScalar, value: number): void {
  const fits =
    type === 'f32'
      ? Number.isFinite(value)
      : Number.isInteger(value) && (type === 'u32' ? value >= 0 && value <= 0xffffffff : value >= -0x80000000 && value <= 0x7fffffff);
  if (!fits) throw new AttentionError(`packUniform(${layout.name}): ${name} = ${value} is not a valid ${type}; pass ${type === 'f32' ? 'a finite number' : `an integer in the ${type} range`}.`);
}

/**
 * The bytes of one uniform block: every field of `layout` from `values`, by name. Throws if a
 * field is missing, a value names no field, or a value does not fit its type.
 */
export function packUniform(layout: UniformLayout, values: Readonly<Record<string, number>>): ArrayBuffer {
  const missing = Object.keys(layout.fields).filter((name) => !(name in values));
  const unknown = Object.keys(values).filter((name) => !(name in layout.fields));
  if (missing.length > 0 || unknown.length > 0) {
    const parts = [
      ...(missing.length > 0 ? [`missing field${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`] : []),
      ...(unknown.length > 0 ? [`unknown field${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}`] : []),
    ];
    throw new AttentionError(`packUniform(${layout.name}): ${parts.join('; ')}. Pass exactly the fields the WGSL struct declares.`);
  }
  const bytes = new ArrayBuffer(layout.size);
  const view = new DataView(bytes);
  for (const [name, { offset, type }] of Object.entries(layout.fields)) {
    const value = values[name];
    checkValue(layout, name, type, value);
    if (type === 'u32') view.setUint32(offset, value, true);
    else if (type === 'i32') view.setInt32(offset, value, true);
    else view.setFloat32(offset, value, true);
  }
  return bytes;
}
