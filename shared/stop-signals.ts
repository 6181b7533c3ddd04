import { systemClock, type Clock } from './clock.js';

/**
 * Signals closer together than this count as one stop request, ms. GNU `timeout` sends its
 * signal to the child and then to the child's process group (the slave got SIGTERM twice,
 * 6 ms apart), as do scripts that `kill PID; kill -- -PGID`; a person's second Ctrl-C
 * comes later than this.
 */
export const SIGNAL_BURST_MS = 200;

/**
 * Tells a first stop signal (SIGINT, SIGTERM, SIGHUP) from a second one, the request to
 * exit at once, counting a burst of signals within {@link SIGNAL_BURST_MS} of the first
 * as that first one.
 */
export class StopSignals {
  private firstAtMs: number | undefined;

  constructor(private readonly clock: Clock = systemClock) {}

  /**
   * Classifies a signal that just arrived: `first` (stop cleanly), `echo` (part of the
   * first one's burst: ignore it) or `again` (exit at once).
   */
  next(): 'first' | 'echo' | 'again' {
    const at = this.clock.now();
    if (this.firstAtMs === undefined) {
      this.firstAtMs = at;
      return 'first';
    }
    return at - this.firstAtMs < SIGNAL_BURST_MS ? 'echo' : 'again';
  }
}

/**
 * Keeps SIGUSR1 from opening Node's inspector: by default it listens on 127.0.0.1:9229,
 * where any local user, of any account, could then run code as this process (found by QA:
 * the master went on with a debugger open). A listener of our own is all Node 20 needs to
 * leave it alone; the signal is logged and otherwise ignored. `node --inspect` still works.
 */
export function refuseInspectorSignal(log: (text: string) => void): void {
  process.on('SIGUSR1', () => {
    log('SIGUSR1 ignored: the Node inspector is not opened on a signal (start node with --inspect to debug)');
  });
}
