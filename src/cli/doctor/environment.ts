import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, unlink } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { BACKENDS } from '../../config/schema.js';
import { writeFileAtomic } from '../../io/atomic.js';
import { resolveLogLevel } from '../../log/logger.js';
import { check } from './checks.js';
import type { DoctorCheck, DoctorEnvironment } from './types.js';

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    return pkg.version;
  } catch {
    return 'unknown';
  }
}

function inContainer(): boolean {
  if (existsSync('/.dockerenv') || existsSync('/run/.containerenv')) return true;
  if (process.env.KUBERNETES_SERVICE_HOST) return true;
  try {
    return /docker|kubepods|containerd|libpod/.test(readFileSync('/proc/1/cgroup', 'utf8'));
  } catch {
    return false;
  }
}

const ICD_DIRS = ['/etc/vulkan/icd.d', '/usr/share/vulkan/icd.d', '/usr/local/share/vulkan/icd.d'];

function vulkanIcds(env: NodeJS.ProcessEnv): string[] {
  const explicit = env.VK_DRIVER_FILES ?? env.VK_ICD_FILENAMES;
  if (explicit) return explicit.split(':').filter((s) => s.length > 0);
  const found: string[] = [];
  for (const dir of ICD_DIRS) {
    try {
      for (const f of readdirSync(dir).sort()) if (f.endsWith('.json')) found.push(join(dir, f));
    } catch {
      // no such folder
    }
  }
  return found;
}

/** Node, platform, CPU, container and GPU-related variables. */
export function describeEnvironment(env: NodeJS.ProcessEnv = process.env): DoctorEnvironment {
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
  const cpuList = cpus();
  const vars = [
    'METATAPE_BACKEND',
    'NVIDIA_VISIBLE_DEVICES',
    'NVIDIA_DRIVER_CAPABILITIES',
    'CUDA_VISIBLE_DEVICES',
    'DISPLAY',
    'METATAPE_DAWN_FLAGS',
    'JOB_COMPLETION_INDEX',
  ];
  return {
    metatape: packageVersion(),
    node: process.versions.node,
    platform: process.platform,
    arch: process.arch,
    glibc: report?.header?.glibcVersionRuntime ?? null,
    cpus: `${cpuList.length} x ${cpuList[0]?.model.trim() ?? 'unknown CPU'}`,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    container: inContainer(),
    env: Object.fromEntries(vars.map((v) => [v, env[v] ?? null])),
    vulkanIcds: vulkanIcds(env),
  };
}

/** The checks of the process and its surroundings: Node, the build, the variables, the output folder. */
export async function environmentChecks(outDir: string, env: NodeJS.ProcessEnv): Promise<DoctorCheck[]> {
  const checks: DoctorCheck[] = [];
  checks.push(
    await check('node', async () => {
      const major = Number(process.versions.node.split('.')[0]);
      if (major < 20) throw new Error(`Node ${process.versions.node}; metatape needs Node >= 20`);
      return `Node ${process.versions.node} on ${process.platform}-${process.arch}`;
    }),
  );
  checks.push(
    await check('build', async () => {
      const dist = new URL('../../../dist/cli/main.js', import.meta.url);
      return existsSync(dist) ? 'dist/ present (compiled CLI)' : 'no dist/; running TypeScript through tsx';
    }),
  );
  checks.push(
    await check('environment', async () => {
      const backend = env.METATAPE_BACKEND;
      if (backend && !(BACKENDS as readonly string[]).includes(backend)) {
        throw new Error(`METATAPE_BACKEND=${backend}; expected one of ${BACKENDS.join(', ')}`);
      }
      const level = resolveLogLevel(undefined, env);
      return `METATAPE_BACKEND=${backend ?? '(unset)'} METATAPE_LOG_LEVEL=${level}; stderr ${process.stderr.isTTY ? 'is a TTY (progress bar)' : 'is not a TTY (log-line progress)'}`;
    }),
  );
  checks.push(
    await check('output folder', async () => {
      await mkdir(outDir, { recursive: true });
      const probe = join(outDir, `.doctor-${process.pid}`);
      await writeFileAtomic(probe, 'ok');
      await unlink(probe);
      return `${outDir} is writable`;
    }),
  );
  return checks;
}
