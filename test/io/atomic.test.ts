import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { namingFile, writeFileAtomic, writeFileAtomicSync } from '../../src/io/atomic.js';

describe('writeFileAtomic', () => {
  it('writes the file and leaves no temp file behind', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mt-atomic-'));
    const file = join(dir, 'a.txt');
    await writeFileAtomic(file, 'one');
    await writeFileAtomic(file, new Uint8Array([116, 119, 111]));
    expect(readFileSync(file, 'utf8')).toBe('two');
    writeFileAtomicSync(file, 'three');
    expect(readFileSync(file, 'utf8')).toBe('three');
    expect(readdirSync(dir)).toEqual(['a.txt']);
  });

  it('keeps the old file and cleans up when the rename fails', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mt-atomic-'));
    // Renaming a file over a non-empty directory fails after the temp file was fully written.
    const target = join(dir, 'target');
    mkdirSync(target);
    writeFileSync(join(target, 'keep.txt'), 'old');
    await expect(writeFileAtomic(target, 'new')).rejects.toThrow();
    expect(() => writeFileAtomicSync(target, 'new')).toThrow();
    expect(readdirSync(dir)).toEqual(['target']);
    expect(readFileSync(join(target, 'keep.txt'), 'utf8')).toBe('old');
  });

  it('keeps the old file when the data cannot be written', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mt-atomic-'));
    const file = join(dir, 'a.txt');
    await writeFileAtomic(file, 'old');
    await expect(writeFileAtomic(file, 42 as unknown as string)).rejects.toThrow();
    expect(readFileSync(file, 'utf8')).toBe('old');
    expect(readdirSync(dir)).toEqual(['a.txt']);
  });

  it('fails cleanly when the folder does not exist', async () => {
    await expect(writeFileAtomic(join(tmpdir(), 'mt-no-such-dir', 'x'), 'x')).rejects.toThrow(/ENOENT/);
  });
});

describe('namingFile', () => {
  it('puts the file into errors that name none (ENOSPC on a descriptor), keeping code and cause', () => {
    const enospc = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    const named = namingFile(enospc, '/runs/x/metrics.arrow') as NodeJS.ErrnoException;
    expect(named.message).toBe(
      '/runs/x/metrics.arrow: ENOSPC: no space left on device, write (free some space, then resume the run)',
    );
    expect(named.code).toBe('ENOSPC');
    expect(named.cause).toBe(enospc);
    const already = new Error("EACCES: permission denied, open '/runs/x/metrics.arrow'");
    expect(namingFile(already, '/runs/x/metrics.arrow')).toBe(already);
  });

  it('a real full device: an append to /dev/full names the file', () => {
    let err: unknown;
    try {
      appendFileSync('/dev/full', 'row\n');
    } catch (e) {
      err = namingFile(e, '/dev/full-as-metrics.jsonl');
    }
    expect((err as NodeJS.ErrnoException | undefined)?.code).toBe('ENOSPC');
    expect((err as Error).message).toMatch(/^\/dev\/full-as-metrics\.jsonl: ENOSPC/);
  });
});
