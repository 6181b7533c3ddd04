import type { TaskKind } from '../../proto/task-kinds.js';

/** Task kinds this build of the slave can run (kept apart from the detectors so the slave's main process never loads OpenCV). */
export const SUPPORTED_KINDS: readonly TaskKind[] = ['object', 'face', 'edge', 'corner', 'noop'];
