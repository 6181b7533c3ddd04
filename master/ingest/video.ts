import type { FrameEncoding } from './video-protocol.js';
import { videoWithOwnPool, type VideoFrames, type VideoReaderPoolOptions } from './video-readers.js';

export type { FrameEncoding } from './video-protocol.js';

/**
 * Streams every `every`-th frame of a video (frames 0, every, 2*every, ...) as encoded
 * images, read by a video reader process of its own ({@link readVideo}, which says which
 * frames fail and why; {@link VideoFrames} for a reader that crashes or hangs). The
 * reader is ended when the stream ends or is abandoned (`return()`). A batch reads its
 * videos through one {@link VideoReaderPool} instead (`expandInputs`).
 *
 * @param path - the video as its items name it (`source`)
 * @param every - sampling step, frames (>= 1)
 * @param openPath - where to open it, when not `path` (a name shown escaped)
 */
export function videoFrames(path: string, every: number, encoding: FrameEncoding, openPath = path, options?: VideoReaderPoolOptions): VideoFrames {
  return videoWithOwnPool(path, every, encoding, openPath, options);
}
