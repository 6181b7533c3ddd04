import { DuplicateFilter, inputEntries } from './expand.js';
import { mediaType } from './extensions.js';

/**
 * Counts the items a batch will have, for the progress bar's total: files under
 * directories and globs are counted without being read; a video counts as
 * ceil(frame count / every) using its announced frame count; an unreadable directory
 * counts as the one failed item it becomes. Streams paths, holding none (but for the
 * duplicate filter's, with several inputs).
 */
export async function countInputs(inputs: readonly string[], every: number): Promise<number> {
  let total = 0;
  const filter = new DuplicateFilter(inputs.length);
  for (const input of inputs) {
    for await (const entry of inputEntries(input)) {
      if (entry.error !== undefined) total++;
      else if (filter.first(entry.path)) total += mediaType(entry.path) === 'video' ? await videoItems(entry.path, every) : 1;
    }
  }
  return total;
}

async function videoItems(path: string, every: number): Promise<number> {
  const { cv } = await import('../../shared/opencv.js');
  try {
    const cap = new cv.VideoCapture(path);
    const n = Math.round(cap.get(cv.CAP_PROP_FRAME_COUNT));
    cap.release();
    return n > 0 ? Math.ceil(n / every) : 1;
  } catch {
    return 1;
  }
}
