import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  collect,
  doctorHighlights,
  formatSummary,
  parsePhases,
  phaseStatus,
  scoresOf,
  steadyState,
} from '../../bench/device/summarize.js';

const jsonl = (rows: object[]) => rows.map((r) => JSON.stringify(r)).join('\n');

describe('steadyState', () => {
  // Windows: 10 iterations in 5 s (compiles), then 10 in 1 s and 5 in 2 s: 15 iterations in 3 s.
  const metrics = jsonl([
    { iteration: 10, split: 'train', metaLoss: 1.6, itPerSec: 2 },
    { iteration: 20, split: 'train', metaLoss: 1.5, itPerSec: 10 },
    { iteration: 20, split: 'val@1', accuracy: 0.4 },
    { iteration: 25, split: 'train', metaLoss: 1.4, itPerSec: 2.5 },
  ]);

  it('pools the windows after the warm-up as iterations over their time, not a mean of rates', () => {
    const t = steadyState(metrics, 10)!;
    expect(t.steadyIterations).toBe(15);
    expect(t.steadyItPerSec).toBeCloseTo(5, 10); // the mean of the two rates would be 6.25
    expect(t.warmupIterations).toBe(10);
    expect(t.warmupItPerSec).toBeCloseTo(2, 10);
  });

  it('moves windows into the warm-up as the warm-up grows', () => {
    const t = steadyState(metrics, 20)!;
    expect(t.steadyIterations).toBe(5);
    expect(t.steadyItPerSec).toBeCloseTo(2.5, 10);
    expect(t.warmupIterations).toBe(20);
    expect(t.warmupItPerSec).toBeCloseTo(20 / 6, 10);
  });

  it('is undefined when every window ends within the warm-up', () => {
    expect(steadyState(metrics, 25)).toBeUndefined();
    expect(steadyState('', 10)).toBeUndefined();
  });
});

describe('phases', () => {
  it('parses the tab-separated log and skips malformed lines', () => {
    const phases = parsePhases('setup\t0\t3\t90\nbroken line\ndoctor\t124\t90\t90\nsteps\t-1\t0\t2\n');
    expect(phases.map((p) => p.name)).toEqual(['setup', 'doctor', 'steps']);
    expect(phases.map(phaseStatus)).toEqual(['ok', 'stopped at its 90 s limit', 'skipped (no time left)']);
    expect(phaseStatus({ name: 'x', exit: 1, seconds: 2, limit: 9 })).toBe('failed (exit 1)');
  });
});

describe('doctorHighlights', () => {
  const report = [
    'BACKEND           STATUS  DEVICE / WHY NOT',
    'cpu               ok      host CPU',
    'gpujs:webgpu      ok      nvidia NVIDIA H200   [hardware]',
    '',
    'COUNTERS per warm call (run + read back)',
    '  cpu matmul 256x256x256: 1 dispatch, 0 compiles',
    '  gpujs:webgpu matmul 256x256x256: 1 dispatch, 0 compiles, 0 uploads (0 B), 1 read (256.0 KiB)',
    '  gpujs:webgpu tanh(a*b)+a 65536: 1 dispatch, 0 compiles',
    '',
    'backend gpujs:webgpu (--backend): usable - nvidia (hardware)',
  ].join('\n');

  it("keeps the adapter, the backend's counters and the verdict", () => {
    expect(doctorHighlights(report, 'gpujs:webgpu')).toEqual([
      'gpujs:webgpu ok nvidia NVIDIA H200 [hardware]',
      'gpujs:webgpu matmul 256x256x256: 1 dispatch, 0 compiles, 0 uploads (0 B), 1 read (256.0 KiB)',
      'gpujs:webgpu tanh(a*b)+a 65536: 1 dispatch, 0 compiles',
      'backend gpujs:webgpu (--backend): usable - nvidia (hardware)',
    ]);
  });
});

describe('summary', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('says what is missing when the phases left nothing', () => {
    const text = formatSummary({
      device: 'X',
      phases: [],
      doctor: undefined,
      steps: undefined,
      conv4: undefined,
    });
    expect(text).toContain('(no doctor report)');
    expect(text).toContain('(no rows measured)');
    expect(text).toContain('(no run folder)');
  });

  it('reads the output and run folders into the table', () => {
    const out = mkdtempSync(join(tmpdir(), 'devsum-'));
    dirs.push(out);
    const run = join(out, 'run');
    mkdirSync(run);
    writeFileSync(
      join(out, 'setup.txt'),
      '=== setup\nv20.20.2\nname, driver_version, memory.total [MiB]\nNVIDIA H200, 580.1, 143771 MiB\n',
    );
    writeFileSync(
      join(out, 'steps.md'),
      '=== steps\n| step | a |\n|---|---|\n| conv4 o2 | 7 |\nwarning: x\n',
    );
    writeFileSync(join(out, 'phases.tsv'), 'setup\t0\t4\t90\nconv4\t124\t200\t200\n');
    writeFileSync(
      join(run, 'config.json'),
      JSON.stringify({
        backend: 'gpujs:webgpu',
        trainer: { metaBatchSize: 32, iterations: 300 },
        logging: { every: 10 },
      }),
    );
    writeFileSync(
      join(run, 'metrics.jsonl'),
      jsonl([
        { iteration: 10, split: 'train', itPerSec: 1 },
        { iteration: 20, split: 'train', itPerSec: 40 },
        { iteration: 30, split: 'train', itPerSec: 10 },
      ]),
    );
    const summary = {
      metric: 'accuracy',
      table: [
        {
          shots: 1,
          scores: [
            { steps: 0, mean: 0.2, ci95: 0.01, median: 0.2, tasks: 200, diverged: 0 },
            { steps: 3, mean: 0.853, ci95: 0.024, median: 0.8, tasks: 200, diverged: 0 },
          ],
        },
      ],
      results: { metaItPerSec: 7.5 },
    };
    writeFileSync(join(run, 'summary.json'), JSON.stringify(summary));
    expect(scoresOf(JSON.stringify(summary)).map((s) => s.steps)).toEqual([0, 3]);

    const inputs = collect(out, join(out, 'phases.tsv'), run);
    expect(inputs.device).toBe('NVIDIA H200, 580.1, 143771 MiB');
    expect(inputs.steps).toEqual(['| step | a |', '|---|---|', '| conv4 o2 | 7 |']);
    expect(inputs.conv4!.throughput!.steadyItPerSec).toBeCloseTo(20 / (10 / 40 + 10 / 10), 10);
    const text = formatSummary(inputs);
    expect(text).toContain('# metatape device check on NVIDIA H200, 580.1, 143771 MiB');
    expect(text).toContain('| conv4 | stopped at its 200 s limit | 200 |');
    expect(text).toContain('meta-batch 32, 300 iterations on gpujs:webgpu');
    expect(text).toContain('| meta-it/s, steady state (20 iterations after the first 10) | **16.00** |');
    expect(text).toContain('| meta-it/s, whole training loop | 7.50 |');
    expect(text).toContain('| test accuracy, 1-shot, 3 steps (200 tasks) | 85.3% ± 2.4% |');
  });
});
