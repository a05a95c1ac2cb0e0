/**
 * The import rules of .dependency-cruiser.cjs (run by `npm run lint:deps`) are alive: the cruise
 * sees every file of src/ (with TypeScript 7 and no swc it would see none and pass), and every
 * rule fires on a small tree that breaks it. Whether src/ keeps the rules is lint:deps's job.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const CONFIG = join(ROOT, '.dependency-cruiser.cjs');
const CLI = join(ROOT, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs');
const rules = (createRequire(import.meta.url)(CONFIG) as { forbidden: Array<{ name: string }> }).forbidden.map((r) => r.name);

interface CruiseResult {
  modules: Array<{ source: string }>;
  summary: { violations: Array<{ rule: { name: string }; from: string; to: string }> };
}

function cruise(cwd: string): CruiseResult {
  const run = spawnSync(process.execPath, [CLI, 'src', '--config', CONFIG, '--output-type', 'json'], { cwd, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (!run.stdout) throw new Error(`dependency-cruiser printed nothing (exit ${run.status}): ${run.stderr}`);
  return JSON.parse(run.stdout) as CruiseResult;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

describe('dependency rules (.dependency-cruiser.cjs)', () => {
  it('cruise every file of src/', () => {
    const result = cruise(ROOT);
    const seen = new Set(result.modules.map((m) => m.source));
    const unseen = sourceFiles(join(ROOT, 'src')).map((f) => f.slice(ROOT.length + 1)).filter((f) => !seen.has(f));
    expect(unseen).toEqual([]);
    // A whole cruise of src/ in a child process takes seconds on a loaded 2-core machine.
  }, 60_000);

  describe('each rule fires on a tree that breaks it', () => {
    let dir = '';
    let result: CruiseResult;
    const files: Record<string, string> = {
      // Packages the rules name, as stubs.
      'node_modules/three/package.json': '{ "name": "three", "main": "index.js" }',
      'node_modules/three/index.js': 'export const REVISION = "0";',
      'node_modules/lil-gui/package.json': '{ "name": "lil-gui", "main": "index.js" }',
      'node_modules/lil-gui/index.js': 'export default class GUI {}',
      'node_modules/@tensorflow/tfjs-core/package.json': '{ "name": "@tensorflow/tfjs-core", "main": "index.js" }',
      'node_modules/@tensorflow/tfjs-core/index.js': 'export const ready = 1;',
      'node_modules/onnxruntime-web/package.json': '{ "name": "onnxruntime-web", "main": "index.js" }',
      'node_modules/onnxruntime-web/index.js': 'export const env = {};',
      // A module cycle (no-circular) inside bench, and tfjs and onnxruntime-web outside their peers.
      'src/bench/a.ts': "import { b } from './b';\nimport * as tf from '@tensorflow/tfjs-core';\nimport * as ort from 'onnxruntime-web';\nexport const a = [b, tf, ort];",
      'src/bench/b.ts': "export const b = 1;\nexport const lazy = () => import('./a');",
      // A folder cycle without a module cycle: lessons → inputs → lessons.
      'src/lessons/l1.ts': "import { i } from '../inputs/i';\nexport const l1 = i;",
      'src/lessons/l2.ts': 'export const l2 = 2;',
      'src/inputs/i.ts': "import { l2 } from '../lessons/l2';\nexport const i = l2;",
      // A Node layer importing the GPU; the GPU importing kernels; kernels importing the scene.
      'src/core/c.ts': "import { g } from '../gpu/g';\nexport const c = g;",
      'src/gpu/g.ts': "import { k } from '../kernels/k';\nexport const g = k;",
      'src/kernels/k.ts': "import { s } from '../scene/s';\nexport const k = s;",
      // The model importing training; kernels importing the model beyond its schema (the schema is allowed).
      'src/model/m.ts': "import { t } from '../train/t';\nexport const m = t;",
      'src/model/schema.ts': 'export const schema = 1;',
      'src/train/t.ts': 'export const t = 1;',
      'src/kernels/k2.ts': "import { schema } from '../model/schema';\nimport { m } from '../model/m';\nexport const k2 = [schema, m];",
      // The reference worker reaching training (through a module that imports it).
      'src/workers/reference.worker.ts': "import { r } from './reference-client';\nexport const w = r;",
      'src/workers/reference-client.ts': "import { t } from '../train/t';\nexport const r = t;",
      // The checkpoint loader importing training.
      'src/pretrained/p.ts': "import { t } from '../train/t';\nexport const p = t;",
      // The scene importing ui and lil-gui; ui is imported from outside ui and main.
      'src/scene/s.ts': "import { REVISION } from 'three';\nimport GUI from 'lil-gui';\nimport { u } from '../ui/u';\nexport const s = [REVISION, GUI, u];",
      'src/ui/u.ts': 'export const u = 1;',
      // app importing ui; main importing something else; an import that does not resolve; three outside the scene.
      'src/app/p.ts': "import { u } from '../ui/u';\nexport const p = u;",
      'src/main.ts': "import { c } from './core/c';\nexport const main = c;",
      'src/verify/v.ts': "import { missing } from './missing';\nimport { REVISION } from 'three';\nexport const v = [missing, REVISION];",
      // The library surface reaching three through the scene.
      'src/index.ts': "export { k } from './kernels/k';",
    };
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'layering-'));
      for (const [path, text] of Object.entries(files)) {
        mkdirSync(dirname(join(dir, path)), { recursive: true });
        writeFileSync(join(dir, path), text);
      }
      result = cruise(dir);
    });
    afterAll(() => {
      if (dir) rmSync(dir, { recursive: true, force: true });
    });
    const fired = (name: string) => result.summary.violations.filter((v) => v.rule.name === name).map((v) => `${v.from} → ${v.to}`);

    it('the stub tree is cruised', () => {
      expect(result.modules.map((m) => m.source)).toContain('src/scene/s.ts');
    });
    for (const name of rules) {
      it(name, () => {
        expect(fired(name).length, `${name} did not fire; violations: ${JSON.stringify(result.summary.violations.map((v) => v.rule.name))}`).toBeGreaterThan(0);
      });
    }
    it('names the offending import', () => {
      expect(fired('three-only-in-scene')).toContain('src/verify/v.ts → node_modules/three/index.js');
      expect(fired('tfjs-only-in-peer')).toContain('src/bench/a.ts → node_modules/@tensorflow/tfjs-core/index.js');
      expect(fired('ort-only-in-peer')).toEqual(['src/bench/a.ts → node_modules/onnxruntime-web/index.js']);
      expect(fired('gpu-imports-only-core')).toEqual(['src/gpu/g.ts → src/kernels/k.ts']);
      expect(fired('model-without-training')).toEqual(['src/model/m.ts → src/train/t.ts']);
      expect(fired('kernels-import-only-core-gpu-reference-shaders')).toEqual(['src/kernels/k.ts → src/scene/s.ts', 'src/kernels/k2.ts → src/model/m.ts']);
    });
  });
});
