import { hostname, cpus, platform, arch } from 'node:os';
import { randomBytes } from 'node:crypto';
import { Command, NO_SESSION, SLAVE_ID_IN_USE } from '../proto/commands.js';
import { MAX_TASKS_PER_MESSAGE, RECEIPT_BYTES } from '../proto/schema.js';
import type { Message, TaskFailure, TaskMessage, TaskResult, TaskStart } from '../proto/messages.js';
import { ImageTooLargeError, toWireError, type ProtocolError } from '../shared/errors.js';
import { systemClock } from '../shared/clock.js';
import { readPublicKeyFile, readSecretKeyFile } from '../shared/keys.js';
import type { Logger } from '../shared/logger.js';
import { unquotedPrintable } from '../shared/peer-text.js';
import { toMiB } from '../shared/memory.js';
import { Connection, type ConnectionCurve } from './connection.js';
import { SlaveMetrics } from './metrics.js';
import { SUPPORTED_KINDS } from './detectors/kinds.js';
import { ChildPool } from './pool/child-pool.js';
import type { Pool, PoolJob, PoolOutcome } from './pool/pool.js';
import type { SlaveOptions } from './options.js';

/**
 * Longest time an outcome waits for the rest of its image's tasks before it is sent, ms:
 * longer than an image's four tasks take on a PC (~0.5 s for a 768x576 frame), a fifth of
 * the shortest lease the master takes without a warning (5 s), so a hung sibling never
 * costs a held result its lease. It was 5 s: with 5 s leases, a retried task held behind
 * its image's hung first attempts ran out of its lease again and failed for good.
 */
export const RESULT_HOLD_MS = 1000;

/**
 * How long after its READY a slave ignores a DISCONNECT 'no session', ms (at least one
 * heartbeat interval): such a reply crossed the READY, answering an earlier heartbeat. With
 * one interval alone, 10 ms heartbeats let a crossing reply start a second session.
 */
export const NO_SESSION_GRACE_MS = 1000;

/** Counters a slave keeps about its own work. */
export interface SlaveStats {
  /** Successful outcomes queued for the master (noop tasks included). */
  tasksDone: number;
  /** Failed outcomes queued for the master, refusals included (leaving, over this slave's limits). */
  tasksFailed: number;
  /** Messages from the master dropped as malformed, or of a command only a slave sends. */
  messagesRejected: number;
  /** Tasks refused because this slave was leaving (`SlaveLeavingError`). */
  tasksRefused: number;
  /**
   * Outcomes dropped because the session with the master that sent their tasks had ended
   * (it said DISCONNECT, or this slave reconnected), and queued tasks dropped unstarted then.
   */
  staleDropped: number;
}

/**
 * A slave process: a {@link Connection} to the master and a {@link Pool} of workers.
 * It announces `capacity` (workers) and `prefetch` in READY, runs each TASK's tasks on
 * the pool, and answers with RESULT and FAIL messages. An outcome waits (at most
 * {@link RESULT_HOLD_MS}) for the other tasks of its image still running here, so one
 * message carries an image's four results: each message costs wake-ups of both processes
 * and their ZeroMQ I/O threads, taken from the workers on a busy machine.
 */
export class Slave {
  /** This slave's id and ZeroMQ routing id: `--slave-id`, else `HOSTNAME-PID-XXXX` (4 random hex digits). */
  readonly id: string;
  readonly stats: SlaveStats = { tasksDone: 0, tasksFailed: 0, messagesRejected: 0, tasksRefused: 0, staleDropped: 0 };
  /** Prometheus metrics mirroring {@link Slave.stats}; the CLI serves them (`--metrics-port`). */
  readonly metrics: SlaveMetrics;
  private readonly pool: Pool;
  private readonly connection: Connection;
  private results: TaskResult[] = [];
  private failures: TaskFailure[] = [];
  private flushScheduled = false;
  /** Tasks refused as over this slave's image limits, and when that was last logged (ms). */
  private refusedTooLarge = 0;
  private refusedLoggedAtMs = -Infinity;
  /** Tasks still running here, by image id (outcomes of an image wait for its last one). */
  private readonly runningByImage = new Map<number, number>();
  private holdTimer: NodeJS.Timeout | undefined;
  private draining = false;
  /**
   * The current session with a master: a new one begins at every (re)connection and when the
   * master says DISCONNECT. Task ids are only unique within one master's batch, and a master
   * releases a slave's leases when it sends READY again, so an outcome of a task from an
   * earlier session is never sent (it could be taken for another batch's task of the same id).
   */
  private session = 0;
  /** TASK messages received in this session (HEARTBEAT `received`). */
  private taskMessages = 0;
  /** Image bytes received since the count was last said ({@link RECEIPT_BYTES}). */
  private bytesSinceReceipt = 0;
  private inFlight = 0;
  /**
   * Of {@link inFlight}, the tasks of the current session: those whose outcomes will be sent.
   * A graceful stop waits for these only (a stale task's outcome is dropped anyway: waiting
   * for one on a hung worker cost the whole drain timeout for nothing).
   */
  private sessionInFlight = 0;
  private opencv = 'unknown';
  private idleWaiters: (() => void)[] = [];
  /** The session each job was received in (its start is reported only in that session). */
  private readonly jobSession = new WeakMap<PoolJob, number>();
  /** Jobs whose start the master has been told of. */
  private readonly startReported = new WeakSet<PoolJob>();
  private startTimer: NodeJS.Timeout | undefined;
  private rejectedLogAtMs = -Infinity;
  /** When READY was last sent, ms ({@link systemClock}). */
  private readySentAtMs = -Infinity;
  /** This slave's CURVE public key (derived from its secret key file), when CURVE is on. */
  readonly publicKey: string | undefined;
  /** Set when the master refused us for good (protocol version mismatch, or our slave id is another live slave's). */
  fatalError: string | undefined;
  /** Called when the slave must stop on its own (e.g. version mismatch). */
  onFatal: ((reason: string) => void) | undefined;

  /**
   * @throws {@link KeyFileError} when a CURVE key file is missing, unreadable or malformed
   */
  constructor(private readonly options: SlaveOptions, private readonly logger: Logger) {
    this.id = options.slaveId ?? `${hostname()}-${process.pid}-${randomBytes(2).toString('hex')}`;
    let curve: ConnectionCurve | undefined;
    if (options.curveSecretKeyFile !== undefined && options.masterPublicKeyFile !== undefined) {
      const own = readSecretKeyFile(options.curveSecretKeyFile);
      if (own.exposed) logger.warn(`${options.curveSecretKeyFile} is readable by other users: chmod 600 it`);
      curve = { secretKey: own.secretKey, publicKey: own.publicKey, serverKey: readPublicKeyFile(options.masterPublicKeyFile) };
      this.publicKey = own.publicKey;
    }
    this.pool = new ChildPool({
      size: options.threads,
      taskTimeoutMs: options.taskTimeoutMs,
      maxImagePixels: options.maxImagePixels,
      memoryBudgetBytes: options.memoryBudgetMb === undefined ? undefined : options.memoryBudgetMb === 0 ? Infinity : options.memoryBudgetMb * 2 ** 20,
      logger,
    });
    this.metrics = new SlaveMetrics({ stats: this.stats, pool: this.pool });
    this.connection = new Connection({
      endpoint: options.connect,
      slaveId: this.id,
      heartbeatIntervalMs: options.heartbeatIntervalMs,
      heartbeatLiveness: options.heartbeatLiveness,
      reconnectInitialMs: options.reconnectInitialMs,
      reconnectMaxMs: options.reconnectMaxMs,
      maxMessageBytes: options.maxMessageBytes,
      curve,
      clock: systemClock,
      logger,
      onSession: () => {
        this.endSession('reconnected');
        // A slave on its way out offers no capacity: the master would only have its tasks handed back.
        if (!this.draining) this.sendReady();
      },
      onMessage: (message, payload) => {
        this.onMessage(message, payload);
      },
      onRejected: (error) => {
        this.onRejected(error);
      },
    });
  }

  /**
   * Starts the workers, then connects to the master.
   *
   * @throws Error when the workers fail to start ({@link ChildPool.start})
   */
  async start(): Promise<void> {
    await this.pool.start();
    this.opencv = this.pool.opencvVersion;
    const budget = this.pool.memoryBudgetBytes;
    const memory = budget === Infinity ? 'no memory budget' : `${toMiB(budget)} MiB of memory for images at once (--memory-budget)`;
    this.logger.info(`slave ${this.id}: ${this.pool.size} worker(s), ${memory}, connecting to ${this.options.connect}`);
    if (this.publicKey !== undefined) this.logger.info(`CURVE on: this slave's public key is ${this.publicKey} (it must be on the master's allow-list)`);
    this.connection.start();
    this.startTimer = setInterval(() => {
      this.reportStarts();
    }, this.options.heartbeatIntervalMs);
    this.startTimer.unref();
  }

  /**
   * Tells the master which tasks started on a worker since the last report (HEARTBEAT
   * `running`), once a heartbeat interval: their leases then run from their start, not
   * from when they were sent, so a task queued behind big images keeps its lease. Tasks
   * that start and finish within one interval are never reported: their answer is enough.
   */
  private reportStarts(): void {
    let starts: TaskStart[] | undefined;
    for (const job of this.pool.running()) {
      if (this.startReported.has(job) || this.jobSession.get(job) !== this.session) continue;
      this.startReported.add(job);
      (starts ??= []).push({ taskId: job.taskId, attempt: job.attempt });
    }
    // A receipt rides along; alone it goes only after RECEIPT_BYTES, which the master,
    // holding up to twice that unconfirmed, always gets before it waits for one.
    if (starts !== undefined) this.connection.send({ cmd: Command.Heartbeat, running: starts.slice(0, MAX_TASKS_PER_MESSAGE), ...this.receipt() });
  }

  /** Tells the master how many TASK messages arrived in this session (HEARTBEAT `received`). */
  private sayReceived(): void {
    this.connection.send({ cmd: Command.Heartbeat, ...this.receipt() });
  }

  /** The `received` field of a HEARTBEAT; the bytes toward the next receipt start again. */
  private receipt(): { received: number } {
    this.bytesSinceReceipt = 0;
    return { received: this.taskMessages };
  }

  /**
   * Graceful stop: refuses new tasks, waits up to `drainTimeoutMs` for running ones and
   * sends their results, stops the workers, says DISCONNECT, and closes. Tasks not done by
   * the timeout are given up: their workers are killed (a worker stuck in a task would
   * otherwise outlive this process) and the master gets a retryable `SlaveLeavingError`
   * for each, so they run elsewhere without waiting for their leases to expire.
   *
   * @param farewell - false when the master refused this slave for good: nothing more is
   *   sent (with a slave id in use, a DISCONNECT would read as the other slave's)
   */
  async stop(reason: string, drainTimeoutMs: number, farewell = true): Promise<void> {
    this.draining = true;
    clearInterval(this.startTimer);
    if (!farewell) {
      await this.pool.close();
      await this.connection.close();
      return;
    }
    this.flush();
    this.connection.send({ cmd: Command.Disconnect, reason: `${reason}: finishing ${this.sessionInFlight} task(s)`, draining: true });
    if (this.sessionInFlight > 0) {
      this.logger.info(`finishing ${this.sessionInFlight} task(s) in flight before leaving (at most ${drainTimeoutMs} ms)`);
      await Promise.race([
        new Promise<void>((resolve) => this.idleWaiters.push(resolve)),
        new Promise((resolve) => setTimeout(resolve, drainTimeoutMs)),
      ]);
    }
    const givenUp = this.sessionInFlight;
    // Those given up are handed back as failures by the close (no attempt used): not counted twice (QA).
    const { tasksDone, tasksFailed, tasksRefused } = this.stats;
    await this.pool.close();
    this.flush();
    this.connection.send({ cmd: Command.Disconnect, reason });
    await this.connection.close();
    // The last word: a stop during a link outage ended without saying how it went (QA).
    const unfinished = givenUp > 0 ? `; ${givenUp} unfinished task(s) given up (the master runs them elsewhere)` : '';
    // Tasks that crossed its leaving on the wire failed as SlaveLeavingError: handed back, not failed (CI).
    const crossed = tasksRefused > 0 ? `; ${tasksRefused} task(s) sent as it was leaving handed back` : '';
    this.logger.info(`left: ${tasksDone} task(s) done and ${tasksFailed - tasksRefused} failed since this slave started${unfinished}${crossed}`);
  }

  /**
   * The master has no session with this slave ({@link NO_SESSION}: it restarted and this
   * socket reconnected to it by itself, or it took us for dead): the old session's tasks
   * are dropped and READY goes at once on the same socket. A reply that crossed our last
   * READY (sent, or let out by the socket's handshake, under a heartbeat interval ago, and
   * at least {@link NO_SESSION_GRACE_MS}) is ignored: acting on it would end the
   * session that READY just began. While draining, only the session ends (its outcomes
   * would be dropped by the master anyway).
   */
  private rejoin(reason: string): void {
    if (this.draining) {
      this.endSession('the master has no session with this slave');
      return;
    }
    // From when the READY went out: one queued while the link was down leaves with the
    // handshake, and a reply to a stale heartbeat (the old connection's, delivered late)
    // started a second session and ran the first one's tasks again (QA, a Wi-Fi drop).
    const sinceReady = Math.min(systemClock.now() - this.readySentAtMs, this.connection.msSinceLinked());
    if (sinceReady < Math.max(this.options.heartbeatIntervalMs, NO_SESSION_GRACE_MS)) return;
    this.logger.info(`master says: ${reason}; joining again`);
    this.endSession('the master has no session with this slave');
    this.sendReady();
  }

  private sendReady(): void {
    this.readySentAtMs = systemClock.now();
    this.connection.send({
      cmd: Command.Ready,
      slaveId: this.id,
      capacity: this.pool.size,
      prefetch: this.options.prefetch,
      kinds: [...SUPPORTED_KINDS],
      maxMessageBytes: this.options.maxMessageBytes,
      maxImagePixels: this.options.maxImagePixels,
      heartbeatIntervalMs: this.options.heartbeatIntervalMs,
      receipts: true,
      host: { hostname: hostname().slice(0, 256), pid: process.pid, platform: platform(), arch: arch(), cpus: cpus().length, opencv: this.opencv },
    });
  }

  private onRejected(error: ProtocolError): void {
    this.stats.messagesRejected++;
    // At most one line a second: a broken master must not flood the log.
    const now = systemClock.now();
    if (now - this.rejectedLogAtMs < 1000) return;
    this.rejectedLogAtMs = now;
    const total = `(${this.stats.messagesRejected} dropped so far)`;
    if (error.reason === 'version_mismatch') {
      this.logger.error(`${error.message} ${total}`);
    } else {
      this.logger.warn(`dropped a malformed message from the master: ${error.message} ${total}`);
    }
  }

  private onMessage(message: Message, payload: Buffer[]): void {
    switch (message.cmd) {
      case 'TASK':
        this.taskMessages++;
        for (const part of payload) this.bytesSinceReceipt += part.length;
        // Said at once for large images: the master sends more only once these arrived.
        if (this.bytesSinceReceipt >= RECEIPT_BYTES) this.sayReceived();
        this.onTask(message, payload);
        return;
      case 'HEARTBEAT':
        return;
      case 'DISCONNECT': {
        // The master's words, escaped: a newline or an ANSI escape in them forged log lines.
        const reason = unquotedPrintable(message.reason);
        if (message.reason.startsWith(NO_SESSION)) {
          this.rejoin(reason);
          return;
        }
        this.logger.info(`master says: ${reason}`);
        this.endSession(`master said DISCONNECT: ${reason}`);
        if (message.reason.startsWith('protocol version mismatch') || message.reason.startsWith(SLAVE_ID_IN_USE)) {
          this.fatalError = reason;
          this.onFatal?.(reason);
        } else if (!this.draining) {
          this.connection.masterLeft();
        }
        return;
      }
      case 'READY':
      case 'RESULT':
      case 'FAIL':
        this.stats.messagesRejected++;
        this.logger.warn(`dropped a ${message.cmd} message: only a slave sends those`);
        return;
    }
  }

  /**
   * Ends the session with the master: its queued tasks are dropped unstarted, results held
   * for it are dropped, and running tasks' outcomes will be (a worker's OpenCV call cannot
   * be stopped short of killing the worker). Their master has given up their leases already.
   */
  private endSession(why: string): void {
    this.session++;
    this.taskMessages = 0;
    this.bytesSinceReceipt = 0;
    const held = this.results.length + this.failures.length;
    this.results = [];
    this.failures = [];
    const queued = this.pool.cancelQueued();
    // This session's only: those of an earlier one were said at its end (the line came twice).
    const running = Math.max(0, this.sessionInFlight - queued);
    this.sessionInFlight = 0;
    for (const w of this.idleWaiters.splice(0)) w();
    this.stats.staleDropped += held;
    if (held + queued + running > 0) {
      this.logger.info(`session with the master ended (${why}): ${queued} queued task(s) and ${held} result(s) dropped; ${running} running task(s) will be dropped when done`);
    }
  }

  private onTask(message: TaskMessage, payload: Buffer[]): void {
    const session = this.session;
    const copies = new Map<string, Buffer>();
    for (const spec of message.tasks) {
      if (this.draining) {
        this.stats.tasksRefused++;
        this.queueOutcome({
          ok: false,
          taskId: spec.taskId,
          attempt: spec.attempt,
          kind: spec.kind,
          computeMs: 0,
          error: { name: 'SlaveLeavingError', message: `slave ${this.id} is shutting down`, retryable: true },
        });
        continue;
      }
      if (spec.kind === 'noop') {
        // No vision work, so nothing to isolate: answered here, it measures dispatch alone.
        this.queueOutcome({ ok: true, taskId: spec.taskId, attempt: spec.attempt, kind: 'noop', computeMs: 0, width: 0, height: 0, value: {} });
        continue;
      }
      const part = payload[spec.part] as Buffer;
      // A small image sharing its part with others (offset and length checked by decode):
      // copied out once for all its tasks, so only its own bytes travel on to a worker and
      // the pool sees one image (same Buffer) and sends its tasks in one request.
      let bytes = part;
      if (spec.offset !== undefined) {
        const key = `${spec.part}:${spec.offset}:${spec.length ?? 0}`;
        bytes = copies.get(key) ?? Buffer.from(part.subarray(spec.offset, spec.offset + (spec.length ?? 0)));
        copies.set(key, bytes);
      }
      if (bytes.length > this.options.maxImageBytes) {
        const err = new ImageTooLargeError(`image is ${bytes.length} bytes, over this slave's limit of ${this.options.maxImageBytes} bytes (--max-image-bytes)`);
        this.queueOutcome({ ok: false, taskId: spec.taskId, attempt: spec.attempt, kind: spec.kind, computeMs: 0, error: toWireError(err) });
        continue;
      }
      const waiting = this.pool.queuedJob(spec.taskId, (job) => this.jobSession.get(job) === session);
      if (waiting !== undefined) {
        // Sent again while its copy still waits here, queued or behind a hung or slow task on
        // a worker (the master took its lease back: it had waited a lease). One copy, answered
        // with the new attempt; a second would run the task twice, once for a dropped answer.
        waiting.attempt = spec.attempt;
        this.logger.debug(`task ${spec.taskId} (${spec.kind}) sent again as attempt ${spec.attempt} while unstarted here: that copy takes the attempt`);
        continue;
      }
      this.inFlight++;
      this.sessionInFlight++;
      const { imageId } = spec;
      this.runningByImage.set(imageId, (this.runningByImage.get(imageId) ?? 0) + 1);
      const job: PoolJob = { taskId: spec.taskId, attempt: spec.attempt, kind: spec.kind, imageId, bytes, config: message.config };
      this.jobSession.set(job, session);
      void this.pool
        .run(job)
        .then((outcome) => {
          this.inFlight--;
          const running = (this.runningByImage.get(imageId) ?? 1) - 1;
          if (running > 0) this.runningByImage.set(imageId, running);
          else this.runningByImage.delete(imageId);
          if (session === this.session) {
            this.sessionInFlight--;
            this.queueOutcome(outcome, running > 0 && !this.draining);
          } else this.stats.staleDropped++;
          if (this.sessionInFlight === 0) for (const w of this.idleWaiters.splice(0)) w();
        });
    }
  }

  /** Queues an outcome for the master; `hold`: other tasks of its image still run here. */
  private queueOutcome(outcome: PoolOutcome, hold = false): void {
    this.metrics.taskOutcome(outcome);
    if (outcome.ok) {
      this.stats.tasksDone++;
      this.results.push({
        taskId: outcome.taskId,
        attempt: outcome.attempt,
        computeMs: Math.round(outcome.computeMs * 1000) / 1000,
        width: outcome.width,
        height: outcome.height,
        ...({ kind: outcome.kind, value: outcome.value } as Pick<TaskResult, 'kind' | 'value'>),
      } as TaskResult);
    } else {
      this.stats.tasksFailed++;
      if (outcome.error.name === 'ImageTooLargeError') this.noteTooLarge(outcome.error.message);
      this.failures.push({
        taskId: outcome.taskId,
        attempt: outcome.attempt,
        kind: outcome.kind,
        computeMs: Math.round(outcome.computeMs * 1000) / 1000,
        error: { ...outcome.error, message: outcome.error.message.slice(0, 4000), name: outcome.error.name.slice(0, 128) || 'Error' },
      });
    }
    if (hold) {
      this.holdTimer ??= setTimeout(() => {
        this.flush();
      }, RESULT_HOLD_MS);
    } else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => {
        this.flush();
      });
    }
  }

  /**
   * Says on this slave's own log, at most once a minute, that it refuses images over its
   * limits: the master runs them on other slaves, and this slave's row in the summary
   * showed nothing at all (a tester's slave with a low --max-image-pixels sat idle unexplained).
   */
  private noteTooLarge(example: string): void {
    this.refusedTooLarge++;
    const now = systemClock.now();
    if (now - this.refusedLoggedAtMs < 60_000) return;
    this.refusedLoggedAtMs = now;
    this.logger.warn(`refused ${this.refusedTooLarge} task(s) so far as over this slave's image limits, e.g. ${example}; the master gives them to other slaves`);
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.holdTimer !== undefined) clearTimeout(this.holdTimer);
    this.holdTimer = undefined;
    while (this.results.length > 0) {
      this.connection.send({ cmd: Command.Result, results: this.results.splice(0, MAX_TASKS_PER_MESSAGE) });
    }
    while (this.failures.length > 0) {
      this.connection.send({ cmd: Command.Fail, failures: this.failures.splice(0, MAX_TASKS_PER_MESSAGE) });
    }
  }
}
