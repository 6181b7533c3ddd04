import type { TaskValue } from '../proto/messages.js';
import type { TaskKind } from '../proto/task-kinds.js';
import { outcomeOf, type ImageEntry } from './task-table.js';

/** A successful kind's entry in a record: the detector's value plus where and how it ran. */
export type KindSuccess = TaskValue['value'] & {
  /** Compute time on the slave, ms (decode included for the task that decoded). */
  computeMs: number;
  /** Slave that produced it. */
  slave: string;
  /** Attempts it took. */
  attempts: number;
};

/** A failed kind's entry in a record. */
export interface KindFailure {
  /**
   * `retryable`: the cause may pass (a worker killed, a lease run out, a file that could
   * not be read), so a `--resume` runs the image again; false for the image itself (it
   * cannot be decoded, it is too large).
   */
  error: { name: string; message: string; retryable: boolean };
  /** Attempts it used (0: it never ran, e.g. the master could not read the image). */
  attempts: number;
  /** Slave of its last attempt, when one ran it. */
  slave?: string;
}

/**
 * One line of the results file: everything known about one image or video frame.
 * Each requested kind appears exactly once, as a value or as an error.
 */
export interface ImageRecord {
  type: 'image';
  /** Image or video path. */
  source: string;
  /** Video frame index from 0 (videos only). */
  frame?: number;
  /** Media timestamp of the frame, ms (videos only). */
  timestampMs?: number;
  /** Image size, px (absent when no slave could decode it). */
  width?: number;
  height?: number;
  /** True when every task of the image succeeded. */
  ok: boolean;
  /**
   * File name of its annotated copy in the `--annotate` folder (`NAME[-fNNNNNN][-K].jpg`),
   * when one was handed to the annotator (written unless drawing it failed: see the log).
   */
  annotated?: string;
  object?: KindSuccess | KindFailure;
  face?: KindSuccess | KindFailure;
  edge?: KindSuccess | KindFailure;
  corner?: KindSuccess | KindFailure;
  noop?: KindSuccess | KindFailure;
}

/** Type guard: a kind entry that failed. */
export function isKindFailure(entry: KindSuccess | KindFailure | undefined): entry is KindFailure {
  return entry !== undefined && 'error' in entry;
}

/**
 * Merges the outcomes of an image's tasks into one record, kinds in the order requested;
 * `computeMs` rounded to 0.001 ms; width and height from the first successful task that
 * reports them (a `noop` task does not).
 *
 * @param kinds - the batch's task kinds, in output order
 */
export function mergeImage(image: ImageEntry, kinds: readonly TaskKind[]): ImageRecord {
  const { item } = image;
  const record: ImageRecord = { type: 'image', source: item.source, ok: true };
  if (item.frame !== undefined) record.frame = item.frame;
  if (item.timestampMs !== undefined) record.timestampMs = item.timestampMs;
  for (const kind of kinds) {
    const outcome = outcomeOf(image, kind);
    if (outcome === undefined) continue;
    if (outcome.ok) {
      const r = outcome.result;
      if (r.width > 0 && record.width === undefined) {
        record.width = r.width;
        record.height = r.height;
      }
      record[kind] = { ...r.value, computeMs: round3(r.computeMs), slave: outcome.slaveId, attempts: outcome.attempts } as KindSuccess;
    } else {
      record.ok = false;
      const failure: KindFailure = { error: { name: outcome.error.name, message: outcome.error.message, retryable: outcome.error.retryable }, attempts: outcome.attempts };
      if (outcome.slaveId !== undefined) failure.slave = outcome.slaveId;
      record[kind] = failure;
    }
  }
  return record;
}

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}
