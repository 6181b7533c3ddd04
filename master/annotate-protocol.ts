import type { DetectorConfig } from '../proto/detector-config.js';
import type { LogLevel } from '../shared/logger.js';
import type { ImageRecord } from './merge.js';

/**
 * Messages between the master and its annotator process (Node IPC, `advanced`
 * serialization, so image bytes travel as Buffers).
 */
export type ToAnnotator =
  /** First message: where to write and how edges were found (`--annotate`, the edge detector's parameters). */
  | { type: 'init'; dir: string; edge: DetectorConfig['edge']; logLevel: LogLevel; logJson: boolean }
  /** One finished record, with the file name of its copy (`annotated`), and its encoded image (bytes). */
  | { type: 'image'; record: ImageRecord; bytes: Uint8Array }
  /** No more images: write the contact sheet and say `finished`. */
  | { type: 'finish' };

/** Messages from the annotator process to the master (same channel): one `done` per `image`, one `finished` after `finish`. */
export type FromAnnotator =
  /** An image was annotated (`written`) or skipped; `bytes` is its encoded size, for the master's accounting. */
  | { type: 'done'; bytes: number; written: boolean }
  /** The contact sheet is written (or there was none to write). */
  | { type: 'finished' };
