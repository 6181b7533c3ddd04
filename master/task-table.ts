import { peekImageSize, type ImageSize } from '../shared/image-size.js';
import type { TaskKind } from '../proto/task-kinds.js';
import type { TaskResult } from '../proto/messages.js';
import type { WireError } from '../shared/errors.js';
import type { IngestItem } from './ingest/item.js';

/**
 * Life-cycle states of a task: pending -> leased -> done | failed; a retried or given-back
 * lease goes back to pending (the team's DESIGN.md, "Task life cycle", outside this repository).
 */
export type TaskState = 'pending' | 'leased' | 'done' | 'failed';

/** One task: one (image, kind) pair. */
export interface TaskEntry {
  taskId: number;
  imageId: number;
  kind: TaskKind;
  /** Index of this task in its image's `kinds`, `taskIds` and `outcomes`. */
  slot: number;
  state: TaskState;
  /**
   * The number of the current attempt: attempts started so far (BullMQ's `attemptsMade`),
   * plus {@link attemptsGivenBack}. Answers name their attempt by it. See {@link attemptsCounted}.
   */
  attemptsMade: number;
  /**
   * Attempt numbers given back that cannot be reused: a lease given back (its slave lost or
   * gone) while a backup copy, numbered above it, was running, which then took the lease
   * over under its own number. Not attempts of the task: a chain of peers that took
   * backups and were lost used up `--max-attempts` without one run.
   */
  attemptsGivenBack: number;
  /**
   * Attempts this task may use ({@link attemptsCounted}) before a failure is final: the
   * table's `maxAttempts`, or 1 for a kind a resumed batch recorded as out of time or
   * crashed (`lastChanceKinds`, journal.ts). Such a task is not put back in the queue
   * after a failure, but may still get a backup copy on an idle slave at the end of the
   * batch, up to the table's `maxAttempts`: its one attempt may be on the slave that hung.
   */
  maxAttempts: number;
  /** Leases given back without a verdict on the task: its slave was lost, left or refused it. */
  releases: number;
  /** Slave holding the current lease. */
  slaveId: string | undefined;
  /** When the current lease runs out, monotonic ms. */
  deadlineMs: number;
  /** When the current lease began, monotonic ms. */
  leasedAtMs: number;
  /**
   * When its slave reported the current attempt started on a worker (HEARTBEAT `running`),
   * monotonic ms; `undefined` while it is queued there (or the slave does not report starts).
   */
  startedAtMs: number | undefined;
  /** When the task was first queued, monotonic ms. */
  queuedAtMs: number;
  /**
   * Slaves that were sent this task, each once: the scheduler prefers another one on
   * retry, and only these may answer it (a slave keeps its claim after its lease is taken
   * away, so its late answer still counts). Freed with the task when its image completes.
   * Replaced, never pushed to: a task not yet sent shares one empty array.
   */
  triedBy: readonly string[];
  /**
   * Slaves that refused the task's image as over their own limits (`ImageTooLargeError`:
   * `--max-image-pixels`, `--max-image-bytes`): it never goes to them again, and such a
   * refusal uses no attempt (a Pi's refusals used up the attempts of an image a PC beside
   * it could run). Undefined until the first refusal.
   */
  refusedBy: string[] | undefined;
  /** The error of its last failed attempt (or the master's, for an image it could not read). */
  lastError: WireError | undefined;
  /** A second copy running on another slave near the end of the batch, if any. */
  backup: BackupLease | undefined;
}

/**
 * A backup copy of a leased task on a second slave, started when the batch has nothing
 * else left to hand out, so that a slow, hung or overloaded slave holding the last
 * tasks does not hold up the batch. Whichever copy answers first wins; the other's answer
 * is a duplicate. Google's MapReduce (Dean & Ghemawat, OSDI 2004), section 3.6, "Backup Tasks".
 */
export interface BackupLease {
  slaveId: string;
  /** The attempt number the copy was sent as: the primary's attempt + 1. */
  attempt: number;
  /** When the copy was sent, monotonic ms. */
  leasedAtMs: number;
  /** The lease the copy takes over if the primary's attempt fails, monotonic ms. */
  deadlineMs: number;
  /** When its slave reported the copy started, monotonic ms (see {@link TaskEntry.startedAtMs}). */
  startedAtMs: number | undefined;
}

/** The final outcome of one task, as merged into its image's record. */
export type KindOutcome =
  | { ok: true; result: TaskResult; slaveId: string; attempts: number }
  | { ok: false; error: WireError; attempts: number; slaveId: string | undefined };

/**
 * One image in flight: its tasks and their outcomes so far. `kinds`, `taskIds` and
 * `outcomes` are parallel arrays (plain arrays, not a Map per image: the master holds
 * thousands of these, and each Map cost ~200 bytes of young garbage).
 */
export interface ImageEntry {
  imageId: number;
  item: IngestItem;
  /** Encoded bytes, kept until every task of the image has an outcome (for retries). */
  bytes: Buffer | undefined;
  /** Length of `bytes` when added, counted in {@link TaskTable.bytesHeld} until the image leaves the table. */
  sizeBytes: number;
  /** The batch's task kinds (shared, not copied). */
  kinds: readonly TaskKind[];
  taskIds: number[];
  /** Final outcome per slot, `undefined` while that task runs. */
  outcomes: (KindOutcome | undefined)[];
  /** Slots with a final outcome. */
  outcomeCount: number;
  /**
   * Width and height its header gives, px ({@link peekImageSize}), read when first needed
   * ({@link imageHeader}); null when the header cannot be read (the slave decides then).
   */
  header?: ImageSize | null;
}

/** The image's size from its header, read once and kept on the entry; undefined when unknown. */
export function imageHeader(image: ImageEntry): ImageSize | undefined {
  if (image.header === undefined) image.header = (image.bytes === undefined ? undefined : peekImageSize(image.bytes)) ?? null;
  return image.header ?? undefined;
}

/** The final outcome of an image's task of `kind`, if it has one. */
export function outcomeOf(image: ImageEntry, kind: TaskKind): KindOutcome | undefined {
  const slot = image.kinds.indexOf(kind);
  return slot < 0 ? undefined : image.outcomes[slot];
}

const NONE: ImageEntry[] = [];
const NO_KINDS: readonly TaskKind[] = [];
const NEVER = (): boolean => false;
/** `triedBy` of every task not sent yet. */
const NOBODY: readonly string[] = [];

/**
 * Leases of one task given back without an answer (its slave was lost, left or refused it)
 * before the task fails. Losing a slave says nothing about the task, so it does not use up
 * `--max-attempts` (three slaves killed in a row, or three peers that READY and never read,
 * failed whole images for good); this bound only keeps a task that somehow takes its slave
 * down every time from going round forever.
 */
export const DEFAULT_MAX_RELEASES = 10;

/** The attempts a task has used (started and not given back): what `--max-attempts` limits and the records show. */
export function attemptsCounted(t: TaskEntry): number {
  return t.attemptsMade - t.attemptsGivenBack;
}

/** What {@link TaskTable.complete} and {@link TaskTable.fail} made of a message. */
export type Disposition = 'accepted' | 'duplicate' | 'unknown' | 'retry' | 'failed' | 'backup-dropped';

/**
 * The master's table of tasks and images in flight. Pure: no I/O, time passed in.
 *
 * Invariants: each task is in exactly one state; a pending task is in the pending queue
 * exactly once; an image leaves the table (via {@link TaskTable.takeCompleted}) only
 * once every task has a final outcome, so each record holds exactly one result per kind.
 * Results are keyed by task id: a late or duplicate result for a task already done is
 * reported as `duplicate` and changes nothing.
 */
export class TaskTable {
  private readonly tasks = new Map<number, TaskEntry>();
  private readonly images = new Map<number, ImageEntry>();
  private pending: number[] = [];
  private pendingHead = 0;
  private readonly completed: ImageEntry[] = [];
  private nextTaskId = 0;
  private nextImageId = 0;

  /**
   * @param maxAttempts - attempts per task before it is recorded as failed (>= 1), unless
   *   {@link TaskTable.addImage} gives the task one
   * @param maxReleases - leases given back without an answer (slave lost, left, refused)
   *   before the task is recorded as failed; these do not use up attempts
   * @param keepCompletedBytes - keep a completed image's bytes until {@link TaskTable.takeCompleted}
   *   hands it over (for `--annotate`); otherwise they are dropped as soon as it completes
   */
  constructor(
    readonly maxAttempts: number,
    private readonly keepCompletedBytes = false,
    readonly maxReleases = DEFAULT_MAX_RELEASES,
  ) {}

  /** Encoded bytes of the images in the table, bytes. */
  bytesHeld = 0;

  /** Images in the table (loaded and not yet taken out as complete). */
  get imageCount(): number {
    return this.images.size;
  }

  /** Tasks waiting for a slave. */
  get pendingCount(): number {
    return this.pending.length - this.pendingHead;
  }

  /** Tasks ever created; ids below this were issued by this table. */
  get issuedTaskIds(): number {
    return this.nextTaskId;
  }

  /** Looks up a task. */
  task(taskId: number): TaskEntry | undefined {
    return this.tasks.get(taskId);
  }

  /**
   * Whether `slaveId` may answer task `taskId`: true when the task was sent to it, or when
   * the task is no longer in the table (then {@link TaskTable.complete} and
   * {@link TaskTable.fail} call the answer a duplicate or unknown).
   */
  mayAnswer(taskId: number, slaveId: string): boolean {
    const t = this.tasks.get(taskId);
    return t === undefined || t.triedBy.includes(slaveId);
  }

  /** Looks up an image. */
  image(imageId: number): ImageEntry | undefined {
    return this.images.get(imageId);
  }

  /**
   * Adds an image with one pending task per kind. With `error` set (the master could not
   * read it), every task fails at once with that error and the image completes. The
   * tasks of the kinds in `oneAttempt` may use one attempt, the others `maxAttempts`.
   */
  addImage(item: IngestItem, kinds: readonly TaskKind[], bytes: Buffer | undefined, nowMs: number, error?: WireError, oneAttempt: readonly TaskKind[] = NO_KINDS): ImageEntry {
    // Arrays made at their final size: a `[]` grown by push reserves 17 slots.
    const firstTaskId = this.nextTaskId;
    this.nextTaskId += kinds.length;
    const taskIds = new Array<number>(kinds.length);
    const outcomes = new Array<KindOutcome | undefined>(kinds.length);
    for (let slot = 0; slot < kinds.length; slot++) {
      taskIds[slot] = firstTaskId + slot;
      outcomes[slot] = undefined;
    }
    const image: ImageEntry = { imageId: this.nextImageId++, item, bytes, sizeBytes: bytes?.length ?? 0, kinds, taskIds, outcomes, outcomeCount: 0 };
    this.bytesHeld += image.sizeBytes;
    this.images.set(image.imageId, image);
    for (let slot = 0; slot < kinds.length; slot++) {
      const kind = kinds[slot] as TaskKind;
      const task: TaskEntry = {
        taskId: firstTaskId + slot,
        imageId: image.imageId,
        kind,
        slot,
        state: error ? 'failed' : 'pending',
        attemptsMade: 0,
        attemptsGivenBack: 0,
        maxAttempts: oneAttempt.length > 0 && oneAttempt.includes(kind) ? 1 : this.maxAttempts,
        releases: 0,
        slaveId: undefined,
        deadlineMs: 0,
        leasedAtMs: 0,
        startedAtMs: undefined,
        queuedAtMs: nowMs,
        triedBy: NOBODY,
        refusedBy: undefined,
        lastError: error,
        backup: undefined,
      };
      this.tasks.set(task.taskId, task);
      if (error) setOutcome(image, slot, { ok: false, error, attempts: 0, slaveId: undefined });
      else this.pending.push(task.taskId);
    }
    this.checkComplete(image);
    return image;
  }

  /**
   * Pending tasks in queue order, without removing them (at most `limit`).
   * The scheduler picks from these and calls {@link TaskTable.lease}.
   */
  peekPending(limit: number): TaskEntry[] {
    const out: TaskEntry[] = [];
    for (let i = this.pendingHead; i < this.pending.length && out.length < limit; i++) {
      const t = this.tasks.get(this.pending[i] ?? -1);
      if (t && t.state === 'pending') out.push(t);
    }
    return out;
  }

  /**
   * Leases pending tasks to a slave, each until `nowMs` + `deadlineFor(kind)` (its kind's
   * lease, ms); counts one attempt each.
   *
   * @throws Error when a task is not pending (a scheduler bug)
   */
  lease(taskIds: readonly number[], slaveId: string, nowMs: number, deadlineFor: (kind: TaskKind) => number): void {
    for (const id of taskIds) {
      const t = this.tasks.get(id);
      if (t?.state !== 'pending') throw new Error(`task ${id} is not pending`);
      t.state = 'leased';
      t.slaveId = slaveId;
      t.attemptsMade++;
      t.leasedAtMs = nowMs;
      t.startedAtMs = undefined;
      t.deadlineMs = nowMs + deadlineFor(t.kind);
      if (t.triedBy.length === 0) t.triedBy = [slaveId];
      else if (!t.triedBy.includes(slaveId)) t.triedBy = [...t.triedBy, slaveId];
    }
    this.dropNotPending(taskIds.length);
  }

  /**
   * Leased tasks that `slaveId` could run as backups, newest lease first (those are the
   * likeliest to be still queued behind other work on their slave): not leased to it,
   * never sent to it, with an attempt left, and without a backup yet, or with one on a
   * slave for which `replaceable` is true (those last).
   *
   * @param replaceable - whether a backup held by that slave may move to `slaveId`: the
   *   master's rule is a slave that has answered nothing (a peer that takes tasks and never
   *   answers held the last image's backup while a real slave sat idle)
   */
  backupCandidates(slaveId: string, replaceable: (holder: string) => boolean = NEVER): TaskEntry[] {
    const out: TaskEntry[] = [];
    for (const t of this.tasks.values()) {
      if (t.state === 'leased' && (t.backup === undefined || replaceable(t.backup.slaveId)) && attemptsCounted(t) < this.maxAttempts && !t.triedBy.includes(slaveId)) out.push(t);
    }
    // Tasks without a backup first.
    out.sort((a, b) => Number(a.backup !== undefined) - Number(b.backup !== undefined) || b.leasedAtMs - a.leasedAtMs || a.taskId - b.taskId);
    return out;
  }

  /**
   * Sends backup copies of leased tasks to a second slave: each gets attempt
   * `attemptsMade + 1` there (counted in `attemptsMade` only if it takes over the lease).
   * A backup already held by a slave for which `replaceable` is true moves to `slaveId`
   * (the other copy's answer then counts as a duplicate).
   *
   * @throws Error when a task is not leased, already has a backup that may not move, has no
   *   attempt left or was already sent to `slaveId` (a scheduler bug)
   */
  leaseBackup(taskIds: readonly number[], slaveId: string, nowMs: number, deadlineFor: (kind: TaskKind) => number, replaceable: (holder: string) => boolean = NEVER): void {
    for (const id of taskIds) {
      const t = this.tasks.get(id);
      if (t?.state !== 'leased' || (t.backup !== undefined && !replaceable(t.backup.slaveId)) || attemptsCounted(t) >= this.maxAttempts || t.triedBy.includes(slaveId)) {
        throw new Error(`task ${id} cannot be backed up on ${slaveId}`);
      }
      t.backup = { slaveId, attempt: t.attemptsMade + 1, leasedAtMs: nowMs, deadlineMs: nowMs + deadlineFor(t.kind), startedAtMs: undefined };
      t.triedBy = [...t.triedBy, slaveId];
    }
  }

  /** Notes that `slaveId` refused the task's image as over its own limits ({@link TaskEntry.refusedBy}). */
  markRefused(taskId: number, slaveId: string): void {
    const t = this.tasks.get(taskId);
    if (t === undefined) return;
    if (t.refusedBy === undefined) t.refusedBy = [slaveId];
    else if (!t.refusedBy.includes(slaveId)) t.refusedBy.push(slaveId);
  }

  /** Forgets the refusals of `slaveId` ({@link markRefused}): it started a new session, perhaps with other limits. */
  clearRefusalsBy(slaveId: string): void {
    for (const t of this.tasks.values()) {
      if (t.refusedBy === undefined) continue;
      const rest = t.refusedBy.filter((id) => id !== slaveId);
      t.refusedBy = rest.length > 0 ? rest : undefined;
    }
  }

  /** Forgets the backup copies held by `slaveId` (it is gone); the tasks keep their primary leases. */
  dropBackupsOf(slaveId: string): void {
    for (const t of this.tasks.values()) if (t.backup?.slaveId === slaveId) t.backup = undefined;
  }

  /**
   * Records a task's result. Accepted when the task has no final outcome yet, whoever
   * holds its lease (a late result is still a correct one); otherwise a duplicate.
   */
  complete(result: TaskResult, slaveId: string): Disposition {
    const t = this.tasks.get(result.taskId);
    if (t === undefined) return result.taskId < this.nextTaskId ? 'duplicate' : 'unknown';
    if (t.kind !== result.kind) return 'unknown';
    if (t.state === 'done' || t.state === 'failed') return 'duplicate';
    const image = this.images.get(t.imageId);
    if (image === undefined) return 'duplicate';
    const wasPending = t.state === 'pending';
    t.state = 'done';
    if (wasPending) this.dropNotPending(1);
    t.slaveId = slaveId;
    t.backup = undefined;
    setOutcome(image, t.slot, { ok: true, result, slaveId, attempts: Math.max(1, Math.max(t.attemptsMade, result.attempt) - t.attemptsGivenBack) });
    this.checkComplete(image);
    return 'accepted';
  }

  /**
   * Records a failed attempt. A retryable error with attempts left puts the task back at
   * the head of the queue (`retry`); otherwise the task fails for good (`failed`).
   * An answer for an attempt that is no longer current (the task was re-leased) only
   * counts if the task is still leased to that slave. With `countsAsAttempt` false (the
   * slave was lost or left, or refused the task because it is leaving) the attempt is given
   * back, and the task fails only after `maxReleases` such give-backs (those with
   * `countsAsRelease`: a slave that never answered anything proves nothing about the task).
   *
   * With a backup copy running: a retryable failure of the primary hands the lease to the
   * backup (`retry`, nothing requeued); a retryable failure of the backup only drops it
   * (`backup-dropped`); a non-retryable failure of either is final (the input is bad).
   */
  fail(taskId: number, attempt: number, slaveId: string | undefined, error: WireError, countsAsAttempt = true, countsAsRelease = true): Disposition {
    const t = this.tasks.get(taskId);
    if (t === undefined) return taskId < this.nextTaskId ? 'duplicate' : 'unknown';
    const b = t.backup;
    if (t.state === 'leased' && b !== undefined && slaveId === b.slaveId && attempt === b.attempt) {
      t.backup = undefined;
      if (error.retryable) return 'backup-dropped';
      t.attemptsMade = b.attempt;
      t.slaveId = slaveId;
      return this.failForGood(t, error);
    }
    if (t.state !== 'leased' || t.attemptsMade !== attempt || (slaveId !== undefined && t.slaveId !== slaveId)) return 'duplicate';
    if (!countsAsAttempt) {
      t.attemptsMade--;
      if (countsAsRelease) t.releases++;
      if (t.releases >= this.maxReleases) {
        // Leases that ran out before the task started say its slave was busy or hung, not
        // that it cannot run: a resume runs it (once: journal.ts lastChanceKinds). Slaves
        // lost with it, that often, say the image takes them down.
        const mayPass = error.retryable && error.name === 'LeaseExpiredError';
        return this.failForGood(t, { ...error, retryable: mayPass, message: `${error.message} (the task was given back ${t.releases} times without an answer)` });
      }
    }
    t.lastError = error;
    if (b !== undefined && error.retryable) {
      t.backup = undefined;
      // The backup's number is above the given-back one, which stays spent.
      if (!countsAsAttempt) t.attemptsGivenBack++;
      t.attemptsMade = b.attempt;
      t.slaveId = b.slaveId;
      t.leasedAtMs = b.leasedAtMs;
      t.deadlineMs = b.deadlineMs;
      t.startedAtMs = b.startedAtMs;
      return 'retry';
    }
    if (error.retryable && attemptsCounted(t) < t.maxAttempts) {
      t.state = 'pending';
      t.slaveId = undefined;
      this.requeueFront(t.taskId);
      return 'retry';
    }
    return this.failForGood(t, error);
  }

  /**
   * Fails a task still waiting in the queue, for good (no slave can take it).
   *
   * @returns `failed`, or `unknown` when it is not pending
   */
  failPending(taskId: number, error: WireError): Disposition {
    const t = this.tasks.get(taskId);
    if (t?.state !== 'pending') return 'unknown';
    const d = this.failForGood(t, error);
    this.dropNotPending(1);
    return d;
  }

  private failForGood(t: TaskEntry, error: WireError): Disposition {
    t.state = 'failed';
    t.lastError = error;
    t.backup = undefined;
    const image = this.images.get(t.imageId);
    if (image) {
      setOutcome(image, t.slot, { ok: false, error, attempts: attemptsCounted(t), slaveId: t.slaveId });
      this.checkComplete(image);
    }
    return 'failed';
  }

  /**
   * Restarts the lease of an attempt its slave reports started on a worker: it now runs out
   * `deadlineFor(kind)` ms from `nowMs`, whatever time the task spent queued there. Only the
   * first report of an attempt counts (a slave cannot keep one task alive by repeating it).
   *
   * @returns whether the report matched the current attempt (or the backup copy) held by `slaveId`
   */
  started(taskId: number, attempt: number, slaveId: string, nowMs: number, deadlineFor: (kind: TaskKind) => number): boolean {
    const t = this.tasks.get(taskId);
    if (t?.state !== 'leased') return false;
    const b = t.backup;
    if (b !== undefined && b.slaveId === slaveId && b.attempt === attempt) {
      if (b.startedAtMs !== undefined) return false;
      b.startedAtMs = nowMs;
      b.deadlineMs = nowMs + deadlineFor(t.kind);
      return true;
    }
    if (t.slaveId !== slaveId || t.attemptsMade !== attempt || t.startedAtMs !== undefined) return false;
    t.startedAtMs = nowMs;
    t.deadlineMs = nowMs + deadlineFor(t.kind);
    return true;
  }

  /**
   * Leased tasks whose lease has run out at `nowMs`. A task not reported started is still
   * queued on its slave, behind the others it holds: while that slave shows progress (an
   * answer or a start, `lastProgressMs`), the lease is renewed from its latest progress
   * instead, so a slow slave's queue does not run out its leases; so it is while that slave
   * runs a started task within that task's lease (until that lease ends). A hung slave
   * shows no progress and its running tasks' leases run out, so its queued tasks still run
   * out one lease after its last progress.
   */
  expiredLeases(nowMs: number, lastProgressMs: (slaveId: string) => number | undefined, deadlineFor: (kind: TaskKind) => number): TaskEntry[] {
    const out: TaskEntry[] = [];
    let busyUntil: Map<string, number> | undefined;
    for (const t of this.tasks.values()) {
      if (t.state !== 'leased' || t.deadlineMs > nowMs) continue;
      if (t.startedAtMs === undefined && t.slaveId !== undefined) {
        const progress = lastProgressMs(t.slaveId);
        const renewed = progress === undefined ? undefined : progress + deadlineFor(t.kind);
        if (renewed !== undefined && renewed > nowMs) {
          t.deadlineMs = renewed;
          continue;
        }
        // Queued behind tasks that run within their own leases (a 48-megapixel photo's
        // object task takes minutes): the slave is busy, not hung. Given back, such tasks
        // were only sent to the same slave again, image bytes and all.
        busyUntil ??= this.runningLeaseEnds(nowMs);
        const busy = busyUntil.get(t.slaveId);
        if (busy !== undefined) {
          t.deadlineMs = busy;
          continue;
        }
      }
      out.push(t);
    }
    return out;
  }

  /** For each slave running a task (reported started) whose lease has not run out, when the last such lease ends, ms. */
  private runningLeaseEnds(nowMs: number): Map<string, number> {
    const out = new Map<string, number>();
    for (const t of this.tasks.values()) {
      if (t.state !== 'leased' || t.slaveId === undefined || t.startedAtMs === undefined || t.deadlineMs <= nowMs) continue;
      out.set(t.slaveId, Math.max(out.get(t.slaveId) ?? 0, t.deadlineMs));
    }
    return out;
  }

  /**
   * The tasks of image `imageId` leased to `slaveId` and not reported started: queued there.
   * A slave runs an image's tasks on one worker in one request (slave/pool/child-pool.ts), so
   * when one of them has run past its lease these wait behind it on a worker that is hung
   * or far too slow, however much progress the slave's other workers make.
   */
  queuedBehind(slaveId: string, imageId: number): TaskEntry[] {
    const image = this.images.get(imageId);
    if (image === undefined) return [];
    const out: TaskEntry[] = [];
    for (const id of image.taskIds) {
      const t = this.tasks.get(id);
      if (t?.state === 'leased' && t.slaveId === slaveId && t.startedAtMs === undefined) out.push(t);
    }
    return out;
  }

  /** Tasks currently leased to `slaveId`. */
  leasesOf(slaveId: string): TaskEntry[] {
    const out: TaskEntry[] = [];
    for (const t of this.tasks.values()) if (t.state === 'leased' && t.slaveId === slaveId) out.push(t);
    return out;
  }

  /** Removes and returns the images whose every task has a final outcome. */
  takeCompleted(): ImageEntry[] {
    if (this.completed.length === 0) return NONE;
    const done = this.completed.splice(0);
    for (const image of done) {
      this.images.delete(image.imageId);
      this.bytesHeld -= image.sizeBytes;
      for (const id of image.taskIds) this.tasks.delete(id);
    }
    return done;
  }

  private checkComplete(image: ImageEntry): void {
    if (image.outcomeCount === image.taskIds.length) {
      if (!this.keepCompletedBytes) image.bytes = undefined;
      this.completed.push(image);
    }
  }

  private requeueFront(taskId: number): void {
    if (this.pendingHead > 0) {
      this.pendingHead--;
      this.pending[this.pendingHead] = taskId;
    } else {
      this.pending.unshift(taskId);
    }
  }

  /**
   * Takes out of the pending queue the `count` tasks whose state just left `pending`
   * (leased, done, or failed for good). Leased ones are almost always at its head (the
   * scheduler takes them in queue order); a Set of their ids per lease cost the dispatch
   * bench ~100 bytes of garbage a task.
   */
  private dropNotPending(count: number): void {
    let skipped = 0;
    while (this.pendingHead < this.pending.length && this.tasks.get(this.pending[this.pendingHead] ?? -1)?.state !== 'pending') {
      this.pendingHead++;
      skipped++;
    }
    if (skipped !== count) {
      // Some were further back: keep only the tasks still pending.
      this.pending = this.pending.slice(this.pendingHead).filter((id) => this.tasks.get(id)?.state === 'pending');
      this.pendingHead = 0;
    } else if (this.pendingHead > 4096 && this.pendingHead * 2 > this.pending.length) {
      this.pending = this.pending.slice(this.pendingHead);
      this.pendingHead = 0;
    }
  }
}

function setOutcome(image: ImageEntry, slot: number, outcome: KindOutcome): void {
  if (image.outcomes[slot] === undefined) image.outcomeCount++;
  image.outcomes[slot] = outcome;
}
