import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { readMetrics } from '../../src/io/metrics.js';

const CLI = ['--import', 'tsx', 'src/cli/main.ts'];
const ENV = { ...process.env, METATAPE_BACKEND: '', METATAPE_LOG_LEVEL: 'warn' };

function cli(args: string[]) {
  const r = spawnSync(process.execPath, [...CLI, ...args], { encoding: 'utf8', env: ENV, timeout: 600_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

// Logging every 7 iterations and checkpointing every 20 puts checkpoints in the middle of a metrics window,
// the case where a resume could shorten the average of the next row.
const CONFIG = `name: resume-exact
seed: 3
data: {kind: sinusoid, shots: 5}
model: {kind: mlp, hidden: [16, 16]}
trainer: {order: 2, innerSteps: 2, metaBatchSize: 4, iterations: 1000}
eval: {tasks: 10, steps: [1, 3]}
logging: {every: 7, checkpointEvery: 20}
`;

// Timing columns measure the machine, not the run.
const TIMING = new Set(['itPerSec', 'rssMb']);

async function comparable(runDir: string) {
  const cols = await readMetrics(join(runDir, 'metrics.arrow'));
  return Object.fromEntries(Object.entries(cols).filter(([k]) => !TIMING.has(k)));
}

describe('metatape resume after SIGKILL', () => {
  it('gives exactly the metrics of an uninterrupted run', async () => {
    const root = mkdtempSync(join(tmpdir(), 'mt-resume-'));
    const config = join(root, 'c.yaml');
    writeFileSync(config, CONFIG);
    const whole = join(root, 'whole');
    const killed = join(root, 'killed');

    // The run to kill first; the uninterrupted reference runs after it.
    const child = spawn(process.execPath, [...CLI, 'run', config, '--run-dir', killed], {
      env: ENV,
      stdio: 'ignore',
    });
    const exited = new Promise((r) => child.on('exit', r));
    // Kill as soon as the run passes a random iteration after its first checkpoint (status.json is updated
    // every 7 iterations), so the kill lands at an arbitrary point, mid-iteration, mid-append or
    // mid-checkpoint alike, whatever the machine's speed.
    const target = 41 + Math.floor(Math.random() * 460);
    const iterationNow = (): number => {
      try {
        return JSON.parse(readFileSync(join(killed, 'status.json'), 'utf8')).iteration ?? 0;
      } catch {
        return 0; // not written yet
      }
    };
    while (iterationNow() < target) await sleep(2);
    child.kill('SIGKILL');
    await exited;
    const status = JSON.parse(readFileSync(join(killed, 'status.json'), 'utf8'));
    expect(status.state).toBe('running');
    expect(status.iteration).toBeLessThan(1000);
    expect(readdirSync(join(killed, 'checkpoints')).some((f) => f.endsWith('.ckpt'))).toBe(true);

    // Damage the newest checkpoint (one flipped byte) and leave a killed writer's temporary file: resume must
    // fall back to the previous checkpoint, say so, remove the temporary file, and still match exactly.
    const ckpts = readdirSync(join(killed, 'checkpoints'))
      .filter((f) => f.endsWith('.ckpt'))
      .sort();
    expect(ckpts.length).toBeGreaterThanOrEqual(2);
    const newest = join(killed, 'checkpoints', ckpts.at(-1)!);
    const bytes = readFileSync(newest);
    bytes[Math.floor(Math.random() * bytes.length)]! ^= 0xff; // anywhere: magic, header, data or padding
    writeFileSync(newest, bytes);
    const deadPid = spawnSync('true').pid;
    const stale = join(killed, 'checkpoints', `.${ckpts.at(-1)}.${deadPid}.deadbeef.tmp`);
    writeFileSync(stale, 'half a checkpoint');

    expect(cli(['run', config, '--run-dir', whole]).code).toBe(0);
    const resumed = cli(['resume', killed]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(new RegExp(`skipped a damaged checkpoint: ${newest}: \\S`));
    expect(resumed.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(existsSync(stale)).toBe(false);

    const a = await comparable(whole);
    const b = await comparable(killed);
    expect(Object.keys(b)).toEqual(Object.keys(a));
    expect(b.iteration).toEqual(a.iteration);
    for (const k of Object.keys(a)) expect(b[k], k).toEqual(a[k]);
    // The final evaluation (same parameters, same evaluation streams) agrees too.
    const table = (d: string) => JSON.parse(readFileSync(join(d, 'summary.json'), 'utf8')).table;
    expect(table(killed)).toEqual(table(whole));
    expect(JSON.parse(readFileSync(join(killed, 'status.json'), 'utf8')).state).toBe('completed');
  });
});
