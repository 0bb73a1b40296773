#!/usr/bin/env node
// Launcher: the compiled CLI when dist/ exists (npm package, `npm run build`), otherwise the TypeScript
// sources through tsx (a development checkout), so `npx metatape` works in both. In a checkout whose dist/
// is older than a source file (edited or checked out since the last build), the sources run instead, so a
// forgotten rebuild never runs stale code.
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
