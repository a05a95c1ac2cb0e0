/** Reduced grids in tests (unit and browser): pure TypeScript. */
import { GRID_PLANES } from '../../src/reference/reduce';

/** Planes of several reductions side by side (each plane-major), as one plan over all their heads. */
export function concatPlanes(parts: Float32Array[], cellsEach: number): Float32Array {
  const total = parts.length * cellsEach;
  const out = new Float32Array(GRID_PLANES.length * total);
  parts.forEach((part, n) => {
    for (let p = 0; p < GRID_PLANES.length; p++) out.set(part.subarray(p * cellsEach, (p + 1) * cellsEach), p * total + n * cellsEach);
  });
  return out;
}
