import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeFileAtomic, writeFileAtomicSync } from '../../src/io/atomic.js';

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
