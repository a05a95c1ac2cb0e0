// How a weight larger than one storage binding is split by rows (src/core/split.ts): the piece
// sizes the GPU forward uses and the memory check counts, against sizes worked out by hand.
import { describe, expect, it } from 'vitest';
import { piecesOf, rowsPerPiece, storedBytes } from '../../src/core/split';

describe('storedBytes', () => {
  it('pads every buffer to 16 bytes; 16-bit values two to a u32', () => {
    expect(storedBytes(1, 'f32')).toBe(16);
    expect(storedBytes(5, 'f32')).toBe(32);
    expect(storedBytes(5, 'f16')).toBe(16); // 3 u32 = 12 → 16
    expect(storedBytes(9, 'bf16')).toBe(32); // 5 u32 = 20 → 32
    expect(storedBytes(128256 * 2048, 'bf16')).toBe(525_336_576);
  });
});

describe('rowsPerPiece and piecesOf', () => {
  it('all rows when the whole weight fits', () => {
    expect(rowsPerPiece(10, 4, 'f32', 1000)).toBe(10);
    expect(piecesOf(10, 4, 'f32', 1000)).toBe(1);
  });
  it('the most rows whose bytes fit, the last piece holding the rest', () => {
    // 300 × 16 f32: 64 bytes a row, 4096 bytes hold 64 rows: 64, 64, 64, 64, 44.
    expect(rowsPerPiece(300, 16, 'f32', 4096)).toBe(64);
    expect(piecesOf(300, 16, 'f32', 4096)).toBe(5);
    // 300 × 32 bf16: 64 bytes a row, 5120 bytes hold 80: 80, 80, 80, 60.
    expect(rowsPerPiece(300, 32, 'bf16', 5120)).toBe(80);
    expect(piecesOf(300, 32, 'bf16', 5120)).toBe(4);
  });
  it('rows of an odd width in 16 bits: a piece of 3 rows of 3 halves needs 5 u32 (32 bytes padded), so 16 bytes hold 2', () => {
    expect(rowsPerPiece(10, 3, 'f16', 16)).toBe(2);
    expect(piecesOf(10, 3, 'f16', 16)).toBe(5);
  });
  it('0 when not even one row fits', () => {
    expect(rowsPerPiece(10, 8, 'f32', 16)).toBe(0);
    expect(piecesOf(10, 8, 'f32', 16)).toBe(0);
  });
});
