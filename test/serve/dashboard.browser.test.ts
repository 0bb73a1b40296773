import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DashboardServer, startServer } from '../../src/serve/server.js';

/**
 * The dashboard in a real browser: headless Chromium (Debian's `chromium` package, or METATAPE_CHROMIUM)
 * driven by playwright-core. Skipped, with the reason printed, where either is missing. Nothing here waits
 * for a fixed time: every wait polls for a condition with a generous limit, so a slow machine only makes
 * it slower.
 */
const CHROMIUM = process.env.METATAPE_CHROMIUM ?? '/usr/bin/chromium';

type Playwright = typeof import('playwright-core');
type Page = import('playwright-core').Page;
type Browser = import('playwright-core').Browser;

async function loadPlaywright(): Promise<Playwright | string> {
  if (!existsSync(CHROMIUM))
    return `no Chromium at ${CHROMIUM} (apt-get install chromium, or set METATAPE_CHROMIUM)`;
  try {
    // A variable specifier: playwright-core is an optional dev dependency, absent in some clones.
    const name = 'playwright-core';
    return (await import(name)) as Playwright;
  } catch {
    return 'playwright-core is not installed (npm install playwright-core)';
  }
}

const pw = await loadPlaywright();
const skipReason = typeof pw === 'string' ? pw : undefined;
if (skipReason) console.warn(`[skip] dashboard browser test: ${skipReason}`);

const LIMIT = 300_000;
const root = mkdtempSync(join(tmpdir(), 'mt-serve-'));
const shots = join(root, '..', `${root.split('/').pop()}-screens`);

function cliArgs(args: string[]): string[] {
  return ['--import', 'tsx', 'src/cli/main.ts', ...args];
}
const env = { ...process.env, METATAPE_BACKEND: '', METATAPE_LOG_LEVEL: 'warn' };

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const start = Date.now();
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() - start > LIMIT) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function ready(page: Page): Promise<void> {
  await page.waitForFunction(
    () => (globalThis as unknown as { metatape?: { ready: boolean } }).metatape?.ready === true,
    null,
    { timeout: LIMIT },
  );
}

const charts = (page: Page) =>
  page.evaluate(
    () => (globalThis as unknown as { metatape: { charts: Record<string, number> } }).metatape.charts,
  );

async function shot(page: Page, name: string): Promise<string> {
  mkdirSync(shots, { recursive: true });
  const path = join(shots, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  const keep = process.env.METATAPE_SCREENS;
  if (keep) {
    mkdirSync(keep, { recursive: true });
    copyFileSync(path, join(keep, `${name}.png`));
  }
  return path;
}

describe.skipIf(skipReason !== undefined)('metatape serve in headless Chromium', () => {
  let server: DashboardServer;
  let browser: Browser;
  let page: Page;
  let live: ChildProcess | undefined;
  const errors: string[] = [];

  beforeAll(async () => {
    // A finished run made here, and the committed 18-variant comparison copied in as from another machine.
    const r = spawnSync(
      process.execPath,
      cliArgs([
        'run',
        'configs/sinusoid-fomaml-smoke.yaml',
        '--out',
        root,
        '--iterations',
        '30',
        '--set',
        'eval.tasks=5',
      ]),
      { encoding: 'utf8', env },
    );
    expect(r.status, r.stderr).toBe(0);
    cpSync('experiments/compare-sinusoid', join(root, 'compare-sinusoid'), { recursive: true });
    server = await startServer({ root, port: 0, pollMs: 200 });
    browser = await (pw as Playwright).chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--no-first-run',
      ],
    });
    page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
    page.on('pageerror', (e) => errors.push(String(e)));
    // Nothing but the local server is ever asked for: no CDN, no fonts, no telemetry.
    page.on('request', (req) => {
      if (!req.url().startsWith(server.url)) errors.push(`request off the machine: ${req.url()}`);
    });
  });

  afterAll(async () => {
    if (live && live.exitCode === null) live.kill('SIGKILL');
    await browser?.close();
    await server?.close();
    if (!skipReason) console.log(`dashboard screenshots in ${shots}`);
  });

  it('lists the runs and comparisons with their state and headline', async () => {
    await page.goto(server.url);
    await ready(page);
    const rows = await page.locator('#runs tbody tr').count();
    expect(rows).toBe(19); // the smoke run and 18 variants
    await expect.poll(() => page.locator('#comparisons tbody tr').count(), { timeout: LIMIT }).toBe(1);
    expect(await page.locator('#runs [data-state="completed"]').count()).toBe(19);
    expect(await page.locator('#runs').textContent()).toContain('sinusoid-smoke');
    await shot(page, 'run-list');
    expect(errors).toEqual([]);
  });

  it('shows the 18-run comparison: both orders, per seed and mean, speed and memory', async () => {
    const t0 = Date.now();
    await page.goto(`${server.url}#/comparison/compare-sinusoid`);
    await ready(page);
    const wall = Date.now() - t0;
    const c = await charts(page);
    // 18 curves of 30 logged windows each under 9 mean curves of 30 points, per order.
    expect(c['curve-o1']).toBe(9 * 30 + 3 * 30);
    expect(c['curve-o2']).toBe(9 * 30 + 3 * 30);
    for (const k of ['final', 'speed', 'memory']) expect(c[k]).toBe(6 + 18);
    expect(await page.locator('#chart-curve-o1 svg path').count()).toBeGreaterThan(6);
    expect(await page.locator('#variants tbody tr').count()).toBe(18);
    const loadMs = await page.evaluate(
      () => (globalThis as unknown as { metatape: { loadMs: number } }).metatape.loadMs,
    );
    console.log(
      `comparison of 18 runs: page ready ${Math.round(loadMs)} ms after routing (${wall} ms from navigation)`,
    );
    await shot(page, 'comparison');
    expect(errors).toEqual([]);
  });

  it('shows a finished run: curves, evaluation table, plots, config and log', async () => {
    const name = readdirSync(join(root, 'sinusoid-smoke'))[0]!;
    await page.goto(`${server.url}#/run/sinusoid-smoke/${name}`);
    await ready(page);
    const c = await charts(page);
    expect(c.curve).toBeGreaterThan(0);
    expect(await page.locator('#evaluation tbody tr').count()).toBeGreaterThan(0);
    expect(await page.locator('img.plot').count()).toBeGreaterThan(0);
    expect(await page.locator('#config').textContent()).toContain('sinusoid-smoke');
    expect(errors).toEqual([]);
  });

  it('overlays selected runs', async () => {
    await page.goto(server.url);
    await ready(page);
    const boxes = page.locator('#runs input[type=checkbox]');
    await boxes.nth(0).check();
    await boxes.nth(1).check();
    await page.click('#overlay');
    // The list page's `ready` may still be set when the click returns: wait for the overlay chart itself.
    await page.waitForFunction(
      () =>
        ((globalThis as unknown as { metatape?: { charts?: Record<string, number> } }).metatape?.charts
          ?.overlay ?? 0) > 0,
      null,
      { timeout: LIMIT },
    );
    await ready(page);
    expect((await charts(page)).overlay).toBeGreaterThan(0);
    expect(errors).toEqual([]);
  });

  it('draws the learning curve of a running run as it trains', async () => {
    // Long enough never to finish first on any machine; it is stopped (SIGINT) once the curve has grown.
    live = spawn(
      process.execPath,
      cliArgs([
        'run',
        'configs/sinusoid-fomaml-smoke.yaml',
        '--out',
        root,
        '--iterations',
        '1000000',
        '--set',
        'name=live',
        '--set',
        'logging.every=25',
        '--set',
        'logging.checkpointEvery=100000',
        '--set',
        'eval.tasks=5',
      ]),
      { env, stdio: 'ignore' },
    );
    const runDir = await until('the live run to start', () => {
      const dir = join(root, 'live');
      const ts = existsSync(dir) ? readdirSync(dir)[0] : undefined;
      if (!ts) return undefined;
      const status = join(dir, ts, 'status.json');
      if (!existsSync(status)) return undefined;
      return JSON.parse(readFileSync(status, 'utf8')).state === 'running' ? `live/${ts}` : undefined;
    });
    await page.goto(`${server.url}#/run/${runDir}`);
    await ready(page);
    expect(await page.locator('#live').textContent()).toContain('live');
    const first = await until(
      'a first point',
      async () => ((await charts(page)).curve ?? 0) > 0 || undefined,
    );
    expect(first).toBe(true);
    const start = (await charts(page)).curve!;
    await until(
      'the curve to grow by 3 points',
      async () => ((await charts(page)).curve ?? 0) >= start + 3 || undefined,
    );
    await shot(page, 'live-run');
    live.kill('SIGINT');
    await until(
      'the page to see the run stop',
      async () => ((await page.locator('#live').textContent()) ?? '').includes('finished') || undefined,
    );
    expect(await page.locator('#state').textContent()).toContain('interrupted');
    expect(errors).toEqual([]);
  });
});
