import type { DetectorConfig } from '../../proto/detector-config.js';
import type { TaskValue } from '../../proto/messages.js';
import type { TaskKind } from '../../proto/task-kinds.js';
import type { WireError } from '../../shared/errors.js';

/** One task for the pool: run detector `kind` on the encoded image `bytes`. */
export interface PoolJob {
  taskId: number;
  /** The attempt the master sent it as; updated when the master sends it again unstarted. */
  attempt: number;
  kind: TaskKind;
  /** Image id; jobs with the same id share one decode on a worker. */
  imageId: number;
  /** Encoded image bytes (JPEG, PNG, ...). */
  bytes: Buffer;
  /** Detector parameters of the TASK it came in. */
  config: DetectorConfig;
}

/** Fields every outcome carries. */
interface OutcomeBase {
  taskId: number;
  attempt: number;
  kind: TaskKind;
  /** CPU time of this task on its worker, ms, including the decode when this task did it (`child-main.ts`); 0 for a task refused without running. */
  computeMs: number;
}

/** A task that completed. */
export interface PoolSuccess extends OutcomeBase {
  ok: true;
  /** Image size, px. */
  width: number;
  height: number;
  value: TaskValue['value'];
}

/** A task that failed; `error.retryable` says whether another attempt may succeed. */
export interface PoolFailure extends OutcomeBase {
  ok: false;
  error: WireError;
}

/** What became of one {@link PoolJob}. */
export type PoolOutcome = PoolSuccess | PoolFailure;

/**
 * A slave's set of workers (execution slots). Implementations run at most `size` jobs at
 * once and queue the rest; `run` never rejects: every failure is a {@link PoolFailure}.
 */
export interface Pool {
  /** Number of workers (jobs run at once). */
  readonly size: number;
  /** Workers busy right now. */
  readonly busy: number;
  /** OpenCV version the workers loaded, once started. */
  readonly opencvVersion: string;
  /** Jobs waiting for a worker. */
  readonly queued: number;
  /** Jobs taken back, unstarted, from a worker for another (work stealing, or sent again by the master), so far. */
  readonly reclaims: number;
  /** Copies of stuck running jobs started on idle workers (the first copy to finish answers), so far. */
  readonly copies: number;
  /** Memory the images running at once may take, bytes (Infinity: no limit); known once started. */
  readonly memoryBudgetBytes: number;
  /** Memory the images on the workers now are estimated to take, bytes. */
  readonly reservedBytes: number;
  /** Times a worker was left idle because the next image's memory did not fit the budget, so far. */
  readonly memoryWaits: number;
  /** The job each busy worker is running now (the same objects given to {@link Pool.run}). */
  running(): PoolJob[];
  /** Starts the workers; resolves when all are ready. */
  start(): Promise<void>;
  /** Queues one job; resolves with its outcome. */
  run(job: PoolJob): Promise<PoolOutcome>;
  /**
   * The job of task `taskId` that has not started here, if any: waiting for a worker, or
   * handed to a worker behind the job it runs (then it is taken back into the queue, for
   * the next free worker). The master sent that task again (its lease ran out while it
   * waited here), and the caller gives this job the new attempt rather than queueing a
   * second copy.
   *
   * @param accept - only a job it accepts is found (and taken back); default: any
   */
  queuedJob(taskId: number, accept?: (job: PoolJob) => boolean): PoolJob | undefined;
  /** Drops the jobs waiting for a worker, each resolving as a retryable failure; returns how many. */
  cancelQueued(): number;
  /** Stops every worker; queued and running jobs resolve as retryable failures. */
  close(): Promise<void>;
}
