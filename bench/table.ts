/** One line of a benchmark table: what was measured, on what work, the figure, and its ratio to a baseline. */
export interface BenchRow {
  figure: string;
  work: string;
  value: string;
  ratio: string;
}

/** Formats rows as a Markdown table. */
export function formatTable(title: string, rows: readonly BenchRow[]): string {
  const head = ['figure', 'work', 'value', 'ratio'];
  const cells = rows.map((r) => [r.figure, r.work, r.value, r.ratio]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => `| ${c.map((v, i) => v.padEnd(widths[i]!)).join(' | ')} |`;
  return [
    `### ${title}`,
    '',
    line(head),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...cells.map(line),
    '',
  ].join('\n');
}

/** Median wall time per call (ms) of `fn` over `reps` timed batches of `n` calls, after a warm-up. */
export function timeIt(fn: () => void, n: number, reps = 5): number {
  for (let i = 0; i < Math.max(1, n >> 2); i++) fn();
  const samples: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) fn();
    samples.push((performance.now() - t0) / n);
  }
  samples.sort((a, b) => a - b);
  return samples[samples.length >> 1]!;
}

/** `1.23 µs`, `4.5 ms`. */
export function fmtTime(ms: number): string {
  if (ms < 1e-3) return `${(ms * 1e6).toFixed(0)} ns`;
  if (ms < 1) return `${(ms * 1e3).toFixed(2)} µs`;
  if (ms < 1000) return `${ms.toFixed(2)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}
