import type { OverrideInput } from '../config/overrides.js';

/** Options every command accepts. */
export interface GlobalArgs {
  verbose: boolean;
  logLevel: string | undefined;
  /** Root folder of runs for commands that read them (ls, report, compare, resume, eval). */
  out: string;
}

/** Default root folder of runs: `METATAPE_OUT`, else `experiments` (matches the config default). */
export function defaultOutDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.METATAPE_OUT ?? 'experiments';
}

/** CLI flags that are shorthands for config overrides. */
export interface OverrideFlags {
  set?: string[] | undefined;
  backend?: string | undefined;
  iterations?: number | undefined;
  /** `trainer.threads`: a count or `auto` (validated by the config schema). */
  threads?: string | undefined;
  out?: string | undefined;
}

/**
 * Turns flags and environment into config overrides, lowest precedence first: `METATAPE_BACKEND`, then each
 * `--set` in order, then the dedicated flags (`--backend`, `--iterations`, `--threads`, `--out`).
 */
export function overridesFromFlags(
  flags: OverrideFlags,
  env: NodeJS.ProcessEnv = process.env,
): OverrideInput[] {
  const list: OverrideInput[] = [];
  if (env.METATAPE_BACKEND) {
    list.push({
      assignment: `backend=${env.METATAPE_BACKEND}`,
      source: `METATAPE_BACKEND=${env.METATAPE_BACKEND}`,
    });
  }
  for (const s of flags.set ?? []) list.push(s);
  if (flags.backend !== undefined)
    list.push({ assignment: `backend=${flags.backend}`, source: `--backend ${flags.backend}` });
  if (flags.iterations !== undefined) {
    list.push({
      assignment: `trainer.iterations=${flags.iterations}`,
      source: `--iterations ${flags.iterations}`,
    });
  }
  if (flags.threads !== undefined)
    list.push({ assignment: `trainer.threads=${flags.threads}`, source: `--threads ${flags.threads}` });
  if (flags.out !== undefined) {
    // JSON-quote the path so YAML reads it back as a string whatever it contains.
    list.push({ assignment: `output.dir=${JSON.stringify(flags.out)}`, source: `--out ${flags.out}` });
  }
  return list;
}
