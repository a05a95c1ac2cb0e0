/**
 * A queue that runs async tasks one after another: a GPU pipeline's runs share its buffers,
 * so each must start after the previous one finished. A failed task does not block the next.
 */
export function createSerialQueue(): <T>(task: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(task: () => Promise<T>): Promise<T> => {
    const result = tail.then(task);
    tail = result.catch(() => undefined);
    return result;
  };
}
