/** How sampled frames are encoded for the wire. */
export interface FrameEncoding {
  /** `jpg` (small, lossy) or `png` (lossless). */
  format: 'jpg' | 'png';
  /** JPEG quality 1..100. */
  jpegQuality: number;
}

/**
 * Messages from the master to a video reader process (Node IPC, `advanced` serialization).
 * A reader reads one video at a time; `id` tells one video's messages from the next one's.
 */
export type ToVideoReader =
  /** Read this video; send at most `credit` frames before more credit comes. */
  | { type: 'read'; id: number; path: string; every: number; encoding: FrameEncoding; credit: number }
  /** Say how many frames video `path` announces (for the progress bar's total), without reading it. */
  | { type: 'count'; id: number; path: string }
  /** The master took `frames` more frames of video `id`: that many more may be sent (ZeroMQ Guide ch.7, credit-based flow control). */
  | { type: 'credit'; id: number; frames: number };

/** Messages from a video reader process to the master. */
export type FromVideoReader =
  /**
   * One sampled frame of video `id` ({@link VideoRecord} with the bytes as a Uint8Array): its
   * encoded bytes, or `error` (`mayPass`: its cause may pass, so a `--resume` tries again);
   * without `frame`, the whole video failed.
   */
  | { type: 'frame'; id: number; frame?: number; timestampMs?: number; bytes?: Uint8Array; error?: string; mayPass?: boolean }
  /** Video `id` is read to its end; the reader waits for the next `read`. */
  | { type: 'end'; id: number }
  /**
   * The frame count video `id` announces (`CAP_PROP_FRAME_COUNT`); 0 when it cannot be
   * opened; absent when it opens but announces no count to believe (its length is unknown).
   */
  | { type: 'counted'; id: number; frames?: number };
