/**
 * src/scene/three-internals.ts in Node, against three's real backend classes (constructed, not
 * initialised: no GPU here). The WebGL2 browser scene tests exercise the real path.
 */
import { REVISION, WebGLBackend, WebGPUBackend } from 'three/webgpu';
import { describe, expect, it } from 'vitest';
import { AttentionError } from '../../src/core/errors';
import { THREE_REVISION_CHECKED, ThreeInternalsError, checkThreeRevision, webglContext } from '../../src/scene/three-internals';

describe('three.js revision', () => {
  it('the installed three.js is the revision the internals were checked against', () => {
    expect(REVISION, 'three.js was upgraded: re-check src/scene/three-internals.ts against it, then raise THREE_REVISION_CHECKED').toBe(THREE_REVISION_CHECKED);
    expect(() => checkThreeRevision()).not.toThrow();
  });

  it('another revision is a ThreeInternalsError naming both revisions', () => {
    expect(() => checkThreeRevision('999')).toThrow(ThreeInternalsError);
    expect(() => checkThreeRevision('999')).toThrow(/r999 is installed.*r187/);
    expect(() => checkThreeRevision('999')).toThrow(AttentionError);
  });
});

describe('webglContext', () => {
  it("returns the WebGL fallback backend's gl", () => {
    const backend = new WebGLBackend();
    const gl = { readPixels() {} } as unknown as WebGL2RenderingContext;
    (backend as unknown as { gl: WebGL2RenderingContext }).gl = gl;
    expect(webglContext({ backend })).toBe(gl);
  });

  it('fails clearly before init (gl is null) or when the backend has no gl', () => {
    expect(() => webglContext({ backend: new WebGLBackend() })).toThrow(/no gl context/);
    expect(() => webglContext({ backend: new WebGPUBackend() })).toThrow(ThreeInternalsError);
  });
});
