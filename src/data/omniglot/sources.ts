/**
 * Finding, verifying and decoding the `.npz` source files.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { bytesDigest } from '../checksum.js';
import { DatasetFileError } from '../errors.js';
import { decodeNpz } from '../npz.js';
import {
  DRAWINGS,
  type OmniglotSet,
  SET_INFO,
  type SetInfo,
  SOURCE_HINT,
  SOURCE_SIZE,
  type SourceFile,
} from './constants.js';
import type { RawOmniglotSet } from './raw-set.js';

/**
 * Reads a source file and checks its size and sha256 against the embedded table.
 *
 * @returns the file's bytes.
 * @throws DatasetFileError naming the file when it is missing, truncated, oversized or has the wrong digest,
 *   with a hint on how to get a good copy.
 */
export async function readVerifiedSource(dir: string, spec: SourceFile): Promise<Uint8Array> {
  const path = join(dir, spec.name);
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch (cause) {
    throw new DatasetFileError(path, 'missing source file', SOURCE_HINT, { cause });
  }
  if (size < spec.bytes) {
    throw new DatasetFileError(path, `truncated source file (${size} of ${spec.bytes} bytes)`, SOURCE_HINT);
  }
  if (size > spec.bytes) {
    throw new DatasetFileError(path, `wrong size (${size} bytes, expected ${spec.bytes})`, SOURCE_HINT);
  }
  const bytes = await readFile(path);
  const digest = bytesDigest(bytes);
  if (digest !== spec.sha256) {
    throw new DatasetFileError(path, `sha256 mismatch (got ${digest}, expected ${spec.sha256})`, SOURCE_HINT);
  }
  return bytes;
}

/**
 * Decodes a verified `.npz` set and checks its arrays' dtypes, shapes and labels.
 *
 * @param name the file's path, used in errors.
 * @param info the set's expected counts (default the real Omniglot's).
 * @throws DatasetFileError when the arrays are not as the README describes.
 */
export function decodeNpzSet(
  bytes: Uint8Array,
  name: string,
  set: OmniglotSet,
  info: SetInfo = SET_INFO[set],
): RawOmniglotSet {
  const { characters, firstId } = info;
  const { images, labels } = decodeNpz(bytes, name, ['images', 'labels']);
  const wantShape = [characters, DRAWINGS, SOURCE_SIZE, SOURCE_SIZE];
  if (images!.dtype !== 'bool' || images!.shape.join() !== wantShape.join()) {
    throw new DatasetFileError(
      name,
      `images is ${images!.dtype} (${images!.shape}), expected bool (${wantShape})`,
      SOURCE_HINT,
    );
  }
  if (labels!.dtype !== 'int64' || labels!.shape.join() !== [characters, DRAWINGS].join()) {
    throw new DatasetFileError(name, `labels is ${labels!.dtype} (${labels!.shape})`, SOURCE_HINT);
  }
  const labelData = labels!.data as BigInt64Array;
  for (let i = 0; i < labelData.length; i++) {
    if (labelData[i] !== BigInt(Math.floor(i / DRAWINGS))) {
      throw new DatasetFileError(name, `labels[${Math.floor(i / DRAWINGS)}, ${i % DRAWINGS}] is not its row`);
    }
  }
  return { set, firstId, characters, images: images!.data as Uint8Array };
}
