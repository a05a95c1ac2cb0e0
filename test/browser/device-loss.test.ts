import { describe, expect, it } from 'vitest';
import { GpuDeviceLostError, attentionCpu, createFlashAttention, createGpuAttention, makeRandomInputs, requestGpuDevice, verifyAttention } from '../../src/index';
import { createAttentionSession } from '../../src/kernels/session';

describe('device loss', () => {
  it('device.destroy() during a run: the run rejects, the session recreates device and kernels, and the next result matches the reference', async () => {
    const session = await createAttentionSession();
    const events: Array<{ recovered: boolean; message: string }> = [];
    session.onDeviceChange((e) => events.push({ recovered: e.recovered, message: e.message }));
    const shape = { seqLen: 512, dModel: 32, heads: 2, dHead: 16, causal: true };
    const inputs = makeRandomInputs(shape, 31);
    const firstDevice = session.device;
    const running = session.run(shape, inputs);
    // Lose the device while the run is in flight (as a driver reset would, from outside).
    firstDevice.destroy();
    const error = await running.then(() => null, (e: unknown) => e);
    // Depending on where the loss lands, the run fails with a typed device-lost error or, if it
    // had already finished its GPU work, succeeds; it must never hang or return garbage silently.
    if (error !== null) expect(error).toBeInstanceOf(GpuDeviceLostError);
    await session.ready();
    expect(session.device).not.toBe(firstDevice);
    expect(session.recoveries).toBe(1);
    expect(events.map((e) => e.recovered)).toEqual([false, true]);
    const after = await session.run(shape, inputs);
    const report = verifyAttention(shape, after, attentionCpu(shape, inputs));
    expect(report.pass).toBe(true);
    session.destroy();
  });

  it('an allocation over the device limit gives the typed error, and the session keeps working', async () => {
    const session = await createAttentionSession();
    const limit = session.device.limits.maxStorageBufferBindingSize;
    const seqLen = Math.floor(Math.sqrt(limit / 4 / 2)) + 1;
    const big = { seqLen, dModel: 1, heads: 2, dHead: 1 };
    const error = await session.run(big, makeRandomInputs(big, 1)).catch((e: unknown) => e);
    expect((error as Error).name).toBe('GpuLimitError');
    expect((error as Error).message).toContain(`${2 * seqLen * seqLen * 4} bytes`);
    const small = { seqLen: 8, dModel: 4, heads: 1, dHead: 4 };
    const inputs = makeRandomInputs(small, 2);
    expect(verifyAttention(small, await session.run(small, inputs), attentionCpu(small, inputs)).pass).toBe(true);
    session.destroy();
  });

  it('a pipeline destroyed after its device was lost says the device was lost (the order the session recovers in)', async () => {
    const shape = { seqLen: 16, dModel: 8, heads: 1, dHead: 8 };
    const inputs = makeRandomInputs(shape, 5);
    const device = await requestGpuDevice();
    const attention = await createGpuAttention(device);
    const flash = await createFlashAttention(device);
    device.destroy();
    await device.lost;
    attention.destroy();
    flash.destroy();
    const errors = await Promise.all([attention.run(shape, inputs).catch((e: unknown) => e), flash.run(shape, inputs).catch((e: unknown) => e)]);
    for (const error of errors) {
      expect(error).toBeInstanceOf(GpuDeviceLostError);
      expect((error as Error).message).toMatch(/destroyed|lost/i);
    }
  });
});
