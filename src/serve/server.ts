import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { extname, resolve } from 'node:path';
import { readRunMetrics } from '../io/metrics.js';
import { readStatus } from '../io/runFolder.js';
import { comparisonDetail, discover, insideRoot, runDetail, runStamp, ServeError } from './data.js';
import { APP_JS, INDEX_HTML } from './page.js';

/** Options of {@link startServer}. */
export interface ServeOptions {
  /** Folder of runs and comparisons to show. */
  root: string;
  /** First port to try (default 6006); the next ones are tried when it is taken, then any free port. */
  port?: number;
  /** Interface to bind (default 127.0.0.1: nothing is reachable from other machines). */
  host?: string;
  /** How often a live run's folder is checked for new metrics, in ms (default 500). */
  pollMs?: number;
}

/** A started dashboard server. */
export interface DashboardServer {
  url: string;
  port: number;
  root: string;
  close(): Promise<void>;
}

const require = createRequire(import.meta.url);

/** Browser builds of the chart libraries, served from node_modules (no CDN: nothing leaves the machine). */
const VENDOR: Record<string, string> = {
  'vega.js': 'vega/build/vega.min.js',
  'vega-lite.js': 'vega-lite/build/vega-lite.min.js',
};

function vendorPath(name: string): string | undefined {
  const rel = VENDOR[name];
  if (!rel) return undefined;
  const [pkg, ...rest] = rel.split('/') as [string, ...string[]];
  // The package's folder in the node_modules Node would load it from (works from src/ and dist/; the
  // packages do not export their package.json, so it is looked for along Node's search paths).
  for (const base of require.resolve.paths(pkg) ?? []) {
    const file = resolve(base, pkg, ...rest);
    if (existsSync(file)) return file;
  }
  return undefined;
}

const TYPES: Record<string, string> = {
  '.svg': 'image/svg+xml',
  '.json': 'application/json; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
  '.yaml': 'text/yaml; charset=utf-8',
  '.jsonl': 'text/plain; charset=utf-8',
  '.log': 'text/plain; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.arrow': 'application/vnd.apache.arrow.file',
  '.png': 'image/png',
};

function send(res: ServerResponse, status: number, type: string, body: string | Uint8Array): void {
  res.writeHead(status, {
    'content-type': type,
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  res.end(body);
}

function sendJson(res: ServerResponse, value: unknown): void {
  // NaN/Infinity (a diverged loss) are not JSON; they travel as strings the page turns back into numbers.
  send(
    res,
    200,
    'application/json; charset=utf-8',
    JSON.stringify(value, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v)),
  );
}

async function liveUpdate(root: string, rel: string): Promise<unknown> {
  const dir = insideRoot(root, rel);
  const status = await readStatus(dir);
  const metrics = await readRunMetrics(dir).catch(() => undefined);
  return { status, metrics };
}

/**
 * Server-Sent Events for one run: an `update` event (status and all metrics) now and whenever the run's
 * metrics or status files change (checked every `pollMs`, which also works on network and copied volumes
 * where file-change notifications do not arrive), until the page goes away.
 */
function events(root: string, rel: string, pollMs: number, req: IncomingMessage, res: ServerResponse): void {
  const dir = insideRoot(root, rel);
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    connection: 'keep-alive',
  });
  let last = '';
  let busy = false;
  let beats = 0;
  const check = async () => {
    if (busy) return;
    busy = true;
    try {
      const stamp = await runStamp(dir);
      if (stamp !== last) {
        last = stamp;
        const update = await liveUpdate(root, rel);
        res.write(
          `event: update\ndata: ${JSON.stringify(update, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v))}\n\n`,
        );
      } else if (++beats % Math.max(1, Math.round(15000 / pollMs)) === 0) {
        res.write(': keep-alive\n\n');
      }
    } catch {
      // A file replaced mid-read: the next tick reads it again.
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(check, pollMs);
  void check();
  req.on('close', () => clearInterval(timer));
}

async function handle(
  root: string,
  pollMs: number,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const p = url.pathname;
  const q = (name: string) => url.searchParams.get(name) ?? '';
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', 'GET only');
  if (p === '/' || p === '/index.html') return send(res, 200, 'text/html; charset=utf-8', INDEX_HTML);
  if (p === '/favicon.ico') return send(res, 204, 'image/x-icon', '');
  if (p === '/app.js') return send(res, 200, 'text/javascript; charset=utf-8', APP_JS);
  if (p.startsWith('/vendor/')) {
    const file = vendorPath(p.slice('/vendor/'.length));
    if (!file) return send(res, 404, 'text/plain', 'not found');
    return send(res, 200, 'text/javascript; charset=utf-8', await readFile(file));
  }
  if (p === '/api/list') return sendJson(res, { root, ...(await discover(root)) });
  if (p === '/api/run') return sendJson(res, await runDetail(root, q('path')));
  if (p === '/api/comparison') return sendJson(res, await comparisonDetail(root, q('path')));
  if (p === '/api/metrics') {
    const paths = url.searchParams.getAll('path');
    const out: Record<string, unknown> = {};
    for (const rel of paths) out[rel] = await readRunMetrics(insideRoot(root, rel)).catch(() => null);
    return sendJson(res, out);
  }
  if (p === '/api/events') return events(root, q('path'), pollMs, req, res);
  if (p.startsWith('/files/')) {
    const rel = decodeURIComponent(p.slice('/files/'.length));
    const file = insideRoot(root, rel);
    const info = await stat(file).catch(() => undefined);
    if (!info?.isFile()) return send(res, 404, 'text/plain', 'not found');
    return send(res, 200, TYPES[extname(file)] ?? 'application/octet-stream', await readFile(file));
  }
  send(res, 404, 'text/plain; charset=utf-8', 'not found');
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((ok, fail) => {
    const onError = (err: Error) => {
      server.off('listening', onListening);
      fail(err);
    };
    const onListening = () => {
      server.off('error', onError);
      ok((server.address() as AddressInfo).port);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

/**
 * Starts the dashboard over `root`. Binds 127.0.0.1 by default; when the port is taken the next 19 are
 * tried, then one the system picks. Port 0 asks the system for a free port at once.
 */
export async function startServer(o: ServeOptions): Promise<DashboardServer> {
  const root = resolve(o.root);
  const host = o.host ?? '127.0.0.1';
  const pollMs = o.pollMs ?? 500;
  const server = createServer((req, res) => {
    handle(root, pollMs, req, res).catch((err: unknown) => {
      const status = err instanceof ServeError ? err.status : 500;
      if (!res.headersSent) send(res, status, 'text/plain; charset=utf-8', (err as Error).message);
      else res.end();
    });
  });
  const first = o.port ?? 6006;
  const candidates = first === 0 ? [0] : [...Array.from({ length: 20 }, (_, i) => first + i), 0];
  let port = -1;
  for (const c of candidates) {
    try {
      port = await listen(server, c, host);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    }
  }
  const shown = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shown}:${port}/`,
    port,
    root,
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}
