import type { DetectorConfig } from '../../proto/detector-config.js';
import type { TaskValue } from '../../proto/messages.js';
import type { TaskKind } from '../../proto/task-kinds.js';
import type { PreparedImage } from '../vision/decode.js';
import { detectCorners } from './corner.js';
import { detectEdges } from './edge.js';
import { detectFaces } from './face.js';
import { detectObjects } from './object.js';

/**
 * Runs one detector on a prepared image.
 *
 * @throws {@link DetectorError} (or whatever OpenCV throws) when the detector fails
 */
export function runDetector(kind: TaskKind, image: PreparedImage, config: DetectorConfig): TaskValue {
  switch (kind) {
    case 'object':
      return { kind, value: detectObjects(image, config.object) };
    case 'face':
      return { kind, value: detectFaces(image, config.face) };
    case 'edge':
      return { kind, value: detectEdges(image, config.edge) };
    case 'corner':
      return { kind, value: detectCorners(image, config.corner) };
    case 'noop':
      return { kind, value: {} };
  }
}
