import { defineConfig, type TestProjectInlineConfiguration } from 'vitest/config';
import { playwright } from '@vitest/browser-playwright';
import { chromiumArgs, chromiumTestArgs, findChromium } from './scripts/chromium.ts';

// Only the browser tests need a browser; when none is found their global setup stops the run
// with a message that says how to install one, and everything else still works.
// Tests run with Dawn's robustness off (chromiumTestArgs); measurements as users' Chrome runs.
const browserProvider = (args: string[]) => playwright({ launchOptions: { executablePath: findChromium(), args } });

/** A Vitest project that runs its files in headless Chromium on WebGPU (SwiftShader without a GPU). */
function browserProject(name: string, include: string[], args: string[]): TestProjectInlineConfiguration {
  return {
    extends: true,
    test: {
      name,
      include,
      testTimeout: 120_000,
      hookTimeout: 60_000,
      // GPU tests share one SwiftShader device per file; running files one at a time keeps
      // a 2-core machine from thrashing.
      fileParallelism: false,
      // Files run one after another in the same page (each makes and destroys its own device):
      // reloading the page and its modules per file cost ~30 s of the suite.
      isolate: false,
      globalSetup: ['test/browser/global-setup.ts'],
      browser: process.env.VITEST
        ? {
            enabled: true,
            headless: true,
            provider: browserProvider(args),
            instances: [{ browser: 'chromium' }],
            screenshotFailures: false,
          }
        : undefined,
    },
  };
}

export default defineConfig({
  // onnxruntime-web (the model bench's peer, src/bench/peer-ort.ts) is one self-contained ES
  // module: served as it is, it needs no pre-bundling, and the dev server does not reload a test
  // page on discovering it mid-run.
  optimizeDeps: { exclude: ['onnxruntime-web'] },
  build: {
    target: 'es2022',
    chunkSizeWarningLimit: 1500,
    rollupOptions: {
      // bench.html: the benchmark page that `npm run bench` drives (src/ui/bench-page.ts).
      input: { main: 'index.html', bench: 'bench.html' },
    },
  },
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
          // Pure functions in Node, no globals changed: one module graph for every file halves
          // the run (forking per file cost more than the tests themselves).
          isolate: false,
        },
      },
      browserProject('browser', ['test/browser/**/*.test.ts'], chromiumTestArgs()),
      // Measurements that print numbers for the README (not part of npm test: speed is measured,
      // not asserted): npm run measure:scene.
      browserProject('measure', ['test/measure/**/*.measure.ts'], chromiumArgs()),
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          environment: 'node',
          testTimeout: 180_000,
          hookTimeout: 120_000,
          fileParallelism: false,
          globalSetup: ['test/e2e/global-setup.ts'],
        },
      },
    ],
  },
});
