import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { peakRssMb } from '../../src/log/peakRss.js';

const root = resolve(import.meta.dirname, '../..');

describe('peakRssMb', () => {
  it('is at least the current resident size', () => {
    expect(peakRssMb()).toBeGreaterThanOrEqual(process.memoryUsage().rss / 2 ** 20 - 1);
  });

  it.runIf(process.platform === 'linux')(
    "a child process reports its own peak, not its large parent's",
    () => {
      // getrusage's maxrss survives fork + exec: a child of a 300 MB process "peaks" at 300 MB from its start.
      const ballast = Buffer.alloc(300 * 2 ** 20, 1);
      const out = execFileSync(
        process.execPath,
        [
          '--import',
          'tsx',
          '-e',
          "import('./src/log/peakRss.ts').then((m) => console.log(JSON.stringify([m.peakRssMb(), process.resourceUsage().maxRSS / 1024])))",
        ],
        { cwd: root, encoding: 'utf8' },
      );
      const [own, inherited] = JSON.parse(out.trim()) as [number, number];
      expect(ballast[ballast.length - 1]).toBe(1);
      expect(inherited).toBeGreaterThan(300);
      expect(own).toBeLessThan(250);
    },
  );
});
