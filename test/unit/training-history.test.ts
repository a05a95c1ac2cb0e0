/**
 * The training log the model card draws (src/app/training-history.ts): parsed as npm run train
 * writes it, the heads singled out, the caption's numbers, and every malformed field refused by
 * name.
 */
import { describe, expect, it } from 'vitest';
import { TrainingLogError, formationHeads, minutesAt, parseTrainingHistory } from '../../src/app/training-history';
import { formationCaption } from '../../src/ui/formation-chart';

/** A log of a 2 × 2 model: L0 H1 turns previous-token first, then L1 H0 turns induction at step 300. */
function log(): Record<string, unknown> {
  const heads = [0, 100, 200, 300, 400].map((step, i) => ({
    step,
    tokens: step * 256,
    heads: [
      [0.05, 0.01],
      [Math.min(0.9, 0.1 + 0.3 * i), 0.0],
      [0.02, [0.02, 0.05, 0.2, 0.62, 0.81][i]],
      [0.03, 0.04],
    ],
  }));
  return {
    config: { vocabSize: 9, context: 16, dModel: 8, heads: 2, layers: 2, dMlp: 16, tiedEmbeddings: false },
    settings: { phases: [{ name: 'induction', fromStep: 0 }, { name: 'context', fromStep: 300 }] },
    unigramLoss: 4.78,
    heldOutLoss: 3.1,
    seconds: 600,
    inductionCrossed: { step: 300, tokens: 76800, layer: 1, head: 0 },
    heads,
    log: [100, 200, 300, 400].map((step) => ({ step, tokens: step * 256, loss: 5 - step / 200, seconds: step * 1.5, ...(step === 400 ? { heldOut: 3.1 } : {}) })),
  };
}

describe('parseTrainingHistory', () => {
  it('reads the log: points, loss, the crossing, the phases', () => {
    const h = parseTrainingHistory(log());
    expect([h.layers, h.heads, h.points.length, h.loss.length]).toEqual([2, 2, 5, 4]);
    expect(h.points[3].heads[2]).toEqual([0.02, 0.62]);
    expect(h.crossed).toEqual({ step: 300, tokens: 76800, layer: 1, head: 0 });
    expect(h.phases).toEqual([
      { name: 'induction', fromStep: 0 },
      { name: 'context', fromStep: 300 },
    ]);
    expect(h.loss[3]).toEqual({ step: 400, tokens: 102400, loss: 3, heldOut: 3.1, seconds: 600 });
  });

  it('singles out the head that crossed and the best previous-token head; minutes from the log', () => {
    const h = parseTrainingHistory(log());
    expect(formationHeads(h)).toEqual({ induction: 2, previous: 1 });
    expect(minutesAt(h, 300)).toBe(7.5);
    expect(formationCaption(h)).toBe(
      'L1 H0 became an induction head at step 300 (0.08 M tokens, 7.5 min into training), once L0 H1 attended to the previous token; ' +
        'at the end L1 H0 scores 0.81 on induction and L0 H1 0.90 on previous-token. Held-out loss 3.100 nats (unigram 4.780).',
    );
  });

  it('no crossing: the best final induction head, and a caption that says none formed', () => {
    const h = parseTrainingHistory({ ...log(), inductionCrossed: null });
    expect(h.crossed).toBeNull();
    expect(formationHeads(h).induction).toBe(2);
    expect(formationCaption(h)).toBe('No head reached induction 0.5 in training (best 0.81 after 0.1 M tokens).');
  });

  const broken: Array<[string, (o: Record<string, unknown>) => unknown, RegExp]> = [
    ['not an object', () => [1, 2], /\(file\): got an array of 2/],
    ['no config', (o) => ({ ...o, config: undefined }), /config: got nothing/],
    ['layers 0', (o) => ({ ...o, config: { heads: 2, layers: 0 } }), /config\.layers: got 0; allowed: an integer ≥ 1/],
    ['no heads', (o) => ({ ...o, heads: [] }), /heads: got an array of 0/],
    ['a point with 3 pairs', (o) => ({ ...o, heads: [{ step: 0, tokens: 0, heads: [[0, 0], [0, 0], [0, 0]] }] }), /heads\[0\]\.heads: got an array of 3; allowed: 4 pairs/],
    ['a score of 1.5', (o) => ({ ...o, heads: [{ step: 0, tokens: 0, heads: [[0, 0], [0, 1.5], [0, 0], [0, 0]] }] }), /heads\[0\]\.heads\[1\]: .*allowed: a pair of scores in \[0, 1\]/],
    ['steps that go back', (o) => ({ ...o, heads: [...(o.heads as object[]), { step: 50, tokens: 1, heads: [[0, 0], [0, 0], [0, 0], [0, 0]] }] }), /heads\[5\]\.step: got 50; allowed: a step after 400/],
    ['a loss entry without loss', (o) => ({ ...o, log: [{ step: 1, tokens: 2 }] }), /log\[0\]: got an object/],
    ['a NaN unigram loss', (o) => ({ ...o, unigramLoss: Number.NaN }), /unigramLoss: got NaN; allowed: a finite number/],
    ['a crossing in layer 5', (o) => ({ ...o, inductionCrossed: { step: 1, tokens: 1, layer: 5, head: 0 } }), /inductionCrossed: got an object; allowed: null or \{ step, tokens, layer < 2, head < 2 \}/],
  ];
  for (const [what, change, message] of broken) {
    it(`refuses ${what}, naming the field`, () => {
      let error: unknown;
      try {
        parseTrainingHistory(change(log()), 'models/x/training-log.json');
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(TrainingLogError);
      expect((error as Error).message.startsWith('models/x/training-log.json: ')).toBe(true);
      expect((error as Error).message).toMatch(message);
    });
  }
});
