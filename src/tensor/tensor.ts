import type { Backend } from '../backends/backend.js';
import type { DType, TypedArray } from './dtype.js';
import { currentReleaseFrame } from './releaseFrame.js';
import { fmtShape, type Shape, sizeOf } from './shape.js';

/**
 * A backend allocation. Tensors that share values (a reshape, a Variable's snapshot) share one Storage; the
 * device memory is released when the last Storage reference is garbage-collected, so users never dispose.
 *
 * Inside a release scope (`src/ops/releaseScope.ts`) a new Storage is registered with the scope, which may
 * hand its handle back to the backend for reuse when the scope ends; the Storage is then marked released and
 * any later use throws a {@link ReleasedStorageError} instead of reading recycled values. A handle passed
 * here must be owned by the Storages built on it alone (every kernel returns a fresh one).
 */
export class Storage {
  /** @internal Set, to the scope's label, when a release scope recycled the handle. */
  releasedBy: string | undefined = undefined;
  private readonly _handle: unknown;

  constructor(
    readonly backend: Backend,
    handle: unknown,
  ) {
    this._handle = handle;
    if (backend.dispose) storageFinalizer.register(this, { backend, handle });
    const frame = currentReleaseFrame();
    if (frame !== undefined && frame.bytesLeft > 0) {
      frame.storages.push(this);
      frame.bytesLeft -= (handle as { byteLength?: number }).byteLength ?? 0;
    }
  }

  /** The backend handle; throws once a release scope has recycled it. */
  get handle(): unknown {
    if (this.releasedBy !== undefined) throw new ReleasedStorageError(this.releasedBy);
    return this._handle;
  }

  /** @internal The handle without the released check (for the release scope's own bookkeeping). */
  get rawHandle(): unknown {
    return this._handle;
  }
}

/**
 * A tensor was used after the release scope that created it ended and recycled its storage (for example a
 * tensor computed inside `MetaLearner.metaGradient` other than the meta-gradient it returns).
 */
export class ReleasedStorageError extends Error {
  override readonly name = 'ReleasedStorageError';
  constructor(scope: string) {
    super(
      `tensor used after its storage was recycled: it was computed inside the release scope "${scope}" and was not among the scope's results; return it from the scope, or build it inside outsideReleaseScopes(() => ...) if it must outlive the scope (METATAPE_RECYCLE=0 turns recycling off)`,
    );
  }
}

const storageFinalizer = new FinalizationRegistry<{ backend: Backend; handle: unknown }>(
  ({ backend, handle }) => {
    backend.dispose?.(handle);
  },
);

let nextTensorId = 1;

/**
 * An immutable n-dimensional array on a backend. Values live in the backend's storage (device memory for a GPU
 * backend); reading them is `await t.data()` (any backend) or `t.dataSync()` (where the backend allows).
 * Ops never wait: a training step can dispatch every op and read only its loss.
 */
export class Tensor {
  /** Identity used by gradient tapes. */
  readonly id: number;
  readonly shape: Shape;
  readonly dtype: DType;
  /** @internal */
  protected _storage: Storage;

  constructor(storage: Storage, shape: Shape, dtype: DType) {
    this.id = nextTensorId++;
    this._storage = storage;
    this.shape = shape;
    this.dtype = dtype;
  }

  /** The backend that holds this tensor's values. */
  get backend(): Backend {
    return this._storage.backend;
  }
  /** @internal The storage (shared by views such as reshapes). */
  get storage(): Storage {
    return this._storage;
  }
  /** @internal The backend handle. */
  get handle(): unknown {
    return this._storage.handle;
  }
  get rank(): number {
    return this.shape.length;
  }
  get size(): number {
    return sizeOf(this.shape);
  }

  /** Reads the values (row-major) to the host, waiting for the device if needed. */
  data(): Promise<TypedArray> {
    return this.backend.read(this);
  }
  /** Synchronous read; throws on a backend that can only read asynchronously (WebGPU). */
  dataSync(): TypedArray {
    return this.backend.readSync(this);
  }
  /** The values as nested JS arrays (a number for a scalar). */
  async array(): Promise<NestedArray> {
    return toNested(await this.data(), this.shape);
  }
  /** Synchronous {@link Tensor.array}. */
  arraySync(): NestedArray {
    return toNested(this.dataSync(), this.shape);
  }
  /** The single value of a one-element tensor. */
  item(): number {
    if (this.size !== 1)
      throw new Error(`item(): tensor of shape ${fmtShape(this.shape)} has ${this.size} elements`);
    return this.dataSync()[0]!;
  }
  toString(): string {
    let body: string;
    try {
      body = JSON.stringify(this.arraySync());
    } catch {
      body = '<on device>';
    }
    return `Tensor(${fmtShape(this.shape)}, ${this.dtype}) ${body}`;
  }
}

let nextVariableNumber = 1;

/**
 * A mutable tensor: `assign` swaps its values. Trainable Variables are watched automatically by every tape
 * that is recording when an op reads them (unless the tape was created with `watchAccessedVariables: false`).
 */
export class Variable extends Tensor {
  readonly name: string;
  trainable: boolean;

  constructor(initial: Tensor, options: { name?: string; trainable?: boolean } = {}) {
    super(initial.storage, initial.shape, initial.dtype);
    this.name = options.name ?? `variable_${nextVariableNumber++}`;
    this.trainable = options.trainable ?? true;
  }

  /** Replaces the values; the new value must have the same shape, dtype and backend. */
  assign(value: Tensor): this {
    if (value.dtype !== this.dtype || sizeOf(value.shape) !== this.size || value.shape.length !== this.rank) {
      throw new Error(
        `Variable ${this.name}: cannot assign ${value.dtype}${fmtShape(value.shape)} to ${this.dtype}${fmtShape(this.shape)}`,
      );
    }
    if (value.backend !== this.backend)
      throw new Error(`Variable ${this.name}: cannot assign across backends`);
    this._storage = value.storage;
    return this;
  }

  /** A plain tensor holding the current values (what a tape saves, so a later assign cannot change history). */
  snapshot(): Tensor {
    return new Tensor(this._storage, this.shape, this.dtype);
  }
}

/** Nested JS arrays as returned by {@link Tensor.array}. */
export type NestedArray = number | NestedArray[];

function toNested(values: TypedArray, shape: Shape): NestedArray {
  if (shape.length === 0) return values[0]!;
  const build = (offset: number, axis: number): NestedArray[] => {
    const n = shape[axis]!;
    const out: NestedArray[] = new Array(n);
    if (axis === shape.length - 1) {
      for (let i = 0; i < n; i++) out[i] = values[offset + i]!;
      return out;
    }
    let inner = 1;
    for (let j = axis + 1; j < shape.length; j++) inner *= shape[j]!;
    for (let i = 0; i < n; i++) out[i] = build(offset + i * inner, axis + 1);
    return out;
  };
  return build(0, 0);
}
