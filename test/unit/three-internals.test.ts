/**
 * src/scene/three-internals.ts in Node, against three's real backend classes (constructed, not
 * initialised: no GPU here). The browser scene tests (test/browser/scene-*.test.ts) exercise the
 * real path: they draw the surface from our grid buffer and compare it with the reduced grid.
 */
import { REVISION, StorageBufferAttribute, WebGLBackend, WebGPUBackend } from 'three/webgpu';
import { describe, expect, it } from 'vitest';
import { THREE_REVISION_CHECKED, ThreeInternalsError, bindStorageBuffer, checkThreeRevision, webglContext } from '../../src/scene/three-internals';

const attribute = () => new StorageBufferAttribute(new Float32Array(8), 1);
/** Stands in for a GPUBuffer: the file only compares identities. */
const fakeBuffer = (label: string) => ({ label }) as unknown as GPUBuffer;
/** The Backend methods @types/three does not declare (renderers/common/Backend.js). */
const internal = (backend: unknown) =>
  backend as { get(object: object): { buffer?: GPUBuffer }; delete(object: object): void; getBufferAttribute(attribute: object): object };

describe('three.js revision', () => {
  it('the installed three.js is the revision the internals were checked against', () => {
    expect(REVISION, 'three.js was upgraded: re-check src/scene/three-internals.ts against it, then raise THREE_REVISION_CHECKED').toBe(THREE_REVISION_CHECKED);
    expect(() => checkThreeRevision()).not.toThrow();
  });

  it('another revision is a ThreeInternalsError naming both revisions', () => {
    expect(() => checkThreeRevision('999')).toThrow(ThreeInternalsError);
    expect(() => checkThreeRevision('999')).toThrow(/r999 is installed.*r187/);
  });
});

describe('bindStorageBuffer', () => {
  it("seeds three's backend data for the attribute with our buffer, and verify() holds while it stays", () => {
    const backend = new WebGPUBackend();
    const attr = attribute();
    const ours = fakeBuffer('grid');
    const bound = bindStorageBuffer({ backend }, attr, ours);
    // What WebGPUAttributeUtils.createAttribute and WebGPUBindingUtils.createBindGroup read.
    expect(internal(backend).get(internal(backend).getBufferAttribute(attr)).buffer).toBe(ours);
    expect(() => bound.verify()).not.toThrow();
  });

  it('verify() fails when three replaced or dropped the buffer', () => {
    const backend = new WebGPUBackend();
    const attr = attribute();
    const bound = bindStorageBuffer({ backend }, attr, fakeBuffer('grid'));
    internal(backend).get(attr).buffer = fakeBuffer('three’s own');
    expect(() => bound.verify()).toThrow(/another buffer/);
    internal(backend).delete(attr);
    expect(() => bound.verify()).toThrow(/no buffer/);
  });

  it('refuses an attribute three already made a buffer for', () => {
    const backend = new WebGPUBackend();
    const attr = attribute();
    internal(backend).get(attr).buffer = fakeBuffer('three’s own');
    expect(() => bindStorageBuffer({ backend }, attr, fakeBuffer('grid'))).toThrow(/already made a GPU buffer/);
  });

  it('says what changed when the backend has no get() or get() returns no record', () => {
    expect(() => bindStorageBuffer({ backend: {} }, attribute(), fakeBuffer('grid'))).toThrow(ThreeInternalsError);
    expect(() => bindStorageBuffer({ backend: null }, attribute(), fakeBuffer('grid'))).toThrow(/has no get\(object\)/);
    expect(() => bindStorageBuffer({ backend: { get: () => undefined } }, attribute(), fakeBuffer('grid'))).toThrow(/returned undefined, not a data record/);
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
