/**
 * The one place the scene reaches past three.js's public API, checked so a three.js upgrade
 * that changes it fails here with a message instead of misbehaving:
 *
 * {@link webglContext}: without WebGPU the renderer runs on its WebGL2 fallback, and the scene
 * times a frame by blocking on `gl.readPixels`; the context is the fallback backend's `gl`
 * (renderers/webgl-fallback/WebGLBackend.js in r187).
 *
 * (The surface grid used to be handed to three by writing our GPUBuffer into the backend's
 * private data record. The planes are read back for heights and picking anyway, so they now
 * travel through a three-owned StorageBufferAttribute and `needsUpdate`: public API.)
 *
 * It checks the three.js revision first ({@link THREE_REVISION_CHECKED}). Upgrading three means
 * re-reading the file named above, then raising that constant; test/unit/three-internals.test.ts
 * and the WebGL2 scene tests (test/browser/scene-*.test.ts) say whether it still works.
 */
import { REVISION } from 'three/webgpu';
import { AttentionError } from '../core/errors';

/** The three.js revision whose internals this file was written against. */
export const THREE_REVISION_CHECKED = '187';

/** three.js is not the revision, or does not have the shape, that this file relies on. */
export class ThreeInternalsError extends AttentionError {
  override name = 'ThreeInternalsError';
}

/** What this file needs of a renderer: its backend (a three WebGPURenderer, or a test double). */
export interface RendererLike {
  readonly backend: unknown;
}

/** Throws {@link ThreeInternalsError} unless `revision` (three's REVISION by default) is the checked one. */
export function checkThreeRevision(revision: string = REVISION): void {
  if (revision !== THREE_REVISION_CHECKED) {
    throw new ThreeInternalsError(
      `three.js r${revision} is installed, but src/scene/three-internals.ts relies on internals of r${THREE_REVISION_CHECKED} ` +
        `(the WebGL fallback backend’s gl): re-check them against r${revision}, then set THREE_REVISION_CHECKED.`,
    );
  }
}

/** The WebGL2 context of a renderer running on three's WebGL fallback (`forceWebGL`), checked. */
export function webglContext(renderer: RendererLike): WebGL2RenderingContext {
  checkThreeRevision();
  const gl = (renderer.backend as { gl?: unknown } | null | undefined)?.gl as Partial<WebGL2RenderingContext> | null | undefined;
  if (!gl || typeof gl !== 'object' || typeof gl.readPixels !== 'function') {
    throw new ThreeInternalsError(`three.js r${REVISION}: the WebGL fallback backend has no gl context with readPixels (renderer.backend.gl; see src/scene/three-internals.ts); call after renderer.init().`);
  }
  return gl as WebGL2RenderingContext;
}
