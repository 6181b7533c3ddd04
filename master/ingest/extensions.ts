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
export const VIDEO_EXTENSIONS = ['avi', 'mp4', 'mkv', 'mov', 'h264', 'h265', 'hevc', 'm4v', 'mpg', 'mpeg', 'ts', 'mts', 'm2ts', '3gp', 'flv', 'wmv', 'asf', 'vob', 'ogv', 'mjpeg', 'mjpg', 'webm', 'gif'] as const;

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
 * Whether a file's first bytes are those of an image format OpenCV 4.6 decodes (JPEG, PNG,
 * BMP, TIFF and BigTIFF, WebP, PBM/PGM/PPM, PAM, PFM, Sun raster, JPEG 2000, OpenEXR,
 * Radiance HDR; GIF is a video here), from each format's signature. For files named on the
 * command line whose extension says nothing (FFmpeg would take a JPEG 2000 or an EXR for a
 * one-frame video).
 *
 * @param head - the file's first bytes (at least 12 for WebP and JPEG 2000)
 */
export function looksLikeImage(head: Buffer): boolean {
  const starts = (...bytes: number[]): boolean => bytes.every((b, i) => head[i] === b);
  return (
    starts(0xff, 0xd8, 0xff) || // JPEG
    starts(0x89, 0x50, 0x4e, 0x47) || // PNG
    starts(0x42, 0x4d) || // BMP "BM"
    starts(0x49, 0x49, 0x2a, 0x00) || // TIFF little-endian
    starts(0x4d, 0x4d, 0x00, 0x2a) || // TIFF big-endian
    (head.toString('latin1', 0, 4) === 'RIFF' && head.toString('latin1', 8, 12) === 'WEBP') ||
    starts(0x49, 0x49, 0x2b, 0x00) || // BigTIFF little-endian
    starts(0x4d, 0x4d, 0x00, 0x2b) || // BigTIFF big-endian
    /^P[1-7Ff]\s/.test(head.toString('latin1', 0, 3)) || // PBM/PGM/PPM, PAM, PFM
    starts(0x59, 0xa6, 0x6a, 0x95) || // Sun raster
    starts(0x00, 0x00, 0x00, 0x0c, 0x6a, 0x50, 0x20, 0x20, 0x0d, 0x0a, 0x87, 0x0a) || // JPEG 2000 (JP2)
    starts(0xff, 0x4f, 0xff, 0x51) || // JPEG 2000 codestream
    starts(0x76, 0x2f, 0x31, 0x01) || // OpenEXR
    /^#\?(RADIANCE|RGBE)/.test(head.toString('latin1', 0, 10)) // Radiance HDR
  );
}
