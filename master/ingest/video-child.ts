/**
 * A video reader process: decodes videos and encodes their sampled frames off the master's
 * thread ({@link readVideo}). The master reads 1080p H.264 at about 6 ms a frame plus
 * ~15 ms a JPEG encode; on its own thread that held dispatch and results, and with several
 * videos one thread capped the whole cluster. A crash or hang in FFmpeg on a hostile file
 * also ends here, not in the master. Started by {@link VideoReaderPool}; exits when its
 * channel to the master closes.
 */
import type { FromVideoReader, ToVideoReader } from './video-protocol.js';
import { announcedFrames, readVideo } from './video-read.js';

/** Video being read, and how many more of its frames may be sent. */
let current: { id: number; credit: number } | undefined;
let wake: (() => void) | undefined;

const send = (message: FromVideoReader): void => {
  process.send?.(message);
};

async function read(message: Extract<ToVideoReader, { type: 'read' }>): Promise<void> {
  const video = { id: message.id, credit: message.credit };
  current = video;
  /** First sampled frame after the last one sent. */
  let next = 0;
  try {
    for await (const record of readVideo(message.path, message.every, message.encoding)) {
      while (video.credit <= 0) await new Promise<void>((resolve) => (wake = resolve));
      video.credit--;
      const { bytes, ...rest } = record;
      send({ type: 'frame', id: video.id, ...rest, ...(bytes !== undefined ? { bytes } : {}) });
      if (record.frame !== undefined) next = record.frame + message.every;
    }
  } catch (err) {
    // The binding threw (it does not for bad data, which reads as empty frames): the rest of the video is lost, not the batch.
    send({ type: 'frame', id: video.id, frame: next, error: `reading the video failed at frame ${next}: ${(err as Error).message}; the rest of the video is not read` });
  }
  current = undefined;
  send({ type: 'end', id: video.id });
}

process.on('message', (message: ToVideoReader) => {
  if (message.type === 'read') {
    void read(message);
  } else if (message.type === 'count') {
    void announcedFrames(message.path).then((frames) => {
      send({ type: 'counted', id: message.id, ...(frames === undefined ? {} : { frames }) });
    });
  } else if (message.id === current?.id) {
    current.credit += message.frames;
    wake?.();
  }
});
// The master is gone (or done with us): nothing else to do.
process.on('disconnect', () => process.exit(0));
// A terminal's Ctrl-C reaches this process too (it is in the master's process group); the
// master ends its readers as it stops.
process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => undefined);
process.on('SIGHUP', () => undefined);
