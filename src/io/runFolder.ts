import { mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { stringify } from 'yaml';
import { writeFileAtomic, writeFileAtomicSync } from './atomic.js';
import { isStaleRunning } from './processes.js';

/** Life-cycle state of a run, as recorded in its `status.json`. */
export type RunState = 'running' | 'completed' | 'failed' | 'interrupted';

/** The headline number of a run (what `metatape ls` shows), e.g. final 5-step query accuracy. */
export interface Headline {
  metric: string;
  value: number;
}

/** Contents of `status.json`. */
export interface RunStatus {
  state: RunState;
  startedAt: string;
  updatedAt: string;
  /** Last completed meta-training iteration, when known. */
  iteration?: number;
  /** Total iterations planned. */
  iterations?: number;
  headline?: Headline;
  /** One-line reason for `failed` / `interrupted`. */
  message?: string;
  pid: number;
  host: string;
}

/** A created run folder. */
export interface RunFolder {
  /** Absolute path `<outDir>/<name>/<timestamp>`. */
  dir: string;
  name: string;
  timestamp: string;
}

/** A run found on disk by {@link listRuns}. */
export interface RunInfo extends RunFolder {
  status?: RunStatus;
  /** `running` runs whose process is gone (same host only) are reported as stale. */
  stale: boolean;
}

/** File names inside a run folder. */
export const RUN_FILES = {
  configYaml: 'config.yaml',
  configJson: 'config.json',
  status: 'status.json',
  log: 'log.jsonl',
} as const;

const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** A run or folder name is unusable; thrown before anything is created. */
export class RunFolderError extends Error {
  override readonly name = 'RunFolderError';
}

/** Filesystem-safe ISO-like timestamp, e.g. `2025-11-26T10-31-05Z` (UTC, so folders sort by time). */
export function runTimestamp(date: Date = new Date()): string {
  return date
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replaceAll(':', '-');
}

/**
 * Creates `<outDir>/<name>/<timestamp>/`. Two runs started in the same second get `-2`, `-3`, ... suffixes
 * (creation is exclusive, so concurrent sweeps cannot share a folder).
 */
export async function createRunFolder(
  outDir: string,
  name: string,
  now: Date = new Date(),
): Promise<RunFolder> {
  if (!SAFE_NAME.test(name)) {
    throw new RunFolderError(
      `run name ${JSON.stringify(name)} must start with a letter or digit and use only [A-Za-z0-9._-]`,
    );
  }
  const parent = resolve(outDir, name);
  await mkdir(parent, { recursive: true });
  const base = runTimestamp(now);
  for (let i = 1; ; i++) {
    const timestamp = i === 1 ? base : `${base}-${i}`;
    const dir = join(parent, timestamp);
    try {
      await mkdir(dir);
      return { dir, name, timestamp };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}

/** Writes the resolved (defaults filled in) config as `config.yaml` and `config.json`. */
export async function writeResolvedConfig(dir: string, config: unknown): Promise<void> {
  const header =
    '# Resolved config of this run (defaults and overrides applied). Re-run with: metatape run <this file>\n';
  await writeFileAtomic(join(dir, RUN_FILES.configYaml), header + stringify(config));
  await writeFileAtomic(join(dir, RUN_FILES.configJson), `${JSON.stringify(config, null, 2)}\n`);
}

/** Reads the resolved config a run was started with (unvalidated; validate with the config loader). */
export async function readRunConfig(dir: string): Promise<unknown> {
  return JSON.parse(await readFile(join(dir, RUN_FILES.configJson), 'utf8'));
}

/** Fields of a status update; `startedAt`, `updatedAt`, `pid` and `host` are filled in. */
export type StatusUpdate = Omit<RunStatus, 'startedAt' | 'updatedAt' | 'pid' | 'host'> & {
  startedAt?: string;
};

function fillStatus(update: StatusUpdate, startedAt: string): RunStatus {
  return { ...update, startedAt, updatedAt: new Date().toISOString(), pid: process.pid, host: hostname() };
}

/** Writes `status.json` atomically. Returns what was written. */
export async function writeStatus(dir: string, update: StatusUpdate): Promise<RunStatus> {
  const status = fillStatus(
    update,
    update.startedAt ?? (await readStatus(dir))?.startedAt ?? new Date().toISOString(),
  );
  await writeFileAtomic(join(dir, RUN_FILES.status), `${JSON.stringify(status, null, 2)}\n`);
  return status;
}

/** Synchronous status write for signal/exit handlers, where awaiting is not possible. */
export function writeStatusSync(dir: string, update: StatusUpdate & { startedAt: string }): RunStatus {
  const status = fillStatus(update, update.startedAt);
  writeFileAtomicSync(join(dir, RUN_FILES.status), `${JSON.stringify(status, null, 2)}\n`);
  return status;
}

/** Reads `status.json`, or undefined when the run has none (or it is unreadable). */
export async function readStatus(dir: string): Promise<RunStatus | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, RUN_FILES.status), 'utf8')) as RunStatus;
  } catch {
    return undefined;
  }
}

async function subdirs(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    return entries.filter((e) => e.isDirectory()).map((e) => e.name);
  } catch {
    return [];
  }
}

/**
 * Lists run folders under `outDir` (newest first). A folder counts as a run when it has a `status.json` or
 * `config.json`, so other content in the output folder (seed scripts, notes) is ignored.
 */
export async function listRuns(outDir: string, filter: { name?: string } = {}): Promise<RunInfo[]> {
  const runs: RunInfo[] = [];
  const names = filter.name ? [filter.name] : await subdirs(outDir);
  for (const name of names) {
    for (const timestamp of await subdirs(join(outDir, name))) {
      const dir = resolve(outDir, name, timestamp);
      const status = await readStatus(dir);
      const isRun =
        status !== undefined || (await stat(join(dir, RUN_FILES.configJson)).catch(() => undefined));
      if (!isRun) continue;
      const stale = isStaleRunning(status);
      runs.push({ dir, name, timestamp, ...(status ? { status } : {}), stale });
    }
  }
  return runs.sort((a, b) => (a.timestamp < b.timestamp ? 1 : a.timestamp > b.timestamp ? -1 : 0));
}

/**
 * Finds a run from what a user typed: a path to a run folder, or `<name>` (its newest run), or
 * `<name>/<timestamp>` relative to `outDir`.
 */
export async function resolveRunDir(outDir: string, ref: string): Promise<string> {
  const isDir = async (p: string) => (await stat(p).catch(() => undefined))?.isDirectory() ?? false;
  const hasRunFiles = async (p: string) =>
    (await stat(join(p, RUN_FILES.configJson)).catch(() => undefined)) !== undefined ||
    (await stat(join(p, RUN_FILES.status)).catch(() => undefined)) !== undefined;
  // A path the user typed is taken as it is; a name is looked up only inside outDir (`../x` or `/x` as a
  // name would otherwise reach folders outside the root of runs, and eval would write there).
  const root = resolve(outDir);
  const underRoot = resolve(root, ref);
  const rel = relative(root, underRoot);
  const insideRoot = rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
  for (const candidate of [resolve(ref), ...(insideRoot ? [underRoot] : [])]) {
    if ((await isDir(candidate)) && (await hasRunFiles(candidate))) return candidate;
  }
  const newest = SAFE_NAME.test(ref) ? (await listRuns(outDir, { name: ref }))[0] : undefined;
  if (newest) return newest.dir;
  throw new RunFolderError(
    `no run found for '${ref}' (looked for a run folder path and for runs named '${ref}' in ${outDir})`,
  );
}
