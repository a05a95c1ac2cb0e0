/**
 * Finding a Chromium for the browser tests, the end-to-end tests and the benchmark.
 * `npx playwright install` cannot download browsers on every machine, so we look for one that
 * is already there and launch it by path with the flags that make WebGPU work without a GPU
 * (SwiftShader for Vulkan and ANGLE: without them, compute works but canvases screenshot blank).
 */
import { existsSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * Flags for a machine with a real GPU (CHROMIUM_GPU=hardware): WebGPU on, Chromium picks the
 * driver, and nothing in the background (network, updates, sync) to disturb a measurement.
 */
export const CHROMIUM_ARGS_HARDWARE = [
  '--enable-unsafe-webgpu',
  '--enable-features=Vulkan',
  '--ignore-gpu-blocklist',
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-dev-shm-usage',
];

/** Flags for headless Chromium with WebGPU on SwiftShader: the hardware set, with Vulkan and ANGLE on SwiftShader. */
export const CHROMIUM_ARGS = [...CHROMIUM_ARGS_HARDWARE, '--enable-gpu', '--use-vulkan=swiftshader', '--use-angle=swiftshader'];

/** Launch flags for this machine: SwiftShader unless CHROMIUM_GPU=hardware. */
export function chromiumArgs(): string[] {
  return process.env.CHROMIUM_GPU === 'hardware' ? CHROMIUM_ARGS_HARDWARE : CHROMIUM_ARGS;
}

/**
 * Launch flags for the tests (browser and e2e; not the benchmark or the measurements, which run
 * as users' Chrome does): {@link chromiumArgs} with Dawn's robustness transform off. Robustness
 * clamps every storage access into its buffer; without it SwiftShader compiles and runs the
 * kernels 25–40% faster (browser tests: flash 21.8 → 13.8 s, the Llama model 23.2 → 17.0 s), and
 * an access outside a buffer shows up as a wrong value the test catches instead of a clamped one.
 */
export function chromiumTestArgs(): string[] {
  return [...chromiumArgs(), '--enable-dawn-features=disable_robustness'];
}

function playwrightCacheCandidates(): string[] {
  const root = process.env.PLAYWRIGHT_BROWSERS_PATH || join(homedir(), '.cache', 'ms-playwright');
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((name) => name.startsWith('chromium'))
    .sort()
    .reverse()
    .flatMap((name) => [
      join(root, name, 'chrome-linux', 'chrome'),
      join(root, name, 'chrome-linux64', 'chrome'),
      join(root, name, 'chrome-headless-shell-linux64', 'chrome-headless-shell'),
    ]);
}

/** The first Chromium found: CHROME_PATH, Playwright's cache, then the usual system paths. */
export function findChromium(): string | undefined {
  const candidates = [
    process.env.CHROME_PATH,
    ...playwrightCacheCandidates(),
    '/usr/bin/chromium',
    '/usr/bin/chromium-browser',
    '/usr/bin/google-chrome',
    '/usr/bin/google-chrome-stable',
    '/opt/google/chrome/chrome',
  ];
  return candidates.find((path): path is string => !!path && existsSync(path));
}

/** Like {@link findChromium}, but throws a message that says how to get one. */
export function requireChromium(): string {
  const path = findChromium();
  if (!path) {
    throw new Error(
      'No Chromium found for the browser tests. Install one (Debian/Ubuntu: `sudo apt-get install -y chromium`) ' +
        'or point CHROME_PATH at a Chrome/Chromium binary. Looked in CHROME_PATH, ~/.cache/ms-playwright, ' +
        '/usr/bin/chromium, /usr/bin/chromium-browser, /usr/bin/google-chrome.',
    );
  }
  return path;
}
