import { extname } from 'node:path';

/** Still-image extensions picked up in directories (lower case, no dot). */
export const IMAGE_EXTENSIONS = ['jpg', 'jpeg', 'jpe', 'png', 'bmp', 'tif', 'tiff', 'webp', 'pgm', 'ppm', 'pbm'] as const;

/** Video extensions, read frame by frame with OpenCV's VideoCapture (GIFs too: OpenCV 4.6 reads them only that way). */
export const VIDEO_EXTENSIONS = ['avi', 'mp4', 'mkv', 'mov', 'h264', 'm4v', 'mpg', 'mpeg', 'webm', 'gif'] as const;

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
