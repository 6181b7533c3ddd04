import type { IngestItem } from './item.js';
import type { VideoFrames, VideoReaderPool } from './video-readers.js';

/** What the walk of a batch's inputs yields: an item ready to go, or a video to read. */
export type IngestUnit = IngestItem | VideoFrames;

const CLOSED = Symbol('closed');

/**
 * A batch's items with up to `concurrent` videos read at once, each by its own reader
 * process: an item is yielded as soon as any video has one, so videos read in parallel
 * (on the master's other cores) while memory stays at {@link VideoReaderPool.readAhead}
 * frames a video. Still images and failed items pass through in their order; frames of
 * videos read at once interleave (with one at a time, every item keeps its order).
 * `next()` must not be called again before its promise settles; `return()` ends every
 * reader at once, even one that hangs, and the walk of the inputs.
 */
export class IngestStream implements AsyncIterableIterator<IngestItem, undefined> {
  private readonly active = new Map<VideoFrames, Promise<[VideoFrames, IteratorResult<IngestItem, undefined>]>>();
  private unitsDone = false;
  private closed = false;
  private closeNow: ((value: typeof CLOSED) => void) | undefined;
  private readonly whenClosed = new Promise<typeof CLOSED>((resolve) => {
    this.closeNow = resolve;
  });

  /**
   * @param units - the walk of the inputs
   * @param pool - reads the videos; closed when the stream ends
   * @param concurrent - videos read at once (>= 1)
   */
  constructor(
    private readonly units: AsyncIterator<IngestUnit>,
    private readonly pool: VideoReaderPool,
    private readonly concurrent: number,
  ) {}

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** PIDs of the video reader processes alive, for tests. */
  get readerPids(): number[] {
    return this.pool.pids;
  }

  async next(): Promise<IteratorResult<IngestItem, undefined>> {
    for (;;) {
      if (this.closed) return { value: undefined, done: true };
      if (!this.unitsDone && this.active.size < this.concurrent) {
        const unit = await Promise.race([this.units.next(), this.whenClosed]);
        if (unit === CLOSED) continue;
        if (unit.done === true) {
          this.unitsDone = true;
          continue;
        }
        if (!isVideo(unit.value)) return { value: unit.value, done: false };
        unit.value.start();
        this.active.set(unit.value, pull(unit.value));
        continue;
      }
      if (this.active.size === 0) {
        this.close();
        continue;
      }
      const ready = await Promise.race([...this.active.values(), this.whenClosed]);
      if (ready === CLOSED) continue;
      const [video, result] = ready;
      if (result.done === true) {
        this.active.delete(video);
        continue;
      }
      this.active.set(video, pull(video));
      return { value: result.value, done: false };
    }
  }

  return(): Promise<IteratorResult<IngestItem, undefined>> {
    this.close();
    return Promise.resolve({ value: undefined, done: true });
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.closeNow?.(CLOSED);
    for (const video of this.active.keys()) void video.return();
    this.active.clear();
    this.pool.close();
    // A walk suspended at a yield ends now; one inside a directory read ends after it.
    this.units.return?.(undefined).catch(() => undefined);
  }
}

function pull(video: VideoFrames): Promise<[VideoFrames, IteratorResult<IngestItem, undefined>]> {
  return video.next().then((result) => [video, result]);
}

function isVideo(unit: IngestUnit): unit is VideoFrames {
  return typeof (unit as VideoFrames).start === 'function';
}
