import { opendir } from 'node:fs/promises';
import { join } from 'node:path';
import { mediaType } from './extensions.js';

/**
 * Streams the image and video files under `dir`, recursively, by extension. Uses
 * `fs.opendir`, which reads a directory 32 entries at a time, so a folder of a million
 * files is never listed in memory at once (fast-glob, used for glob patterns, reads each
 * directory whole: 100,000 names cost the master about 20 MB). Symbolic links to files
 * are followed; hidden entries (dot files) are skipped. Entries come in the file system's
 * order, not sorted.
 */
export async function* walkMedia(dir: string): AsyncGenerator<string> {
  const handle = await opendir(dir);
  const subdirs: string[] = [];
  for await (const entry of handle) {
    if (entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) subdirs.push(entry.name);
    else if ((entry.isFile() || entry.isSymbolicLink()) && mediaType(entry.name) !== 'other') yield path;
  }
  for (const name of subdirs) yield* walkMedia(join(dir, name));
}
