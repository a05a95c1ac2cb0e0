/**
 * The errors of loading a pretrained checkpoint (src/pretrained): a file that breaks the rules
 * (config.json, the safetensors index, a tensor that disagrees with the config), a model source
 * that cannot be reached or read (a bad id, HTTP 404, a gated model), and a model too large for
 * the device. Each extends AttentionInputError, so the app shows the message as-is and a test
 * matches on `field`; the message also names the file (and the tensor) and what to do.
 */
import { AttentionInputError, formatBytes, type InputErrorKind } from '../core/errors';

/** A checkpoint file breaks the rules: `file` and `field` say where, `tensor` which tensor. */
export class PretrainedFileError extends AttentionInputError {
  override name = 'PretrainedFileError';
  constructor(
    /** The file, e.g. `'config.json'`, `'model-00001-of-00002.safetensors'`. */
    readonly file: string,
    field: string,
    given: string,
    allowed: string,
    kind: InputErrorKind = 'type',
    /** The tensor concerned (its name as the file wrote it), when there is one. */
    readonly tensor?: string,
  ) {
    super(field, given, allowed, kind);
    this.message = `${file}${tensor === undefined ? '' : ` (tensor ${JSON.stringify(tensor)})`}: ${field}: got ${given}; allowed: ${allowed}`;
  }
}

/**
 * Where the model comes from does not give it: a bad hub id or URL, a file the hub or the
 * server does not have (HTTP 404), a gated or private model (401/403), another HTTP status,
 * a network failure, or a file missing from the files the user picked.
 */
export class ModelSourceError extends AttentionInputError {
  override name = 'ModelSourceError';
  constructor(
    /** `'id'`, `'url'`, `'hub'`, or the file name that could not be had (`'config.json'`). */
    field: string,
    given: string,
    allowed: string,
    /** The URL that was asked, for a download. */
    readonly url?: string,
    /** The HTTP status, when the server answered. */
    readonly status?: number,
  ) {
    super(field, given, allowed, 'type');
  }
}

/**
 * A model (or one of its run's buffers) does not fit the device's limits: `field` names the
 * largest buffer that does not fit, with the bytes needed and allowed and the limit.
 */
export class ModelTooLargeError extends AttentionInputError {
  override name = 'ModelTooLargeError';
  constructor(
    /** The buffer, e.g. `'wte.weight'` or `'h.0/scores'`. */
    field: string,
    readonly bytesNeeded: number,
    readonly bytesAllowed: number,
    /** The limit that applies: `'maxStorageBufferBindingSize'` or `'maxBufferSize'`. */
    readonly limit: string,
    advice: string,
  ) {
    super(
      field,
      `${formatBytes(bytesNeeded)} (${bytesNeeded} bytes)`,
      `at most ${formatBytes(bytesAllowed)} (${bytesAllowed} bytes, the device's ${limit}). ${advice}`,
      'too-large',
    );
  }
}
