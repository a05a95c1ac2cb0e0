/**
 * `npm run shaders`: writes every kernel variant that runs, assembled and fully written out,
 * to shaders/generated/<kernel>[.<rows>x<cols>].wgsl (src/kernels/shader-variants.ts says how),
 * and removes files there that no variant makes any more. Run it after editing shaders/ or the
 * tile sizes; test/unit/generated-shaders.test.ts fails until the committed files match.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generatedPath, generatedText, runningVariants } from '../src/kernels/shader-variants';

const shaders = join(dirname(fileURLToPath(import.meta.url)), '..', 'shaders');

/** The source files of shaders/ (not generated/) by their path there, as the app's glob sees them. */
function readSources(folder: string, files: Record<string, string> = {}): Record<string, string> {
  for (const entry of readdirSync(folder, { withFileTypes: true })) {
    const path = join(folder, entry.name);
    const key = relative(shaders, path).split('\\').join('/');
    if (entry.isDirectory()) {
      if (key !== 'generated') readSources(path, files);
    } else if (entry.name.endsWith('.wgsl')) {
      files[key] = readFileSync(path, 'utf8');
    }
  }
  return files;
}

const files = readSources(shaders);
mkdirSync(join(shaders, 'generated'), { recursive: true });
const written = new Set<string>();
let changed = 0;
for (const variant of runningVariants()) {
  const path = generatedPath(variant);
  const text = generatedText(files, variant);
  written.add(path);
  let old: string | null = null;
  try {
    old = readFileSync(join(shaders, path), 'utf8');
  } catch {
    // A new variant: written below.
  }
  if (old !== text) {
    writeFileSync(join(shaders, path), text);
    changed++;
    console.log(`wrote shaders/${path}`);
  }
}
for (const name of readdirSync(join(shaders, 'generated'))) {
  if (!written.has(`generated/${name}`)) {
    rmSync(join(shaders, 'generated', name));
    changed++;
    console.log(`removed shaders/generated/${name} (no variant makes it)`);
  }
}
console.log(`${written.size} variants in shaders/generated/, ${changed} file(s) changed.`);
