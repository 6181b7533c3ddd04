import { resolve } from 'node:path';
import { itemKey } from './ingest/item.js';
import { fileIdentity, type VideoOutcome } from './ingest/video-readers.js';
import { mayPass, type FinishedVideoRecord } from './journal.js';
import type { ImageRecord } from './merge.js';

/** A video of this run whose frames are not all recorded yet. */
interface OpenVideo {
  /** The video's path as its first frame item named it. */
  source: string;
  /** Its frames recorded for good (ok, or failed for the frame itself), or found recorded by a resume. */
  final: number;
  /** A frame failed for a cause that may pass: a resume runs it again, so the video must be read again. */
  incomplete: boolean;
  /** Set once all its items were taken: how many frames it has, and the file's identity. */
  read?: { frames: number; size: number; mtimeMs: number };
}

/**
 * Which videos of a batch have every sampled frame recorded for good, so that the results
 * file gets a {@link FinishedVideoRecord} for each, and which of a resumed file's videos a
 * `--resume` may leave unread (its record's size and modification time are the file's now,
 * and the file still holds a record of each of its frames).
 * Holds only the videos being read or with frames in flight, by absolute path.
 */
export class FinishedVideos {
  private readonly open = new Map<string, OpenVideo>();

  /**
   * @param earlier - a resumed file's video records, by absolute path ({@link readJournal})
   * @param done - keys of the images a resumed file holds for good ({@link readJournal})
   * @param every - the batch's video sampling step, frames: a video's sampled frames are 0, every, 2 every, ...
   * @param write - appends a record to the results file
   * @param sourceOf - a video's `source` as its frames' records name it, from its path as its
   *   first item named it (absolute when a resume runs in another folder than the batch began in)
   */
  constructor(
    private readonly earlier: ReadonlyMap<string, FinishedVideoRecord>,
    private readonly done: ReadonlySet<string>,
    private readonly every: number,
    private readonly write: (record: FinishedVideoRecord) => void,
    private readonly sourceOf: (path: string) => string,
  ) {}

  /**
   * The frames of the video at `absolutePath` when a resumed file says each is recorded,
   * still holds a record of each, and the file is the same size with the same modification
   * time now; undefined when it must be read.
   */
  unchanged(absolutePath: string): number | undefined {
    const record = this.earlier.get(absolutePath);
    if (record === undefined) return undefined;
    // A frame's record edited out, or lost to a damaged line, runs again; and a count edited
    // by hand is not believed (QA: "all 1e+308 input images were already in the results file").
    if (record.frames > this.done.size) return undefined;
    for (let i = 0; i < record.frames; i++) if (!this.done.has(itemKey(absolutePath, i * this.every))) return undefined;
    const now = fileIdentity(absolutePath);
    return now?.size === record.size && now.mtimeMs === record.mtimeMs ? record.frames : undefined;
  }

  /**
   * A frame item of the video `source` (as the item names it) was taken from the inputs:
   * starts following the video. `recorded`: a resumed file holds the frame already.
   */
  frame(source: string, recorded: boolean): void {
    const path = resolve(source);
    let video = this.open.get(path);
    if (video === undefined) {
      video = { source, final: 0, incomplete: false };
      this.open.set(path, video);
    }
    if (!recorded) return;
    video.final++;
    this.check(path, video);
  }

  /** The record of a video's frame was written. */
  recorded(record: ImageRecord): void {
    if (record.frame === undefined) return;
    const path = resolve(record.source);
    const video = this.open.get(path);
    if (video === undefined) return;
    if (!record.ok && mayPass(record)) video.incomplete = true;
    else video.final++;
    this.check(path, video);
  }

  /** All of a video's items were taken ({@link VideoFrames.outcome}). */
  read(outcome: VideoOutcome): void {
    const path = resolve(outcome.path);
    const video = this.open.get(path);
    if (video === undefined) return;
    if (!outcome.whole || outcome.identity === undefined) {
      this.open.delete(path);
      return;
    }
    video.read = { frames: outcome.frames, ...outcome.identity };
    this.check(path, video);
  }

  /** Videos being followed, for tests. */
  get size(): number {
    return this.open.size;
  }

  /** Writes the video's record once every frame is recorded for good; forgets a video that cannot have one. */
  private check(path: string, video: OpenVideo): void {
    if (video.read === undefined) return;
    if (video.incomplete || video.final > video.read.frames) {
      this.open.delete(path);
      return;
    }
    if (video.final < video.read.frames) return;
    this.open.delete(path);
    this.write({ type: 'video', source: this.sourceOf(video.source), frames: video.read.frames, size: video.read.size, mtimeMs: video.read.mtimeMs });
  }
}
