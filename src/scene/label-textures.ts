/**
 * Label text textures, shared and kept: every label of one text and style uses one
 * CanvasTexture, and textures of labels that went away are kept (up to {@link IDLE_TEXTURES}) for
 * the next rebuild. Uploading a texture (copyExternalImageToTexture) costs about a millisecond
 * each on SwiftShader, and a rebuild of the model view draws ~200 labels, most of them the same
 * few tokens and indices as before: without sharing, one seqLen change spent 200+ ms of the main
 * thread uploading text it had already uploaded.
 */
import { AttentionError } from '../core/errors';
import * as THREE from 'three/webgpu';

/** Textures no label uses that are kept for a later rebuild (the oldest is disposed first). */
export const IDLE_TEXTURES = 512;

/** How a label's text is drawn. */
export interface LabelTextStyle {
  bold?: boolean;
  color?: string;
}

/** A label's texture: its image is the OffscreenCanvas it was drawn on. */
export type LabelTexture = THREE.CanvasTexture<OffscreenCanvas>;

interface Entry {
  texture: LabelTexture;
  users: number;
}

const entries = new Map<string, Entry>();
/** Keys of entries no label uses, oldest first (a Map iterates in insertion order). */
const idle = new Set<string>();
const KEY = 'labelTextureKey';

function draw(text: string, style: LabelTextStyle): LabelTexture {
  const pixels = 48;
  const font = `${style.bold ? '600 ' : ''}${pixels}px system-ui, sans-serif`;
  // An OffscreenCanvas, not a <canvas> element: the scene stays out of the DOM (only src/ui
  // touches it), and three's CanvasTexture uploads either kind on both backends.
  // willReadFrequently keeps the canvas in CPU memory: its upload is then a plain copy, where a
  // GPU-backed 2D canvas (SwiftShader's too) is read back first, several ms per label.
  const canvas = new OffscreenCanvas(1, 1);
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  if (!ctx) throw new AttentionError('This browser gives no 2D context for an OffscreenCanvas, so the 3D view cannot draw its token labels. Use a current Chromium, Edge or Firefox.');
  ctx.font = font;
  const width = Math.ceil(ctx.measureText(text).width) + 12;
  // Resizing clears the canvas and resets its context state, so the font is set again.
  canvas.width = width;
  canvas.height = Math.ceil(pixels * 1.3);
  ctx.font = font;
  ctx.textBaseline = 'middle';
  // A dark outline keeps light text readable over bright surfaces.
  ctx.lineWidth = 8;
  ctx.strokeStyle = 'rgba(10, 11, 14, 0.85)';
  ctx.strokeText(text, 6, canvas.height / 2);
  ctx.fillStyle = style.color ?? '#e8e8ee';
  ctx.fillText(text, 6, canvas.height / 2);
  const texture = new THREE.CanvasTexture(canvas);
  texture.colorSpace = THREE.SRGBColorSpace;
  texture.generateMipmaps = false;
  texture.minFilter = THREE.LinearFilter;
  return texture;
}

/** The texture of `text` in `style` (drawn once, shared); give it back with {@link releaseLabelTexture}. */
export function acquireLabelTexture(text: string, style: LabelTextStyle): LabelTexture {
  const key = `${style.bold ? 'b' : 'n'}|${style.color ?? ''}|${text}`;
  let entry = entries.get(key);
  if (!entry) {
    entry = { texture: draw(text, style), users: 0 };
    entry.texture.userData[KEY] = key;
    entries.set(key, entry);
  }
  entry.users++;
  idle.delete(key);
  return entry.texture;
}

/** A label no longer uses `texture`: keep it for a later rebuild, disposing the oldest idle ones past the limit. */
export function releaseLabelTexture(texture: THREE.Texture): void {
  const key = texture.userData[KEY] as string | undefined;
  const entry = key === undefined ? undefined : entries.get(key);
  if (!entry || entry.texture !== texture) {
    texture.dispose(); // not one of ours
    return;
  }
  if (--entry.users > 0) return;
  idle.add(key!);
  for (const old of idle) {
    if (idle.size <= IDLE_TEXTURES) break;
    idle.delete(old);
    entries.get(old)?.texture.dispose();
    entries.delete(old);
  }
}
