/**
 * Fetching the official Omniglot archives from `brendenlake/omniglot` (for users with a network). Archives
 * are cached in a folder and checked by size and md5 (the digests the publisher lists) before use.
 */
import { mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../io/atomic.js';
import { bytesDigest } from '../checksum.js';
import { DatasetFileError } from '../errors.js';
import { OFFICIAL_ARCHIVES, type OfficialArchive, type OmniglotSet } from './constants.js';

/** The fetch signature used, injectable so callers can add proxies or tests can stub the network. */
export type FetchLike = (
  url: string,
) => Promise<{ ok: boolean; status: number; arrayBuffer(): Promise<ArrayBuffer> }>;

/**
 * Returns the verified bytes of a set's official archive, downloading it into `cacheDir` unless a verified
 * copy is already there.
 *
 * @throws DatasetFileError naming the URL or cached file when the download fails or the bytes do not match.
 */
export async function fetchOfficialArchive(
  set: OmniglotSet,
  cacheDir: string,
  fetchImpl: FetchLike = fetch,
): Promise<{ path: string; bytes: Uint8Array; archive: OfficialArchive }> {
  const archive = OFFICIAL_ARCHIVES[set];
  const path = join(cacheDir, archive.name);
  const cached = await stat(path).catch(() => undefined);
  if (cached?.size === archive.bytes) {
    const bytes = await readFile(path);
    if (bytesDigest(bytes, 'md5') === archive.md5) return { path, bytes, archive };
  }
  let bytes: Uint8Array;
  try {
    const response = await fetchImpl(archive.url);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    bytes = new Uint8Array(await response.arrayBuffer());
  } catch (cause) {
    throw new DatasetFileError(
      archive.url,
      `download failed (${(cause as Error).message})`,
      'Check the network, or use the shared copy: metatape datasets prepare omniglot --from ../shared/datasets/omniglot',
      { cause },
    );
  }
  const md5 = bytesDigest(bytes, 'md5');
  if (bytes.length !== archive.bytes || md5 !== archive.md5) {
    throw new DatasetFileError(
      archive.url,
      `downloaded ${bytes.length} bytes with md5 ${md5}, expected ${archive.bytes} bytes with md5 ${archive.md5}`,
      'Retry, or use the shared copy: metatape datasets prepare omniglot --from ../shared/datasets/omniglot',
    );
  }
  await mkdir(cacheDir, { recursive: true });
  await writeFileAtomic(path, bytes);
  return { path, bytes, archive };
}
