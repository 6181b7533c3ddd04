import type { TaskKind } from '../proto/task-kinds.js';

/** Most samples kept per series; beyond that a uniform reservoir sample (Vitter's algorithm R). */
const RESERVOIR_SIZE = 20_000;

/** Count, sum, max and a bounded sample of one latency series, ms. */
export class Series {
  count = 0;
  /** Sum of every value, ms. */
  sum = 0;
  /** Largest value, ms. */
  max = 0;
  private readonly samples: number[] = [];

  add(ms: number): void {
    this.count++;
    this.sum += ms;
    if (ms > this.max) this.max = ms;
    if (this.samples.length < RESERVOIR_SIZE) this.samples.push(ms);
    else {
      const j = Math.floor(Math.random() * this.count);
      if (j < RESERVOIR_SIZE) this.samples[j] = ms;
    }
  }

  /** Mean of every value (not just the sample), ms; 0 when empty. */
  get mean(): number {
    return this.count === 0 ? 0 : this.sum / this.count;
  }

  /** Nearest-rank percentile of the sample, `p` in 0..100. */
  percentile(p: number): number {
    if (this.samples.length === 0) return 0;
    // A typed array sorts numerically in C++; a comparator boxed a double per comparison
    // (~5 MB of garbage for 20,000 samples).
    const sorted = Float64Array.from(this.samples).sort();
    const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
    return sorted[rank] ?? 0;
  }
}

/** Counters of one batch, for the report. */
export class BatchStats {
  /** Images and video frames recorded in the results file. */
  imagesDone = 0;
  /** Of {@link imagesDone}, those recorded with a failed task. */
  imagesFailed = 0;
  /** Of {@link imagesDone}, those with a task a slave answered (not those failed at the master: unreadable, empty, too large). */
  imagesRun = 0;
  /** Images skipped because a resumed results file already had them. */
  imagesResumed = 0;
  /** Of those, images recorded with a failed task. */
  imagesResumedFailed = 0;
  /**
   * Successful tasks of the images recorded, counted when an image is recorded as
   * {@link tasksFailed} is: a task done for an image that was not recorded when the batch
   * stopped runs again on `--resume` and is not counted here (it is in {@link compute}).
   */
  tasksDone = 0;
  /** Failed tasks of the images recorded. */
  tasksFailed = 0;
  /** Attempts put back in the queue after a retryable failure, expired lease or dead slave. */
  retries = 0;
  /** Of those, the tasks of slaves that left, were lost or reconnected, put back without using an attempt. */
  retriesAfterSlaveLoss = 0;
  /** Leases that ran out. */
  leasesExpired = 0;
  /** Of those, leases of tasks that had not started (queued on their slave, or held by a slave that never answered): given back, no attempt used. */
  leasesGivenBack = 0;
  /** Slaves lost: declared dead (heartbeats stopped), their connection gone (a send failed), or their local process ended. */
  slavesLost = 0;
  /** Backup copies of in-flight tasks sent to idle slaves at the end of the batch (MapReduce §3.6). */
  backupTasks = 0;
  /** Tasks whose backup copy answered first. */
  backupsWon = 0;
  /** Results for tasks already done (late or duplicate), dropped. */
  duplicatesDropped = 0;
  /** Messages dropped: malformed, from a peer that is not a slave, or answering tasks not sent to that slave (once per message, however many answers it holds). */
  messagesDropped = 0;
  /** CURVE handshakes refused (key not allow-listed, no CURVE, wrong master key); a refused peer may retry and count again. */
  handshakesRefused = 0;
  /** Encoded image bytes read from the inputs. */
  imageBytesRead = 0;
  /** Encoded image bytes put on the wire in TASK messages (retries and splits count again). */
  imageBytesSent = 0;
  /** Compute time per kind, ms. */
  readonly compute = new Map<TaskKind, Series>();
  /** Time from queueing a task to its last lease (the one that succeeded, or a later one), ms. */
  readonly queueWait = new Series();
  /** Queue-to-result latency per kind, ms. */
  readonly endToEnd = new Map<TaskKind, Series>();

  /** Records one successful task's times (its count goes into {@link tasksDone} when its image is recorded). */
  addTask(kind: TaskKind, computeMs: number, latencyMs: number): void {
    seriesOf(this.compute, kind).add(computeMs);
    seriesOf(this.endToEnd, kind).add(latencyMs);
  }
}

function seriesOf(map: Map<TaskKind, Series>, kind: TaskKind): Series {
  let s = map.get(kind);
  if (s === undefined) {
    s = new Series();
    map.set(kind, s);
  }
  return s;
}
