import { UsageError } from './errors.js';

/** Slice `index` of `count` (0-based, as a Kubernetes Indexed Job's `JOB_COMPLETION_INDEX`). */
export interface Shard {
  index: number;
  count: number;
}

/**
 * Parses `--shard i/n` (0 <= i < n). `i` may be `$JOB_COMPLETION_INDEX` already expanded by the shell, or the
 * word `env`, which reads `JOB_COMPLETION_INDEX` so a pod template needs no shell.
 */
export function parseShard(text: string, env: NodeJS.ProcessEnv = process.env): Shard {
  const m = /^\s*(\d+|env)\s*\/\s*(\d+)\s*$/.exec(text);
  const index = m?.[1] === 'env' ? Number(env.JOB_COMPLETION_INDEX) : Number(m?.[1]);
  const count = Number(m?.[2]);
  if (
    !m ||
    !Number.isInteger(index) ||
    !Number.isInteger(count) ||
    count < 1 ||
    index < 0 ||
    index >= count
  ) {
    throw new UsageError(
      `--shard: got ${JSON.stringify(text)}${m?.[1] === 'env' ? ` (JOB_COMPLETION_INDEX=${env.JOB_COMPLETION_INDEX ?? 'unset'})` : ''}; expected i/n with 0 <= i < n, e.g. 0/4`,
    );
  }
  return { index, count };
}

/**
 * The items of one shard: every n-th item starting at i. Round-robin rather than contiguous blocks, so that
 * when a grid's first axis is the expensive one (inner steps, model width) each machine gets a fair mix.
 * Over all i the shards partition the items: each runs exactly once.
 */
export function shardItems<T>(items: readonly T[], shard: Shard): { item: T; index: number }[] {
  return items
    .map((item, index) => ({ item, index }))
    .filter(({ index }) => index % shard.count === shard.index);
}

/**
 * `--grid key=v1,v2` as well as the YAML list form `--grid 'key=[v1, v2]'`: a bare comma-separated value is
 * turned into a list, anything starting with `[` or `{` is left to the YAML parser.
 */
export function normalizeGridSpec(spec: string): string {
  const eq = spec.indexOf('=');
  if (eq < 0) return spec;
  const value = spec.slice(eq + 1).trim();
  if (value.startsWith('[') || value.startsWith('{') || !value.includes(',')) return spec;
  return `${spec.slice(0, eq)}=[${value}]`;
}
