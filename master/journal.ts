import { closeSync, constants as fsConstants, createReadStream, fchmodSync, fchownSync, fdatasync, fdatasyncSync, ftruncateSync, fstatSync, openSync, realpathSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { resolve } from 'node:path';
import { InvalidArgumentError } from '../shared/errors.js';
import { removeTemporaries, temporaryPath } from '../shared/write-replacing.js';
import { isTaskKind, type TaskKind } from '../proto/task-kinds.js';
import { itemKey } from './ingest/item.js';
import { ResultsLock } from './results-lock.js';
import type { ImageRecord } from './merge.js';

/** First line of a results file: what batch wrote it, so a resume can check it is the same. */
export interface BatchHeader {
  type: 'batch';
  tool: 'cctv-cluster';
  /** The wire protocol version of the master that started it (`PROTOCOL_VERSION`, proto/version.ts). */
  protocol: number;
  /** Wall-clock start, ISO 8601. */
  startedAt: string;
  /** Settings that change results; a resume must use the same. */
  settings: Record<string, unknown>;
  /**
   * Working directory of the run that started the batch (absolute): relative `source`
   * paths in the file are relative to it. Absent in files of older versions (then the
   * resuming run's directory is assumed).
   */
  cwd?: string;
  /** The inputs the batch was started with, as absolute paths (absent in older files). */
  inputs?: string[];
}

/**
 * A results-file line written once every sampled frame of a video has its final record
 * (none failed for a cause that may pass) and the file did not change while it was read:
 * a `--resume` does not read that video again while its size and modification time are
 * the same (decoding it again only to skip its frames took as long as the first read:
 * ~2.5 ms a 768x576 frame, every frame, whatever `--every`).
 */
export interface FinishedVideoRecord {
  type: 'video';
  /** The video's path, as its frames' records name it. */
  source: string;
  /** Its sampled frames, each with a record. */
  frames: number;
  /** The file's size when read, bytes. */
  size: number;
  /** The file's modification time when read (`mtimeMs` of stat(2)), ms since the epoch. */
  mtimeMs: number;
}

/** Default interval between write-outs of buffered records, ms. */
export const DEFAULT_JOURNAL_FLUSH_MS = 200;
/** Default interval between fdatasync calls, ms. */
export const DEFAULT_JOURNAL_SYNC_MS = 1000;

/**
 * `fdatasync`, except on a file that does not support it (EINVAL: a pipe or a device,
 * `--out /dev/stdout`, `/dev/null`), which has nothing to make durable.
 */
function syncIfSupported(fd: number): void {
  try {
    fdatasyncSync(fd);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EINVAL') throw err;
  }
}

/**
 * `openSync` for the results file, with the reason in the user's terms when it fails
 * (`/proc/x.jsonl`, a read-only mount, a file marked immutable).
 *
 * @throws {@link InvalidArgumentError} for `--out`, naming the file and the system's error code
 */
function openForWriting(path: string, flags: 'w' | 'r+' | 'a'): number {
  try {
    return openSync(path, flags);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw InvalidArgumentError.format('--out', `${path} cannot be written (${e.code ?? e.message}): give a file in a folder you can write to`);
  }
}

/** How often the master looks for a reader of a named pipe given as OUT, ms. */
const PIPE_READER_POLL_MS = 200;

/**
 * {@link openForWriting} with `w`, except that a named pipe is opened only once it has a
 * reader, polled without blocking (`O_NONBLOCK` fails with ENXIO until then: fifo(7)):
 * a blocking open held a thread that Ctrl-C, and even `process.exit`, could not end.
 *
 * @throws {@link InvalidArgumentError} as {@link openForWriting} does
 */
async function openForWritingAsync(path: string): Promise<number> {
  if (statSync(path, { throwIfNoEntry: false })?.isFIFO() !== true) return openForWriting(path, 'w');
  for (;;) {
    let probe: number;
    try {
      probe = openSync(path, fsConstants.O_WRONLY | fsConstants.O_NONBLOCK);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENXIO') return openForWriting(path, 'w');
      await new Promise((r) => setTimeout(r, PIPE_READER_POLL_MS));
      continue;
    }
    // A reader is there: a blocking descriptor opens at once (writes must block, not fail with EAGAIN).
    try {
      return openForWriting(path, 'w');
    } finally {
      closeSync(probe);
    }
  }
}

/** How {@link Journal.prepare} treats an existing results file. */
export interface JournalMode {
  resume: boolean;
  overwrite: boolean;
  /** Told each record of a resumed file, in its order. */
  onRecord?: (record: Readonly<Record<string, unknown>>) => void;
}

/** A results file opened for writing, and what it held ({@link Journal.prepare}). */
export interface OpenedJournal {
  journal: Journal;
  /** Keys ({@link itemKey}, absolute sources) of the images recorded, not to run again. */
  done: Set<string>;
  /** The last {@link FinishedVideoRecord} of each video, by absolute path. */
  videos: Map<string, FinishedVideoRecord>;
  /** Of {@link done}, the images recorded with a failed task. */
  failedBefore: number;
  /**
   * Keys of the images recorded as failed only for causes that may pass (see
   * {@link mayPass}): not in {@link done}, so a resume runs them again, and their new
   * record replaces the old one when the journal closes ({@link Journal.close}).
   */
  retry: Set<string>;
  /**
   * Of {@link retry}, the images with kinds that ran out of time or crashed their worker
   * ({@link lastChanceKinds}), by key: those kinds get one attempt in this run.
   */
  lastChance: Map<string, TaskKind[]>;
  /** The header of the resumed file; undefined for a new (or overwritten) one. */
  previous: BatchHeader | undefined;
  /** A new batch's header was written: there was no file, an empty one, a pipe or device, or `overwrite`. */
  created: boolean;
  /** Numbers (from 1) of the lines skipped as not JSON, at most {@link MAX_BAD_LINES_LISTED}; `badLineCount` counts them all. */
  badLines: number[];
  badLineCount: number;
  /** Bytes cut off the resumed file's end: a torn last line and anything after the last record. */
  cutBytes: number;
}

/** What opening a checked results file writes (ms: the journal's flush and sync periods). */
type Writer = (flushMs: number, syncMs: number) => OpenedJournal | Promise<OpenedJournal>;

/** A results file locked and checked, not written yet ({@link Journal.prepare}). */
export interface PreparedJournal {
  /**
   * Writes: the header of a new (or overwritten) file, or cuts a resumed file's torn last
   * line; then appends records. Releases the lock when it fails.
   */
  open(flushMs?: number, syncMs?: number): Promise<OpenedJournal>;
  /** Gives up the file unwritten: releases its lock. */
  release(): void;
}

/**
 * The results file, which is also the batch's journal: one JSON line per finished image,
 * after a {@link BatchHeader} line, and a {@link FinishedVideoRecord} after the records of
 * each video whose frames are all recorded for good.
 *
 * Durability policy: records are written to the file as soon as the event-loop turn in
 * which they complete ends (the `flushMs` timer is a backstop) and `fdatasync`ed at most
 * every `syncMs` and on close. A killed master (SIGKILL) loses at most the records of its
 * last turn; an OS crash at most the last `syncMs`. Nothing is lost for good: `master run` on the same file resumes, skipping the
 * images it finds recorded and redoing the rest. A torn last line is cut off on resume.
 */
export class Journal {
  private fd: number;
  private buffer: string[] = [];
  private flushTimer: NodeJS.Timeout | undefined;
  private lastSyncMs = 0;
  private dirty = false;
  private writeScheduled = false;
  /** An fdatasync is running on the thread pool. */
  private syncing = false;
  /** Image records written by this process. */
  written = 0;
  /** Of {@link written}, those whole in the file (not lost to a {@link writeError}). */
  persisted = 0;
  /**
   * The error that stopped writing (EPIPE: the reader of a pipe went away; ENOSPC; EIO), or
   * undefined. From then on records are dropped: their images are not in the file, so a
   * `--resume` runs them again.
   */
  writeError: NodeJS.ErrnoException | undefined;
  /** Told once, of {@link writeError}. */
  onWriteError: ((err: NodeJS.ErrnoException) => void) | undefined;
  /** Keys of images whose earlier record a new one replaces ({@link OpenedJournal.retry}). */
  replaces: ReadonlySet<string> = new Set();
  /** Of {@link replaces}, those recorded again in this run. */
  private readonly replaced = new Set<string>();
  /**
   * Keys whose every record {@link compact} drops: a video's failure before its first
   * frame, whose frames were read since (they have keys of their own: `SOURCE#FRAME`).
   */
  readonly drops = new Set<string>();
  /** The file holds records that later ones replace: {@link compact} drops them after {@link close}. */
  compactOnClose = false;

  private constructor(
    readonly path: string,
    fd: number,
    private readonly flushMs: number,
    private readonly syncMs: number,
    /** The file's lock ({@link ResultsLock}), released on close. */
    private readonly lock: ResultsLock | undefined,
  ) {
    this.fd = fd;
    this.flushTimer = setInterval(() => {
      this.flush();
    }, flushMs);
    this.flushTimer.unref();
  }

  /**
   * Opens a results file: {@link prepare}, then {@link PreparedJournal.open}.
   *
   * @throws as {@link prepare}
   */
  static async open(
    path: string,
    header: BatchHeader,
    mode: JournalMode,
    flushMs = DEFAULT_JOURNAL_FLUSH_MS,
    syncMs = DEFAULT_JOURNAL_SYNC_MS,
  ): Promise<OpenedJournal> {
    return (await Journal.prepare(path, header, mode)).open(flushMs, syncMs);
  }

  /**
   * Locks a results file ({@link ResultsLock}) and checks it, changing nothing in it; the
   * writes come with {@link PreparedJournal.open} (the master binds its port in between, so
   * that a failure there leaves an earlier batch's file as it was):
   *
   * - new file (or `overwrite`): `open` writes the header (`created` is then true);
   * - existing file with `resume`: checks its header's settings equal `header.settings` and
   *   reads the keys of the images already recorded (by absolute path: see
   *   {@link readJournal}) and the file's header; `onRecord` sees each of their records, in
   *   the file's order; lines between records that are not JSON are skipped and numbered in
   *   `badLines` (see {@link readJournal}); `open` cuts a torn last line, and `cutBytes`
   *   says how much it cut;
   * - existing file otherwise: refuses.
   *
   * The lock is held until the journal is closed, or {@link PreparedJournal.release}d.
   *
   * @throws {@link InvalidArgumentError} when the file exists without `resume`/`overwrite`,
   *   was written with other settings, or another master holds it; Error when its lock
   *   file cannot be written ({@link ResultsLock.take}), and the file system's error when an
   *   existing file cannot be read
   */
  static async prepare(path: string, header: BatchHeader, mode: JournalMode): Promise<PreparedJournal> {
    const lock = ResultsLock.take(path);
    const release = (): void => lock?.release();
    let write: Writer;
    try {
      write = await Journal.check(path, header, mode, lock);
    } catch (err) {
      release();
      throw err;
    }
    const open = async (flushMs = DEFAULT_JOURNAL_FLUSH_MS, syncMs = DEFAULT_JOURNAL_SYNC_MS): Promise<OpenedJournal> => {
      try {
        const opened = await write(flushMs, syncMs);
        try {
          // A new file has an inode only now (another master cannot have linked it before).
          lock?.holdInode();
        } catch (err) {
          try {
            opened.journal.close();
          } catch {
            // The lock's error is the one to report.
          }
          throw err;
        }
        return opened;
      } catch (err) {
        release();
        throw err;
      }
    };
    return { open, release };
  }

  /** Checks the file for {@link prepare}; returns what {@link PreparedJournal.open} then writes. */
  private static async check(path: string, header: BatchHeader, mode: JournalMode, lock: ResultsLock | undefined): Promise<Writer> {
    // Only a regular file holds an earlier batch. A named pipe is not opened to look: that
    // open waited for a writer while the reader waited for us (a hang Ctrl-C could not end).
    const st = statSync(path, { throwIfNoEntry: false });
    const exists = st !== undefined && st.isFile() && st.size > 0;
    if (exists && !mode.overwrite) {
      if (!mode.resume) {
        throw InvalidArgumentError.format('--out', `${path} already exists: pass --resume to finish that batch, or --overwrite to start again`);
      }
      const { done, videos, failed, retry, lastChance, superseded, duplicates, validBytes, previous, badLines, badLineCount } = await readJournal(path, mode.onRecord);
      if (previous === undefined) throw InvalidArgumentError.format('--out', `${path} is not a cctv-cluster results file (no batch header)`);
      // A header of another tool (or a bare {"type":"batch"}) was reported as other settings, the whole of ours dumped.
      // Typed as ours, but read from the file: anything may be there.
      const read = previous as { tool?: unknown; settings?: unknown };
      if (read.tool !== 'cctv-cluster' || typeof read.settings !== 'object' || read.settings === null) {
        throw InvalidArgumentError.format('--out', `${path} is not a cctv-cluster results file (its batch header is not this tool's): name another file, or --overwrite to replace it`);
      }
      const changed = settingsChanges(previous.settings, header.settings);
      if (changed.length > 0) {
        throw InvalidArgumentError.format('--resume', `${path} was written with other settings: ${changed.join('; ')}. Use the same settings, or --overwrite`);
      }
      return (flushMs, syncMs) => {
        removeStaleCompactions(path);
        const cutBytes = fstatSize(path) - validBytes;
        const fd = openForWriting(path, 'r+');
        ftruncateSync(fd, validBytes);
        closeSync(fd);
        const journal = new Journal(path, openForWriting(path, 'a'), flushMs, syncMs, lock);
        journal.replaces = retry;
        for (const key of superseded) journal.drops.add(key);
        // Records replaced by a later one, left by a master killed before its close compacted them.
        journal.compactOnClose = duplicates;
        return { journal, done, videos, failedBefore: failed, retry, lastChance, previous, created: false, badLines, badLineCount, cutBytes };
      };
    }
    return async (flushMs, syncMs) => {
      // Off the main thread: opening a named pipe waits for its reader, and Ctrl-C must work meanwhile.
      const fd = await openForWritingAsync(path);
      writeSync(fd, `${JSON.stringify(header)}\n`);
      syncIfSupported(fd);
      return { journal: new Journal(path, fd, flushMs, syncMs, lock), done: new Set(), videos: new Map(), failedBefore: 0, retry: new Set(), lastChance: new Map(), previous: undefined, created: true, badLines: [], badLineCount: 0, cutBytes: 0 };
    };
  }

  /**
   * Appends one record. Records that complete in the same turn of the event loop are
   * written together right after it: held any longer, they outlive V8's young generation
   * and pile up as old garbage (the master's RSS doubled over 100,000 images when they
   * waited for the 200 ms timer; measured with `npm run bench`).
   */
  append(record: ImageRecord, key?: string): void {
    if (this.writeError !== undefined) return;
    if (key !== undefined && this.replaces.size > 0) this.noteReplaced(key, record.frame);
    this.buffer.push(JSON.stringify(record));
    this.written++;
    this.scheduleWrite();
  }

  /** Appends a video's {@link FinishedVideoRecord}, after its frames' records. */
  appendVideo(record: FinishedVideoRecord): void {
    if (this.writeError !== undefined) return;
    this.buffer.push(JSON.stringify(record));
    this.scheduleWrite();
  }

  /** Writes the buffer right after this turn of the event loop ({@link append}). */
  private scheduleWrite(): void {
    if (!this.writeScheduled) {
      this.writeScheduled = true;
      setImmediate(() => {
        this.writeScheduled = false;
        if (this.fd >= 0) this.flush();
      });
    }
  }

  /** {@link append}'s bookkeeping of a record that may replace an earlier one. */
  private noteReplaced(key: string, frame: number | undefined): void {
    if (this.replaces.has(key)) {
      this.replaced.add(key);
      this.compactOnClose = true;
    }
    // A frame of a video whose earlier record failed before its first frame.
    const video = frame === undefined ? undefined : key.slice(0, key.length - `#${frame}`.length);
    if (video !== undefined && this.replaces.has(video) && !this.replaced.has(video)) {
      this.replaced.add(video);
      this.drops.add(video);
      this.compactOnClose = true;
    }
  }

  /** Images a resume was to run again ({@link replaces}) and did not: their failed records stand. */
  get replacesLeft(): number {
    return this.replaces.size - this.replaced.size;
  }

  /**
   * Writes buffered records to the file, and starts an fdatasync when `syncMs` has passed.
   * The periodic sync runs on libuv's thread pool: on the development VM one took ~190 ms,
   * and done in place they held the master's thread 2.6 s of a 14 s batch (CPU profile),
   * so results waited and slaves were fed late. `force` (on close) syncs in place.
   */
  flush(force = false): void {
    if (this.writeError !== undefined) return;
    if (this.buffer.length > 0) {
      const bytes = Buffer.from(`${this.buffer.join('\n')}\n`);
      const lines = this.buffer;
      this.buffer = [];
      // writeSync may write part of it and return (a disk filling up): the rest follows in
      // a loop, or the error that stops it does.
      let written = 0;
      try {
        while (written < bytes.length) written += writeSync(this.fd, bytes, written);
      } catch (err) {
        this.persisted += imagesWhole(lines, countLines(bytes.subarray(0, written)));
        this.failed(err as NodeJS.ErrnoException);
        return;
      }
      this.persisted += imagesWhole(lines, lines.length);
      this.dirty = true;
    }
    if (!this.dirty) return;
    const now = Date.now();
    if ((force || now - this.lastSyncMs >= this.syncMs) && this.unlinked()) return;
    if (force) {
      try {
        syncIfSupported(this.fd);
      } catch (err) {
        this.failed(err as NodeJS.ErrnoException);
        return;
      }
      this.dirty = false;
      this.lastSyncMs = now;
    } else if (!this.syncing && now - this.lastSyncMs >= this.syncMs) {
      // Records written after this point are left dirty for the next sync.
      this.dirty = false;
      this.lastSyncMs = now;
      this.syncing = true;
      const fd = this.fd;
      fdatasync(fd, (err) => {
        this.syncing = false;
        // A failed sync is not tried again: Linux reports a write-back error once and may
        // drop the pages, so the next sync succeeds with records lost ("fsyncgate";
        // PostgreSQL stops there too). EINVAL: a file that cannot be synced (a pipe, /dev/null).
        if (err && err.code !== 'EINVAL' && this.writeError === undefined) this.failed(err);
        // close() left the descriptor open for this sync; it is ours to close now.
        if (this.fd < 0) closeSync(fd);
      });
    }
  }

  /**
   * Whether the results file was deleted under the batch (its link count is 0: `rm`, or
   * its folder removed): then writing stops with an ENOENT {@link writeError}. Records
   * written to a deleted file are in no file, and the batch went on to "finish" with exit
   * 0 (found by QA). A file renamed or moved is still linked, and written on.
   */
  private unlinked(): boolean {
    let st: ReturnType<typeof fstatSync>;
    try {
      st = fstatSync(this.fd);
    } catch {
      return false;
    }
    if (!st.isFile() || st.nlink > 0) return false;
    this.persisted = 0;
    const err: NodeJS.ErrnoException = new Error(`${this.path} was deleted while the batch wrote it`);
    err.code = 'ENOENT';
    this.failed(err);
    return true;
  }

  private failed(err: NodeJS.ErrnoException): void {
    this.writeError = err;
    this.buffer = [];
    this.onWriteError?.(err);
  }

  /**
   * Flushes, syncs (in place) and closes the file. If a background sync is still running
   * on the descriptor, the descriptor is closed when that sync returns instead, so its
   * number cannot be reused under it.
   */
  close(): void {
    if (this.flushTimer) clearInterval(this.flushTimer);
    this.flushTimer = undefined;
    this.flush(true);
    if (!this.syncing) closeSync(this.fd);
    this.fd = -1;
    // Held through compact(), which writes the file again.
    if (!this.compactOnClose || this.writeError !== undefined) this.lock?.release();
  }

  /**
   * After {@link close}, when the file holds records a later one replaces (images a resume
   * ran again: {@link OpenedJournal.retry}): writes the file again with only the last
   * record of each image, through a temporary file renamed over it, so one line per image
   * remains. Killed before or during this, the file keeps both records, and the next
   * resume reads the last one and compacts. Call before another master may take the file.
   *
   * @returns the records dropped (0 when there was nothing to do or writing had failed)
   * @throws the file system's error when the file cannot be read or written again, or an
   *   Error when it has more than one hard link (it is then left as it was)
   */
  async compact(): Promise<number> {
    if (!this.compactOnClose || this.writeError !== undefined) return 0;
    this.compactOnClose = false;
    try {
      return await this.rewrite();
    } finally {
      this.lock?.release();
    }
  }

  /** {@link compact}'s work. */
  private async rewrite(): Promise<number> {
    const header = { cwd: process.cwd() };
    // Pass 1: the line of each image's last record.
    const last = new Map<string, number>();
    await forEachLine(this.path, (line, n) => {
      const key = recordKey(line, header);
      if (key !== undefined) last.set(key, n);
    });
    let dropped = 0;
    // The file a link points to, written again with its mode and owner: renamed over the
    // link, the results moved out of the linked file and a 0600 file came back 0644 (found by QA).
    const target = realpathSync(this.path);
    const st = statSync(target);
    if (st.nlink > 1) throw new Error(`it has ${st.nlink} hard links, which a new file renamed over one name would part (the others would keep the old records); each image's last record is its result`);
    const temporary = temporaryPath(target);
    const fd = openSync(temporary, 'w', st.mode & 0o7777);
    try {
      fchmodSync(fd, st.mode & 0o7777);
      try {
        fchownSync(fd, st.uid, st.gid);
      } catch {
        // Not ours to give away (not root): the file stays this user's, as the master's own writes are.
      }
      let out: string[] = [];
      let bytes = 0;
      const put = (text: string): void => {
        out.push(text);
        bytes += text.length;
        if (bytes >= 1 << 20) {
          writeAll(fd, `${out.join('\n')}\n`);
          out = [];
          bytes = 0;
        }
      };
      header.cwd = process.cwd();
      await forEachLine(this.path, (line, n) => {
        const key = recordKey(line, header);
        if (key !== undefined && (last.get(key) !== n || this.drops.has(key))) dropped++;
        else put(line);
      });
      if (out.length > 0) writeAll(fd, `${out.join('\n')}\n`);
      fdatasyncSync(fd);
    } catch (err) {
      closeSync(fd);
      rmSync(temporary, { force: true });
      throw err;
    }
    closeSync(fd);
    renameSync(temporary, target);
    return dropped;
  }
}

/**
 * The key ({@link itemKey} of the absolute source) of an image record's line, or undefined
 * for other lines; a batch header line sets `header.cwd`, against which relative sources
 * resolve (as {@link readJournal} does).
 */
function recordKey(line: string, header: { cwd: string }): string | undefined {
  // Records as mergeImage writes them, read from their first fields: parsing whole lines
  // (500 corner points each) took 3.1 s for 20,000 records, 160 MB. A frame named
  // elsewhere in the line (fields reordered by hand) is read by a full parse.
  const m = RECORD_START.exec(line);
  if (m !== null && (m[2] !== undefined || !line.includes('"frame":'))) {
    const source = JSON.parse(m[1] ?? '""') as string;
    return itemKey(resolve(header.cwd, source), m[2] === undefined ? undefined : Number(m[2]));
  }
  let o: { type?: unknown; source?: unknown; frame?: unknown; cwd?: unknown } | null;
  try {
    o = JSON.parse(line) as typeof o;
  } catch {
    return undefined;
  }
  if (typeof o !== 'object' || o === null) return undefined;
  if (o.type === 'batch' && typeof o.cwd === 'string') header.cwd = o.cwd;
  if (o.type !== 'image' || typeof o.source !== 'string') return undefined;
  return itemKey(resolve(header.cwd, o.source), typeof o.frame === 'number' ? o.frame : undefined);
}

/** How {@link mergeImage}'s records begin: the source (a JSON string), then `ok`, then the frame of a video's. */
const RECORD_START = /^\{"type":"image","source":("(?:[^"\\]|\\.)*"),"ok":(?:true|false)(?:,"frame":(\d+))?[,}]/;

/** Calls `each` with every line of a file and its number from 1, streamed ({@link fileLines}). */
async function forEachLine(path: string, each: (line: string, n: number) => void): Promise<void> {
  let n = 0;
  for await (const { text } of fileLines(path)) each(text, ++n);
}

/**
 * The lines of a file, split at LF only, streamed: each line's text (a CR before the LF
 * kept: JSON takes it as white space), its length in bytes with its LF, and whether it
 * had one. Counted in bytes as read: readline, which strips CRLF and replaces bytes that
 * are not UTF-8, made the length of a CRLF file short by a byte a line, and a resume cut
 * valid records off it (found by QA).
 */
async function* fileLines(path: string): AsyncGenerator<{ text: string; bytes: number; terminated: boolean }> {
  let carry: Buffer = Buffer.alloc(0);
  for await (const chunk of createReadStream(path)) {
    let data = carry.length > 0 ? Buffer.concat([carry, chunk as Buffer]) : (chunk as Buffer);
    for (let nl = data.indexOf(0x0a); nl >= 0; nl = data.indexOf(0x0a)) {
      yield { text: data.toString('utf8', 0, nl), bytes: nl + 1, terminated: true };
      data = data.subarray(nl + 1);
    }
    carry = Buffer.from(data);
  }
  if (carry.length > 0) yield { text: carry.toString('utf8'), bytes: carry.length, terminated: false };
}

/**
 * Removes the copies a compaction was writing beside a results file (its link target's
 * name) when its master was killed (19 MB left behind; found by QA). Called under the
 * file's lock, so no live master is writing one.
 */
function removeStaleCompactions(path: string): void {
  let target: string;
  try {
    target = realpathSync(path);
  } catch {
    return;
  }
  removeTemporaries(target);
}

/** `writeSync` until all of `text` is written. */
function writeAll(fd: number, text: string): void {
  const bytes = Buffer.from(text);
  let written = 0;
  while (written < bytes.length) written += writeSync(fd, bytes, written);
}

/**
 * What differs between a results file's settings and this run's, one `path: before -> now`
 * per changed leaf (e.g. `every: 5 -> 7`, `detectors.face.minNeighbors: 3 -> 4`); empty when
 * they match. The order of the task kinds does not matter: a record holds one result per kind,
 * and neither does `jpegQuality` when both runs send frames as PNG (it is not used then).
 */
export function settingsChanges(before: unknown, now: unknown): string[] {
  if (isPngFrames(before) && isPngFrames(now)) return changesAt({ ...before, jpegQuality: undefined }, { ...now, jpegQuality: undefined }, '');
  return changesAt(before, now, '');
}

/** {@link settingsChanges} below `path` (`''` at the top). */
function changesAt(before: unknown, now: unknown, path: string): string[] {
  if (path === 'tasks' && Array.isArray(before) && Array.isArray(now)) {
    const sorted = (v: unknown[]): string => JSON.stringify(v.map(String).sort());
    if (sorted(before as unknown[]) === sorted(now as unknown[])) return [];
  }
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (isObject(before) && isObject(now)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(now)])];
    return keys.flatMap((k) => changesAt(before[k], now[k], path === '' ? k : `${path}.${k}`));
  }
  const a = before === undefined ? 'unset' : JSON.stringify(before);
  const b = now === undefined ? 'unset' : JSON.stringify(now);
  return a === b ? [] : [`${path === '' ? 'settings' : (SETTING_FLAGS[path] ?? path)}: ${a} -> ${b}`];
}

/** Of the first `whole` of `lines`, the image records (not {@link FinishedVideoRecord}s). */
function imagesWhole(lines: readonly string[], whole: number): number {
  let n = 0;
  for (let i = 0; i < whole && i < lines.length; i++) if (!(lines[i] ?? '').startsWith(VIDEO_RECORD_START)) n++;
  return n;
}

/** How {@link Journal.appendVideo}'s lines begin. */
const VIDEO_RECORD_START = '{"type":"video",';

/** Whole lines (newlines) in `bytes`. */
function countLines(bytes: Buffer): number {
  let n = 0;
  for (let i = bytes.indexOf(10); i >= 0; i = bytes.indexOf(10, i + 1)) n++;
  return n;
}

/** Settings whose video frames travel as PNG (`frameFormat: png`). */
function isPngFrames(settings: unknown): settings is Record<string, unknown> {
  return typeof settings === 'object' && settings !== null && (settings as Record<string, unknown>)['frameFormat'] === 'png';
}

/** The command-line flag of each setting in the batch header, as the user knows it; the detector parameters have none. */
const SETTING_FLAGS: Record<string, string> = { tasks: '--tasks', every: '--every', frameFormat: '--frame-format', jpegQuality: '--jpeg-quality' };

function fstatSize(path: string): number {
  const fd = openSync(path, 'r');
  try {
    return fstatSync(fd).size;
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads a results file: its header, the keys of recorded images (`ABSOLUTE-SOURCE` or
 * `ABSOLUTE-SOURCE#FRAME`, relative sources resolved against the header's `cwd`), the
 * last {@link FinishedVideoRecord} of each video (by absolute path), and
 * the byte length up to the end of its last record (a torn last line, from a crash
 * mid-write, is not counted, nor is anything else after the last record). `onRecord` is
 * called with each image record, in order. A line that is not JSON between two records
 * (an edit by hand, a disk error) is skipped and its number returned in `badLines`
 * (1-based, at most {@link MAX_BAD_LINES_LISTED}; `badLineCount` counts them all): the
 * records after it still count (they used to be cut off with it and run again, in silence).
 */
export async function readJournal(
  path: string,
  onRecord?: (record: Readonly<Record<string, unknown>>) => void,
): Promise<{ previous: BatchHeader | undefined; done: Set<string>; videos: Map<string, FinishedVideoRecord>; failed: number; retry: Set<string>; lastChance: Map<string, TaskKind[]>; superseded: Set<string>; duplicates: boolean; validBytes: number; badLines: number[]; badLineCount: number }> {
  /** Each image's last record: ok, failed, or failed for causes that may pass. */
  const state = new Map<string, RecordState>();
  /** Of the images whose last record may pass, those with {@link lastChanceKinds}. */
  const lastChance = new Map<string, TaskKind[]>();
  let duplicates = false;
  /** Videos with a record of a frame. */
  const framed = new Set<string>();
  /** Each video's last {@link FinishedVideoRecord}, by absolute path. */
  const videos = new Map<string, FinishedVideoRecord>();
  let previous: BatchHeader | undefined;
  let validBytes = 0;
  const badLines: number[] = [];
  let badLineCount = 0;
  /** Lines that are not JSON since the last record: skipped if a record follows, else cut. */
  let pending: number[] = [];
  let lineNo = 0;
  let consumed = 0;
  for await (const { text: line, bytes, terminated } of fileLines(path)) {
    lineNo++;
    consumed += bytes;
    // A torn last line (no newline: the master was killed mid-write) is cut.
    if (!terminated) break;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      // A blank line is no damage worth a word.
      if (line.trim() !== '') pending.push(lineNo);
      continue;
    }
    // `null`, a number, a list: JSON, but no record (QA: `null` stopped the resume with a TypeError).
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      pending.push(lineNo);
      continue;
    }
    badLineCount += pending.length;
    for (const n of pending) if (badLines.length < MAX_BAD_LINES_LISTED) badLines.push(n);
    pending = [];
    validBytes = consumed;
    const o = parsed as { type?: unknown; source?: unknown; frame?: unknown; ok?: unknown };
    if (o.type === 'batch') previous ??= parsed as BatchHeader;
    else if (o.type === 'image' && typeof o.source === 'string') {
      // By absolute path, so a resume may name the inputs another way (`cam1/`, `/archive/cam1`).
      const source = resolve(previous?.cwd ?? process.cwd(), o.source);
      const key = itemKey(source, typeof o.frame === 'number' ? o.frame : undefined);
      if (typeof o.frame === 'number') framed.add(source);
      // The last record of an image is its record: a resume that ran it again appends one.
      if (state.has(key)) duplicates = true;
      const recordState: RecordState = o.ok !== false ? 'ok' : mayPass(parsed) ? 'retry' : 'failed';
      state.set(key, recordState);
      const kinds = recordState === 'retry' ? lastChanceKinds(parsed as Record<string, unknown>) : [];
      if (kinds.length > 0) lastChance.set(key, kinds);
      else lastChance.delete(key);
      onRecord?.(parsed as Record<string, unknown>);
    } else if (o.type === 'video') {
      const video = finishedVideo(parsed);
      if (video !== undefined) videos.set(resolve(previous?.cwd ?? process.cwd(), video.source), video);
    }
  }
  const done = new Set<string>();
  const retry = new Set<string>();
  const superseded = new Set<string>();
  let failed = 0;
  for (const [key, s] of state) {
    // A video's failure before its first frame (its reader killed), read again since: its
    // frames' records stand for it (a master killed before compacting left it).
    if (s === 'retry' && framed.has(key)) {
      superseded.add(key);
      lastChance.delete(key);
    } else if (s === 'retry') retry.add(key);
    else done.add(key);
    if (s === 'failed') failed++;
  }
  return { previous, done, videos, failed, retry, lastChance, superseded, duplicates: duplicates || superseded.size > 0, validBytes, badLines, badLineCount };
}

type RecordState = 'ok' | 'failed' | 'retry';

/** A parsed line as a {@link FinishedVideoRecord}, or undefined when it is not a whole one (edited by hand). */
function finishedVideo(parsed: unknown): FinishedVideoRecord | undefined {
  const o = parsed as Partial<Record<keyof FinishedVideoRecord, unknown>>;
  const { source, frames, size, mtimeMs } = o;
  if (typeof source !== 'string' || typeof frames !== 'number' || typeof size !== 'number' || typeof mtimeMs !== 'number') return undefined;
  if (!Number.isInteger(frames) || frames < 1 || !Number.isFinite(size) || !Number.isFinite(mtimeMs)) return undefined;
  return { type: 'video', source, frames, size, mtimeMs };
}

/**
 * Error names that a record written before failures carried `retryable` gives for causes
 * that may pass: the worker or the slave was lost, or the task ran out of time.
 */
const MAY_PASS_NAMES = new Set(['WorkerCrashError', 'TaskTimeoutError', 'LeaseExpiredError', 'SlaveLostError', 'SlaveLeavingError']);

/**
 * Whether a failed record's failures may all pass another time (each kind's error is
 * `retryable`: a worker killed, a lease run out, a file that could not be read for a
 * while), so that a resume runs the image again. One failure of the image itself (it
 * cannot be decoded, an empty file) keeps the record. `record`: a record as read from
 * the file, or an {@link ImageRecord} as written.
 */
export function mayPass(record: object): boolean {
  let failures = 0;
  for (const value of Object.values(record) as unknown[]) {
    if (typeof value !== 'object' || value === null || !('error' in value)) continue;
    const error = (value as { error?: unknown }).error;
    if (typeof error !== 'object' || error === null) return false;
    const { retryable, name } = error as { retryable?: unknown; name?: unknown };
    if (!(retryable === true || (retryable === undefined && typeof name === 'string' && MAY_PASS_NAMES.has(name)))) return false;
    failures++;
  }
  return failures > 0;
}

/**
 * Error names of a task that ran longer than its lease (`LeaseExpiredError`: with the
 * default leases, shorter than `--task-timeout`, what a hung detector gives) or its
 * `--task-timeout` (`TaskTimeoutError`), or took its worker down (`WorkerCrashError`):
 * the image itself may be the cause.
 */
const LAST_CHANCE_NAMES = new Set(['LeaseExpiredError', 'TaskTimeoutError', 'WorkerCrashError']);

/**
 * The kinds of a failed record whose error says the task ran out of time or crashed its
 * worker ({@link LAST_CHANCE_NAMES}). A `--resume` gives such a task one attempt, not
 * `--max-attempts`: an image that hangs or crashes a detector used up its attempts in the
 * run that recorded it, and cost every later resume `--max-attempts` leases again. One
 * attempt still runs it again (with a longer `--lease`, or on another slave) in case the
 * cause was the slave's.
 */
export function lastChanceKinds(record: Readonly<Record<string, unknown>>): TaskKind[] {
  const kinds: TaskKind[] = [];
  for (const [kind, value] of Object.entries(record)) {
    if (!isTaskKind(kind) || typeof value !== 'object' || value === null) continue;
    const error = (value as { error?: unknown }).error;
    if (typeof error !== 'object' || error === null) continue;
    const { name } = error as { name?: unknown };
    if (typeof name === 'string' && LAST_CHANCE_NAMES.has(name)) kinds.push(kind);
  }
  return kinds;
}

/** How many line numbers {@link readJournal} lists in `badLines`. */
export const MAX_BAD_LINES_LISTED = 5;
