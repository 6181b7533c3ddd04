import type { DetectorConfig } from '../../proto/detector-config.js';
import type { TaskKind } from '../../proto/task-kinds.js';
import type { PoolOutcome } from './pool.js';

/** One task of a {@link ChildRunRequest}. */
export interface ChildTaskRef {
  taskId: number;
  attempt: number;
  kind: TaskKind;
}

/**
 * Parent -> worker process: run these tasks of one image, in order, answering each with a
 * {@link ChildDone} as it finishes. One request per image, not per task: the worker goes
 * from one task to the next without waiting for the parent (measured: 4 IPC round trips
 * per image left each worker idle ~0.5% of the time). A request that arrives while another
 * runs waits for it: requests run in the order they arrive.
 *
 * `bytes` arrives as a Uint8Array (structured clone); it is left out when the parent
 * knows the worker holds that image already, which saves an IPC copy. A worker that does
 * not hold it after all runs nothing and answers {@link ChildCacheMiss}; the parent then
 * sends the same request with the bytes.
 */
export interface ChildRunRequest {
  type: 'run';
  /** The pool's number for this request (increasing), named by a {@link ChildDropRequest}. */
  seq: number;
  imageId: number;
  bytes?: Uint8Array;
  config: DetectorConfig;
  /** Largest image accepted, px. */
  maxImagePixels: number;
  /** At least one. */
  tasks: ChildTaskRef[];
}

/**
 * Parent -> worker process: do not run these tasks of request `seq` (the pool gave them to
 * another worker). Tasks that already started, and a request already finished, are not
 * affected: their outcomes still come. A worker busy in native code reads this only when
 * its task ends, which is the point: the tasks waited behind a task far overdue.
 */
export interface ChildDropRequest {
  type: 'drop';
  seq: number;
  taskIds: number[];
}

/** Any message to a worker process. */
export type ChildRequest = ChildRunRequest | ChildDropRequest;

/** Worker process -> parent: ready after OpenCV loaded. */
export interface ChildReady {
  type: 'ready';
  /** The OpenCV version the worker loaded, `major.minor.revision`. */
  opencv: string;
}

/** Worker process -> parent: a task's outcome. */
export interface ChildDone {
  type: 'done';
  /** Its `computeMs` is the task's CPU time (slave/pool/child-main.ts). */
  outcome: PoolOutcome;
  /** The task's wall time on the worker, ms, the decode included where it decoded: the pool's timers compare with it. */
  wallMs: number;
}

/** Worker process -> parent: a request without bytes named an image the worker does not hold; nothing was run. */
export interface ChildCacheMiss {
  type: 'miss';
  imageId: number;
}

/** Any message from a worker process. */
export type ChildMessage = ChildReady | ChildDone | ChildCacheMiss;

/** Decoded images a worker keeps (the current one and the one before). */
export const WORKER_CACHE_SIZE = 2;
