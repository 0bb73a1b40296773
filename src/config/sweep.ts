import { parse } from 'yaml';
import { ConfigError } from './errors.js';

/** One point of a sweep: the overrides that define it and a filesystem-safe label. */
export interface SweepPoint {
  /** `a.b=value` assignments, in axis order, to pass to `loadConfig`. */
  overrides: string[];
  /** e.g. `innerSteps-5_innerLr-0.1`; used to name the run. */
  label: string;
}

/** A sweep axis: a field and the values it takes. */
export interface SweepAxis {
  path: string;
  values: unknown[];
}

/** Parses `trainer.innerSteps=[1, 5, 10]` (a single value is a one-point axis). */
export function parseAxis(spec: string): SweepAxis {
  const source = `--grid ${spec}`;
  const eq = spec.indexOf('=');
  const path = spec.slice(0, eq).trim();
  if (eq <= 0 || path.split('.').some((s) => s === '')) {
    throw new ConfigError(source, [
      { source, path: '', detail: 'expected field=[v1, v2, ...], e.g. trainer.innerSteps=[1,5]' },
    ]);
  }
  let parsed: unknown;
  try {
    parsed = parse(spec.slice(eq + 1));
  } catch (err) {
    throw new ConfigError(source, [
      { source, path, detail: `values are not valid YAML (${(err as Error).message.split('\n')[0]})` },
    ]);
  }
  const values = Array.isArray(parsed) ? parsed : [parsed];
  if (values.length === 0)
    throw new ConfigError(source, [{ source, path, detail: 'got []; expected at least one value' }]);
  return { path, values };
}

function labelPart(path: string, value: unknown): string {
  const leaf = path.split('.').at(-1)!;
  const v = typeof value === 'string' ? value : JSON.stringify(value);
  return `${leaf}-${v}`.replace(/[^A-Za-z0-9._-]+/g, '_');
}

/** Cartesian product of the axes, first axis varying slowest. */
export function expandGrid(axes: readonly SweepAxis[]): SweepPoint[] {
  let points: SweepPoint[] = [{ overrides: [], label: '' }];
  for (const axis of axes) {
    points = points.flatMap((p) =>
      axis.values.map((v) => ({
        // JSON is valid YAML flow syntax, so the override parser reads the value back unchanged.
        overrides: [...p.overrides, `${axis.path}=${JSON.stringify(v)}`],
        label: p.label ? `${p.label}_${labelPart(axis.path, v)}` : labelPart(axis.path, v),
      })),
    );
  }
  return points;
}
