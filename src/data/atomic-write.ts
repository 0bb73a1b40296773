/**
 * Crash-safe file writes: data goes to a temporary file in the destination's folder, is fsynced, then
 * renamed over the destination, so readers see either the old file or the complete new one, never half.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** A written but not yet published temporary file; see {@link stageFile}. */
export interface StagedFile {
  /** The final path. */
  readonly path: string;
  /** The temporary path the data sits at until {@link StagedFile.commit}. */
  readonly tempPath: string;
  /** Renames the temporary file onto the final path and fsyncs the folder. */
  commit(): Promise<void>;
  /** Deletes the temporary file; safe to call more than once, and after a commit it does nothing. */
  discard(): Promise<void>;
}

/**
 * Writes `data` to a hidden temporary file beside `path` and fsyncs it, without publishing it yet. Staging
 * several files and committing them only once all are written keeps a failed multi-file job from leaving a
 * mix of old and new outputs.
 */
export async function stageFile(path: string, data: Uint8Array | string): Promise<StagedFile> {
  const dir = dirname(path);
  const tempPath = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  let committed = false;
  const handle = await open(tempPath, 'wx');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (error) {
    await handle.close().catch(() => undefined);
    await rm(tempPath, { force: true });
    throw error;
  }
  await handle.close();
  return {
    path,
    tempPath,
    async commit() {
      await rename(tempPath, path);
      committed = true;
      await fsyncDir(dir);
    },
    async discard() {
      if (!committed) await rm(tempPath, { force: true });
    },
  };
}

/** Writes a file atomically (temp file in the same folder, fsync, rename). */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const staged = await stageFile(path, data);
  try {
    await staged.commit();
  } catch (error) {
    await staged.discard();
    throw error;
  }
}

// The rename is durable only once the folder entry is synced; some platforms cannot open folders, which is
// harmless to skip.
async function fsyncDir(dir: string): Promise<void> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // Folder fsync is best effort (not supported on Windows).
  } finally {
    await handle?.close().catch(() => undefined);
  }
}
