import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Backend, KernelTensor } from '../../src/backends/backend.js';
import { CpuBackend } from '../../src/backends/cpu/index.js';
import type { DoctorReport } from '../../src/cli/doctor/index.js';
import { describeEnvironment, formatReport, runDoctor, timeKernels } from '../../src/cli/doctor/index.js';

const out = mkdtempSync(join(tmpdir(), 'mt-doctor-'));

/** Whether the optional gl addon is built here (only after `npm run setup:gpu -- headlessgl`). */
function glBuilt(): boolean {
  try {
    createRequire(import.meta.url)('gl');
    return true;
  } catch {
    return false;
  }
}

function doctor(args: string[], extra: Record<string, string> = {}) {
  const env = { ...process.env, ...extra };
  // No display: headlessgl cannot open a context, whatever this machine has.
  for (const k of ['METATAPE_BACKEND', 'METATAPE_LOG_LEVEL', 'DISPLAY']) if (!(k in extra)) delete env[k];
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', 'doctor', '--out', out, ...args],
    {
      encoding: 'utf8',
      env,
      timeout: 600_000,
    },
  );
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function json(args: string[], env: Record<string, string> = {}) {
  const r = doctor(['--json', ...args], env);
  return { ...r, report: JSON.parse(r.stdout) as DoctorReport };
}

describe('metatape doctor', () => {
  it('reports environment, every backend with a verdict, and kernels checked against a reference', () => {
    const { code, report } = json([]);
    expect(code).toBe(0);
    expect(report.ok).toBe(true);
    expect(report.environment.node).toBe(process.versions.node);
    expect(report.environment.platform).toBe(process.platform);
    expect(report.target).toMatchObject({ backend: 'cpu', source: 'default', resolved: 'cpu', usable: true });
    const names = report.backends.map((b) => b.name);
    expect(names).toEqual(['cpu', 'gpujs:webgpu', 'gpujs:headlessgl', 'gpujs:webasm', 'gpujs:cpu']);
    for (const b of report.backends) {
      if (b.available) {
        // Every backend that loads runs both kernels correctly here (all of them are exact enough in float32).
        expect(b.kernelError, b.name).toBeUndefined();
        expect(b.kernels?.map((k) => k.kernel)).toEqual(['matmul 256x256x256', 'tanh(a*b)+a 65536']);
        for (const k of b.kernels!) {
          expect(k.ok).toBe(true);
          expect(k.firstMs).toBeGreaterThan(0);
          expect(k.warmMs).toBeGreaterThan(0);
          expect(k.maxAbsError).toBeLessThanOrEqual(k.tolerance);
        }
      } else {
        // A mode that does not load says why and what to do.
        expect(b.reason, b.name).toBeTruthy();
        expect(b.remedy, b.name).toBeTruthy();
        expect(b.kernels).toBeUndefined();
      }
    }
    // gpu.js's JavaScript and WebAssembly modes need nothing beyond npm ci.
    for (const name of ['gpujs:cpu', 'gpujs:webasm'])
      expect(report.backends.find((b) => b.name === name)?.available, name).toBe(true);
    // With DISPLAY unset, headlessgl cannot open a context.
    expect(report.backends.find((b) => b.name === 'gpujs:headlessgl')?.available).toBe(false);
    const webgpu = report.backends.find((b) => b.name === 'gpujs:webgpu')!;
    if (webgpu.available) {
      expect(report.webgpu?.name).toBeTruthy();
      expect(report.webgpu?.limits.maxStorageBufferBindingSize).toBeGreaterThan(0);
    } else expect(report.webgpu).toBeNull();
  });

  it('prints a readable report and a one-line verdict with --quiet', () => {
    const full = doctor(['--backend', 'gpujs:cpu']);
    expect(full.code, full.stderr + full.stdout).toBe(0);
    for (const s of ['ENVIRONMENT', 'CHECK', 'BACKEND', 'KERNEL', 'matmul 256x256x256', 'gpujs:webasm'])
      expect(full.stdout).toContain(s);
    expect(full.stdout).toMatch(/backend gpujs:cpu \(--backend\): usable - JavaScript/);
    const quiet = doctor(['--quiet', '--backend', 'gpujs:webasm']);
    expect(quiet.code).toBe(0);
    expect(quiet.stdout.trim().split('\n')).toHaveLength(1);
    expect(quiet.stdout).toMatch(/^backend gpujs:webasm \(--backend\): usable - WebAssembly/);
  });

  it('exits 1 when the backend that must work is unusable, naming why and the fix', () => {
    const r = json(['--backend', 'gpujs:headlessgl', '--skip-kernels']);
    expect(r.code).toBe(1);
    expect(r.report.ok).toBe(false);
    expect(r.report.target.usable).toBe(false);
    // Without the opt-in (`npm run setup:gpu -- headlessgl`) gl is not built; with it, there is no display here.
    expect(r.report.target.detail).toMatch(
      glBuilt()
        ? /could not open a GL context.*Fix: .*xvfb-run/
        : /'gl' package is not built.*Fix: .*npm run setup:gpu -- headlessgl/,
    );
    // From the environment, as a job would set it; quiet mode is what the image's HEALTHCHECK runs.
    const env = doctor(['--quiet', '--skip-kernels'], { METATAPE_BACKEND: 'gpujs:headlessgl' });
    expect(env.code).toBe(1);
    expect(env.stdout).toMatch(/^backend gpujs:headlessgl \(METATAPE_BACKEND\): UNUSABLE - /);
  });

  it('takes the backend from a config, resolves gpujs and auto, and rejects unknown names', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mt-doctor-cfg-'));
    const cfg = join(dir, 'c.yaml');
    writeFileSync(
      cfg,
      'name: s\nbackend: gpujs:webasm\ndata: {kind: sinusoid}\nmodel: {kind: mlp}\ntrainer: {iterations: 10}\n',
    );
    const fromConfig = json(['--config', cfg, '--skip-kernels']);
    expect(fromConfig.code).toBe(0);
    expect(fromConfig.report.target).toMatchObject({ backend: 'gpujs:webasm', source: cfg, usable: true });
    const best = json(['--backend', 'gpujs', '--quiet']);
    expect(best.code).toBe(0);
    expect(best.report.target.resolved).toMatch(/^gpujs:(webgpu|webasm)$/);
    // Quiet mode runs kernels on the target only.
    expect(best.report.backends.filter((b) => b.kernels).map((b) => b.name)).toEqual([
      best.report.target.resolved,
    ]);
    const auto = json(['--backend', 'auto', '--skip-kernels']);
    expect(auto.code).toBe(0);
    expect(auto.report.target.detail).toMatch(/^auto \(no workload hint\): /);
    expect(auto.report.backends.map((b) => b.name)).toContain(auto.report.target.resolved);
    expect(doctor(['--backend', 'tpu']).code).toBe(2);
  });
});

describe('doctor internals', () => {
  it('times a matmul and an elementwise kernel against a float64 reference', async () => {
    const results = await timeKernels(new CpuBackend(), 32);
    expect(results.map((r) => r.kernel)).toEqual(['matmul 32x32x32', 'tanh(a*b)+a 1024']);
    for (const r of results) expect(r.ok).toBe(true);
  });

  it('flags a backend whose kernels give wrong answers', async () => {
    const cpu = new CpuBackend();
    const broken: Backend = Object.assign(Object.create(cpu) as Backend, {
      matmul: (a: KernelTensor, b: KernelTensor, ta: boolean, tb: boolean, shape: readonly number[]) => {
        const h = cpu.matmul(a, b, ta, tb, shape) as Float32Array;
        h[7] = h[7]! + 0.5;
        return h;
      },
    });
    const [matmul, elementwise] = await timeKernels(broken, 16);
    expect(matmul!.ok).toBe(false);
    expect(matmul!.maxAbsError).toBeCloseTo(0.5, 3);
    expect(elementwise!.ok).toBe(true);
  });

  it('runs in-process on the cpu backend only with --skip-backends', async () => {
    const report = await runDoctor({ outDir: out, skipBackends: true, size: 16, env: {} });
    expect(report.ok).toBe(true);
    expect(report.backends.map((b) => b.name)).toEqual(['cpu']);
    expect(report.target).toMatchObject({ backend: 'cpu', usable: true });
    const gpu = await runDoctor({ outDir: out, skipBackends: true, backend: 'gpujs:webgpu', env: {} });
    expect(gpu.ok).toBe(false);
    expect(gpu.target.detail).toBe('not probed (--skip-backends)');
    const text = formatReport(report);
    expect(text).toContain('backend cpu (default): usable');
  });

  it('lists the variables and Vulkan drivers that decide what a container sees', () => {
    const e = describeEnvironment({
      NVIDIA_DRIVER_CAPABILITIES: 'compute,utility,graphics',
      VK_ICD_FILENAMES: '/a.json:/b.json',
    });
    expect(e.env.NVIDIA_DRIVER_CAPABILITIES).toBe('compute,utility,graphics');
    expect(e.env.NVIDIA_VISIBLE_DEVICES).toBeNull();
    expect(e.vulkanIcds).toEqual(['/a.json', '/b.json']);
  });
});
