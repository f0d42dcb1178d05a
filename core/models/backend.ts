/**
 * Chooses the TensorFlow.js backend once per process.
 *
 * Order without an override: `tensorflow` (native bindings, only if `@tensorflow/tfjs-node-gpu`
 * or `@tensorflow/tfjs-node` can be imported; they are never imported statically, and never
 * installed by this project: the user installs one, see TENSORFLOW_INSTALL), then `wasm`
 * (XNNPACK with SIMD), then `cpu`. So a large pretrained model runs natively, on the GPU with
 * -node-gpu, wherever the user has installed one, and on wasm otherwise. An override comes from
 * the argument or from the `FEDMKT_TF_BACKEND` environment variable.
 */
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';

const BACKEND_NAMES: readonly BackendName[] = ['tensorflow', 'wasm', 'cpu'];

let pending: Promise<string> | undefined;
let wasmPathsSet = false;

function parseBackendName(value: string, where: string): BackendName {
  if ((BACKEND_NAMES as readonly string[]).includes(value)) return value as BackendName;
  throw new Error(`${where}: unknown TensorFlow.js backend '${value}'; expected one of ${BACKEND_NAMES.join(', ')}`);
}

const NATIVE_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'];
/** Why the native bindings did not load, per package (for the error of an explicit `tensorflow`). */
const nativeFailures = new Map<string, string>();

async function tryNativeBindings(): Promise<boolean> {
  for (const pkg of NATIVE_PACKAGES) {
    try {
      // A variable specifier keeps bundlers and tsc from resolving the optional package.
      const specifier: string = pkg;
      await import(specifier);
      return true;
    } catch (error) {
      // not installed or not loadable here; try the next
      const code = (error as { code?: unknown }).code;
      nativeFailures.set(pkg, code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND' ? 'not installed' : (error as Error).message.split('\n')[0]!);
    }
  }
  return false;
}

/** What to do when `--backend tensorflow` finds no native bindings. */
function nativeBindingsHelp(): string {
  const found = NATIVE_PACKAGES.filter((pkg) => nativeFailures.get(pkg) !== 'not installed');
  const why =
    found.length > 0
      ? found.map((pkg) => `${pkg} is installed but does not load: ${nativeFailures.get(pkg)}`).join('; ')
      : 'neither @tensorflow/tfjs-node nor @tensorflow/tfjs-node-gpu is installed';
  return (
    `the TensorFlow.js backend 'tensorflow' runs on TensorFlow's native library, and ${why}. ` +
    `Install it with \`npm install @tensorflow/tfjs-node@${tf.version_core}\` (the version of @tensorflow/tfjs here; \`@tensorflow/tfjs-node-gpu\` for CUDA GPUs): ` +
    "its install script downloads TensorFlow's C library (libtensorflow) for this platform, so it needs network access, and where no prebuilt binding fits this Node.js " +
    'it builds one with node-gyp (Python 3, make and a C++ compiler). Until then, --backend wasm (the default here) runs the same models'
  );
}

function pointWasmAtPackageFiles(): void {
  if (wasmPathsSet) return;
  const require = createRequire(import.meta.url);
  const distDir = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
  // A plain file path: emscripten reads it with fs in Node (fetch cannot read file: URLs).
  setWasmPaths(`${distDir}/`);
  wasmPathsSet = true;
}

async function activate(name: BackendName): Promise<boolean> {
  if (name === 'tensorflow') {
    if (!(await tryNativeBindings())) return false;
  } else if (name === 'wasm') {
    pointWasmAtPackageFiles();
  }
  try {
    const ok = await tf.setBackend(name);
    if (ok) await tf.ready();
    return ok && tf.getBackend() === name;
  } catch {
    return false;
  }
}

/** How to get the native backend: it downloads TensorFlow's C library, so it is the user's step. */
const TENSORFLOW_INSTALL =
  "npm install @tensorflow/tfjs-node (CPU) or npm install @tensorflow/tfjs-node-gpu (NVIDIA GPU with CUDA); either downloads TensorFlow's native library when installed";

/** Parameters above which a model is slow on wasm (one thread) and wants the native backend. */
const LARGE_MODEL_PARAMETERS = 100e6;

/** What to tell a user who runs a model of `parameters` on `backend`, if anything. */
export function backendAdvice(parameters: number, backend: string): string | undefined {
  if (parameters <= LARGE_MODEL_PARAMETERS || backend === 'tensorflow') return undefined;
  return `${(parameters / 1e6).toFixed(0)}M parameters on the ${backend} backend (one thread) is slow; for the tensorflow backend: ${TENSORFLOW_INSTALL}`;
}

async function choose(preferred: BackendName | undefined): Promise<string> {
  if (preferred) {
    if (await activate(preferred)) return preferred;
    if (preferred === 'tensorflow') throw new Error(nativeBindingsHelp());
    throw new Error(`initBackend: the requested TensorFlow.js backend '${preferred}' could not be initialised`);
  }
  for (const name of BACKEND_NAMES) {
    if (await activate(name)) return name;
  }
  throw new Error('initBackend: no TensorFlow.js backend (tensorflow, wasm, cpu) could be initialised');
}

/**
 * Initialise (once) and return the active backend's name. A later call with a different explicit
 * preference switches backends; tensors created before keep working (tfjs moves their data).
 */
export function initBackend(preferred?: BackendName): Promise<string> {
  let wanted: BackendName | undefined;
  try {
    const fromEnv = process.env.FEDMKT_TF_BACKEND;
    wanted = preferred === undefined ? (fromEnv ? parseBackendName(fromEnv, 'FEDMKT_TF_BACKEND') : undefined) : parseBackendName(preferred, 'initBackend');
  } catch (e) {
    return Promise.reject(e as Error);
  }
  if (pending === undefined) {
    pending = choose(wanted);
    pending.catch(() => {
      pending = undefined;
    });
    return pending;
  }
  if (preferred === undefined) return pending;
  const previous = pending;
  const attempt = previous.then(
    async (current) => (current === preferred ? current : choose(preferred)),
    async () => choose(preferred),
  );
  // a failed switch leaves the earlier backend in place
  pending = attempt.catch(() => previous);
  return attempt;
}
