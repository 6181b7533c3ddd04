import { stat } from 'node:fs/promises';
import { InputError } from '../../shared/errors.js';
import { itemKey, type IngestItem } from './item.js';

/** How sampled frames are encoded for the wire. */
export interface FrameEncoding {
  /** `jpg` (small, lossy) or `png` (lossless). */
  format: 'jpg' | 'png';
  /** JPEG quality 1..100. */
  jpegQuality: number;
}

/** Longest the video reader holds the master's thread before letting the event loop run, ms. */
const MAX_HOLD_MS = 50;

/** Failed reads in a row after which a video is taken to have ended (a corrupt frame fails one read, and the next frame reads again). */
const MAX_FAILED_READS_IN_A_ROW = 25;
/** Highest frame rate believed: MPEG-TS reports its 90 kHz time base as the rate (and a frame count made from it). */
const MAX_PLAUSIBLE_FPS = 1000;

/**
 * Streams every `every`-th frame of a video (frames 0, every, 2*every, ...) as encoded
 * images, decoding the video sequentially with OpenCV's VideoCapture. Frames are read
 * one at a time, so memory does not grow with the video's length.
 *
 * - A video that cannot be opened, or yields no frame at all, is one item with `error`.
 * - A frame that cannot be decoded in the middle of a video (a read that fails, followed
 *   by one that works) fails that frame's item if it is sampled; reading goes on.
 * - A video that ends (reads fail {@link MAX_FAILED_READS_IN_A_ROW} times in a row, or at
 *   the announced frame count) before its announced frame count yields an item for the
 *   first missing sampled frame with `error` set. The announced count is believed only
 *   with a plausible frame rate (at most {@link MAX_PLAUSIBLE_FPS}).
 * - `timestampMs` is frame / fps with a plausible rate, otherwise the capture's own
 *   position (`CAP_PROP_POS_MSEC`) when it gives one.
 *
 * @param path - the video as its items name it (`source`)
 * @param every - sampling step, frames (>= 1)
 * @param openPath - where to open it, when not `path` (a name shown escaped)
 */
export async function* videoFrames(path: string, every: number, encoding: FrameEncoding, openPath = path): AsyncGenerator<IngestItem> {
  const { cv } = await import('../../shared/opencv.js');
  const size = await stat(openPath).then((s) => s.size, () => undefined);
  if (size === 0) {
    yield failed(path, undefined, 'video file is empty (0 bytes)');
    return;
  }
  let cap: InstanceType<typeof cv.VideoCapture>;
  try {
    cap = new cv.VideoCapture(openPath);
  } catch {
    // The binding's text ("VideoCapture::New - failed to open capture") says no more.
    yield failed(path, undefined, 'video could not be opened (unknown codec or container, corrupt, or not a video)');
    return;
  }
  try {
    const reportedFps = cap.get(cv.CAP_PROP_FPS);
    const fps = reportedFps > 0 && reportedFps <= MAX_PLAUSIBLE_FPS ? reportedFps : undefined;
    const announced = fps === undefined ? 0 : Math.round(cap.get(cv.CAP_PROP_FRAME_COUNT));
    /** A frame's time from the start, ms (µs precision), when the frame rate is believed. */
    const frameTime = (frame: number): number | undefined => (fps === undefined ? undefined : Math.round((frame * 1000 * 1000) / fps) / 1000);
    const ext = encoding.format === 'png' ? '.png' : '.jpg';
    const flags = encoding.format === 'png' ? [cv.IMWRITE_PNG_COMPRESSION, 1] : [cv.IMWRITE_JPEG_QUALITY, encoding.jpegQuality];
    let index = 0;
    let readOk = 0;
    /** First frame of the current run of failed reads, and its length. */
    let failedFrom = 0;
    let failedReads = 0;
    let heldSinceMs = performance.now();
    // Let heartbeats and results through once the thread has been held this long: an
    // 8000x6000 frame takes about a second to read and as long to encode, and reading
    // 20 of them in a row starved the heartbeats until slaves were declared lost.
    const letOthersRun = async (): Promise<void> => {
      if (performance.now() - heldSinceMs < MAX_HOLD_MS) return;
      await new Promise<void>((resolve) => setImmediate(resolve));
      heldSinceMs = performance.now();
    };
    for (;;) {
      // Synchronous on purpose: the binding's *Async calls allocate Mats on libuv threads,
      // whose allocator then enters V8 from a foreign thread and later aborts the process
      // ("Check failed: marking_done_", seen here). A CCTV frame takes about 1 ms to read.
      const frame = cap.read();
      await letOthersRun();
      if (frame.empty) {
        if (failedReads === 0) failedFrom = index;
        failedReads++;
        index++;
        if (failedReads >= MAX_FAILED_READS_IN_A_ROW || (announced > 0 && index >= announced)) break;
        continue;
      }
      // Reads failed and then worked again: those frames were corrupt, not the end.
      for (let i = failedFrom; i < failedFrom + failedReads; i++) {
        if (i % every === 0) yield failed(path, i, `frame ${i} could not be decoded (corrupt data in the video); the frames after it were read`, frameTime(i));
      }
      failedReads = 0;
      readOk++;
      if (index % every === 0) {
        const bytes = cv.imencode(ext, frame, flags);
        await letOthersRun();
        const positionMs = cap.get(cv.CAP_PROP_POS_MSEC);
        const timestampMs = frameTime(index) ?? (Number.isFinite(positionMs) && positionMs >= 0 ? Math.round(positionMs * 1000) / 1000 : undefined);
        yield {
          key: itemKey(path, index),
          source: path,
          frame: index,
          ...(timestampMs !== undefined ? { timestampMs } : {}),
          load: () => Promise.resolve(bytes),
        };
      }
      index++;
    }
    const ended = failedReads > 0 ? failedFrom : index;
    if (readOk === 0) {
      yield failed(path, undefined, 'video could not be opened or has no readable frame (unknown codec, corrupt or not a video)');
    } else if (announced > 0 && ended < announced - 1) {
      const next = Math.ceil(ended / every) * every;
      if (next < announced) {
        yield failed(path, next, `video ended early: read ${ended} of ${announced} announced frames`, frameTime(next));
      }
    }
  } finally {
    cap.release();
  }
}

function failed(path: string, frame: number | undefined, message: string, timestampMs?: number): IngestItem {
  return {
    key: itemKey(path, frame),
    source: path,
    ...(frame !== undefined ? { frame } : {}),
    ...(timestampMs !== undefined ? { timestampMs } : {}),
    error: message,
    load: () => Promise.reject(new InputError(message)),
  };
}
