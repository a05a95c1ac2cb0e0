/**
 * Expands the lane-tile kernel templates (shaders/*-lanes.wgsl) into WGSL for one tile size.
 *
 * The templates describe one team of 4 lanes (a subgroup on CPU implementations of WebGPU such
 * as SwiftShader) computing a rows × cols block of a matrix product: each lane loads rows/4
 * values of the row operand and cols/4 of the column operand per step, shares the row values
 * by subgroupBroadcast, and accumulates rows × cols/4 outputs in named scalars. WGSL cannot size
 * private arrays by override constants, and a CPU implementation keeps dynamically indexed
 * arrays in memory, so the straight-line code is written out here instead.
 */

export interface LaneTile {
  /** Rows of the block one team computes (a multiple of 4). */
  rows: number;
  /** Columns of the block one team computes (a multiple of 4). */
  cols: number;
}

const LANES = 4;

/** Expand a lane-tile template for `tile`; throws on a template line it does not know. */
export function expandLaneTemplate(template: string, tile: LaneTile): string {
  const { rows, cols } = tile;
  for (const [name, value] of Object.entries({ rows, cols })) {
    if (!Number.isInteger(value) || value < LANES || value % LANES !== 0 || value > 64) {
      throw new RangeError(`lane tile ${name} must be a multiple of ${LANES} from ${LANES} to 64; got ${value}`);
    }
  }
  const loadRows = rows / LANES;
  const loadCols = cols / LANES;
  const acc = (r: number, m: number) => `acc${r}_${m}`;
  let rowLoad: string | null = null;
  let colLoad: string | null = null;

  const step = (indent: string, unroll: number): string[] => {
    if (rowLoad === null || colLoad === null) throw new Error('lane template: //#step before //#row-load and //#col-load');
    const out: string[] = [];
    for (let u = 0; u < unroll; u++) {
      for (let p = 0; p < loadRows; p++) out.push(`${indent}let a${p}_${u} = ${rowLoad.replaceAll('{p}', String(p)).replaceAll('{u}', String(u))};`);
      for (let m = 0; m < loadCols; m++) out.push(`${indent}let b${m}_${u} = ${colLoad.replaceAll('{m}', String(m)).replaceAll('{u}', String(u))};`);
    }
    for (let r = 0; r < rows; r++) {
      const source = Math.floor(r / LANES);
      const from = r % LANES;
      out.push(`${indent}{`);
      for (let u = 0; u < unroll; u++) out.push(`${indent}  let x${u} = subgroupBroadcast(a${source}_${u}, ${from}u);`);
      for (let m = 0; m < loadCols; m++) {
        let expression = acc(r, m);
        for (let u = 0; u < unroll; u++) expression = `fma(x${u}, b${m}_${u}, ${expression})`;
        out.push(`${indent}  ${acc(r, m)} = ${expression};`);
      }
      out.push(`${indent}}`);
    }
    return out;
  };

  const lines: string[] = [`const TILE_ROWS: u32 = ${rows}u;`, `const TILE_COLS: u32 = ${cols}u;`];
  for (const line of template.split('\n')) {
    const match = /^(\s*)\/\/#([a-z-]+)\s?(.*)$/.exec(line);
    if (!match) {
      lines.push(line);
      continue;
    }
    const [, indent, directive, rest] = match;
    switch (directive) {
      case 'each-row':
        for (let p = 0; p < loadRows; p++) lines.push(indent + rest.replaceAll('{p}', String(p)).replaceAll('{4p}', String(LANES * p)));
        break;
      case 'each-col':
        for (let m = 0; m < loadCols; m++) lines.push(indent + rest.replaceAll('{m}', String(m)).replaceAll('{4m}', String(LANES * m)));
        break;
      case 'each-cell':
        for (let r = 0; r < rows; r++) {
          for (let m = 0; m < loadCols; m++) {
            lines.push(indent + rest.replaceAll('{acc}', acc(r, m)).replaceAll('{r}', String(r)).replaceAll('{4m}', String(LANES * m)));
          }
        }
        break;
      case 'row-load':
        rowLoad = rest.trim();
        break;
      case 'col-load':
        colLoad = rest.trim();
        break;
      case 'step': {
        const unroll = Number(rest.trim());
        if (!Number.isInteger(unroll) || unroll < 1) throw new Error(`lane template: bad //#step ${rest}`);
        lines.push(...step(indent, unroll));
        break;
      }
      default:
        throw new Error(`lane template: unknown directive //#${directive}`);
    }
  }
  return lines.join('\n');
}
