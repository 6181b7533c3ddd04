import type { Clock } from './clock.js';

/**
 * Default heartbeat interval, ms. ZeroMQ Guide ch.4 (Paranoid Pirate): `HEARTBEAT_INTERVAL 1000`.
 */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 1000;

/**
 * Default liveness: heartbeats a peer may miss before it is declared dead.
 * ZeroMQ Guide ch.4 (Paranoid Pirate): `HEARTBEAT_LIVENESS 3`.
 */
export const DEFAULT_HEARTBEAT_LIVENESS = 3;

/** Longest heartbeat interval the command lines and the protocol take, ms (10 minutes). */
export const MAX_HEARTBEAT_INTERVAL_MS = 600_000;

/**
 * Least liveness the command lines take: with 1, one heartbeat late by a millisecond (a GC
 * pause, a busy core) declared the peer dead, and at 100 ms intervals the slaves were lost
 * and rejoined once a second with no task ever finished (a tester's batch ran forever).
 */
export const MIN_HEARTBEAT_LIVENESS = 2;

/**
 * Below this silence window (interval x liveness, ms) a warning is logged: an event loop
 * held that long (GC, a loaded machine) declares a live peer dead.
 */
export const SHORT_SILENCE_MS = 500;

/**
 * The warning for a silence window under {@link SHORT_SILENCE_MS}, or undefined.
 *
 * @param side - who is warned: what it loses to a false "dead" differs
 */
export function shortSilenceWarning(intervalMs: number, liveness: number, side: 'master' | 'slave'): string | undefined {
  const windowMs = intervalMs * liveness;
  if (windowMs >= SHORT_SILENCE_MS) return undefined;
  const loss = side === 'master' ? "losing live slaves and their tasks' progress" : 'dropping its tasks in hand and reconnecting to a live master';
  return `--heartbeat-interval ${intervalMs} x --heartbeat-liveness ${liveness} = ${windowMs} ms of silence declares a peer dead: a busy or loaded machine can miss that, ${loss} (the defaults give 3000 ms)`;
}

/**
 * Tracks one peer's liveness, Paranoid Pirate style: any message heard from the peer
 * resets it; the peer is dead once `intervalMs * liveness` ms pass in silence (with the
 * peer's interval instead when it announced a longer one: {@link Liveness.peerInterval}).
 * Pure: time comes from the injected {@link Clock}.
 */
export class Liveness {
  private lastHeardMs: number;
  private peerIntervalMs: number | undefined;

  /**
   * @param intervalMs - heartbeat interval, ms (> 0)
   * @param liveness - missed heartbeats tolerated (>= 1)
   * @param clock - time source
   */
  constructor(
    readonly intervalMs: number,
    readonly liveness: number,
    private readonly clock: Clock,
  ) {
    this.lastHeardMs = clock.now();
  }

  /** Records that something was heard from the peer now. */
  heard(): void {
    this.lastHeardMs = this.clock.now();
  }

  /**
   * Records the heartbeat interval the peer announced, ms (READY, HEARTBEAT
   * `heartbeatIntervalMs`). A peer that beats slower than this side is judged by its own
   * interval: a master and a slave given different `--heartbeat-interval`s declared each
   * other dead between two of the slower side's heartbeats, over and over, and a batch of
   * slow images never finished.
   */
  peerInterval(ms: number): void {
    this.peerIntervalMs = ms;
  }

  /** The interval silence is counted in, ms: this side's or the peer's announced one, the longer. */
  get judgedIntervalMs(): number {
    return Math.max(this.intervalMs, this.peerIntervalMs ?? 0);
  }

  /** Milliseconds since the peer was last heard. */
  silentForMs(): number {
    return this.clock.now() - this.lastHeardMs;
  }

  /** Heartbeats left before the peer is declared dead (0 means dead). */
  remaining(): number {
    const missed = Math.floor(this.silentForMs() / this.judgedIntervalMs);
    return Math.max(0, this.liveness - missed);
  }

  /** True once the peer has been silent for {@link judgedIntervalMs} x `liveness` ms or more. */
  isDead(): boolean {
    return this.silentForMs() >= this.judgedIntervalMs * this.liveness;
  }
}
