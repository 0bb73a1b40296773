import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';

const root = resolve(import.meta.dirname, '../..');
const K8S = join(root, 'deploy/k8s');

// biome-ignore lint/suspicious/noExplicitAny: Kubernetes objects are checked field by field below.
type Obj = any;

function load(file: string): Obj[] {
  const docs = parseAllDocuments(readFileSync(join(K8S, file), 'utf8'));
  for (const d of docs) expect(d.errors, file).toEqual([]);
  return docs.map((d) => d.toJS());
}

const [pvc] = load('pvc.yaml');
const [sweep] = load('sweep-indexed-job.yaml');
const [report] = load('report-job.yaml');
const sweepPod = sweep.spec.template.spec;
const sweepContainer = sweepPod.containers.find((c: Obj) => c.name === 'sweep');
const args: string[] = sweepContainer.args;
const N: number = sweep.spec.completions;

function flag(name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

/** The sweep container's args as a pod with index i runs them (Kubernetes expands `$(VAR)` in args). */
function argsForIndex(i: number): string[] {
  return args.map((a) => a.replaceAll('$(JOB_COMPLETION_INDEX)', String(i)));
}

function cli(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src/cli/main.ts'), ...argv], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, METATAPE_BACKEND: '', ...env },
    timeout: 120_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('deploy/k8s manifests', () => {
  it('the sweep is an Indexed Job whose --shard i/N matches its completions', () => {
    expect(sweep.apiVersion).toBe('batch/v1');
    expect(sweep.kind).toBe('Job');
    expect(sweep.spec.completionMode).toBe('Indexed');
    expect(Number.isInteger(N) && N >= 1).toBe(true);
    expect(sweep.spec.parallelism).toBeGreaterThanOrEqual(1);
    expect(sweep.spec.parallelism).toBeLessThanOrEqual(N);
    expect(sweepPod.restartPolicy).toBe('Never');
    expect(args[0]).toBe('sweep');
    expect(existsSync(join(root, args[1]!)), `${args[1]} is a config in the image`).toBe(true);
    expect(flag('--shard')).toBe(`$(JOB_COMPLETION_INDEX)/${N}`);
    expect(flag('--out')).toMatch(/^\/app\/experiments\//);
  });

  it('runs on a GPU with the Vulkan driver exposed, as the image user, on the shared volume', () => {
    for (const c of [sweepContainer, ...sweepPod.initContainers]) {
      expect(String(c.resources.limits['nvidia.com/gpu'])).toBe('1');
      const caps = c.env.find((e: Obj) => e.name === 'NVIDIA_DRIVER_CAPABILITIES')?.value ?? '';
      expect(caps.split(',')).toEqual(expect.arrayContaining(['compute', 'utility', 'graphics']));
      expect(c.image).toBe(sweepContainer.image);
    }
    // The init container proves the device before any training (and fails the pod if it is unusable).
    const doctor = sweepPod.initContainers.find((c: Obj) => c.name === 'doctor');
    expect(doctor.args.slice(0, 3)).toEqual(['doctor', '--backend', flag('--backend')]);
    expect(sweepPod.securityContext.runAsUser).toBe(10001);
    expect(sweepPod.securityContext.runAsNonRoot).toBe(true);
    const claim = pvc.metadata.name;
    expect(pvc.kind).toBe('PersistentVolumeClaim');
    expect(pvc.spec.accessModes).toContain('ReadWriteMany');
    for (const job of [sweep, report]) {
      const vols = job.spec.template.spec.volumes;
      expect(vols.map((v: Obj) => v.persistentVolumeClaim?.claimName)).toContain(claim);
    }
    const mounts = sweepContainer.volumeMounts.map((m: Obj) => m.mountPath);
    expect(mounts).toEqual(expect.arrayContaining(['/app/experiments', '/app/datasets']));
  });

  it('every grid point runs exactly once across the N shards (the sweep itself, --dry-run)', () => {
    // The unsharded grid, as `metatape sweep` expands it.
    const unsharded = args.filter((_, i) => args[i] !== '--shard' && args[i - 1] !== '--shard');
    const all = cli([...unsharded, '--dry-run']);
    expect(all.code, all.stderr).toBe(0);
    const allNames = all.stdout.trim().split('\n');
    expect(allNames.length).toBeGreaterThan(N - 1); // no shard is left without work
    const seen: string[] = [];
    for (let i = 0; i < N; i++) {
      const r = cli([...argsForIndex(i), '--dry-run']);
      expect(r.code, r.stderr).toBe(0);
      const lines = r.stdout
        .trim()
        .split('\n')
        .filter((l) => l.length > 0);
      expect(lines.length, `shard ${i}/${N}`).toBeGreaterThan(0);
      seen.push(...lines);
    }
    expect([...seen].sort()).toEqual([...allNames].sort());
    expect(new Set(seen).size).toBe(seen.length);
    // One index past the end is rejected, not silently empty.
    expect(cli([...argsForIndex(N), '--dry-run']).code).toBe(2);
  });

  it('the report job merges every run folder of the sweep with `metatape report`', () => {
    expect(report.kind).toBe('Job');
    const c = report.spec.template.spec.containers[0];
    expect(c.resources?.limits?.['nvidia.com/gpu']).toBeUndefined();
    expect(c.image).toBe(sweepContainer.image);
    const script: string = c.args[0];
    const out = flag('--out')!;
    expect(script).toContain(`sweep=${out}\n`);
    // Run the script against a fake sweep folder with a stub `metatape` that prints its arguments.
    const tmp = mkdtempSync(join(tmpdir(), 'mt-k8s-report-'));
    const sweepDir = join(tmp, 'sweep');
    for (const name of ['sinusoid-quick--innerSteps-1_seed-0', 'sinusoid-quick--innerSteps-5_seed-0'])
      mkdirSync(join(sweepDir, name, '20260101-000000'), { recursive: true });
    mkdirSync(join(sweepDir, 'not-a-run'));
    const bin = join(tmp, 'bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'metatape'), '#!/bin/sh\nprintf "%s\\n" "$@"\n');
    chmodSync(join(bin, 'metatape'), 0o755);
    const r = spawnSync(c.command[0], [c.command[1], script.replace(`sweep=${out}`, `sweep=${sweepDir}`)], {
      encoding: 'utf8',
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual([
      `merging 2 runs from ${sweepDir}`,
      'report',
      '--out',
      sweepDir,
      '--dir',
      join(sweepDir, 'report'),
      '--metric',
      'metaLoss',
      'sinusoid-quick--innerSteps-1_seed-0',
      'sinusoid-quick--innerSteps-5_seed-0',
    ]);
  });
});
