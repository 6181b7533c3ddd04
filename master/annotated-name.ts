import { basename, extname } from 'node:path';
import type { ImageRecord } from './merge.js';

/** `cam 1/a.jpg` -> `a`; anything but `[A-Za-z0-9._-]` becomes `_`. */
export function sanitizedBase(source: string): string {
  const base = basename(source, extname(source)).replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 120);
  return base.length === 0 || /^\.+$/.test(base) ? 'image' : base;
}

/**
 * File name of a record's annotated copy (`--annotate`), without the collision suffix the
 * annotator adds when another source had the same name: `NAME[-fNNNNNN].jpg`.
 */
export function annotatedName(record: Pick<ImageRecord, 'source' | 'frame'>): string {
  const frame = record.frame === undefined ? '' : `-f${String(record.frame).padStart(6, '0')}`;
  return `${sanitizedBase(record.source)}${frame}.jpg`;
}

/**
 * Whether the annotator draws a record: only when at least one of its four kinds
 * succeeded (a picture of what OpenCV made of bytes every task failed on would contradict
 * the record). Takes a parsed results-file line as well as a fresh record.
 */
export function isAnnotated(record: Readonly<Partial<Record<'object' | 'face' | 'edge' | 'corner', unknown>>>): boolean {
  return (['object', 'face', 'edge', 'corner'] as const).some((k) => {
    const entry = record[k];
    return typeof entry === 'object' && entry !== null && !('error' in entry);
  });
}

/**
 * The name (without collision suffix) an annotated copy of this results-file record got,
 * or undefined when there was none ({@link isAnnotated}).
 */
export function annotatedNameOfRecord(record: Readonly<Record<string, unknown>>): string | undefined {
  const source = record['source'];
  if (typeof source !== 'string' || !isAnnotated(record)) return undefined;
  const frame = record['frame'];
  return annotatedName(typeof frame === 'number' ? { source, frame } : { source });
}
