import { performance } from 'node:perf_hooks';

/**
 * Source of monotonic time in ms. Pure modules (task table, scheduler, liveness) take
 * one as a parameter so unit tests can drive time by hand (nats `core/src/heartbeats.ts`).
 */
export interface Clock {
  /** Monotonic milliseconds since an arbitrary origin. */
  now(): number;
}

/** The process's monotonic clock (`performance.now()`), ms. */
export const systemClock: Clock = { now: () => performance.now() };

/** A clock tests move by hand. */
export class ManualClock implements Clock {
  private t: number;
  constructor(startMs = 0) {
    this.t = startMs;
  }
  now(): number {
    return this.t;
  }
  /** Moves time forward by `ms` milliseconds. */
  advance(ms: number): void {
    this.t += ms;
  }
}
