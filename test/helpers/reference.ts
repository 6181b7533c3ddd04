import { expect } from 'chai';
import { videoFrames } from '../../master/ingest/video.js';
import { isKindFailure, type ImageRecord, type KindSuccess } from '../../master/merge.js';
import { DEFAULT_DETECTOR_CONFIG } from '../../proto/detector-config.js';
import type { TaskKind } from '../../proto/task-kinds.js';
import { runDetector } from '../../slave/detectors/index.js';
import { decodeImage } from '../../slave/vision/decode.js';

/** Detector values of one frame, by kind. */
export type FrameValues = Map<TaskKind, unknown>;

const cache = new Map<string, Map<number, FrameValues>>();

/**
 * The fault-free answer: the detectors run sequentially in this process on the same
 * frames the master sends (same sampling, same JPEG encoding). Memoized per (video, every).
 */
export async function referenceRun(video: string, every: number, kinds: readonly TaskKind[]): Promise<Map<number, FrameValues>> {
  const key = `${video}|${every}|${kinds.join(',')}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const out = new Map<number, FrameValues>();
  for await (const item of videoFrames(video, every, { format: 'jpg', jpegQuality: 90 })) {
    const image = decodeImage(await item.load());
    const values: FrameValues = new Map();
    for (const k of kinds) values.set(k, runDetector(k, image, DEFAULT_DETECTOR_CONFIG).value);
    out.set(item.frame ?? -1, values);
  }
  cache.set(key, out);
  return out;
}

/** A kind's value without where/how it ran. */
export function valueOf(entry: unknown): unknown {
  const { computeMs: _computeMs, slave: _slave, attempts: _attempts, ...value } = entry as KindSuccess;
  return value;
}

/**
 * Asserts that a run's records equal the reference: every frame exactly once, every
 * kind present and equal, none missing, none duplicated.
 *
 * @returns the number of (frame, kind) results compared
 */
export function expectSameAsReference(records: readonly ImageRecord[], reference: Map<number, FrameValues>, kinds: readonly TaskKind[]): number {
  const frames = records.map((r) => r.frame ?? -1);
  expect(new Set(frames).size, 'no frame recorded twice').to.equal(frames.length);
  expect([...frames].sort((a, b) => a - b)).to.deep.equal([...reference.keys()].sort((a, b) => a - b));
  let compared = 0;
  for (const r of records) {
    const ref = reference.get(r.frame ?? -1);
    for (const k of kinds) {
      const entry = r[k];
      expect(entry, `frame ${r.frame} ${k}`).to.not.equal(undefined);
      expect(isKindFailure(entry), `frame ${r.frame} ${k}: ${JSON.stringify(entry).slice(0, 200)}`).to.equal(false);
      expect(valueOf(entry), `frame ${r.frame} ${k}`).to.deep.equal(ref?.get(k));
      compared++;
    }
  }
  return compared;
}
