import { InputError, errorMessage } from '../../shared/errors.js';
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

/**
 * Streams every `every`-th frame of a video (frames 0, every, 2*every, ...) as encoded
 * images, decoding the video sequentially with OpenCV's VideoCapture. Frames are read
 * one at a time, so memory does not grow with the video's length.
 * A video that cannot be opened yields one item with `error` set; a video that ends
 * before its announced frame count yields an item for the first missing sampled frame
 * with `error` set, then stops.
 *
 * @param every - sampling step, frames (>= 1)
 */
export async function* videoFrames(path: string, every: number, encoding: FrameEncoding): AsyncGenerator<IngestItem> {
  const { cv } = await import('../../shared/opencv.js');
  let cap: InstanceType<typeof cv.VideoCapture>;
  try {
    cap = new cv.VideoCapture(path);
  } catch (err) {
    yield failed(path, undefined, `video could not be opened: ${errorMessage(err).trim() || 'unknown format'}`);
    return;
  }
  try {
    const fps = cap.get(cv.CAP_PROP_FPS);
    const announced = Math.round(cap.get(cv.CAP_PROP_FRAME_COUNT));
    const ext = encoding.format === 'png' ? '.png' : '.jpg';
    const flags = encoding.format === 'png' ? [cv.IMWRITE_PNG_COMPRESSION, 1] : [cv.IMWRITE_JPEG_QUALITY, encoding.jpegQuality];
    let index = 0;
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
      if (frame.empty) break;
      if (index % every === 0) {
        const bytes = cv.imencode(ext, frame, flags);
        await letOthersRun();
        const timestampMs = fps > 0 ? Math.round((index * 1000 * 1000) / fps) / 1000 : undefined;
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
    if (index === 0) {
      yield failed(path, undefined, 'video could not be opened or has no readable frame (unknown codec, corrupt or not a video)');
    } else if (announced > 0 && index < announced - 1) {
      const next = Math.ceil(index / every) * every;
      if (next < announced) {
        yield failed(path, next, `video ended early: read ${index} of ${announced} announced frames`);
      }
    }
  } finally {
    cap.release();
  }
}

function failed(path: string, frame: number | undefined, message: string): IngestItem {
  return {
    key: itemKey(path, frame),
    source: path,
    ...(frame !== undefined ? { frame } : {}),
    error: message,
    load: () => Promise.reject(new InputError(message)),
  };
}
