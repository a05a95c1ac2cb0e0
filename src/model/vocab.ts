/**
 * The trained model's word-level vocabulary: splitting text into words, words into ids and ids
 * back into text. Plain TypeScript (Node and the browser): the corpus generator, the trainer and
 * the landing view all tokenise through these functions, so a sentence the user types is split
 * exactly the way the training text was.
 *
 * The special token `<eos>` (END_OF_TEXT, id 0 in the corpus vocabulary) separates documents in
 * the training stream and starts every document, so the model also reads it as "beginning of
 * text": the landing view puts it in front of the user's sentence.
 */
import { AttentionInputError } from '../core/errors';

/** The end/separator token: between documents in the corpus, and in front of every document. */
export const END_OF_TEXT = '<eos>';

/** A fixed list of tokens; a token's id is its index. */
export interface Vocabulary {
  readonly tokens: readonly string[];
  /** The id of a token (as `splitWords` writes it: lower case), or undefined when unknown. */
  id(word: string): number | undefined;
}

/** A vocabulary over `tokens` (id = index). Throws on an empty or repeated token: ids must be unambiguous. */
export function makeVocabulary(tokens: readonly string[]): Vocabulary {
  const ids = new Map<string, number>();
  tokens.forEach((token, index) => {
    if (token.length === 0) throw new AttentionInputError(`tokens[${index}]`, 'an empty token', 'a non-empty string', 'type');
    if (ids.has(token)) throw new AttentionInputError(`tokens[${index}]`, `"${token}" again (first at ${ids.get(token)})`, 'each token once', 'type');
    ids.set(token, index);
  });
  const frozen = Object.freeze([...tokens]);
  return { tokens: frozen, id: (word) => ids.get(word) };
}

/**
 * One token: `<eos>` written out; the possessive `'s` (so "cat's" is cat + 's and the model
 * learns one `'s` rather than a second word per noun); a word of letters and digits, which may
 * hold inner apostrophes other than that `'s` ("don't" stays one word); else any single
 * non-space character (".", ",", "?", "!" and also ";", "-", quotes… which the vocabulary may
 * not know, so `encode` names them instead of silently dropping them).
 */
const TOKEN = /<eos>|'s(?![\p{L}\p{N}])|[\p{L}\p{N}]+(?:'(?!s(?![\p{L}\p{N}]))[\p{L}\p{N}]+)*|\S/gu;

/**
 * Split text into the model's words. The rule: lower-case everything; turn curly apostrophes
 * (’) into '; then read tokens left to right, each being `<eos>`, the possessive `'s`, a word
 * (letters and digits with inner apostrophes), or one other non-space character — so '.', ',',
 * '?' and '!' are tokens of their own. Whitespace only separates.
 *
 *   splitWords("The cat's hat, on the MAT!") → the, cat, 's, hat, ",", on, the, mat, "!"
 */
export function splitWords(text: string): string[] {
  return text.toLowerCase().replace(/’/g, "'").match(TOKEN) ?? [];
}

/**
 * A word the vocabulary does not know. Every unknown word is listed once, in the order it first
 * appears, so the user can fix them all at once; `field` is 'text' (AttentionInputError), so the
 * app shows it where it shows any other bad input.
 */
export class UnknownWordsError extends AttentionInputError {
  override name = 'UnknownWordsError';
  constructor(
    /** The unknown words, each once, in order of first appearance. */
    readonly words: string[],
    vocab: Vocabulary,
  ) {
    const known = knownWords(vocab);
    const examples = known.filter((w) => /^[\p{L}\p{N}]/u.test(w)).slice(0, 8);
    const list = words.map((w) => `"${w}"`).join(', ');
    const allowed = `words the model knows (${known.length} words, e.g. ${examples.join(', ')}, …)`;
    // kind 'type': the value is of a kind the model cannot read (a word outside its vocabulary).
    super('text', list, allowed, 'type');
    this.message = `text: unknown word${words.length === 1 ? '' : 's'} ${list}; the model knows ${known.length} words (e.g. ${examples.join(', ')}, …)`;
  }
}

/** The vocabulary's tokens a user can type: all but the special `<…>` ones. */
function knownWords(vocab: Vocabulary): string[] {
  return vocab.tokens.filter((t) => !(t.startsWith('<') && t.endsWith('>') && t.length > 2));
}

/**
 * Text → token ids (`splitWords`, then each word's id). Throws UnknownWordsError naming every
 * word the vocabulary lacks. Empty text gives [].
 */
export function encode(text: string, vocab: Vocabulary): number[] {
  const words = splitWords(text);
  const ids: number[] = [];
  const unknown: string[] = [];
  for (const word of words) {
    const id = vocab.id(word);
    if (id === undefined) {
      if (!unknown.includes(word)) unknown.push(word);
    } else ids.push(id);
  }
  if (unknown.length > 0) throw new UnknownWordsError(unknown, vocab);
  return ids;
}

/** Tokens that attach to the word before them when written out (no space in front). */
const ATTACHED = new Set(['.', ',', '?', '!', "'s"]);

/**
 * Words → text: space-separated, except that '.', ',', '?', '!' and "'s" attach to the word
 * before them. The inverse of `splitWords` on lower-case text: splitWords(joinWords(w)) = w.
 */
export function joinWords(words: readonly string[]): string {
  let out = '';
  for (const word of words) {
    if (out.length > 0 && !ATTACHED.has(word)) out += ' ';
    out += word;
  }
  return out;
}

/**
 * Token ids → text (`joinWords`; `<eos>` is written out as `<eos>`, so encode(decode(ids)) gives
 * ids back). Throws on an id outside the vocabulary.
 */
export function decode(ids: ArrayLike<number>, vocab: Vocabulary): string {
  const words: string[] = [];
  for (let i = 0; i < ids.length; i++) {
    const token = vocab.tokens[ids[i]];
    if (token === undefined) throw new AttentionInputError(`ids[${i}]`, String(ids[i]), `an integer in [0, ${vocab.tokens.length})`, 'type');
    words.push(token);
  }
  return joinWords(words);
}
