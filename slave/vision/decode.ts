import { DecodeError, errorMessage, ImageTooLargeError } from '../../shared/errors.js';
import { cv, type Mat } from '../../shared/opencv.js';

import { DEFAULT_MAX_IMAGE_PIXELS } from '../../shared/limits.js';
import { imageFormat } from '../../shared/image-format.js';
import { peekImageSize } from '../../shared/image-size.js';

/**
 * An image decoded once and shared by all tasks of that image on one worker: its grey
 * version, and the equalized grey version computed on first use. Every detector works on
 * grey, so the colour image is released as soon as it is converted.
 *
 * Call {@link release} when no task needs it any more: a Mat's pixels live outside V8's
 * heap, which frees them only when it collects the wrapper. Two workers holding each
 * other's garbage until then took ~1,700 more page faults and ~8 ms more system time
 * per 768x576 image than a Python process freeing at once (test/bench/PROFILE.md).
 */
export class PreparedImage {
  private equalized: Mat | undefined;
  constructor(
    /** 8 bit, 1 channel (`COLOR_BGR2GRAY` of the decoded BGR image). */
    readonly grey: Mat,
    /** Width, px. */
    readonly width: number,
    /** Height, px. */
    readonly height: number,
  ) {}

  /** `equalizeHist(grey)`, computed once. */
  equalizedGrey(): Mat {
    this.equalized ??= this.grey.equalizeHist();
    return this.equalized;
  }

  /** Frees the pixels now; the image must not be used after. Safe to call twice. */
  release(): void {
    this.equalized?.release();
    this.equalized = undefined;
    this.grey.release();
  }
}

/**
 * Checks that JPEG and PNG data reach the end their format gives, because OpenCV decodes a
 * truncated JPEG without complaint (libjpeg pads the missing rows with grey). Walks the
 * structure rather than looking at the last bytes: phones and DVRs append data after the
 * image (a motion photo's MP4, a vendor trailer), which OpenCV ignores and so must we.
 * - JPEG: marker segments by their lengths, the entropy-coded data after each SOS up to its
 *   next marker (only `FF00` stuffing and `RSTn` may follow `FF` in it: ITU T.81 B.1.1.5,
 *   B.2.4), until EOI (`FFD9`). An EXIF thumbnail's own EOI is inside its APP1 segment.
 * - PNG: chunks by their lengths until IEND (PNG spec §5.3).
 * Data too damaged to walk is left to OpenCV: only running out of bytes is truncation.
 *
 * @returns a description of the problem, or undefined when the data looks complete
 */
export function truncation(bytes: Buffer): string | undefined {
  if (bytes.length >= 2 && bytes[0] === 0xff && bytes[1] === 0xd8) return jpegReachesEnd(bytes) ? undefined : 'JPEG is truncated or corrupt (its data runs out before the end-of-image marker)';
  if (bytes.length >= 8 && bytes.readUInt32BE(0) === 0x89504e47) return pngReachesEnd(bytes) ? undefined : 'PNG is truncated (no IEND chunk)';
  return undefined;
}

/** Whether a JPEG's segments lead to its EOI marker (true also when they cannot be walked). */
function jpegReachesEnd(b: Buffer): boolean {
  let i = 2;
  for (;;) {
    if (i >= b.length) return false;
    if (b[i] !== 0xff) return true;
    while (i < b.length && b[i] === 0xff) i++; // fill bytes
    if (i >= b.length) return false;
    const marker = b[i++] ?? 0;
    if (marker === 0xd9) return true;
    if ((marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) continue;
    if (i + 2 > b.length) return false;
    const length = b.readUInt16BE(i);
    if (length < 2) return true;
    i += length;
    if (marker !== 0xda) continue;
    // Entropy-coded data: up to the first FF not followed by 00 or RSTn.
    for (;;) {
      const ff = b.indexOf(0xff, i);
      if (ff < 0 || ff + 1 >= b.length) return false;
      const next = b[ff + 1] ?? 0;
      if (next === 0x00 || (next >= 0xd0 && next <= 0xd7) || next === 0xff) {
        i = next === 0xff ? ff + 1 : ff + 2;
        continue;
      }
      i = ff;
      break;
    }
  }
}

/** Whether a PNG's chunks lead to IEND (true also when they cannot be walked). */
function pngReachesEnd(b: Buffer): boolean {
  let i = 8;
  for (;;) {
    if (i + 8 > b.length) return false;
    const length = b.readUInt32BE(i);
    const type = b.toString('latin1', i + 4, i + 8);
    if (type === 'IEND') return true;
    if (!/^[A-Za-z]{4}$/.test(type)) return true;
    i += 12 + length;
  }
}

/**
 * Decodes encoded image bytes (any format OpenCV reads) into a {@link PreparedImage}.
 *
 * @param maxPixels - images larger than this (width x height, px) are refused before decoding
 *   when their header tells the size ({@link peekImageSize}: every format OpenCV reads), and
 *   after decoding otherwise
 * @throws {@link DecodeError} for empty, truncated ({@link truncation}), corrupt or
 *   non-image bytes; {@link ImageTooLargeError} for an image over `maxPixels`
 *   (`cv.imdecode` returns an empty Mat instead of throwing, so emptiness is checked here)
 */
export function decodeImage(bytes: Buffer, maxPixels = DEFAULT_MAX_IMAGE_PIXELS): PreparedImage {
  if (bytes.length === 0) throw new DecodeError('image is empty (0 bytes)');
  const peek = peekImageSize(bytes);
  if (peek && peek.width * peek.height > maxPixels) {
    throw tooManyPixels(peek.width, peek.height, maxPixels);
  }
  const cut = truncation(bytes);
  if (cut !== undefined) throw new DecodeError(`image could not be decoded: ${cut}`);
  let colour: Mat;
  try {
    colour = cv.imdecode(bytes, cv.IMREAD_COLOR);
  } catch (err) {
    throw new DecodeError(`image could not be decoded: ${errorMessage(err)}`, { cause: err });
  }
  if (colour.empty || colour.rows === 0 || colour.cols === 0) {
    const format = imageFormat(bytes.subarray(0, 16));
    throw new DecodeError(
      format === undefined
        ? `image could not be decoded (${bytes.length} bytes): not an image format OpenCV reads (its first bytes are no known image signature)`
        : `image could not be decoded (${bytes.length} bytes): ${format} is corrupt or truncated, or a variant of ${format} that OpenCV does not read`,
    );
  }
  const { cols, rows } = colour;
  if (rows * cols > maxPixels) {
    colour.release();
    throw tooManyPixels(cols, rows, maxPixels);
  }
  return new PreparedImage(toGrey(colour), cols, rows);
}

/**
 * The grey version of a decoded image, `colour` released. `IMREAD_COLOR` gives three
 * channels for most formats, but OpenCV 4.6's PFM decoder returns a grey image's one
 * channel whatever it is asked for (found by QA): one channel is taken as the grey itself.
 *
 * @throws {@link DecodeError} for a channel count no conversion to grey exists for
 */
function toGrey(colour: Mat): Mat {
  const channels = colour.channels;
  if (channels === 1) return colour;
  try {
    if (channels === 3) return colour.cvtColor(cv.COLOR_BGR2GRAY);
    if (channels === 4) return colour.cvtColor(cv.COLOR_BGRA2GRAY);
    throw new DecodeError(`image could not be decoded: OpenCV gave ${channels} channels, where 1, 3 or 4 were expected`);
  } catch (err) {
    throw err instanceof DecodeError ? err : new DecodeError(`image could not be converted to grey: ${errorMessage(err)}`, { cause: err });
  } finally {
    colour.release();
  }
}

/** The refusal of an image over `--max-image-pixels`, from its header or after decoding. */
function tooManyPixels(width: number, height: number, maxPixels: number): ImageTooLargeError {
  return new ImageTooLargeError(`image is ${width}x${height} px, over this slave's limit of ${maxPixels} px (--max-image-pixels)`);
}
