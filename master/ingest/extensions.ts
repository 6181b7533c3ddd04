import { imageFormat } from '../../shared/image-format.js';
import { extname } from 'node:path';

/**
 * Still-image extensions picked up in directories (lower case, no dot): those of the formats
 * OpenCV 4.6 decodes here that a camera, a phone or an export is likely to write (`jfif`: a
 * JPEG as Windows saves it). Left out as ambiguous in a folder walk (other programs' files
 * share them): `hdr`, `pic`, `sr`; and the float formats `exr`, `pfm`. Named on the command
 * line, a file of any of them is still read ({@link looksLikeImage}).
 */
export const IMAGE_EXTENSIONS = ['jpg', 'jpeg', 'jpe', 'jfif', 'png', 'bmp', 'dib', 'tif', 'tiff', 'webp', 'jp2', 'pgm', 'ppm', 'pbm', 'pnm', 'pam', 'ras'] as const;

/** Video extensions, read frame by frame with OpenCV's VideoCapture (GIFs too: OpenCV 4.6 reads them only that way). */
export const VIDEO_EXTENSIONS = ['avi', 'mp4', 'mkv', 'mov', 'h264', '264', 'h265', '265', 'hevc', 'm4v', 'mpg', 'mpeg', 'ts', 'mts', 'm2ts', '3gp', 'flv', 'wmv', 'asf', 'vob', 'ogv', 'mjpeg', 'mjpg', 'webm', 'gif'] as const;

/** What a path holds, judged by its extension. */
export type MediaType = 'image' | 'video' | 'other';

/** Classifies a path by extension (case-insensitive). */
export function mediaType(path: string): MediaType {
  const ext = extname(path).slice(1).toLowerCase();
  if ((IMAGE_EXTENSIONS as readonly string[]).includes(ext)) return 'image';
  if ((VIDEO_EXTENSIONS as readonly string[]).includes(ext)) return 'video';
  return 'other';
}

/** The extensions, for messages: `jpg, jpeg, ..., gif`. */
export const MEDIA_EXTENSIONS_TEXT = [...IMAGE_EXTENSIONS, ...VIDEO_EXTENSIONS].join(', ');

/**
 * Whether a file's first bytes are those of an image format OpenCV 4.6 decodes
 * ({@link imageFormat}).
 *
 * @param head - the file's first bytes (at least 12 for WebP and JPEG 2000)
 */
export function looksLikeImage(head: Buffer): boolean {
  return imageFormat(head) !== undefined;
}
