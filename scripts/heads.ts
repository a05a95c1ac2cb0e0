/**
 * `npx tsx scripts/heads.ts [model.safetensors]`: each head's measured scores (previous-token,
 * induction, first-token share, mean entropy) on a repeated random span and on held-out text,
 * by the f64 forward reference.
 */
import { readFileSync } from 'node:fs';
import { readCheckpoint } from '../src/model/checkpoint';
import { generateCorpus } from '../src/model/corpus';
import { EOS_ID, wordIds } from '../src/model/corpus-words';
import { forwardReference } from '../src/model/forward-reference';
import { firstTokenShare, inductionScore, meanEntropy, previousTokenScore, projectProbe } from '../src/model/heads';

const file = process.argv[2] ?? 'public/models/tiny-stories/model.safetensors';
const { config, params } = readCheckpoint(readFileSync(file), file);
// The project's probe (as the app, the training log and the tests): <eos>, 8 random words, a span of 24 twice.
const probe = projectProbe(config.vocabSize, config.context, EOS_ID, wordIds());
const text = Array.from(generateCorpus(1, { trainTokens: 1, heldOutTokens: config.context }).heldOut);
const onProbe = forwardReference(config, params, probe.tokens);
const onText = forwardReference(config, params, text);
console.log('head   previous  induction  first-token  entropy (held-out text; induction on a repeated span)');
for (let layer = 0; layer < config.layers; layer++) {
  for (let head = 0; head < config.heads; head++) {
    const n = probe.tokens.length;
    const m = text.length;
    const wp = onProbe.layers[layer].weights.subarray(head * n * n, (head + 1) * n * n);
    const wt = onText.layers[layer].weights.subarray(head * m * m, (head + 1) * m * m);
    console.log(
      `L${layer}H${head}   ${previousTokenScore(wt, m).toFixed(2)}      ${inductionScore(wp, probe.tokens).toFixed(2)}       ${firstTokenShare(wt, m).toFixed(2)}         ${meanEntropy(wt, m).toFixed(2)}`,
    );
  }
}
