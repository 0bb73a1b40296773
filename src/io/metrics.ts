import { appendFileSync } from 'node:fs';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  Bool,
  type DataType,
  Float64,
  Int32,
  Table,
  tableFromIPC,
  tableToIPC,
  Utf8,
  type Vector,
  vectorFromArray,
} from 'apache-arrow';
import { namingFile, writeFileAtomic } from './atomic.js';

/** A cell of the metrics table. `null` means "not measured in this row". */
export type MetricValue = number | string | boolean | null;

/**
 * One row of the metrics log. Long rows look like `{iteration, split: 'val', metric: 'accuracy', value, steps: 5}`;
 * wide rows like `{iteration, metaLoss, itPerSec}`. Both may share a log: the table's columns are the union of
 * all keys, missing cells are null.
 */
export type MetricRow = { iteration: number } & { [column: string]: MetricValue };

/** Column-oriented view of a metrics table, every column as long as the table. */
export type MetricColumns = Record<string, MetricValue[]>;

/** A metrics row or file is malformed; the message names the file (and line for JSONL). */
export class MetricsError extends Error {
  override readonly name = 'MetricsError';
}

type ColumnKind = 'number' | 'string' | 'boolean';

// Columns that lead every table in this order, so long-format logs read naturally.
const LEADING = ['iteration', 'split', 'metric', 'value'];

// JSON has no NaN/Infinity; a diverged loss must survive the round trip, so those are boxed.
const BOX = '$f';

function encodeLine(row: MetricRow): string {
  return JSON.stringify(row, (_k, v) =>
    typeof v === 'number' && !Number.isFinite(v) ? { [BOX]: String(v) } : v,
  );
}

function decodeLine(line: string): MetricRow {
  return JSON.parse(line, (_k, v) =>
    v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 1 && BOX in v
      ? Number(v[BOX])
      : v,
  ) as MetricRow;
}

function kindOf(v: MetricValue): ColumnKind | undefined {
  if (v === null) return undefined;
  const t = typeof v;
  if (t === 'number' || t === 'string' || t === 'boolean') return t;
  throw new MetricsError(
    `unsupported metric value ${String(v)} (${t}); use a number, string, boolean or null`,
  );
}

/** Column names of `rows` in a stable order: the long-format keys first, then first-seen order. */
export function columnOrder(rows: readonly MetricRow[]): string[] {
  const seen = new Set<string>();
  for (const r of rows) for (const k of Object.keys(r)) seen.add(k);
  const lead = LEADING.filter((k) => seen.has(k));
  return [...lead, ...[...seen].filter((k) => !LEADING.includes(k))];
}

/** Converts rows to columns (missing cells become null). */
export function rowsToColumns(rows: readonly MetricRow[]): MetricColumns {
  const cols: MetricColumns = {};
  for (const name of columnOrder(rows))
    cols[name] = rows.map((r) => (r[name] === undefined ? null : r[name]!));
  return cols;
}

function checkRows(rows: readonly MetricRow[], kinds: Map<string, ColumnKind>, where: string): void {
  for (const row of rows) {
    if (!Number.isInteger(row.iteration) || row.iteration < 0) {
      throw new MetricsError(
        `${where}: row needs a non-negative integer 'iteration', got ${JSON.stringify(row.iteration)}`,
      );
    }
    for (const [k, v] of Object.entries(row)) {
      const kind = kindOf(v);
      if (!kind) continue;
      const prev = kinds.get(k);
      if (prev && prev !== kind) {
        throw new MetricsError(
          `${where}: column '${k}' holds ${prev} values but got ${kind} ${JSON.stringify(v)}`,
        );
      }
      kinds.set(k, kind);
    }
  }
}

/** Options of {@link rowsToTable} and {@link encodeArrow}. */
export interface ArrowOptions {
  /** Number columns stored as Int32 (every value must be an integer), besides `iteration`. */
  int32?: readonly string[];
}

/**
 * Builds an Arrow table: `iteration` (and the `int32` columns) Int32, other numbers Float64, strings Utf8,
 * booleans Bool; all nullable.
 */
export function rowsToTable(rows: readonly MetricRow[], options: ArrowOptions = {}): Table {
  const kinds = new Map<string, ColumnKind>();
  checkRows(rows, kinds, 'metrics');
  const vectors: Record<string, Vector> = {};
  for (const [name, values] of Object.entries(rowsToColumns(rows))) {
    const kind = kinds.get(name);
    const isInt = name === 'iteration' || (options.int32 ?? []).includes(name);
    if (isInt && name !== 'iteration') {
      const bad = values.find((v) => v !== null && !(Number.isInteger(v) && Math.abs(v as number) < 2 ** 31));
      if (bad !== undefined)
        throw new MetricsError(`column '${name}' is Int32 but holds ${JSON.stringify(bad)}`);
    }
    const type: DataType = isInt
      ? new Int32()
      : kind === 'string'
        ? new Utf8()
        : kind === 'boolean'
          ? new Bool()
          : new Float64();
    vectors[name] = vectorFromArray(values, type);
  }
  return new Table(vectors);
}

/** Serializes rows as an Arrow IPC file (the random-access "Feather v2" format pandas/Polars/DuckDB read). */
export function encodeArrow(rows: readonly MetricRow[], options: ArrowOptions = {}): Uint8Array {
  return tableToIPC(rowsToTable(rows, options), 'file');
}

/** Converts an Arrow table to plain columns (Int32/Float64 become numbers, nulls stay null). */
export function tableToColumns(table: Table): MetricColumns {
  const cols: MetricColumns = {};
  for (const field of table.schema.fields) {
    const vec = table.getChild(field.name)!;
    const out: MetricValue[] = new Array(vec.length);
    for (let i = 0; i < vec.length; i++) {
      const v = vec.get(i) as unknown;
      out[i] = v === undefined ? null : typeof v === 'bigint' ? Number(v) : (v as MetricValue);
    }
    cols[field.name] = out;
  }
  return cols;
}

/** Parses a JSONL metrics file. A torn last line (crash mid-append) is skipped; any other bad line throws. */
export function parseJsonl(text: string, file: string): MetricRow[] {
  const lines = text.split('\n');
  const rows: MetricRow[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      rows.push(decodeLine(line));
    } catch (err) {
      const isLast = lines.slice(i + 1).every((l) => l.trim() === '');
      if (!isLast) throw new MetricsError(`${file}:${i + 1}: not a JSON row (${(err as Error).message})`);
    }
  });
  return rows;
}

/** Reads a metrics file (`.arrow` or `.jsonl`) into columns. */
export async function readMetrics(path: string): Promise<MetricColumns> {
  if (path.endsWith('.jsonl')) return rowsToColumns(parseJsonl(await readFile(path, 'utf8'), path));
  try {
    return tableToColumns(tableFromIPC(await readFile(path)));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code) throw err;
    throw new MetricsError(`${path}: not a readable Arrow IPC file (${(err as Error).message})`);
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/**
 * Reads a run's metrics log named `name` (default `metrics`). The Arrow file is preferred; the JSONL sidecar
 * is used when the run crashed after rows were appended but before the Arrow file was rewritten.
 */
export async function readRunMetrics(runDir: string, name = 'metrics'): Promise<MetricColumns> {
  const arrow = join(runDir, `${name}.arrow`);
  const jsonl = join(runDir, `${name}.jsonl`);
  const fromJsonl = (await exists(jsonl)) ? parseJsonl(await readFile(jsonl, 'utf8'), jsonl) : undefined;
  if (await exists(arrow)) {
    const cols = await readMetrics(arrow);
    const n = cols.iteration?.length ?? 0;
    if (!fromJsonl || fromJsonl.length <= n) return cols;
  }
  if (fromJsonl) return rowsToColumns(fromJsonl);
  throw new MetricsError(`${runDir}: no ${name}.arrow or ${name}.jsonl`);
}

/** Options for {@link MetricsLog.open}. */
export interface MetricsLogOptions {
  /** Base file name inside the folder (default `metrics` → `metrics.jsonl` + `metrics.arrow`). */
  name?: string;
  /**
   * When resuming from the checkpoint of iteration N, pass N: earlier rows are kept and later ones (logged
   * after that checkpoint, then lost with the crash) are dropped because training will log them again.
   * Without it an existing log is discarded.
   */
  keepUpTo?: number;
}

/**
 * An append-friendly metrics log for one run. Each {@link append} goes straight to a JSONL sidecar (so a crash
 * loses at most the line being written); {@link flush} rewrites `<name>.arrow` atomically from all rows and is
 * meant for checkpoints and the end of a run. The Arrow file is the artifact analysis tools read.
 */
export class MetricsLog {
  private readonly kinds = new Map<string, ColumnKind>();

  private constructor(
    readonly jsonlPath: string,
    readonly arrowPath: string,
    private readonly data: MetricRow[],
  ) {
    checkRows(data, this.kinds, jsonlPath);
  }

  /** Opens (creating the folder if needed) the log in `dir`. */
  static async open(dir: string, options: MetricsLogOptions = {}): Promise<MetricsLog> {
    const name = options.name ?? 'metrics';
    await mkdir(dir, { recursive: true });
    const jsonlPath = join(dir, `${name}.jsonl`);
    const arrowPath = join(dir, `${name}.arrow`);
    let rows: MetricRow[] = [];
    if (options.keepUpTo !== undefined && (await exists(jsonlPath))) {
      rows = parseJsonl(await readFile(jsonlPath, 'utf8'), jsonlPath).filter(
        (r) => r.iteration <= options.keepUpTo!,
      );
    }
    await writeFileAtomic(jsonlPath, rows.map((r) => `${encodeLine(r)}\n`).join(''));
    return new MetricsLog(jsonlPath, arrowPath, rows);
  }

  /** All rows so far, oldest first. */
  get rows(): readonly MetricRow[] {
    return this.data;
  }

  /** Validates and appends rows to memory and to the JSONL sidecar (one synchronous write). */
  append(rows: MetricRow | readonly MetricRow[]): void {
    const list = Array.isArray(rows) ? (rows as readonly MetricRow[]) : [rows as MetricRow];
    // Validate against a copy so a bad row leaves neither memory nor the file half-updated.
    const kinds = new Map(this.kinds);
    checkRows(list, kinds, this.jsonlPath);
    try {
      appendFileSync(this.jsonlPath, list.map((r) => `${encodeLine(r)}\n`).join(''));
    } catch (err) {
      throw namingFile(err, this.jsonlPath);
    }
    for (const [k, v] of kinds) this.kinds.set(k, v);
    this.data.push(...list.map((r) => ({ ...r })));
  }

  /** Columns of everything logged so far. */
  columns(): MetricColumns {
    return rowsToColumns(this.data);
  }

  /** Rewrites the Arrow file atomically from all rows. */
  async flush(): Promise<void> {
    await writeFileAtomic(this.arrowPath, encodeArrow(this.data));
  }
}
