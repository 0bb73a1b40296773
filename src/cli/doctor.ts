import { existsSync } from 'node:fs';
import { mkdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { BACKENDS } from '../config/schema.js';
import { writeFileAtomic } from '../io/atomic.js';
import { resolveLogLevel } from '../log/logger.js';

/** Outcome of one environment check. */
export interface DoctorCheck {
  name: string;
  /** `fail` blocks training; `warn` limits it (e.g. no GPU backend, dataset not prepared). */
  status: 'ok' | 'warn' | 'fail';
  detail: string;
}

async function check(
  name: string,
  fn: () => Promise<string>,
  onError: 'warn' | 'fail' = 'fail',
): Promise<DoctorCheck> {
  try {
    return { name, status: 'ok', detail: await fn() };
  } catch (err) {
    return { name, status: onError, detail: (err as Error).message.split('\n')[0] ?? String(err) };
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms / 1000}s`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** Options of {@link runDoctor}. */
export interface DoctorOptions {
  outDir: string;
  datasetDir?: string;
  /** Skip initializing backends (they can take seconds to open a GPU context). */
  skipBackends?: boolean;
  env?: NodeJS.ProcessEnv;
}

/** Checks the environment: Node, environment variables, output folder, backends, datasets. */
export async function runDoctor(o: DoctorOptions): Promise<DoctorCheck[]> {
  const env = o.env ?? process.env;
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
      const dist = new URL('../../dist/cli/main.js', import.meta.url);
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
      await mkdir(o.outDir, { recursive: true });
      const probe = join(o.outDir, `.doctor-${process.pid}`);
      await writeFileAtomic(probe, 'ok');
      await unlink(probe);
      return `${o.outDir} is writable`;
    }),
  );
  if (!o.skipBackends) {
    let names: string[] = [];
    checks.push(
      await check('backends', async () => {
        // The package entry registers the built-in backends as a side effect.
        await import('../index.js');
        const registry = await import('../backends/registry.js');
        names = registry.registeredBackends();
        return names.length ? `registered: ${names.join(', ')}` : 'none registered';
      }),
    );
    const registry = await import('../backends/registry.js');
    for (const name of names) {
      checks.push(
        await check(
          `backend ${name}`,
          async () => {
            const b = await withTimeout(
              Promise.resolve(registry.loadBackend(name)),
              20_000,
              `backend ${name}`,
            );
            return `initialized (${(b as { name?: string }).name ?? name})`;
          },
          name === 'cpu' ? 'fail' : 'warn',
        ),
      );
    }
  }
  checks.push(
    await check(
      'omniglot',
      async () => {
        const { omniglotInfo } = await import('../data/omniglot/info.js');
        const info = await omniglotInfo({ verify: 'size', ...(o.datasetDir ? { dir: o.datasetDir } : {}) });
        return `${info.dir}: ${info.counts.total.images} images (sizes verified)`;
      },
      'warn',
    ),
  );
  return checks;
}
