/**
 * glibc malloc's mmap threshold for worker processes, bytes: its dynamic threshold's
 * ceiling on 64-bit (DEFAULT_MMAP_THRESHOLD_MAX, mallopt(3)), fixed from the start.
 */
export const WORKER_MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024;
/** glibc malloc's trim threshold for worker processes, bytes: twice the mmap threshold, as glibc's dynamic rule sets it. */
export const WORKER_TRIM_THRESHOLD_BYTES = 2 * WORKER_MMAP_THRESHOLD_BYTES;

/**
 * The environment of a worker process: `env` with glibc malloc's thresholds fixed
 * (`MALLOC_MMAP_THRESHOLD_`, `MALLOC_TRIM_THRESHOLD_`, mallopt(3)) unless `env` sets
 * either. OpenCV allocates each image's pyramids and buffers anew (MBs per 768x576 frame);
 * with glibc's default, dynamic thresholds, much of that went back to the kernel after
 * every image and came back as fresh zeroed pages: ~1,700 page faults per image, against
 * ~110 with these (test/bench/PROFILE.md). Setting only one of the two turns the other's
 * dynamic rule off too (11,000 faults per image measured), so both or neither. A worker
 * keeps at most the trim threshold (64 MiB) of freed heap. Other C libraries ignore them.
 *
 * @param env - the slave's environment
 * @returns a new object; `env` is not changed
 */
export function workerEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  if (env['MALLOC_MMAP_THRESHOLD_'] !== undefined || env['MALLOC_TRIM_THRESHOLD_'] !== undefined) return { ...env };
  return {
    ...env,
    MALLOC_MMAP_THRESHOLD_: String(WORKER_MMAP_THRESHOLD_BYTES),
    MALLOC_TRIM_THRESHOLD_: String(WORKER_TRIM_THRESHOLD_BYTES),
  };
}
