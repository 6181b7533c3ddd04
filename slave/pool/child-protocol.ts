import type { DetectorConfig } from '../../proto/detector-config.js';
import type { TaskKind } from '../../proto/task-kinds.js';
import type { PoolOutcome } from './pool.js';

/** Parent -> worker process: run one task. `bytes` arrives as a Uint8Array (structured clone). */
export interface ChildRunRequest {
  type: 'run';
  taskId: number;
  attempt: number;
  kind: TaskKind;
  imageId: number;
  bytes: Uint8Array;
  config: DetectorConfig;
  /** Largest image accepted, px. */
  maxImagePixels: number;
}

/** Worker process -> parent: ready after OpenCV loaded. */
export interface ChildReady {
  type: 'ready';
  opencv: string;
}

/** Worker process -> parent: a task's outcome. */
export interface ChildDone {
  type: 'done';
  outcome: PoolOutcome;
}

/** Any message from a worker process. */
export type ChildMessage = ChildReady | ChildDone;
