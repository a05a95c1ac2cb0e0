/**
 * Model mode's side of real checkpoints, in Node: which load a request means, what a real model
 * reads for a text (src/app/model-input.ts pretrainedInput, with the tiny GPT-2-format tokenizer
 * whose encodings are worked out by hand in test/shared/tiny-tokenizer.ts), the token pieces, the
 * induction probe drawn from its vocabulary, and the "find heads" order.
 */
import { describe, expect, it } from 'vitest';
import { ContextLimitError, pretrainedInput } from '../../src/app/model-input';
import { modelKey, pretrainedProbe, tokenPieces } from '../../src/app/pretrained-model';
import { AttentionInputError } from '../../src/core/errors';
import { inductionPairs } from '../../src/model/heads';
import { loadTokenizer } from '../../src/pretrained/tokenizer';
import { sortHeads } from '../../src/ui/model-card';
import type { HeadReport } from '../../src/app/head-scores';
import { tinyTokenizerFiles } from '../shared/tiny-tokenizer';

const tiny = tinyTokenizerFiles();
const tokenizer = loadTokenizer({ tokenizerJson: tiny.tokenizerJson }, 'tiny');
const EOS = 262;
const config = { vocabSize: tiny.vocabSize, context: 40, dModel: 12, heads: 3, layers: 2, dMlp: 20 };

describe('which load a request means', () => {
  it('the shipped model, hub ids per endpoint, URLs and files regardless of the endpoint', () => {
    expect(modelKey({ model: '', hub: 'http://x' })).toBe('');
    expect(modelKey({ model: 'gpt2', hub: '' })).toBe('https://huggingface.co|gpt2');
    expect(modelKey({ model: 'gpt2', hub: 'http://127.0.0.1:9' })).toBe('http://127.0.0.1:9|gpt2');
    expect(modelKey({ model: 'https://example.org/m/', hub: 'http://127.0.0.1:9' })).toBe('https://example.org/m/');
    expect(modelKey({ model: 'files:disk', hub: 'http://127.0.0.1:9' })).toBe('files:disk');
  });
});

describe('what a real model reads', () => {
  it('<|endoftext|>, the text in its own tokens, then the built-in story text to exactly seqLen', () => {
    // " the cat" → [258, 261] by the tiny merges (Ġthe, Ġcat); "The" is bytes T, h, e → merges h e → [51, 257].
    const input = pretrainedInput('The cat', 12, 1, tokenizer, config.context);
    expect(input.ids.slice(0, 4)).toEqual([EOS, 51, 257, 261]);
    expect(input.textTokens).toBe(3);
    expect(input.ids).toHaveLength(12);
    expect(input.extended).toBe(8);
    expect(input.cut).toBe(false);
    // The pieces are the tokens' text, a leading space kept.
    expect(input.words.slice(1, 4)).toEqual(['T', 'he', ' cat']);
    expect(tokenizer.decode(input.ids.slice(1, 4))).toBe('The cat');
    // A longer seqLen extends the same text; a shorter one cuts it.
    const longer = pretrainedInput('The cat', 30, 1, tokenizer, config.context);
    expect(longer.ids.slice(0, 12)).toEqual(input.ids);
    const short = pretrainedInput('The cat sat on the mat', 4, 1, tokenizer, config.context);
    expect(short.ids).toHaveLength(4);
    expect(short.cut).toBe(true);
    // Another seed, another continuation (the text itself is the same).
    expect(pretrainedInput('The cat', 30, 2, tokenizer, config.context).ids.slice(4)).not.toEqual(longer.ids.slice(4));
  });

  it('refuses a bad seqLen, one past the context, empty text and text longer than the context, naming the field', () => {
    expect(() => pretrainedInput('The cat', 1, 1, tokenizer, 40)).toThrow(AttentionInputError);
    expect(() => pretrainedInput('The cat', 2.5, 1, tokenizer, 40)).toThrow(/seqLen/);
    expect(() => pretrainedInput('The cat', 41, 1, tokenizer, 40)).toThrow(ContextLimitError);
    expect(() => pretrainedInput('   ', 8, 1, tokenizer, 40)).toThrow(/text/);
    const long = 'z'.repeat(60);
    expect(() => pretrainedInput(long, 8, 1, tokenizer, 40)).toThrow(/at most 39 tokens/);
  });
});

describe('pieces and the probe', () => {
  it('every id of the embedding has a piece; spare rows past the tokenizer are named by id', () => {
    const pieces = tokenPieces({ ...config, vocabSize: tiny.vocabSize + 2 }, tokenizer);
    expect(pieces).toHaveLength(tiny.vocabSize + 2);
    expect(pieces[220]).toBe(' ');
    expect(pieces[261]).toBe(' cat');
    expect(pieces[EOS]).toBe('<|endoftext|>');
    expect(pieces.slice(-2)).toEqual([`<id ${tiny.vocabSize}>`, `<id ${tiny.vocabSize + 1}>`]);
  });

  it('the probe is <|endoftext|> + a span of distinct random tokens, repeated; never the end-of-text token inside', () => {
    const probe = pretrainedProbe(config, tokenizer);
    // span = min(50, ⌊(40 − 1)/2⌋) = 19
    expect(probe.spanLength).toBe(19);
    expect(probe.tokens).toHaveLength(1 + 2 * 19);
    expect(probe.tokens[0]).toBe(EOS);
    const span = probe.tokens.slice(1, 20);
    expect(new Set(span).size).toBe(19);
    expect(span).not.toContain(EOS);
    expect(probe.tokens.slice(20)).toEqual(span);
    expect(inductionPairs(probe.tokens)).toHaveLength(19);
  });
});

describe('find heads', () => {
  const report = (layer: number, head: number, previousToken: number, entropy: number, induction = NaN): HeadReport => ({
    layer,
    head,
    scores: { previousToken, induction, duplicateToken: 0, firstToken: 0, entropy },
    labels: [],
  });
  const heads = [report(0, 0, 0.2, 1.5), report(0, 1, 0.9, 0.4, 0.3), report(1, 0, 0.5, 0.2, 0.8), report(1, 1, 0.5, 2.0)];
  const names = (list: HeadReport[]) => list.map((r) => `L${r.layer}H${r.head}`);

  it('sorts by a score strongest first, entropy sharpest first, NaN last, ties by layer and head', () => {
    expect(names(sortHeads(heads, 'order'))).toEqual(['L0H0', 'L0H1', 'L1H0', 'L1H1']);
    expect(names(sortHeads(heads, 'previousToken'))).toEqual(['L0H1', 'L1H0', 'L1H1', 'L0H0']);
    expect(names(sortHeads(heads, 'entropy'))).toEqual(['L1H0', 'L0H1', 'L0H0', 'L1H1']);
    expect(names(sortHeads(heads, 'induction'))).toEqual(['L1H0', 'L0H1', 'L0H0', 'L1H1']);
  });
});
