/**
 * A reader for NumPy's `.npz` archives (a zip of `.npy` files, no pickle), built on fflate.
 */
import { readFile } from 'node:fs/promises';
import { unzipSync } from 'fflate';
import { DatasetFileError } from './errors.js';
import { type NpyArray, parseNpy } from './npy.js';

/**
 * Decodes an `.npz` archive held in memory into its arrays, keyed by member name without `.npy`.
 *
 * @param bytes the archive.
 * @param name the archive's name or path, used in errors.
 * @param only when given, only these arrays are inflated (the others are skipped, saving memory).
 * @throws DatasetFileError when the zip is corrupt or truncated, a member is not a valid `.npy`, or a
 *   requested array is missing.
 */
export function decodeNpz(
  bytes: Uint8Array,
  name: string,
  only?: readonly string[],
): Record<string, NpyArray> {
  let members: Record<string, Uint8Array>;
  try {
    members = unzipSync(bytes, {
      filter: (file) => only === undefined || only.includes(file.name.replace(/\.npy$/, '')),
    });
  } catch (cause) {
    throw new DatasetFileError(name, `corrupt or truncated zip archive (${(cause as Error).message})`, '', {
      cause,
    });
  }
  const out: Record<string, NpyArray> = {};
  for (const [member, data] of Object.entries(members)) {
    if (!member.endsWith('.npy')) continue;
    const key = member.slice(0, -4);
    out[key] = parseNpy(data, `${name}:${member}`);
  }
  for (const key of only ?? []) {
    if (!(key in out)) throw new DatasetFileError(name, `archive has no array '${key}'`);
  }
  return out;
}

/**
 * Reads and decodes an `.npz` file.
 *
 * @throws DatasetFileError naming the file when it is missing or unreadable, or as {@link decodeNpz}.
 */
export async function readNpz(path: string, only?: readonly string[]): Promise<Record<string, NpyArray>> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (cause) {
    throw new DatasetFileError(
      path,
      `cannot read file (${(cause as NodeJS.ErrnoException).code ?? cause})`,
      '',
      {
        cause,
      },
    );
  }
  return decodeNpz(bytes, path, only);
}
