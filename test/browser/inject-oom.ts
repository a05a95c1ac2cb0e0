// Out-of-memory errors on demand, for the tests of what a run does after one.

/**
 * Make the `which`-th out-of-memory error scope popped from now on report an out-of-memory
 * error (the real scopes are still pushed and popped, so the device's stack stays balanced).
 * Returns a function that undoes it and says how many out-of-memory scopes were popped.
 */
export function injectOutOfMemory(device: GPUDevice, which: number): () => number {
  const push = device.pushErrorScope.bind(device);
  const pop = device.popErrorScope.bind(device);
  const filters: GPUErrorFilter[] = [];
  let seen = 0;
  device.pushErrorScope = (filter: GPUErrorFilter) => {
    filters.push(filter);
    push(filter);
  };
  device.popErrorScope = async () => {
    const filter = filters.pop();
    const real = await pop();
    if (filter === 'out-of-memory' && ++seen === which) return new GPUOutOfMemoryError('injected by the test');
    return real;
  };
  return () => {
    device.pushErrorScope = push;
    device.popErrorScope = pop;
    return seen;
  };
}
