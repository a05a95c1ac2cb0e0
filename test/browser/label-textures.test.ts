/**
 * Label textures are shared per text and style and kept across rebuilds (the model view's
 * seqLen changes re-uploaded ~200 label canvases each): one texture per text and style, kept
 * while idle, the oldest idle ones disposed past IDLE_TEXTURES, and the canvas holds the text.
 */
import { describe, expect, it } from 'vitest';
import { IDLE_TEXTURES, acquireLabelTexture, releaseLabelTexture } from '../../src/scene/label-textures';

/** Whether a texture fired 'dispose' (three's renderers free its GPU copy then). */
function watchDispose(texture: { addEventListener(type: 'dispose', listener: () => void): void }): { disposed: boolean } {
  const seen = { disposed: false };
  texture.addEventListener('dispose', () => (seen.disposed = true));
  return seen;
}

/** Pixels of a canvas that are not transparent. */
function inkedPixels(canvas: OffscreenCanvas): number {
  const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
  let inked = 0;
  for (let i = 3; i < data.length; i += 4) if (data[i] > 0) inked++;
  return inked;
}

describe('label textures', () => {
  it('one texture per text and style; a wider text gets a wider canvas with ink on it', () => {
    const a = acquireLabelTexture('cat', {});
    const b = acquireLabelTexture('cat', {});
    const bold = acquireLabelTexture('cat', { bold: true });
    const coloured = acquireLabelTexture('cat', { color: '#ffd27a' });
    const long = acquireLabelTexture('a much longer label', {});
    expect(b).toBe(a);
    expect(bold).not.toBe(a);
    expect(coloured).not.toBe(a);
    expect(long.image.height).toBe(a.image.height);
    expect(long.image.width).toBeGreaterThan(2 * a.image.width);
    expect(inkedPixels(a.image)).toBeGreaterThan(50);
    for (const t of [a, b, bold, coloured, long]) releaseLabelTexture(t);
  });

  it('an idle texture is kept for the next rebuild; past the limit the oldest idle one is disposed', () => {
    const first = acquireLabelTexture('first-idle', {});
    const firstWatch = watchDispose(first);
    const used = acquireLabelTexture('still-used', {});
    const usedWatch = watchDispose(used);
    releaseLabelTexture(first);
    expect(firstWatch.disposed).toBe(false);
    // Released and asked for again: the same texture, not drawn anew.
    expect(acquireLabelTexture('first-idle', {})).toBe(first);
    releaseLabelTexture(first);
    // Fill the idle set past its limit with other labels: the oldest idle texture goes first.
    const others = Array.from({ length: IDLE_TEXTURES }, (_, i) => acquireLabelTexture(`filler ${i}`, {}));
    for (const t of others) releaseLabelTexture(t);
    expect(firstWatch.disposed).toBe(true);
    expect(usedWatch.disposed).toBe(false); // in use: never evicted
    expect(acquireLabelTexture('first-idle', {})).not.toBe(first);
    releaseLabelTexture(used);
  });
});
