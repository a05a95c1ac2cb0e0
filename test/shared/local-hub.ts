/**
 * A local server laid out like the Hugging Face hub, for the loader's tests and the e2e tests:
 * `GET /<id>/resolve/main/<file>` serves the file with its content-length and CORS headers;
 * files larger than `redirectOver` bytes answer with a 302 to `/cdn/<key>`, as the hub sends
 * large files to its CDN; anything else is a 404. Every request is recorded. Node only (no
 * vitest), so the e2e tests reuse it.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Options of {@link startLocalHub}. */
export interface LocalHubOptions {
  /** Files larger than this many bytes answer with a 302 to /cdn/<key> (default: never). */
  redirectOver?: number;
  /** Send bodies in pieces of this many bytes (default: the whole file at once). */
  chunkBytes?: number;
  /** Wait this long between pieces (ms), so a test can cancel mid-download (default 0). */
  chunkDelayMs?: number;
  /** Port to listen on (default: any free port). */
  port?: number;
}

/** A running local hub. */
export interface LocalHub {
  /** Its endpoint, e.g. `http://127.0.0.1:41234` (no trailing '/'). */
  url: string;
  /** Every request as `METHOD /path`, in order. */
  requests: string[];
  /** Stop listening and close open connections. */
  stop(): Promise<void>;
}

/**
 * Serve `models` (id → file name → bytes; an id is "name" or "owner/name"). The record is read
 * at each request, so a test may add, change or delete files while the hub runs.
 */
export async function startLocalHub(models: Record<string, Record<string, Uint8Array>>, options: LocalHubOptions = {}): Promise<LocalHub> {
  const requests: string[] = [];
  const cdn = new Map<string, { id: string; file: string }>();

  const send = async (response: ServerResponse, method: string, bytes: Uint8Array) => {
    response.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(bytes.length) });
    if (method === 'HEAD') return void response.end();
    const step = options.chunkBytes ?? bytes.length;
    for (let at = 0; at < bytes.length; at += step) {
      if (response.destroyed) return;
      response.write(bytes.subarray(at, at + step));
      if (options.chunkDelayMs) await new Promise((resolve) => setTimeout(resolve, options.chunkDelayMs));
    }
    response.end();
  };
  const notFound = (response: ServerResponse, path: string) => {
    response.writeHead(404, { 'Content-Type': 'text/plain' });
    response.end(`Entry not found: ${path}`);
  };

  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const method = request.method ?? 'GET';
    const path = decodeURIComponent(new URL(request.url ?? '/', 'http://hub').pathname);
    requests.push(`${method} ${path}`);
    response.setHeader('Access-Control-Allow-Origin', '*');
    response.setHeader('Access-Control-Expose-Headers', 'Content-Length, Location');
    if (method === 'OPTIONS') {
      response.writeHead(204, { 'Access-Control-Allow-Methods': 'GET, HEAD', 'Access-Control-Allow-Headers': '*' });
      return void response.end();
    }
    if (method !== 'GET' && method !== 'HEAD') {
      response.writeHead(405);
      return void response.end();
    }
    const cdnKey = /^\/cdn\/([0-9a-f]+)$/.exec(path);
    if (cdnKey !== null) {
      const target = cdn.get(cdnKey[1]);
      const bytes = target === undefined ? undefined : models[target.id]?.[target.file];
      return bytes === undefined ? notFound(response, path) : send(response, method, bytes);
    }
    const match = /^\/(.+)\/resolve\/main\/([^/]+)$/.exec(path);
    const bytes = match === null ? undefined : Object.hasOwn(models, match[1]) ? models[match[1]][match[2]] : undefined;
    if (match === null || bytes === undefined) return notFound(response, path);
    if (options.redirectOver !== undefined && bytes.length > options.redirectOver) {
      const key = (cdn.size + 1).toString(16).padStart(8, '0');
      cdn.set(key, { id: match[1], file: match[2] });
      response.writeHead(302, { Location: `/cdn/${key}`, 'Content-Length': '0' });
      return void response.end();
    }
    return send(response, method, bytes);
  };

  const server = createServer((request, response) => {
    handle(request, response).catch(() => response.destroy());
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
