import { readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** The file a whole-file write goes to before it is renamed over `path`: `PATH.PID.tmp`, beside it. */
export function temporaryPath(path: string): string {
  return `${path}.${process.pid}.tmp`;
}

/**
 * Removes the temporary files ({@link temporaryPath}, of any process id) of whole-file
 * writes of `path` that a killed process left beside it. Call only where no live process
 * can be writing one (under a lock); a folder that cannot be listed keeps them, harmless.
 */
export function removeTemporaries(path: string): void {
  const name = basename(path);
  const stale = new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.\\d+\\.tmp$`);
  try {
    for (const entry of readdirSync(dirname(path))) if (stale.test(entry)) rmSync(join(dirname(path), entry), { force: true });
  } catch {
    // Not listable: nothing removed.
  }
}

/**
 * Writes a file whole or not at all: to `PATH.PID.tmp` beside it, then renamed over `path`
 * (rename(2) replaces it atomically within a file system), so a reader never sees half a
 * file: a full disk or a kill mid-write left a report cut short, which the next `--resume`
 * refused as "not a cctv-cluster report" (found by QA). A symbolic link at `path` is
 * replaced, never written through (a link in the --annotate folder to an input image had
 * that image overwritten). The temporary file is removed when the write fails.
 *
 * @param data - the whole content (text as UTF-8)
 * @throws the write's or the rename's error (ENOSPC, EACCES, ENOENT...), the temporary file
 *   removed
 */
export function writeFileReplacing(path: string, data: string | Uint8Array): void {
  const temporary = temporaryPath(path);
  try {
    writeFileSync(temporary, data);
    renameSync(temporary, path);
  } catch (err) {
    rmSync(temporary, { force: true });
    throw err;
  }
}
