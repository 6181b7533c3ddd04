import type { Stats } from 'node:fs';

/**
 * What a path is when it is not a regular file, in words for a record's error
 * ("a pipe", "a device", ...); undefined for a regular file. Only regular files are read:
 * opening a FIFO waits for a writer that may never come (a batch stuck at 0 images, and
 * past Ctrl-C, seen with a FIFO named on the command line), and a device such as
 * /dev/zero reports 0 bytes but never ends.
 *
 * @param stats - from `stat` (links followed)
 */
export function notRegularFile(stats: Stats): string | undefined {
  if (stats.isFile()) return undefined;
  if (stats.isDirectory()) return 'a directory';
  if (stats.isFIFO()) return 'a pipe';
  if (stats.isCharacterDevice() || stats.isBlockDevice()) return 'a device';
  if (stats.isSocket()) return 'a socket';
  return 'not a file';
}

/**
 * errno codes of a read that may succeed another time: a full file table, an I/O error, an
 * NFS server away, a disk unplugged (a file listed a moment before and now ENOENT). Their
 * images (and videos) fail with a retryable {@link InputError}, which a `--resume` runs again: one USB
 * hiccup failed 155 images for good (found by QA).
 */
export const READ_MAY_PASS = new Set(['EMFILE', 'ENFILE', 'EIO', 'EAGAIN', 'ENOMEM', 'EBUSY', 'EINTR', 'ETIMEDOUT', 'ESTALE', 'ENODEV', 'ENXIO', 'ENOENT', 'EHOSTDOWN', 'ENOTCONN']);
