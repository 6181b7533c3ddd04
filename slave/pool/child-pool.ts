import type { ChildProcess } from 'node:child_process';
import type { TaskKind } from '../../proto/task-kinds.js';
import { isRunning, KILLED_FROM_OUTSIDE } from '../../shared/child-process.js';
import { onStderrLines, type Logger } from '../../shared/logger.js';
import { WORKER_CACHE_SIZE, type ChildDropRequest, type ChildMessage, type ChildRunRequest } from './child-protocol.js';
import { splitLongestFirst } from './lpt.js';
import { availableMemoryBytes, defaultMemoryBudget, memoryCeilingBytes, toMiB, WORKER_IDLE_BYTES } from '../../shared/memory.js';
import { imagePixels, workerBytesPerPixel } from './memory-budget.js';
import { childScript, ENTRIES } from '../../shared/child-script.js';
import { forkDyingWithParent } from '../../shared/parent-death.js';
import type { Pool, PoolFailure, PoolJob, PoolOutcome } from './pool.js';
import { workerEnv } from './worker-env.js';
import { projectPath } from '../../shared/project-path.js';


/** Options of {@link ChildPool}. */
export interface ChildPoolOptions {
  /** Worker processes (tasks run at once). */
  size: number;
  /** A task running longer than this is killed with its worker and fails retryably, ms. */
  taskTimeoutMs: number;
  /** Largest image decoded, px. */
  maxImagePixels: number;
  /**
   * A worker not ready this long after it was started is killed and started again (a failed
   * start), ms; default {@link WORKER_START_TIMEOUT_MS}.
   */
  startTimeoutMs?: number;
  /** Least time a job runs before it can count as stuck, ms; default {@link STUCK_MIN_MS} (tests set less). */
  stuckMinMs?: number;
  /**
   * Memory the images running at once may take in the workers, bytes (each image's need
   * estimated by `workerBytesPerPixel`); Infinity: no limit. Default: `defaultMemoryBudget` of
   * the memory available once the workers are ready.
   */
  memoryBudgetBytes?: number | undefined;
  /** Memory this slave could ever have, bytes; default `memoryCeilingBytes()` (tests set less). */
  memoryCeilingBytes?: number;
  logger: Logger;
}

/**
 * Longest a worker process may take to load OpenCV and its models and say it is ready, ms:
 * ~1 s on a PC and several seconds on a Raspberry Pi from a cold SD card. A worker stuck
 * there held its slave back for good, saying nothing, before this.
 */
export const WORKER_START_TIMEOUT_MS = 60_000;

interface Pending {
  job: PoolJob;
  resolve: (outcome: PoolOutcome) => void;
  /** Set on the jobs of one share of a split image: they go together, and are not split again. */
  part?: number;
  /**
   * The worker this job was taken back from ({@link ChildPool.reclaim}): told to drop it,
   * it may have started it already, and then its outcome counts too (the first one wins).
   */
  reclaimedFrom?: Worker;
  /** A copy of this running job was queued for an idle worker ({@link ChildPool.stealForIdle}). */
  copied?: boolean;
  /** This is such a copy: it resolves the same promise, and is not copied again. */
  speculative?: boolean;
  /** The other of a stuck job and its copy: when one answers, the worker still on the other is stopped. */
  twin?: Pending;
}

interface Worker {
  index: number;
  proc: ChildProcess;
  ready: boolean;
  /** Jobs handed to the worker in one request, in order; the first is running. Empty when idle. */
  assigned: Pending[];
  /**
   * The request sent ahead, to start when `assigned` ends (empty when none), so the worker
   * does not wait a round trip for its next image.
   */
  ahead: Pending[];
  /** An outcome of the request in `assigned` has arrived (it started: no cache miss can follow). */
  answered: boolean;
  /** Numbers of the requests in `assigned` and `ahead` ({@link ChildRunRequest.seq}). */
  assignedSeq: number;
  aheadSeq: number;
  /** When the job `assigned[0]` started, as far as the pool knows (performance.now(), ms). */
  runningSince: number;
  /** Jobs taken back from this worker and not yet answered elsewhere, by task id. */
  reclaimed: Map<number, Pending>;
  /** Timeout of the running job, or of the start until the worker is ready. */
  timer: NodeJS.Timeout | undefined;
  /** Memory the request in `assigned` may take, bytes (`workerBytesPerPixel`); counted while `assigned` is not empty. */
  assignedBytes: number;
  /** The same for the request in `ahead`. */
  aheadBytes: number;
  /** Image the worker decoded last: later tasks of it skip the decode there. */
  lastImageId: number | undefined;
  /** Consecutive deaths without completing a task, to stop respawn loops. */
  failedStarts: number;
  /** Killed by the pool for running past the task timeout. */
  timedOut: boolean;
  /** Killed by the pool because the other copy of its running job answered first. */
  cancelled: boolean;
  /**
   * The last images whose bytes went to this worker, mirroring its decode cache (same
   * size, same insertion order), so the bytes go only with an image's first task.
   */
  sent: Map<number, Buffer>;
}

/** The worker process's entry module. */
export const CHILD_MAIN = projectPath(ENTRIES.worker);
/** Consecutive deaths of one worker before the pool gives up on it. */
const MAX_FAILED_STARTS = 5;
/** Weight of the newest task in the moving mean of a kind's wall time. */
const COST_SMOOTHING = 0.1;
/**
 * A job counts as overdue when it has run this many times its kind's mean wall time, and
 * at least {@link OVERDUE_MIN_MS}: a worker idle with nothing queued then takes over the jobs
 * waiting behind it (work stealing), and no request is sent ahead to it.
 */
const OVERDUE_FACTOR = 3;
/** See {@link OVERDUE_FACTOR}, ms: below it, a second decode elsewhere is not worth it. */
const OVERDUE_MIN_MS = 1_000;
/**
 * A running job counts as stuck when it has run this many times what its kind takes on an
 * image of its size (the mean per megapixel), and at least {@link STUCK_MIN_MS}: a worker idle
 * with nothing queued then runs a copy of it, and the first of the two to finish answers.
 * After Google's MapReduce (Dean & Ghemawat, OSDI 2004) §3.6, backup tasks, inside one
 * slave: the master's backups go only to other slaves, so a lone slave with a hung worker
 * (frozen, stuck in a driver) and an idle one held the end of its batch for the whole lease
 * (120 s; a tester's case).
 */
const STUCK_FACTOR = 10;
/** See {@link STUCK_FACTOR}, ms: long enough that a second copy of a job is worth its decode. */
const STUCK_MIN_MS = 10_000;
/** Pixel counts of images seen, by their bytes (the header is read once per image, not per request). */
const pixelsOf = new WeakMap<Buffer, number>();

/**
 * Pool of worker processes, each with its own OpenCV and one task at a time.
 *
 * Why processes, not threads: `@u4/opencv4nodejs` aborts when loaded in a second
 * `worker_threads` worker (UrielCh/opencv4nodejs#140, as `shared/opencv.ts` says; the
 * team's DESIGN.md, outside this repository), and a process can be killed, so a task that
 * hangs or crashes its worker (segfault in native code) costs that task's attempt, not the
 * slave.
 * Jobs of one image go to the same worker where possible (image affinity, like BullMQ's
 * sandboxed processors keep one child per job), so each image is decoded once per slave,
 * and the jobs of one image queued together go in one request: the worker runs them back
 * to back and answers each as it finishes. A worker on the last job of its request gets
 * its next image's request then, so it does not wait a round trip between images. Only the
 * last queued image (a short batch, or the end of one) is split among the workers, so none
 * runs dry while one still has a whole image ahead of it.
 *
 * Images start only while the memory they need fits in the pool's memory budget (each
 * request's need estimated from the image's pixels and its task kinds, `workerBytesPerPixel`),
 * and one image always may: a worker waits for memory rather than all of them being killed
 * by the kernel's OOM killer (measured: 4 workers on 1080p frames in 1 GB took 14 OOM kills
 * and 2.8 times as long as 2 workers; test/bench/PROFILE.md, twenty-fifth session).
 */
export class ChildPool implements Pool {
  readonly size: number;
  opencvVersion = 'unknown';
  private readonly workers: Worker[] = [];
  private readonly queue: Pending[] = [];
  /** Requests a worker answered with a cache miss (the pool sent them again with the bytes). */
  cacheMisses = 0;
  /**
   * Moving mean of the wall time of each task kind on a worker, ms: what a split balances
   * and what the overdue timer compares a running job's wall time with (an idle worker then
   * takes the jobs queued behind it: a big image's among small ones too, which evens out
   * the end of a batch). Not the tasks' compute (CPU) time: with more workers than cores a
   * task takes longer than that.
   */
  private readonly meanWallMs = new Map<TaskKind, number>();
  /**
   * The same, ms per megapixel of the task's image ({@link expectedWallMs}): what the stuck
   * timer compares with. A 12 MP photo's face task in a batch of 0.2 MP frames ran 10 s
   * against a mean of 77 ms a task, was copied to an idle worker as stuck, and the copy's
   * worker was killed when the original answered first.
   */
  private readonly meanWallMsPerMp = new Map<TaskKind, number>();
  /** Requests sent to workers (one per group of an image's jobs). */
  requests = 0;
  /** Of {@link requests}, those sent to a busy worker ahead of its current request's end. */
  requestsAhead = 0;
  /** Last share number given out by a split. */
  private parts = 0;
  /** Jobs taken back from a worker for another ({@link reclaim}), by an idle worker or for a re-sent task. */
  reclaims = 0;
  /** Copies of stuck running jobs run on idle workers ({@link STUCK_FACTOR}). */
  copies = 0;
  /** Times a worker was left idle because the next image's memory did not fit the budget. */
  memoryWaits = 0;
  /** Memory the images running at once may take, bytes (Infinity: no limit); set by {@link start} unless given. */
  memoryBudgetBytes: number;
  /** The largest memory the images running at once were estimated to take, bytes. */
  peakReservedBytes = 0;
  /** Timer to look again for overdue workers to take jobs from, while a worker is idle. */
  private stealTimer: NodeJS.Timeout | undefined;
  private closing = false;
  private dispatchQueued = false;
  private readyWaiters: (() => void)[] = [];
  /** See {@link ChildPoolOptions.memoryCeilingBytes}; read on first use. */
  private memoryCeiling: number | undefined;

  constructor(private readonly options: ChildPoolOptions) {
    this.size = options.size;
    this.memoryBudgetBytes = options.memoryBudgetBytes ?? Infinity;
  }

  /** Memory the requests on the workers now are estimated to take, bytes. */
  get reservedBytes(): number {
    let sum = 0;
    for (const w of this.workers) sum += reservation(w);
    return sum;
  }

  get busy(): number {
    return this.workers.filter((w) => w.assigned.length > 0).length;
  }

  get queued(): number {
    return this.queue.length;
  }

  running(): PoolJob[] {
    const out: PoolJob[] = [];
    for (const w of this.workers) {
      const first = w.assigned[0];
      if (first !== undefined) out.push(first.job);
    }
    return out;
  }

  /**
   * Kills the workers still running when this process exits without {@link close} (a second
   * Ctrl-C, a fatal error): a worker stuck in a task never notices its channel close.
   */
  private readonly killOnExit = (): void => {
    for (const w of this.workers) if (isRunning(w.proc)) w.proc.kill('SIGKILL');
  };

  /**
   * Starts the workers and resolves once all are ready; then, unless a budget was given,
   * measures the memory budget (the workers' own memory already taken).
   *
   * @throws Error when a worker dies (or misses its start timeout) {@link MAX_FAILED_STARTS}
   *   times in a row before it is ready (OpenCV not installed, or its entry module broken)
   */
  async start(): Promise<void> {
    process.on('exit', this.killOnExit);
    const { fallbackReason } = childScript(CHILD_MAIN);
    // Not a fault (a read-only checkout, as under the systemd unit): workers start as before.
    if (fallbackReason !== undefined) this.options.logger.info(`workers run through tsx (slower to start, ~25 MB more each): their entry was not compiled: ${fallbackReason}`);
    for (let i = 0; i < this.size; i++) this.workers.push(this.spawn(i, 0));
    await new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (this.workers.every((w) => w.ready)) resolve();
        else if (this.workers.some((w) => w.failedStarts >= MAX_FAILED_STARTS)) {
          reject(new Error('worker processes fail to start (is OpenCV installed? run `npm run setup`)'));
        } else this.readyWaiters.push(check);
      };
      check();
    });
    // Measured now, so that the workers' own memory is taken already.
    if (this.options.memoryBudgetBytes === undefined) this.memoryBudgetBytes = defaultMemoryBudget(availableMemoryBytes());
  }

  /**
   * Queues one job; resolves with its outcome, never rejects. Resolves at once, unrun, with a
   * `SlaveLeavingError` while closing, or an `ImageTooLargeError` when its kind needs more
   * memory for its image than this machine has ({@link beyondMemory}).
   */
  run(job: PoolJob): Promise<PoolOutcome> {
    if (this.closing) return Promise.resolve(leaving(job));
    const beyond = this.beyondMemory(job);
    if (beyond !== undefined) return Promise.resolve(beyond);
    return new Promise((resolve) => {
      const pending: Pending = {
        job,
        resolve: (outcome) => {
          pending.reclaimedFrom?.reclaimed.delete(job.taskId);
          resolve(outcome);
        },
      };
      this.queue.push(pending);
      this.scheduleDispatch();
    });
  }

  /**
   * Dispatches after the caller's synchronous burst (a TASK message's tasks), so the jobs of
   * one image are all queued and go to one worker in one request.
   */
  private scheduleDispatch(): void {
    if (this.dispatchQueued) return;
    this.dispatchQueued = true;
    queueMicrotask(() => {
      this.dispatchQueued = false;
      this.dispatch();
    });
  }

  queuedJob(taskId: number, accept: (job: PoolJob) => boolean = () => true): PoolJob | undefined {
    const wanted = (p: Pending): boolean => p.job.taskId === taskId && accept(p.job);
    const queued = this.queue.find(wanted);
    if (queued !== undefined) return queued.job;
    for (const w of this.workers) {
      if (!w.ready) continue;
      const behind = w.assigned.slice(1).find(wanted);
      const ahead = behind === undefined ? w.ahead.find(wanted) : undefined;
      const held = behind ?? ahead;
      if (held === undefined) continue;
      this.reclaim(w, [held], behind !== undefined ? 'assigned' : 'ahead', 'sent again by the master');
      this.scheduleDispatch();
      return held.job;
    }
    return undefined;
  }

  /**
   * Drops every job still waiting for a worker (not those sent to one): each resolves as a
   * retryable `TaskCancelledError`. For when the master that sent them is gone.
   *
   * @returns how many were dropped
   */
  cancelQueued(): number {
    const dropped = this.queue.splice(0);
    for (const p of dropped) p.resolve(failure(p.job, 'TaskCancelledError', 'the session with the master that sent this task ended'));
    return dropped.length;
  }

  /** Fails queued and running jobs (retryable `SlaveLeavingError`) and SIGKILLs every worker; resolves once all have exited. */
  async close(): Promise<void> {
    this.closing = true;
    if (this.stealTimer !== undefined) clearTimeout(this.stealTimer);
    process.off('exit', this.killOnExit);
    for (const p of this.queue.splice(0)) p.resolve(leaving(p.job));
    await Promise.all(
      this.workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            if (w.timer) clearTimeout(w.timer);
            failAssigned(w);
            if (!isRunning(w.proc)) {
              resolve();
              return;
            }
            w.proc.once('exit', () => { resolve(); });
            w.proc.kill('SIGKILL');
          }),
      ),
    );
  }

  private spawn(index: number, failedStarts: number): Worker {
    // stderr is piped into the slave's log: OpenCV and libjpeg write warnings there
    // ("Corrupt JPEG data: ..."), which would otherwise break up `--log-json` output.
    const proc = forkDyingWithParent(CHILD_MAIN, ['ignore', 'inherit', 'pipe', 'ipc'], workerEnv());
    // Decoders may quote an image's bytes (a PNG chunk's name): escaped, never raw to a terminal.
    onStderrLines(proc.stderr, (text) => {
      this.options.logger.warn(`worker ${index}: ${text}`);
    });
    const worker: Worker = { index, proc, ready: false, assigned: [], ahead: [], answered: false, assignedSeq: 0, aheadSeq: 0, assignedBytes: 0, aheadBytes: 0, runningSince: 0, reclaimed: new Map(), timer: undefined, lastImageId: undefined, failedStarts, timedOut: false, cancelled: false, sent: new Map() };
    const startTimeoutMs = this.options.startTimeoutMs ?? WORKER_START_TIMEOUT_MS;
    worker.timer = setTimeout(() => {
      worker.timer = undefined;
      this.options.logger.warn({ worker: index }, `worker ${index} was not ready within ${startTimeoutMs} ms of starting; killing it and starting another`);
      proc.kill('SIGKILL');
    }, startTimeoutMs);
    proc.on('message', (msg: ChildMessage) => {
      this.onMessage(worker, msg);
    });
    proc.on('exit', (code, signal) => {
      this.onExit(worker, code, signal);
    });
    proc.on('error', (err) => {
      this.options.logger.error({ err: err.message }, `worker ${index} process error`);
    });
    return worker;
  }

  private onMessage(worker: Worker, msg: ChildMessage): void {
    if (msg.type === 'ready') {
      if (worker.timer) clearTimeout(worker.timer);
      worker.timer = undefined;
      worker.ready = true;
      this.opencvVersion = msg.opencv;
      for (const w of this.readyWaiters.splice(0)) w();
      this.dispatch();
      return;
    }
    if (msg.type === 'miss') {
      // Our mirror of its cache was wrong; it ran nothing: the same jobs again, with the bytes.
      const first = worker.assigned[0];
      if (first === undefined || first.job.imageId !== msg.imageId) return;
      if (worker.timer) clearTimeout(worker.timer);
      this.cacheMisses++;
      worker.sent.delete(msg.imageId);
      this.post(worker, worker.assigned, false);
      return;
    }
    const pending = worker.assigned[0];
    if (pending === undefined || pending.job.taskId !== msg.outcome.taskId) {
      // A job taken back from this worker that it had started before the drop arrived.
      const reclaimed = worker.reclaimed.get(msg.outcome.taskId);
      if (reclaimed !== undefined) {
        const queued = this.queue.indexOf(reclaimed);
        if (queued >= 0) this.queue.splice(queued, 1);
        reclaimed.resolve(msg.outcome);
      }
      return;
    }
    if (worker.timer) clearTimeout(worker.timer);
    worker.timer = undefined;
    worker.assigned.shift();
    worker.answered = true;
    worker.failedStarts = 0;
    if (msg.outcome.ok) {
      // The decode rides on one task of each image; it is small next to the detectors.
      const { kind } = msg.outcome;
      addToMean(this.meanWallMs, kind, msg.wallMs);
      addToMean(this.meanWallMsPerMp, kind, msg.wallMs / megapixelsOf(pending.job));
    }
    pending.resolve(msg.outcome);
    if (pending.twin !== undefined) this.stopTwin(pending.twin, msg.outcome.taskId);
    if (worker.assigned.length === 0 && worker.ahead.length > 0) {
      worker.assigned = worker.ahead;
      worker.assignedSeq = worker.aheadSeq;
      worker.assignedBytes = worker.aheadBytes;
      worker.ahead = [];
      worker.answered = false;
    }
    const next = worker.assigned[0];
    if (next !== undefined) this.armTimeout(worker, next);
    this.dispatch();
  }

  private onExit(worker: Worker, code: number | null, signal: NodeJS.Signals | null): void {
    if (worker.timer) clearTimeout(worker.timer);
    if (this.closing) {
      failAssigned(worker);
      return;
    }
    const pending = this.takeBack(worker);
    // SIGKILL from outside is most often the kernel's out-of-memory killer: said (found by QA).
    const how = signal === 'SIGKILL' && !worker.timedOut ? KILLED_FROM_OUTSIDE : signal !== null ? `signal ${signal}` : `exit code ${code ?? '?'}`;
    if (worker.cancelled) this.options.logger.debug({ worker: worker.index }, `worker ${worker.index} stopped (${how}); restarting it`);
    else this.options.logger.warn({ worker: worker.index, taskId: pending?.job.taskId }, `worker process died (${how}); restarting it`);
    // A copy of a stuck job dying leaves the answer to the other copy.
    if (pending && !this.twinCarriesOn(pending)) {
      pending.resolve(failure(pending.job, 'WorkerCrashError', `worker process died (${how}) while running this task`));
    }
    // A death while running a task (or after a timeout or cancel kill) is not a failed start.
    const failedStarts = pending !== undefined || worker.timedOut || worker.cancelled ? 0 : worker.failedStarts + 1;
    const replacement = this.spawn(worker.index, failedStarts);
    this.workers[worker.index] = replacement;
    if (failedStarts >= MAX_FAILED_STARTS) {
      this.options.logger.error(`worker ${worker.index} failed to start ${failedStarts} times`);
      for (const w of this.readyWaiters.splice(0)) w();
    }
    this.dispatch();
  }

  private dispatch(): void {
    if (this.queue.length === 0) this.stealForIdle();
    if (this.queue.length === 0) return;
    const owned = new Set<number>();
    for (const w of this.workers) {
      for (const p of w.assigned) owned.add(p.job.imageId);
      for (const p of w.ahead) owned.add(p.job.imageId);
    }
    const ready = this.workers.filter((w) => w.ready).length;
    for (const worker of this.workers) {
      if (!worker.ready || worker.assigned.length > 0 || this.queue.length === 0) continue;
      const index = this.pickJob(worker.lastImageId, owned);
      const [first] = this.queue.splice(index, 1);
      if (first === undefined) continue;
      const group = this.takeSiblings(first, index);
      // The last queued image (a short batch, or the end of one): rather than run all its
      // jobs here while the other workers run dry, take the longest share and leave the
      // others for the next free workers, each share one request.
      const split = this.queue.length === 0 && ready > 1 && group.length > 1 && first.part === undefined;
      const [mine = group, ...rest] = split ? splitLongestFirst(group, ready, (p) => this.meanWallMs.get(p.job.kind) ?? 1) : [group];
      const need = requestBytes(mine, this.options.maxImagePixels);
      if (!this.fits(worker, need)) {
        // Back where they were; the next outcome frees memory and dispatches again.
        this.queue.splice(index, 0, ...group);
        this.waitForMemory(worker, first.job, need);
        break;
      }
      owned.add(first.job.imageId);
      for (const share of rest) {
        const part = ++this.parts;
        for (const p of share) p.part = part;
      }
      this.queue.unshift(...rest.flat());
      this.post(worker, mine, false, need);
    }
    // Idle workers first; then busy ones may get their next image ahead.
    for (const worker of this.workers) {
      if (this.queue.length === 0) return;
      if (worker.ready && worker.assigned.length === 1 && worker.answered && worker.ahead.length === 0 && !this.overdue(worker)) this.sendAhead(worker, owned);
    }
  }

  /**
   * Time until `worker`'s running job counts as overdue ({@link OVERDUE_FACTOR}), ms; zero or
   * less once it does. Infinity for an idle worker.
   */
  private msUntilOverdue(worker: Worker, now = performance.now()): number {
    const kind = worker.assigned[0]?.job.kind;
    if (kind === undefined) return Infinity;
    return worker.runningSince + Math.max(OVERDUE_MIN_MS, OVERDUE_FACTOR * (this.meanWallMs.get(kind) ?? 0)) - now;
  }

  /** How long `job` should take on a worker, ms: its kind's mean per megapixel times its image's; undefined before one of its kind has run. */
  private expectedWallMs(job: PoolJob): number | undefined {
    const perMp = this.meanWallMsPerMp.get(job.kind);
    return perMp === undefined ? undefined : perMp * megapixelsOf(job);
  }

  private overdue(worker: Worker): boolean {
    return this.msUntilOverdue(worker) <= 0;
  }

  /**
   * Time until `worker`'s running job counts as stuck ({@link STUCK_FACTOR}), ms; Infinity
   * for an idle worker, and for a job that is a copy or already has one.
   */
  private msUntilStuck(worker: Worker, now: number): number {
    const running = worker.assigned[0];
    if (running === undefined || running.copied === true || running.speculative === true) return Infinity;
    return worker.runningSince + Math.max(this.options.stuckMinMs ?? STUCK_MIN_MS, STUCK_FACTOR * (this.expectedWallMs(running.job) ?? 0)) - now;
  }

  /**
   * Queues a copy of `worker`'s stuck running job for an idle worker: the same job and the
   * same promise, so whichever copy answers first resolves it and the other's outcome is
   * ignored. The stuck worker keeps its job until it answers or its task timeout kills it.
   */
  private copyStuck(worker: Worker, now: number): void {
    const running = worker.assigned[0];
    if (running === undefined) return;
    running.copied = true;
    this.copies++;
    const copy: Pending = { job: running.job, resolve: running.resolve, speculative: true, twin: running };
    running.twin = copy;
    this.queue.unshift(copy);
    const expected = this.expectedWallMs(running.job);
    this.options.logger.warn(
      { worker: worker.index, taskId: running.job.taskId },
      `task ${running.job.taskId} (${running.job.kind}) has run ${Math.round((now - worker.runningSince) / 1000)} s on worker ${worker.index}${expected === undefined ? '' : ` (such a task on an image of this size takes ~${Math.round(expected)} ms here)`}: running a copy on an idle worker, the first to finish answers`,
    );
  }

  /**
   * Whether the other copy of `p` (a stuck job or its copy) is still queued or on a worker,
   * so that `p` failing by its worker's death or timeout need not answer: the other may
   * still succeed. Unlinks the two when it is.
   */
  private twinCarriesOn(p: Pending): boolean {
    const twin = p.twin;
    if (twin === undefined) return false;
    const alive = this.queue.includes(twin) || this.workers.some((w) => w.ready && (w.assigned.includes(twin) || w.ahead.includes(twin)));
    if (alive) {
      delete twin.twin;
      delete p.twin;
    }
    return alive;
  }

  /**
   * The other copy of a stuck job answered (task `taskId`): the worker still running `twin`
   * is stopped and replaced (~1 s to start one), rather than left frozen until the task
   * timeout (5 minutes by default) or computing an answer nobody wants; the jobs queued
   * behind it go back to the queue. A `twin` not started yet leaves the queue.
   */
  private stopTwin(twin: Pending, taskId: number): void {
    const queued = this.queue.indexOf(twin);
    if (queued >= 0) {
      this.queue.splice(queued, 1);
      return;
    }
    const worker = this.workers.find((w) => w.assigned[0] === twin);
    if (worker === undefined || !isRunning(worker.proc)) return;
    if (worker.timer) clearTimeout(worker.timer);
    worker.timer = undefined;
    // Its running job is answered: only the ones behind it are put back.
    worker.assigned.shift();
    this.takeBack(worker);
    worker.ready = false;
    worker.cancelled = true;
    this.options.logger.warn({ worker: worker.index, taskId }, `task ${taskId} answered on another worker first: stopping worker ${worker.index}, still on its copy, and starting another`);
    worker.proc.kill('SIGKILL');
  }

  /**
   * With nothing queued and a worker idle: takes back the jobs waiting behind an overdue job
   * on another worker (its request sent ahead first, else the rest of its current request),
   * for the idle worker to run now. A worker stuck in native code otherwise held them until
   * the task timeout killed it (300 s by default), or the master's lease of them ran out.
   * When no job is overdue yet, looks again when the first one will be.
   */
  private stealForIdle(): void {
    if (this.closing) return;
    const idle = this.workers.some((w) => w.ready && w.assigned.length === 0);
    if (!idle) return;
    const now = performance.now();
    let nextLookMs = Infinity;
    for (const victim of this.workers) {
      if (!victim.ready || victim.assigned.length === 0 || (victim.ahead.length === 0 && victim.assigned.length < 2)) continue;
      const dueInMs = this.msUntilOverdue(victim, now);
      if (dueInMs > 0) {
        nextLookMs = Math.min(nextLookMs, dueInMs);
        continue;
      }
      if (victim.ahead.length > 0) this.reclaim(victim, victim.ahead.slice(), 'ahead', 'a worker is idle');
      else this.reclaim(victim, victim.assigned.slice(1), 'assigned', 'a worker is idle');
      return;
    }
    // Nothing waits behind a slow job: the running jobs themselves, once stuck.
    for (const victim of this.workers) {
      if (!victim.ready) continue;
      const stuckInMs = this.msUntilStuck(victim, now);
      if (stuckInMs > 0) {
        nextLookMs = Math.min(nextLookMs, stuckInMs);
        continue;
      }
      this.copyStuck(victim, now);
      return;
    }
    if (nextLookMs === Infinity) return;
    if (this.stealTimer !== undefined) clearTimeout(this.stealTimer);
    this.stealTimer = setTimeout(() => {
      this.stealTimer = undefined;
      this.dispatch();
    }, Math.ceil(nextLookMs));
  }

  /**
   * Takes `jobs` (not started, all in `worker`'s request `from`) back into the front of the
   * queue and tells the worker to drop them. It may have started one already (the drop
   * crosses its answer): then both copies run, and the first outcome wins.
   */
  private reclaim(worker: Worker, jobs: Pending[], from: 'assigned' | 'ahead', why: string): void {
    const taken = new Set(jobs);
    if (from === 'ahead') worker.ahead = worker.ahead.filter((p) => !taken.has(p));
    else worker.assigned = worker.assigned.filter((p) => !taken.has(p));
    for (const p of jobs) {
      p.reclaimedFrom?.reclaimed.delete(p.job.taskId);
      p.reclaimedFrom = worker;
      worker.reclaimed.set(p.job.taskId, p);
    }
    const drop: ChildDropRequest = { type: 'drop', seq: from === 'ahead' ? worker.aheadSeq : worker.assignedSeq, taskIds: jobs.map((p) => p.job.taskId) };
    worker.proc.send(drop);
    this.queue.unshift(...jobs);
    this.reclaims += jobs.length;
    const running = worker.assigned[0];
    this.options.logger.debug(
      { worker: worker.index, taskIds: drop.taskIds },
      `took ${jobs.length} job(s) of image ${jobs[0]?.job.imageId ?? '?'} back from worker ${worker.index} (${why}), where they waited behind task ${running?.job.taskId ?? '?'} (${running?.job.kind ?? '?'}) running for ${Math.round(performance.now() - worker.runningSince)} ms`,
    );
  }

  /**
   * Sends the next image's jobs to a worker running the last job of its request, to start
   * when that ends, so the worker does not wait a round trip between images (~1 ms, 0.5% of
   * a worker's time on the bench: measured in the worker). Only when that job has started
   * (an earlier job of its request answered, so no cache miss can follow), and when work for
   * the other workers stays queued after this image or they all have their next image: a
   * batch's last image is not promised to a busy worker while another runs dry.
   */
  private sendAhead(worker: Worker, owned: Set<number>): void {
    const index = this.pickJob(undefined, owned);
    const first = this.queue[index];
    if (first === undefined || first.part !== undefined) return;
    // Looks at most 256 jobs deep, as pickJob does: bounded work per dispatch on a long queue.
    const scan = Math.min(this.queue.length, 256);
    let more = false;
    for (let i = 0; i < scan && !more; i++) more = this.queue[i]?.job.imageId !== first.job.imageId;
    // Or every other worker has its next image already, so none can run dry before this one.
    if (!more && this.workers.some((w) => w !== worker && w.ready && w.ahead.length === 0)) return;
    this.queue.splice(index, 1);
    const group = this.takeSiblings(first, index);
    const need = requestBytes(group, this.options.maxImagePixels);
    if (!this.fits(worker, need)) {
      this.queue.splice(index, 0, ...group);
      return;
    }
    owned.add(first.job.imageId);
    // Always with the bytes: a request that could miss the cache must not wait behind
    // another, or the worker would run the request after it first.
    this.post(worker, group, true, need);
  }

  /**
   * Whether a request needing `need` bytes may go to `worker` now (to run next, or ahead):
   * with it, the requests on the workers stay within the memory budget, or no other
   * worker holds any (an image larger than the whole budget then runs alone). A worker's
   * two requests run one after the other, so it holds the larger of the two.
   */
  private fits(worker: Worker, need: number): boolean {
    if (need === 0 || this.memoryBudgetBytes === Infinity) return true;
    const others = this.reservedBytes - reservation(worker);
    const own = worker.assigned.length > 0 ? Math.max(worker.assignedBytes, need) : need;
    return others === 0 || others + own <= this.memoryBudgetBytes;
  }

  /**
   * A job whose kind alone needs more memory for its image than this machine (or its
   * cgroup) has at all is refused with a retryable ImageTooLargeError, so the master gives
   * it to a slave with more memory or records why: run alone, as an image over the budget
   * is, a 48 MP photo on a 1 GB slave was killed by the OOM killer 12 times (found by QA).
   *
   * @returns the refusal, or undefined when the job may run
   */
  private beyondMemory(job: PoolJob): PoolFailure | undefined {
    const pixels = pixelsOfBytes(job.bytes);
    // One over --max-image-pixels is refused from its header by the worker, undecoded.
    if (pixels > this.options.maxImagePixels) return undefined;
    const need = pixels * workerBytesPerPixel([job.kind]);
    this.memoryCeiling ??= this.options.memoryCeilingBytes ?? memoryCeilingBytes();
    if (need + WORKER_IDLE_BYTES <= this.memoryCeiling) return undefined;
    return failure(job, 'ImageTooLargeError', `a ${job.kind} task on this image (${pixels} px) needs ~${toMiB(need)} MiB, more than this slave's machine has (${toMiB(this.memoryCeiling)} MiB, or its cgroup's limit)`);
  }

  /** Counts and reports an idle worker left waiting for memory (logged the first time, then at debug level). */
  private waitForMemory(worker: Worker, job: PoolJob, need: number): void {
    this.memoryWaits++;
    const message = `worker ${worker.index} waits for memory: image ${job.imageId} needs ~${toMiB(need)} MiB and the images running take ~${toMiB(this.reservedBytes)} MiB of this slave's ${toMiB(this.memoryBudgetBytes)} MiB (--memory-budget)`;
    if (this.memoryWaits === 1) this.options.logger.info({ worker: worker.index }, `${message}; images wait for memory rather than risk the OOM killer`);
    else this.options.logger.debug({ worker: worker.index }, message);
  }

  /**
   * `first` and the queued jobs of the same image that can share its request (same bytes,
   * same detector settings), removed from the queue, in queue order; looked for among the
   * 256 jobs from `from` on.
   */
  private takeSiblings(first: Pending, from: number): Pending[] {
    const group = [first];
    const { imageId, bytes, config } = first.job;
    for (let i = from; i < this.queue.length && i < from + 256; ) {
      const p = this.queue[i];
      if (p !== undefined && p.job.imageId === imageId && p.job.bytes === bytes && p.job.config === config && p.part === first.part) {
        group.push(...this.queue.splice(i, 1));
      } else i++;
    }
    return group;
  }

  /**
   * Prefers a job of the worker's last image, then one whose image no busy worker holds,
   * among the first 256 queued (bounded work per dispatch on a long queue); else the first.
   */
  private pickJob(lastImageId: number | undefined, owned: Set<number>): number {
    const scan = Math.min(this.queue.length, 256);
    if (lastImageId !== undefined) {
      for (let i = 0; i < scan; i++) if (this.queue[i]?.job.imageId === lastImageId) return i;
    }
    for (let i = 0; i < scan; i++) {
      const id = this.queue[i]?.job.imageId;
      if (id !== undefined && !owned.has(id)) return i;
    }
    return 0;
  }

  /**
   * Hands `group` (jobs of one image, at least one) to a worker in one request: to run now
   * (an idle worker), or `ahead`, to run when its current request ends.
   */
  private post(worker: Worker, group: Pending[], ahead: boolean, need = requestBytes(group, this.options.maxImagePixels)): void {
    const first = group[0];
    if (first === undefined) return;
    const seq = ++this.requests;
    if (ahead) {
      worker.ahead = group;
      worker.aheadSeq = seq;
      worker.aheadBytes = need;
    } else {
      worker.assigned = group;
      worker.assignedSeq = seq;
      worker.assignedBytes = need;
    }
    if (need > 0) this.peakReservedBytes = Math.max(this.peakReservedBytes, this.reservedBytes);
    worker.lastImageId = first.job.imageId;
    const { job } = first;
    const request: ChildRunRequest = {
      type: 'run',
      seq,
      imageId: job.imageId,
      config: job.config,
      maxImagePixels: this.options.maxImagePixels,
      tasks: group.map((p) => ({ taskId: p.job.taskId, attempt: p.job.attempt, kind: p.job.kind })),
    };
    if (ahead || worker.sent.get(job.imageId) !== job.bytes) {
      request.bytes = job.bytes;
      worker.sent.delete(job.imageId);
      worker.sent.set(job.imageId, job.bytes);
      if (worker.sent.size > WORKER_CACHE_SIZE) {
        const oldest = worker.sent.keys().next().value;
        if (oldest !== undefined) worker.sent.delete(oldest);
      }
    }
    if (ahead) this.requestsAhead++;
    else this.armTimeout(worker, first);
    worker.proc.send(request);
  }

  /**
   * Takes its request back from a worker that is dying: returns the job it was running (for
   * the caller to fail) and puts the jobs it never started back at the front of the queue.
   */
  private takeBack(worker: Worker): Pending | undefined {
    const [running, ...notRun] = worker.assigned.splice(0);
    this.queue.unshift(...notRun, ...worker.ahead.splice(0));
    return running;
  }

  /** Starts the task timeout of `running`, the job the worker is on now. */
  private armTimeout(worker: Worker, running: Pending): void {
    worker.runningSince = performance.now();
    worker.timer = setTimeout(() => {
      const { job } = running;
      this.options.logger.warn({ worker: worker.index, taskId: job.taskId }, `task exceeded ${this.options.taskTimeoutMs} ms; killing its worker`);
      const current = this.takeBack(worker);
      // Dying: it must not be handed another job before its exit event.
      worker.ready = false;
      worker.timedOut = true;
      if (current !== undefined && !this.twinCarriesOn(current)) current.resolve(failure(job, 'TaskTimeoutError', `task exceeded the slave's task timeout of ${this.options.taskTimeoutMs} ms; its worker was killed`));
      worker.proc.kill('SIGKILL');
      this.dispatch();
    }, this.options.taskTimeoutMs);
  }
}

/** Moves `means`' entry for `kind` toward `value` by {@link COST_SMOOTHING} (an exponential moving mean); the first value is taken as it is. */
function addToMean(means: Map<TaskKind, number>, kind: TaskKind, value: number): void {
  const mean = means.get(kind);
  means.set(kind, mean === undefined ? value : mean + (value - mean) * COST_SMOOTHING);
}

/** Least megapixels an image counts as, so that a tiny (or unreadable) one does not make a huge rate per megapixel. */
const MIN_MEGAPIXELS = 0.01;

/** The megapixels of `job`'s image, from its header (read once per image, {@link pixelsOf}), at least {@link MIN_MEGAPIXELS}. */
function megapixelsOf(job: PoolJob): number {
  return Math.max(MIN_MEGAPIXELS, pixelsOfBytes(job.bytes) / 1e6);
}

/** Pixels of an image from its header, or estimated from its length ({@link imagePixels}), cached by its bytes. */
function pixelsOfBytes(bytes: Buffer): number {
  let pixels = pixelsOf.get(bytes);
  if (pixels === undefined) {
    pixels = imagePixels(bytes);
    pixelsOf.set(bytes, pixels);
  }
  return pixels;
}

/** Memory `worker`'s requests hold, bytes: the larger of the two, as they run one after the other. */
function reservation(worker: Worker): number {
  return Math.max(worker.assigned.length > 0 ? worker.assignedBytes : 0, worker.ahead.length > 0 ? worker.aheadBytes : 0);
}

/**
 * Memory a worker needs to run `group` (jobs of one image), bytes ({@link workerBytesPerPixel});
 * none for an image over `maxImagePixels`, which is refused from its header undecoded.
 */
function requestBytes(group: readonly Pending[], maxImagePixels: number): number {
  const first = group[0];
  if (first === undefined) return 0;
  const perPixel = workerBytesPerPixel(group.map((p) => p.job.kind));
  if (perPixel === 0) return 0;
  const pixels = pixelsOfBytes(first.job.bytes);
  return pixels > maxImagePixels ? 0 : pixels * perPixel;
}

/** The pool is closing: every job handed to `worker` fails (retryably, elsewhere). */
function failAssigned(worker: Worker): void {
  for (const p of [...worker.assigned.splice(0), ...worker.ahead.splice(0)]) p.resolve(leaving(p.job));
}

/** The outcome of a job this pool gives up because the slave is leaving (retryable elsewhere). */
function leaving(job: PoolJob): PoolFailure {
  return failure(job, 'SlaveLeavingError', 'slave is shutting down');
}

function failure(job: PoolJob, name: string, message: string): PoolFailure {
  return { ok: false, taskId: job.taskId, attempt: job.attempt, kind: job.kind, computeMs: 0, error: { name, message, retryable: true } };
}
