// The attention kernels under every tuning (workgroup shapes, softmax modes, lane tiles,
// subgroup softmax, output-kernel variants) against the f64 reference; split from
// attention.test.ts, which checks the default tuning over many shapes, inputs and reads.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AttentionError,
  attentionCpu,
  createGpuAttention,
  makeRandomInputs,
  requestGpuDevice,
  verifyAttention,
  DEFAULT_TUNING,
  SOFTWARE_TUNING,
  LANE_TUNING,
  hasFourLaneSubgroups,
  type AttentionShape,
  type AttentionTuning,
  type GpuAttention,
} from '../../src/index';
import { WORKGROUP_TUNING, outputLaunch, tuningFor } from '../../src/kernels/attention';
import { check, describeFailure, laneTilesMissing, record, reportWorstErrors, subgroupFacts } from './attention-fixture';
import { gpu, useGpuDevice } from './gpu-fixture';

useGpuDevice();
reportWorstErrors();

describe('every tuning variant equals the reference', () => {
  const variants: Array<[string, AttentionTuning]> = [
    ['GPU tuning without subgroups (workgroup per softmax row)', WORKGROUP_TUNING],
    ['software tuning (row per invocation)', SOFTWARE_TUNING],
    ['4×16 matmul workgroups, 32-wide softmax', { matmulWorkgroup: [4, 16], softmaxWorkgroup: 32, softmaxMode: 'workgroup-per-row' }],
    ['16×4 matmul workgroups, 128 rows per softmax workgroup', { matmulWorkgroup: [16, 4], softmaxWorkgroup: 128, softmaxMode: 'row-per-invocation' }],
  ];
  const variantShapes: AttentionShape[] = [
    { seqLen: 1, dModel: 3, heads: 1, dHead: 1 },
    { seqLen: 67, kvLen: 45, dModel: 10, heads: 3, dHead: 9, causal: true },
    { seqLen: 130, dModel: 64, heads: 2, dHead: 64 },
  ];
  for (const [label, tuning] of variants) {
    it(label, async () => {
      const variant = await createGpuAttention(gpu(), tuning);
      try {
        for (const shape of variantShapes) {
          const inputs = makeRandomInputs(shape, 13);
          const report = verifyAttention(shape, await variant.run(shape, inputs), attentionCpu(shape, inputs));
          record(shape, report);
          expect(report.pass, `${JSON.stringify(shape)}: ${describeFailure(report)}`).toBe(true);
        }
      } finally {
        variant.destroy();
      }
    });
  }

  it('tuningFor follows the device facts read straight from the device (software adapters: row per invocation; lane tiles only with 4-lane subgroups)', () => {
    // The decision table, written here from the documented policy rather than taken from
    // src/kernels/tuning: software adapters get per-invocation softmax rows (plus lane tiles
    // where subgroups are exactly 4 lanes wide), GPUs get subgroup softmax where the device
    // has the feature and the workgroup-memory tree otherwise.
    const facts = subgroupFacts(gpu());
    const expected = facts.software ? (facts.fourLanes ? LANE_TUNING : SOFTWARE_TUNING) : facts.has ? DEFAULT_TUNING : WORKGROUP_TUNING;
    const tuning = tuningFor(gpu());
    expect(tuning, `adapter ${facts.text}; subgroups ${facts.has}; sizes ${facts.min}–${facts.max}`).toEqual(expected);
    expect(hasFourLaneSubgroups(gpu())).toBe(facts.fourLanes);
    expect(tuning.softmaxMode).toBe(facts.software ? 'row-per-invocation' : facts.has ? 'subgroup' : 'workgroup-per-row');
    expect(tuning.laneTiles !== undefined).toBe(facts.software && facts.fourLanes);
    expect(DEFAULT_TUNING.softmaxMode).toBe('subgroup');
    expect(WORKGROUP_TUNING.softmaxMode).toBe('workgroup-per-row');
    expect(SOFTWARE_TUNING.softmaxMode).toBe('row-per-invocation');
    expect(LANE_TUNING.softmaxMode).toBe('row-per-invocation');
  });
});

describe('lane tiles (teams of 4 lanes sharing loads by subgroupBroadcast; 4-lane subgroups only)', () => {
  const tile = (rows: number, cols: number) => ({ rows, cols });
  const tunings: Array<[string, AttentionTuning]> = [
    ['LANE_TUNING (16×32, 32×32, 32×32)', LANE_TUNING],
    ['4×4 everywhere', { ...LANE_TUNING, laneTiles: { projections: tile(4, 4), scores: tile(4, 4), output: tile(4, 4) } }],
    ['8×16, 16×8, 8×64', { ...LANE_TUNING, laneTiles: { projections: tile(8, 16), scores: tile(16, 8), output: tile(8, 64) } }],
  ];
  // Sizes around the team blocks (4 teams × rows, 4 teams × cols per workgroup): not multiples
  // of 4, one token, dHead above and below the output tile's columns, causal and cross.
  const laneShapes: AttentionShape[] = [
    { seqLen: 1, dModel: 1, heads: 1, dHead: 1 },
    { seqLen: 2, dModel: 3, heads: 2, dHead: 1, causal: true },
    { seqLen: 67, kvLen: 45, dModel: 10, heads: 3, dHead: 9, causal: true },
    { seqLen: 45, kvLen: 67, dModel: 10, heads: 3, dHead: 9, causal: true },
    { seqLen: 129, dModel: 33, heads: 2, dHead: 33 },
    { seqLen: 130, dModel: 64, heads: 2, dHead: 64, causal: true },
    { seqLen: 257, kvLen: 3, dModel: 20, heads: 1, dHead: 100 },
    { seqLen: 3, kvLen: 300, dModel: 7, heads: 5, dHead: 6 },
  ];
  for (const [label, tuning] of tunings) {
    // One test per tuning, whatever the adapter: with subgroups exactly 4 lanes wide the lane
    // tiles must equal the reference; anywhere else creating them must fail with a typed error.
    it(`${label}: equals the reference where subgroups are exactly 4 lanes wide, else a typed AttentionError naming 4 lanes`, async () => {
      const facts = subgroupFacts(gpu());
      if (!facts.fourLanes) {
        console.info(`[tunings] ${laneTilesMissing(facts)}: checking the typed error instead of the lane tiles`);
        const error = await createGpuAttention(gpu(), tuning).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(AttentionError);
        expect((error as Error).message).toContain('4 lanes');
        return;
      }
      const variant = await createGpuAttention(gpu(), tuning);
      try {
        for (const shape of laneShapes) await check(variant, shape, 23);
      } finally {
        variant.destroy();
      }
    });
  }
});

describe('subgroup softmax (subgroupMax / subgroupAdd; needs the subgroups feature)', () => {
  const has = () => subgroupFacts(gpu()).has;
  const noSubgroups = () => `this device (${subgroupFacts(gpu()).text}) has no 'subgroups' feature`;
  // kvLen 1, 3, 63, 64, 65, 1000 around the 64 / 32 / 128-wide workgroups; causal and cross.
  const subgroupShapes: AttentionShape[] = [
    { seqLen: 1, dModel: 3, heads: 1, dHead: 1 },
    { seqLen: 5, kvLen: 1, dModel: 4, heads: 2, dHead: 2, causal: true },
    { seqLen: 3, dModel: 5, heads: 2, dHead: 3, causal: true },
    { seqLen: 9, kvLen: 3, dModel: 6, heads: 1, dHead: 4 },
    { seqLen: 63, dModel: 16, heads: 2, dHead: 8, causal: true },
    { seqLen: 64, dModel: 16, heads: 3, dHead: 5 },
    { seqLen: 65, dModel: 16, heads: 2, dHead: 8, causal: true },
    { seqLen: 17, kvLen: 65, dModel: 12, heads: 2, dHead: 6 },
    { seqLen: 1000, dModel: 32, heads: 1, dHead: 32, causal: true },
    { seqLen: 7, kvLen: 1000, dModel: 16, heads: 2, dHead: 8 },
    { seqLen: 1000, kvLen: 63, dModel: 8, heads: 1, dHead: 8, causal: true },
  ];
  /** Where the device lacks 'subgroups': the typed error naming softmaxMode and the missing feature. */
  async function expectNoSubgroupsError(tuning: AttentionTuning): Promise<void> {
    console.info(`[tunings] ${noSubgroups()}: checking the typed error instead of the subgroup softmax`);
    const error = await createGpuAttention(gpu(), tuning).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AttentionError);
    expect((error as Error).message).toContain('softmaxMode');
    expect((error as Error).message).toMatch(/subgroups.*missing/);
  }
  const tunings: Array<[string, AttentionTuning]> = [
    ['64-wide (DEFAULT_TUNING)', DEFAULT_TUNING],
    ['32-wide', { ...DEFAULT_TUNING, softmaxWorkgroup: 32 }],
    ['128-wide', { matmulWorkgroup: [16, 4], softmaxWorkgroup: 128, softmaxMode: 'subgroup' }],
  ];
  for (const [label, tuning] of tunings) {
    // With the feature the subgroup softmax must equal the reference; without it, creating it
    // must fail with a typed error (one test either way: nothing is skipped).
    it(`${label}: equals the reference where the device has subgroups, else a typed AttentionError naming softmaxMode`, async () => {
      if (!has()) {
        await expectNoSubgroupsError(tuning);
        return;
      }
      const variant = await createGpuAttention(gpu(), tuning);
      try {
        for (const shape of subgroupShapes) {
          const inputs = makeRandomInputs(shape, 17);
          const result = await variant.run(shape, inputs);
          const report = verifyAttention(shape, result, attentionCpu(shape, inputs));
          record(shape, report);
          expect(report.pass, `${JSON.stringify(shape)}: ${describeFailure(report)}`).toBe(true);
          if (shape.causal) {
            const kvLen = shape.kvLen ?? shape.seqLen;
            for (let row = 0; row < shape.heads * shape.seqLen; row++) {
              const query = row % shape.seqLen;
              for (let j = query + 1; j < kvLen; j++) expect(result.weights[row * kvLen + j]).toBe(0);
            }
          }
        }
      } finally {
        variant.destroy();
      }
    });

  }

  it('a device without the feature: typed AttentionError for mode subgroup, tuningFor falls back, the fallback runs', async () => {
    const plain = await requestGpuDevice({ subgroups: false });
    try {
      expect(plain.features.has('subgroups' as GPUFeatureName)).toBe(false);
      const error = await createGpuAttention(plain, DEFAULT_TUNING).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AttentionError);
      expect((error as Error).message).toContain('softmaxMode');
      expect((error as Error).message).toMatch(/subgroups.*missing/);
      expect(tuningFor(plain).softmaxMode).not.toBe('subgroup');
      const fallback = await createGpuAttention(plain, WORKGROUP_TUNING);
      try {
        const shape = { seqLen: 65, kvLen: 63, dModel: 8, heads: 2, dHead: 4, causal: true };
        const inputs = makeRandomInputs(shape, 19);
        const report = verifyAttention(shape, await fallback.run(shape, inputs), attentionCpu(shape, inputs));
        expect(report.pass, describeFailure(report)).toBe(true);
      } finally {
        fallback.destroy();
      }
    } finally {
      plain.destroy();
    }
  });

  // Huge logits (×30 on W_Q and W_K): each softmax, checked against the f64 reference on its own.
  const hugeShape = { seqLen: 130, kvLen: 70, dModel: 4, heads: 2, dHead: 2, causal: true };
  const hugeInputs = () => {
    const inputs = makeRandomInputs(hugeShape, 3);
    for (const w of [inputs.wq, inputs.wk]) for (let i = 0; i < w.length; i++) w[i] *= 30;
    return inputs;
  };
  async function checkHuge(tuning: AttentionTuning): Promise<void> {
    const inputs = hugeInputs();
    const variant = await createGpuAttention(gpu(), tuning);
    try {
      const result = await variant.run(hugeShape, inputs, { read: ['scores', 'weights'] });
      for (let i = 0; i < result.weights.length; i++) expect(Number.isFinite(result.weights[i]), `weight ${i}`).toBe(true);
      const report = verifyAttention(hugeShape, result, attentionCpu(hugeShape, inputs));
      record(hugeShape, report);
      expect(report.pass, describeFailure(report)).toBe(true);
    } finally {
      variant.destroy();
    }
  }

  it('huge logits: the subgroup softmax equals the f64 reference (a typed error where the device lacks subgroups)', async () => {
    if (!has()) await expectNoSubgroupsError(DEFAULT_TUNING);
    else await checkHuge(DEFAULT_TUNING);
  });

  it('huge logits: the workgroup-memory softmax equals the f64 reference', async () => {
    await checkHuge(WORKGROUP_TUNING);
  });
});

describe('output kernel variants (8 × 8 tile, 16 × 4 narrow tile for small heads)', () => {
  it('picks the variant and workgroup shape by dHead', () => {
    const pick = (dHead: number, tuning: AttentionTuning = SOFTWARE_TUNING) => {
      const launch = outputLaunch(dHead, tuning);
      return `${launch.variant} ${launch.workgroup.join('x')}`;
    };
    expect([1, 3, 4, 5, 7, 8, 9, 16, 17, 32, 33, 64, 100, 128].map((d) => pick(d))).toEqual([
      'narrow 1x16', 'narrow 1x16', 'narrow 1x16', 'narrow 2x16', 'narrow 2x16', 'narrow 2x16', 'narrow 4x16',
      'narrow 4x16', 'narrow 8x8', 'narrow 8x8', 'wide 8x8', 'wide 8x8', 'wide 8x8', 'wide 8x8',
    ]);
    expect(pick(64, { ...DEFAULT_TUNING, matmulWorkgroup: [16, 4] })).toBe('narrow 16x4');
    expect(pick(17, { ...DEFAULT_TUNING, matmulWorkgroup: [4, 16] })).toBe('wide 4x16');
  });

  // Each narrow workgroup shape, with seqLen and kvLen that are not multiples of the tile
  // (16 queries × WG_Y rows, 4 × WG_X columns), self-, causal and cross-attention; then wide.
  const variantShapes: AttentionShape[] = [
    { seqLen: 513, dModel: 8, heads: 2, dHead: 2, causal: true },
    { seqLen: 300, kvLen: 77, dModel: 12, heads: 3, dHead: 6 },
    { seqLen: 300, dModel: 40, heads: 3, dHead: 16, causal: true },
    { seqLen: 129, kvLen: 260, dModel: 24, heads: 2, dHead: 13, causal: true },
    { seqLen: 257, kvLen: 70, dModel: 20, heads: 2, dHead: 32 },
    { seqLen: 130, dModel: 16, heads: 2, dHead: 29, causal: true },
    { seqLen: 97, dModel: 16, heads: 1, dHead: 33, causal: true },
    { seqLen: 70, dModel: 16, heads: 1, dHead: 128 },
  ];
  // SOFTWARE_TUNING launches these variants on every adapter (tuningFor may pick lane tiles).
  let software: GpuAttention;
  beforeAll(async () => {
    software = await createGpuAttention(gpu(), SOFTWARE_TUNING);
  });
  afterAll(() => software.destroy());
  for (const shape of variantShapes) {
    it(`${outputLaunch(shape.dHead, SOFTWARE_TUNING).variant} ${JSON.stringify(shape)}`, async () => {
      await check(software, shape, 7);
    });
  }
});
