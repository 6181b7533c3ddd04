import type { DetectorConfig } from '../../proto/detector-config.js';
import type { Point } from '../../proto/messages.js';
import type { PreparedImage } from '../vision/decode.js';

/**
 * Shi-Tomasi corners (Shi & Tomasi 1994; OpenCV `goodFeaturesToTrack` without Harris),
 * with gradient size 3 and no mask, OpenCV's defaults.
 *
 * @returns corner points in px, strongest first
 */
export function detectCorners(image: PreparedImage, config: DetectorConfig['corner']): { count: number; points: Point[] } {
  const found = image.grey.goodFeaturesToTrack(
    config.maxCorners,
    config.qualityLevel,
    config.minDistancePx,
    undefined,
    config.blockSize,
    3,
    false,
    0.04,
  );
  const points = found.map((p) => ({ x: p.x, y: p.y }));
  return { count: points.length, points };
}
