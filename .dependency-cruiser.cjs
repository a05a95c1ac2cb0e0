/**
 * The layering of src/, checked by `npm run lint:deps` (the first step of `npm test` after the
 * type check). README.md (Architecture) describes the layers; this file is the part of that
 * description a machine can hold us to. dependency-cruiser checks IMPORTS only; which runtime
 * APIs a layer may use (WebGPU, the DOM) is checked by test/unit/layering.test.ts, and
 * test/unit/dependency-rules.test.ts checks that these rules see the whole tree and fire.
 *
 * Layers (folders of src/):
 *   core, reference, verify, inputs, lessons  plain TypeScript that runs in Node (unit tests)
 *   model                                     the trained model: schema, forward pass, f64 reference, vocabulary, corpus, head scores (Node too)
 *   train                                     training: backward, loss, AdamW, init, the WebAssembly matmul (Node too)
 *   pretrained                                GPT-2-family checkpoints: config, safetensors streams, hub, tokenizer (Node too)
 *   cpu, workers                              the fast CPU path and the workers
 *   gpu                                       WebGPU plumbing: devices, buffers, pipelines
 *   kernels                                   the attention kernels (WGSL in shaders/)
 *   scene                                     the three.js view
 *   app                                       the app's state and view pipeline, no DOM
 *   bench                                     the benchmark sweep (no DOM: the page is ui/bench-page.ts)
 *   ui                                        the DOM; main.ts starts it
 *
 * Why dependency-cruiser 17 with swc: TypeScript 7 has no JavaScript compiler API, which
 * dependency-cruiser's TypeScript parser needs (without swc it finds 0 modules and passes), and
 * dependency-cruiser 18 needs Node 22. test/unit/dependency-rules.test.ts fails if the cruise
 * does not see every file of src/.
 */

/** three's packages as dependency-cruiser names them: resolved into node_modules, or a bare specifier it could not resolve. */
const THREE = '^(node_modules/(@types/)?three/|three($|/))';

/**
 * A forbidden dependency (every rule is an error): modules `from` may not import modules `to`;
 * `more` adds other fields of the rule (scope).
 * @returns {import('dependency-cruiser').IForbiddenRuleType}
 */
function forbid(name, from, to, comment, more = {}) {
  return { name, comment, severity: 'error', ...more, from, to };
}

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    forbid('no-circular', {}, { circular: true },
      'No module may reach itself through its imports (static, dynamic or type-only): a cycle has no layer order, ' +
      'makes module initialisation order matter, and means neither side can be understood or tested alone.'),
    forbid('no-folder-cycles', { path: '^src/' }, { circular: true },
      'No folder of src/ may depend on a folder that depends back on it: the folders are the layers, and ' +
      'layers only work when they form an order (e.g. bench used ui for its chart while ui used bench for the sweep).', { scope: 'folder' }),
    forbid('resolvable', { path: '^src/' }, { couldNotResolve: true },
      'Every import from src/ must resolve to a file: an unresolved import is invisible to the other rules ' +
      '(and usually a typo that only the bundler would catch).'),
    forbid('three-only-in-scene', { path: '^src/', pathNot: '^src/scene/' }, { path: THREE },
      'Only src/scene imports three.js (three/webgpu, three/tsl, addons): the rest of the app, the library ' +
      '(src/index.ts) and the workers stay free of a 1 MB renderer and of its version-specific internals.'),
    forbid('widgets-only-in-ui', { path: '^src/', pathNot: '^src/ui/' }, { path: '^(node_modules/)?(lil-gui|uplot)($|/)' },
      'lil-gui (the panel) and uPlot (the sweep chart) are DOM widgets: only src/ui uses them.'),
    forbid('tfjs-only-in-peer', { path: '^src/', pathNot: '^src/bench/peer-tfjs\\.ts$' }, { path: '^(node_modules/)?@tensorflow/' },
      'TensorFlow.js is the benchmark peer and nothing else: only src/bench/peer-tfjs.ts imports it (the sweep ' +
      'loads that module on demand), so no bundle that does not run the peer carries tfjs.'),
    forbid('ort-only-in-peer', { path: '^src/', pathNot: '^src/bench/peer-ort\\.ts$' }, { path: '^(node_modules/)?onnxruntime-(web|common)($|/)' },
      'onnxruntime-web is the model bench\'s peer and nothing else: only src/bench/peer-ort.ts imports it (the bench ' +
      'loads that module on demand), so no bundle that does not run the peer carries ORT or its 28 MB WebAssembly file.'),
    forbid('node-layers-stay-pure', { path: '^src/(core|reference|verify|lessons|inputs|model|train|pretrained)/' }, { path: '^src/(gpu|kernels|scene|ui|bench|workers)/' },
      'core, reference, verify, lessons, inputs, model, train and pretrained run in Node (the unit tests, and the model\'s training) and ' +
      'in workers: they import nothing that needs WebGPU, three.js, the DOM or workers (gpu, kernels, scene, ui, ' +
      'bench, workers).'),
    forbid('model-without-training', { path: '^src/model/' }, { path: '^src/train/' },
      'Training builds on the model, not the other way: src/model (the schema, the forward pass, the f64 reference ' +
      'the reference worker runs) imports nothing from src/train, so the app and the worker never load the backward, ' +
      'the optimizer or the WebAssembly matmul.'),
    forbid('reference-worker-without-training', { path: '^src/workers/reference' }, { path: '^src/train/', reachable: true },
      'The reference worker (the f64 checks the app runs on every view) loads no training code, directly or through ' +
      'what it imports: it was slimmed on purpose. The model CPU worker (src/workers/model-cpu.worker.ts) is the one ' +
      'worker that imports src/train, for the WebAssembly SIMD matmul of its timed f32 forward.'),
    forbid('pretrained-imports-only-core-inputs-model', { path: '^src/pretrained/' }, { pathNot: '^(src/(pretrained|core|inputs|model)/|node_modules/)' },
      'src/pretrained reads checkpoints (config.json, safetensors streams, the hub, the tokenizer) into the schema\'s ' +
      'parameters: it builds on core, inputs (the safetensors header checks, float decoding) and model (the schema, the ' +
      'plan for memory sizes) and packages (the tokenizer library); not train, and nothing that needs WebGPU or the DOM, ' +
      'so the loader runs in Node tests, workers and scripts alike.'),
    forbid('gpu-imports-only-core', { path: '^src/gpu/' }, { pathNot: '^src/(gpu|core)/' },
      'src/gpu is the WebGPU plumbing under the kernels (device, buffers, pipelines, timers): it knows the ' +
      'errors and types of core and nothing about attention kernels, the scene or the app.'),
    forbid('kernels-import-only-core-gpu-reference-shaders', { path: '^src/kernels/' }, { pathNot: '^(src/(kernels|core|gpu|reference)/|src/model/(schema|plan|llama-schema|rope)\\.ts$|shaders/)' },
      'The kernels are built from core (types, validation, errors), gpu (plumbing), reference (the grid plan and ' +
      'block layout the reduction shares with the CPU), the model\'s parameter schema (src/model/schema.ts, which ' +
      'imports only core: one check of the GPT-2 names and shapes), its forward plan (src/model/plan.ts, which ' +
      'imports only the schema: the order of operations the GPU forward encodes), the Llama family\'s schema and rotary ' +
      'frequencies (src/model/llama-schema.ts, rope.ts: core and the schema only) and their WGSL in shaders/; they never see the ' +
      'scene or the app.'),
    forbid('scene-imports-only-its-layers', { path: '^src/scene/' }, { pathNot: [THREE, '^src/(scene|core|gpu|kernels|reference)/'] },
      'The scene draws what the kernels computed: it may import three.js, core, gpu, kernels and reference; not ' +
      'ui, bench, workers, inputs or lessons. Not app either: app names scene types (SurfaceSource, CellInfo, ' +
      'StageView) to describe what it hands the view, so scene importing app would be a folder cycle.'),
    forbid('app-not-ui', { path: '^src/app/' }, { path: '^src/ui/' },
      'src/app is the view pipeline without the DOM: it may import every layer but ui (the DOM lives there). ' +
      'From src/scene it may import types only (`import type`): it runs no three.js code, so it stays testable ' +
      'without a canvas. dependency-cruiser cannot tell type-only imports apart with the swc parser, so ' +
      'test/unit/layering.test.ts checks that part.'),
    forbid('only-main-imports-ui', { path: '^src/', pathNot: '^src/(ui/|main\\.ts$)' }, { path: '^src/ui/' },
      'src/ui is the top: only main.ts (the page entry) and ui itself import it, so no lower layer can reach ' +
      'the DOM through it (ui/bench-page.ts is the other entry, of bench.html).'),
    forbid('main-imports-only-ui', { path: '^src/main\\.ts$' }, { pathNot: '^src/(ui/|main\\.ts$)' },
      'main.ts is wiring only: it starts the app of src/ui and shows a startup failure.'),
    forbid('library-without-three', { path: '^src/index\\.ts$' }, { path: THREE, reachable: true },
      'src/index.ts is the library surface: nothing it reaches, even indirectly, may be three.js (README: the 3D ' +
      'view is imported from src/scene on purpose, so the library does not pull in three).'),
  ],
  options: {
    // TypeScript 7 has no JS API: swc parses, and type-only imports count (tsPreCompilationDeps).
    parser: 'swc',
    tsPreCompilationDeps: true,
    doNotFollow: { path: 'node_modules' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'module', 'browser', 'default', 'types'],
      mainFields: ['module', 'main', 'types'],
      extensions: ['.ts', '.js', '.mjs', '.cjs', '.json', '.d.ts'],
    },
    reporterOptions: {
      text: { highlightFocused: true },
    },
  },
};
