import { appendFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DashboardServer, startServer } from '../../src/serve/server.js';

/** A run folder as a run on another machine left it: config, status, a metrics log. */
function fakeRun(dir: string, state: string, rows: object[]): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({
      name: 'sine',
      seed: 3,
      data: { kind: 'sinusoid', shots: 5 },
      trainer: { order: 2, innerSteps: 1 },
    }),
  );
  writeFileSync(join(dir, 'config.yaml'), 'name: sine\n');
  writeFileSync(
    join(dir, 'status.json'),
    JSON.stringify({
      state,
      startedAt: '2026-01-01T00:00:00.000Z',
      updatedAt: '2026-01-01T00:00:00.000Z',
      iteration: 20,
      iterations: 100,
      headline: { metric: 'metaLoss', value: 0.5 },
      pid: 1,
      host: 'a-cluster-node',
    }),
  );
  writeFileSync(join(dir, 'metrics.jsonl'), rows.map((r) => `${JSON.stringify(r)}\n`).join(''));
}

async function get(url: string): Promise<{ status: number; body: string; type: string }> {
  const r = await fetch(url);
  return { status: r.status, body: await r.text(), type: r.headers.get('content-type') ?? '' };
}

describe('metatape serve (HTTP)', () => {
  const root = mkdtempSync(join(tmpdir(), 'mt-serve-http-'));
  const runDir = join(root, 'sine', '2026-01-01T00-00-00Z');
  let server: DashboardServer;

  beforeAll(async () => {
    fakeRun(runDir, 'running', [
      { iteration: 10, split: 'train', metaLoss: 1 },
      { iteration: 20, split: 'train', metaLoss: { $f: 'NaN' } }, // how a diverged loss is logged
    ]);
    writeFileSync(join(runDir, 'plot.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
    server = await startServer({ root, port: 0, pollMs: 50 });
  });
  afterAll(() => server.close());

  it('binds 127.0.0.1 and serves the page and the chart libraries from node_modules', async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const page = await get(server.url);
    expect(page.body).toContain('/vendor/vega-lite.js');
    expect(page.body).not.toMatch(/https?:\/\/(?!www\.w3)/); // no CDN
    for (const lib of ['vega.js', 'vega-lite.js']) {
      const r = await get(`${server.url}vendor/${lib}`);
      expect(r.status).toBe(200);
      expect(r.body.length).toBeGreaterThan(100_000);
    }
  });

  it('lists a run copied from another machine with its state, config and headline', async () => {
    const list = JSON.parse((await get(`${server.url}api/list`)).body);
    expect(list.runs).toHaveLength(1);
    expect(list.runs[0]).toMatchObject({
      path: 'sine/2026-01-01T00-00-00Z',
      state: 'running',
      stale: false, // another host's pid cannot be checked here
      headline: { metric: 'metaLoss', value: 0.5 },
      config: { order: 2, innerSteps: 1, seed: 3 },
    });
    const run = JSON.parse((await get(`${server.url}api/run?path=sine/2026-01-01T00-00-00Z`)).body);
    expect(run.metrics.metaLoss).toEqual([1, 'NaN']);
    expect(run.plots).toEqual(['plot.svg']);
    const svg = await get(`${server.url}files/sine/2026-01-01T00-00-00Z/plot.svg`);
    expect(svg.type).toBe('image/svg+xml');
  });

  it('refuses paths outside the served folder', async () => {
    expect((await get(`${server.url}api/run?path=../..`)).status).toBe(403);
    expect((await get(`${server.url}files/..%2F..%2Fetc%2Fpasswd`)).status).toBe(403);
    expect((await get(`${server.url}api/run?path=nope`)).status).toBe(404);
  });

  it('pushes an update (Server-Sent Events) when the run appends metrics', async () => {
    const events: { metrics: { iteration: number[] } }[] = [];
    const req = request(`${server.url}api/events?path=sine/2026-01-01T00-00-00Z`);
    const done = new Promise<void>((resolve, reject) => {
      req.on('response', (res) => {
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buf += chunk;
          let i = buf.indexOf('\n\n');
          while (i >= 0) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            const data = block.split('\n').find((l) => l.startsWith('data: '));
            if (data) {
              events.push(JSON.parse(data.slice(6)));
              if (events.length === 1)
                appendFileSync(
                  join(runDir, 'metrics.jsonl'),
                  `${JSON.stringify({ iteration: 30, metaLoss: 0.4 })}\n`,
                );
              if (events.length === 2) {
                req.destroy();
                resolve();
              }
            }
            i = buf.indexOf('\n\n');
          }
        });
      });
      req.on('error', (e) => (events.length >= 2 ? resolve() : reject(e)));
    });
    req.end();
    await done;
    expect(events[0]!.metrics.iteration).toEqual([10, 20]);
    expect(events[1]!.metrics.iteration).toEqual([10, 20, 30]);
  });

  it('moves to the next port when the first is taken', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const taken = (blocker.address() as { port: number }).port;
    const other = await startServer({ root, port: taken });
    try {
      expect(other.port).not.toBe(taken);
    } finally {
      await other.close();
      blocker.close();
    }
  });
});
