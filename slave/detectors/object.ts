import type { DetectorConfig } from '../../proto/detector-config.js';
import type { ScoredBox } from '../../proto/messages.js';
import type { PreparedImage } from '../vision/decode.js';
import { cv } from '../../shared/opencv.js';

let hog: InstanceType<typeof cv.HOGDescriptor> | undefined;

/**
 * People detection with OpenCV's default HOG + linear SVM people detector
 * (Dalal & Triggs 2005; `HOGDescriptor::getDefaultPeopleDetector`, 64x128 window),
 * run on the colour image as the Python peers do (`hog.detectMultiScale(img, ...)`).
 * Every parameter is passed explicitly: the binding's defaults may differ from OpenCV's.
 *
 * @returns boxes in px with their SVM scores, in OpenCV's order
 */
export function detectObjects(image: PreparedImage, config: DetectorConfig['object']): { count: number; boxes: ScoredBox[] } {
  if (hog === undefined) {
    hog = new cv.HOGDescriptor();
    hog.setSVMDetector(cv.HOGDescriptor.getDefaultPeopleDetector());
  }
  const stride = new cv.Size(config.winStridePx, config.winStridePx);
  const padding = new cv.Size(config.paddingPx, config.paddingPx);
  const found = hog.detectMultiScale(image.colour, config.hitThreshold, stride, padding, config.scale, config.groupThreshold, false);
  const boxes = found.foundLocations.map((r, i) => ({
    x: r.x,
    y: r.y,
    width: r.width,
    height: r.height,
    score: round4(found.foundWeights[i] ?? 0),
  }));
  return { count: boxes.length, boxes };
}

function round4(n: number): number {
  return Math.round(n * 1e4) / 1e4;
}
