/**
 * Axis titles, token labels and head titles as camera-facing sprites with CanvasTexture text,
 * so they are part of the rendered image (screenshots and PNG export include them) on both the
 * WebGPU and the WebGL backend.
 */
import * as THREE from 'three/webgpu';
import { acquireLabelTexture, releaseLabelTexture } from './label-textures';
import type { Pacer } from './pace';
import type { SurfaceLayout } from './layout';
import { tokenLabelStyle, tokenOrigin, type TokenOrigin, type UserTokens } from './token-origin';

/** Token labels are drawn only when an axis has at most this many entries. */
export const MAX_TOKEN_LABELS = 32;

/** One label along an axis: the entry it marks, its text and (a token of a user span) where the token came from. */
export interface AxisTick {
  entry: number;
  text: string;
  origin?: TokenOrigin;
}

/**
 * Labels for an axis of `length` entries: every token when there are few enough and the
 * token list covers them (each marked 'yours' or 'continued' when `user` says which are the
 * user's words), otherwise about `maxTicks` evenly spaced indices (unmarked).
 */
export function axisTicks(length: number, tokens: readonly string[], maxTicks = 8, user?: UserTokens | null): AxisTick[] {
  if (length <= MAX_TOKEN_LABELS && tokens.length >= length) {
    return Array.from({ length }, (_, entry) => {
      const origin = tokenOrigin(entry, user, length);
      return origin ? { entry, text: clip(tokens[entry]), origin } : { entry, text: clip(tokens[entry]) };
    });
  }
  const step = niceStep(length / maxTicks);
  const ticks: AxisTick[] = [];
  for (let entry = 0; entry < length; entry += step) ticks.push({ entry, text: String(entry) });
  if (ticks[ticks.length - 1].entry !== length - 1 && length - 1 - ticks[ticks.length - 1].entry >= step / 2) ticks.push({ entry: length - 1, text: String(length - 1) });
  return ticks;
}

function clip(token: string): string {
  const text = token.replace(/\s+/g, ' ').trim() || '␣';
  return text.length > 12 ? `${text.slice(0, 11)}…` : text;
}

/** 1, 2 or 5 times a power of ten, at least `raw`. */
function niceStep(raw: number): number {
  if (raw <= 1) return 1;
  const power = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * power >= raw) return m * power;
  return 10 * power;
}

/** How a text sprite looks: see {@link textSprite}. */
export interface LabelStyle {
  /** World height of one line of text. */
  size: number;
  color?: string;
  bold?: boolean;
  /** Anchor inside the sprite ((0,0) bottom-left … (1,1) top-right). */
  center?: [number, number];
  /** Rotation in the screen plane (radians, counter-clockwise). */
  rotation?: number;
}

/** A camera-facing text sprite (texture shared per text and style); free with {@link disposeLabels} on its group. */
export function textSprite(text: string, style: LabelStyle): THREE.Sprite {
  // Shared per text and style, and kept across rebuilds (src/scene/label-textures.ts).
  const texture = acquireLabelTexture(text, style);
  const canvas = texture.image;
  // Labels are drawn over everything so the surface never hides them.
  const material = new THREE.SpriteMaterial({ map: texture, transparent: true, depthTest: false, depthWrite: false, rotation: style.rotation ?? 0 });
  const sprite = new THREE.Sprite(material);
  sprite.scale.set((style.size * canvas.width) / canvas.height, style.size, 1);
  sprite.center.set(...(style.center ?? [0.5, 0.5]));
  sprite.renderOrder = 10;
  return sprite;
}

/** What the label group needs to know about the data. */
export interface LabelSource {
  tokens: readonly string[];
  keyTokens: readonly string[];
  /** The user's own words among the tokens (both axes), drawn apart from continued text; absent: all alike. */
  userTokens?: UserTokens | null;
  /** The title of each head slot; a '\n' starts a smaller second line (e.g. the head's label). */
  headNames: readonly string[];
}

/**
 * Build every label of a layout (dispose with {@link disposeLabels}), in slices: a label's
 * texture is drawn on a 2D canvas the first time its text and style appear (tens of ms for a
 * new token list), so the pacer may yield between labels.
 */
export async function buildLabelsPaced(layout: SurfaceLayout, source: LabelSource, pacer: Pacer): Promise<THREE.Group> {
  const group = new THREE.Group();
  group.name = 'labels';
  for (const label of labelSprites(layout, source)) {
    group.add(label);
    await pacer.tick();
  }
  return group;
}

/** Every label of a layout, one sprite at a time. */
function* labelSprites(layout: SurfaceLayout, source: LabelSource): Generator<THREE.Sprite> {
  const { plan } = layout;
  const queryTicks = axisTicks(plan.seqLen, source.tokens, undefined, source.userTokens);
  const keyTicks = axisTicks(plan.kvLen, source.keyTokens, undefined, source.userTokens);
  const single = plan.headCount === 1;
  const spacingQ = layout.depth / Math.max(plan.seqLen, 1);
  const spacingK = layout.width / Math.max(plan.kvLen, 1);
  const fit = (spacing: number, ticks: number, length: number) => Math.min(0.26, 0.85 * spacing * Math.max(1, length / Math.max(ticks, 1)));
  const querySize = fit(spacingQ, queryTicks.length, plan.seqLen) * (single ? 1 : 0.85);
  const keySize = fit(spacingK, keyTicks.length, plan.kvLen) * (single ? 1 : 0.85);
  const pad = 0.08;
  for (let hz = 0; hz < plan.headCount; hz++) {
    const [ox, oz] = layout.origins[hz];
    // Token labels on every surface when one head is shown; on the first column/row of heads otherwise.
    const showQuery = single || ox === layout.origins[0][0];
    const showKey = single || hz >= plan.headCount - layout.columns;
    if (showQuery) {
      for (const tick of queryTicks) {
        const label = textSprite(tick.text, { ...tokenLabelStyle(tick.origin), size: querySize, center: [1, 0.5] });
        label.position.set(ox - pad, 0, oz + (tick.entry + 0.5) * spacingQ);
        yield label;
      }
    }
    if (showKey) {
      for (const tick of keyTicks) {
        // Rotated a quarter turn so long tokens on a dense key axis do not overlap.
        const label = textSprite(tick.text, { ...tokenLabelStyle(tick.origin), size: keySize, center: [1, 0.5], rotation: Math.PI / 2 });
        label.position.set(ox + (tick.entry + 0.5) * spacingK, 0, oz + layout.depth + pad);
        yield label;
      }
    }
    // An empty title draws nothing (a large model view titles only the heads that stand out).
    if (!single && source.headNames[hz] !== '') {
      const [name, ...rest] = (source.headNames[hz] ?? `head ${hz}`).split('\n');
      const subtitle = rest.join(' ').trim();
      // Titles grow with the whole layout, so they stay readable when the camera backs off to
      // fit many surfaces (the model view's layers × heads).
      const titleSize = Math.max(0.3, 0.035 * (layout.bounds.maxX - layout.bounds.minX));
      const subSize = 0.8 * titleSize;
      const title = textSprite(name, { size: titleSize, bold: true, center: [0, 0] });
      title.position.set(ox, 0.02, oz - (subtitle ? 0.15 + subSize : 0.1));
      yield title;
      if (subtitle) {
        const second = textSprite(subtitle, { size: subSize, color: '#ffd27a', center: [0, 0] });
        second.position.set(ox, 0.02, oz - 0.1);
        yield second;
      }
    }
  }
  const { minX, maxX, minZ, maxZ } = layout.bounds;
  const queryTitle = textSprite('query ↓', { size: 0.28, bold: true, color: '#9ad0ff', center: [0.5, 0.5] });
  queryTitle.position.set(minX - (single ? 1.3 : 1.0), 0, (minZ + maxZ) / 2);
  const keyTitle = textSprite('key →', { size: 0.28, bold: true, color: '#ffd27a', center: [0.5, 0.5] });
  keyTitle.position.set((minX + maxX) / 2, 0, maxZ + (single ? 1.3 : 1.0));
  yield queryTitle;
  yield keyTitle;
}

/** Free the textures and materials of a label group. */
export function disposeLabels(group: THREE.Group): void {
  group.traverse((object) => {
    if (object instanceof THREE.Sprite) {
      if (object.material.map) releaseLabelTexture(object.material.map);
      object.material.dispose();
    }
  });
  group.removeFromParent();
}
