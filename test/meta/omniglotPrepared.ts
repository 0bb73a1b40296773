import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll } from 'vitest';
import { executeRun } from '../../src/cli/session.js';
import { loadConfig } from '../../src/config/load.js';
import { prepareOmniglot } from '../../src/data/omniglot/prepare.js';
import { SHARED_OMNIGLOT } from '../data/shared.js';

/** The checkout's prepared Arrow files (gitignored, so absent in a fresh CI clone). */
const LOCAL = resolve('datasets/omniglot');
const ARROWS = ['manifest.json', 'omniglot-background-28.arrow', 'omniglot-evaluation-28.arrow'];

/**
 * A folder with prepared Omniglot: the checkout's `datasets/omniglot` when it has been prepared, otherwise a
 * fresh preparation from the read-only shared sources (`../shared/datasets/omniglot`, as CI lays it out) into
 * a temporary folder (always, with METATAPE_FRESH_OMNIGLOT=1). `cleanup` removes only what it created.
 */
export async function preparedOmniglot(): Promise<{ root: string; cleanup: () => Promise<void> }> {
  const fresh = process.env.METATAPE_FRESH_OMNIGLOT === '1'; // force CI's path on a prepared checkout
  if (!fresh && ARROWS.every((f) => existsSync(join(LOCAL, f))))
    return { root: LOCAL, cleanup: async () => {} };
  const tmp = await mkdtemp(join(tmpdir(), 'metatape-omniglot-run-'));
  const root = join(tmp, 'omniglot');
  await prepareOmniglot({ from: SHARED_OMNIGLOT, out: root });
  return { root, cleanup: () => rm(tmp, { recursive: true, force: true }) };
}

/**
 * Prepares Omniglot once for the calling test file (in `beforeAll`) and removes what it created afterwards;
 * `root()` is the folder of the prepared files.
 */
export function usePreparedOmniglot(): { root: () => string } {
  let data: Awaited<ReturnType<typeof preparedOmniglot>> | undefined;
  beforeAll(async () => {
    data = await preparedOmniglot();
  }, 120_000);
  afterAll(async () => {
    await data?.cleanup();
  });
  return {
    root: () => {
      if (!data)
        throw new Error('usePreparedOmniglot: Omniglot is not prepared yet (use root() inside a test)');
      return data.root;
    },
  };
}

const sink = () => new Writable({ write: (_c, _e, cb) => cb() });

/** Runs a shipped config end to end (as `metatape run configs/<file> --set ...`) into a temporary folder. */
export async function runConfig(file: string, overrides: string[]) {
  const out = await mkdtemp(join(tmpdir(), 'metatape-omniglot-out-'));
  const config = await loadConfig(join('configs', file), [...overrides, `output.dir=${out}`]);
  const result = await executeRun(config, { logStream: sink() });
  return { ...result, config, cleanup: () => rm(out, { recursive: true, force: true }) };
}
