import { describe, expect, it } from 'vitest';
import { GpuDeviceLostError, attentionCpu, createFlashAttention, createGpuAttention, makeRandomInputs, requestGpuDevice, verifyAttention } from '../../src/index';
import { deviceRegistry } from '../../src/gpu/registry';
import { ATTENTION_KEY, createAttentionSession } from '../../src/kernels/session';

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

  it('the device registry makes each runner once, destroys and forgets them all on loss, and says so', async () => {
    const device = await requestGpuDevice();
    const registry = deviceRegistry(device);
    expect(deviceRegistry(device)).toBe(registry);
    let made = 0;
    const make = (d: GPUDevice) => {
      made++;
      return createFlashAttention(d);
    };
    const [flash, again] = await Promise.all([registry.get('flash', make), registry.get('flash', make)]);
    expect(again).toBe(flash);
    expect(made).toBe(1);
    expect(registry.peek('flash')).toBe(flash);
    const attention = await registry.get('attention', createGpuAttention);
    expect(registry.keys().sort()).toEqual(['attention', 'flash']);
    // A failed creation is forgotten: the next ask tries again.
    await expect(registry.get('broken', () => Promise.reject(new Error('no')))).rejects.toThrow('no');
    expect(registry.keys()).not.toContain('broken');
    // drop() destroys one entry; the next ask makes a new one.
    registry.drop('flash');
    const shape = { seqLen: 16, dModel: 8, heads: 1, dHead: 8 };
    const inputs = makeRandomInputs(shape, 6);
    await expect(flash.run(shape, inputs)).rejects.toThrow(/destroyed/);
    expect(await registry.get('flash', make)).not.toBe(flash);
    expect(made).toBe(2);

    const losses: string[] = [];
    registry.onLost((info) => losses.push(info.reason));
    device.destroy();
    await device.lost;
    expect(losses).toEqual(['destroyed']);
    expect(registry.lost?.reason).toBe('destroyed');
    expect(registry.keys()).toEqual([]);
    expect(registry.peek('attention')).toBeUndefined();
    await expect(attention.run(shape, inputs)).rejects.toBeInstanceOf(GpuDeviceLostError);
    await expect(registry.get('attention', createGpuAttention)).rejects.toBeInstanceOf(GpuDeviceLostError);
  });

  it('after a loss, asking the session for a runner gives a new one on the new device (no reset list)', async () => {
    const session = await createAttentionSession();
    const firstDevice = session.device;
    const firstAttention = session.attention;
    expect(session.registry.peek(ATTENTION_KEY)).toBe(firstAttention);
    const flash = await session.get('flash', (d) => createFlashAttention(d));
    expect(await session.get('flash', (d) => createFlashAttention(d))).toBe(flash);
    session.loseDevice();
    // The registry's and the session's handlers were subscribed first: by now recovery is under way.
    await firstDevice.lost;
    await session.ready();
    expect(session.device).not.toBe(firstDevice);
    expect(session.attention).not.toBe(firstAttention);
    expect(session.attention.device).toBe(session.device);
    const next = await session.get('flash', (d) => createFlashAttention(d));
    expect(next).not.toBe(flash);
    expect(next.device).toBe(session.device);
    const shape = { seqLen: 12, dModel: 8, heads: 2, dHead: 4, causal: true };
    const inputs = makeRandomInputs(shape, 7);
    const reference = attentionCpu(shape, inputs);
    const fused = await next.run(shape, inputs, { read: ['output'] });
    expect(verifyAttention(shape, { output: fused.output }, reference).pass).toBe(true);
    await expect(flash.run(shape, inputs)).rejects.toBeInstanceOf(GpuDeviceLostError);
    session.destroy();
    expect(session.registry.keys()).toEqual([]);
  });
});
