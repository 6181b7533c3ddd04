import { open, stat } from 'node:fs/promises';
import type { FrameEncoding } from './video-protocol.js';
import { notRegularFile, READ_MAY_PASS } from './file-kind.js';
import { errorCode } from './walk.js';
import { FrameClock } from './frame-clock.js';

/**
 * Failed reads in a row after which a video is taken to have ended: a corrupt frame fails
 * one read and the next frame reads again, so a damaged stretch of a recording is this many
 * failed reads (~6.7 minutes at 25 fps). At the true end a read fails in 0.2-3 µs (H.264 MP4,
 * MJPG AVI, MPEG-TS, MKV, raw MJPEG, measured), so going on this long costs at most ~30 ms a
 * video. It was 25: a damage of 25 frames or more ended the video there, and the rest of it
 * (all of it, for damage at its start) was never read.
 */
const MAX_FAILED_READS_IN_A_ROW = 10_000;
/** Highest frame rate believed: MPEG-TS reports its 90 kHz time base as the rate (and a frame count made from it). */
const MAX_PLAUSIBLE_FPS = 1000;

/** One sampled frame of a video as read: its encoded bytes, or why it could not be had. */
export interface VideoRecord {
  /** Frame index from 0; absent when the whole video failed (it could not be opened). */
  frame?: number;
  /** The frame's time from the start of the video, ms, when known. */
  timestampMs?: number;
  /** The frame encoded as `encoding` says; absent when `error` is set. */
  bytes?: Buffer;
  /** Why the frame (or, without `frame`, the video) could not be read. */
  error?: string;
  /**
   * With `error`: the cause may pass (the file missing or unreachable for now, as an image's
   * {@link READ_MAY_PASS}), so a `--resume` tries the video again.
   */
  mayPass?: boolean;
}

/**
 * Reads every `every`-th frame of a video (frames 0, every, 2*every, ...) and encodes it,
 * decoding the video sequentially with OpenCV's VideoCapture (every frame is decoded: the
 * binding has no `grab()`). Frames are read one at a time, so memory does not grow with
 * the video's length. Runs in the video reader process (`video-child.ts`): a read blocks
 * its thread (1080p H.264: ~6 ms a frame, ~15 ms a JPEG encode), and a hostile file that
 * crashes or hangs FFmpeg takes that process with it, not the master.
 *
 * - A video that is not a regular file (a FIFO, a device), cannot be opened, or yields no
 *   frame at all, is one record with `error` and no `frame`.
 * - A frame that cannot be decoded in the middle of a video (a read that fails, followed
 *   by one that works) fails that frame's record if it is sampled; reading goes on.
 * - A video that ends (reads fail {@link MAX_FAILED_READS_IN_A_ROW} times in a row, or at
 *   the announced frame count) before its announced frame count yields a record for the
 *   first missing sampled frame with `error` and `mayPass` set (a copy still being
 *   written is the usual cause, so a `--resume` reads it again). The announced count is believed only
 *   with a plausible frame rate (at most {@link MAX_PLAUSIBLE_FPS}), and only two short or
 *   more: one frame fewer than announced is common in sound files (OpenCV issue #15569),
 *   so a damaged last frame goes unrecorded.
 * - `timestampMs` is the frame's presentation time where plausible, else extrapolated at
 *   the announced rate ({@link FrameClock}): right for a variable frame rate too.
 *
 * @param path - the file to open (OpenCV takes a name as text only)
 * @param every - sampling step, frames (>= 1)
 */
export async function* readVideo(path: string, every: number, encoding: FrameEncoding): AsyncGenerator<VideoRecord> {
  const { cv } = await import('../../shared/opencv.js');
  const unopened = await notToOpen(path);
  if (unopened !== undefined) {
    yield unopened;
    return;
  }
  let cap: InstanceType<typeof cv.VideoCapture>;
  try {
    cap = openCapture(cv, path);
  } catch {
    // The binding's text ("VideoCapture::New - failed to open capture") says no more.
    yield { error: 'video could not be opened (unknown codec or container, corrupt, or not a video)' };
    return;
  }
  try {
    const { fps, announced } = rateAndCount(cv, cap);
    const clock = new FrameClock(fps, announced);
    const failedFrame = (frame: number, error: string): VideoRecord => {
      const timestampMs = clock.estimate(frame);
      return { frame, ...(timestampMs !== undefined ? { timestampMs } : {}), error };
    };
    const ext = encoding.format === 'png' ? '.png' : '.jpg';
    // PNG at zlib level 1 (of 0-9), the fastest that compresses: lossless at any level.
    const flags = encoding.format === 'png' ? [cv.IMWRITE_PNG_COMPRESSION, 1] : [cv.IMWRITE_JPEG_QUALITY, encoding.jpegQuality];
    let index = 0;
    let readOk = 0;
    /** First frame of the current run of failed reads, and its length. */
    let failedFrom = 0;
    let failedReads = 0;
    for (;;) {
      // Synchronous on purpose: the binding's *Async calls allocate Mats on libuv threads,
      // whose allocator then enters V8 from a foreign thread and later aborts the process
      // ("Check failed: marking_done_", seen here).
      const frame = cap.read();
      if (frame.empty) {
        if (failedReads === 0) failedFrom = index;
        failedReads++;
        index++;
        if (failedReads >= MAX_FAILED_READS_IN_A_ROW || (announced > 0 && index >= announced)) break;
        continue;
      }
      // Reads failed and then worked again: those frames were corrupt, not the end.
      for (let i = failedFrom; i < failedFrom + failedReads; i++) {
        if (i % every === 0) yield failedFrame(i, `frame ${i} could not be decoded (corrupt data in the video); the frames after it were read`);
      }
      failedReads = 0;
      readOk++;
      if (index % every === 0) {
        const bytes = cv.imencode(ext, frame, flags);
        const timestampMs = clock.read(index, cap.get(cv.CAP_PROP_POS_MSEC));
        yield { frame: index, ...(timestampMs !== undefined ? { timestampMs } : {}), bytes };
      }
      frame.release();
      index++;
    }
    const ended = failedReads > 0 ? failedFrom : index;
    if (readOk === 0) {
      yield { error: 'video could not be opened or has no readable frame (unknown codec, corrupt or not a video)' };
    } else if (announced > 0 && ended < announced - 1) {
      const next = Math.ceil(ended / every) * every;
      // Most often a file still being written or copied: a --resume reads it again.
      if (next < announced) yield { ...failedFrame(next, `video ended early: read ${ended} of ${announced} announced frames`), mayPass: true };
    }
  } finally {
    cap.release();
  }
}

/**
 * Opens a video with OpenCV's FFmpeg backend only. With any backend, a file FFmpeg cannot
 * open falls through to OpenCV's image-sequence reader, which takes a `%d` in the name as
 * a pattern (or makes one of its last digits): `seq_%04d.avi`, a text file, was read as
 * the three JPEGs `seq_0000.avi`... beside it and recorded as its frames. FFmpeg alone
 * reads everything the other backends read here: ~50 test files (AVI, MP4, MOV, MKV,
 * WebM, OGV, FLV, WMV, 3GP, MPEG-TS, MPEG-PS, raw MJPEG, GIF; damaged and truncated ones
 * too) gave the same frames either way.
 *
 * @throws when the file cannot be opened (the binding's "failed to open capture")
 */
function openCapture(cv: typeof import('../../shared/opencv.js')['cv'], path: string): InstanceType<typeof cv.VideoCapture> {
  return new cv.VideoCapture(path, cv.CAP_FFMPEG);
}

/**
 * The frame count a video announces (`CAP_PROP_FRAME_COUNT`, rounded), without reading
 * it; 0 when it cannot be opened (it will be one failed item), undefined when it opens but
 * announces no count to believe (MPEG-TS, raw H.264: its length is known only once read).
 * Opening probes the file with FFmpeg, so this too runs in a reader process.
 */
export async function announcedFrames(path: string): Promise<number | undefined> {
  const { cv } = await import('../../shared/opencv.js');
  // As readVideo: a FIFO held the counting reader for the stall timeout, and MPEG-TS's
  // 90 kHz made a progress total of thousands of frames for a 12-frame clip.
  if ((await notToOpen(path)) !== undefined) return 0;
  try {
    const cap = openCapture(cv, path);
    const { announced } = rateAndCount(cv, cap);
    cap.release();
    return Number.isFinite(announced) && announced > 0 ? announced : undefined;
  } catch {
    // The binding throws when the file cannot be opened.
    return 0;
  }
}

/**
 * Why `path` is not to be opened as a video at all, or undefined: FFmpeg would wait on a
 * FIFO for a writer, and read /dev/zero for good; an empty file has nothing to read.
 */
async function notToOpen(path: string): Promise<VideoRecord | undefined> {
  try {
    const stats = await stat(path);
    const what = notRegularFile(stats);
    if (what !== undefined) return { error: `not a regular file (${what})` };
    if (stats.size === 0) return { error: 'video file is empty (0 bytes)' };
    // stat() needs no read permission; an open() says whether the file can be read.
    await (await open(path, 'r')).close();
    return undefined;
  } catch (err) {
    // Missing or unreadable: said so, not taken for a corrupt video (OpenCV says only that
    // it could not open it; found by QA), and tried again by a --resume where that may pass.
    const code = errorCode(err);
    return { error: `cannot read ${path}: ${code}`, ...(READ_MAY_PASS.has(code) ? { mayPass: true } : {}) };
  }
}

/**
 * A capture's frame rate (`CAP_PROP_FPS`, frames/s) when plausible (at most
 * {@link MAX_PLAUSIBLE_FPS}), and its announced frame count (`CAP_PROP_FRAME_COUNT`,
 * rounded), believed only with such a rate (0 otherwise).
 */
function rateAndCount(cv: typeof import('../../shared/opencv.js')['cv'], cap: InstanceType<typeof cv.VideoCapture>): { fps: number | undefined; announced: number } {
  const reported = cap.get(cv.CAP_PROP_FPS);
  const fps = reported > 0 && reported <= MAX_PLAUSIBLE_FPS ? reported : undefined;
  return { fps, announced: fps === undefined ? 0 : Math.round(cap.get(cv.CAP_PROP_FRAME_COUNT)) };
}
