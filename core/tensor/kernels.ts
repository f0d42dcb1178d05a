/**
 * Kernels called directly on the active backend, for the insides of the blocks in layers.ts.
 *
 * A tfjs op goes through the engine: a Tensor object per result, scope tracking, tape checks,
 * memory accounting, and disposal by the enclosing tidy. Inside a block, whose forward records
 * nothing and whose intermediates die with it, that bookkeeping is pure overhead: here a kernel
 * runs on TensorInfos, and the scope frees every result it made except those handed out as
 * Tensors (`tensor`) when it is disposed.
 */
import * as tf from '@tensorflow/tfjs';

type Info = tf.TensorInfo;
type Input = Info | tf.Tensor;
const NO_ATTRS: Record<string, unknown> = {};
const FUSED_LINEAR: Record<string, unknown> = { transposeA: false, transposeB: false, activation: 'linear' };
type KernelFn = (params: { inputs: Record<string, Input>; attrs: Record<string, unknown>; backend: unknown }) => Info | Info[];

interface Backend {
  disposeData(dataId: object, force?: boolean): boolean;
  incRef(dataId: object): void;
  /** Every backend's way to hold values (the cpu backend keeps the array itself). */
  write(values: Float32Array, shape: number[], dtype: string): object;
}

/** Kernel functions by backend, then by name. */
const kernelCache = new Map<string, Map<string, KernelFn>>();
/** Scalar constants by backend and value: backend data kept for the process, outside the
 * engine's accounting (so they never show in tf.memory()). */
const scalarCache = new Map<string, Info>();

function kernelsOf(backendName: string): Map<string, KernelFn> {
  let m = kernelCache.get(backendName);
  if (!m) {
    m = new Map();
    kernelCache.set(backendName, m);
  }
  return m;
}

function kernel(kernels: Map<string, KernelFn>, name: string, backendName: string): KernelFn {
  let k = kernels.get(name);
  if (!k) {
    const config = tf.getKernel(name, backendName);
    if (!config) throw new Error(`kernels: no '${name}' kernel for backend '${backendName}'`);
    k = config.kernelFunc as unknown as KernelFn;
    kernels.set(name, k);
  }
  return k;
}

export class KernelScope {
  private readonly backend = tf.backend() as unknown as Backend;
  private readonly backendName = tf.getBackend();
  private readonly kernels = kernelsOf(this.backendName);
  private owned: Info[] = [];

  run(name: string, inputs: Record<string, Input>, attrs: Record<string, unknown> = NO_ATTRS): Info {
    const out = kernel(this.kernels, name, this.backendName)({ inputs, attrs, backend: this.backend });
    if (Array.isArray(out)) throw new Error(`kernels: '${name}' returned several outputs`);
    this.owned.push(out);
    return out;
  }

  add(a: Input, b: Input): Info {
    return this.run('Add', { a, b });
  }

  sub(a: Input, b: Input): Info {
    return this.run('Sub', { a, b });
  }

  mul(a: Input, b: Input): Info {
    return this.run('Multiply', { a, b });
  }

  square(x: Input): Info {
    return this.run('Square', { x });
  }

  rsqrt(x: Input): Info {
    return this.run('Rsqrt', { x });
  }

  sigmoid(x: Input): Info {
    return this.run('Sigmoid', { x });
  }

  /** Mean over the last axis, kept as size 1. */
  meanLast(x: Input): Info {
    return this.run('Mean', { x }, { axis: [x.shape.length - 1], keepDims: true });
  }

  /** Sum over axis 0 (of a 2-D tensor). */
  sumRows(x: Input): Info {
    return this.run('Sum', { x }, { axis: [0], keepDims: false });
  }

  transpose(x: Input): Info {
    return this.run('Transpose', { x }, { perm: [1, 0] });
  }

  reshape(x: Input, shape: number[]): Info {
    return this.run('Reshape', { x }, { shape });
  }

  matMul(a: Input, b: Input): Info {
    return this.run('BatchMatMul', { a, b }, { transposeA: false, transposeB: false });
  }

  /** a b + bias for 2-D a and b, as one kernel (which takes 3-D shapes: the same data relabelled,
   * as a reshape kernel would, without running one). */
  matMulBias(a: Input, b: Input, bias: Input): Info {
    const [m, kDim] = a.shape as [number, number];
    const n = b.shape[1] as number;
    const a3: Info = { dataId: a.dataId, shape: [1, m, kDim], dtype: a.dtype };
    const b3: Info = { dataId: b.dataId, shape: [1, kDim, n], dtype: b.dtype };
    const out = this.run('_FusedMatMul', { a: a3, b: b3, bias }, FUSED_LINEAR);
    out.shape = [m, n];
    return out;
  }

  /** A float32 constant (kept for the process). */
  scalar(value: number): Info {
    const key = `${this.backendName}/${value}`;
    let t = scalarCache.get(key);
    if (!t) {
      t = { dataId: this.backend.write(Float32Array.of(value), [], 'float32'), shape: [], dtype: 'float32' };
      scalarCache.set(key, t);
    }
    return t;
  }

  /** Values uploaded as a new tensor of this scope (`values` must not change afterwards). */
  upload(values: Float32Array, shape: number[]): Info {
    const out: Info = { dataId: this.backend.write(values, shape, 'float32'), shape, dtype: 'float32' };
    this.owned.push(out);
    return out;
  }

  /** A new float32 tensor of this scope with unspecified contents (to be filled in place: see
   * simd.ts); on a backend without its own allocation, zeros uploaded. */
  alloc(shape: number[]): Info {
    const makeOutput = (this.backend as unknown as { makeOutput?: (shape: number[], dtype: string) => Info }).makeOutput;
    if (this.backendName !== 'wasm' || typeof makeOutput !== 'function') return this.upload(new Float32Array(shape.reduce((a, b) => a * b, 1)), shape);
    const out = makeOutput.call(this.backend, shape, 'float32');
    this.owned.push(out);
    return out;
  }

  /**
   * Edits the values of `info`, a result of this scope not yet used by any other kernel: in place
   * where the backend's memory is reachable (wasm heap, cpu array), else on a copy uploaded in
   * its stead. `f` must not run kernels or upload (that could move the wasm heap).
   */
  edit(info: Info, f: (values: Float32Array) => void): Info {
    if (this.owned.indexOf(info) < 0) throw new Error('kernels: only a result of this scope can be edited');
    const t = { dataId: info.dataId, shape: info.shape, dtype: info.dtype, size: info.shape.reduce((a, b) => a * b, 1) };
    const view = heapView(t);
    if (view) {
      f(view);
      return info;
    }
    const copy = Float32Array.from(tf.engine().readSync(info.dataId) as Float32Array);
    f(copy);
    return this.upload(copy, info.shape);
  }

  /** `info` handed out as an engine Tensor: no longer freed by this scope. */
  tensor<T extends tf.Tensor>(info: Info): T {
    const i = this.owned.indexOf(info);
    if (i < 0) throw new Error('kernels: only a result of this scope can be handed out');
    this.owned.splice(i, 1);
    return (tf.engine() as unknown as { makeTensorFromTensorInfo(info: Info): T }).makeTensorFromTensorInfo(info);
  }

  /** Frees every result not handed out. */
  dispose(): void {
    for (const info of this.owned) this.backend.disposeData(info.dataId);
    this.owned = [];
  }
}

/** Runs `f` with a fresh scope, frees what it did not hand out, and returns its result. */
export function withKernels<T>(f: (k: KernelScope) => T): T {
  const k = new KernelScope();
  try {
    return f(k);
  } finally {
    k.dispose();
  }
}

const uploadBuffers = new Map<number, Float32Array<ArrayBuffer>>();

/**
 * A buffer of `size` floats to fill and then upload at once (tf.tensor, KernelScope.upload): on
 * the wasm backend, which copies uploads into its heap, the same buffer is handed out again,
 * saving the garbage collector a typed array per upload; elsewhere a fresh one (the cpu backend
 * keeps the array it is given). Contents are stale: fill every element.
 */
export function uploadBuffer(size: number): Float32Array<ArrayBuffer> {
  if (tf.getBackend() !== 'wasm') return new Float32Array(size);
  let b = uploadBuffers.get(size);
  if (!b) {
    if (uploadBuffers.size > 256) uploadBuffers.clear();
    b = new Float32Array(size);
    uploadBuffers.set(size, b);
  }
  return b;
}

/**
 * The values of `t` without a copy where the backend allows: a view of the wasm heap, or the cpu
 * backend's own array; elsewhere dataSync(). Read only, and only until the next allocation on the
 * backend (a growing wasm heap detaches earlier views): take it, read it, drop it.
 */
export function readView(t: tf.Tensor): Float32Array {
  if (t.dtype !== 'float32') throw new Error(`readView: ${t.dtype} tensor`);
  return heapView(t) ?? (t.dataSync() as Float32Array);
}

/** The backend's own float32 memory of `t` (wasm heap view, cpu array), or undefined. */
function heapView(t: { dataId: object; shape: number[]; dtype: string; size: number }): Float32Array | undefined {
  const backend = tf.backend() as unknown as {
    typedArrayFromHeap?: (info: tf.TensorInfo) => Float32Array;
    data?: { get(dataId: object): { values?: unknown } | undefined };
  };
  const name = tf.getBackend();
  if (name === 'wasm' && typeof backend.typedArrayFromHeap === 'function') return backend.typedArrayFromHeap(t as tf.TensorInfo);
  if (name === 'cpu') {
    const values = backend.data?.get(t.dataId)?.values;
    if (values instanceof Float32Array && values.length === t.size) return values;
  }
  return undefined;
}

/**
 * A new Tensor on the data of `t` (no copy, no kernel): the data lives until both are disposed,
 * which is what a reshape to the same shape gives, minus the kernel call.
 */
export function alias<T extends tf.Tensor>(t: T): T {
  (tf.backend() as unknown as Backend).incRef(t.dataId);
  return (tf.engine() as unknown as { makeTensorFromDataId(dataId: object, shape: number[], dtype: string): T }).makeTensorFromDataId(
    t.dataId,
    t.shape,
    t.dtype,
  );
}
