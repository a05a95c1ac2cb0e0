// The map as CSV and JSON (src/app/export.ts), against hand-written expectations.
import { describe, expect, it } from 'vitest';
import { exportStem, mapToCsv, mapToJson, type MapExport } from '../../src/app/export';
import { DEFAULT_STATE } from '../../src/app/state';
import { resolveShape } from '../../src/core/types';

// One head, 2 queries × 2 keys, causal: score[0][1] is masked.
const map: MapExport = {
  shape: resolveShape({ seqLen: 2, dModel: 2, heads: 1, dHead: 2, causal: true }),
  state: DEFAULT_STATE,
  tokens: ['say "hi"', 'b'],
  keyTokens: ['say "hi"', 'b'],
  scores: new Float32Array([0.5, -Infinity, 0.25, 1]),
  weights: new Float32Array([1, 0, 0.25, 0.75]),
  adapter: 'test adapter',
};

describe('map export', () => {
  it('names files by shape', () => {
    expect(exportStem(map.shape)).toBe('attention-1x2x2');
    expect(exportStem(null)).toBe('attention-view');
  });
  it('CSV: one line per entry, quotes doubled, masked scores -Infinity', () => {
    expect(mapToCsv(map)).toBe(
      [
        'head,query,key,query_token,key_token,score,weight',
        '0,0,0,"say ""hi""","say ""hi""",0.5,1',
        '0,0,1,"say ""hi""","b",-Infinity,0',
        '0,1,0,"b","say ""hi""",0.25,0.25',
        '0,1,1,"b","b",1,0.75',
      ].join('\n') + '\n',
    );
  });
  it('JSON: per-head matrices, null where masked', () => {
    const json = JSON.parse(mapToJson(map));
    expect(json.heads).toEqual([{ head: 0, scores: [[0.5, null], [0.25, 1]], weights: [[1, 0], [0.25, 0.75]] }]);
    expect(json.adapter).toBe('test adapter');
    expect(json.tokens).toEqual(['say "hi"', 'b']);
  });
});
