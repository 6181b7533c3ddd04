import { opendir, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { mediaType } from './extensions.js';

/**
 * One entry of a directory walk: an image or video file, or a directory that could not be
 * read (`error` set, e.g. `cannot read directory cam1/locked: EACCES`).
 */
export interface WalkEntry {
  /** The path, as text: bytes of a name that are not UTF-8 are shown as `\xNN`. */
  path: string;
  /** The path's bytes, when `path` cannot name the file (a name that is not UTF-8: Latin-1 from an old camera or a FAT stick). */
  rawPath?: Buffer;
  error?: string;
}

/** What a walk leaves out, told as it goes (the caller reports them: nothing is left out in silence). */
export interface WalkSkips {
  /** A symbolic link to a folder (not followed). */
  linkedFolder?: (path: string) => void;
  /** A file whose extension is not an image's or a video's ({@link mediaType} `other`). */
  otherFile?: (path: string) => void;
}

/**
 * Streams the image and video files under `dir`, recursively, by extension. Uses
 * `fs.opendir`, which reads a directory 32 entries at a time, so a folder of a million
 * files is never listed in memory at once (fast-glob, used for glob patterns, reads each
 * directory whole: 100,000 names cost the master about 20 MB). Symbolic links to files
 * are followed; links to directories are not (a link back up the tree would loop: each
 * one is reported to `skips.linkedFolder`; files of other extensions to `skips.otherFile`), and
 * hidden entries (dot files, e.g. macOS `._x.jpg` resource forks) are skipped. Entries
 * come in the file system's order, not sorted.
 *
 * A directory that cannot be opened or read (permissions, I/O error) is yielded as an
 * entry with `error` and the walk goes on with the rest: one unreadable folder must not
 * end the batch's input.
 */
export async function* walkMedia(dir: string, rawDir?: Buffer, skips?: WalkSkips): AsyncGenerator<WalkEntry> {
  // Depth first, by a stack rather than by recursion: a `yield*` per level overflowed the
  // call stack in a tree 2,000 folders deep, and every input after it was lost (found by QA).
  const stack: { path: string; raw: Buffer | undefined }[] = [{ path: dir, raw: rawDir }];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const subdirs: typeof stack = [];
    yield* listDirectory(next.path, next.raw, subdirs, skips);
    // Reversed onto the stack, so that they are walked in the order they were listed.
    stack.push(...subdirs.reverse());
  }
}

/** One directory of {@link walkMedia}: its media files, its subdirectories into `subdirs`. */
async function* listDirectory(dir: string, rawDir: Buffer | undefined, subdirs: { path: string; raw: Buffer | undefined }[], skips?: WalkSkips): AsyncGenerator<WalkEntry> {
  try {
    // Names as bytes: as text, a name that is not UTF-8 would decode to U+FFFD and name no file.
    const handle = await opendir(rawDir ?? dir, { encoding: 'buffer' as BufferEncoding });
    for await (const entry of handle) {
      const bytes = entry.name as unknown as Buffer;
      // Nearly every name is UTF-8: decoded once, and escaped byte by byte only when not.
      const text = bytes.toString('utf8');
      // A UTF-8 name that holds `\xNN` itself is escaped too (its backslash as `\x5c`), so
      // that it cannot read the same as a Latin-1 name shown escaped (`caf\xe9.jpg`): both
      // got one `source`, and --resume skipped the one never processed.
      const utf8 = Buffer.from(text, 'utf8').equals(bytes) && !ESCAPE_LOOKALIKE.test(text);
      const name = utf8 ? text : escapedName(bytes);
      if (name.startsWith('.')) continue;
      const path = join(dir, name);
      const raw = rawDir !== undefined || !utf8 ? Buffer.concat([rawDir ?? Buffer.from(dir), Buffer.from(sep), bytes]) : undefined;
      if (entry.isDirectory()) subdirs.push({ path, raw });
      // Pipes and devices with a media name too: reading them fails their own record, visibly.
      else if (mediaType(name) !== 'other') yield raw === undefined ? { path } : { path, rawPath: raw };
      else if (skips !== undefined) await reportSkipped(skips, path, entry.isSymbolicLink(), raw);
    }
  } catch (err) {
    yield { path: dir, error: `cannot read directory ${dir}: ${errorCode(err)}` };
  }
}

/**
 * Tells `skips` of an entry a walk or glob leaves out: a link to a folder, else a file of
 * another extension.
 *
 * @param raw - the path's bytes, when its text cannot name it (see {@link WalkEntry})
 */
export async function reportSkipped(skips: WalkSkips, path: string, isLink: boolean, raw?: Buffer): Promise<void> {
  if (isLink && (await isDirectory(raw ?? path))) skips.linkedFolder?.(path);
  else skips.otherFile?.(path);
}

/** Whether `path` is a folder (following links); false when it cannot be looked at. */
export async function isDirectory(path: string | Buffer): Promise<boolean> {
  return stat(path).then((s) => s.isDirectory(), () => false);
}

/** Text that reads like an escaped byte. */
const ESCAPE_LOOKALIKE = /\\x[0-9a-fA-F]{2}/;

/**
 * A path given as text (a glob match, an INPUT) as a folder walk would show it: each
 * component that reads like an escaped byte (`caf\xe9.jpg` typed literally) gets its
 * backslashes as `\x5c`, as {@link escapedName} gives them. Without it, such a file named
 * on the command line had the `source` a walk gives a Latin-1 `café.jpg`, and one of the
 * two was taken for the other.
 *
 * @returns the path to show, and its bytes when that differs from the path to open
 */
export function shownPath(path: string): { path: string; rawPath?: Buffer } {
  if (!ESCAPE_LOOKALIKE.test(path)) return { path };
  const shown = path
    .split('/')
    .map((c) => (ESCAPE_LOOKALIKE.test(c) ? c.replace(/\\/g, '\\x5c') : c))
    .join('/');
  return { path: shown, rawPath: Buffer.from(path, 'utf8') };
}

/**
 * A file name's bytes as text: UTF-8 as such, a backslash and any byte that is not UTF-8
 * as `\xNN` (so two names differing only in such bytes stay apart, no escaped name reads
 * like another name, and the log and results show what is there).
 */
export function escapedName(bytes: Buffer): string {
  let out = '';
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i] ?? 0;
    // Sequence length by the lead byte (RFC 3629 §4; C0, C1 and F5-FF never lead); 0: escaped.
    const n = b === 0x5c ? 0 : b < 0x80 ? 1 : b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
    if (n > 0 && i + n <= bytes.length) {
      const chunk = bytes.subarray(i, i + n);
      const text = chunk.toString('utf8');
      if (!text.includes('\ufffd') && Buffer.from(text, 'utf8').equals(chunk)) {
        out += text;
        i += n;
        continue;
      }
    }
    out += `\\x${b.toString(16).padStart(2, '0')}`;
    i++;
  }
  return out;
}

/** `EACCES`, `EIO`, ... of a file system error, else its message. */
export function errorCode(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? (err as Error).message;
}
