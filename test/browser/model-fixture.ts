/** The shipped checkpoint in the browser tests. */
import { expect } from 'vitest';
import { readCheckpoint, type Checkpoint } from '../../src/model/checkpoint';

/** Fetch and read public/models/tiny-stories (Vite serves public/ at the root, in the browser tests as in the app). */
export async function fetchShippedCheckpoint(): Promise<Checkpoint> {
  const response = await fetch('/models/tiny-stories/model.safetensors');
  expect(response.ok, 'fetch the shipped checkpoint').toBe(true);
  return readCheckpoint(await response.arrayBuffer());
}
