import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll } from 'vitest';
import { executeRun } from '../../src/cli/session.js';
import { loadConfig } from '../../src/config/load.js';
import { bytesDigest } from '../../src/data/checksum.js';
import { arrowFileName, encodeSetArrow } from '../../src/data/omniglot/arrow-format.js';
import {
  DRAWINGS,
  IMAGE_PIXELS,
  IMAGE_SIZE,
  OMNIGLOT_SETS,
  SET_INFO,
} from '../../src/data/omniglot/constants.js';
import { formatManifest, MANIFEST_NAME, type OmniglotManifest } from '../../src/data/omniglot/manifest.js';
import { prepareOmniglot } from '../../src/data/omniglot/prepare.js';
import { openOmniglot } from '../../src/data/omniglot/reader.js';
import { writeOmniglotFixture } from '../data/omniglotFixture.js';
import { SHARED_OMNIGLOT } from '../data/shared.js';

/** The checkout's prepared Arrow files (gitignored, so absent in a fresh CI clone). */
const LOCAL = resolve('datasets/omniglot');
const ARROWS = ['manifest.json', 'omniglot-background-28.arrow', 'omniglot-evaluation-28.arrow'];

/** A prepared dataset folder and how to remove what was created for it. */
export interface PreparedOmniglot {
  root: string;
  cleanup: () => Promise<void>;
}

/**
 * A folder with the real prepared Omniglot: the checkout's `datasets/omniglot` when it has been prepared,
 * otherwise a fresh preparation from the read-only shared sources (`../shared/datasets/omniglot`, as CI lays it
 * out) into a temporary folder (always, with METATAPE_FRESH_OMNIGLOT=1). Only call it when the shared sources
 * exist (see `hasSharedOmniglot`). `cleanup` removes only what it created.
 */
export async function preparedOmniglot(): Promise<PreparedOmniglot> {
  const fresh = process.env.METATAPE_FRESH_OMNIGLOT === '1'; // force CI's path on a prepared checkout
  if (!fresh && ARROWS.every((f) => existsSync(join(LOCAL, f))))
    return { root: LOCAL, cleanup: async () => {} };
  const tmp = await mkdtemp(join(tmpdir(), 'metatape-omniglot-run-'));
  const root = join(tmp, 'omniglot');
  await prepareOmniglot({ from: SHARED_OMNIGLOT, out: root });
  return { root, cleanup: () => rm(tmp, { recursive: true, force: true }) };
}

/**
 * A prepared dataset with Omniglot's 1,623 character IDs built from the small generated fixture, for the
 * training tests. The experiment's task source splits by character ID with MAML's fixed 1,200 / 423 (it does
 * not size the split from the manifest), so a run needs every ID present; preprocessing 32,460 drawings would
 * take many seconds, so the small fixture is prepared for real (`prepareOmniglot` with its spec) and its 18
 * characters' prepared drawings are repeated over the 1,623 IDs, written with the same Arrow writer and
 * manifest format `prepare` uses. Nothing about it depends on the shared folder.
 */
export async function fixtureOmniglot(): Promise<PreparedOmniglot> {
  const tmp = await mkdtemp(join(tmpdir(), 'metatape-omniglot-fixture-'));
  const cleanup = () => rm(tmp, { recursive: true, force: true });
  try {
    const fixture = await writeOmniglotFixture(join(tmp, 'sources'));
    const small = join(tmp, 'small');
    await prepareOmniglot({ from: fixture.dir, out: small, spec: fixture.spec });
    const base = await openOmniglot(small);
    const root = join(tmp, 'omniglot');
    await mkdir(root, { recursive: true });
    const alphabets: OmniglotManifest['alphabets'] = OMNIGLOT_SETS.map((set) => ({
      set,
      name: `Fixture_${set}`,
      firstId: SET_INFO[set].firstId,
      lastId: SET_INFO[set].firstId + SET_INFO[set].characters - 1,
    }));
    const files: OmniglotManifest['files'] = [];
    for (const set of OMNIGLOT_SETS) {
      const { characters, firstId } = SET_INFO[set];
      const pixels = new Uint8Array(characters * DRAWINGS * IMAGE_PIXELS);
      for (let c = 0; c < characters; c++) {
        const from = base.characters[(firstId + c - 1) % base.characters.length]!.id;
        for (let d = 0; d < DRAWINGS; d++) {
          pixels.set(base.imageOf(from, d + 1), (c * DRAWINGS + d) * IMAGE_PIXELS);
        }
      }
      const data = encodeSetArrow(set, firstId, characters, pixels, alphabets, { filter: 'lanczos3' });
      const file = arrowFileName(set);
      await writeFile(join(root, file), data);
      files.push({
        file,
        set,
        rows: characters * DRAWINGS,
        characters,
        firstId,
        bytes: data.length,
        sha256: bytesDigest(data),
      });
    }
    const manifest: OmniglotManifest = {
      dataset: 'omniglot',
      formatVersion: 1,
      imageSize: IMAGE_SIZE,
      filter: 'lanczos3',
      inkValue: 255,
      source: base.manifest.source,
      alphabets,
      files,
    };
    await writeFile(join(root, MANIFEST_NAME), formatManifest(manifest));
    return { root, cleanup };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

/**
 * Provides a prepared dataset to the enclosing describe block (in `beforeAll`) and removes what it created
 * afterwards; `root()` is its folder. `fixture` (runs everywhere) or `full` (the real Omniglot; use it only
 * inside a block skipped when the shared sources are absent).
 */
export function usePreparedOmniglot(kind: 'fixture' | 'full'): { root: () => string } {
  let data: PreparedOmniglot | undefined;
  beforeAll(async () => {
    data = kind === 'fixture' ? await fixtureOmniglot() : await preparedOmniglot();
  });
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
