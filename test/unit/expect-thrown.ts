/**
 * The error a call throws, for tests that then look at its fields: checked to be an instance
 * of the expected class, and a failed test (not a pass) when nothing is thrown at all.
 */
import { expect } from 'vitest';

/** Call `fn`, expect it to throw an instance of `type`, and return that error. */
export function thrown<E extends Error>(type: abstract new (...args: never[]) => E, fn: () => unknown): E {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(type);
    return error as E;
  }
  throw new Error(`expected a ${type.name}, nothing was thrown`);
}
