import type { DetectorConfig } from '../../proto/detector-config.js';
import type { TaskKind } from '../../proto/task-kinds.js';
import type { PoolOutcome } from './pool.js';

/**
 * Parent -> worker process: run one task. `bytes` arrives as a Uint8Array (structured
 * clone); it is left out when the parent knows the worker holds that image already (the
 * other tasks of an image), which saves an IPC copy per task. A worker that does not hold
 * it after all answers with a {@link CACHE_MISS} failure and the parent sends the bytes.
 */
export interface ChildRunRequest {
  type: 'run';
  taskId: number;
  attempt: number;
  kind: TaskKind;
  imageId: number;
  bytes?: Uint8Array;
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

/** Error name a worker answers with when a request without bytes names an image it does not hold. */
export const CACHE_MISS = 'WorkerCacheMiss';

/** Decoded images a worker keeps (the current one and the one before). */
export const WORKER_CACHE_SIZE = 2;
