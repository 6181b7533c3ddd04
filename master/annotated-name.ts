import { realpathSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import type { ImageRecord } from './merge.js';

/**
 * `cam 1/a.jpg` -> `a`: the file name without its extension, anything but `[A-Za-z0-9._-]`
 * as `_`, cut to 120 characters (so that with `-fNNNNNN`, a `-N` suffix and `.jpg` a name
 * stays far below the 255-byte file name limit of common file systems); `image` when
 * nothing, or only dots, is left.
 */
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
 * The name an annotated copy of this results-file record got: its `annotated` field
 * (`exact`), or for a record written before records had one, the name without collision
 * suffix ({@link annotatedName}); undefined when there was none ({@link isAnnotated}).
 */
export function annotatedNameOfRecord(record: Readonly<Record<string, unknown>>): { name: string; exact: boolean } | undefined {
  const given = record['annotated'];
  if (typeof given === 'string') return { name: given, exact: true };
  const source = record['source'];
  if (typeof source !== 'string' || !isAnnotated(record)) return undefined;
  const frame = record['frame'];
  return { name: annotatedName(typeof frame === 'number' ? { source, frame } : { source }), exact: false };
}

/** The contact sheet's file name in the `--annotate` folder. */
export const CONTACT_SHEET_FILE = 'contact-sheet.jpg';

/**
 * The names given to annotated copies in one `--annotate` folder, so that two sources of
 * one name get `NAME.jpg` and `NAME-2.jpg`. Kept by the master, which writes each copy's
 * name into its record (`annotated`) before the annotator process draws it.
 */
export class AnnotatedNames {
  // The contact sheet's name is taken: an input called contact-sheet.jpg gets contact-sheet-2.jpg.
  private readonly used = new Set<string>([CONTACT_SHEET_FILE]);

  /** `name`, or `NAME-2.jpg`, `NAME-3.jpg`... when it is taken; it is taken from then on. */
  take(name: string): string {
    let out = name;
    for (let n = 2; this.used.has(out); n++) out = name.replace(/\.jpg$/, `-${n}.jpg`);
    this.used.add(out);
    return out;
  }

  /**
   * Takes the names an earlier run of a resumed batch gave, in its records' order: a
   * record's own `annotated` name as it is, or for a record written before records had one,
   * its {@link annotatedName} again (its `-2`, `-3` suffixes come out the same).
   */
  reserve(names: readonly { name: string; exact: boolean }[]): void {
    for (const { name, exact } of names) {
      if (exact) this.used.add(name);
      else this.take(name);
    }
  }
}

/**
 * Whether writing `name` into `dir` would replace `source` itself: its path with every link
 * resolved is that entry (a copy is renamed over the entry, so a link there is replaced,
 * not written through). False when either cannot be resolved.
 */
export function isEntryOf(source: string, dir: string, name: string): boolean {
  try {
    return realpathSync(source) === join(realpathSync(dir), name);
  } catch {
    return false;
  }
}
