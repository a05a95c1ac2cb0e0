/**
 * The two places the scene reaches past three.js's public API, in one file, each checked so a
 * three.js upgrade that changes them fails here with a message instead of drawing garbage:
 *
 * 1. {@link bindStorageBuffer}: the surface's heights live in OUR GPUBuffer (the grid that the
 *    reduction kernel of src/kernels/reduce.ts writes). three has no public way to wrap an
 *    existing GPUBuffer in a StorageBufferAttribute, so we seed the backend's data for the
 *    attribute with our buffer before the first render. In r187, `Backend.get(object)`
 *    (renderers/common/Backend.js) returns a per-object data record from a WeakMap;
 *    `WebGPUAttributeUtils.createAttribute` creates a GPUBuffer only when that record has no
 *    `buffer`; `WebGPUBindingUtils.createBindGroup` binds `backend.get(binding.attribute).buffer`
 *    for a storage binding. So a record that already holds our buffer is bound as it is, and,
 *    as long as the attribute's `needsUpdate` is never set, three never writes to it.
 * 2. {@link webglContext}: without WebGPU the renderer runs on its WebGL2 fallback, and the scene
 *    times a frame by blocking on `gl.readPixels`; the context is the fallback backend's `gl`.
 *
 * Both check the three.js revision first ({@link THREE_REVISION_CHECKED}). Upgrading three means
 * re-reading the files named above, then raising that constant; the unit test
 * (test/unit/three-internals.test.ts) and the browser scene tests (test/browser/scene-*.test.ts,
 * which compare the drawn surface with the reduced grid) say whether it still works.
 */
import { REVISION, type StorageBufferAttribute } from 'three/webgpu';

/** The three.js revision whose internals this file was written against. */
export const THREE_REVISION_CHECKED = '187';

/** three.js is not the revision, or does not have the shape, that this file relies on. */
export class ThreeInternalsError extends Error {
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
        '(Backend.get, the WebGPU attribute and binding utils, the WebGL fallback backend’s gl): re-check them against ' +
        `r${revision}, then set THREE_REVISION_CHECKED.`,
    );
  }
}

/** three's backend data record for `object` (`renderer.backend.get(object)`), checked. */
function backendData(renderer: RendererLike, object: object): Record<string, unknown> {
  const backend = renderer.backend as { get?: unknown } | null | undefined;
  if (!backend || typeof backend.get !== 'function') {
    throw new ThreeInternalsError(`three.js r${REVISION}: renderer.backend has no get(object) method, so a GPUBuffer cannot be handed to a StorageBufferAttribute (see src/scene/three-internals.ts).`);
  }
  const data: unknown = (backend.get as (o: object) => unknown).call(backend, object);
  if (data === null || typeof data !== 'object') {
    throw new ThreeInternalsError(`three.js r${REVISION}: renderer.backend.get(attribute) returned ${data === null ? 'null' : typeof data}, not a data record (see src/scene/three-internals.ts).`);
  }
  return data as Record<string, unknown>;
}

/** A GPUBuffer handed to three as the storage of an attribute. */
export interface BoundStorageBuffer {
  /**
   * Throws {@link ThreeInternalsError} unless three's data record for the attribute still holds
   * our buffer. Call after the first render that drew the attribute: three has created its
   * bindings by then, and a three.js that replaced the buffer (made its own) is caught.
   */
  verify(): void;
}

/**
 * Make three bind `buffer` wherever `attribute` is used as storage. Call before the first
 * render that uses the attribute, and never set the attribute's `needsUpdate` (three would
 * overwrite the buffer with the attribute's array). Three may destroy the buffer when the
 * attribute is disposed; destroying a GPUBuffer twice is harmless.
 */
export function bindStorageBuffer(renderer: RendererLike, attribute: StorageBufferAttribute, buffer: GPUBuffer): BoundStorageBuffer {
  checkThreeRevision();
  const data = backendData(renderer, attribute);
  if (data.buffer !== undefined && data.buffer !== buffer) {
    throw new ThreeInternalsError('three already made a GPU buffer for this storage attribute: bind ours before the first render that uses it.');
  }
  data.buffer = buffer;
  return {
    verify() {
      const bound = backendData(renderer, attribute).buffer;
      if (bound !== buffer) {
        throw new ThreeInternalsError(
          `three.js r${REVISION} did not keep our GPUBuffer for the storage attribute (its data record now holds ${bound === undefined ? 'no buffer' : 'another buffer'}): ` +
            'the surface would not show the grid the kernels wrote (see src/scene/three-internals.ts).',
        );
      }
    },
  };
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
