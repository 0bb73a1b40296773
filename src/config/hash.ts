import { createHash } from 'node:crypto';
import type { ExperimentConfig } from './schema.js';

/** JSON with object keys sorted, so equal configs serialize identically whatever their key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * Short hash of the settings a checkpoint's contents depend on: seed, dtype, data, model and trainer (except
 * `iterations`, so a resumed run may be extended, and `fastWeights`, `kernelReplay`, `threads` and `parallelism`, which only choose how the
 * same meta-gradient is computed). Name, backend, eval, logging and output are left out on purpose: changing them
 * does not make saved parameters or optimizer state invalid.
 */
export function trainingConfigHash(config: ExperimentConfig): string {
  const {
    iterations: _iterations,
    fastWeights: _fastWeights,
    kernelReplay: _kernelReplay,
    threads: _threads,
    parallelism: _parallelism,
    ...trainer
  } = config.trainer;
  const identity = {
    seed: config.seed,
    dtype: config.dtype,
    data: config.data,
    model: config.model,
    trainer,
  };
  return createHash('sha256').update(canonicalJson(identity)).digest('hex').slice(0, 16);
}
