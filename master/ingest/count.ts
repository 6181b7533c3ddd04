import { DuplicateFilter, inputEntries } from './expand.js';
import { mediaType } from './extensions.js';
import { VideoReaderPool } from './video-readers.js';

/**
 * Counts the items a batch will have, for the progress bar's total: files under
 * directories and globs are counted without being read; a video counts as
 * ceil(frame count / every) using its announced frame count; an unreadable directory
 * counts as the one failed item it becomes. Streams paths, holding none (but for the
 * duplicate filter's, with several inputs). Videos are opened by a video reader process
 * of its own ({@link VideoReaderPool.countFrames}), not on the master's thread.
 *
 * @param every - video sampling step, frames (>= 1)
 * @returns items (images and sampled frames)
 */
export async function countInputs(inputs: readonly string[], every: number): Promise<number> {
  let total = 0;
  const filter = new DuplicateFilter(inputs.length);
  const readers = new VideoReaderPool();
  try {
    for (const input of inputs) {
      for await (const entry of inputEntries(input)) {
        if (entry.error !== undefined) total++;
        else if (await filter.first(entry.path)) total += mediaType(entry.path) === 'video' ? Math.ceil(Math.max(1, await readers.countFrames(entry.path)) / every) : 1;
      }
    }
  } finally {
    readers.close();
  }
  return total;
}
