/**
 * One writer per run folder: an exclusive lock file, so that two `run --run-dir D`, a `resume` of a run that
 * still trains, or an `eval` writing into a folder another process writes cannot interleave checkpoints,
 * metrics rows and status. A lock whose process has died (SIGKILL, power loss) is detected and taken over.
 */
import { randomBytes } from 'node:crypto';
import { unlinkSync } from 'node:fs';
import { link, readFile, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { processAlive } from './processes.js';

/** File name of the lock inside a run folder. */
export const RUN_LOCK_FILE = '.lock';

/** What a lock file records about its holder. */
export interface RunLockOwner {
  pid: number;
  host: string;
  /** What holds it (`run`, `resume`, `eval`, ...), for the message another process shows. */
  purpose: string;
  since: string;
  /** Random token, so a release never removes a lock that another process took over since. */
  token: string;
}

/** The folder is locked by a live process (or one on another host, which cannot be checked from here). */
export class RunLockedError extends Error {
  override readonly name = 'RunLockedError';
  constructor(
    readonly dir: string,
    readonly owner: RunLockOwner,
  ) {
    const sameHost = owner.host === hostname();
    super(
      `${dir} is in use by process ${owner.pid}${sameHost ? '' : ` on host ${owner.host}`} (${owner.purpose} since ${owner.since}); ` +
        (sameHost
          ? 'wait for it to finish or stop it first'
          : `if nothing on ${owner.host} uses it any more, delete ${join(dir, RUN_LOCK_FILE)}`),
    );
  }
}

/** A held lock; {@link RunLock.release} (idempotent) gives it back, and process exit does too. */
export interface RunLock {
  readonly path: string;
  /** Set when a dead holder's lock was taken over: who it was. */
  readonly tookOverFrom?: RunLockOwner;
  release(): Promise<void>;
}

async function readOwner(path: string): Promise<RunLockOwner | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as RunLockOwner;
  } catch {
    return undefined; // gone, or a torn write by a killed holder: treated as stale
  }
}

/**
 * Takes the lock of run folder `dir` for `purpose`.
 *
 * @throws RunLockedError when a live process (or one on another host) holds it.
 */
export async function acquireRunLock(dir: string, purpose: string): Promise<RunLock> {
  const path = join(dir, RUN_LOCK_FILE);
  const owner: RunLockOwner = {
    pid: process.pid,
    host: hostname(),
    purpose,
    since: new Date().toISOString(),
    token: randomBytes(8).toString('hex'),
  };
  // Written in full under a private name, then linked into place: link() fails if the lock exists, so taking
  // it is atomic and a reader never sees a half-written lock file.
  const staged = join(dir, `${RUN_LOCK_FILE}.${process.pid}.${owner.token}.tmp`);
  await writeFile(staged, JSON.stringify(owner));
  let tookOverFrom: RunLockOwner | undefined;
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        await link(staged, path);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 3) throw err;
      }
      const held = await readOwner(path);
      const stale =
        held === undefined ||
        (held.host === owner.host && held.pid !== process.pid && !processAlive(held.pid));
      if (!stale) throw new RunLockedError(dir, held);
      tookOverFrom = held;
      await unlink(path).catch(() => undefined);
    }
  } finally {
    await unlink(staged).catch(() => undefined);
  }
  let released = false;
  const releaseSync = () => {
    if (released) return;
    released = true;
    try {
      unlinkSync(path);
    } catch {
      // already gone
    }
  };
  process.once('exit', releaseSync);
  return {
    path,
    ...(tookOverFrom ? { tookOverFrom } : {}),
    async release() {
      if (released) return;
      process.off('exit', releaseSync);
      // Only our own lock: a process that found us dead (it cannot, while we run) would have its own token.
      if ((await readOwner(path))?.token === owner.token) await unlink(path).catch(() => undefined);
      released = true;
    },
  };
}
