import { stat, readFile } from 'node:fs/promises';
import fg from 'fast-glob';
import { InputError } from '../../shared/errors.js';
import { mediaType } from './extensions.js';
import { itemKey, type IngestItem } from './item.js';
import { videoFrames, type FrameEncoding } from './video.js';
import { walkMedia } from './walk.js';

/** Options of {@link expandInputs}. */
export interface IngestOptions {
  /** Video sampling step, frames. */
  every: number;
  encoding: FrameEncoding;
  /** Larger image files are refused without reading them, bytes. */
  maxImageBytes: number;
}

/**
 * Checks that every input that is not a glob pattern exists.
 *
 * @throws {@link InputError} naming the first missing input
 */
export async function checkInputs(inputs: readonly string[]): Promise<void> {
  for (const input of inputs) {
    if (fg.isDynamicPattern(input)) continue;
    try {
      await stat(input);
    } catch {
      throw new InputError(`input not found: ${input}`);
    }
  }
}

/**
 * Streams the items of a batch: each input is an image file, a video file (sampled every
 * `every` frames), a directory (searched recursively for images and videos by
 * extension, case-insensitive) or a glob pattern. Nothing is listed or read ahead: a
 * batch of any size streams through in constant memory.
 */
export async function* expandInputs(inputs: readonly string[], options: IngestOptions): AsyncGenerator<IngestItem> {
  for (const input of inputs) {
    if (fg.isDynamicPattern(input)) {
      for await (const entry of fg.stream(input, { onlyFiles: true, caseSensitiveMatch: false, dot: false })) {
        const path = entry.toString();
        if (mediaType(path) !== 'other') yield* fileItems(path, options);
      }
      continue;
    }
    const s = await stat(input).catch(() => undefined);
    if (s?.isDirectory()) {
      for await (const path of walkMedia(input)) yield* fileItems(path, options);
    } else {
      // An explicitly named file is processed whatever its extension: a bad one gets an error record.
      yield* fileItems(input, options);
    }
  }
}

async function* fileItems(path: string, options: IngestOptions): AsyncGenerator<IngestItem> {
  if (mediaType(path) === 'video') {
    yield* videoFrames(path, options.every, options.encoding);
    return;
  }
  yield { key: itemKey(path), source: path, load: () => loadImageFile(path, options.maxImageBytes) };
}

/**
 * Reads an image file.
 *
 * @throws {@link InputError} when it cannot be read, is empty, or is over `maxBytes`
 */
export async function loadImageFile(path: string, maxBytes: number): Promise<Buffer> {
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch (err) {
    throw new InputError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (size === 0) throw new InputError('image file is empty (0 bytes)');
  if (size > maxBytes) throw new InputError(`image file is ${size} bytes, over the limit of ${maxBytes} bytes`);
  try {
    return await readFile(path);
  } catch (err) {
    throw new InputError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}
