/**
 * Command-line arguments of `npm run bench` (scripts/bench.ts). Pure: no Node APIs beyond the
 * array of strings, so the parser is unit-tested like any function, and every bad argument
 * becomes a {@link BenchArgumentError} naming the option, what was given and what is allowed.
 */
import type { LinearTuning } from '../kernels/tuning';
import { BenchValueError } from './metrics';
import { BENCH_PATHS, BENCH_PATH_IDS, DEFAULT_BENCH_PATH_IDS, type BenchPathId, type SweepSettings } from './registry';

/** A bad command-line argument: which option, what was given, what is allowed. */
export class BenchArgumentError extends BenchValueError {
  override name = 'BenchArgumentError';
  constructor(
    /** The option as typed on the command line, e.g. `'--sizes'` (or the unknown argument itself). */
    readonly option: string,
    given: string,
    allowed: string,
  ) {
    super(option, given, allowed);
  }
}

/**
 * Everything `npm run bench` can be told: the sweep's settings (sizes in the order given,
 * duplicates removed; the peak comes from `peakGflops`) and what the script itself needs.
 */
export interface BenchArgs extends Omit<SweepSettings, 'peak'> {
  /** Where the JSON goes; null: bench-results/bench-<adapter>-<timestamp>.json. */
  out: string | null;
  /** Launch Chromium with the hardware-GPU flags (CHROMIUM_GPU=hardware) instead of SwiftShader. */
  hardware: boolean;
  /** A peak GFLOP/s to report fractions against (e.g. from the GPU's datasheet); null: estimate for software adapters only. */
  peakGflops: number | null;
  /** Milliseconds the whole sweep may take before the script gives up. */
  timeoutMs: number;
  /** Redraw the chart of a saved JSON report (writes FILE.png beside it) instead of running. */
  chartFrom: string | null;
  help: boolean;
  /**
   * The model bench instead of the attention sweep: 'gpt2-shape' (GPT-2 small's shape, random
   * weights) or a folder holding config.json and model.safetensors; null: the attention sweep.
   */
  model: string | null;
  /** Sequence lengths of the model bench. */
  lengths: number[];
  /** The model bench's GPU keep option (see GpuModelRunOptions.keep); a Llama shape keeps 'none' unless told. */
  keep: 'all' | 'weights' | 'none';
  /** The model bench's linear kernels instead of the device tuning's (to compare variants); null: the tuning's. */
  linear: LinearTuning | null;
  /** The model bench also runs onnxruntime-web's WebGPU EP on the same forward (`--paths …,ort`; opt-in: minutes per run on a software adapter). */
  ort: boolean;
}

/** The model bench's lengths by default (1024 is opt-in: minutes per run on a software adapter). */
export const DEFAULT_MODEL_LENGTHS = [128, 512];
/** The model bench's defaults where the option is not given: 2 timed runs, no untimed ones (an 8-token run compiles the kernels first), GPU and CPU. */
export const MODEL_BENCH_DEFAULTS = { repeats: 2, warmup: 0, paths: ['gpu', 'cpu'] as const };

/** Default sizes: powers of two from 64 to 2048. */
export const DEFAULT_SIZES = [64, 128, 256, 512, 1024, 2048];

/** The defaults, a shape of a small transformer layer (width = heads·dHead = dModel). */
export const DEFAULT_BENCH_ARGS: Readonly<BenchArgs> = {
  sizes: DEFAULT_SIZES,
  repeats: 3,
  warmup: 1,
  paths: [...DEFAULT_BENCH_PATH_IDS],
  dModel: 64,
  heads: 4,
  dHead: 16,
  causal: false,
  seed: 42,
  verify: true,
  out: null,
  hardware: false,
  peakGflops: null,
  timeoutMs: 30 * 60_000,
  chartFrom: null,
  help: false,
  model: null,
  lengths: DEFAULT_MODEL_LENGTHS,
  keep: 'weights',
  ort: false,
  linear: null,
};

/** Largest sequence length accepted (the GPU path's own limits apply below it). */
export const MAX_BENCH_SIZE = 65536;

type ValueOption = '--sizes' | '--repeats' | '--warmup' | '--paths' | '--d-model' | '--heads' | '--d-head' | '--seed' | '--out' | '--peak-gflops' | '--timeout' | '--chart-from' | '--model' | '--lengths' | '--keep' | '--linear';
type FlagOption = '--causal' | '--no-causal' | '--no-verify' | '--verify' | '--hardware' | '--help' | '-h';

const VALUE_OPTIONS: readonly ValueOption[] = ['--sizes', '--repeats', '--warmup', '--paths', '--d-model', '--heads', '--d-head', '--seed', '--out', '--peak-gflops', '--timeout', '--chart-from', '--model', '--lengths', '--keep', '--linear'];
const FLAG_OPTIONS: readonly FlagOption[] = ['--causal', '--no-causal', '--no-verify', '--verify', '--hardware', '--help', '-h'];

function integer(option: string, text: string, min: number, max: number): number {
  const value = /^\s*[+-]?\d+\s*$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new BenchArgumentError(option, `'${text}'`, `an integer from ${min} to ${max}`);
  }
  return value;
}

function list(option: string, text: string): string[] {
  const items = text.split(',').map((s) => s.trim());
  if (items.some((s) => s === '')) throw new BenchArgumentError(option, `'${text}'`, 'a comma-separated list with no empty items');
  return items;
}

/**
 * Parse `npm run bench -- …` arguments (argv without node and the script). Accepts
 * `--option value` and `--option=value`. Throws {@link BenchArgumentError} for an unknown
 * option, a missing value, a non-integer or out-of-range number, a size < 1 or an unknown path.
 */
export function parseBenchArgs(argv: readonly string[]): BenchArgs {
  const args: BenchArgs = { ...DEFAULT_BENCH_ARGS, sizes: [...DEFAULT_SIZES], paths: [...DEFAULT_BENCH_PATH_IDS], lengths: [...DEFAULT_MODEL_LENGTHS] };
  const given = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const raw = argv[i];
    const eq = raw.startsWith('--') ? raw.indexOf('=') : -1;
    const name = eq >= 0 ? raw.slice(0, eq) : raw;
    if ((FLAG_OPTIONS as readonly string[]).includes(name)) {
      if (eq >= 0) throw new BenchArgumentError(name, `'${raw}'`, `${name} on its own (it takes no value)`);
      switch (name as FlagOption) {
        case '--causal': args.causal = true; break;
        case '--no-causal': args.causal = false; break;
        case '--no-verify': args.verify = false; break;
        case '--verify': args.verify = true; break;
        case '--hardware': args.hardware = true; break;
        case '--help':
        case '-h': args.help = true; break;
      }
      continue;
    }
    if (!(VALUE_OPTIONS as readonly string[]).includes(name)) {
      throw new BenchArgumentError(raw, 'an unknown argument', `one of ${[...VALUE_OPTIONS, ...FLAG_OPTIONS].join(', ')} (see --help)`);
    }
    const option = name as ValueOption;
    given.add(option);
    let value: string;
    if (eq >= 0) {
      value = raw.slice(eq + 1);
    } else {
      const next = argv[i + 1];
      // "--sizes --repeats 2" is a missing value, not a size called "--repeats"; negative numbers are values.
      if (next === undefined || (next.startsWith('--') && next.length > 2)) {
        throw new BenchArgumentError(option, 'no value', `${option} followed by a value (see --help)`);
      }
      value = next;
      i++;
    }
    if (value.trim() === '') throw new BenchArgumentError(option, 'an empty value', `${option} followed by a value (see --help)`);
    switch (option) {
      case '--sizes': {
        const sizes = list(option, value).map((s) => integer(option, s, 1, MAX_BENCH_SIZE));
        args.sizes = [...new Set(sizes)];
        break;
      }
      case '--paths': {
        // 'ort' is a path of the model bench only (checked below, once --model is known).
        const items = list(option, value);
        args.ort = items.includes('ort');
        const paths = items.filter((p) => p !== 'ort').map((p) => {
          if (!(BENCH_PATH_IDS as readonly string[]).includes(p)) {
            throw new BenchArgumentError(option, `'${p}'`, `a comma-separated list of ${BENCH_PATH_IDS.join(', ')} (ort with --model)`);
          }
          return p as BenchPathId;
        });
        args.paths = [...new Set(paths)];
        break;
      }
      case '--repeats': args.repeats = integer(option, value, 1, 1000); break;
      case '--warmup': args.warmup = integer(option, value, 0, 1000); break;
      case '--d-model': args.dModel = integer(option, value, 1, 4096); break;
      case '--heads': args.heads = integer(option, value, 1, 256); break;
      case '--d-head': args.dHead = integer(option, value, 1, 4096); break;
      case '--seed': args.seed = integer(option, value, 0, 2 ** 31 - 1); break;
      case '--out': args.out = value; break;
      case '--model': args.model = value; break;
      case '--lengths': {
        const lengths = list(option, value).map((s) => integer(option, s, 1, MAX_BENCH_SIZE));
        args.lengths = [...new Set(lengths)];
        break;
      }
      case '--keep':
        if (value !== 'all' && value !== 'weights' && value !== 'none') throw new BenchArgumentError(option, `'${value}'`, "'weights' (every layer's weights, one scratch scores buffer), 'all', or 'none' (maps in scratch buffers only)");
        args.keep = value;
        break;
      case '--linear': args.linear = parseLinear(value); break;
      case '--chart-from':
        if (!/\.json$/i.test(value)) throw new BenchArgumentError(option, `'${value}'`, 'a JSON report written by npm run bench (…\.json)');
        args.chartFrom = value;
        break;
      case '--timeout': args.timeoutMs = integer(option, value, 1, 24 * 3600) * 1000; break;
      case '--peak-gflops': {
        const peak = /^\s*\d+(\.\d+)?\s*$/.test(value) ? Number(value) : NaN;
        if (!(peak > 0) || !Number.isFinite(peak)) throw new BenchArgumentError(option, `'${value}'`, 'a number > 0 (GFLOP/s)');
        args.peakGflops = peak;
        break;
      }
    }
  }
  if (args.model !== null) {
    const bad = args.paths.find((p) => p !== 'gpu' && p !== 'cpu');
    if (given.has('--paths') && bad !== undefined) throw new BenchArgumentError('--paths', `'${bad}' with --model`, 'gpu, cpu and ort for the model bench');
    if (!given.has('--paths')) args.paths = [...MODEL_BENCH_DEFAULTS.paths];
    if (!given.has('--repeats')) args.repeats = MODEL_BENCH_DEFAULTS.repeats;
    if (!given.has('--warmup')) args.warmup = MODEL_BENCH_DEFAULTS.warmup;
  } else if (args.ort) {
    throw new BenchArgumentError('--paths', "'ort' without --model", `${BENCH_PATH_IDS.join(', ')} (ort is a path of the model bench: add --model)`);
  }
  return args;
}

/** `--linear`: registers, workgroup, lanes (32×32) or lanes:RxC (multiples of 4 up to 64). */
function parseLinear(value: string): LinearTuning | null {
  if (value === 'auto') return null;
  if (value === 'registers' || value === 'workgroup') return { kind: value };
  const lanes = /^lanes(?::(\d+)x(\d+))?$/.exec(value);
  const edge = (text: string | undefined) => (text === undefined ? 32 : Number(text));
  if (lanes) {
    const [rows, cols] = [edge(lanes[1]), edge(lanes[2])];
    if ([rows, cols].every((n) => n >= 4 && n <= 64 && n % 4 === 0)) return { kind: 'lanes', tile: { rows, cols } };
  }
  throw new BenchArgumentError('--linear', `'${value}'`, 'auto, registers, workgroup, lanes or lanes:RxC (R and C multiples of 4 from 4 to 64)');
}

/** The `--help` text. */
export function benchUsage(): string {
  const d = DEFAULT_BENCH_ARGS;
  const optIn = BENCH_PATH_IDS.filter((id) => !d.paths.includes(id));
  const paths = BENCH_PATH_IDS.map((id) => `    ${id.padEnd(6)} ${BENCH_PATHS[id].label}: ${BENCH_PATHS[id].description}`).join('\n');
  return `Usage: npm run bench -- [options]

Builds the app, serves it with vite preview, opens bench.html in headless Chromium (WebGPU on
SwiftShader unless --hardware) and runs every path on every size: medians and spread over the
repeats, GFLOP/s, ratios, and each path's max error against the f64 reference. Prints a table
and writes the JSON report.

Options:
  --sizes N,N,…       sequence lengths (default ${d.sizes.join(',')})
  --repeats N         timed repeats per size and path, median reported (default ${d.repeats})
  --warmup N          untimed runs first (default ${d.warmup})
  --paths P,P,…       which paths, first is the ratios' baseline (default ${d.paths.join(',')}):
${paths}
                      ${optIn.length > 0 ? `${optIn.join(', ')} ${optIn.length === 1 ? 'is' : 'are'} opt-in, e.g. --paths gpu,fused,cpu (fused is checked on sampled rows only and is slow on SwiftShader at long lengths)` : ''}
  --d-model N         embedding width (default ${d.dModel})
  --heads N           heads (default ${d.heads})
  --d-head N          width of a head (default ${d.dHead})
  --causal            causal mask (default off; --no-causal)
  --seed N            seed of the random inputs (default ${d.seed})
  --out FILE          JSON report (default bench-results/bench-<adapter>-<timestamp>.json)
  --no-verify         skip the reference check
  --hardware          Chromium flags for a real GPU (as CHROMIUM_GPU=hardware)
  --peak-gflops X     peak GFLOP/s of the device, for "% of peak" (default: estimated for software adapters only)
  --timeout S         give up after S seconds (default ${d.timeoutMs / 1000})
  --chart-from FILE   redraw the chart of a saved report as FILE.png (no sweep)
  --help              this text

Model bench (a whole forward pass instead of the attention sweep):
  --model M           gpt2-shape (GPT-2 small's shape, random weights), smollm2-shape
                      (SmolLM2-135M's: Llama layout, 9 heads over 3 key/value heads), or a folder with
                      config.json and model.safetensors; prints tokens/s and GFLOP/s, GPU against
                      the f32 CPU forward, and writes bench-results/model-<adapter>-<time>.json
  --lengths N,N,…     sequence lengths (default ${DEFAULT_MODEL_LENGTHS.join(',')}; 1024 takes minutes on a software adapter)
  --keep K            the GPU run's maps: weights (default; one scratch scores buffer), all, or none
                      (scratch only; the default for smollm2-shape, whose 30 layers of maps would not fit)
  --linear V          the linear kernels: auto (default: the device's tuning), registers, workgroup,
                      lanes or lanes:RxC (to compare variants on one machine)
  With --model, --repeats defaults to ${MODEL_BENCH_DEFAULTS.repeats}, --warmup to ${MODEL_BENCH_DEFAULTS.warmup} (an 8-token run compiles the
  kernels first) and --paths to gpu,cpu; --seed seeds the random weights and tokens.
  --paths gpu,cpu,ort adds onnxruntime-web's WebGPU EP running the same forward on the same
  weights in the same page (src/bench/peer-ort.ts), with our GPU's ratio to it; at least one
  warm-up run per length (it compiles per shape); opt-in: minutes per run on a software adapter.`;
}
