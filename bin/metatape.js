#!/usr/bin/env node
// Launcher: the compiled CLI when dist/ exists (npm package, `npm run build`), otherwise the TypeScript
// sources through tsx (a development checkout), so `npx metatape` works in both. In a checkout whose dist/
// is older than a source file (edited or checked out since the last build), the sources run instead, so a
// forgotten rebuild never runs stale code.
//
// It also gives the CLI's V8 heap a 128 MB initial old generation (METATAPE_OLD_SPACE_MB; 0 keeps V8's
// default), by starting the CLI in a child node with --initial-old-space-size unless node's command line
// already sets it. Why: tensor storage lives outside the JS heap, and V8 counts the external bytes allocated
// since the last mark-compact against an old-generation limit that by default sits a few tens of MB above a
// ~12 MB live heap. A meta-iteration that keeps new parameters, optimizer state and gradients (about 5 MB
// for the Omniglot MLP) then starts a full mark-compact every few iterations, whose concurrent marking takes
// the training core's time (0.16 -> 0.01 per iteration with the flag; bench/PROFILE.md). Worker threads get
// the same value (src/meta/workerHeap.ts, COMPUTE_OLD_SPACE_MB). V8 reads the flag only when a heap is
// created, hence the child process.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dist = new URL('../dist/cli/main.js', import.meta.url);
const src = fileURLToPath(new URL('../src/', import.meta.url));

/** Whether a `.ts` file under `dir` was modified after `time` (ms since the epoch). */
function changedSince(dir, time) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (
      entry.isDirectory()
        ? changedSince(path, time)
        : entry.name.endsWith('.ts') && statSync(path).mtimeMs > time
    )
      return true;
  }
  return false;
}

async function registerTsx() {
  try {
    const { register } = await import('tsx/esm/api');
    register();
    return true;
  } catch {
    return false; // no dev dependencies
  }
}

const HEAP_FLAG = /^--initial[-_]old[-_]space[-_]size(=|$)/;

/** MB of initial old generation to start the CLI with: METATAPE_OLD_SPACE_MB, else 128. */
function oldSpaceMb() {
  const raw = process.env.METATAPE_OLD_SPACE_MB;
  if (raw === undefined || raw.trim() === '') return 128;
  const mb = Number(raw);
  if (!Number.isInteger(mb) || mb < 0) {
    process.stderr.write(
      `error: METATAPE_OLD_SPACE_MB: expected a non-negative integer (MB; 0 keeps V8's default), got "${raw}"\n`,
    );
    process.exit(2);
  }
  return mb;
}

/**
 * Runs this launcher again in a child node with `--initial-old-space-size=mb` and mirrors its exit. Ctrl-C
 * reaches the child directly (same process group), so the parent only ignores SIGINT; SIGTERM and SIGHUP,
 * which `docker stop` or a closing terminal send to this process alone, are passed on, so the CLI still saves
 * its checkpoint and stops after the current iteration.
 */
function runWithHeap(mb) {
  const args = [...process.execArgv, `--initial-old-space-size=${mb}`, fileURLToPath(import.meta.url)];
  const child = spawn(process.execPath, [...args, ...process.argv.slice(2)], { stdio: 'inherit' });
  process.on('SIGINT', () => {});
  for (const sig of ['SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
  child.on('error', (err) => {
    process.stderr.write(`error: could not start ${process.execPath}: ${err.message}\n`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    if (signal === null) process.exit(code ?? 1);
    // Die of the same signal, so a parent shell sees what the CLI saw.
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
  });
}

// Node refuses this flag in NODE_OPTIONS, so only its own command line can carry it.
const mb = process.execArgv.some((a) => HEAP_FLAG.test(a)) ? 0 : oldSpaceMb();
if (mb > 0) runWithHeap(mb);
else await runCli();

async function runCli() {
  const built = existsSync(dist);
  const stale = built && existsSync(src) && changedSince(src, statSync(dist).mtimeMs);
  if (built && !stale) await import(dist.href);
  else if (await registerTsx()) await import(new URL('../src/cli/main.ts', import.meta.url).href);
  else if (built)
    await import(dist.href); // stale, but without tsx the sources cannot run
  else {
    process.stderr.write('error: metatape needs dist/ (npm run build) or tsx (npm install) to run\n');
    process.exitCode = 1;
  }
}
