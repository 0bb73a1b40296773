import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

// In a child process, so that this test's own imports (vitest may have loaded gpu.js for other suites)
// cannot hide a load: the CommonJS module cache tells whether any gpu.js file was loaded.
const script = (entry: string) => `
import { createRequire } from 'node:module';
const req = createRequire(import.meta.url);
const gpujsFiles = () => Object.keys(req.cache).filter((k) => k.includes('/node_modules/gpu.js/')).length;
const mt = await import(${JSON.stringify(entry)});
const afterImport = gpujsFiles();
const x = mt.tensor([1, 2, 3]);
mt.sum(mt.mul(x, x)).item();
const afterCpuWork = gpujsFiles();
let unknownBefore = '';
try { await mt.setBackend('nosuch'); } catch (e) { unknownBefore = e.message; }
const backend = await mt.setBackend('gpujs:cpu');
const y = mt.tensor([1, 2, 3]);
const value = await mt.sum(mt.mul(y, y)).data();
let unknown = '';
try { await mt.setBackend('nosuch'); } catch (e) { unknown = e.message; }
console.log(JSON.stringify({ afterImport, afterCpuWork, afterSet: gpujsFiles(), name: backend.name, value: value[0], unknownBefore, unknown }));
`;

describe('gpu.js backends from the package root, registered lazily', () => {
  it('importing the package does not load gpu.js; setBackend("gpujs:cpu") loads and uses it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'metatape-lazy-'));
    try {
      const file = join(dir, 'probe.mts');
      writeFileSync(file, script(pathToFileURL(resolve('src/index.ts')).href));
      const out = execFileSync(process.execPath, ['--import', 'tsx', file], {
        encoding: 'utf8',
        timeout: 120_000,
      });
      const r = JSON.parse(out.trim().split('\n').at(-1)!);
      expect(r.afterImport).toBe(0);
      expect(r.afterCpuWork).toBe(0);
      expect(r.afterSet).toBeGreaterThan(0);
      expect(r.name).toBe('gpujs:cpu');
      expect(r.value).toBe(14);
      expect(r.unknownBefore).toMatch(/unknown backend 'nosuch'.*gpujs\[:mode\] \(registered on request\)/);
      expect(r.unknown).toMatch(/unknown backend 'nosuch'.*gpujs:cpu/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 150_000);
});
