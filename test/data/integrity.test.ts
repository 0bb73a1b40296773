import { cpSync, mkdtempSync, openSync, readFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { prepareOmniglot } from '../../src/data/omniglot/prepare.js';
import { openOmniglot } from '../../src/data/omniglot/reader.js';
import { runConfig } from '../meta/omniglotPrepared.js';
import { writeOmniglotFixture } from './omniglotFixture.js';

/** A prepared copy of the small fixture; each test damages its own copy. */
let prepared: string;
beforeAll(async () => {
  const root = mkdtempSync(join(tmpdir(), 'mt-integrity-'));
  const fixture = await writeOmniglotFixture(join(root, 'src'));
  prepared = join(root, 'prepared');
  await prepareOmniglot({ from: fixture.dir, out: prepared, spec: fixture.spec });
});

function damagedCopy(): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'mt-integrity-copy-'));
  cpSync(prepared, dir, { recursive: true });
  const file = join(dir, 'omniglot-background-28.arrow');
  // Eight bytes in the middle of the file: the size stays right, only a checksum can tell.
  const fd = openSync(file, 'r+');
  writeSync(fd, Buffer.alloc(8, 0xa5), 0, 8, Math.floor(readFileSync(file).length / 2));
  return { dir, file };
}

describe('prepared data is verified before use', () => {
  it('openOmniglot checks every byte by default and names the file and the command with --dir', async () => {
    const { dir, file } = damagedCopy();
    const err = await openOmniglot(dir).catch((e: unknown) => e);
    expect((err as Error).message).toContain(file);
    expect((err as Error).message).toMatch(/sha256 does not match the manifest/);
    expect((err as Error).message).toContain(
      `metatape datasets prepare omniglot --from ../shared/datasets/omniglot --dir ${dir}`,
    );
    await expect(openOmniglot(prepared)).resolves.toBeDefined();
  });

  it('a run on a damaged .arrow fails before training, naming the file', async () => {
    const { dir, file } = damagedCopy();
    const run = runConfig('omniglot-5w1s-mlp.yaml', [
      `data.root=${dir}`,
      'trainer.metaBatchSize=2',
      'trainer.iterations=2',
    ]);
    await expect(run).rejects.toThrow(new RegExp(`${file}.*sha256 does not match the manifest`));
  });

  it('the undamaged small fixture trains (the split is sized from its manifest)', async () => {
    const r = await runConfig('omniglot-5w1s-mlp.yaml', [
      `data.root=${prepared}`,
      'trainer.metaBatchSize=2',
      'trainer.iterations=2',
      'eval.tasks=4',
      'logging.every=1',
    ]);
    try {
      expect(r.summary).toMatchObject({ iteration: 2, interrupted: false });
    } finally {
      await r.cleanup();
    }
  });
});
