import type { DetectorConfig } from '../../proto/detector-config.js';
import type { Point } from '../../proto/messages.js';
import { cv } from '../../shared/opencv.js';
import type { PreparedImage } from '../vision/decode.js';

// An empty mask means "whole image"; the binding wants a Mat, not undefined.
const NO_MASK = new cv.Mat();

/**
 * Shi-Tomasi corners (Shi & Tomasi 1994; OpenCV `goodFeaturesToTrack` without Harris),
 * with gradient size 3 and no mask, OpenCV's defaults (Harris' `k` 0.04, OpenCV's default
 * too, is passed but unused without Harris).
 *
 * @returns corner points in px, strongest first
 */
export function detectCorners(image: PreparedImage, config: DetectorConfig['corner']): { count: number; points: Point[] } {
  const found = image.grey.goodFeaturesToTrack(
    config.maxCorners,
    config.qualityLevel,
    config.minDistancePx,
    NO_MASK,
    config.blockSize,
    3,
    false,
    0.04,
  );
  const points = found.map((p) => ({ x: p.x, y: p.y }));
  return { count: points.length, points };
}
