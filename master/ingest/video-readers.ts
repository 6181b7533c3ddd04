import type { ChildProcess } from 'node:child_process';
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { isRunning, KILLED_FROM_OUTSIDE } from '../../shared/child-process.js';
import { ENTRIES } from '../../shared/child-script.js';
import { forkDyingWithParent } from '../../shared/parent-death.js';
import { onStderrLines } from '../../shared/logger.js';
import { projectPath } from '../../shared/project-path.js';
import { failedItem, makeItem, type IngestItem } from './item.js';
import type { FrameEncoding, FromVideoReader, ToVideoReader } from './video-protocol.js';

/** The video reader process's entry module. */
export const READER_MAIN = projectPath(ENTRIES.reader);
/** Frames a reader may read ahead of the master, per video: enough to hide a read's latency, few enough that 4K frames (~2 MB each as JPEG) stay a few MB. */
export const READ_AHEAD_FRAMES = 4;
/**
 * Longest a reader may take for one frame it owes before it is taken to hang and is
 * killed, ms. Reading and encoding an 8000x6000 frame takes ~2 s here; with `--every 25`
 * on a Raspberry Pi, 25 reads per frame sent, so the bound is loose.
 */
export const READER_STALL_MS = 300_000;
/**
 * How long a reader may stay idle before it is ended, ms. An idle reader keeps what FFmpeg
 * and glibc held for its last video (RSS ~240 MB after 1080p H.264, ~170 MB after
 * 768x576, measured here), which a batch whose videos are behind it has no use for; a new
 * one starts in ~0.4 s, so a reader is still reused across videos read back to back.
 */
export const READER_IDLE_MS = 10_000;

/** Options of {@link VideoReaderPool}. */
export interface VideoReaderPoolOptions {
  /** {@link READER_STALL_MS} unless set (tests), ms. */
  stallMs?: number;
  /** {@link READ_AHEAD_FRAMES} unless set. */
  readAhead?: number;
  /** {@link READER_IDLE_MS} unless set (tests), ms. */
  idleMs?: number;
  /**
   * Told each line a reader writes on its stderr (FFmpeg's and OpenCV's own complaints
   * about a damaged file, such as "[avi @ 0x...] Something went wrong during header
   * parsing"), with the video it was reading, shown as given; without it such lines are
   * dropped (the video's records say what failed).
   */
  warn?: (message: string) => void;
}

let nextVideoId = 1;

/** A video file's size and modification time when it was read, to tell on a `--resume` whether it changed since. */
export interface FileIdentity {
  /** bytes */
  size: number;
  /** `mtimeMs` of stat(2), ms since the epoch */
  mtimeMs: number;
}

/** What {@link VideoFrames.outcome} says of a video once its items are all taken. */
export interface VideoOutcome {
  /** The video as its items name it (`source`). */
  path: string;
  /**
   * The reader read the video to its end, every item it yielded was a frame's (none stood
   * for the whole video), and none failed for a cause that may pass (it did not end early):
   * each sampled frame has an item.
   */
  whole: boolean;
  /** Items yielded with a `frame` (sampled frames, read or failed). */
  frames: number;
  /** The file's identity, when it was the same before the reader opened it and when the video's last item was taken; undefined otherwise (it changed, or stat failed). */
  identity: FileIdentity | undefined;
}

/**
 * Video reader processes (`video-child.ts`), each reading one video at a time and kept
 * for the next video, so a batch of many short clips does not start a process (~0.5 s of
 * CPU) per clip; one idle for {@link idleMs} is ended. A reader that crashes or hangs is
 * replaced; {@link close} ends them all.
 */
export class VideoReaderPool {
  /** Idle readers, each with the timer that ends it. */
  private readonly idle = new Map<ChildProcess, NodeJS.Timeout>();
  private readonly all = new Set<ChildProcess>();
  /** The video each busy reader was given, as shown, for its stderr lines. */
  private readonly reading = new Map<ChildProcess, string>();
  private readonly warn: ((message: string) => void) | undefined;
  private closed = false;
  /** Longest wait for a frame a reader owes before it is taken to hang, ms ({@link READER_STALL_MS}). */
  readonly stallMs: number;
  /** Frames a reader may read ahead of the consumer, per video ({@link READ_AHEAD_FRAMES}). */
  readonly readAhead: number;
  /** How long a reader may stay idle before it is ended, ms ({@link READER_IDLE_MS}). */
  readonly idleMs: number;

  constructor(options: VideoReaderPoolOptions = {}) {
    this.stallMs = options.stallMs ?? READER_STALL_MS;
    this.readAhead = options.readAhead ?? READ_AHEAD_FRAMES;
    this.idleMs = options.idleMs ?? READER_IDLE_MS;
    this.warn = options.warn;
  }

  /**
   * The sampled frames of one video as items, read by a process of this pool once the
   * first item is asked for (or {@link VideoFrames.start}).
   *
   * @param path - the video as its items name it (`source`)
   * @param every - sampling step, frames (>= 1)
   * @param openPath - where to open it, when not `path` (a name shown escaped)
   */
  frames(path: string, every: number, encoding: FrameEncoding, openPath = path): VideoFrames {
    return new VideoFrames(this, path, every, encoding, openPath);
  }

  /**
   * The frame count a video announces, asked of a reader (opening a video probes it with
   * FFmpeg, which must not crash or hold the master): 0 when it cannot be opened, or the
   * reader dies or takes over {@link stallMs} over it; undefined when it opens but announces
   * no count to believe ({@link announcedFrames}).
   */
  async countFrames(path: string): Promise<number | undefined> {
    if (this.closed) return 0;
    const proc = this.acquire(path);
    const id = nextVideoId++;
    let timer: NodeJS.Timeout | undefined;
    let onMessage: ((message: FromVideoReader) => void) | undefined;
    let onExit: (() => void) | undefined;
    /** `null`: no answer (the reader died or stalled). */
    const frames = await new Promise<number | undefined | null>((settle) => {
      onMessage = (message: FromVideoReader): void => {
        if (message.type === 'counted' && message.id === id) settle(message.frames);
      };
      onExit = (): void => {
        settle(null);
      };
      timer = setTimeout(() => {
        settle(null);
      }, this.stallMs);
      proc.on('message', onMessage);
      proc.once('exit', onExit);
      proc.once('error', onExit);
      const message: ToVideoReader = { type: 'count', id, path: resolve(path) };
      if (proc.connected) proc.send(message, () => undefined);
      else settle(null);
    });
    clearTimeout(timer);
    if (onMessage !== undefined) proc.off('message', onMessage);
    if (onExit !== undefined) {
      proc.off('exit', onExit);
      proc.off('error', onExit);
    }
    if (frames === null) this.discard(proc);
    else this.release(proc);
    return frames === null ? 0 : frames;
  }

  /** PIDs of the reader processes alive, for tests. */
  get pids(): number[] {
    return [...this.all].flatMap((p) => (p.pid === undefined ? [] : [p.pid]));
  }

  /**
   * @internal A reader for one video: an idle one, or a new process.
   * @param video - the video it is for, as shown
   */
  acquire(video: string): ChildProcess {
    // The newest: those idle longer may then reach their timeout.
    const last = [...this.idle.keys()].at(-1);
    if (last !== undefined) this.forgetIdle(last);
    const proc = last ?? this.spawn();
    this.reading.set(proc, video);
    proc.ref();
    proc.channel?.ref();
    return proc;
  }

  /** @internal Takes back a reader that finished its video. */
  release(proc: ChildProcess): void {
    this.reading.delete(proc);
    if (this.closed || !proc.connected) {
      this.discard(proc);
      return;
    }
    // Idle readers do not keep the master's process alive.
    proc.unref();
    proc.channel?.unref();
    const timer = setTimeout(() => {
      this.discard(proc);
    }, this.idleMs);
    timer.unref();
    this.idle.set(proc, timer);
  }

  /** @internal Ends a reader (crashed, hung, or its video abandoned mid-read). */
  discard(proc: ChildProcess): void {
    this.forget(proc);
    // Nothing to save in a reader, and one stuck in FFmpeg would ignore anything milder.
    if (isRunning(proc)) proc.kill('SIGKILL');
  }

  /** Ends every reader; videos still being read end with a failed item for their next frame. */
  close(): void {
    this.closed = true;
    for (const proc of [...this.all]) this.discard(proc);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Drops a reader from the pool's lists (it exited, or is being ended). */
  private forget(proc: ChildProcess): void {
    this.all.delete(proc);
    this.reading.delete(proc);
    this.forgetIdle(proc);
  }

  /** Takes a reader off the idle list, its timer stopped. */
  private forgetIdle(proc: ChildProcess): void {
    clearTimeout(this.idle.get(proc));
    this.idle.delete(proc);
  }

  private spawn(): ChildProcess {
    const proc = forkDyingWithParent(READER_MAIN, ['ignore', 'ignore', 'pipe', 'ipc']);
    // FFmpeg's and OpenCV's warnings about damaged data are bare text: they go through the
    // master's log as its own lines (levels, --log-json, a progress bar kept whole).
    onStderrLines(proc.stderr, (text) => {
      const video = this.reading.get(proc);
      this.warn?.(`video reader${video === undefined ? '' : ` (${video})`}: ${text}`);
    });
    this.all.add(proc);
    proc.on('exit', () => {
      this.forget(proc);
    });
    // A failure to start is reported by the video that asked for the reader.
    proc.on('error', () => undefined);
    return proc;
  }
}

/**
 * One video's sampled frames as items ({@link readVideo} in a reader process, with the
 * same failed items), at most {@link VideoReaderPool.readAhead} ahead of the consumer
 * (credit-based flow control, ZeroMQ Guide ch.7). When the reader dies or hangs
 * ({@link VideoReaderPool.stallMs} without a frame it owes), the video ends with a failed
 * item for the next sampled frame (or, when nothing was read, for the whole video): the
 * rest of the video is lost, never the batch. `next()` must not be called again before
 * its promise settles; `return()` ends the video at once, reader and all.
 */
export class VideoFrames implements AsyncIterableIterator<IngestItem, undefined> {
  private readonly id = nextVideoId++;
  private readonly queue: IngestItem[] = [];
  private waiter: ((result: IteratorResult<IngestItem, undefined>) => void) | undefined;
  private state: 'new' | 'reading' | 'done' = 'new';
  private proc: ChildProcess | undefined;
  /** Frames the reader may still send before it needs more credit. */
  private owed = 0;
  /** Some record came (the video opened, or was found not to). */
  private anyRecord = false;
  /** First sampled frame after the last record's. */
  private nextFrame = 0;
  /** Items yielded with a frame. */
  private framed = 0;
  /**
   * An item came that leaves the video not read whole: one without a frame (the whole
   * video failed) or one whose failure may pass (it ended early: a copy still under way).
   */
  private partial = false;
  /** The reader said `end`: the video was read to its end. */
  private readToEnd = false;
  /** The file's identity before the reader opened it. */
  private identityAtStart: FileIdentity | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly onMessage = (message: FromVideoReader): void => {
    this.message(message);
  };
  private readonly onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
    // SIGKILL and SIGTERM come from outside (the out-of-memory killer, a user), not from the
    // data: said so, and tried again by a --resume (a good file was blamed; found by QA).
    if (signal === 'SIGKILL' || signal === 'SIGTERM') {
      this.fail(`the video reader process was killed (${signal === 'SIGKILL' ? KILLED_FROM_OUTSIDE : 'SIGTERM: by a user?'}) while reading it`, true);
      return;
    }
    this.fail(`the video reader process ended (${signal ?? `exit code ${code ?? '?'}`}) while reading it: the video decoder crashed on its data (corrupt or unsupported?)`);
  };
  private readonly onError = (err: Error): void => {
    this.fail(`the video reader process could not be started or reached: ${err.message}`);
  };

  /** @internal Made by {@link VideoReaderPool.frames}. */
  constructor(
    private readonly pool: VideoReaderPool,
    readonly path: string,
    private readonly every: number,
    private readonly encoding: FrameEncoding,
    private readonly openPath: string,
    /** Closed with the video (videoFrames' own pool). */
    private readonly ownPool = false,
  ) {}

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** PID of the reader process while one reads this video, for tests. */
  get readerPid(): number | undefined {
    return this.proc?.pid;
  }

  /** Starts reading (reading ahead) before the first item is asked for. */
  start(): void {
    if (this.state !== 'new') return;
    this.state = 'reading';
    if (this.pool.isClosed) {
      this.fail('reading stopped');
      return;
    }
    this.identityAtStart = fileIdentity(this.openPath);
    const proc = this.pool.acquire(this.path);
    this.proc = proc;
    proc.on('message', this.onMessage);
    proc.once('exit', this.onExit);
    proc.once('error', this.onError);
    this.owed = this.pool.readAhead;
    // Absolute: a reader kept from an earlier video may have started in another working directory.
    this.send({ type: 'read', id: this.id, path: resolve(this.openPath), every: this.every, encoding: this.encoding, credit: this.owed });
    this.armTimer();
  }

  next(): Promise<IteratorResult<IngestItem, undefined>> {
    this.start();
    const item = this.queue.shift();
    if (item !== undefined) {
      this.granted();
      return Promise.resolve({ value: item, done: false });
    }
    if (this.state === 'done') return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }

  /**
   * Whether this video was read whole, and how many frame items it had: meaningful once
   * `next()` has said `done` (every item taken), for a `--resume` to skip a video whose
   * frames are all recorded.
   */
  outcome(): VideoOutcome {
    const whole = this.readToEnd && !this.partial && this.framed > 0;
    const end = whole ? fileIdentity(this.openPath) : undefined;
    const start = this.identityAtStart;
    const same = start !== undefined && end !== undefined && start.size === end.size && start.mtimeMs === end.mtimeMs;
    return { path: this.path, whole, frames: this.framed, identity: same ? start : undefined };
  }

  /** Ends the video now: its reader is ended and items not yet taken are dropped. */
  return(): Promise<IteratorResult<IngestItem, undefined>> {
    this.queue.length = 0;
    this.finish(false);
    return Promise.resolve({ value: undefined, done: true });
  }

  private message(message: FromVideoReader): void {
    if (message.id !== this.id || this.state !== 'reading') return;
    if (message.type === 'end') {
      this.readToEnd = true;
      this.finish(true);
      return;
    }
    if (message.type !== 'frame') return;
    this.owed--;
    this.anyRecord = true;
    if (message.frame !== undefined) this.nextFrame = message.frame + this.every;
    const { frame, timestampMs, bytes, error, mayPass } = message;
    let item: IngestItem;
    if (error !== undefined || bytes === undefined) {
      item = failedItem(this.path, error ?? 'the video reader sent a frame without bytes', frame, timestampMs, mayPass === true);
    } else {
      const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      item = makeItem(this.path, () => Promise.resolve(buffer), frame, timestampMs);
    }
    this.armTimer();
    this.deliver(item);
  }

  /** Counts an item for {@link outcome}. */
  private count(item: IngestItem): void {
    if (item.frame !== undefined) this.framed++;
    // Ended early (QA: a video cut short since its first read got a line of its shorter
    // length, its missing frame being recorded already).
    if (item.frame === undefined || item.errorMayPass === true) this.partial = true;
  }

  /** The consumer took an item: the reader may read one more. */
  private granted(): void {
    if (this.state !== 'reading') return;
    this.owed++;
    this.send({ type: 'credit', id: this.id, frames: 1 });
    this.armTimer();
  }

  private deliver(item: IngestItem): void {
    this.count(item);
    const waiter = this.waiter;
    if (waiter === undefined) {
      this.queue.push(item);
      return;
    }
    this.waiter = undefined;
    this.granted();
    waiter({ value: item, done: false });
  }

  /**
   * The reader was lost: the video ends with a failed item where reading stopped.
   * `mayPass`: the cause was not the video, so a `--resume` reads it again from there.
   */
  private fail(reason: string, mayPass = false): void {
    if (this.state === 'done') return;
    const text = this.anyRecord ? `${reason}; frames from ${this.nextFrame} on were not read` : `${reason}; no frame was read`;
    const item = failedItem(this.path, text, this.anyRecord ? this.nextFrame : undefined, undefined, mayPass);
    this.count(item);
    this.queue.push(item);
    this.finish(false);
  }

  /**
   * Stops listening to the reader and hands it back (read to its end) or ends it; a
   * waiting `next()` gets the next queued item, or the end.
   */
  private finish(readToEnd: boolean): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const proc = this.proc;
    this.proc = undefined;
    this.state = 'done';
    if (proc !== undefined) {
      proc.off('message', this.onMessage);
      proc.off('exit', this.onExit);
      proc.off('error', this.onError);
      if (readToEnd) this.pool.release(proc);
      else this.pool.discard(proc);
    }
    if (this.ownPool) this.pool.close();
    const waiter = this.waiter;
    if (waiter === undefined) return;
    this.waiter = undefined;
    const item = this.queue.shift();
    waiter(item === undefined ? { value: undefined, done: true } : { value: item, done: false });
  }

  /** Times the reader while it owes frames; a reader waiting for credit is not hung. */
  private armTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.state !== 'reading' || this.owed <= 0) return;
    this.timer = setTimeout(() => {
      this.fail(`no frame from the video reader for ${Math.round(this.pool.stallMs / 1000)} s: the video decoder hung on its data, and the reader was ended`);
    }, this.pool.stallMs);
    // The reader's channel keeps the process alive while it reads; the timer need not.
    this.timer.unref();
  }

  private send(message: ToVideoReader): void {
    const proc = this.proc;
    if (proc === undefined || !proc.connected) return;
    proc.send(message, (err) => {
      // The channel closed under a message: the reader's exit says what happened.
      if (err !== null) return;
    });
  }
}

/** `path`'s size and modification time; undefined when it cannot be had. */
export function fileIdentity(path: string): FileIdentity | undefined {
  try {
    const st = statSync(path);
    return { size: st.size, mtimeMs: st.mtimeMs };
  } catch {
    return undefined;
  }
}

/** @internal For `videoFrames()`: a video with a pool of its own, closed when it ends. */
export function videoWithOwnPool(path: string, every: number, encoding: FrameEncoding, openPath: string, options?: VideoReaderPoolOptions): VideoFrames {
  return new VideoFrames(new VideoReaderPool(options), path, every, encoding, openPath, true);
}
