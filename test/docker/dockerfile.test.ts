import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Copy, DockerfileParser, type Instruction } from 'dockerfile-ast';
import { validate } from 'dockerfile-utils';
import { describe, expect, it } from 'vitest';

// There is no Docker engine where tests run: these checks keep the Dockerfile, its install script and the
// build context honest without one. The image itself is built (and smoke-tested) wherever Docker is.

const root = resolve(import.meta.dirname, '../..');
const text = readFileSync(join(root, 'Dockerfile'), 'utf8');
const dockerfile = DockerfileParser.parse(text);
const SCRIPT = 'docker/install-system-deps.sh';

interface Stage {
  name: string | null;
  image: string;
  instructions: Instruction[];
}

function stages(): Stage[] {
  const out: Stage[] = [];
  for (const ins of dockerfile.getInstructions()) {
    if (ins.getKeyword() === 'FROM') {
      const from = ins as unknown as { getBuildStage(): string | null; getImage(): string | null };
      out.push({ name: from.getBuildStage(), image: from.getImage() ?? '', instructions: [] });
    } else out.at(-1)?.instructions.push(ins);
  }
  return out;
}

const all = stages();
const runtime = all.at(-1)!;
const args = (i: Instruction) => i.getArguments().map((a) => a.getValue());
const of = (s: Stage, keyword: string) => s.instructions.filter((i) => i.getKeyword() === keyword);
const fromFlag = (i: Instruction) => (i as Copy).getFromFlag()?.getValue() ?? null;
const json = (i: Instruction) => JSON.parse(i.getArgumentsContent() ?? 'null') as unknown;

/** `.dockerignore` semantics: last matching pattern wins; a pattern that matches a folder covers its files. */
function dockerignored(path: string): boolean {
  const rules = readFileSync(join(root, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const neg = l.startsWith('!');
      const pattern = (neg ? l.slice(1) : l).replace(/^\/+|\/+$/g, '');
      const re = pattern
        .split(/(\*\*\/|\*\*|\*|\?)/)
        .map((t) =>
          t === '**/'
            ? '(?:.*/)?'
            : t === '**'
              ? '.*'
              : t === '*'
                ? '[^/]*'
                : t === '?'
                  ? '[^/]'
                  : t.replace(/[.+^${}()|[\]\\]/g, '\\$&'),
        )
        .join('');
      return { neg, re: new RegExp(`^${re}$`) };
    });
  const parts = path.split('/');
  let excluded = false;
  for (const { neg, re } of rules) {
    if (parts.some((_, i) => re.test(parts.slice(0, i + 1).join('/')))) excluded = !neg;
  }
  return excluded;
}

describe('Dockerfile', () => {
  it('passes the dockerfile-utils linter without errors or warnings', () => {
    const problems = validate(text).map((d) => `line ${d.range.start.line + 1}: ${d.message}`);
    expect(problems).toEqual([]);
  });

  it('is multi-stage: a builder that compiles and prunes, a runtime that copies from it', () => {
    expect(all.map((s) => s.name)).toEqual(['base', 'builder', 'runtime']);
    const builderRuns = of(all[1]!, 'RUN').map((i) => i.getArgumentsContent() ?? '');
    for (const step of ['npm ci', 'npm run build', 'npm prune --omit=dev'])
      expect(
        builderRuns.some((r) => r.includes(step)),
        step,
      ).toBe(true);
    const fromBuilder = of(runtime, 'COPY').filter((c) => fromFlag(c) === 'builder');
    expect(fromBuilder.map((c) => args(c).at(-1))).toEqual(
      expect.arrayContaining(['./node_modules', './dist']),
    );
    expect(of(runtime, 'RUN').some((r) => /npm (ci|install)/.test(r.getArgumentsContent() ?? ''))).toBe(
      false,
    );
  });

  it('starts from a glibc >= 2.38 base with Node 22 (Debian 13 or Ubuntu 24.04)', () => {
    const arg = dockerfile.getInitialARGs().find((a) => a.getProperty()?.getName() === 'NODE_IMAGE');
    const image = arg?.getProperty()?.getValue() ?? '';
    expect(image).toMatch(/^node:22-(trixie|noble)(-slim)?$/);
    expect(all[0]!.image).toBe(['$', '{NODE_IMAGE}'].join(''));
    for (const s of all.slice(1)) expect(s.image).toBe('base');
  });

  it('installs system packages only through docker/install-system-deps.sh', () => {
    const copies = of(all[0]!, 'COPY').map(args);
    expect(copies).toContainEqual([SCRIPT, '/usr/local/lib/metatape/install-system-deps.sh']);
    const runs = all.flatMap((s) =>
      of(s, 'RUN').map((r) => ({ stage: s.name, cmd: r.getArgumentsContent() ?? '' })),
    );
    for (const r of runs) expect(r.cmd, r.cmd).not.toMatch(/apt-get|apt install|dpkg -i/);
    const installs = runs.filter((r) => r.cmd.includes('install-system-deps.sh'));
    expect(installs.map((r) => [r.stage, r.cmd.split(' ').at(-1)])).toEqual([
      ['builder', 'build'],
      ['runtime', 'runtime'],
    ]);
  });

  it('runs as a non-root user with metatape as entrypoint, doctor as health check, data as volumes', () => {
    const user = of(runtime, 'USER').at(-1);
    expect(user && args(user)[0]).toBe('metatape');
    expect(of(runtime, 'RUN').some((r) => /useradd .*metatape/.test(r.getArgumentsContent() ?? ''))).toBe(
      true,
    );
    expect(of(runtime, 'ENTRYPOINT').map(json)).toEqual([['metatape']]);
    expect(of(runtime, 'CMD').map(json)).toEqual([['--help']]);
    const health = of(runtime, 'HEALTHCHECK');
    expect(health).toHaveLength(1);
    expect(health[0]!.getArgumentsContent()).toMatch(/CMD \["metatape", "doctor"/);
    expect(of(runtime, 'VOLUME').map(json)).toEqual([['/app/experiments', '/app/datasets']]);
    const env = of(runtime, 'ENV')
      .map((e) => e.getArgumentsContent() ?? '')
      .join(' ');
    expect(env).toContain('NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics');
    expect(env).toContain('METATAPE_OUT=/app/experiments');
    // The launcher the ENTRYPOINT resolves to.
    expect(
      of(runtime, 'RUN').some((r) => (r.getArgumentsContent() ?? '').includes('/app/bin/metatape.js')),
    ).toBe(true);
  });

  it('every COPY source exists and is inside the build context .dockerignore leaves', () => {
    const sources = all.flatMap((s) =>
      of(s, 'COPY')
        .filter((c) => fromFlag(c) === null)
        .flatMap((c) => args(c).slice(0, -1)),
    );
    expect(sources.length).toBeGreaterThan(5);
    for (const src of sources) {
      expect(existsSync(join(root, src)), src).toBe(true);
      expect(dockerignored(src), `${src} is excluded by .dockerignore`).toBe(false);
    }
    expect(dockerignored('src/cli/main.ts')).toBe(false);
    expect(dockerignored('configs/sinusoid-quick.yaml')).toBe(false);
  });

  it('.dockerignore keeps installed trees, run folders and datasets out of the context', () => {
    for (const p of [
      'node_modules/gpu.js/package.json',
      'src/node_modules/x',
      'dist/cli/main.js',
      '.git/HEAD',
      'experiments/sinusoid-quick/20260101-120000/metrics.arrow',
      'experiments/seed/01-cubic.ts',
      'datasets/omniglot/background.arrow',
      'datasets/omniglot/raw/images_background.zip',
      'configs/some.arrow',
      '.gl/x',
      'npm-debug.log',
    ])
      expect(dockerignored(p), p).toBe(true);
  });
});

describe('docker/install-system-deps.sh', () => {
  const hasApt = spawnSync('sh', ['-c', 'command -v apt-get && command -v apt-cache']).status === 0;

  it('is valid bash with strict mode', () => {
    const script = readFileSync(join(root, SCRIPT), 'utf8');
    expect(script).toMatch(/^#!\/usr\/bin\/env bash\n/);
    expect(script).toContain('set -euo pipefail');
    for (const pkg of [
      'libvulkan1',
      'mesa-vulkan-drivers',
      'xvfb',
      'libxi-dev',
      'libxext-dev',
      'libx11-dev',
      'pkg-config',
      'python3',
      'make',
      'g++',
      'ca-certificates',
    ])
      expect(script).toMatch(new RegExp(`[ (]${pkg.replace('+', '\\+')}[ )\\n]`));
    expect(spawnSync('bash', ['-n', join(root, SCRIPT)]).status).toBe(0);
    expect(spawnSync('bash', [join(root, SCRIPT), '--bogus'], { encoding: 'utf8' }).status).toBe(2);
  });

  it.skipIf(!hasApt)("--check: every package resolves on this machine's Debian/Ubuntu", () => {
    const r = spawnSync('bash', [join(root, SCRIPT), '--check'], { encoding: 'utf8', timeout: 180_000 });
    if (r.status === 3) console.warn(`SKIPPED install-system-deps --check: ${r.stdout}${r.stderr}`);
    else {
      expect(r.status, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toMatch(/OK: \d+ packages resolve/);
    }
  });

  it.skipIf(!hasApt)(
    "--check --release: every package resolves on the image base's Debian release",
    (ctx) => {
      const release = /node:22-(trixie|bookworm)/.exec(text)?.[1];
      if (!release) ctx.skip(); // an Ubuntu base: apt's Debian archive cannot answer for it
      const r = spawnSync('bash', [join(root, SCRIPT), '--check', '--release', release!], {
        encoding: 'utf8',
        timeout: 300_000,
      });
      const output = r.stdout + r.stderr;
      if (
        r.status !== 0 &&
        /Could not resolve|Failed to fetch|Temporary failure|Unable to connect/.test(output)
      ) {
        console.warn(`SKIPPED install-system-deps --check --release ${release}: no network\n${output}`);
        ctx.skip();
      }
      expect(r.status, output).toBe(0);
      expect(output).toMatch(/checking against Debian .*libc6 2\.(3[89]|[4-9]\d)/);
    },
  );
});
