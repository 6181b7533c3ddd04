import { DuplicateFilter, inputEntries } from './expand.js';
import { mediaType } from './extensions.js';
import { VideoReaderPool } from './video-readers.js';

/**
 * Counts the items a batch will have, for the progress bar's total: files under
 * directories and globs are counted without being read; a video counts as
 * ceil(frame count / every) using its announced frame count; an unreadable directory, or a
 * video that cannot be opened, counts as the one failed item it becomes. Streams paths,
 * holding none (but for the duplicate filter's, with several inputs). Videos are opened by
 * a video reader process of its own ({@link VideoReaderPool.countFrames}), not on the
 * master's thread.
 *
 * @param every - video sampling step, frames (>= 1)
 * @returns items (images and sampled frames), and `exact` false when a video announces no
 *   length to believe (MPEG-TS, raw H.264): it counts as one item then, and the total is
 *   only a lower bound (a bar went to 82/61 images with an ETA of 0 s; QA)
 */
export async function countInputs(inputs: readonly string[], every: number): Promise<{ items: number; exact: boolean }> {
  let items = 0;
  let exact = true;
  const filter = new DuplicateFilter(inputs.length);
  const readers = new VideoReaderPool();
  try {
    for (const input of inputs) {
      for await (const entry of inputEntries(input)) {
        if (entry.error !== undefined) items++;
        else if (!(await filter.first(entry.path))) continue;
        else if (mediaType(entry.path) !== 'video') items++;
        else {
          const frames = await readers.countFrames(entry.path);
          if (frames === undefined) exact = false;
          items += Math.ceil(Math.max(1, frames ?? 0) / every);
        }
      }
    }
  } finally {
    readers.close();
  }
  return { items, exact };
}
