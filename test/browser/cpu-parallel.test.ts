import { describe, expect, it } from 'vitest';
import { AttentionAbortError, attentionCpu, makeRandomInputs, verifyAttention, type AttentionShape } from '../../src/index';
import { attentionCpuParallel } from '../../src/cpu/parallel';

describe('the fast CPU path across workers, in the browser', () => {
  const shapes: AttentionShape[] = [
    { seqLen: 1, dModel: 4, heads: 1, dHead: 4 },
    { seqLen: 37, dModel: 20, heads: 3, dHead: 7, causal: true },
    { seqLen: 200, kvLen: 57, dModel: 32, heads: 2, dHead: 16 },
    { seqLen: 300, dModel: 64, heads: 1, dHead: 64, causal: true },
  ];
  for (const shape of shapes) {
    for (const workers of [1, 2, 3]) {
      it(`${JSON.stringify(shape)} on ${workers} worker(s) equals the f64 reference; stages add up to at most the total`, async () => {
        const inputs = makeRandomInputs(shape, 17);
        const fast = await attentionCpuParallel(shape, inputs, { workers });
        const report = verifyAttention(shape, fast, attentionCpu(shape, inputs));
        expect(report.pass, JSON.stringify(report.stages.filter((s) => !s.pass))).toBe(true);
        const t = fast.timings;
        for (const stage of ['projections', 'scores', 'softmax', 'output', 'total'] as const) expect(t[stage]).toBeGreaterThanOrEqual(0);
        expect(t.total).toBeGreaterThan(0);
        expect(t.projections + t.scores + t.softmax + t.output).toBeLessThanOrEqual(t.total + 1e-9);
        expect(t.source).toBe('wall-clock');
      });
    }
  }

  it('an aborted run rejects with AbortError', async () => {
    const shape = { seqLen: 2048, dModel: 64, heads: 2, dHead: 64 };
    const controller = new AbortController();
    const run = attentionCpuParallel(shape, makeRandomInputs(shape, 1), { workers: 2, signal: controller.signal });
    controller.abort();
    await expect(run).rejects.toBeInstanceOf(AttentionAbortError);
  });
});
