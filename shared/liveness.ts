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

/**
 * Tracks one peer's liveness, Paranoid Pirate style: any message heard from the peer
 * resets it; the peer is dead once `intervalMs * liveness` ms pass in silence. Pure: time
 * comes from the injected {@link Clock}.
 */
export class Liveness {
  private lastHeardMs: number;

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

  /** Milliseconds since the peer was last heard. */
  silentForMs(): number {
    return this.clock.now() - this.lastHeardMs;
  }

  /** Heartbeats left before the peer is declared dead (0 means dead). */
  remaining(): number {
    const missed = Math.floor(this.silentForMs() / this.intervalMs);
    return Math.max(0, this.liveness - missed);
  }

  /** True once the peer has been silent for `intervalMs * liveness` ms or more. */
  isDead(): boolean {
    return this.silentForMs() >= this.intervalMs * this.liveness;
  }
}
