/**
 * Model mode's real models, without the DOM: which model a request names (the shipped one, a
 * hub id, a base URL, or files from the user's disk), and opening one through the library's
 * loadPretrained (src/pretrained/load.ts) as a LoadedModel the engine runs: its own tokenizer,
 * each token's display text, and the induction probe drawn from its vocabulary.
 */
import { AttentionInputError } from '../core/errors';
import type { ModelConfig } from '../core/types';
import { formatBytes } from '../core/errors';
import { makeInductionProbe } from '../model/heads';
import { DEFAULT_HUB } from '../pretrained/hub';
import { loadPretrained, type LoadProgress } from '../pretrained/load';
import type { ModelTokenizer } from '../pretrained/tokenizer';
import { makeRng } from '../reference/random';
import type { LoadedModel } from './model-engine';

/** What model mode is asked to open. */
export interface ModelRequest {
  /** '' for the shipped model, a hub id, a base URL ending in /, or `files:<name>` for files from disk. */
  model: string;
  /** The hub endpoint ('' for {@link DEFAULT_HUB}). */
  hub: string;
}

/** The prefix of `model` for files the user picked or dropped (they cannot be reopened from a URL). */
export const FILES_PREFIX = 'files:';

/** Which loaded model a request means: requests with the same key share one load. */
export function modelKey(request: ModelRequest): string {
  if (request.model === '') return '';
  // A base URL or files do not depend on the endpoint; a hub id does.
  if (request.model.startsWith(FILES_PREFIX) || /^https?:\/\//i.test(request.model)) return request.model;
  return `${request.hub || DEFAULT_HUB}|${request.model}`;
}

/** Opening a model: the bytes so far and a sentence for the busy bar. */
export interface OpenProgress {
  text: string;
  /** 0…1 when the sizes are known. */
  fraction?: number;
}

/** The repeated random span a real model's induction and duplicate-token scores are measured on (random tokens, as interpretability tools do). */
export function pretrainedProbe(config: ModelConfig, tokenizer: ModelTokenizer) {
  const span = Math.max(1, Math.min(50, Math.floor((config.context - 1) / 2)));
  const drawable = Math.min(config.vocabSize, tokenizer.vocabSize);
  const pool = Array.from({ length: drawable }, (_, id) => id);
  return makeInductionProbe(makeRng(12), config.vocabSize, span, { first: tokenizer.eosId, avoid: tokenizer.bosId === null ? [] : [tokenizer.bosId], pool });
}

/** Display text of every id of the model (ids past the tokenizer's, if the embedding has spare rows, as `<id N>`). */
export function tokenPieces(config: ModelConfig, tokenizer: ModelTokenizer): string[] {
  const known = Math.min(config.vocabSize, tokenizer.vocabSize);
  const pieces = tokenizer.pieces(Array.from({ length: known }, (_, id) => id));
  for (let id = known; id < config.vocabSize; id++) pieces.push(`<id ${id}>`);
  return pieces;
}

/**
 * Open a real model: from the hub (`request.model` an id, fetched from `<hub>/<id>/resolve/main/`),
 * a base URL, or `files` (picked or dropped; `request.model` is then `files:<name>`). Progress
 * goes to `onProgress`; `signal` cancels the download. `beforeWeights` sees config.json before
 * any weight is fetched and may throw (the device's limits: nothing is downloaded or allocated).
 */
export async function openPretrainedModel(
  request: ModelRequest,
  files: Record<string, Blob> | null,
  options: { onProgress?: (progress: OpenProgress) => void; signal?: AbortSignal; beforeWeights?: (config: ModelConfig) => void },
): Promise<LoadedModel> {
  let source: string | Record<string, Blob>;
  if (request.model.startsWith(FILES_PREFIX)) {
    if (!files) {
      throw new AttentionInputError(
        'model',
        JSON.stringify(request.model),
        'a hub id or URL: files from your disk cannot be reopened from a link — pick them again with “Open files”, or drop them on the page',
        'type',
      );
    }
    source = files;
  } else {
    source = request.model;
  }
  const name = request.model.startsWith(FILES_PREFIX) ? request.model.slice(FILES_PREFIX.length) : request.model.replace(/\/$/, '').split('/').slice(-2).join('/');
  const onProgress = (p: LoadProgress) => {
    const of = p.fileTotal ? ` of ${formatBytes(p.fileTotal)}` : '';
    const verb = p.fromCache ? 'Reading' : 'Downloading';
    options.onProgress?.({
      text: `${verb} ${name}: ${p.file} ${formatBytes(p.fileLoaded)}${of}${p.fromCache ? ' from the browser cache' : ''} (${formatBytes(p.loaded)} in all)…`,
      fraction: p.fileTotal ? Math.min(1, p.fileLoaded / p.fileTotal) : undefined,
    });
  };
  const loaded = await loadPretrained(source, { hub: request.hub || DEFAULT_HUB, signal: options.signal, onProgress, onConfig: options.beforeWeights });
  const { config, tokenizer } = loaded;
  return {
    kind: 'pretrained',
    id: request.model,
    name: loaded.name || name,
    config,
    params: loaded.params,
    vocab: null,
    tokenizer,
    pieces: tokenPieces(config, tokenizer),
    metadata: {},
    bytes: loaded.fileBytes,
    dtype: loaded.dtype,
    fromCache: loaded.fromCache,
    probe: pretrainedProbe(config, tokenizer),
  };
}
