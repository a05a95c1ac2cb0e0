// Every kernel's WGSL as kernelSource (src/kernels/shaders.ts) assembles it from shaders/
// (src/kernels/shader-variants.ts): fully written out, every line traced to its shader line, the
// tile sizes the host dispatches by, and the interface the host relies on (bindings, entry
// points, override constants).
import { describe, expect, it } from 'vitest';
import { AttentionError } from '../../src/core/errors';
import { describeOrigin } from '../../src/gpu/pipeline';
import { LINEAR_COLS, LINEAR_ROWS, MAP_TILE, NARROW_ROWS, PROJ_TILE } from '../../src/kernels/launch';
import { KernelSourceError } from '../../src/kernels/shader-variants';
import { kernelSource, type WeightFormat, SHADER_FILES, type KernelName } from '../../src/kernels/shaders';
import type { LaneTile } from '../../src/kernels/lane-tiles';

const PLAIN: KernelName[] = ['projections', 'scores', 'softmax', 'softmaxSubgroup', 'output', 'flash', 'flashReduce', 'reduce'];
const MODEL: KernelName[] = ['projectionsBias', 'embed', 'layerNorm', 'linear', 'linearGelu', 'linearResidual', 'logits'];
const LANES: KernelName[] = ['projectionsLanes', 'scoresLanes', 'outputLanes'];
const TILES: LaneTile[] = [{ rows: 4, cols: 4 }, { rows: 16, cols: 32 }, { rows: 32, cols: 32 }, { rows: 8, cols: 64 }];

const ALL = [
  ...[...PLAIN, ...MODEL].map((name) => ({ name, source: kernelSource(name) })),
  ...LANES.flatMap((name) => TILES.map((tile) => ({ name, source: kernelSource(name, tile) }))),
];

/** The code of a line, without its `//` comment. */
const codeOf = (line: string) => line.replace(/\/\/.*$/, '');

describe('kernelSource', () => {
  it('leaves no placeholder and no directive in any kernel', () => {
    for (const { source } of ALL) {
      const lines = source.code.split('\n');
      expect(lines.filter((line) => /\{[^\s}]/.test(codeOf(line))), source.label).toEqual([]);
      expect(lines.filter((line) => /^\s*\/\/#/.test(line)), source.label).toEqual([]);
    }
  });

  it('traces every line to its shader line: verbatim outside //#unroll, the tile sizes as constants', () => {
    for (const { source } of ALL) {
      const lines = source.code.split('\n');
      expect(source.origins, source.label).toHaveLength(lines.length);
      source.origins.forEach((origin, index) => {
        const where = `${source.label} line ${index + 1}`;
        if (origin.file === '(tile sizes)') {
          expect(lines[index], where).toMatch(/^(|\/\/ Tile sizes of this variant .*|const [A-Z_]+: u32 = \d+u;)$/);
          return;
        }
        const original = SHADER_FILES[origin.file]?.split('\n')[origin.line - 1];
        expect(original, `${where}: ${origin.file} line ${origin.line}`).toBeDefined();
        if (origin.note === undefined) expect(lines[index], where).toBe(original);
        else expect(origin.note, where).toMatch(/^unrolled: [a-z] = \d+/);
      });
    }
  });

  it('maps a line of the assembled code back to its shader line and tile position (for compile errors)', () => {
    const scores = kernelSource('scores');
    const line = scores.code.split('\n').indexOf('      acc3_1 = fma(a3, b1, acc3_1);') + 1;
    const unroll = SHADER_FILES['scores.wgsl'].split('\n').findIndex((text) => text.includes('//#unroll h < TILE_COLS / 4: acc{r}_{h}')) + 1;
    expect(line).toBeGreaterThan(0);
    expect(unroll).toBeGreaterThan(0);
    expect(describeOrigin(scores, line)).toBe(`scores.wgsl line ${unroll} (unrolled: h = 1; r = 3)`);
    const bias = kernelSource('projectionsBias');
    const binding = bias.code.split('\n').indexOf('@group(0) @binding(4) var<storage, read> bias: array<f32>;') + 1;
    expect(describeOrigin(bias, binding)).toMatch(/^parts\/store-projection-bias\.wgsl line \d+$/);
    const tile = kernelSource('scoresLanes', { rows: 16, cols: 32 });
    expect(describeOrigin(tile, tile.code.split('\n').indexOf('const TILE_COLS: u32 = 32u;') + 1)).toMatch(/^\(tile sizes\) line \d+ \(tile sizes, declared by src\/kernels\/shader-variants\.ts\)$/);
  });

  it('declares the tile sizes the host dispatches by (src/kernels/launch.ts) as WGSL constants', () => {
    const constants = (name: KernelName, tile?: LaneTile) =>
      Object.fromEntries([...kernelSource(name, tile).code.matchAll(/^const ([A-Z_]+): u32 = (\d+)u;$/gm)].filter((m) => /ROWS|COLS/.test(m[1])).map((m) => [m[1], Number(m[2])]));
    expect(constants('scores')).toEqual({ TILE_ROWS: MAP_TILE, TILE_COLS: MAP_TILE });
    expect(constants('projections')).toEqual({ TILE_ROWS: PROJ_TILE, TILE_COLS: PROJ_TILE });
    expect(constants('output')).toEqual({ WIDE_ROWS: MAP_TILE, WIDE_COLS: MAP_TILE, NARROW_ROWS, NARROW_COLS: 4 });
    expect(constants('scoresLanes', { rows: 16, cols: 32 })).toEqual({ TILE_ROWS: 16, TILE_COLS: 32 });
    // The linear kernels' tile is one vec4 wide (4 columns written out in linear.wgsl).
    expect(LINEAR_COLS).toBe(4);
    for (const name of ['linear', 'linearGelu', 'linearResidual', 'logits'] as const) expect(constants(name)).toEqual({ TILE_ROWS: LINEAR_ROWS });
    expect(constants('softmax')).toEqual({});
  });

  it('takes common.wgsl once, after any enable directive, its lines traced to it', () => {
    for (const { name, source } of ALL) {
      const lines = source.code.split('\n');
      const params = lines.flatMap((line, index) => (line === 'struct Params {' ? [index] : []));
      if (name === 'reduce' || MODEL.includes(name) && name !== 'projectionsBias') {
        expect(params).toEqual([]);
        continue;
      }
      expect(params, source.label).toHaveLength(1);
      expect(source.origins[params[0]]).toMatchObject({ file: 'common.wgsl', line: SHADER_FILES['common.wgsl'].split('\n').indexOf('struct Params {') + 1 });
      const firstCode = lines.find((line) => codeOf(line).trim() !== '');
      const subgroups = name === 'softmaxSubgroup' || LANES.includes(name);
      expect(firstCode === 'enable subgroups;', source.label).toBe(subgroups);
      expect(source.code.includes('enable subgroups;'), source.label).toBe(subgroups);
    }
  });

  it('keeps the bindings, entry points and override constants the host relies on', () => {
    const bindings: Record<string, string[]> = {
      projections: ['0 uniform params', '1 storage, read src', '2 storage, read w', '3 storage, read_write qkv'],
      scores: ['0 uniform params', '1 storage, read qkv', '2 storage, read_write scores'],
      softmax: ['0 uniform params', '1 storage, read scores', '2 storage, read_write weights'],
      output: ['0 uniform params', '1 storage, read qkv', '2 storage, read weights', '3 storage, read_write output'],
      flash: ['0 uniform params', '1 storage, read qkv', '2 storage, read_write output', '3 storage, read_write lse', '4 uniform chunk'],
      flashReduce: ['0 uniform params', '1 storage, read qkv', '2 storage, read lse', '3 storage, read_write grid', '4 uniform gridParams'],
      reduce: ['0 uniform params', '1 storage, read qk', '2 storage, read scores', '3 storage, read weights', '4 storage, read_write grid'],
    };
    const entries: Record<string, string[]> = { softmax: ['main', 'rowPerInvocation'], output: ['main', 'narrow'] };
    const overrides: Record<string, string[]> = { softmax: ['WG_SIZE'], softmaxSubgroup: ['WG_SIZE'], flash: ['WG_SIZE'] };
    for (const { name, source } of ALL.filter((kernel) => !MODEL.includes(kernel.name))) {
      const family = name.replace(/Lanes$|Subgroup$/, '');
      const declared = [...source.code.matchAll(/@group\(0\) @binding\((\d+)\) var<([^>]+)> (\w+)/g)].map((m) => `${m[1]} ${m[2]} ${m[3]}`);
      expect(declared, source.label).toEqual(bindings[family]);
      const entryPoints = [...source.code.matchAll(/@compute[^\n]*\n\s*fn (\w+)/g)].map((m) => m[1]);
      expect(entryPoints, source.label).toEqual(entries[name] ?? ['main']);
      const constants = [...source.code.matchAll(/^override (\w+)/gm)].map((m) => m[1]);
      expect(constants, source.label).toEqual(LANES.includes(name) ? [] : (overrides[name] ?? ['WG_X', 'WG_Y']));
    }
  });

  it('writes the 8 × 8 register tiles out as named vec4 accumulators with clamped offsets', () => {
    const scores = kernelSource('scores').code;
    expect(scores.match(/var acc\d_\d = vec4<f32>\(0\.0\);/g)).toHaveLength(16);
    expect(scores).toContain('    let q7 = min(row0 + 7u * WG_Y, lastRow) * run.width + column;');
    expect(scores).toContain('    let k5 = run.kOffset + min(col0 + 5u * WG_X, lastCol) * run.width + column;');
    expect(scores).toContain('      let b1 = vec4<f32>(qkv[k4 + d], qkv[k5 + d], qkv[k6 + d], qkv[k7 + d]);');
    expect(scores).toContain('      let a7 = vec4<f32>(qkv[q7 + d]);\n      acc7_0 = fma(a7, b0, acc7_0);\n      acc7_1 = fma(a7, b1, acc7_1);');
    const accs = ['acc0_0', 'acc0_1', 'acc1_0', 'acc1_1', 'acc2_0', 'acc2_1', 'acc3_0', 'acc3_1', 'acc4_0', 'acc4_1', 'acc5_0', 'acc5_1', 'acc6_0', 'acc6_1', 'acc7_0', 'acc7_1'];
    expect(scores).toContain(`  let accs = array<vec4<f32>, TILE_ROWS * TILE_COLS / 4u>(\n${accs.map((acc) => `    ${acc},`).join('\n')}\n  );`);

    const output = kernelSource('output').code;
    const narrow = output.slice(output.indexOf('fn narrow'));
    expect(narrow).toContain('let row0 = group.y * WG_Y * NARROW_ROWS + local.y;');
    expect(narrow).toContain('let col0 = group.x * WG_X * NARROW_COLS + local.x;');
    expect(narrow).toContain('  let p15 = (head * run.seqLen + min(row0 + 15u * WG_Y, lastRow)) * run.kvLen;');
    expect(narrow).toContain('    let b0 = vec4<f32>(qkv[v0 + vRow], qkv[v1 + vRow], qkv[v2 + vRow], qkv[v3 + vRow]);');
    expect(narrow).not.toContain('acc0_1');
    expect(narrow.match(/var acc\d+_0 = vec4<f32>\(0\.0\);/g)).toHaveLength(16);

    const projections = kernelSource('projections').code;
    expect(projections.match(/var acc\d_0 = vec4<f32>\(0\.0\);/g)).toHaveLength(4);
    expect(projections).toContain('    let a3 = vec4<f32>(src[xRow3 + kk]);\n    acc3_0 = fma(a3, b0, acc3_0);');
  });

  it('is expanded once per kernel and tile, and refuses a missing or needless tile', () => {
    expect(kernelSource('scores')).toBe(kernelSource('scores'));
    expect(kernelSource('outputLanes', { rows: 8, cols: 8 })).toBe(kernelSource('outputLanes', { rows: 8, cols: 8 }));
    expect(kernelSource('outputLanes', { rows: 8, cols: 8 }).label).toBe('outputLanes 8×8');
    expect(() => kernelSource('scoresLanes')).toThrow(/scoresLanes is a lane-tile kernel and needs a tile \(\{ rows, cols \}\); pass the tuning's laneTiles entry\./);
    expect(() => kernelSource('scores', { rows: 8, cols: 8 })).toThrow(/scores takes no lane tile; call it without one\./);
    expect(() => kernelSource('nonsense' as KernelName)).toThrow(/no kernel named nonsense; use one of projections, scores, /);
    expect(() => kernelSource('toString' as KernelName)).toThrow(KernelSourceError);
    expect(new KernelSourceError('x')).toBeInstanceOf(AttentionError);
  });
});

describe('the model kernels (src/kernels/model.ts)', () => {
  it('leaves the attention projections without bias', () => {
    const code = (source: { code: string }) => source.code.split('\n').map(codeOf).join('\n');
    expect(code(kernelSource('projections'))).not.toMatch(/bias/);
    for (const tile of TILES) expect(code(kernelSource('projectionsLanes', tile))).not.toMatch(/bias/);
  });

  it('adds c_attn\'s bias at binding 4 in the bias variants, in the store', () => {
    for (const source of [kernelSource('projectionsBias'), kernelSource('projectionsLanesBias', { rows: 16, cols: 32 })]) {
      expect(source.code, source.label).toContain('@group(0) @binding(4) var<storage, read> bias: array<f32>;');
      expect(source.code, source.label).toContain('  qkv[index] = value + bias[column];');
      expect(source.code, source.label).toMatch(/storeProjection\(slice\.dstOffset \+ (row|i) \* width \+ (col|c), group\.z \* width \+ (col|c), (value|acc15_7)\);/);
    }
    expect(kernelSource('projections').code).toContain('  qkv[index] = value;');
  });

  it('declares the bindings the host binds, and each variant of linear.wgsl only what it uses', () => {
    // In binding order (a storage part may declare binding 2 after the kernel's own file).
    const declared = (name: KernelName, weights: WeightFormat = 'f32') =>
      [...kernelSource(name, undefined, weights).code.matchAll(/@group\(0\) @binding\((\d+)\) var<([^>]+)> (\w+)/g)].sort((a, b) => Number(a[1]) - Number(b[1])).map((m) => `${m[1]} ${m[2]} ${m[3]}`);
    expect(declared('layerNorm')).toEqual(['0 uniform ln', '1 storage, read x', '2 storage, read gamma', '3 storage, read beta', '4 storage, read_write y']);
    expect(declared('embed')).toEqual(['0 uniform embed', '1 storage, read tokens', '2 storage, read w', '3 storage, read wpe', '4 storage, read_write x']);
    const linear = ['0 uniform lin', '1 storage, read x', '2 storage, read w', '3 storage, read_write y'];
    expect(declared('linear')).toEqual([...linear, '4 storage, read bias']);
    expect(declared('linearGelu')).toEqual([...linear, '4 storage, read bias']);
    expect(declared('linearResidual')).toEqual([...linear, '4 storage, read bias', '5 storage, read residual']);
    expect(declared('logits')).toEqual(linear);
    expect(kernelSource('linearGelu').code).toContain('value = gelu(value);');
    expect(kernelSource('linear').code.split('\n').map(codeOf).join('\n')).not.toContain('gelu');
    // One file, two weight layouts: the weights part says where (k, col) lies. Rows (GPT-2's
    // Conv1D): col + k·outDim; transposed (the logits x·wteᵀ, the Llama family's nn.Linear): col·inDim + k.
    for (const name of ['linear', 'logits', 'linearT', 'linearTResidual'] as const) {
      expect(kernelSource(name).code).toContain('let wk = vec4<f32>(weightAt(c0 + at), weightAt(c1 + at), weightAt(c2 + at), weightAt(c3 + at));');
    }
    // Weights stored as f32, or as the checkpoint's 16 bits packed two to a u32 and widened in weightAt.
    const storageOf = (name: KernelName, weights: WeightFormat) => /var<storage, read> w: array<(\w+)>;[\s\S]*?fn weightAt\(i: u32\) -> f32 \{\n([\s\S]*?)\n\}/.exec(kernelSource(name, undefined, weights).code)?.slice(1);
    expect(storageOf('linearT', 'f32')).toEqual(['f32', '  return w[i];']);
    expect(storageOf('linearT', 'f16')).toEqual(['u32', '  return unpack2x16float(w[i >> 1u])[i & 1u];']);
    expect(storageOf('embed', 'bf16')).toEqual(['u32', '  let word = w[i >> 1u];\n  return bitcast<f32>(select(word << 16u, word & 0xffff0000u, (i & 1u) == 1u));']);
    expect(declared('linearTResidual', 'bf16')).toEqual([...linear, '4 storage, read bias', '5 storage, read residual']);
    expect(() => kernelSource('softmax', undefined, 'f16')).toThrow(/softmax reads no weights/);
    expect(kernelSource('linearT', undefined, 'f16').label).toBe('linearT f16');
    const weightLayout = (name: KernelName) => /fn weightBase\(col: u32, run: RowsParams\) -> u32 \{\n\s*return ([^;]+);[\s\S]*?fn weightStride\(run: RowsParams\) -> u32 \{\n\s*return ([^;]+);/.exec(kernelSource(name).code)?.slice(1);
    expect(weightLayout('linear')).toEqual(['col', 'run.outDim']);
    for (const name of ['logits', 'linearT', 'linearTResidual', 'linearWorkgroupT', 'linearWorkgroupTResidual', 'logitsWorkgroup'] as const) {
      expect(weightLayout(name), name).toEqual(['col * run.inDim', '1u']);
    }
    expect(declared('linearT')).toEqual([...linear, '4 storage, read bias']);
    expect(declared('linearTResidual')).toEqual([...linear, '4 storage, read bias', '5 storage, read residual']);
    expect(declared('swiglu')).toEqual(['0 uniform run', '1 storage, read gateUp', '2 storage, read_write act']);
    expect(declared('repeatKv')).toEqual(['0 uniform run', '1 storage, read src', '2 storage, read_write qkv']);
    // One vec4 accumulator per row of the tile, stored column by column inside the output.
    expect(kernelSource('linear').code).toContain('acc3 = fma(vec4<f32>(x[x3 + k]), wk, acc3);');
    expect(kernelSource('linear').code).toContain('if (col0 + 3u < outDim) { finish(row, col0 + 3u, outDim, acc[3]); }');
  });
});
