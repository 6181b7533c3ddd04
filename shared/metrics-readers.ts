import { Counter, Gauge, type Registry } from 'prom-client';

/**
 * A counter whose value is read from the process's own totals at scrape time, so it
 * costs nothing per event and always equals the report (prom-client `collect` hook).
 *
 * @param read - returns the running total, never decreasing
 */
export function readCounter(registers: Registry[], name: string, help: string, read: () => number): void {
  new Counter({
    name,
    help,
    registers,
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

/** A gauge whose value is read at scrape time (prom-client `collect` hook). */
export function readGauge(registers: Registry[], name: string, help: string, read: () => number): void {
  new Gauge({
    name,
    help,
    registers,
    collect() {
      this.set(read());
    },
  });
}
