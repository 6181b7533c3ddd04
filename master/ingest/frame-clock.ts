/**
 * The times of a video's sampled frames, ms from its start (µs precision), as
 * `timestampMs` of their records.
 *
 * A frame's time is the decoder's presentation time (`CAP_PROP_POS_MSEC` read just after
 * the frame): CCTV recorders often write a variable frame rate (a motion-triggered
 * recording has gaps of seconds), where frame / average rate was wrong by seconds (a 10 s
 * gap after frame 5 of 12: frame 6 at 5550 ms for 10500; found by QA). That time is taken
 * only when it is plausible: finite, past the last one taken (OpenCV 4.6 gives 0 for the
 * frames an H.264 decoder still held at the end of an MP4, and for every frame of a raw
 * H.264 stream, and -3.7e20 for raw MJPEG), and within twice the video's announced
 * length. Otherwise the time is the last one taken plus the frames since at the announced
 * rate, which is frame / rate for a constant-rate video (none taken yet: 0 at frame 0).
 */
export class FrameClock {
  /** The last frame whose presentation time was taken, and that time, ms. */
  private last: { frame: number; ms: number } | undefined;

  /**
   * @param fps - the video's frame rate, when plausible (`CAP_PROP_FPS`)
   * @param announcedFrames - its announced frame count, 0 when unknown (`CAP_PROP_FRAME_COUNT`)
   */
  constructor(
    private readonly fps: number | undefined,
    announcedFrames: number,
  ) {
    this.maxMs = fps !== undefined && announcedFrames > 0 ? (2 * (announcedFrames * 1000)) / fps : Infinity;
  }

  /** Latest presentation time believed, ms. */
  private readonly maxMs: number;

  /**
   * The time of a frame just read.
   *
   * @param frame - its index from 0
   * @param positionMs - the capture's `CAP_PROP_POS_MSEC` right after reading it
   * @returns ms from the start of the video, or undefined when neither the position nor the rate tells
   */
  read(frame: number, positionMs: number): number | undefined {
    const plausible = Number.isFinite(positionMs) && positionMs >= 0 && positionMs <= this.maxMs && (this.last === undefined || (frame > this.last.frame && positionMs > this.last.ms));
    if (!plausible) return this.estimate(frame);
    this.last = { frame, ms: positionMs };
    return roundToMicroseconds(positionMs);
  }

  /**
   * The time of a frame not read (it could not be decoded, or the video ended before it):
   * from the last time taken and the rate.
   *
   * @param frame - its index from 0
   * @returns ms from the start of the video, or undefined without a plausible rate
   */
  estimate(frame: number): number | undefined {
    if (this.fps === undefined) return undefined;
    const from = this.last ?? { frame: 0, ms: 0 };
    return roundToMicroseconds(from.ms + ((frame - from.frame) * 1000) / this.fps);
  }
}

function roundToMicroseconds(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
