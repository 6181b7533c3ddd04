import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cv } from '../../shared/opencv.js';

/**
 * The workload of `../shared/PEERS.md`: `count` frames of the video, every `every`-th from
 * frame 0, encoded as JPEG quality 90, written as `frame-NNNN.jpg` into `dir`.
 *
 * @returns the JPEG bytes in frame order, and the total encoded size in bytes
 */
export function prepareFrames(video: string, count: number, every: number, dir: string): { frames: Buffer[]; names: string[]; totalBytes: number } {
  mkdirSync(dir, { recursive: true });
  const cap = new cv.VideoCapture(video);
  const frames: Buffer[] = [];
  const names: string[] = [];
  let totalBytes = 0;
  for (let i = 0; frames.length < count; i++) {
    const frame = cap.read();
    if (frame.empty) throw new Error(`${video} has only ${i} frames; the benchmark needs ${count} every ${every}`);
    if (i % every !== 0) continue;
    const bytes = cv.imencode('.jpg', frame, [cv.IMWRITE_JPEG_QUALITY, 90]);
    const name = `frame-${String(i).padStart(4, '0')}.jpg`;
    writeFileSync(join(dir, name), bytes);
    frames.push(bytes);
    names.push(name);
    totalBytes += bytes.length;
  }
  cap.release();
  return { frames, names, totalBytes };
}
