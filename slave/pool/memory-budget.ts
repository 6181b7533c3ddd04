import type { TaskKind } from '../../proto/task-kinds.js';
import { peekImageSize } from '../../shared/image-size.js';

/**
 * Memory a worker process takes above its idle size while it runs one task kind on an
 * image, bytes per pixel of the image. Peak private memory (`Private_Dirty`, sampled every
 * 0.2 s) of one worker over 12 frames each at 768x576, 1920x1080 and 3840x2160, one kind
 * at a time, less its idle ~80 MB (test/bench/PROFILE.md, twenty-fifth session): the Haar
 * cascade's integral images over all scales make `face` the dear one (62 B/px; 1080p
 * 211 MB, 4K 597 MB). The decode is in these figures.
 */
export const WORKER_BYTES_PER_PIXEL: Readonly<Record<TaskKind, number>> = { object: 8, face: 62, edge: 8, corner: 25, noop: 0 };

/**
 * Memory a worker takes above its idle size to run all four kinds on an image, bytes per
 * pixel: 80-83 measured the same way (1080p 250 MB, 4K 747 MB peak private), less than the
 * sum of the kinds' (103), as one kind's buffers are freed before the next runs. The
 * kinds' sum is capped at this: taken as 103 (+5 for the decode), two 4K images no longer
 * fitted in the 1.4 GB budget of a 2 GB cgroup with 4 workers, and 12 frames took 85.6 s
 * instead of 53.3 s.
 */
export const MAX_WORKER_BYTES_PER_PIXEL = 85;

/**
 * Compressed bytes to pixels for data whose header {@link peekImageSize} cannot read (not
 * an image, or a damaged header): a JPEG of quality 90 takes 0.15-0.45 bytes a pixel, so 3 pixels a
 * byte is roughly right for compressed formats and high for raw ones.
 */
const PIXELS_PER_BYTE_UNKNOWN = 3;

/**
 * An image's size in pixels from its header, or estimated from its length for formats
 * whose header is not read ({@link PIXELS_PER_BYTE_UNKNOWN}).
 *
 * @param bytes - the encoded image
 * @returns px
 */
export function imagePixels(bytes: Buffer): number {
  const size = peekImageSize(bytes);
  return size === undefined ? bytes.length * PIXELS_PER_BYTE_UNKNOWN : size.width * size.height;
}

/**
 * Peak memory one worker takes above its idle size to run `kinds` (in one request) on an
 * image, bytes per pixel of the image: the sum of each kind's {@link WORKER_BYTES_PER_PIXEL},
 * at most {@link MAX_WORKER_BYTES_PER_PIXEL}. Zero when no kind needs the image (`noop`).
 *
 * @param kinds - the request's task kinds (repeats count once)
 */
export function workerBytesPerPixel(kinds: Iterable<TaskKind>): number {
  let perPixel = 0;
  for (const kind of new Set(kinds)) perPixel += WORKER_BYTES_PER_PIXEL[kind];
  return Math.min(perPixel, MAX_WORKER_BYTES_PER_PIXEL);
}

/**
 * Peak memory one worker takes above its idle size to run `kinds` on an image of
 * `pixels`, bytes ({@link workerBytesPerPixel}).
 *
 * @param pixels - the image's size, px
 * @param kinds - the request's task kinds (repeats count once)
 */
export function workerBytesFor(pixels: number, kinds: Iterable<TaskKind>): number {
  return pixels * workerBytesPerPixel(kinds);
}
