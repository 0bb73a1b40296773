/**
 * MAML throughput: metatape's meta-iterations per second for order 1 and 2, batched and per-task, each in its
 * own process (peak memory is per variant), against PyTorch (Debian's python3-torch, one thread) measured in
 * the same command when it is installed. metatape runs with its default fast weights (auto: the 40x40 kernel
 * adapts in low rank), plus one like-for-like row with full per-task kernels, as PyTorch adapts.
 */
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchRow } from './table.js';

const here = dirname(fileURLToPath(import.meta.url));

interface WorkerResult {
  order: number;
  batched: boolean;
  itPerSec: number;
  maxRssMb: number;
}

function runWorker(order: number, mode: string, iterations: number, fastWeights = 'auto'): WorkerResult {
  const out = execFileSync(
    process.execPath,
    ['--import', 'tsx', join(here, 'mamlWorker.ts'), String(order), mode, String(iterations), fastWeights],
    {
      encoding: 'utf8',
    },
  );
  return JSON.parse(out.trim().split('\n').at(-1)!) as WorkerResult;
}

function torchReference(iterations: number): Record<string, number> | undefined {
  for (const python of ['/usr/bin/python3', 'python3']) {
    try {
      const out = execFileSync(python, [join(here, 'reference', 'maml_torch.py'), String(iterations)], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      return JSON.parse(out.trim().split('\n').at(-1)!) as Record<string, number>;
    } catch {
      // not installed with this interpreter: try the next one
    }
  }
  return undefined;
}

export function benchMaml(options: { iterations?: number; torch?: boolean } = {}): BenchRow[] {
  const iterations = options.iterations ?? 200;
  const rows: BenchRow[] = [];
  const torch = options.torch === false ? undefined : torchReference(iterations);
  const results: WorkerResult[] = [];
  for (const order of [2, 1]) {
    for (const mode of ['batched', 'perTask']) {
      const r = runWorker(order, mode, mode === 'batched' ? iterations : Math.max(20, iterations >> 2));
      results.push(r);
      const ref = torch?.[`${mode}_order${order}`];
      const best = torch
        ? Math.max(torch[`batched_order${order}`] ?? 0, torch[`perTask_order${order}`] ?? 0)
        : undefined;
      rows.push({
        figure: `${r.itPerSec.toFixed(1)} it/s`,
        work: `MAML order ${order}, ${mode === 'batched' ? '25 tasks batched' : 'per-task loop'} (sinusoid, K=10, 1-40-40-1)`,
        value: `peak RSS ${r.maxRssMb.toFixed(0)} MB`,
        ratio: ref
          ? `${(r.itPerSec / ref).toFixed(2)}x PyTorch ${mode} (${ref.toFixed(1)} it/s); ${(r.itPerSec / best!).toFixed(2)}x PyTorch's best`
          : 'PyTorch not installed (apt-get install python3-torch)',
      });
    }
  }
  const o2 = results.find((r) => r.order === 2 && r.batched)!;
  // PyTorch adapts with full per-task weight copies; the same algorithm here, for a like-for-like figure.
  const full = runWorker(2, 'batched', iterations, 'full');
  const torchBatched = torch?.batched_order2;
  rows.push({
    figure: `${full.itPerSec.toFixed(1)} it/s`,
    work: 'MAML order 2, 25 tasks batched, full per-task kernels (trainer.fastWeights: full)',
    value: `peak RSS ${full.maxRssMb.toFixed(0)} MB`,
    ratio: `default (auto) is ${(o2.itPerSec / full.itPerSec).toFixed(2)}x this${torchBatched ? `; ${(full.itPerSec / torchBatched).toFixed(2)}x PyTorch batched` : ''}`,
  });
  const o1 = results.find((r) => r.order === 1 && r.batched)!;
  rows.push({
    figure: `${(o1.itPerSec / o2.itPerSec).toFixed(2)}x`,
    work: 'cost of exact second order: order-1 / order-2 speed (batched)',
    value: `memory ${(o2.maxRssMb / o1.maxRssMb).toFixed(2)}x`,
    ratio: torch ? `PyTorch: ${((torch.batched_order1 ?? 0) / (torch.batched_order2 ?? 1)).toFixed(2)}x` : '',
  });
  if (torch)
    rows.push({
      figure: `torch ${torch.torch}`,
      work: 'reference',
      value: `${torch.threads} thread`,
      ratio: '',
    });
  return rows;
}
