/**
 * A parser for NumPy's `.npy` format (versions 1-3), limited to the C-order little-endian dtypes the datasets
 * use. Parsing never copies the payload unless alignment forces it.
 */
import { DatasetFileError } from './errors.js';

/** The element types {@link parseNpy} understands, named as in NumPy. */
export type NpyDType = 'bool' | 'uint8' | 'int64' | 'float32';

/** A parsed `.npy` array. `bool` arrays hold 0/1 bytes (see {@link parseNpy}). */
export type NpyArray =
  | { dtype: 'bool' | 'uint8'; shape: number[]; data: Uint8Array }
  | { dtype: 'int64'; shape: number[]; data: BigInt64Array }
  | { dtype: 'float32'; shape: number[]; data: Float32Array };

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

// Descriptors map to (dtype, bytes per element). '|' means byte order does not apply.
const DESCRS: Record<string, [NpyDType, number]> = {
  '|b1': ['bool', 1],
  '|u1': ['uint8', 1],
  '<u1': ['uint8', 1],
  '<i8': ['int64', 8],
  '<f4': ['float32', 4],
};

/**
 * Parses one `.npy` file held in memory.
 *
 * Bool payloads are normalised to 0/1 in place, because NumPy treats every non-zero byte as true.
 *
 * @param bytes the whole file (bool payloads are modified in place).
 * @param name the file name used in errors (e.g. `images_background.npz:images.npy`).
 * @throws DatasetFileError on a bad magic, an unsupported dtype or Fortran order, or a payload whose size does
 *   not match the header (a truncated file).
 */
export function parseNpy(bytes: Uint8Array, name: string): NpyArray {
  const fail = (problem: string): never => {
    throw new DatasetFileError(name, `not a readable .npy file: ${problem}`);
  };
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) fail('bad magic bytes');
  const major = bytes[6]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen: number;
  let headerStart: number;
  if (major === 1) {
    headerLen = view.getUint16(8, true);
    headerStart = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) fail('truncated header');
    headerLen = view.getUint32(8, true);
    headerStart = 12;
  } else {
    return fail(`unsupported format version ${major}`);
  }
  const dataStart = headerStart + headerLen;
  if (dataStart > bytes.length) fail('truncated header');
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(
    bytes.subarray(headerStart, dataStart),
  );
  const descr = /'descr'\s*:\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    return fail(`cannot parse header ${JSON.stringify(header.trim())}`);
  }
  if (fortran === 'True') fail('Fortran-order arrays are not supported (C order only)');
  const spec = DESCRS[descr];
  if (!spec)
    return fail(`unsupported dtype '${descr}' (supported: bool, uint8, little-endian int64, float32)`);
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map(Number);
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) fail(`bad shape (${shapeText})`);
  const [dtype, width] = spec;
  const count = shape.reduce((a, b) => a * b, 1);
  const expected = count * width;
  const available = bytes.length - dataStart;
  if (available < expected) fail(`truncated payload: ${available} of ${expected} bytes`);
  if (available > expected) fail(`${available - expected} unexpected trailing bytes`);
  const payload = bytes.subarray(dataStart, dataStart + expected);
  switch (dtype) {
    case 'bool':
      // NumPy reads any non-zero byte as true, and some writers store 0xff; normalise to 0/1 in place so that
      // consumers can do arithmetic on the bytes.
      for (let i = 0; i < payload.length; i++) if (payload[i]! > 1) payload[i] = 1;
      return { dtype, shape, data: payload };
    case 'uint8':
      return { dtype, shape, data: payload };
    case 'int64':
      return { dtype, shape, data: new BigInt64Array(aligned(payload, 8), 0, count) };
    case 'float32':
      return { dtype, shape, data: new Float32Array(aligned(payload, 4), 0, count) };
  }
}

// Typed views need aligned offsets; zip members usually are, but a copy is cheap insurance when not.
function aligned(payload: Uint8Array, width: number): ArrayBuffer {
  if (payload.byteOffset % width === 0 && payload.buffer instanceof ArrayBuffer) {
    return payload.buffer.slice(payload.byteOffset, payload.byteOffset + payload.byteLength);
  }
  return payload.slice().buffer;
}
