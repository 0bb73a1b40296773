#!/usr/bin/env node
// Launcher: the compiled CLI when dist/ exists (npm package, `npm run build`), otherwise the TypeScript
// sources through tsx (a development checkout), so `npx metatape` works in both.
import { existsSync } from 'node:fs';

const dist = new URL('../dist/cli/main.js', import.meta.url);
if (existsSync(dist)) {
  await import(dist.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(new URL('../src/cli/main.ts', import.meta.url).href);
}
