import { InputError } from '../../shared/errors.js';

/**
 * One image to process: a still image file, or one sampled frame of a video.
 * Items are produced lazily by the ingest stream, so a batch of any size is never held
 * in memory at once; `load` reads (or returns) the encoded bytes when the item is scheduled.
 */
export interface IngestItem {
  /** Unique key of the item in a batch: the source path, plus `#frame` for video frames. */
  key: string;
  /** Path of the image or video file, as the user gave it (or as found under a directory). */
  source: string;
  /** Frame index in the video, from 0; absent for still images. */
  frame?: number;
  /** Media timestamp of the frame, ms from the start of the video; absent for still images. */
  timestampMs?: number;
  /**
   * Encoded image bytes (JPEG, PNG, ...).
   *
   * @throws {@link InputError} when the file cannot be read or is over the byte limit
   */
  load(): Promise<Buffer>;
  /** Set when the item is already known to be unusable (e.g. a video that cannot be opened). */
  error?: string;
  /** With `error`: its cause may pass (a video reader killed), so a `--resume` tries the item again. */
  errorMayPass?: true;
}

/** Key of an item: `source` or `source#frame`. */
export function itemKey(source: string, frame?: number): string {
  return frame === undefined ? source : `${source}#${frame}`;
}

/**
 * The item of `source` (of its `frame`, taken at `timestampMs` into the video, when it is a
 * video's) whose encoded bytes `load` gives.
 */
export function makeItem(source: string, load: () => Promise<Buffer>, frame?: number, timestampMs?: number): IngestItem {
  return {
    key: itemKey(source, frame),
    source,
    ...(frame !== undefined ? { frame } : {}),
    ...(timestampMs !== undefined ? { timestampMs } : {}),
    load,
  };
}

/**
 * An item known to be unusable: `load` rejects with an {@link InputError} saying `error`,
 * and the record says it too. `mayPass`: the cause may pass, so a `--resume` tries it again.
 */
export function failedItem(source: string, error: string, frame?: number, timestampMs?: number, mayPass = false): IngestItem {
  const item: IngestItem = { ...makeItem(source, () => Promise.reject(new InputError(error, { retryable: mayPass })), frame, timestampMs), error };
  if (mayPass) item.errorMayPass = true;
  return item;
}
