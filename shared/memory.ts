import { readFileSync } from 'node:fs';
import { availableParallelism, freemem, totalmem } from 'node:os';
import { join } from 'node:path';

/**
 * Share of the memory available when the workers are ready that images may take by
 * default; the rest is left for the slave process, the page cache and the rest of the
 * machine.
 */
export const MEMORY_BUDGET_SHARE = 0.9;

/**
 * An idle worker process's private memory once it has loaded OpenCV and the detectors'
 * models, bytes (92 MB measured on x86-64, Debian's OpenCV 4.6, with workers run through
 * tsx; ~25 MB less since they run compiled, shared/child-script.ts, kept as a margin where
 * the entry cannot be compiled; its shared libraries come on top, once for all workers):
 * what each worker not yet started will take of the memory available now.
 */
export const WORKER_IDLE_BYTES = 95 * 1024 * 1024;

/**
 * Memory one worker needs to be worth starting, bytes: its idle size and a 768x576 frame's
 * four tasks (~37 MB at 85 bytes a pixel, slave/pool/memory-budget.ts).
 */
export const WORKER_MIN_BYTES = WORKER_IDLE_BYTES + 40 * 1024 * 1024;

/**
 * The default number of workers on this machine: one per core, but no more than
 * {@link MEMORY_BUDGET_SHARE} of the memory available holds at {@link WORKER_MIN_BYTES}
 * each (a 512 MB board with 4 cores gets 2: four idle workers alone would take ~380 MB),
 * and at least one.
 *
 * @param cores - CPU cores this process may run on (default: `os.availableParallelism()`, as
 *   {@link moreWorkersThanCoresWarning} counts them: with `cpus().length` a slave under
 *   `taskset -c 0` started two workers and warned that they outnumbered its one core)
 * @param available - memory available, bytes (default: now, {@link availableMemoryBytes})
 */
export function defaultWorkerCount(cores = availableParallelism(), available = availableMemoryBytes()): number {
  return Math.max(1, Math.min(cores, Math.floor((available * MEMORY_BUDGET_SHARE) / WORKER_MIN_BYTES)));
}

/**
 * The warning that the default number of workers, `workers`, is below the core count
 * because of memory ({@link defaultWorkerCount}); undefined when it is not.
 *
 * @param flag - the option that sets the number, named in the warning
 */
export function fewerWorkersWarning(workers: number, flag: string, cores = availableParallelism(), available = availableMemoryBytes()): string | undefined {
  if (workers >= cores) return undefined;
  return `${workers} worker(s), not one per core (${cores}): ${toMiB(available)} MiB of memory is available and a worker needs ~${toMiB(WORKER_MIN_BYTES)} MiB; ${flag} sets the number`;
}

/**
 * The warning that `workers` worker processes on this machine outnumber its cores;
 * undefined when they do not. A worker runs one task at a time on one OpenCV thread
 * and never waits for I/O, so workers beyond the cores only take turns on them: no more
 * images/s, longer tasks, ~{@link WORKER_MIN_BYTES} more memory each.
 *
 * @param what - the option(s) that set the number, e.g. `--threads 8`, named in the warning
 * @param cores - CPU cores this process may run on (default: `os.availableParallelism()`,
 *   which honours a CPU affinity mask such as `taskset`'s)
 */
export function moreWorkersThanCoresWarning(workers: number, what: string, cores = availableParallelism()): string | undefined {
  if (workers <= cores) return undefined;
  return `${what}: ${workers} worker processes on ${cores} CPU core(s). Workers beyond the cores only take turns on them (no more images/s, each task takes longer, ~${toMiB(WORKER_MIN_BYTES)} MiB more memory each)`;
}

/** `bytes` in MiB, rounded to the nearest, for messages. */
export function toMiB(bytes: number): number {
  return Math.round(bytes / 2 ** 20);
}

/**
 * Memory available to this process now, bytes: the kernel's MemAvailable (`os.freemem()`),
 * and within a cgroup's memory limit where one binds (containers, systemd units with
 * `MemoryMax`) the limit less the cgroup's usage (`process.availableMemory`, Node 20.13+),
 * with the cgroup's inactive file cache counted as free: the kernel reclaims it before it
 * kills anything, and a cgroup that had read 600 MB of files otherwise looked 600 MB
 * short (measured, cgroup v1).
 */
export function availableMemoryBytes(): number {
  // No limit: 2^64, 0, or undefined (Node 20.0-20.12, whose types say number).
  const proc = process as Omit<NodeJS.Process, 'constrainedMemory'> & { availableMemory?: () => number; constrainedMemory: () => number | undefined };
  const host = freemem();
  const limit = proc.constrainedMemory() ?? 0;
  if (typeof proc.availableMemory !== 'function' || limit <= 0 || limit >= totalmem()) return host;
  return Math.min(host, proc.availableMemory() + inactiveFileBytes(ownCgroupFiles()));
}

/**
 * All the memory this process could ever have, bytes: the machine's RAM (`os.totalmem`),
 * or its cgroup's limit where that is lower (`process.constrainedMemory`). Swap is not
 * counted: a detector paging there would take hours.
 */
export function memoryCeilingBytes(): number {
  const total = totalmem();
  const limit = (process as Omit<NodeJS.Process, 'constrainedMemory'> & { constrainedMemory: () => number | undefined }).constrainedMemory() ?? 0;
  return limit > 0 && limit < total ? limit : total;
}

/** Files of a memory cgroup: its `memory.stat`, and the key there of its inactive file cache. */
export interface CgroupFiles {
  /** Path of `memory.stat`; undefined when not found. */
  stat: string | undefined;
  /** `inactive_file` (cgroup v2) or `total_inactive_file` (v1, this cgroup and below). */
  key: string;
}

/** This process's memory cgroup files (see {@link memoryCgroupFiles}). */
function ownCgroupFiles(): CgroupFiles {
  try {
    return memoryCgroupFiles(readFileSync('/proc/self/cgroup', 'utf8'));
  } catch {
    return { stat: undefined, key: '' };
  }
}

/**
 * The memory cgroup files named by the text of `/proc/PID/cgroup`: cgroup v1's
 * `N:memory:PATH` (under `/sys/fs/cgroup/memory`) where there is one, else v2's `0::PATH`
 * (under `/sys/fs/cgroup`).
 */
export function memoryCgroupFiles(procCgroup: string): CgroupFiles {
  const lines = procCgroup.split('\n');
  for (const line of lines) {
    const [, controllers, path] = /^\d+:([^:]*):(.*)$/.exec(line) ?? [];
    if (path === undefined) continue;
    if (controllers?.split(',').includes('memory') === true) return { stat: join('/sys/fs/cgroup/memory', path, 'memory.stat'), key: 'total_inactive_file' };
  }
  const v2 = lines.map((l) => /^0::(.*)$/.exec(l)?.[1]).find((p) => p !== undefined);
  return v2 === undefined ? { stat: undefined, key: '' } : { stat: join('/sys/fs/cgroup', v2, 'memory.stat'), key: 'inactive_file' };
}

/** The cgroup's inactive file cache, bytes; 0 when it cannot be read. */
export function inactiveFileBytes(files: CgroupFiles): number {
  if (files.stat === undefined) return 0;
  try {
    const line = readFileSync(files.stat, 'utf8').split('\n').find((l) => l.startsWith(`${files.key} `));
    const value = Number(line?.slice(files.key.length + 1));
    return Number.isSafeInteger(value) && value > 0 ? value : 0;
  } catch {
    return 0;
  }
}

/**
 * The default memory budget of a slave's images, bytes: {@link MEMORY_BUDGET_SHARE} of
 * `available`.
 *
 * @param available - memory available, bytes (default: now, {@link availableMemoryBytes})
 */
export function defaultMemoryBudget(available = availableMemoryBytes()): number {
  return Math.floor(available * MEMORY_BUDGET_SHARE);
}

/**
 * The memory budget of each of `count` local slaves of `threads` workers started now on
 * this machine, MiB: {@link MEMORY_BUDGET_SHARE} of the memory available, less what their
 * workers will take idle ({@link WORKER_IDLE_BYTES}), shared equally. Slaves started
 * together would each measure about the same free memory and count it as their own.
 *
 * @param available - memory available, bytes (default: now, {@link availableMemoryBytes})
 * @returns MiB, at least 1
 */
export function localSlaveMemoryBudgetMb(count: number, threads: number, available = availableMemoryBytes()): number {
  const free = available - count * threads * WORKER_IDLE_BYTES;
  return Math.max(1, Math.floor(defaultMemoryBudget(free) / count / 2 ** 20));
}
