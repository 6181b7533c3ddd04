import { copyFileSync, mkdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { readVideo } from '../../master/ingest/video-read.js';
import { readReport } from '../helpers/fixtures.js';
import { startMaster, waitExit } from '../helpers/processes.js';

/** One way of reading the videos, and how fast images came out of it. */
export interface VideoIngestRun {
  /** `sequential` (one process, one video after another), or the master with this many video readers. */
  readers: 'sequential' | number;
  images: number;
  imagesPerSecond: number;
}

/** Sampling step of the video ingest part: the throughput part's (every 3rd frame). */
export const VIDEO_INGEST_EVERY = 3;

/**
 * Video ingest: how fast the master turns videos into images for the slaves. `copies`
 * copies of `video` at every {@link VIDEO_INGEST_EVERY}rd frame, JPEG quality 90, read
 *
 * - sequentially in this process, one video after another ({@link readVideo}): what the
 *   master did on its own thread before its video readers, the baseline;
 * - by `master run --tasks noop` (1 local slave x 1 worker, no detection) with
 *   `--video-readers 1`, and with one reader a core (at most `copies`, at most 4).
 *
 * images/s of the master runs is the report's (from the first slave's READY).
 *
 * @throws Error when a master run fails or a run's image count differs from the baseline's
 */
export async function measureVideoIngest(video: string, copies: number, root: string): Promise<VideoIngestRun[]> {
  mkdirSync(root, { recursive: true });
  const videos = Array.from({ length: copies }, (_, i) => {
    const path = join(root, `cam${i + 1}.avi`);
    copyFileSync(video, path);
    return path;
  });
  const runs: VideoIngestRun[] = [];
  // Loaded before the clock starts, as in a reader process before its first video.
  await import('../../shared/opencv.js');
  const t0 = performance.now();
  let images = 0;
  for (const path of videos) {
    for await (const record of readVideo(path, VIDEO_INGEST_EVERY, { format: 'jpg', jpegQuality: 90 })) {
      if (record.bytes !== undefined) images++;
    }
  }
  runs.push({ readers: 'sequential', images, imagesPerSecond: (images * 1000) / (performance.now() - t0) });
  const most = Math.min(copies, 4, availableParallelism());
  for (const readers of most > 1 ? [1, most] : [1]) {
    const out = join(root, `readers-${readers}.jsonl`);
    const m = startMaster(['run', ...videos, '--every', String(VIDEO_INGEST_EVERY), '--jpeg-quality', '90', '--tasks', 'noop', '--video-readers', String(readers), '--local-slaves', '1', '--local-threads', '1', '--bind', 'tcp://127.0.0.1:*', '--out', out, '--overwrite', '--progress', 'none', '--log-level', 'warn', '--metrics-port', '0']);
    const code = await waitExit(m, 600_000);
    if (code !== 0) throw new Error(`master exited ${String(code)}: ${m.stderr().slice(-2000)}`);
    const report = readReport(`${out}.report.json`);
    if (report.images !== images) throw new Error(`the master with ${readers} reader(s) made ${report.images} images of the videos, the sequential reading ${images}`);
    runs.push({ readers, images: report.images, imagesPerSecond: report.imagesPerSecond });
  }
  return runs;
}
