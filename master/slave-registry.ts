import type { ReadyMessage } from '../proto/messages.js';
import type { TaskKind } from '../proto/task-kinds.js';
import type { Clock } from '../shared/clock.js';
import { Liveness } from '../shared/liveness.js';
import { IN_FLIGHT_BYTES } from '../proto/schema.js';
import type { SlaveSlots } from './scheduler.js';

/** What the master knows of one connected slave. */
export interface SlaveInfo {
  slaveId: string;
  /** Execution slots the slave advertised. */
  capacity: number;
  /** Extra tasks it accepts queued. */
  prefetch: number;
  kinds: ReadonlySet<TaskKind>;
  /** Largest message part it accepts, bytes (READY `maxMessageBytes`); undefined when it did not say. */
  maxMessageBytes: number | undefined;
  /** Largest image it decodes, px (READY `maxImagePixels`); undefined when it did not say. */
  maxImagePixels: number | undefined;
  host: ReadyMessage['host'];
  liveness: Liveness;
  /** Said DISCONNECT with `draining`: finishing what it holds, gets nothing new. */
  leaving: boolean;
  /** Tasks sent to it and not yet answered, by task id -> attempt. */
  inFlight: Map<number, number>;
  /** When it (last) sent READY, monotonic ms. */
  joinedAtMs: number;
  /** When the master last sent it anything, monotonic ms. */
  lastSentMs: number;
  /**
   * When it last showed progress through its queue (an answer, or a task reported started),
   * monotonic ms; `undefined` before the first. Tasks queued on it keep their leases while
   * it does (`TaskTable.expiredLeases`).
   */
  lastProgressMs: number | undefined;
  /**
   * It has reported a task started (HEARTBEAT `running`) that it holds: a task of its not
   * reported started has not started, so a lease run out while it was queued is no attempt.
   */
  reportsStarts: boolean;
  /**
   * With READY `receipts`: the image bytes of each TASK message sent to it in this session
   * and not yet said received (HEARTBEAT `received`), oldest first; undefined for a slave
   * that sends no receipts.
   */
  unconfirmed: number[] | undefined;
  /** Sum of {@link unconfirmed}, bytes. */
  unconfirmedBytes: number;
  /** TASK messages it has said received in this session. */
  confirmed: number;
  /** Its results accepted in this session. */
  tasksDone: number;
  /** Attempts that failed on it in this session, leases run out included (most are retried elsewhere). */
  tasksFailed: number;
  /** Sum of compute time of its successful tasks, ms. */
  computeMs: number;
}

/** Per-slave totals that outlive the slave's connection, for the report. */
export interface SlaveTotals {
  slaveId: string;
  hostname: string;
  /** The most workers it announced in any session. */
  capacity: number;
  /** {@link SlaveInfo.tasksDone}, {@link SlaveInfo.tasksFailed} and {@link SlaveInfo.computeMs} (ms), summed over its sessions. */
  tasksDone: number;
  tasksFailed: number;
  computeMs: number;
  /**
   * Worker time it offered, ms: its threads (capacity) times the time it was connected,
   * summed over its sessions (a restarted slave under the same id, a slave that joined
   * late). What its utilization and the batch's parallel efficiency divide by.
   */
  workerMs: number;
}

/**
 * Most tasks outstanding at a slave that has not answered one yet: four images' worth of
 * `kindCount` tasks, at least 16. A real slave answers its first image within a second
 * or so and then gets all the credit it announced.
 */
export function unprovenCredit(kindCount: number): number {
  return Math.max(16, 4 * kindCount);
}

/**
 * Whether a slave has answered a task in its current session. Until it has, it gets only
 * {@link unprovenCredit}, and what happens to its leases (lost, left, run out) is not held
 * against the tasks: a peer that READYs and never reads proves nothing about them.
 */
export function hasAnswered(slave: SlaveInfo | undefined): boolean {
  return slave !== undefined && slave.tasksDone > 0;
}

/**
 * The slaves the master knows, with their liveness and credit. Pure: time from a Clock.
 */
export class SlaveRegistry {
  private readonly slaves = new Map<string, SlaveInfo>();
  private readonly totals = new Map<string, SlaveTotals>();

  constructor(
    private readonly clock: Clock,
    private readonly heartbeatIntervalMs: number,
    private readonly heartbeatLiveness: number,
  ) {}

  /** Number of live slaves. */
  get size(): number {
    return this.slaves.size;
  }

  /** Looks up a slave. */
  get(slaveId: string): SlaveInfo | undefined {
    return this.slaves.get(slaveId);
  }

  /** All live slaves. */
  all(): SlaveInfo[] {
    return [...this.slaves.values()];
  }

  /** Registers (or re-registers, after a reconnect) a slave from its READY. */
  add(ready: ReadyMessage): SlaveInfo {
    const info: SlaveInfo = {
      slaveId: ready.slaveId,
      capacity: ready.capacity,
      prefetch: ready.prefetch,
      kinds: new Set(ready.kinds),
      maxMessageBytes: ready.maxMessageBytes,
      maxImagePixels: ready.maxImagePixels,
      host: ready.host,
      liveness: new Liveness(this.heartbeatIntervalMs, this.heartbeatLiveness, this.clock),
      leaving: false,
      inFlight: new Map(),
      joinedAtMs: this.clock.now(),
      lastSentMs: 0,
      lastProgressMs: undefined,
      reportsStarts: false,
      unconfirmed: ready.receipts === true ? [] : undefined,
      unconfirmedBytes: 0,
      confirmed: 0,
      tasksDone: 0,
      tasksFailed: 0,
      computeMs: 0,
    };
    if (ready.heartbeatIntervalMs !== undefined) info.liveness.peerInterval(ready.heartbeatIntervalMs);
    // A READY again within a session (a restart the master has not noticed yet) ends that session.
    this.closeSession(info.slaveId, info.joinedAtMs);
    this.slaves.set(info.slaveId, info);
    const t = this.totals.get(info.slaveId);
    if (t === undefined) {
      this.totals.set(info.slaveId, { slaveId: info.slaveId, hostname: ready.host.hostname, capacity: ready.capacity, tasksDone: 0, tasksFailed: 0, computeMs: 0, workerMs: 0 });
    } else {
      t.capacity = Math.max(t.capacity, ready.capacity);
    }
    return info;
  }

  /** Adds the worker time of a slave's open session, until `endMs`, to its totals. */
  private closeSession(slaveId: string, endMs: number): void {
    const s = this.slaves.get(slaveId);
    const t = this.totals.get(slaveId);
    if (s !== undefined && t !== undefined) t.workerMs += s.capacity * Math.max(0, endMs - s.joinedAtMs);
  }

  /** Forgets a slave (dead or gone); returns it if it was known. */
  remove(slaveId: string): SlaveInfo | undefined {
    const info = this.slaves.get(slaveId);
    this.closeSession(slaveId, this.clock.now());
    this.slaves.delete(slaveId);
    return info;
  }

  /**
   * Forgets every slave, their sessions closed at `endMs` (monotonic ms): the batch is over
   * and they were told so. The connected-slaves metrics read 0 from then on (they still
   * counted the slaves that had left while `--metrics-linger` served them).
   */
  removeAll(endMs: number): void {
    for (const slaveId of this.slaves.keys()) this.closeSession(slaveId, endMs);
    this.slaves.clear();
  }

  /** Slaves whose liveness ran out. */
  dead(): SlaveInfo[] {
    return this.all().filter((s) => s.liveness.isDead());
  }

  /**
   * Credit and workers of each live slave able to run all of `kinds` (leaving ones excluded).
   * A slave that has not answered a task yet in this session gets at most
   * {@link unprovenCredit} tasks, whatever it announced (TCP's slow start, in spirit): a
   * peer that announced 1,024 slots and 4,096 queued tasks and never read took the batch's
   * tasks until its leases ran out, while the real slaves waited.
   */
  credits(kinds: readonly TaskKind[]): SlaveSlots[] {
    const out: SlaveSlots[] = [];
    const unproven = unprovenCredit(kinds.length);
    for (const s of this.slaves.values()) {
      if (s.leaving || !kinds.every((k) => s.kinds.has(k))) continue;
      const announced = s.capacity + s.prefetch;
      const answered = hasAnswered(s);
      const limit = answered ? announced : Math.min(announced, unproven);
      // Positive with nothing on its way: an image over IN_FLIGHT_BYTES then goes alone.
      const byteCredit = s.unconfirmed === undefined ? undefined : IN_FLIGHT_BYTES - s.unconfirmedBytes;
      out.push({ slaveId: s.slaveId, credit: limit - s.inFlight.size, inFlight: s.inFlight.size, capacity: s.capacity, maxImageBytes: s.maxMessageBytes, maxImagePixels: s.maxImagePixels, answered, byteCredit });
    }
    return out;
  }

  /**
   * Notes a TASK message of `bytes` of images sent to `slave` (one that sends receipts;
   * nothing otherwise).
   */
  static sentTaskMessage(slave: SlaveInfo, bytes: number): void {
    if (slave.unconfirmed === undefined) return;
    slave.unconfirmed.push(bytes);
    slave.unconfirmedBytes += bytes;
  }

  /**
   * Takes a slave's HEARTBEAT `received` (TASK messages received in its session, a running
   * count): the messages up to it are no longer on their way. Returns whether any was.
   */
  static received(slave: SlaveInfo, received: number): boolean {
    const queue = slave.unconfirmed;
    if (queue === undefined) return false;
    let freed = false;
    while (slave.confirmed < received && queue.length > 0) {
      slave.unconfirmedBytes -= queue.shift() ?? 0;
      slave.confirmed++;
      freed = true;
    }
    return freed;
  }

  /** Counts a completed task for the report. */
  recordDone(slaveId: string, computeMs: number): void {
    const s = this.slaves.get(slaveId);
    if (s) {
      s.tasksDone++;
      s.computeMs += computeMs;
    }
    const t = this.totals.get(slaveId);
    if (t) {
      t.tasksDone++;
      t.computeMs += computeMs;
    }
  }

  /** Counts a failed attempt for the report. */
  recordFailed(slaveId: string): void {
    const s = this.slaves.get(slaveId);
    if (s) s.tasksFailed++;
    const t = this.totals.get(slaveId);
    if (t) t.tasksFailed++;
  }

  /** Whether a slave with this id ever sent READY in this batch. */
  everSeen(slaveId: string): boolean {
    return this.totals.has(slaveId);
  }

  /** Totals of every slave seen in this batch, the sessions still open counted until `endMs` (monotonic ms). */
  allTotals(endMs: number): SlaveTotals[] {
    return [...this.totals.values()].map((t) => {
      const s = this.slaves.get(t.slaveId);
      return s === undefined ? { ...t } : { ...t, workerMs: t.workerMs + s.capacity * Math.max(0, endMs - s.joinedAtMs) };
    });
  }
}
