// Dispatch and chunk arithmetic (src/kernels/launch.ts) and the adapter classification's pure
// part (src/kernels/tuning.ts). Expected values are worked out by hand in the comments.
import { describe, expect, it } from 'vitest';
import { AttentionInputError } from '../../src/core/errors';
import { resolveShape } from '../../src/core/types';
import { MAX_CHUNKS, attentionDims, checkDims, flatDims, fusedChunks, outputLaunch, reducedMapChunks, spread } from '../../src/kernels/launch';
import {
  DEFAULT_TUNING,
  LANE_TUNING,
  SOFTWARE_TUNING,
  WORKGROUP_TUNING,
  chunkPolicyFor,
  isSoftwareAdapterText,
  tuningForClass,
} from '../../src/kernels/tuning';

describe('spread', () => {
  it('keeps small counts on x and splits large ones over y', () => {
    expect(spread(100, 65535)).toEqual([100, 1]);
    // 70000 > 65535: y = ⌈70000/65535⌉ = 2, x = ⌈70000/2⌉ = 35000.
    expect(spread(70000, 65535)).toEqual([35000, 2]);
    expect(spread(65535, 65535)).toEqual([65535, 1]);
  });
});

describe('outputLaunch', () => {
  it('wide 8×8 tiles while a head fills half a workgroup row of tiles (2·dHead > 8·8)', () => {
    expect(outputLaunch(64, SOFTWARE_TUNING)).toEqual({ variant: 'wide', workgroup: [8, 8], tile: [64, 64] });
    expect(outputLaunch(33, SOFTWARE_TUNING).variant).toBe('wide');
  });
  it('narrow 16×4 tiles for small heads: x covers ⌈dHead/4⌉ (power of two), y the rest up to 16', () => {
    // dHead 32: ⌈32/4⌉ = 8 → x 8, y = min(16, 64/8) = 8, tile [8·4, 8·16].
    expect(outputLaunch(32, SOFTWARE_TUNING)).toEqual({ variant: 'narrow', workgroup: [8, 8], tile: [32, 128] });
    // dHead 16: x 4, y 16, tile [16, 256].
    expect(outputLaunch(16, SOFTWARE_TUNING)).toEqual({ variant: 'narrow', workgroup: [4, 16], tile: [16, 256] });
    // dHead 5: ⌈5/4⌉ = 2 → x 2, y = min(16, 32) = 16.
    expect(outputLaunch(5, SOFTWARE_TUNING)).toEqual({ variant: 'narrow', workgroup: [2, 16], tile: [8, 256] });
  });
  it('lanes: the smallest power of two from 4 covering dHead, at most the tuning’s columns', () => {
    expect(outputLaunch(64, LANE_TUNING)).toEqual({ variant: 'lanes', workgroup: [16, 1], tile: [32, 128] });
    expect(outputLaunch(5, LANE_TUNING)).toEqual({ variant: 'lanes', workgroup: [16, 1], tile: [8, 128] });
    expect(outputLaunch(4, LANE_TUNING).tile).toEqual([4, 128]);
  });
});

describe('attentionDims', () => {
  const s = resolveShape({ seqLen: 100, dModel: 64, heads: 2, dHead: 16 });
  it('register tiles (software tuning)', () => {
    expect(attentionDims(s, SOFTWARE_TUNING, 65535)).toEqual({
      projections: [1, 4, 3], // ⌈32 / (8·4)⌉, ⌈100 / (8·4)⌉, Q K V
      scores: [2, 2, 2], // ⌈100 / 64⌉ keys, ⌈100 / 64⌉ queries, heads
      softmax: [4, 1, 1], // one row per invocation: ⌈200 / 64⌉
      output: [1, 1, 2], // narrow tile [16, 256]
    });
  });
  it('a workgroup per softmax row on GPUs', () => {
    expect(attentionDims(s, DEFAULT_TUNING, 65535).softmax).toEqual([200, 1, 1]);
    expect(attentionDims(s, WORKGROUP_TUNING, 150).softmax).toEqual([100, 2, 1]);
  });
  it('lane tiles', () => {
    expect(attentionDims(s, LANE_TUNING, 65535)).toEqual({
      projections: [1, 2, 3], // ⌈32 / 32⌉, ⌈100 / (4·16)⌉
      scores: [1, 1, 2], // ⌈100 / (4·32)⌉ both ways
      softmax: [4, 1, 1],
      output: [1, 1, 2], // tile [16, 128]
    });
  });
});

describe('checkDims', () => {
  const fieldOf = (dims: Parameters<typeof checkDims>[0]) => {
    try {
      checkDims(dims, 65535);
      return null;
    } catch (error) {
      expect(error).toBeInstanceOf(AttentionInputError);
      return (error as AttentionInputError).field;
    }
  };
  it('names the size that made a dispatch too large', () => {
    expect(fieldOf({ scores: [1, 1, 1] })).toBeNull();
    expect(fieldOf({ scores: [70000, 1, 1] })).toBe('kvLen');
    expect(fieldOf({ projections: [70000, 1, 3] })).toBe('heads·dHead');
    expect(fieldOf({ projections: [1, 70000, 3] })).toBe('seqLen');
    expect(fieldOf({ output: [1, 1, 70000] })).toBe('heads');
  });
});

describe('fusedChunks', () => {
  const s = resolveShape({ seqLen: 1000, dModel: 8, heads: 2, dHead: 64 });
  // 8 blocks of 128 queries; a block costs 128 · 1000 · 64 · 2 = 16 384 000 multiply-adds.
  const perBlock = 16_384_000;
  it('one chunk when the work fits', () => {
    expect(fusedChunks(s, { blockRows: 128, chunkWork: 2 ** 27, minChunkGroups: 4, maxPerDimension: 65535 })).toEqual({
      blocks: 8,
      blocksPerChunk: 8,
      chunks: [[0, 8]],
    });
  });
  it('chunks of ⌊chunkWork / perBlock⌋ blocks, evened out', () => {
    expect(fusedChunks(s, { blockRows: 128, chunkWork: 3 * perBlock, minChunkGroups: 1, maxPerDimension: 65535 }).chunks).toEqual([
      [0, 3],
      [3, 3],
      [6, 2],
    ]);
    // Causal: half the work per block, so 6 blocks fit; 8 blocks in 2 chunks of 4.
    const causal = resolveShape({ seqLen: 1000, dModel: 8, heads: 2, dHead: 64, causal: true });
    expect(fusedChunks(causal, { blockRows: 128, chunkWork: 3 * perBlock, minChunkGroups: 1, maxPerDimension: 65535 }).chunks).toEqual([
      [0, 4],
      [4, 4],
    ]);
  });
  it('never fewer workgroups than minChunkGroups (heads × blocks)', () => {
    // chunkWork of one block, but at least 10 workgroups = 5 blocks of 2 heads.
    expect(fusedChunks(s, { blockRows: 128, chunkWork: perBlock, minChunkGroups: 10, maxPerDimension: 65535 }).chunks).toEqual([
      [0, 4],
      [4, 4],
    ]);
  });
  it(`at most ${MAX_CHUNKS} submissions, covering every block once`, () => {
    const long = resolveShape({ seqLen: 65536, dModel: 8, heads: 1, dHead: 4 });
    const split = fusedChunks(long, { blockRows: 2, chunkWork: 1, minChunkGroups: 1, maxPerDimension: 65535 });
    expect(split.blocks).toBe(32768);
    expect(split.chunks.length).toBeLessThanOrEqual(MAX_CHUNKS);
    let next = 0;
    for (const [first, count] of split.chunks) {
      expect(first).toBe(next);
      next += count;
    }
    expect(next).toBe(32768);
  });
});

describe('reducedMapChunks', () => {
  const s = resolveShape({ seqLen: 1000, dModel: 8, heads: 2, dHead: 64 });
  // A grid row of 256 recomputes ⌈1000/256⌉ = 4 query rows: 4 · 1000 · 64 · 2 = 512 000 multiply-adds.
  it('one submission when it fits', () => {
    expect(reducedMapChunks(s, 256, 256, 2 ** 27)).toEqual([{ firstRow: 0, dims: [32, 32, 2] }]);
  });
  it('rows in multiples of the 8-row workgroup', () => {
    const chunks = reducedMapChunks(s, 256, 256, 20 * 512_000); // 20 rows fit → 16
    expect(chunks.length).toBe(16);
    expect(chunks[0]).toEqual({ firstRow: 0, dims: [32, 2, 2] });
    expect(chunks[15].firstRow).toBe(240);
  });
  it('a last partial chunk', () => {
    expect(reducedMapChunks(s, 20, 7, 1)).toEqual([
      { firstRow: 0, dims: [1, 1, 2] },
      { firstRow: 8, dims: [1, 1, 2] },
      { firstRow: 16, dims: [1, 1, 2] },
    ]);
  });
});

describe('adapter classification', () => {
  it('names software adapters by their info', () => {
    expect(isSoftwareAdapterText('google swiftshader')).toBe(true);
    expect(isSoftwareAdapterText('Mesa llvmpipe (LLVM 15)')).toBe(true);
    expect(isSoftwareAdapterText('Microsoft Basic Render Driver')).toBe(true);
    expect(isSoftwareAdapterText('nvidia hopper NVIDIA H200')).toBe(false);
    expect(isSoftwareAdapterText('apple metal-3')).toBe(false);
  });
  it('tuning per class', () => {
    const gpu = { software: false, subgroups: true, subgroupSizes: [32, 32] as [number, number], fourLaneSubgroups: false };
    expect(tuningForClass(gpu)).toBe(DEFAULT_TUNING);
    expect(tuningForClass({ ...gpu, subgroups: false, subgroupSizes: null })).toBe(WORKGROUP_TUNING);
    const swiftshader = { software: true, subgroups: true, subgroupSizes: [4, 4] as [number, number], fourLaneSubgroups: true };
    expect(tuningForClass(swiftshader)).toBe(LANE_TUNING);
    expect(tuningForClass({ ...swiftshader, fourLaneSubgroups: false })).toBe(SOFTWARE_TUNING);
  });
  it('chunk policy: a quarter second on a CPU, big submissions on a GPU', () => {
    expect(chunkPolicyFor({ software: true, subgroups: false, subgroupSizes: null, fourLaneSubgroups: false }, 2)).toEqual({ chunkWork: 2 ** 27, minChunkGroups: 4 });
    expect(chunkPolicyFor({ software: false, subgroups: true, subgroupSizes: null, fourLaneSubgroups: false }, 16)).toEqual({ chunkWork: 2 ** 31, minChunkGroups: 1024 });
  });
});

describe('flatDims: elementwise kernels over long sequences', () => {
  it('one row of workgroups while it fits, then rows of 32768; never past the 65535 a dimension allows', () => {
    expect(flatDims(1)).toEqual([1, 1, 1]);
    expect(flatDims(64 * 1000)).toEqual([1000, 1, 1]);
    expect(flatDims(64 * 32768)).toEqual([32768, 1, 1]);
    // SmolLM2's SwiGLU at 8192 tokens: 8192 × 1536 values = 196 608 workgroups of 64.
    expect(flatDims(8192 * 1536)).toEqual([32768, 6, 1]);
    // A partial last row is covered (the kernel skips indices past the count), and z is the caller's.
    const [x, y, z] = flatDims(64 * 32768 + 65, 3);
    expect([x, y, z]).toEqual([32768, 2, 3]);
    expect(x * y * 64).toBeGreaterThanOrEqual(64 * 32768 + 65);
  });
});
