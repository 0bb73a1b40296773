import type { DoctorCheck } from './types.js';

/** Runs one check: its detail on success, else the first line of its error as `fail` (or `warn`). */
export async function check(
  name: string,
  fn: () => Promise<string>,
  onError: 'warn' | 'fail' = 'fail',
): Promise<DoctorCheck> {
  try {
    return { name, status: 'ok', detail: await fn() };
  } catch (err) {
    return { name, status: onError, detail: firstLine(err) };
  }
}

/** The first line of an error's message (reports stay one line per problem). */
export function firstLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0] ?? msg;
}

/** `p`, or an error naming `what` after `ms` (a GPU context can hang instead of failing). */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms / 1000}s`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
