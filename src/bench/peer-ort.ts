/**
 * The onnxruntime-web peer of the model bench: the same GPT-2 forward (gpt2-onnx.ts, on the
 * same parameters) run by ONNX Runtime Web's WebGPU execution provider in the bench page, so
 * `npm run bench -- --model gpt2-shape` can say how our kernels compare with a maintained
 * inference runtime on the same adapter (issue 17, must-have 4). Only this module imports
 * onnxruntime-web (.dependency-cruiser.cjs: ort-only-in-peer), and the bench loads it on
 * demand, so the app's bundle never carries it.
 *
 * Which ORT: `onnxruntime-web/webgpu`, the package's WebGPU entry (its WebAssembly runtime with
 * the WebGPU EP, ort-wasm-simd-threaded.asyncify.wasm). `env.wasm.wasmPaths` points ORT at that
 * file by a URL Vite serves in dev and tests and emits with the build (ORT's own guess, next to
 * its module as Vite pre-bundles it, does not exist).
 * Provider 'wasm' is ORT's CPU EP from the same runtime: a fallback only, labelled as such.
 *
 * Timing, like our GPU path's ("from encoding until the device finished, before any readback"):
 * the logits stay on the GPU (preferredOutputLocation 'gpu-buffer') and each run is
 * `performance.now()` around `session.run()` plus `onSubmittedWorkDone()` on ORT's own device
 * (the queue runs in order, so that cannot resolve before the forward's last dispatch has).
 * The inputs (ids, positions, the T × T causal mask) are uploaded by ORT inside each run, as a
 * user of the library would feed them. ORT makes its own GPUDevice on the same adapter.
 */
import * as ort from 'onnxruntime-web/webgpu';
import { AttentionError } from '../core/errors';
import { waitForGpu } from '../gpu/device';
import type { GptConfig } from '../model/schema';
import { GPT2_ONNX_IO, gpt2OnnxFeeds, gpt2OnnxModel } from './gpt2-onnx';
import { encodeOnnxModel } from './onnx-writer';
import { PathUnavailableError } from './path';

/** ORT's execution provider: 'webgpu' (the peer), or 'wasm' (its CPU EP, a labelled fallback). */
export type OrtProvider = 'webgpu' | 'wasm';

/** An ORT run that failed after the session started (its message is ORT's). */
export class OrtRunError extends AttentionError {
  override name = 'OrtRunError';
  constructor(readonly provider: OrtProvider, seqLen: number, detail: string) {
    super(`onnxruntime-web (${provider} EP) failed on a forward of ${seqLen} tokens: ${detail}. The peer's row is left out; our own paths are unaffected.`);
  }
}

/** One forward through ORT. */
export interface OrtForward {
  /** Milliseconds from session.run() until the device finished (WebGPU) or run() returned (wasm). */
  ms: number;
  /** T × vocab logits, when asked for (read back after the timed span). */
  logits: Float32Array | null;
}

/** The session of one model, ready to run. */
export interface OrtPeer {
  readonly provider: OrtProvider;
  /** Size of the encoded ONNX model (weights inline). */
  readonly modelBytes: number;
  /** Milliseconds to encode the model and create the session (ORT uploads and optimises then). */
  readonly startMs: number;
  /** One forward of `tokens` (1 … context); `logits` reads them back (outside the timed span). */
  forward(tokens: readonly number[], options?: { logits?: boolean }): Promise<OrtForward>;
  /** Release the session (and ORT's GPU buffers with it). */
  dispose(): Promise<void>;
}

/** Options of {@link createOrtPeer}. */
export interface OrtPeerOptions {
  provider?: OrtProvider;
}

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** ORT's environment: the wasm file from Vite, quiet logs, one thread unless the page is cross-origin isolated. */
function configureEnv(): void {
  // A static `new URL(…, import.meta.url)`: Vite serves the file in dev and tests, and copies it
  // into the build's assets with the URL rewritten (a `?url` import would do the same, but
  // dependency-cruiser cannot resolve the query).
  ort.env.wasm.wasmPaths = { wasm: new URL('../../node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.asyncify.wasm', import.meta.url).href };
  ort.env.logLevel = 'error';
  // Threads need SharedArrayBuffer; ORT would warn and fall back to one by itself.
  if (!globalThis.crossOriginIsolated) ort.env.wasm.numThreads = 1;
}

/**
 * Encode the forward of `config` with `params` as ONNX and open an ORT session on `provider`
 * (default 'webgpu'). Throws PathUnavailableError('ort-webgpu' | 'ort-wasm', ORT's message) when
 * ORT cannot start or refuses the model here (e.g. no WebGPU), ModelParamsError for parameters
 * that do not match the config.
 */
export async function createOrtPeer(config: GptConfig, params: ReadonlyMap<string, Float32Array>, options: OrtPeerOptions = {}): Promise<OrtPeer> {
  const provider = options.provider ?? 'webgpu';
  const path = `ort-${provider}`;
  if (provider === 'webgpu' && !globalThis.navigator?.gpu) throw new PathUnavailableError(path, 'this browser has no navigator.gpu');
  configureEnv();
  const start = performance.now();
  let bytes: Uint8Array | null = encodeOnnxModel(gpt2OnnxModel(config, params));
  const modelBytes = bytes.byteLength;
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(bytes, {
      executionProviders: [provider],
      graphOptimizationLevel: 'all',
      ...(provider === 'webgpu' ? { preferredOutputLocation: { [GPT2_ONNX_IO.logits]: 'gpu-buffer' as const } } : {}),
    });
  } catch (error) {
    throw new PathUnavailableError(path, `InferenceSession.create failed: ${message(error)}`);
  }
  // ORT copied the model into its own memory; the encoded bytes (≈ the weights again) can go.
  bytes = null;
  const device: GPUDevice | null = provider === 'webgpu' ? ((await ort.env.webgpu.device) as GPUDevice) : null;
  const startMs = performance.now() - start;

  return {
    provider,
    modelBytes,
    startMs,
    async forward(tokens, { logits = false } = {}) {
      const T = tokens.length;
      const f = gpt2OnnxFeeds(tokens);
      const feeds = {
        [GPT2_ONNX_IO.tokens]: new ort.Tensor('int64', f.ids, [T]),
        [GPT2_ONNX_IO.positions]: new ort.Tensor('int64', f.positions, [T]),
        [GPT2_ONNX_IO.bias]: new ort.Tensor('float32', f.bias, [T, T]),
      };
      let out: ort.InferenceSession.OnnxValueMapType;
      let ms: number;
      try {
        const t0 = performance.now();
        out = await session.run(feeds);
        if (device) await waitForGpu(device);
        ms = performance.now() - t0;
      } catch (error) {
        throw new OrtRunError(provider, T, message(error));
      }
      const tensor = out[GPT2_ONNX_IO.logits] as ort.Tensor;
      try {
        if (!logits) return { ms, logits: null };
        // getData(true) downloads a GPU tensor and releases its buffer; a CPU tensor is returned as is.
        const data = (await tensor.getData(true)) as Float32Array;
        return { ms, logits: data };
      } catch (error) {
        throw new OrtRunError(provider, T, `reading the logits back: ${message(error)}`);
      } finally {
        if (tensor.location === 'gpu-buffer') tensor.dispose();
      }
    },
    async dispose() {
      await session.release();
    },
  };
}
