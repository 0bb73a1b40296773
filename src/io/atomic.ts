import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { open, readdir, rename, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { processAlive } from './processes.js';

/** Bytes or text accepted by the atomic writers (text is written as UTF-8). */
export type AtomicData = string | Uint8Array;

/** `.<name>.<pid>.<hex>.tmp`: the temporary files {@link writeFileAtomic} makes, with the writer's pid. */
const TEMP_PATTERN = /^\.(.+)\.(\d+)\.[0-9a-f]{8}\.tmp$/;

function tempPathFor(path: string): string {
  // Same directory as the target so the final rename never crosses file systems (rename is only atomic
  // within one). The leading dot and random suffix keep concurrent writers and directory listings apart.
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

/**
 * Writes `data` to `path` so that readers see either the old file or the complete new one, never a prefix:
 * the data goes to a temporary file in the same directory, is fsynced, renamed over `path`, and the directory
 * is fsynced so the rename itself survives a power loss. On failure the temporary file is removed and any
 * previous file at `path` is left untouched.
 */
export async function writeFileAtomic(path: string, data: AtomicData): Promise<void> {
  const tmp = tempPathFor(path);
  try {
    await writeViaTemporary(path, tmp, data);
  } catch (err) {
    throw namingFile(err, path);
  }
  await fsyncDir(dirname(path));
}

/**
 * A write error that names the file: Node's `ENOSPC: no space left on device, write` names none (the write
 * went to a descriptor). Keeps `code` and the original as `cause`.
 */
export function namingFile(err: unknown, path: string): unknown {
  if (!(err instanceof Error) || err.message.includes(path)) return err;
  const named = new Error(
    `${path}: ${err.message}${(err as NodeJS.ErrnoException).code === 'ENOSPC' ? ' (free some space, then resume the run)' : ''}`,
    { cause: err },
  );
  const code = (err as NodeJS.ErrnoException).code;
  if (code) (named as NodeJS.ErrnoException).code = code;
  return named;
}

async function writeViaTemporary(path: string, tmp: string, data: AtomicData): Promise<void> {
  try {
    const fh = await open(tmp, 'wx', 0o644);
    try {
      await writeFile(fh, data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}

/** Synchronous twin of {@link writeFileAtomic}, for exit handlers and other places that cannot await. */
export function writeFileAtomicSync(path: string, data: AtomicData): void {
  const tmp = tempPathFor(path);
  try {
    const fd = openSync(tmp, 'wx', 0o644);
    try {
      const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
      let off = 0;
      while (off < bytes.byteLength) off += writeSync(fd, bytes, off, bytes.byteLength - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // the temp file may never have been created
    }
    throw err;
  }
  try {
    const dfd = openSync(dirname(path), 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch {
    // see fsyncDir
  }
}

async function fsyncDir(dir: string): Promise<void> {
  // Directory fsync is what makes the rename durable on Linux; some platforms (Windows) and file systems
  // refuse to open or sync a directory, where there is nothing more we can do, so failures are ignored.
  try {
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // best effort
  }
}

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
 * several files and committing them only once all are written keeps a failed multi-file job (dataset
 * preparation) from leaving a mix of old and new outputs.
 */
export async function stageFile(path: string, data: AtomicData): Promise<StagedFile> {
  const tempPath = tempPathFor(path);
  const fh = await open(tempPath, 'wx', 0o644);
  try {
    await writeFile(fh, data);
    await fh.sync();
  } catch (err) {
    await fh.close().catch(() => undefined);
    await unlink(tempPath).catch(() => undefined);
    throw err;
  }
  await fh.close();
  let committed = false;
  return {
    path,
    tempPath,
    async commit() {
      await rename(tempPath, path);
      committed = true;
      await fsyncDir(dirname(path));
    },
    async discard() {
      if (!committed) await unlink(tempPath).catch(() => undefined);
    },
  };
}

/**
 * Removes the temporary files that writers killed mid-write left in `dir` (those of processes that are no
 * longer running; a live writer's file is left alone). Returns the paths removed.
 */
export async function removeStaleTemporaries(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const m = TEMP_PATTERN.exec(name);
    if (!m || processAlive(Number(m[2]))) continue;
    const path = join(dir, name);
    await unlink(path).then(
      () => removed.push(path),
      () => undefined, // another process cleaned it first
    );
  }
  return removed;
}
