import { mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * `mkdir -p`, without Node's `mkdirSync(dir, { recursive: true })`, which loops forever at
 * full CPU when the kernel answers ENOENT for a directory whose parent exists
 * (`--annotate /proc/x` hung a master beyond SIGTERM).
 *
 * @param dir - the folder to create, with any missing parents
 * @param mode - permission bits of the folders created (before the umask); existing ones
 *   are left as they are
 * @throws the `mkdir` error (ENOENT, EACCES, EEXIST for a file in the way, ...)
 */
export function makeDirectory(dir: string, mode = 0o777): void {
  try {
    mkdirSync(dir, { mode });
    return;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' && statSync(dir).isDirectory()) return;
    if (code !== 'ENOENT' || dirname(dir) === dir) throw err;
  }
  makeDirectory(dirname(dir), mode);
  mkdirSync(dir, { mode });
}
