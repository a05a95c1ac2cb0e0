// The model bench's arithmetic (src/bench/model-report.ts), its random weights
// (src/bench/model-bench.ts) and the linear kernels' dispatch sizes (src/kernels/model-linear.ts).
import { describe, expect, it } from 'vitest';
import { randomModelParams } from '../../src/bench/model-bench';
import { formatModelTable, GPT2_SMALL_SHAPE, modelForwardFlops, modelRecord, modelSpeedups, type ModelBenchReport } from '../../src/bench/model-report';
import { linearDims, linearVariant } from '../../src/kernels/model-linear';
import { DEFAULT_TUNING, LANE_TUNING, SOFTWARE_TUNING } from '../../src/kernels/tuning';
import { countParams } from '../../src/model/schema';

describe('modelForwardFlops', () => {
  it("counts 2·multiply-adds of GPT-2 small's products at 128 tokens", () => {
    // Per layer: c_attn 128·768·2304 = 226 492 416; QKᵀ and P·V 2·128²·768 = 25 165 824;
    // c_proj 128·768² = 75 497 472; c_fc and mlp c_proj 2·128·768·3072 = 603 979 776;
    // sum 931 135 488 multiply-adds = 1 862 270 976 FLOPs. Logits 2·128·768·50257 = 9 880 928 256.
    const f = modelForwardFlops(GPT2_SMALL_SHAPE, 128);
    expect(f.layer).toBe(1_862_270_976);
    expect(f.logits).toBe(9_880_928_256);
    expect(f.total).toBe(12 * 1_862_270_976 + 9_880_928_256);
  });

  it('counts a one-token pass of a tiny model by hand', () => {
    // d 3, dMlp 5, vocab 7, T 1: 2·(1·3·9 + 2·1·1·3 + 1·3·3 + 2·1·3·5) = 2·72 = 144; logits 2·3·7 = 42.
    const f = modelForwardFlops({ vocabSize: 7, dModel: 3, layers: 2, dMlp: 5 }, 1);
    expect(f).toEqual({ layer: 144, logits: 42, total: 2 * 144 + 42 });
  });
});

describe('model bench records and table', () => {
  it('takes the median run for GFLOP/s and tokens/s, and the CPU ÷ GPU speed-up per length', () => {
    const gpu = modelRecord(GPT2_SMALL_SHAPE, 128, 'gpu', [9000, 8000, 10000]);
    // 32 228 179 968 FLOPs in 9 s = 3.581 GFLOP/s; 128 tokens in 9 s = 14.22 tokens/s.
    expect(gpu.median).toBe(9000);
    expect(gpu.gflops).toBeCloseTo(32.228179968 / 9, 9);
    expect(gpu.tokensPerSecond).toBeCloseTo(128 / 9, 9);
    const cpu = modelRecord(GPT2_SMALL_SHAPE, 128, 'cpu', [27000]);
    expect(modelSpeedups([gpu, cpu, modelRecord(GPT2_SMALL_SHAPE, 512, 'gpu', [1])])).toEqual([{ seqLen: 128, speedup: 3 }]);
    const report: ModelBenchReport = {
      kind: 'model', date: '2026-01-01T00:00:00Z', adapter: null, model: 'gpt2-shape', config: GPT2_SMALL_SHAPE, parameters: countParams(GPT2_SMALL_SHAPE),
      linear: 'lanes 32×32', cpuPath: 'f32 forward in a worker (wasm-f32, 1 thread)', keep: 'weights', options: { lengths: [128], repeats: 3, warmup: 0, paths: ['gpu', 'cpu'], seed: 1 },
      records: [gpu, cpu], checks: [{ seqLen: 128, maxAbsErr: 2e-5, maxAbs: 3, pass: true }], speedups: [{ seqLen: 128, speedup: 3 }], failures: [], pass: true,
    };
    const text = formatModelTable(report);
    expect(text).toContain('124.4M parameters');
    expect(text).toContain('CPU: f32 forward in a worker (wasm-f32, 1 thread)');
    expect(text).toMatch(/^seqLen\s+path\s+median ms\s+±IQR\s+tokens\/s\s+GFLOP\s+GFLOP\/s/m);
    expect(text).toMatch(/^128\s+gpu\s+9000\.0\s+1000\.0\s+14\.2\s+32\.23\s+3\.58\s+9000 8000 10000$/m);
    expect(text).toContain('GPU against CPU at 128 tokens: 3.00× faster');
    expect(formatModelTable({ ...report, speedups: [{ seqLen: 512, speedup: 0.25 }] })).toContain('GPU against CPU at 512 tokens: 4.00× slower');
    expect(text).toContain('max abs diff 2.00e-5');
  });

  it("lists onnxruntime-web's runs as path ort, with our GPU's speed-up over it and its logits check", () => {
    const gpu = modelRecord(GPT2_SMALL_SHAPE, 128, 'gpu', [8000]);
    const ort = modelRecord(GPT2_SMALL_SHAPE, 128, 'ort', [100_000, 120_000]);
    expect(ort.median).toBe(110_000);
    expect(ort.gflops).toBeCloseTo(32.228179968 / 110, 9);
    // ORT's median ÷ ours: 110 s / 8 s = 13.75; the CPU ratio ignores ORT.
    expect(modelSpeedups([gpu, ort], 'ort')).toEqual([{ seqLen: 128, speedup: 13.75 }]);
    expect(modelSpeedups([gpu, ort])).toEqual([]);
    const report: ModelBenchReport = {
      kind: 'model', date: '2026-01-01T00:00:00Z', adapter: null, model: 'gpt2-shape', config: GPT2_SMALL_SHAPE, parameters: countParams(GPT2_SMALL_SHAPE),
      linear: 'lanes 32×32', cpuPath: null, keep: 'weights', options: { lengths: [128], repeats: 2, warmup: 0, paths: ['gpu', 'ort'], seed: 1 },
      records: [gpu, ort], checks: [{ seqLen: 128, path: 'ort', maxAbsErr: 3e-5, maxAbs: 3, pass: true }], speedups: [],
      ortSpeedups: [{ seqLen: 128, speedup: 13.75 }], ort: { provider: 'webgpu', modelBytes: 497_796_714, startMs: 86_000 }, failures: [], pass: true,
    };
    const text = formatModelTable(report);
    expect(text).toMatch(/^128\s+ort\s+110000\.0\s+10000\.0\s+1\.2\s+32\.23\s+0\.29\s+100000 120000$/m);
    expect(text).toContain('GPU against ORT (onnxruntime-web, webgpu EP) at 128 tokens: 13.75× faster');
    expect(text).toContain('logits ORT vs CPU at 128 tokens: max abs diff 3.00e-5');
  });
});

describe('randomModelParams', () => {
  const config = { vocabSize: 11, context: 8, dModel: 8, heads: 2, layers: 1, dMlp: 12 };
  it("fills GPT-2's layout: weights with standard deviation 0.02, LayerNorm gains 1, biases 0, the same for the same seed", () => {
    const a = randomModelParams(config, 3);
    expect(a.get('ln_f.weight')!.every((v) => v === 1)).toBe(true);
    expect(a.get('h.0.ln_1.weight')!.every((v) => v === 1)).toBe(true);
    expect(a.get('h.0.mlp.c_fc.bias')!.every((v) => v === 0)).toBe(true);
    const w = a.get('wte.weight')!;
    const std = Math.sqrt(w.reduce((s, v) => s + v * v, 0) / w.length);
    expect(std).toBeGreaterThan(0.015);
    expect(std).toBeLessThan(0.025);
    expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(0.02 * Math.sqrt(3));
    expect(randomModelParams(config, 3).get('wte.weight')).toEqual(w);
    expect(randomModelParams(config, 4).get('wte.weight')).not.toEqual(w);
  });
});

describe('linearDims', () => {
  it('sizes each variant by its block: registers 32 × 32, lanes 4 teams × tile rows by tile columns, workgroup 64 × 64', () => {
    expect(linearVariant(SOFTWARE_TUNING)).toEqual({ kind: 'registers' });
    expect(linearVariant(DEFAULT_TUNING)).toEqual({ kind: 'workgroup' });
    expect(linearVariant(LANE_TUNING)).toEqual({ kind: 'lanes', tile: { rows: 32, cols: 32 } });
    expect(linearDims({ kind: 'registers' }, 130, 50257)).toEqual([1571, 5, 1]);
    expect(linearDims({ kind: 'lanes', tile: { rows: 32, cols: 32 } }, 130, 50257)).toEqual([1571, 2, 1]);
    expect(linearDims({ kind: 'lanes', tile: { rows: 16, cols: 64 } }, 128, 768)).toEqual([12, 2, 1]);
    expect(linearDims({ kind: 'workgroup' }, 130, 50257)).toEqual([786, 3, 1]);
    expect(linearDims({ kind: 'workgroup' }, 1, 1)).toEqual([1, 1, 1]);
  });
});
