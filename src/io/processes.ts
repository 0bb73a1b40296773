/**
 * Whether the process behind a pid is still running, for locks, temporary files and `running` statuses that
 * a killed process left behind.
 */
import { hostname } from 'node:os';

/** Whether a process with this pid runs on this machine (EPERM: it runs, as another user). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether a record says "running" for a process that is gone. Only decidable on the host that wrote it:
 * elsewhere the pid means nothing, so the answer is false.
 */
export function isStaleRunning(status: { state: string; host: string; pid: number } | undefined): boolean {
  return status?.state === 'running' && status.host === hostname() && !processAlive(status.pid);
}
