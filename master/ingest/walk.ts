import { opendir } from 'node:fs/promises';
import { join } from 'node:path';
import { mediaType } from './extensions.js';

/**
 * One entry of a directory walk: an image or video file, or a directory that could not be
 * read (`error` set, e.g. `cannot read directory cam1/locked: EACCES`).
 */
export interface WalkEntry {
  path: string;
  error?: string;
}

/**
 * Streams the image and video files under `dir`, recursively, by extension. Uses
 * `fs.opendir`, which reads a directory 32 entries at a time, so a folder of a million
 * files is never listed in memory at once (fast-glob, used for glob patterns, reads each
 * directory whole: 100,000 names cost the master about 20 MB). Symbolic links to files
 * are followed; links to directories are not (a link back up the tree would loop), and
 * hidden entries (dot files, e.g. macOS `._x.jpg` resource forks) are skipped. Entries
 * come in the file system's order, not sorted.
 *
 * A directory that cannot be opened or read (permissions, I/O error) is yielded as an
 * entry with `error` and the walk goes on with the rest: one unreadable folder must not
 * end the batch's input.
 */
export async function* walkMedia(dir: string): AsyncGenerator<WalkEntry> {
  const subdirs: string[] = [];
  try {
    const handle = await opendir(dir);
    for await (const entry of handle) {
      if (entry.name.startsWith('.')) continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) subdirs.push(entry.name);
      else if ((entry.isFile() || entry.isSymbolicLink()) && mediaType(entry.name) !== 'other') yield { path };
    }
  } catch (err) {
    yield { path: dir, error: `cannot read directory ${dir}: ${errorCode(err)}` };
  }
  for (const name of subdirs) yield* walkMedia(join(dir, name));
}

/** `EACCES`, `EIO`, ... of a file system error, else its message. */
export function errorCode(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? (err as Error).message;
}
