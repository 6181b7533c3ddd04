import { open, readFile, realpath, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import fg from 'fast-glob';
import { InputError } from '../../shared/errors.js';
import { notRegularFile, READ_MAY_PASS } from './file-kind.js';
import { MEDIA_EXTENSIONS_TEXT, looksLikeImage, mediaType } from './extensions.js';
import { globMedia } from './glob.js';
import { failedItem, itemKey } from './item.js';
import { IngestStream, type IngestUnit } from './interleave.js';
import type { FrameEncoding } from './video-protocol.js';
import { VideoReaderPool, type VideoOutcome } from './video-readers.js';
import { errorCode, shownPath, walkMedia, type WalkEntry, type WalkSkips } from './walk.js';

/** Options of {@link expandInputs}. */
export interface IngestOptions {
  /** Video sampling step, frames. */
  every: number;
  encoding: FrameEncoding;
  /** Larger image files are refused without reading them, bytes. */
  maxImageBytes: number;
  /** Told about inputs that hold no media and about files named twice. */
  warn?: (message: string) => void;
  /** Told, once an input is read, how many files of other extensions its folders held (left out). */
  info?: (message: string) => void;
  /** Videos read at once, each by a reader process of its own (default 1). */
  videoReaders?: number;
  /**
   * Whether the video at this absolute path is not to be read at all: a `--resume` whose
   * results file holds a failed record of the whole video (no frame), for a cause that
   * would fail again (its frames would otherwise be recorded beside that record), or a
   * video record saying each of its frames is recorded and the file is unchanged since.
   */
  skipVideo?: (absolutePath: string) => boolean;
  /**
   * Told of each video once all its items were yielded: whether it was read whole, its
   * frame items, and its file's identity (see {@link VideoOutcome}).
   */
  videoDone?: (outcome: VideoOutcome) => void;
}

/** What an INPUT names: a file or directory that exists (taken literally, even with `*` or `[` in its name), a glob pattern, or nothing usable. */
export type InputKind = { kind: 'file' | 'dir' | 'glob' } | { kind: 'unusable'; error: string };

/**
 * Classifies an INPUT. A path that exists is always taken literally, so a file named
 * `a{b,c}.jpg` or `img[1].jpg` is that file, not a pattern; only a path that does not
 * exist is tried as a glob.
 */
export async function classifyInput(input: string): Promise<InputKind> {
  try {
    return { kind: (await stat(input)).isDirectory() ? 'dir' : 'file' };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if ((code === 'ENOENT' || code === 'ENOTDIR') && fg.isDynamicPattern(input)) return { kind: 'glob' };
    if ((code === 'ENOENT' || code === 'ENOTDIR') && input.includes('\ufffd')) {
      // Node.js decodes the command line as UTF-8: a Latin-1 byte arrives as U+FFFD and the name is lost.
      return { kind: 'unusable', error: `input not found: ${input} (its name has bytes that are not UTF-8, which cannot be passed on the command line: name the folder that holds it, or rename it)` };
    }
    if (code === 'ENOENT' || code === 'ENOTDIR') return { kind: 'unusable', error: `input not found: ${input}` };
    if (code === 'EACCES' || code === 'EPERM') return { kind: 'unusable', error: `cannot access ${input}: permission denied (${code})` };
    return { kind: 'unusable', error: `cannot access ${input}: ${errorCode(err)}` };
  }
}

/**
 * Checks that every input is a file, a directory or a glob pattern.
 *
 * @throws {@link InputError} naming the first input that is missing or cannot be accessed
 */
export async function checkInputs(inputs: readonly string[]): Promise<void> {
  for (const input of inputs) {
    const k = await classifyInput(input);
    if (k.kind === 'unusable') throw new InputError(k.error);
  }
}

/**
 * Whether the inputs hold anything to process (a media file, or a folder that will become
 * a failed record); stops at the first. Lets the master refuse an empty batch before it
 * starts slaves and writes a results file.
 */
export async function anyInputEntry(inputs: readonly string[]): Promise<boolean> {
  for (const input of inputs) {
    for await (const _ of inputEntries(input)) return true;
  }
  return false;
}

/**
 * The media files an INPUT names, in order: itself (a file), the files under it (a
 * directory) or its matches (a glob). Unreadable directories come as entries with `error`.
 */
export async function* inputEntries(input: string, skips?: WalkSkips): AsyncGenerator<WalkEntry> {
  const k = await classifyInput(input);
  if (k.kind === 'glob') yield* globMedia(input, skips);
  else if (k.kind === 'dir') {
    const dir = shownPath(input);
    yield* walkMedia(dir.path, dir.rawPath, skips);
  }
  // An explicitly named file is processed whatever its extension: a bad one gets an error record.
  else yield shownPath(input);
}

/** How many of the files a folder walk left out {@link expandInputs} names. */
const MAX_SKIPPED_EXAMPLES = 3;

/**
 * Drops the second and later sightings of a file among several inputs (`cam1/` and
 * `cam1/x.jpg`, one path typed twice, or a folder and a link to it: `cam1/` and
 * `cam1-link/`), by absolute path with links to folders resolved (`realpath` of the file's
 * folder, once per folder in a row). A link to a file stays a file of its own, as in a
 * walk. With one input there can be none (walks and globs do not follow directory links),
 * so nothing is held then.
 */
export class DuplicateFilter {
  private readonly seen: Set<string> | undefined;
  private readonly repeated = new Set<string>();
  /** The last folder looked up and its real path: a walk's files come folder by folder. */
  private lastDir: { dir: string; real: string } | undefined;

  constructor(inputCount: number) {
    this.seen = inputCount > 1 ? new Set() : undefined;
  }

  /** True the first time `path` (resolved against the working directory) is seen. */
  async first(path: string): Promise<boolean> {
    if (this.seen === undefined) return true;
    const key = await this.canonical(resolve(path));
    if (this.seen.has(key)) {
      this.repeated.add(key);
      return false;
    }
    this.seen.add(key);
    return true;
  }

  /** Files seen more than once (each counted once, however often it was named). */
  get repeatedFiles(): number {
    return this.repeated.size;
  }

  /** `abs` with its folder's real path; as it is when that cannot be had (loading the file then says why). */
  private async canonical(abs: string): Promise<string> {
    const dir = dirname(abs);
    if (this.lastDir?.dir !== dir) this.lastDir = { dir, real: await realpath(dir).catch(() => dir) };
    return join(this.lastDir.real, basename(abs));
  }
}

/**
 * Streams the items of a batch: each input is an image file, a video file (sampled every
 * `every` frames), a directory (searched recursively for images and videos by
 * extension, case-insensitive) or a glob pattern. Nothing is listed or read ahead: a
 * batch of any size streams through in constant memory (but for the paths seen, when
 * there are several inputs; see {@link DuplicateFilter}).
 *
 * A directory that cannot be read becomes a failed item of its own (its record says why)
 * and the other inputs go on. An input that yields no image at all, a file reached
 * twice, and what a video reader writes on its stderr (FFmpeg's complaints about a
 * damaged video) are reported through `options.warn`.
 *
 * Videos are read by reader processes (`options.videoReaders` at once, {@link IngestStream});
 * the stream's end or `return()` ends them.
 */
export function expandInputs(inputs: readonly string[], options: IngestOptions): IngestStream {
  const pool = new VideoReaderPool(options.warn === undefined ? {} : { warn: options.warn });
  return new IngestStream(ingestUnits(inputs, options, pool), pool, Math.max(1, options.videoReaders ?? 1), options.videoDone);
}

async function* ingestUnits(inputs: readonly string[], options: IngestOptions, pool: VideoReaderPool): AsyncGenerator<IngestUnit> {
  const filter = new DuplicateFilter(inputs.length);
  for (const input of inputs) {
    let found = 0;
    const linked: string[] = [];
    const others = { count: 0, examples: [] as string[] };
    const skips: WalkSkips = {
      linkedFolder: (path) => linked.push(path),
      otherFile: (path) => {
        if (others.count++ < MAX_SKIPPED_EXAMPLES) others.examples.push(path);
      },
    };
    for await (const entry of inputEntries(input, skips)) {
      found++;
      if (entry.error !== undefined) yield failedItem(entry.path, entry.error);
      else if (await filter.first(entry.path)) yield* fileUnits(entry, options, pool);
    }
    if (linked.length > 0) options.warn?.(`input ${input}: ${linked.length} link(s) to folders not followed (${linked.slice(0, 3).join(', ')}${linked.length > 3 ? ', ...' : ''}); name a linked folder as an input of its own to include it`);
    if (found === 0) options.warn?.(`input ${input} ${fg.isDynamicPattern(input) ? 'matches' : 'holds'} no image or video file (extensions: ${MEDIA_EXTENSIONS_TEXT})`);
    // A user counting files (27 in the folder, 24 records) learns where the rest went: an
    // EXR or HDR image, say, is read only when named on its own.
    else if (others.count > 0) {
      options.info?.(`input ${input}: ${others.count} file(s) left out, their extensions not an image's or a video's (${others.examples.join(', ')}${others.count > others.examples.length ? ', ...' : ''}); a file named as an input of its own is read whatever its extension`);
    }
  }
  if (filter.repeatedFiles > 0) options.warn?.(`${filter.repeatedFiles} file(s) named by more than one input (or through a link to a folder) were processed once`);
}

async function* fileUnits(entry: WalkEntry, options: IngestOptions, pool: VideoReaderPool): AsyncGenerator<IngestUnit> {
  const { path, rawPath } = entry;
  const type = mediaType(path);
  if (rawPath === undefined && path.includes('\ufffd')) {
    // A glob match (fast-glob reads names as text): the name's bytes are lost already.
    yield failedItem(path, `${path}: the file name is not UTF-8 and a glob cannot pass it on; name the folder that holds it instead, or rename it (e.g. convmv -f latin1 -t utf8)`);
    return;
  }
  if (rawPath !== undefined) {
    // Read by its bytes; OpenCV's VideoCapture takes a name as text only, which a UTF-8
    // name shown escaped (it reads like `\xNN` itself) still has.
    const text = rawPath.toString('utf8');
    if (type === 'video' && options.skipVideo?.(resolve(path)) === true) return;
    if (type === 'video' && Buffer.from(text, 'utf8').equals(rawPath)) yield pool.frames(path, options.every, options.encoding, text);
    else if (type === 'video') yield failedItem(path, `${path}: the file name is not UTF-8, and OpenCV cannot open a video by such a name; rename it (e.g. convmv -f latin1 -t utf8)`);
    else yield { key: itemKey(path), source: path, load: () => loadImageFile(rawPath, options.maxImageBytes, path) };
    return;
  }
  // A file named on the command line with another extension (`cam1.dat`, `clip.264`): an
  // image if its first bytes say so, else tried as a video (FFmpeg probes the content).
  if (type === 'video' || (type === 'other' && !(await startsLikeImage(path)))) {
    if (options.skipVideo?.(resolve(path)) !== true) yield pool.frames(path, options.every, options.encoding);
    return;
  }
  yield { key: itemKey(path), source: path, load: () => loadImageFile(path, options.maxImageBytes) };
}

/**
 * Whether the file begins like an image; true when it cannot be read or is not a regular
 * file (loading it then says why, where opening a FIFO would wait for a writer for good).
 */
async function startsLikeImage(path: string): Promise<boolean> {
  let file: FileHandle | undefined;
  try {
    if (notRegularFile(await stat(path)) !== undefined) return true;
    file = await open(path, 'r');
    const head = Buffer.alloc(16);
    const { bytesRead } = await file.read(head, 0, head.length, 0);
    return bytesRead === 0 || looksLikeImage(head.subarray(0, bytesRead));
  } catch {
    return true;
  } finally {
    await file?.close();
  }
}


/**
 * Waits before each new try of a read refused for a full file table (EMFILE, ENFILE), ms:
 * about 4 s in all, for other processes (or this one's video readers) to close theirs.
 */
const FILE_TABLE_WAITS_MS = [50, 200, 500, 1000, 2000];

/**
 * Reads an image file. A read refused for a full file table is tried again after
 * {@link FILE_TABLE_WAITS_MS}.
 *
 * @throws {@link InputError} when it cannot be read (retryable when the cause may pass:
 *   {@link READ_MAY_PASS}), is empty, or is over `maxBytes`
 */
export async function loadImageFile(path: string | Buffer, maxBytes: number, shown = String(path)): Promise<Buffer> {
  for (let tries = 0; ; tries++) {
    try {
      return await readImageFile(path, maxBytes, shown);
    } catch (err) {
      if (err instanceof InputError) throw err;
      const code = errorCode(err);
      const waitMs = FILE_TABLE_WAITS_MS[tries];
      if (waitMs === undefined || (code !== 'EMFILE' && code !== 'ENFILE')) {
        throw new InputError(`cannot read ${shown}: ${code}`, { retryable: READ_MAY_PASS.has(code), cause: err });
      }
      await delay(waitMs);
    }
  }
}

/** One try of {@link loadImageFile}: a system error is thrown as it is. */
async function readImageFile(path: string | Buffer, maxBytes: number, shown: string): Promise<Buffer> {
  const s = await stat(path);
  const what = notRegularFile(s);
  if (what !== undefined) throw new InputError(`${shown} is not a regular file (${what})`);
  if (s.size === 0) throw new InputError('image file is empty (0 bytes)');
  if (s.size > maxBytes) throw new InputError(`image file is ${s.size} bytes, over the limit of ${maxBytes} bytes (--max-image-bytes)`);
  return await readFile(path);
}
