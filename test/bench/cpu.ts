export { rssBytes } from '../helpers/fixtures.js';
export { childPids } from '../helpers/processes.js';
import { readFileSync } from 'node:fs';

/** Jiffies of all CPUs from /proc/stat: busy and total. */
export interface CpuSample {
  busy: number;
  total: number;
}

/** Reads the machine-wide CPU counters (Linux /proc/stat, first line). */
export function sampleCpu(): CpuSample {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (f[3] ?? 0) + (f[4] ?? 0);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/** Share of all cores busy between two samples, 0..1. */
export function utilization(a: CpuSample, b: CpuSample): number {
  const total = b.total - a.total;
  return total > 0 ? (b.busy - a.busy) / total : 0;
}


/** CPU time (user + system, all threads) a process has used so far, ms (Linux /proc/PID/stat; 100 ticks/s). */
export function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which may itself contain spaces and parentheses.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}
