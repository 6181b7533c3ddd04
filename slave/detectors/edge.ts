import type { DetectorConfig } from '../../proto/detector-config.js';
import type { PreparedImage } from '../vision/decode.js';
import { cv } from '../../shared/opencv.js';

/**
 * Canny edges (Canny 1986) on the grey image blurred with a Gaussian. The border is
 * passed as `BORDER_REFLECT_101`, OpenCV's default: the binding's `gaussianBlur` default
 * is `BORDER_CONSTANT`, which finds different edges (measured in the team's DESIGN.md,
 * outside this repository).
 * Canny uses aperture 3 and the L1 gradient, OpenCV's defaults.
 *
 * @returns count of edge pixels and their share of all pixels (0..1)
 */
export function detectEdges(image: PreparedImage, config: DetectorConfig['edge']): { edgePixels: number; density: number } {
  const k = new cv.Size(config.blurKernelPx, config.blurKernelPx);
  const blurred = image.grey.gaussianBlur(k, config.blurSigma, config.blurSigma, cv.BORDER_REFLECT_101);
  const edges = blurred.canny(config.lowThreshold, config.highThreshold, 3, false);
  const edgePixels = edges.countNonZero();
  // Freed now rather than when V8 collects them (see PreparedImage).
  blurred.release();
  edges.release();
  const total = image.width * image.height;
  return { edgePixels, density: total === 0 ? 0 : Math.round((edgePixels / total) * 1e6) / 1e6 };
}
