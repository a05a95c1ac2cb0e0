/**
 * A Llama 3 tokenizer through our loader (src/pretrained/tokenizer.ts, tokenizers.js underneath)
 * against a second implementation that ships Llama 3's real vocabulary and merges
 * (llama3-tokenizer-js). No vocabulary file is copied into the repository: the test builds a
 * tokenizer.json in the layout of Meta's Llama 3 repositories from the package's data at run
 * time: byte-level BPE with `ignore_merges`, the Split pre-tokenizer of Llama 3's regex, its 256
 * special tokens as added tokens, and a post-processor that puts `<|begin_of_text|>` first, which
 * is the model's own start token (`startIds`).
 */
import { Llama3Tokenizer } from 'llama3-tokenizer-js';
import { describe, expect, it } from 'vitest';
import { loadTokenizer } from '../../src/pretrained/tokenizer';

const reference = new Llama3Tokenizer();
const BOS = 128000;

/** Llama 3's pre-tokenizer pattern (tokenizer.json's Split regex). */
const LLAMA3_SPLIT = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

function llama3TokenizerJson(): string {
  const vocab: Record<string, number> = {};
  const added: unknown[] = [];
  reference.vocabById.forEach((token, id) => {
    if (id >= BOS) added.push({ id, content: token, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
    else vocab[token] = id;
  });
  const merges = [...reference.merges.entries()].sort((a, b) => a[1] - b[1]).map(([pair]) => pair);
  const template = {
    type: 'TemplateProcessing',
    single: [{ SpecialToken: { id: '<|begin_of_text|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
    pair: [{ SpecialToken: { id: '<|begin_of_text|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '<|begin_of_text|>', type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } }],
    special_tokens: { '<|begin_of_text|>': { id: '<|begin_of_text|>', ids: [BOS], tokens: ['<|begin_of_text|>'] } },
  };
  return JSON.stringify({
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: LLAMA3_SPLIT }, behavior: 'Isolated', invert: false },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: { type: 'Sequence', processors: [{ type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true }, template] },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: true, vocab, merges },
  });
}

describe("Llama 3's real vocabulary (llama3-tokenizer-js) through our tokenizer loader", () => {
  const tokenizer = loadTokenizer({ tokenizerJson: llama3TokenizerJson() }, 'llama3');

  it('pins known encodings, and the start token is <|begin_of_text|> (128000)', () => {
    // The package's README: "Hello world!" is [128000, 9906, 1917, 0, 128001] with both special tokens.
    expect(tokenizer.encode('Hello world!')).toEqual([9906, 1917, 0]);
    expect(reference.encode('Hello world!', { bos: false, eos: false })).toEqual([9906, 1917, 0]);
    expect(tokenizer.startIds).toEqual([BOS]);
    expect(tokenizer.vocabSize).toBe(128256);
    expect(tokenizer.pieces([9906, 1917])).toEqual(['Hello', ' world']);
  });

  it('encodes like the second implementation: words, digits, spaces, newlines, punctuation, non-Latin scripts, emoji', () => {
    const texts = [
      'The cat sat on the mat',
      ' leading space and  two spaces',
      'Numbers 1234567 and 3.14159, dates 2026-12-07',
      "It's what they'll say: don't, won't, I'd",
      'line one\nline two\n\n  indented\ttab',
      'Grüße aus Köln — naïve café',
      '日本語のテキストと中文',
      'emoji 🦙🐈 and math ∑ x²',
      'CamelCaseIdentifiers and snake_case_names()',
    ];
    for (const text of texts) {
      const expected = reference.encode(text, { bos: false, eos: false });
      expect(tokenizer.encode(text), text).toEqual(expected);
      expect(tokenizer.decode(expected), text).toBe(text);
    }
  });
});
