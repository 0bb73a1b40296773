import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { endianness } from 'node:os';
import { writeFileAtomic } from './atomic.js';

/** Element types a checkpoint array may hold. */
export type CheckpointDType = 'float32' | 'float64' | 'int32';

/** Host typed arrays a checkpoint array may hold. */
export type CheckpointTypedArray = Float32Array | Float64Array | Int32Array;

/** One named array in a checkpoint: parameters and optimizer slots alike. */
export interface CheckpointArray {
  shape: number[];
  dtype: CheckpointDType;
  data: CheckpointTypedArray;
}

/**
 * Named arrays stored in a checkpoint. Suggested naming (not enforced): `param/<layer>.<name>` for parameters
 * and `optim/<slot>/<param name>` for optimizer state (e.g. `optim/m/...`, `optim/v/...`).
 */
export type CheckpointArrays = Record<string, CheckpointArray>;

/** JSON-serializable value, for free-form metadata in the header. */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/** Everything in a checkpoint besides the arrays. */
export interface CheckpointMeta {
  /** Meta-training iteration the state belongs to (the next iteration to run is `iteration + 1`). */
  iteration: number;
  /** Hash of the config fields that decide the state layout; see `trainingConfigHash` in src/config/hash.ts. */
  configHash: string;
  /** Random generator states by name (e.g. `tasks`, `init`), each the generator's internal words. */
  rng: Record<string, number[]>;
  /** Optimizer bookkeeping that is not an array (kind, step count, hyper-parameters). */
  optimizer?: { kind: string; step: number; [key: string]: Json };
  /** Anything else the trainer wants back on resume (best metric so far, schedule position, ...). */
  extra?: Record<string, Json>;
}

/** A checkpoint as loaded from disk. */
export interface Checkpoint extends CheckpointMeta {
  arrays: CheckpointArrays;
  /** Format version of the file it came from. */
  version: number;
  /** ISO time the file was written. */
  createdAt: string;
}

/** What the loader should insist on, so a mismatched file fails on load rather than mid-training. */
export interface CheckpointExpectations {
  configHash?: string;
  /** Arrays that must be present with exactly these shapes and dtypes (extra arrays are allowed). */
  arrays?: Record<string, { shape: number[]; dtype: CheckpointDType }>;
}

/** A checkpoint could not be written or read back; the message names the file and what is wrong. */
export class CheckpointError extends Error {
  override readonly name = 'CheckpointError';
  constructor(
    readonly file: string,
    detail: string,
  ) {
    super(`${file}: ${detail}`);
  }
}

/** First bytes of every checkpoint file. */
export const CHECKPOINT_MAGIC = 'MTTAPECK';
/** Current checkpoint format version; bump when the layout changes and keep reading older ones. */
export const CHECKPOINT_VERSION = 1;

// Layout: magic (8 bytes ASCII) | version u32 LE | header length u32 LE | header sha256 (32 bytes)
//         | header JSON (UTF-8) | zero padding to 8 bytes | array payloads, each 8-byte aligned.
const PREFIX_BYTES = 8 + 4 + 4 + 32;

interface ArrayEntry {
  name: string;
  dtype: CheckpointDType;
  shape: number[];
  offset: number;
  byteLength: number;
  sha256: string;
}

interface Header extends CheckpointMeta {
  format: 'metatape-checkpoint';
  createdAt: string;
  endianness: 'LE' | 'BE';
  payloadBytes: number;
  arrays: ArrayEntry[];
}

const BYTES_PER: Record<CheckpointDType, number> = { float32: 4, float64: 8, int32: 4 };

function align8(n: number): number {
  return Math.ceil(n / 8) * 8;
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function bytesOf(a: CheckpointTypedArray): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function arrayTypeMatches(dtype: CheckpointDType, data: CheckpointTypedArray): boolean {
  return (
    (dtype === 'float32' && data instanceof Float32Array) ||
    (dtype === 'float64' && data instanceof Float64Array) ||
    (dtype === 'int32' && data instanceof Int32Array)
  );
}

/** Serializes a checkpoint to bytes (exposed for tests and for callers that ship checkpoints elsewhere). */
export function encodeCheckpoint(
  meta: CheckpointMeta,
  arrays: CheckpointArrays,
  file = '<memory>',
): Uint8Array {
  const entries: ArrayEntry[] = [];
  let offset = 0;
  for (const [name, arr] of Object.entries(arrays)) {
    if (!(arr.dtype in BYTES_PER))
      throw new CheckpointError(file, `array '${name}' has unknown dtype ${arr.dtype}`);
    if (!arrayTypeMatches(arr.dtype, arr.data)) {
      throw new CheckpointError(
        file,
        `array '${name}' is declared ${arr.dtype} but holds a ${arr.data.constructor.name}`,
      );
    }
    const size = arr.shape.reduce((a, b) => a * b, 1);
    if (!arr.shape.every((d) => Number.isInteger(d) && d >= 0) || size !== arr.data.length) {
      throw new CheckpointError(
        file,
        `array '${name}' has shape [${arr.shape.join(', ')}] (${size} elements) but ${arr.data.length} values`,
      );
    }
    entries.push({
      name,
      dtype: arr.dtype,
      shape: [...arr.shape],
      offset,
      byteLength: arr.data.byteLength,
      sha256: sha256(bytesOf(arr.data)),
    });
    offset = align8(offset + arr.data.byteLength);
  }
  const header: Header = {
    format: 'metatape-checkpoint',
    createdAt: new Date().toISOString(),
    endianness: endianness(),
    iteration: meta.iteration,
    configHash: meta.configHash,
    rng: meta.rng,
    ...(meta.optimizer ? { optimizer: meta.optimizer } : {}),
    ...(meta.extra ? { extra: meta.extra } : {}),
    payloadBytes: offset,
    arrays: entries,
  };
  const headerBytes = Buffer.from(JSON.stringify(header), 'utf8');
  const payloadStart = align8(PREFIX_BYTES + headerBytes.byteLength);
  const out = new Uint8Array(payloadStart + offset);
  const view = new DataView(out.buffer);
  out.set(Buffer.from(CHECKPOINT_MAGIC, 'ascii'), 0);
  view.setUint32(8, CHECKPOINT_VERSION, true);
  view.setUint32(12, headerBytes.byteLength, true);
  out.set(Buffer.from(sha256(headerBytes), 'hex'), 16);
  out.set(headerBytes, PREFIX_BYTES);
  entries.forEach((e) => {
    out.set(bytesOf(arrays[e.name]!.data), payloadStart + e.offset);
  });
  return out;
}

/**
 * The alignment padding (after the header, between and after the arrays) holds no data, so the checksums do
 * not cover it; it must be zero, so that any flipped byte in the file is caught, not only those in data.
 */
function checkPadding(
  bytes: Uint8Array,
  headerEnd: number,
  payloadStart: number,
  entries: readonly ArrayEntry[],
  file: string,
): void {
  const spans = entries
    .map((e) => [payloadStart + e.offset, payloadStart + e.offset + e.byteLength] as const)
    .sort((a, b) => a[0] - b[0]);
  let pos = headerEnd;
  for (const [start, end] of [...spans, [bytes.byteLength, bytes.byteLength] as const]) {
    for (let i = pos; i < start; i++) {
      if (bytes[i] !== 0)
        throw new CheckpointError(file, `padding byte at offset ${i} is not zero (file is corrupt)`);
    }
    pos = Math.max(pos, end);
  }
}

/** Parses checkpoint bytes; every inconsistency is a {@link CheckpointError} naming `file`. */
export function decodeCheckpoint(
  bytes: Uint8Array,
  file = '<memory>',
  expect: CheckpointExpectations = {},
): Checkpoint {
  // Magic first: a file of the wrong kind should say so, whatever its size.
  const magic = Buffer.from(bytes.subarray(0, 8)).toString('latin1');
  if (bytes.byteLength >= 8 && magic !== CHECKPOINT_MAGIC) {
    throw new CheckpointError(file, `not a metatape checkpoint (bad magic ${JSON.stringify(magic)})`);
  }
  if (bytes.byteLength < PREFIX_BYTES) {
    throw new CheckpointError(file, `not a metatape checkpoint (only ${bytes.byteLength} bytes; truncated?)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8, true);
  if (version !== CHECKPOINT_VERSION) {
    throw new CheckpointError(
      file,
      `checkpoint format version ${version} is not supported (this build reads version ${CHECKPOINT_VERSION})`,
    );
  }
  const headerLength = view.getUint32(12, true);
  if (PREFIX_BYTES + headerLength > bytes.byteLength) {
    throw new CheckpointError(file, 'file is truncated inside the header');
  }
  const headerBytes = bytes.subarray(PREFIX_BYTES, PREFIX_BYTES + headerLength);
  if (sha256(headerBytes) !== Buffer.from(bytes.subarray(16, 48)).toString('hex')) {
    throw new CheckpointError(file, 'header checksum mismatch (file is corrupt)');
  }
  let header: Header;
  try {
    header = JSON.parse(Buffer.from(headerBytes).toString('utf8')) as Header;
  } catch (err) {
    throw new CheckpointError(file, `header is not valid JSON (${(err as Error).message})`);
  }
  if (header.endianness !== endianness()) {
    throw new CheckpointError(
      file,
      `written on a ${header.endianness} machine; this machine is ${endianness()}`,
    );
  }
  const payloadStart = align8(PREFIX_BYTES + headerLength);
  if (bytes.byteLength !== payloadStart + header.payloadBytes) {
    throw new CheckpointError(
      file,
      `size is ${bytes.byteLength} bytes but the header describes ${payloadStart + header.payloadBytes} (truncated or corrupt)`,
    );
  }
  if (expect.configHash !== undefined && expect.configHash !== header.configHash) {
    throw new CheckpointError(
      file,
      `was written for config hash ${header.configHash} but the current config hashes to ${expect.configHash} ` +
        '(data, model or trainer settings changed since it was saved)',
    );
  }
  checkPadding(bytes, PREFIX_BYTES + headerLength, payloadStart, header.arrays, file);
  const arrays: CheckpointArrays = {};
  for (const e of header.arrays) {
    const start = payloadStart + e.offset;
    const slice = bytes.subarray(start, start + e.byteLength);
    if (sha256(slice) !== e.sha256)
      throw new CheckpointError(file, `array '${e.name}' checksum mismatch (file is corrupt)`);
    const Ctor = e.dtype === 'float32' ? Float32Array : e.dtype === 'float64' ? Float64Array : Int32Array;
    // Copy into a fresh buffer: Buffers from readFile may sit at an offset that is not a multiple of 8.
    const data = new Ctor(e.byteLength / BYTES_PER[e.dtype]);
    new Uint8Array(data.buffer).set(slice);
    arrays[e.name] = { shape: e.shape, dtype: e.dtype, data };
  }
  for (const [name, want] of Object.entries(expect.arrays ?? {})) {
    const got = arrays[name];
    if (!got) throw new CheckpointError(file, `array '${name}' is missing`);
    if (got.dtype !== want.dtype || got.shape.join(',') !== want.shape.join(',')) {
      throw new CheckpointError(
        file,
        `array '${name}' is ${got.dtype} [${got.shape.join(', ')}] but the model expects ${want.dtype} [${want.shape.join(', ')}]`,
      );
    }
  }
  return {
    version,
    createdAt: header.createdAt,
    iteration: header.iteration,
    configHash: header.configHash,
    rng: header.rng,
    ...(header.optimizer ? { optimizer: header.optimizer } : {}),
    ...(header.extra ? { extra: header.extra } : {}),
    arrays,
  };
}

/** Writes a checkpoint atomically (a crash mid-save leaves the previous checkpoint intact). */
export async function saveCheckpoint(
  path: string,
  meta: CheckpointMeta,
  arrays: CheckpointArrays,
): Promise<void> {
  await writeFileAtomic(path, encodeCheckpoint(meta, arrays, path));
}

/** Reads and verifies a checkpoint; throws {@link CheckpointError} naming `path` on any problem. */
export async function loadCheckpoint(path: string, expect: CheckpointExpectations = {}): Promise<Checkpoint> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new CheckpointError(
      path,
      `cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    );
  }
  return decodeCheckpoint(bytes, path, expect);
}
