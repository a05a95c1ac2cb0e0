// The shared GPU plumbing (src/gpu/pipeline.ts, readback.ts, guard.ts) on real WebGPU: shader
// errors name the file and line they came from, pipelines are cached, readbacks are pooled and
// refuse bad copies, and an out-of-memory error during a run (unfused, or a fused chunk) is
// typed, frees what was half-allocated and leaves the next run working.
import { describe, expect, it } from 'vitest';
import { AttentionError, GpuOutOfMemoryError, attentionCpu, makeRandomInputs, verifyAttention, type AttentionShape } from '../../src/index';
import { ShaderCompileError, compileShader, concatSources, getKernel, type ShaderSource } from '../../src/gpu/pipeline';
import { pooledStagingBuffers, readFloats, readRanges } from '../../src/gpu/readback';
import { createGpuAttention } from '../../src/kernels/attention';
import { createFlashAttention } from '../../src/kernels/flash';
import { attentionCpuRows, sampleRows } from '../../src/reference/attention';
import { gpu, useGpuDevice } from './gpu-fixture';
import { injectOutOfMemory } from './inject-oom';

useGpuDevice();

describe('shader sources and pipelines', () => {
  it('a compile error names the file and line it came from, and the template note', async () => {
    const source: ShaderSource = concatSources('broken', [
      { file: 'first.wgsl', text: 'const A: u32 = 1u;\n' },
      { file: 'broken.wgsl', text: 'fn f() -> u32 {\n  return A + ;\n}' },
    ]);
    const error = await compileShader(gpu(), source).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ShaderCompileError);
    // Line 4 of the module is line 2 of broken.wgsl (first.wgsl is 2 lines: the text and a blank).
    expect((error as ShaderCompileError).message).toMatch(/broken\.wgsl line 2:\d+/);
    const noted: ShaderSource = {
      label: 'noted',
      code: 'fn g() -> f32 {\n  return undefinedName;\n}',
      origins: [
        { file: 'scores.wgsl', line: 31 },
        { file: 'parts/tile-step.wgsl', line: 7, note: 'r = 2; included from scores.wgsl line 32' },
        { file: 'scores.wgsl', line: 33 },
      ],
    };
    const second = await compileShader(gpu(), noted).catch((e: unknown) => e);
    expect((second as Error).message).toContain('parts/tile-step.wgsl line 7 (r = 2; included from scores.wgsl line 32)');
  });

  it('pipelines are cached per device and spec; the bind group must fill every binding', async () => {
    const source = concatSources('double', [
      {
        file: 'double.wgsl',
        text: '@group(0) @binding(0) var<storage, read> a: array<f32>;\n@group(0) @binding(1) var<storage, read_write> b: array<f32>;\n@compute @workgroup_size(1) fn main() { b[0] = 2.0 * a[0]; }',
      },
    ]);
    const spec = { label: 'test/double', source, bindings: ['read-only-storage', 'storage'] as const };
    const [one, two] = await Promise.all([getKernel(gpu(), spec), getKernel(gpu(), spec)]);
    expect(one).toBe(two);
    const input = gpu().createBuffer({ size: 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
    const output = gpu().createBuffer({ size: 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
    try {
      expect(() => one.bind([input])).toThrow(/1 buffers given for 2 bindings/);
      gpu().queue.writeBuffer(input, 0, new Float32Array([1.25]));
      const encoder = gpu().createCommandEncoder();
      const pass = encoder.beginComputePass();
      pass.setPipeline(one.pipeline);
      pass.setBindGroup(0, one.bind([input, output]));
      pass.dispatchWorkgroups(1);
      pass.end();
      gpu().queue.submit([encoder.finish()]);
      const [values] = await readFloats(gpu(), [[output, 0, 1]], 'test/double');
      expect(values[0]).toBe(2.5);
    } finally {
      input.destroy();
      output.destroy();
    }
  });
});

describe('readback', () => {
  it('copies ranges back through pooled staging buffers and refuses a bad copy', async () => {
    const buffer = gpu().createBuffer({ size: 64, usage: GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
    const unreadable = gpu().createBuffer({ size: 16, usage: GPUBufferUsage.COPY_DST });
    try {
      gpu().queue.writeBuffer(buffer, 0, new Float32Array(Array.from({ length: 16 }, (_, i) => i * 0.5)));
      const parts = await readFloats(gpu(), [[buffer, 2, 3], [buffer, 10, 2], [buffer, 0, 0]], 'test/ranges');
      expect(parts.map((p) => [...p])).toEqual([[1, 1.5, 2], [5, 5.5], []]);
      const before = pooledStagingBuffers(gpu());
      await readFloats(gpu(), [[buffer, 0, 4]], 'test/again');
      // The staging buffer went back to the pool (at most 4 are kept).
      expect(pooledStagingBuffers(gpu())).toBeGreaterThanOrEqual(Math.min(before, 4));
      expect(pooledStagingBuffers(gpu())).toBeLessThanOrEqual(4);
      await expect(readRanges(gpu(), [{ buffer, offset: 2, size: 4 }], 'test/misaligned')).rejects.toThrow(/4-byte aligned/);
      await expect(readRanges(gpu(), [{ buffer: unreadable, offset: 0, size: 16 }], 'test/unreadable')).rejects.toThrow(AttentionError);
    } finally {
      buffer.destroy();
      unreadable.destroy();
    }
  });
});

describe('out of memory during a run', () => {
  const shape: AttentionShape = { seqLen: 300, dModel: 16, heads: 2, dHead: 8, causal: true };
  const inputs = makeRandomInputs(shape, 11);

  it('unfused: a typed GpuOutOfMemoryError, no run left to read, and the next run equals the reference', async () => {
    const attention = await createGpuAttention(gpu());
    try {
      const restore = injectOutOfMemory(gpu(), 1);
      let error: unknown;
      try {
        error = await attention.run(shape, inputs).catch((e: unknown) => e);
      } finally {
        expect(restore()).toBe(1);
      }
      expect(error).toBeInstanceOf(GpuOutOfMemoryError);
      expect((error as Error).message).toContain('the attention buffers');
      expect(attention.buffers()).toBeNull();
      const result = await attention.run(shape, inputs);
      expect(verifyAttention(shape, result, attentionCpu(shape, inputs)).pass).toBe(true);
    } finally {
      attention.destroy();
    }
  });

  it('fused: an error scope per chunk; out of memory at chunk 3 is typed, frees the buffers, and the next run is right', async () => {
    // Small chunks: 300 queries in blocks of 2·16, one block per submission → 10 chunks.
    const flash = await createFlashAttention(gpu(), { workgroupSize: 16, chunkWork: 1 });
    try {
      const restore = injectOutOfMemory(gpu(), 3);
      let error: unknown;
      let seen: number;
      try {
        error = await flash.run(shape, inputs).catch((e: unknown) => e);
      } finally {
        seen = restore();
      }
      expect(seen).toBe(3); // the run stopped at the chunk whose scope reported the error
      expect(error).toBeInstanceOf(GpuOutOfMemoryError);
      expect((error as Error).message).toContain('the fused attention buffers');
      expect(flash.buffers()).toBeNull();
      await expect(flash.readRows([0])).rejects.toThrow(/No fused run/);
      const result = await flash.run(shape, inputs, { read: ['output'] });
      expect(result.timings.chunks).toBe(10);
      const rows = sampleRows(shape.seqLen, 8);
      const expected = attentionCpuRows(shape, inputs, rows);
      const width = shape.heads * shape.dHead;
      rows.forEach((row, r) => {
        for (let c = 0; c < width; c++) expect(Math.abs(result.output[row * width + c] - expected.output[r * width + c])).toBeLessThan(1e-5);
      });
    } finally {
      flash.destroy();
    }
  });
});

describe('attention kernels made on first use (the app: its landing view has kernels of its own)', () => {
  it('compiles nothing until asked; the first run builds them and equals the reference; destroy frees them', async () => {
    const { lazyGpuAttention } = await import('../../src/kernels/session');
    let made = 0;
    const lazy = lazyGpuAttention(gpu(), async (device) => {
      made++;
      return createGpuAttention(device);
    });
    expect(made).toBe(0);
    expect(lazy.buffers()).toBeNull();
    expect(lazy.bufferSets).toBe(0);
    const shape: AttentionShape = { seqLen: 9, dModel: 8, heads: 2, dHead: 4, causal: true };
    const inputs = makeRandomInputs(shape, 5);
    const [first, second] = await Promise.all([lazy.run(shape, inputs), lazy.run(shape, inputs)]);
    expect(made).toBe(1); // two runs at once still build one set of kernels
    for (const result of [first, second]) expect(verifyAttention(shape, result, attentionCpu(shape, inputs)).pass).toBe(true);
    expect(lazy.buffers()?.shape.seqLen).toBe(9);
    expect(lazy.bufferSets).toBeGreaterThan(0);
    lazy.destroy();
    await expect(lazy.run(shape, inputs)).rejects.toBeInstanceOf(AttentionError);
  });
});

describe('large reads (a model\'s maps at full context)', () => {
  it('reads more than one staging buffer holds, in batches, every byte in place', async () => {
    const { STAGING_MAX_BYTES } = await import('../../src/gpu/readback');
    // 1.25 staging buffers in one range, then two small ranges around the batch seams.
    const floats = (STAGING_MAX_BYTES * 1.25) / 4;
    const data = Float32Array.from({ length: floats }, (_, i) => i % 100003);
    const big = gpu().createBuffer({ size: data.byteLength, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
    const small = gpu().createBuffer({ size: 4096, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
    gpu().queue.writeBuffer(big, 0, data);
    gpu().queue.writeBuffer(small, 0, Float32Array.from({ length: 1024 }, (_, i) => -i));
    try {
      const [a, b, c] = await readFloats(gpu(), [[small, 10, 20], [big, 0, floats], [small, 1000, 24]], 'test/large');
      expect(Array.from(a)).toEqual(Array.from({ length: 20 }, (_, i) => -(10 + i)));
      expect(b.length).toBe(floats);
      // Every value, checked without a 20-million-element toEqual: the first mismatch, if any.
      let mismatch = -1;
      for (let i = 0; i < floats && mismatch < 0; i++) if (b[i] !== i % 100003) mismatch = i;
      expect(mismatch).toBe(-1);
      expect(Array.from(c)).toEqual(Array.from({ length: 24 }, (_, i) => -(1000 + i)));
      // The pooled staging buffers stay within the limit.
      expect(pooledStagingBuffers(gpu())).toBeLessThanOrEqual(4);
    } finally {
      big.destroy();
      small.destroy();
    }
  });
});
