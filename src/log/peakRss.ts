import { readFileSync } from 'node:fs';

/**
 * Peak resident set size of this process, in MB. On Linux it is the address space's high-water mark
 * (`VmHWM`): getrusage's `maxrss` survives fork and exec, so a worker started by a large process (a benchmark
 * driver, `metatape compare`) would report its parent's peak instead of its own. Elsewhere, `maxrss`.
 */
export function peakRssMb(): number {
  try {
    const hwm = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (hwm) return Number(hwm[1]) / 1024;
  } catch {
    // no procfs: not Linux
  }
  // maxRSS is in KiB on Linux and macOS.
  return process.resourceUsage().maxRSS / 1024;
}
