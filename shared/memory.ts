import { freemem } from 'node:os';

/**
 * Share of the memory available when the workers are ready that images may take by
 * default; the rest is left for the slave process, the page cache and the rest of the
 * machine.
 */
export const MEMORY_BUDGET_SHARE = 0.9;

/**
 * An idle worker process's private memory once it has loaded OpenCV and the detectors'
 * models, bytes (~70-85 MB measured on x86-64, Debian's OpenCV 4.6): what each worker
 * not yet started will take of the memory available now.
 */
export const WORKER_IDLE_BYTES = 85 * 1024 * 1024;

/**
 * Memory available to this process now, bytes: within a cgroup's limit where one is set
 * (containers, systemd units), else the kernel's MemAvailable (`process.availableMemory`,
 * Node 20.13+; `os.freemem()` before).
 */
export function availableMemoryBytes(): number {
  const proc = process as NodeJS.Process & { availableMemory?: () => number };
  return typeof proc.availableMemory === 'function' ? proc.availableMemory() : freemem();
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
