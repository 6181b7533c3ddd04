import type { IngestItem } from './item.js';
import type { VideoFrames, VideoOutcome, VideoReaderPool } from './video-readers.js';

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
  /** Videos being read (a `next()` of each is pending, or its result is in {@link ready}). */
  private readonly active = new Set<VideoFrames>();
  /** Results of the videos' `next()`, in the order they came. */
  private readonly ready: [VideoFrames, IteratorResult<IngestItem, undefined>][] = [];
  private unitsDone = false;
  private closed = false;
  /** Wakes a `next()` waiting for the videos: a video's result came, or the stream was closed. */
  private wake: (() => void) | undefined;
  /** Ends a `next()` waiting for the walk of the inputs: the stream was closed (only then: the walk's next unit must not be dropped). */
  private onClose: (() => void) | undefined;

  /**
   * @param units - the walk of the inputs
   * @param pool - reads the videos; closed when the stream ends
   * @param concurrent - videos read at once (>= 1)
   * @param onVideoDone - told of each video once all its items were yielded (by then the
   *   consumer has had each), before the next item is
   */
  constructor(
    private readonly units: AsyncIterator<IngestUnit>,
    private readonly pool: VideoReaderPool,
    private readonly concurrent: number,
    private readonly onVideoDone?: (outcome: VideoOutcome) => void,
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
        const unit = await this.untilClosed(this.units.next());
        if (unit === CLOSED) continue;
        if (unit.done === true) {
          this.unitsDone = true;
          continue;
        }
        if (!isVideo(unit.value)) return { value: unit.value, done: false };
        unit.value.start();
        this.active.add(unit.value);
        this.pull(unit.value);
        continue;
      }
      const ready = this.ready.shift();
      if (ready !== undefined) {
        const [video, result] = ready;
        if (result.done === true) {
          this.active.delete(video);
          this.onVideoDone?.(video.outcome());
          continue;
        }
        this.pull(video);
        return { value: result.value, done: false };
      }
      if (this.active.size === 0) {
        this.close();
        continue;
      }
      // A fresh promise each wait: racing every call against one long-lived promise kept
      // a reaction per item on it (bench: +54 MB over 100,000 images).
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
      this.wake = undefined;
    }
  }

  return(): Promise<IteratorResult<IngestItem, undefined>> {
    this.close();
    return Promise.resolve({ value: undefined, done: true });
  }

  /** Asks `video` for its next item; the result lands in {@link ready}. */
  private pull(video: VideoFrames): void {
    void video.next().then((result) => {
      if (this.closed) return;
      this.ready.push([video, result]);
      this.wake?.();
    });
  }

  /** `promise`, or {@link CLOSED} as soon as the stream is closed. */
  private async untilClosed<T>(promise: Promise<T>): Promise<T | typeof CLOSED> {
    const closed = new Promise<typeof CLOSED>((resolve) => {
      this.onClose = () => {
        resolve(CLOSED);
      };
    });
    try {
      return await Promise.race([promise, closed]);
    } finally {
      this.onClose = undefined;
    }
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.wake?.();
    this.onClose?.();
    for (const video of this.active) void video.return();
    this.active.clear();
    this.ready.length = 0;
    this.pool.close();
    // A walk suspended at a yield ends now; one inside a directory read ends after it.
    this.units.return?.(undefined).catch(() => undefined);
  }
}

function isVideo(unit: IngestUnit): unit is VideoFrames {
  return typeof (unit as VideoFrames).start === 'function';
}
