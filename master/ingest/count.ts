import { stat } from 'node:fs/promises';
import fg from 'fast-glob';
import { mediaType } from './extensions.js';
import { walkMedia } from './walk.js';

/**
 * Counts the items a batch will have, for the progress bar's total: files under
 * directories and globs are counted without being read; a video counts as
 * ceil(frame count / every) using its announced frame count. Streams paths, holding none.
 */
export async function countInputs(inputs: readonly string[], every: number): Promise<number> {
  let total = 0;
  const countFile = async (path: string): Promise<void> => {
    total += mediaType(path) === 'video' ? await videoItems(path, every) : 1;
  };
  for (const input of inputs) {
    if (fg.isDynamicPattern(input)) {
      for await (const e of fg.stream(input, { onlyFiles: true, caseSensitiveMatch: false })) {
        if (mediaType(e.toString()) !== 'other') await countFile(e.toString());
      }
      continue;
    }
    const s = await stat(input).catch(() => undefined);
    if (s?.isDirectory()) {
      for await (const path of walkMedia(input)) await countFile(path);
    } else await countFile(input);
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
