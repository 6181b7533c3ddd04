import { existsSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import type { DetectorConfig } from '../../proto/detector-config.js';
import type { BoundingBox } from '../../proto/messages.js';
import { DetectorError, errorMessage } from '../../shared/errors.js';
import type { PreparedImage } from '../vision/decode.js';
import { cv } from '../../shared/opencv.js';

/**
 * Folders searched for a cascade given by file name: `$CCTV_CASCADE_DIR` first, then where
 * Debian's `opencv-data` (and OpenCV's own install) put them.
 */
export const CASCADE_DIRS: readonly string[] = [
  ...(process.env['CCTV_CASCADE_DIR'] ? [process.env['CCTV_CASCADE_DIR']] : []),
  '/usr/share/opencv4/haarcascades',
  '/usr/share/opencv4/lbpcascades',
  '/usr/local/share/opencv4/haarcascades',
  '/usr/share/opencv/haarcascades',
];

const classifiers = new Map<string, InstanceType<typeof cv.CascadeClassifier>>();

/**
 * Resolves a cascade name to a file path.
 *
 * @throws {@link DetectorError} when no folder in {@link CASCADE_DIRS} holds it
 */
export function resolveCascade(name: string): string {
  if (isAbsolute(name)) {
    if (existsSync(name)) return name;
  } else {
    for (const dir of CASCADE_DIRS) {
      const p = join(dir, name);
      if (existsSync(p)) return p;
    }
  }
  throw new DetectorError(`face cascade ${name} not found in ${CASCADE_DIRS.join(', ')} (install Debian's opencv-data)`);
}

/**
 * Face detection with a Viola-Jones cascade (OpenCV `CascadeClassifier::detectMultiScale`),
 * on `equalizeHist(grey)` when configured, as in OpenCV's `facedetect` sample; flags 0
 * (unused by current cascades) and no largest size, OpenCV's defaults.
 *
 * @returns face boxes in px
 * @throws {@link DetectorError} when the cascade cannot be found or loaded
 */
export function detectFaces(image: PreparedImage, config: DetectorConfig['face']): { count: number; boxes: BoundingBox[] } {
  let classifier = classifiers.get(config.cascade);
  if (classifier === undefined) {
    const path = resolveCascade(config.cascade);
    try {
      classifier = new cv.CascadeClassifier(path);
    } catch (err) {
      throw new DetectorError(`face cascade ${path} could not be loaded: ${errorMessage(err)}`, { cause: err });
    }
    classifiers.set(config.cascade, classifier);
  }
  const input = config.equalizeHist ? image.equalizedGrey() : image.grey;
  const minSize = new cv.Size(config.minSizePx, config.minSizePx);
  const found = classifier.detectMultiScale(input, config.scaleFactor, config.minNeighbors, 0, minSize, new cv.Size(0, 0));
  const boxes = found.objects.map((r) => ({ x: r.x, y: r.y, width: r.width, height: r.height }));
  return { count: boxes.length, boxes };
}
