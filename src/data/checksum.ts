/**
 * Streaming file digests, so large files are never held in memory just to be hashed.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { DatasetFileError } from './errors.js';

/**
 * The hex digest of a file.
 *
 * @param algorithm a `node:crypto` hash name such as `sha256` or `md5`.
 * @throws DatasetFileError naming the file when it cannot be read.
 */
export async function fileDigest(path: string, algorithm: 'sha256' | 'md5' = 'sha256'): Promise<string> {
  const hash = createHash(algorithm);
  try {
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
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
  return hash.digest('hex');
}

/** The hex digest of bytes in memory. */
export function bytesDigest(bytes: Uint8Array, algorithm: 'sha256' | 'md5' = 'sha256'): string {
  return createHash(algorithm).update(bytes).digest('hex');
}
