import type { DetectorConfig } from '../../proto/detector-config.js';
import type { ScoredBox } from '../../proto/messages.js';
import type { PreparedImage } from '../vision/decode.js';
import { cv } from '../../shared/opencv.js';

let hog: InstanceType<typeof cv.HOGDescriptor> | undefined;
/** The default people detector's window, px (Dalal & Triggs 2005). */
const WIN_WIDTH_PX = 64;
const WIN_HEIGHT_PX = 128;

/**
 * People detection with OpenCV's default HOG + linear SVM people detector
 * (Dalal & Triggs 2005; `HOGDescriptor::getDefaultPeopleDetector`, 64x128 window),
 * run on the grey image (on 200 vtest.avi frames this finds the 637 boxes the Python peers of
 * PEERS.md find; the colour image finds 603).
 * Every parameter is passed explicitly: the binding's defaults may differ from OpenCV's.
 *
 * @returns boxes in px with their SVM scores, in OpenCV's order
 */
export function detectObjects(image: PreparedImage, config: DetectorConfig['object']): { count: number; boxes: ScoredBox[] } {
  if (hog === undefined) {
    // OpenCV's default HOG parameters, all passed: the binding's no-argument constructor
    // turns gammaCorrection off (OpenCV's default is on), which finds other people.
    hog = new cv.HOGDescriptor({
      winSize: new cv.Size(WIN_WIDTH_PX, WIN_HEIGHT_PX),
      blockSize: new cv.Size(16, 16),
      blockStride: new cv.Size(8, 8),
      cellSize: new cv.Size(8, 8),
      nbins: 9,
      derivAperture: 1,
      winSigma: -1,
      // The binding takes the norm type by name here, despite its typings.
      histogramNormType: 'L2Hys' as unknown as number,
      L2HysThreshold: 0.2,
      gammaCorrection: true,
      nlevels: 64,
      signedGradient: false,
    });
    hog.setSVMDetector(cv.HOGDescriptor.getDefaultPeopleDetector());
  }
  // No 64x128 window fits in the padded image, so there is nothing to find; OpenCV 4.6
  // still runs one pyramid level and the worker dies with SIGSEGV (seen on 80x60 thumbnails).
  if (image.grey.cols + 2 * config.paddingPx < WIN_WIDTH_PX || image.grey.rows + 2 * config.paddingPx < WIN_HEIGHT_PX) {
    return { count: 0, boxes: [] };
  }
  const stride = new cv.Size(config.winStridePx, config.winStridePx);
  const padding = new cv.Size(config.paddingPx, config.paddingPx);
  const found = hog.detectMultiScale(image.grey, config.hitThreshold, stride, padding, config.scale, config.groupThreshold, false);
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
