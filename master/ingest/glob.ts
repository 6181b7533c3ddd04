import { readdir } from 'node:fs';
import { dirname, isAbsolute, relative } from 'node:path';
import fg from 'fast-glob';
import { mediaType } from './extensions.js';
import { errorCode, reportSkipped, shownPath, walkMedia, type WalkEntry, type WalkSkips } from './walk.js';

/**
 * Streams the image and video files matching a glob pattern (fast-glob; case-insensitive,
 * dot files skipped). Like {@link walkMedia}, it does not descend into symbolic links to
 * directories: fast-glob follows them by default, and a link back up the tree then
 * yields every file below it again, level after level (a tester saw one file 41 times).
 * A directory the pattern matches is searched like a directory input (`cams/*` with
 * `cams/cam1/` and `cams/cam2/` reads both; it used to find nothing), once: matches inside
 * a directory already searched (`cams/**\/*` matches the folder and its files) are skipped.
 * A link to a folder that it matches, and a file of another extension, are reported to
 * `skips`, as a walk does.
 *
 * A directory that cannot be read is yielded as an entry with `error`, and the rest of
 * the pattern is still searched (fast-glob alone either stops the whole pattern at the
 * first such error or, with `suppressErrors`, skips the folder without a word). A missing
 * directory is no error: the pattern just matches nothing there.
 */
export async function* globMedia(pattern: string, skips?: WalkSkips): AsyncGenerator<WalkEntry> {
  const unreadable: WalkEntry[] = [];
  const note = (dir: string, err: NodeJS.ErrnoException | null): boolean => {
    if (err === null) return false;
    // fast-glob reads absolute paths; name the folder as the user's pattern would.
    const shown = isAbsolute(pattern) ? dir : relative(process.cwd(), dir) || '.';
    // fast-glob reads names as text: a folder whose name is not UTF-8 comes back with U+FFFD
    // and cannot be opened; its files were skipped without a word.
    if (err.code === 'ENOENT' && dir.includes('\ufffd')) {
      unreadable.push({ path: shown, error: `cannot read directory ${shown}: its name is not UTF-8 and a glob cannot pass it on; name a folder above it instead, or rename it (e.g. convmv -f latin1 -t utf8)` });
      return true;
    }
    if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return false;
    unreadable.push({ path: shown, error: `cannot read directory ${shown}: ${errorCode(err)}` });
    return true;
  };
  // fast-glob's file system adapter: readdir(path, callback) or readdir(path, options, callback).
  const guardedReaddir = (path: string, ...rest: unknown[]): void => {
    const callback = rest.pop() as (err: NodeJS.ErrnoException | null, entries?: unknown[]) => void;
    const done = (err: NodeJS.ErrnoException | null, entries?: unknown[]): void => {
      if (note(path, err)) callback(null, []);
      else callback(err, entries);
    };
    if (rest.length > 0) readdir(path, rest[0] as { withFileTypes: true }, done);
    else readdir(path, done);
  };
  // Not `onlyFiles`: without following links it would also drop links to files.
  const stream = fg.stream(pattern, {
    objectMode: true,
    onlyFiles: false,
    caseSensitiveMatch: false,
    dot: false,
    followSymbolicLinks: false,
    fs: { readdir: guardedReaddir },
  });
  const searched = new Set<string>();
  const inSearched = (path: string): boolean => {
    for (let dir = dirname(path); ; dir = dirname(dir)) {
      if (searched.has(dir)) return true;
      if (dirname(dir) === dir) return false;
    }
  };
  for await (const raw of stream) {
    for (let e = unreadable.shift(); e !== undefined; e = unreadable.shift()) yield e;
    const entry = raw as unknown as fg.Entry;
    // fast-glob yields a folder before anything in it, so its own matches come after its search.
    if (inSearched(entry.path)) continue;
    if (entry.dirent.isDirectory()) {
      searched.add(entry.path);
      const dir = shownPath(entry.path);
      yield* walkMedia(dir.path, dir.rawPath, skips);
    } else if ((entry.dirent.isFile() || entry.dirent.isSymbolicLink()) && mediaType(entry.path) !== 'other') yield shownPath(entry.path);
    else if (skips !== undefined && (entry.dirent.isFile() || entry.dirent.isSymbolicLink())) await reportSkipped(skips, entry.path, entry.dirent.isSymbolicLink());
  }
  yield* unreadable;
}
