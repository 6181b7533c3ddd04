import { Counter, Registry } from 'prom-client';
import { FastCounter, FastHistogram, type FastIncrementer, type FastObserver } from '../shared/fast-metrics.js';
import type { TaskKind } from '../proto/task-kinds.js';
import { COMPUTE_BUCKETS_S, collectProcessMetrics } from '../shared/metrics-server.js';
import type { BatchStats } from './stats.js';
import { readCounter, readGauge } from '../shared/metrics-readers.js';

/** Buckets of queue-to-result time, s: up to the default lease (120 s) and beyond. */
export const END_TO_END_BUCKETS_S = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

/**
 * Why the master dropped a message (`reason` label of `cctv_messages_dropped_total`):
 * `unknown_slave` (RESULT, FAIL or HEARTBEAT before READY), `unknown_task`, `not_holder`
 * (an answer from a slave the task was not sent to), `kind_mismatch` (an answer naming
 * another kind than its task's), `id_mismatch` (READY naming another
 * slave), `unexpected_command` (TASK sent to the master), `version_mismatch` (a peer of
 * another protocol version). Other messages that fail to decode carry their
 * {@link ProtocolError} reason instead.
 */
export type DropReason = (typeof DROP_REASONS)[number];

/** The master's own {@link DropReason}s, plus `version_mismatch`; their series start at 0. */
const DROP_REASONS = ['unknown_slave', 'unknown_task', 'not_holder', 'kind_mismatch', 'id_mismatch', 'unexpected_command', 'version_mismatch'] as const;

/** What the master's gauges and totals are read from at scrape time (structural, so tests can fake them). */
export interface MasterMetricsSources {
  /** The batch's counters (mirrored, never changed). */
  stats: BatchStats;
  /** The task table: pending tasks and images in memory. */
  table: { readonly pendingCount: number; readonly imageCount: number };
  /** The live slaves, with the tasks each holds and its worker count. */
  slaves: { readonly size: number; all(): readonly { readonly capacity: number; readonly inFlight: { readonly size: number } }[] };
  /** The ROUTER socket, once bound: bytes on the wire. */
  router: () => { readonly bytesSent: number; readonly bytesReceived: number } | undefined;
}

interface KindSeries {
  done: FastIncrementer;
  failed: FastIncrementer;
  retried: FastIncrementer;
  compute: FastObserver;
  endToEnd: FastObserver;
}

/**
 * The master's Prometheus metrics, in a registry of its own (`cctv_` prefix, base units).
 * Per-task series are updated through hooks the {@link Master} calls where it updates its
 * {@link BatchStats} ({@link MasterMetrics.taskDone} and friends; label children are cached
 * per kind and are {@link FastCounter}/{@link FastHistogram}s, so a hook is a few additions). Plain totals and gauges are read from the batch's
 * own state when scraped, so they always equal the report's figures and cost nothing per task.
 */
export class MasterMetrics {
  /** This master's registry (prom-client's global registry is never used). */
  readonly registry = new Registry();
  private readonly tasks: FastCounter;
  private readonly compute: FastHistogram;
  private readonly endToEnd: FastHistogram;
  private readonly dropped: Counter<'reason'>;
  private readonly byKind = new Map<TaskKind, KindSeries>();
  private readonly droppedBy = new Map<string, Counter.Internal>();
  private defaultsOn = false;

  /**
   * @param kinds - the batch's task kinds: their series start at 0, so rates work from the start
   */
  constructor(kinds: readonly TaskKind[], sources: MasterMetricsSources) {
    const registers = [this.registry];
    const { stats, table, slaves, router } = sources;
    this.tasks = new FastCounter({ name: 'cctv_tasks_total', help: 'Tasks by kind and outcome: done, failed (for good, after the last attempt) or retried (an attempt put back in the queue).', labelNames: ['kind', 'outcome'], registers });
    this.compute = new FastHistogram({ name: 'cctv_task_compute_seconds', help: 'Compute time (CPU time on the worker) of successful tasks on the slave (decode included once per image), by kind.', labelName: 'kind', buckets: COMPUTE_BUCKETS_S, registers });
    this.endToEnd = new FastHistogram({ name: 'cctv_task_end_to_end_seconds', help: 'Time from queueing a task to accepting its result (waits and retries included), by kind.', labelName: 'kind', buckets: END_TO_END_BUCKETS_S, registers });
    this.dropped = new Counter({ name: 'cctv_messages_dropped_total', help: 'Messages from slaves dropped as malformed, unknown or not allowed, by reason.', labelNames: ['reason'], registers });
    for (const k of kinds) this.series(k);
    for (const r of DROP_REASONS) this.messageDropped(r, 0);

    const total = (name: string, help: string, read: () => number): void => {
      readCounter(registers, name, help, read);
    };
    total('cctv_images_done_total', 'Images and video frames recorded in the results file (ok or not).', () => stats.imagesDone);
    total('cctv_images_failed_total', 'Images recorded with at least one failed task.', () => stats.imagesFailed);
    total('cctv_leases_expired_total', 'Task leases that ran out (the task is retried or fails).', () => stats.leasesExpired);
    total('cctv_leases_given_back_total', 'Of the leases that ran out, those of tasks not yet started (queued on their slave): given back without using an attempt.', () => stats.leasesGivenBack);
    total('cctv_slaves_lost_total', 'Slaves lost: heartbeats stopped, their connection closed (a send failed), or their local process ended.', () => stats.slavesLost);
    total('cctv_backup_tasks_total', 'Backup copies of in-flight tasks sent to idle slaves at the end of a batch (MapReduce section 3.6).', () => stats.backupTasks);
    total('cctv_duplicates_dropped_total', 'Results or failures for tasks already finished, dropped.', () => stats.duplicatesDropped);
    total('cctv_handshakes_refused_total', 'CURVE handshakes refused (key not allow-listed, no CURVE, wrong master key).', () => stats.handshakesRefused);
    total('cctv_image_bytes_read_total', 'Encoded image bytes read from the inputs.', () => stats.imageBytesRead);
    total('cctv_image_bytes_sent_total', 'Encoded image bytes put in TASK messages (retries count again).', () => stats.imageBytesSent);
    total('cctv_bytes_sent_total', 'Bytes the master sent on its socket, all message parts.', () => router()?.bytesSent ?? 0);
    total('cctv_bytes_received_total', 'Bytes the master received on its socket, all message parts.', () => router()?.bytesReceived ?? 0);

    const gauge = (name: string, help: string, read: () => number): void => {
      readGauge(registers, name, help, read);
    };
    gauge('cctv_pending_tasks', 'Tasks waiting for a slave (queue depth).', () => table.pendingCount);
    gauge('cctv_in_flight_tasks', 'Tasks sent to slaves and not yet answered.', () => slaves.all().reduce((n, s) => n + s.inFlight.size, 0));
    gauge('cctv_connected_slaves', 'Slaves connected (sent READY, heartbeats on time).', () => slaves.size);
    gauge('cctv_connected_workers', 'Worker processes of the connected slaves (tasks they run at once).', () => slaves.all().reduce((n, s) => n + s.capacity, 0));
    gauge('cctv_images_in_memory', 'Images loaded and not yet recorded (the --window).', () => table.imageCount);
  }

  /**
   * Adds the process metrics of prom-client (CPU, memory, event-loop lag, GC, handles),
   * prefixed `cctv_`. Idempotent. Only worth it when the registry is served.
   */
  collectDefaults(): void {
    if (this.defaultsOn) return;
    this.defaultsOn = true;
    collectProcessMetrics(this.registry);
  }

  /** A task's result was accepted: compute and queue-to-result times in ms (as the report's). */
  taskDone(kind: TaskKind, computeMs: number, endToEndMs: number): void {
    const s = this.series(kind);
    s.done.inc();
    s.compute.observe(computeMs / 1000);
    s.endToEnd.observe(endToEndMs / 1000);
  }

  /** A failed attempt of a `kind` task was put back in the queue. */
  taskRetried(kind: TaskKind): void {
    this.series(kind).retried.inc();
  }

  /** An image was recorded: counts its tasks that failed for good. */
  imageRecorded(image: { readonly kinds: readonly TaskKind[]; readonly outcomes: readonly ({ readonly ok: boolean } | undefined)[] }): void {
    // A loop, not forEach: no closure per image.
    for (let slot = 0; slot < image.outcomes.length; slot++) {
      const kind = image.kinds[slot];
      if (image.outcomes[slot]?.ok === false && kind !== undefined) this.series(kind).failed.inc();
    }
  }

  /**
   * `count` messages from slaves were dropped (default 1): `reason` is a {@link DropReason}
   * or a {@link ProtocolError} reason (`empty`, `header_too_large`, `bad_msgpack`,
   * `bad_header`, `invalid`); a bounded set, never peer data.
   */
  messageDropped(reason: string, count = 1): void {
    let c = this.droppedBy.get(reason);
    if (c === undefined) {
      c = this.dropped.labels(reason);
      this.droppedBy.set(reason, c);
    }
    c.inc(count);
  }

  private series(kind: TaskKind): KindSeries {
    let s = this.byKind.get(kind);
    if (s === undefined) {
      s = {
        done: this.tasks.child(kind, 'done'),
        failed: this.tasks.child(kind, 'failed'),
        retried: this.tasks.child(kind, 'retried'),
        compute: this.compute.child(kind),
        endToEnd: this.endToEnd.child(kind),
      };
      this.byKind.set(kind, s);
    }
    return s;
  }
}
