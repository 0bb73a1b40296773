import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { endianness } from 'node:os';
import { writeFileAtomic } from '../io/atomic.js';
import { fromArray } from '../ops/creation.js';
import type { DType, TypedArray } from '../tensor/dtype.js';
import { fmtShape, shapesEqual, sizeOf } from '../tensor/shape.js';
import type { ParamSpec } from './layer.js';
import type { Params } from './params.js';

/**
 * # The metatape parameter file (`.mtp`), version 1
 *
 * A self-describing, checksummed little-endian binary file holding a flat record of named tensors plus a
 * JSON metadata object:
 *
 * | offset        | bytes | field                                                                    |
 * |---------------|-------|--------------------------------------------------------------------------|
 * | 0             | 8     | magic: ASCII `MTPARAMS`                                                  |
 * | 8             | 4     | format version, uint32 LE (= 1)                                          |
 * | 12            | 4     | header length H in bytes, uint32 LE                                      |
 * | 16            | 8     | payload length P in bytes, uint64 LE                                     |
 * | 24            | H     | header: UTF-8 JSON `{"meta": {...}, "tensors": [entry, ...]}`            |
 * | 24 + H        | 0..7  | zero padding so that the payload starts at a multiple of 8               |
 * | payload start | P     | tensor values, row-major, little-endian, each at an 8-aligned offset     |
 * | end - 32      | 32    | SHA-256 of every preceding byte                                          |
 *
 * A header entry is `{"name": string, "dtype": "float32" | "float64" | "int32", "shape": number[],
 * "offset": number, "byteLength": number}`; `offset` counts from the payload start, and `byteLength` must equal
 * the element count times the dtype's size. Entries are in the record's key order and names are unique.
 *
 * Files are written atomically (a temporary file in the same folder, fsynced, then renamed over the target), so
 * a crash leaves the old file or the new one. Loading verifies the magic, the version, the lengths (a
 * truncated or over-long file is reported as such), the checksum, the header's structure and every entry's
 * bounds, and optionally the names and shapes against a model's {@link ParamSpec}s; each failure is a
 * {@link ParamsFileError} naming the file and, where one is at fault, the parameter.
 */
export const PARAMS_FILE_MAGIC = 'MTPARAMS';
/** The format version this build writes and reads. */
export const PARAMS_FILE_VERSION = 1;

const PREFIX_BYTES = 24;
const DIGEST_BYTES = 32;
const DTYPE_BYTES: Record<DType, number> = { float32: 4, float64: 8, int32: 4 };

/** JSON-serialisable metadata stored with the parameters (architecture, iteration, config hash, ...). */
export type ParamsMeta = { [key: string]: unknown };

/** A parameter file could not be written, read or matched to a model. */
export class ParamsFileError extends Error {
  constructor(
    readonly file: string,
    message: string,
    readonly param?: string,
  ) {
    super(`${file}: ${param === undefined ? '' : `parameter '${param}': `}${message}`);
    this.name = 'ParamsFileError';
  }
}

interface HeaderEntry {
  name: string;
  dtype: DType;
  shape: number[];
  offset: number;
  byteLength: number;
}

const align8 = (n: number): number => Math.ceil(n / 8) * 8;

function assertLittleEndianHost(file: string): void {
  // Values are copied as raw bytes; a big-endian host would need a byte swap this build does not do.
  if (endianness() !== 'LE')
    throw new ParamsFileError(file, 'parameter files can only be read and written on little-endian hosts');
}

/** Encodes a record in the format above (exposed for tests and in-memory use). */
export async function encodeParams(
  params: Params,
  meta: ParamsMeta = {},
  file = '<memory>',
): Promise<Uint8Array> {
  assertLittleEndianHost(file);
  const entries: HeaderEntry[] = [];
  const values: TypedArray[] = [];
  let offset = 0;
  for (const [name, t] of Object.entries(params)) {
    const data = await t.data();
    const byteLength = data.byteLength;
    entries.push({ name, dtype: t.dtype, shape: [...t.shape], offset, byteLength });
    values.push(data);
    offset = align8(offset + byteLength);
  }
  let headerText: string;
  try {
    headerText = JSON.stringify({ meta, tensors: entries });
  } catch (e) {
    throw new ParamsFileError(file, `metadata is not JSON-serialisable (${(e as Error).message})`);
  }
  const header = new TextEncoder().encode(headerText);
  const payloadStart = align8(PREFIX_BYTES + header.byteLength);
  const payloadLength = offset;
  const total = payloadStart + payloadLength + DIGEST_BYTES;
  const bytes = new Uint8Array(total);
  const view = new DataView(bytes.buffer);
  bytes.set(new TextEncoder().encode(PARAMS_FILE_MAGIC), 0);
  view.setUint32(8, PARAMS_FILE_VERSION, true);
  view.setUint32(12, header.byteLength, true);
  view.setBigUint64(16, BigInt(payloadLength), true);
  bytes.set(header, PREFIX_BYTES);
  entries.forEach((e, i) => {
    const v = values[i]!;
    bytes.set(new Uint8Array(v.buffer, v.byteOffset, v.byteLength), payloadStart + e.offset);
  });
  bytes.set(sha256(bytes.subarray(0, total - DIGEST_BYTES)), total - DIGEST_BYTES);
  return bytes;
}

/** What {@link loadParams} returns. */
export interface LoadedParams {
  params: Params;
  meta: ParamsMeta;
}

/** Expected parameters: a model's specs (only `name` and `shape` are compared). */
export type ExpectedParams = readonly Pick<ParamSpec, 'name' | 'shape'>[];

/** Decodes bytes in the format above, verifying everything listed there. */
export function decodeParams(bytes: Uint8Array, file = '<memory>', expected?: ExpectedParams): LoadedParams {
  assertLittleEndianHost(file);
  if (bytes.byteLength < PREFIX_BYTES + DIGEST_BYTES) {
    throw new ParamsFileError(
      file,
      `truncated or not a parameter file: ${bytes.byteLength} bytes is shorter than the fixed header`,
    );
  }
  const magic = new TextDecoder().decode(bytes.subarray(0, 8));
  if (magic !== PARAMS_FILE_MAGIC)
    throw new ParamsFileError(
      file,
      `not a metatape parameter file (magic ${JSON.stringify(magic)}, expected ${PARAMS_FILE_MAGIC})`,
    );
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8, true);
  if (version !== PARAMS_FILE_VERSION) {
    throw new ParamsFileError(
      file,
      `format version ${version} is not supported (this build reads version ${PARAMS_FILE_VERSION})`,
    );
  }
  const headerLength = view.getUint32(12, true);
  const payloadLength = Number(view.getBigUint64(16, true));
  const payloadStart = align8(PREFIX_BYTES + headerLength);
  const expectedTotal = payloadStart + payloadLength + DIGEST_BYTES;
  if (bytes.byteLength < expectedTotal) {
    throw new ParamsFileError(
      file,
      `truncated: ${bytes.byteLength} bytes, the header announces ${expectedTotal}`,
    );
  }
  if (bytes.byteLength > expectedTotal) {
    throw new ParamsFileError(
      file,
      `corrupt: ${bytes.byteLength - expectedTotal} unexpected trailing bytes (expected ${expectedTotal} in all)`,
    );
  }
  const digest = sha256(bytes.subarray(0, expectedTotal - DIGEST_BYTES));
  const stored = bytes.subarray(expectedTotal - DIGEST_BYTES);
  if (!digest.every((b, i) => b === stored[i]))
    throw new ParamsFileError(file, 'corrupt: SHA-256 checksum mismatch');

  let header: unknown;
  try {
    header = JSON.parse(
      new TextDecoder('utf-8', { fatal: true }).decode(
        bytes.subarray(PREFIX_BYTES, PREFIX_BYTES + headerLength),
      ),
    );
  } catch (e) {
    throw new ParamsFileError(file, `corrupt header (${(e as Error).message})`);
  }
  const { meta, entries } = checkHeader(header, payloadLength, file);
  const params: Params = {};
  for (const e of entries) {
    const start = bytes.byteOffset + payloadStart + e.offset;
    // Copy into a fresh, aligned buffer: the file's buffer may not be aligned for Float64Array.
    const raw = bytes.buffer.slice(start, start + e.byteLength);
    const data =
      e.dtype === 'float32'
        ? new Float32Array(raw)
        : e.dtype === 'float64'
          ? new Float64Array(raw)
          : new Int32Array(raw);
    params[e.name] = fromArray(data, e.shape);
  }
  if (expected) checkParamsAgainst(params, expected, file);
  return { params, meta };
}

function checkHeader(
  header: unknown,
  payloadLength: number,
  file: string,
): { meta: ParamsMeta; entries: HeaderEntry[] } {
  const h = header as { meta?: unknown; tensors?: unknown };
  if (
    typeof h !== 'object' ||
    h === null ||
    !Array.isArray(h.tensors) ||
    typeof h.meta !== 'object' ||
    h.meta === null ||
    Array.isArray(h.meta)
  ) {
    throw new ParamsFileError(file, 'corrupt header: expected {"meta": {...}, "tensors": [...]}');
  }
  const seen = new Set<string>();
  const entries: HeaderEntry[] = [];
  for (const raw of h.tensors as unknown[]) {
    const e = raw as Partial<HeaderEntry>;
    const name = typeof e?.name === 'string' ? e.name : undefined;
    if (name === undefined) throw new ParamsFileError(file, 'corrupt header: a tensor entry has no name');
    if (seen.has(name)) throw new ParamsFileError(file, 'corrupt header: duplicate entry', name);
    seen.add(name);
    if (e.dtype !== 'float32' && e.dtype !== 'float64' && e.dtype !== 'int32') {
      throw new ParamsFileError(file, `corrupt header: unknown dtype ${JSON.stringify(e.dtype)}`, name);
    }
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new ParamsFileError(file, `corrupt header: bad shape ${JSON.stringify(e.shape)}`, name);
    }
    const { offset, byteLength } = e;
    if (
      !Number.isInteger(offset) ||
      !Number.isInteger(byteLength) ||
      offset! < 0 ||
      offset! % 8 !== 0 ||
      offset! + byteLength! > payloadLength
    ) {
      throw new ParamsFileError(
        file,
        `corrupt header: offset ${offset} / byteLength ${byteLength} outside the ${payloadLength}-byte payload`,
        name,
      );
    }
    if (byteLength !== sizeOf(e.shape) * DTYPE_BYTES[e.dtype]) {
      throw new ParamsFileError(
        file,
        `corrupt header: ${byteLength} bytes do not hold ${e.dtype}${fmtShape(e.shape)}`,
        name,
      );
    }
    entries.push({ name, dtype: e.dtype, shape: e.shape, offset: offset!, byteLength: byteLength! });
  }
  return { meta: h.meta as ParamsMeta, entries };
}

/**
 * Checks a record against expected names and shapes. Names are compared first (a missing or unexpected
 * parameter says more about an architecture mismatch than a shape does); the error names the first offender.
 */
export function checkParamsAgainst(params: Params, expected: ExpectedParams, file: string): void {
  const want = new Set(expected.map((s) => s.name));
  for (const s of expected) {
    if (!params[s.name])
      throw new ParamsFileError(
        file,
        `missing from the file (it has: ${Object.keys(params).join(', ') || 'nothing'})`,
        s.name,
      );
  }
  for (const name of Object.keys(params)) {
    if (!want.has(name))
      throw new ParamsFileError(file, 'in the file but not among the expected parameters', name);
  }
  for (const s of expected) {
    const t = params[s.name]!;
    if (!shapesEqual(t.shape, s.shape)) {
      throw new ParamsFileError(
        file,
        `shape ${fmtShape(t.shape)} in the file, the model expects ${fmtShape(s.shape)}`,
        s.name,
      );
    }
  }
}

/**
 * Saves a parameter record and metadata to `path` in the format documented on {@link PARAMS_FILE_MAGIC},
 * atomically (temporary file, fsync, rename).
 */
export async function saveParams(path: string, params: Params, meta: ParamsMeta = {}): Promise<void> {
  const bytes = await encodeParams(params, meta, path);
  try {
    await writeFileAtomic(path, bytes);
  } catch (e) {
    throw new ParamsFileError(path, `could not write (${(e as Error).message})`);
  }
}

/**
 * Loads a parameter file written by {@link saveParams}. With `expected` (e.g. `model.specs`), the file must
 * hold exactly those names with those shapes. Tensors are created on the current backend in the file's dtypes.
 */
export async function loadParams(path: string, expected?: ExpectedParams): Promise<LoadedParams> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new ParamsFileError(path, `could not read (${(e as Error).message})`);
  }
  return decodeParams(bytes, path, expected);
}

function sha256(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(bytes).digest());
}
