/**
 * A tiny byte-level BPE tokenizer in GPT-2's exact file formats, for tests that need a model's
 * tokenizer files without GPT-2's 50257-token vocabulary (synthesized hub checkpoints, the
 * loader, the e2e hub). Pure TypeScript; written independently of src/pretrained/tokenizer.ts
 * so a test comparing the two is not comparing a function with itself.
 *
 * Layout, as GPT-2's: ids 0..255 are the 256 byte symbols in GPT-2's order (the printable bytes
 * '!'..'~', '¡'..'¬', '®'..'ÿ' first, as themselves; then the rest, 0..32, 127..160, 173, as
 * U+0100.. — so a space is 'Ġ' = id 220 and '\n' is 'Ċ' = id 198, exactly as in GPT-2), then one
 * token per merge in merge order, then "<|endoftext|>" last (the end-of-text, beginning-of-text
 * and unknown token of GPT-2).
 *
 * Default merges, in rank order, and the tokens they make:
 *   "Ġ t" → "Ġt" 256, "h e" → "he" 257, "Ġt he" → "Ġthe" 258, "Ġ c" → "Ġc" 259, "a t" → "at" 260,
 *   "Ġc at" → "Ġcat" 261;  "<|endoftext|>" = 262 (263 ids in all).
 * So " the cat" encodes to [258, 261], "the" to [83, 257] ('t' is byte 116 → id 116 − 33 = 83),
 * "cat" to [66, 260].
 */

/** The files of a tokenizer, as a model repository on the hub holds them. */
export interface TinyTokenizerFiles {
  /** tokenizer.json as transformers' GPT2TokenizerFast saves it (model BPE, ByteLevel pre-tokenizer and decoder). */
  tokenizerJson: string;
  /** vocab.json: {token: id}, GPT-2's byte-level symbols, "<|endoftext|>" included. */
  vocabJson: string;
  /** merges.txt: "#version: 0.2" then one "a b" merge per line, in rank order. */
  mergesTxt: string;
  /** Number of ids (256 bytes + merges + 1). */
  vocabSize: number;
}

/** The default merges, in rank order (see the file comment for the tokens they make). */
export const TINY_MERGES: readonly string[] = ['Ġ t', 'h e', 'Ġt he', 'Ġ c', 'a t', 'Ġc at'];

/** GPT-2's end-of-text token. */
export const TINY_EOS = '<|endoftext|>';

/** The 256 byte symbols in GPT-2's id order: entry i is the symbol of id i; `.byte` its byte. */
export function gpt2ByteSymbols(): Array<{ byte: number; symbol: string }> {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const out = printable.map((byte) => ({ byte, symbol: String.fromCharCode(byte) }));
  let next = 0x100;
  for (let byte = 0; byte < 256; byte++) {
    if (!printable.includes(byte)) out.push({ byte, symbol: String.fromCharCode(next++) });
  }
  return out;
}

/**
 * The tiny tokenizer's three files. `extraMerges` ("a b" lines, each naming tokens that exist by
 * then) follow the default merges, their tokens taking the next ids; "<|endoftext|>" stays last.
 */
export function tinyTokenizerFiles(extraMerges: readonly string[] = []): TinyTokenizerFiles {
  const vocab: Record<string, number> = {};
  for (const [id, { symbol }] of gpt2ByteSymbols().entries()) vocab[symbol] = id;
  let nextId = 256;
  const merges = [...TINY_MERGES, ...extraMerges];
  for (const merge of merges) {
    const [a, b] = merge.split(' ');
    if (!(a in vocab) || !(b in vocab)) throw new Error(`tiny tokenizer: merge "${merge}" names a token not made yet`);
    if (!(a + b in vocab)) vocab[a + b] = nextId++;
  }
  const eosId = nextId++;
  vocab[TINY_EOS] = eosId;

  // The layout transformers (tokenizers ≥ 0.13) writes for GPT2TokenizerFast.save_pretrained:
  // GPT-2's end-of-text as a special added token, ByteLevel pre-tokenizer (no prefix space),
  // post-processor and decoder, and the BPE model with its vocab and "a b" merges.
  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [
      { id: eosId, content: TINY_EOS, single_word: false, lstrip: false, rstrip: false, normalized: true, special: true },
    ],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges,
    },
  };
  return {
    tokenizerJson: JSON.stringify(tokenizer, null, 2),
    vocabJson: JSON.stringify(vocab),
    mergesTxt: `#version: 0.2\n${merges.join('\n')}\n`,
    vocabSize: eosId + 1,
  };
}
