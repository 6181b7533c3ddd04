import { randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { isRunning, KILLED_FROM_OUTSIDE } from '../shared/child-process.js';
import { relayLogLines, type Logger } from '../shared/logger.js';
import { localSlaveMemoryBudgetMb } from '../shared/memory.js';
import { projectPath } from '../shared/project-path.js';

const SLAVE_BIN = projectPath('bin/slave.js');

/** Time a local slave gets to leave after SIGTERM before it is SIGKILLed, ms. */
export const LOCAL_SLAVE_STOP_GRACE_MS = 3000;
/**
 * `--drain-timeout` of a local slave, ms: shorter than {@link LOCAL_SLAVE_STOP_GRACE_MS}, so
 * that the slave ends its own stop, which kills its workers, before the master kills it. A
 * SIGKILLed slave leaves a worker stuck in a task running: a stuck worker never sees its
 * channel close.
 */
export const LOCAL_SLAVE_DRAIN_MS = 2000;

/** Options of {@link LocalSlaves}. */
export interface LocalSlavesOptions {
  /** Slave processes to start. */
  count: number;
  /** Worker processes per slave. */
  threads: number;
  /** Endpoint the master bound. */
  endpoint: string;
  heartbeatIntervalMs: number;
  /** Missed heartbeats before a slave takes the master for gone. */
  heartbeatLiveness: number;
  /** The slaves' `--log-level`. */
  logLevel: string;
  /** Slaves log JSON lines too, so that `master --log-json` output stays JSON only. */
  logJson?: boolean;
  logger: Logger;
  /** With CURVE: the local slaves' (temporary) secret key file and the master's public key file. */
  curve?: { secretKeyFile: string; masterPublicKeyFile: string } | undefined;
  /** Told when a local slave's process ends mid-batch, with its slave id and how it ended ("was killed (SIGKILL...)"). */
  onEnded?: (slaveId: string, how: string) => void;
}

/** Restarts of one local slave within {@link RESTART_WINDOW_MS} before the next waits for that window to pass (a crash loop). */
export const LOCAL_SLAVE_MAX_RESTARTS = 5;
/** Window of {@link LOCAL_SLAVE_MAX_RESTARTS}, ms. */
const RESTART_WINDOW_MS = 60_000;
/** Wait before restarting a local slave that ended, ms (doubled per restart within the window). */
const RESTART_DELAY_MS = 500;

/**
 * Slave processes the master starts on its own machine (`--local-slaves N`), so one
 * command processes a folder with no other set-up. Each is a normal `slave` process
 * with an IPC channel to the master: if the master dies, even by SIGKILL, the channel
 * closes and the slave leaves by itself (`--exit-with-parent`), so no slave is orphaned.
 *
 * A local slave that ends while the batch runs (the out-of-memory killer, a user's
 * `kill`, a crash) or that the master took for dead while it runs ({@link killHung}) is
 * started again under the same slave id, at most {@link LOCAL_SLAVE_MAX_RESTARTS} times
 * a minute: with none left, a master bound to loopback waited for ever for a slave no one
 * would start (found by QA).
 */
export class LocalSlaves {
  private readonly procs: ChildProcess[] = [];
  /** When each slave was last restarted (monotonic ms, the window's). */
  private readonly restarts: number[][] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopping = false;
  /** Local slaves {@link killHung} killed, so that their end is not blamed on the OOM killer. */
  private readonly killedHung = new Set<number>();
  /**
   * Random hex that ends each local slave's id: with the master's PID alone, a peer on an
   * insecure bind could claim a local slave's id before it joined and have it expelled as a
   * duplicate (QA). 24 bits against a guess per READY.
   */
  private readonly nonce = randomBytes(3).toString('hex');

  constructor(private readonly options: LocalSlavesOptions) {}

  /** The slave id of local slave `i` (from 0): `local-PID-N-NONCE`, N from 1. */
  private slaveId(i: number): string {
    return `local-${process.pid}-${i + 1}-${this.nonce}`;
  }

  /** The index (from 0) of the local slave whose id is `slaveId` ({@link slaveId}); undefined for another slave's. */
  private indexOf(slaveId: string): number | undefined {
    for (let i = 0; i < this.options.count; i++) if (slaveId === this.slaveId(i)) return i;
    return undefined;
  }

  /** Whether `slaveId` is one of these local slaves'. */
  owns(slaveId: string): boolean {
    return this.indexOf(slaveId) !== undefined;
  }

  /**
   * The master took local slave `slaveId` for dead (no heartbeat) while its process still
   * runs (stopped, or hung): it is killed, and so started again. Before, a SIGSTOPped local
   * slave held the batch until SIGCONT (found by QA).
   *
   * @returns whether a process was killed
   */
  killHung(slaveId: string): boolean {
    const i = this.indexOf(slaveId);
    const proc = i === undefined ? undefined : this.procs[i];
    if (this.stopping || i === undefined || proc === undefined || !isRunning(proc)) return false;
    this.killedHung.add(i);
    proc.kill('SIGKILL');
    return true;
  }

  /** PIDs of the running local slaves. */
  get pids(): number[] {
    return this.procs.flatMap((p) => (p.pid !== undefined && isRunning(p) ? [p.pid] : []));
  }

  /** Starts the slaves (does not wait for them to connect). */
  start(): void {
    for (let i = 0; i < this.options.count; i++) {
      this.restarts.push([]);
      this.procs.push(this.spawnSlave(i));
    }
  }

  private spawnSlave(i: number): ChildProcess {
    const o = this.options;
    // One slave measures the memory free once its workers are ready; several started at
    // once would each count the same memory as their own.
    const memory = o.count > 1 ? ['--memory-budget', String(localSlaveMemoryBudgetMb(o.count, o.threads))] : [];
    const args = [
      SLAVE_BIN,
      ...memory,
      '--connect', o.endpoint,
      '--threads', String(o.threads),
      '--slave-id', this.slaveId(i),
      '--heartbeat-interval', String(o.heartbeatIntervalMs),
      '--heartbeat-liveness', String(o.heartbeatLiveness),
      // Back-off capped at 2 s, not 32 s: the master is on this machine, so a local slave that
      // lost it tries again soon.
      '--reconnect-max', '2000',
      '--drain-timeout', String(LOCAL_SLAVE_DRAIN_MS),
      '--log-level', o.logLevel,
      ...(o.logJson === true ? ['--log-json'] : []),
      '--exit-with-parent',
      ...(o.curve === undefined ? [] : ['--curve-secret-key', o.curve.secretKeyFile, '--master-public-key', o.curve.masterPublicKeyFile]),
    ];
    // Their log lines go through this process's, so a progress bar can make room for them.
    // A process group of their own: a terminal's Ctrl-C goes to the foreground group, and the
    // slave's own SIGINT then met the master's SIGTERM as a second signal ("exiting at once").
    // The master stops them (stop()); they leave with it by --exit-with-parent.
    const proc = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], detached: true });
    relayLogLines(proc.stderr, (text) => {
      this.options.logger.warn(`local slave ${i + 1}: ${text}`);
    });
    proc.on('exit', (code, signal) => {
      if (!this.stopping) this.ended(i, code, signal);
    });
    return proc;
  }

  /**
   * A local slave ended while the batch runs: said, and started again, at once the first
   * time and then after a wait that doubles; past {@link LOCAL_SLAVE_MAX_RESTARTS} in a
   * minute (a crash loop), once the minute of the oldest of them is over.
   */
  private ended(i: number, code: number | null, signal: NodeJS.Signals | null): void {
    const o = this.options;
    const byMaster = this.killedHung.delete(i) && signal === 'SIGKILL';
    const how = byMaster ? 'was killed by the master for its silence' : signal === 'SIGKILL' ? `was killed (${KILLED_FROM_OUTSIDE})` : `exited (${signal ?? `code ${code ?? '?'}`})`;
    o.onEnded?.(this.slaveId(i), how);
    const now = performance.now();
    const recent = (this.restarts[i] ?? []).filter((t) => now - t < RESTART_WINDOW_MS);
    this.restarts[i] = recent;
    let delayMs = recent.length === 0 ? 0 : RESTART_DELAY_MS * 2 ** recent.length;
    if (recent.length >= LOCAL_SLAVE_MAX_RESTARTS) {
      delayMs = Math.max(delayMs, (recent[0] ?? now) + RESTART_WINDOW_MS - now);
      const why = signal === 'SIGKILL' && !byMaster ? '' : ' (its log lines above say why)';
      o.logger.error(`local slave ${i + 1} ${how}, its ${recent.length + 1}th end within a minute${why}: starting it again in ${Math.round(delayMs / 1000)} s; meanwhile the batch waits for another slave (or Ctrl-C, and --resume later)`);
    } else {
      o.logger.warn(`local slave ${i + 1} ${how}; starting it again${delayMs > 0 ? ` in ${delayMs} ms` : ''} (its tasks run again, using no attempt)`);
    }
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (this.stopping) return;
      this.restarts[i]?.push(performance.now());
      this.procs[i] = this.spawnSlave(i);
    }, delayMs);
    this.timers.add(t);
  }

  /** Stops every local slave: SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = LOCAL_SLAVE_STOP_GRACE_MS): Promise<void> {
    this.stopping = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await Promise.all(
      this.procs.map(
        (p) =>
          new Promise<void>((resolve) => {
            if (!isRunning(p)) {
              resolve();
              return;
            }
            const t = setTimeout(() => p.kill('SIGKILL'), graceMs);
            p.once('exit', () => {
              clearTimeout(t);
              resolve();
            });
            p.kill('SIGTERM');
          }),
      ),
    );
  }
}
