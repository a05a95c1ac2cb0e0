/**
 * A model's own tokenizer, from the files its repository ships: `tokenizer.json`, or GPT-2's
 * older pair `vocab.json` + `merges.txt`. Tokenization runs in Hugging Face's tokenizers.js
 * (`@huggingface/tokenizers`), so ids are those the model was trained on; this module checks the
 * files first (so a broken file is named, not met later as a silently dropped token), builds the
 * equivalent tokenizer.json for a vocab + merges pair, and turns byte-level symbols back into
 * readable text per token for the view. Pure TypeScript: runs in Node and the browser.
 */
import { Tokenizer } from '@huggingface/tokenizers';
import { AttentionInputError, type InputErrorKind } from '../core/errors';

/** The tokenizer files of a model repository, as text (any may be missing). */
export interface TokenizerFiles {
  /** `tokenizer.json` (the one-file format; used when present). */
  tokenizerJson?: string;
  /** `vocab.json`: {token: id} (GPT-2's older format, with `merges.txt`). */
  vocabJson?: string;
  /** `merges.txt`: an optional `#version` line, then one `a b` merge per line in rank order. */
  mergesTxt?: string;
}

/** A model's tokenizer: text ↔ ids exactly as the model was trained, and each token's text. */
export interface ModelTokenizer {
  /** Ids the tokenizer can produce, added tokens included (largest id + 1; GPT-2: 50257). */
  readonly vocabSize: number;
  /** The end-of-text token (GPT-2: `<|endoftext|>` = 50256), or null when the tokenizer has none. */
  readonly eosId: number | null;
  /** The beginning-of-text token (GPT-2: the same token), or null when the tokenizer has none. */
  readonly bosId: number | null;
  /**
   * What the model reads before a text: the ids the tokenizer's own post-processor puts before a
   * sequence (Llama 3's `<|begin_of_text|>`, Llama 2's and TinyLlama's `<s>`), as transformers
   * encodes with its special tokens; for a tokenizer that adds none, its end-of-text token, as
   * GPT-2 reads documents after `<|endoftext|>`; else nothing.
   */
  readonly startIds: readonly number[];
  /** The ids of `text`; no special tokens are added (added tokens written in the text are recognised, as in transformers). */
  encode(text: string): number[];
  /** The text of `ids` (exact: no clean-up of spaces before punctuation). */
  decode(ids: readonly number[]): string;
  /**
   * Display text per token: `" cat"` (not `"Ġcat"`), a newline as `↵`, a tab as `⇥`, a carriage
   * return as `␍`, other control bytes and the bytes of a UTF-8 character split across tokens as `<0xE2>`.
   */
  pieces(ids: readonly number[]): string[];
}

/** Which file a {@link TokenizerFileError} is about. */
export type TokenizerFileName = 'tokenizer.json' | 'vocab.json' | 'merges.txt' | 'tokenizer files';

/**
 * A tokenizer file is missing, malformed, or of a kind this app cannot run. `field` names the
 * file and the place in it (`tokenizer.json model.type`, `merges.txt line 7`); the message also
 * names the model (`source`) and says what to do.
 */
export class TokenizerFileError extends AttentionInputError {
  override name = 'TokenizerFileError';
  constructor(
    /** The file at fault. */
    readonly file: TokenizerFileName,
    /** Where in the file ('' for the file as a whole). */
    place: string,
    given: string,
    allowed: string,
    /** The model or folder the files came from. */
    readonly source: string,
    advice: string,
    kind: InputErrorKind = 'type',
  ) {
    super(place ? `${file} ${place}` : file, given, allowed, kind);
    this.message = `${this.message} (tokenizer of ${source}). ${advice}`;
  }
}

/** Error ids passed to decode/pieces: `ids[i]` names the entry. */
function checkIds(ids: readonly number[], vocabSize: number, known: (id: number) => boolean): void {
  ids.forEach((id, i) => {
    if (!Number.isInteger(id) || id < 0 || id >= vocabSize || !known(id)) {
      throw new AttentionInputError(`ids[${i}]`, String(id), `a token id of this tokenizer: an integer in [0, ${vocabSize}) that it defines`, 'type');
    }
  });
}

/**
 * GPT-2's byte ↔ symbol map: byte-level BPE writes every byte as one printable character. The
 * printable bytes ('!'..'~', '¡'..'¬', '®'..'ÿ') stand for themselves; the others (controls,
 * space, NBSP, soft hyphen) are moved to U+0100 onwards in byte order, so a space is 'Ġ' (U+0120).
 */
function byteSymbols(): { toByte: Map<string, number>; symbols: string[] } {
  const symbols = new Array<string>(256);
  let moved = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    symbols[b] = String.fromCharCode(printable ? b : 0x100 + moved++);
  }
  return { toByte: new Map(symbols.map((s, b) => [s, b])), symbols };
}
const BYTES = byteSymbols();

const FATAL_UTF8 = new TextDecoder('utf-8', { fatal: true });
const UTF8 = new TextEncoder();
const CONTROL_SHOWN: Record<string, string> = { '\n': '↵', '\t': '⇥', '\r': '␍' };
const hexByte = (b: number): string => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`;

/**
 * Raw bytes as display text: each complete UTF-8 character as itself (newline, tab and CR as
 * ↵ ⇥ ␍); a byte that does not start a complete, valid character (half of a split emoji, a
 * stray continuation byte) and other control bytes as `<0xNN>`, so nothing is invisible or "�".
 */
export function bytesToDisplay(bytes: readonly number[]): string {
  let out = '';
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i];
    const length = b < 0x80 ? 1 : (b & 0xe0) === 0xc0 ? 2 : (b & 0xf0) === 0xe0 ? 3 : (b & 0xf8) === 0xf0 ? 4 : 0;
    let char: string | null = null;
    if (length > 0 && i + length <= bytes.length) {
      try {
        char = FATAL_UTF8.decode(new Uint8Array(bytes.slice(i, i + length)));
      } catch {
        char = null; // overlong, surrogate or a bad continuation: shown byte by byte
      }
    }
    if (char === null) {
      out += hexByte(b);
      i++;
      continue;
    }
    const code = char.codePointAt(0)!;
    out += CONTROL_SHOWN[char] ?? (code < 0x20 || code === 0x7f ? hexByte(code) : char);
    i += length;
  }
  return out;
}

/** tokenizer.json's model, as far as this module reads it. */
interface BpeModelJson {
  type?: unknown;
  vocab?: unknown;
  merges?: unknown;
  [key: string]: unknown;
}
/** One entry of tokenizer.json's `added_tokens`. */
interface AddedTokenJson {
  id: number;
  content: string;
  special?: boolean;
  [key: string]: unknown;
}
/** The checked parts of a tokenizer, whichever files they came from. */
interface CheckedTokenizer {
  json: Record<string, unknown>;
  vocab: Map<string, number>;
  added: AddedTokenJson[];
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const shown = (v: unknown): string => {
  const text = v === undefined ? 'nothing' : JSON.stringify(v) ?? String(v);
  return text.length > 60 ? `${text.slice(0, 57)}…` : text;
};

const FIX_FILE = 'Use the tokenizer files of the model repository as published (tokenizer.json, or vocab.json with merges.txt).';

/** Parse JSON text, naming the file when it is not JSON. */
function parseJson(text: string, file: TokenizerFileName, source: string): unknown {
  try {
    // A byte-order mark (some editors write one) is not part of the JSON.
    return JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (error) {
    const detail = error instanceof SyntaxError ? error.message : String(error);
    throw new TokenizerFileError(file, '', `text that is not JSON (${detail})`, 'JSON text', source, `The file may be truncated or not the file named. ${FIX_FILE}`);
  }
}

/** `{token: id}` with every id a distinct non-negative integer. */
function checkVocab(raw: unknown, file: TokenizerFileName, place: string, source: string): Map<string, number> {
  const allowed = 'an object of token → id, every id a distinct integer ≥ 0';
  if (!isObject(raw)) throw new TokenizerFileError(file, place, Array.isArray(raw) ? 'an array' : shown(raw), allowed, source, FIX_FILE);
  const vocab = new Map<string, number>();
  const owner = new Map<number, string>();
  for (const [token, id] of Object.entries(raw)) {
    const at = place ? `${place}[${JSON.stringify(token)}]` : `[${JSON.stringify(token)}]`;
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) {
      throw new TokenizerFileError(file, at, shown(id), allowed, source, FIX_FILE);
    }
    const other = owner.get(id);
    if (other !== undefined) {
      throw new TokenizerFileError(file, at, `id ${id}, already the id of ${JSON.stringify(other)}`, allowed, source, FIX_FILE);
    }
    owner.set(id, token);
    vocab.set(token, id);
  }
  if (vocab.size === 0) throw new TokenizerFileError(file, place, 'an empty vocabulary', allowed, source, FIX_FILE, 'length');
  return vocab;
}

/**
 * Check that every merge names two tokens of the vocabulary and makes one: otherwise the library
 * would drop the unknown piece from the ids without a word. `where(i)` names merge i's place.
 */
function checkMerges(merges: Array<[string, string]>, vocab: Map<string, number>, file: TokenizerFileName, where: (i: number) => string, source: string): void {
  for (let i = 0; i < merges.length; i++) {
    const [a, b] = merges[i];
    const missing = !vocab.has(a) ? a : !vocab.has(b) ? b : !vocab.has(a + b) ? a + b : null;
    if (missing !== null) {
      throw new TokenizerFileError(file, where(i), `"${a} ${b}", and ${JSON.stringify(missing)} is not in the vocabulary`, 'merges of two vocabulary tokens whose join is a vocabulary token', source, `The vocabulary and the merges must come from the same tokenizer. ${FIX_FILE}`);
    }
  }
}

/** `a b` → [a, b]; null when the line is not exactly two space-separated symbols. */
function splitMerge(line: string): [string, string] | null {
  const parts = line.split(' ');
  return parts.length === 2 && parts[0] !== '' && parts[1] !== '' ? [parts[0], parts[1]] : null;
}

/** Read and check tokenizer.json. */
function fromTokenizerJson(text: string, source: string): CheckedTokenizer {
  const F = 'tokenizer.json';
  const json = parseJson(text, F, source);
  if (!isObject(json)) throw new TokenizerFileError(F, '', shown(json), 'a JSON object with a "model"', source, FIX_FILE);
  const model = json.model as BpeModelJson | undefined;
  if (!isObject(model)) throw new TokenizerFileError(F, 'model', shown(model), 'an object (type "BPE" with vocab and merges)', source, FIX_FILE);
  // Older files (GPT-2's own on the hub among them) omit model.type; a model with merges is BPE.
  const type = model.type ?? (Array.isArray(model.merges) ? 'BPE' : undefined);
  if (type !== 'BPE') {
    throw new TokenizerFileError(F, 'model.type', shown(model.type), '"BPE" (byte-level BPE, as GPT-2 and its family use); WordPiece, Unigram and WordLevel tokenizers are not supported', source, 'Open a GPT-2-family model, whose tokenizer is byte-level BPE.');
  }
  const vocab = checkVocab(model.vocab, F, 'model.vocab', source);
  if (!Array.isArray(model.merges)) throw new TokenizerFileError(F, 'model.merges', shown(model.merges), 'an array of merges ("a b" strings or [a, b] pairs)', source, FIX_FILE);
  const merges = model.merges.map((m, i): [string, string] => {
    const pair = typeof m === 'string' ? splitMerge(m) : Array.isArray(m) && m.length === 2 && m.every((s) => typeof s === 'string' && s !== '') ? (m as [string, string]) : null;
    if (!pair) throw new TokenizerFileError(F, `model.merges[${i}]`, shown(m), 'two symbols: "a b" or ["a", "b"]', source, FIX_FILE);
    return pair;
  });
  checkMerges(merges, vocab, F, (i) => `model.merges[${i}]`, source);
  const addedRaw = json.added_tokens ?? [];
  if (!Array.isArray(addedRaw)) throw new TokenizerFileError(F, 'added_tokens', shown(addedRaw), 'an array of {id, content}', source, FIX_FILE);
  const added = addedRaw.map((t, i): AddedTokenJson => {
    if (!isObject(t) || typeof t.content !== 'string' || typeof t.id !== 'number' || !Number.isInteger(t.id) || t.id < 0) {
      throw new TokenizerFileError(F, `added_tokens[${i}]`, shown(t), 'an object with an integer id ≥ 0 and a string content', source, FIX_FILE);
    }
    return t as AddedTokenJson;
  });
  return { json: { ...json, model: { ...model, type: 'BPE' } }, vocab, added };
}

/** GPT-2's special token: end of text, beginning of text and unknown, all at once. */
const GPT2_EOS = '<|endoftext|>';

/**
 * Read and check vocab.json + merges.txt, and build the tokenizer.json that transformers'
 * GPT2TokenizerFast makes of them: byte-level BPE without a prefix space, `<|endoftext|>` (when
 * the vocabulary has it) a special added token at its vocabulary id.
 */
function fromVocabMerges(vocabText: string, mergesText: string, source: string): CheckedTokenizer {
  const vocab = checkVocab(parseJson(vocabText, 'vocab.json', source), 'vocab.json', '', source);
  const merges: Array<[string, string]> = [];
  const mergeLines: number[] = [];
  mergesText.split(/\r?\n/).forEach((line, index) => {
    // The first line of GPT-2's merges.txt is "#version: 0.2"; blank lines (the last) carry nothing.
    if (line.trim() === '' || (index === 0 && line.startsWith('#version'))) return;
    const pair = splitMerge(line);
    if (!pair) throw new TokenizerFileError('merges.txt', `line ${index + 1}`, shown(line), 'two symbols separated by one space ("Ġ t")', source, FIX_FILE);
    merges.push(pair);
    mergeLines.push(index + 1);
  });
  checkMerges(merges, vocab, 'merges.txt', (i) => `line ${mergeLines[i]}`, source);
  const eos = vocab.get(GPT2_EOS);
  const added = eos === undefined ? [] : [{ id: eos, content: GPT2_EOS, single_word: false, lstrip: false, rstrip: false, normalized: true, special: true }];
  const json = {
    version: '1.0',
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false, vocab: Object.fromEntries(vocab), merges: merges.map(([a, b]) => `${a} ${b}`) },
  };
  return { json, vocab, added };
}

/** Whether a pre-tokenizer or decoder config is (or contains) ByteLevel. */
function hasByteLevel(config: unknown): boolean {
  if (!isObject(config)) return false;
  if (config.type === 'ByteLevel') return true;
  const parts = config.pretokenizers ?? config.decoders;
  return Array.isArray(parts) && parts.some(hasByteLevel);
}

const EOS_NAMES = [GPT2_EOS, '</s>', '<|end_of_text|>', '<|eos|>', '<eos>'];
const BOS_NAMES = [GPT2_EOS, '<s>', '<|begin_of_text|>', '<|bos|>', '<bos>'];

/**
 * End- and beginning-of-text ids: a special added token of a known name (GPT-2's `<|endoftext|>`
 * is both), else what the post-processor puts around a sequence (TemplateProcessing's special
 * tokens before and after `$A`, RobertaProcessing's cls and sep); null when neither says.
 */
function specialIds(json: Record<string, unknown>, added: AddedTokenJson[]): { eosId: number | null; bosId: number | null } {
  const special = new Map(added.filter((t) => t.special !== false).map((t) => [t.content, t.id]));
  const named = (names: string[]): number | null => names.map((n) => special.get(n)).find((id) => id !== undefined) ?? null;
  let eosId = named(EOS_NAMES);
  let bosId = named(BOS_NAMES);
  const post = json.post_processor;
  if (isObject(post) && post.type === 'TemplateProcessing' && Array.isArray(post.single) && isObject(post.special_tokens)) {
    const tokens = post.special_tokens;
    const idOf = (item: unknown): number | null => {
      const name = isObject(item) && isObject(item.SpecialToken) ? item.SpecialToken.id : undefined;
      const entry = typeof name === 'string' ? tokens[name] : undefined;
      return isObject(entry) && Array.isArray(entry.ids) && typeof entry.ids[0] === 'number' ? entry.ids[0] : null;
    };
    const sequenceAt = post.single.findIndex((item) => isObject(item) && 'Sequence' in item);
    if (sequenceAt > 0) bosId ??= idOf(post.single[sequenceAt - 1]);
    if (sequenceAt >= 0 && sequenceAt < post.single.length - 1) eosId ??= idOf(post.single[sequenceAt + 1]);
  } else if (isObject(post) && post.type === 'RobertaProcessing') {
    const second = (pair: unknown): number | null => (Array.isArray(pair) && typeof pair[1] === 'number' ? pair[1] : null);
    bosId ??= second(post.cls);
    eosId ??= second(post.sep);
  }
  return { eosId, bosId };
}

/**
 * Load a model's tokenizer from its files: `tokenizer.json` when given (as transformers does),
 * else `vocab.json` + `merges.txt` (GPT-2's byte-level BPE). `source` names the model in errors.
 * Throws {@link TokenizerFileError} naming the file and field: no files, a file that is not JSON,
 * a model type other than BPE, a vocabulary that is not {token: integer id}, a merge that is not
 * two symbols or names tokens missing from the vocabulary, a byte-level vocabulary missing byte
 * symbols, or a component tokenizers.js cannot run.
 */
export function loadTokenizer(files: TokenizerFiles, source: string): ModelTokenizer {
  const { tokenizerJson, vocabJson, mergesTxt } = files;
  let checked: CheckedTokenizer;
  if (tokenizerJson !== undefined) checked = fromTokenizerJson(tokenizerJson, source);
  else if (vocabJson !== undefined && mergesTxt !== undefined) checked = fromVocabMerges(vocabJson, mergesTxt, source);
  else {
    const given = vocabJson !== undefined ? 'vocab.json without merges.txt' : mergesTxt !== undefined ? 'merges.txt without vocab.json' : 'none of tokenizer.json, vocab.json, merges.txt';
    throw new TokenizerFileError('tokenizer files', '', given, 'tokenizer.json, or vocab.json with merges.txt', source, 'Add the tokenizer files of the model repository: the model cannot be read without its own tokenizer.', 'length');
  }
  const { json, vocab, added } = checked;
  const file: TokenizerFileName = tokenizerJson !== undefined ? 'tokenizer.json' : 'vocab.json';
  const vocabPlace = tokenizerJson !== undefined ? 'model.vocab' : '';

  // Byte-level BPE needs all 256 byte symbols: a missing one would make the library drop that
  // byte from the ids without a word.
  const byteLevel = hasByteLevel(json.pre_tokenizer) || hasByteLevel(json.decoder);
  if (byteLevel) {
    const missing = BYTES.symbols.findIndex((s) => !vocab.has(s));
    if (missing >= 0) {
      throw new TokenizerFileError(file, vocabPlace, `no token for byte ${hexByte(missing)} (${JSON.stringify(BYTES.symbols[missing])})`, 'all 256 byte symbols of byte-level BPE', source, FIX_FILE, 'length');
    }
  }

  let library: Tokenizer;
  try {
    // tokenizers.js wants every component key present (null when absent), and added_tokens.
    const full = { normalizer: null, pre_tokenizer: null, post_processor: null, decoder: null, ...json, added_tokens: added };
    library = new Tokenizer(full, { clean_up_tokenization_spaces: false });
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new TokenizerFileError('tokenizer.json', '', `a tokenizer tokenizers.js cannot build (${detail})`, 'the components tokenizers.js supports (byte-level BPE for GPT-2)', source, FIX_FILE);
  }

  let vocabSize = 0;
  for (const id of vocab.values()) vocabSize = Math.max(vocabSize, id + 1);
  for (const t of added) vocabSize = Math.max(vocabSize, t.id + 1);
  const addedById = new Map(added.map((t) => [t.id, t.content]));
  const known = (id: number): boolean => library.id_to_token(id) !== undefined;
  const { eosId, bosId } = specialIds(json, added);
  const startIds = leadingSpecialIds(library) ?? (eosId === null ? [] : [eosId]);

  /** One token's display text. */
  const piece = (id: number): string => {
    const content = addedById.get(id);
    if (content !== undefined) return content;
    const token = library.id_to_token(id)!;
    if (!byteLevel) return bytesToDisplay([...UTF8.encode(token.replace(/▁/g, ' '))]);
    const bytes: number[] = [];
    for (const symbol of token) {
      const byte = BYTES.toByte.get(symbol);
      if (byte !== undefined) bytes.push(byte);
      else bytes.push(...UTF8.encode(symbol)); // not a byte symbol: shown as its own text
    }
    return bytesToDisplay(bytes);
  };

  return {
    vocabSize,
    eosId,
    bosId,
    startIds,
    encode(text: string): number[] {
      const ids = library.encode(text, { add_special_tokens: false }).ids;
      const bad = ids.findIndex((id) => typeof id !== 'number');
      if (bad >= 0) {
        throw new AttentionInputError('text', `a piece the tokenizer has no id for (token ${bad})`, 'text the tokenizer covers', 'type');
      }
      return ids;
    },
    decode(ids: readonly number[]): string {
      checkIds(ids, vocabSize, known);
      // tokenizers.js refuses an empty list; its text is ''.
      return ids.length === 0 ? '' : library.decode([...ids], { skip_special_tokens: false, clean_up_tokenization_spaces: false });
    },
    pieces(ids: readonly number[]): string[] {
      checkIds(ids, vocabSize, known);
      return ids.map(piece);
    },
  };
}

/**
 * The ids the post-processor adds before a sequence: a text encoded with and without special
 * tokens, what comes before the plain ids. Null when it adds nothing in front (or the two do not
 * line up, which a post-processor that only adds tokens never causes).
 */
function leadingSpecialIds(library: Tokenizer): number[] | null {
  const plain = library.encode('a', { add_special_tokens: false }).ids;
  const special = library.encode('a', { add_special_tokens: true }).ids;
  for (let at = 1; at + plain.length <= special.length; at++) {
    if (plain.every((id, i) => special[at + i] === id)) return special.slice(0, at);
  }
  return null;
}
