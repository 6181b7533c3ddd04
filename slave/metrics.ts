import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Gauge, Registry } from 'prom-client';
import { FastCounter, FastHistogram, type FastIncrementer, type FastObserver } from '../shared/fast-metrics.js';
import type { TaskKind } from '../proto/task-kinds.js';
import { COMPUTE_BUCKETS_S, collectProcessMetrics } from '../shared/metrics-server.js';
import { SUPPORTED_KINDS } from './detectors/kinds.js';
import type { Pool, PoolOutcome } from './pool/pool.js';
import { readCounter, readGauge } from '../shared/metrics-readers.js';

/** Where Linux exposes its thermal zones (`thermal_zoneN/temp` in millidegrees Celsius, `thermal_zoneN/type`). */
export const THERMAL_ROOT = '/sys/class/thermal';

/** One thermal zone's reading. */
export interface ZoneTemperature {
  /** Directory name, e.g. `thermal_zone0`. */
  zone: string;
  /** The zone's `type`, e.g. `cpu-thermal` on a Raspberry Pi, `x86_pkg_temp` on a PC; `unknown` when unreadable. */
  type: string;
  /** Degrees Celsius. */
  celsius: number;
}

/**
 * Reads every `thermal_zone*` under `root` (millidegrees -> degrees Celsius). Zones whose
 * `temp` is missing, unreadable or not a number are left out; a missing `root` gives [].
 * Never throws.
 */
export async function readCpuTemperatures(root = THERMAL_ROOT): Promise<ZoneTemperature[]> {
  let names: string[];
  try {
    names = (await readdir(root)).filter((n) => /^thermal_zone\d+$/.test(n)).sort();
  } catch {
    return [];
  }
  const out: ZoneTemperature[] = [];
  for (const zone of names) {
    try {
      const milli = Number((await readFile(join(root, zone, 'temp'), 'utf8')).trim());
      if (!Number.isFinite(milli)) continue;
      const type = await readFile(join(root, zone, 'type'), 'utf8').then((t) => t.trim().slice(0, 64) || 'unknown', () => 'unknown');
      out.push({ zone, type, celsius: milli / 1000 });
    } catch {
      // A zone without a readable temp (some report ENODATA when off): no sample.
    }
  }
  return out;
}

/** What the slave's gauges and totals are read from at scrape time. */
export interface SlaveMetricsSources {
  /** The slave's own counters (see {@link SlaveStats}). */
  stats: { readonly tasksRefused: number; readonly messagesRejected: number; readonly staleDropped: number };
  /** Its worker pool. */
  pool: Pick<Pool, 'size' | 'busy' | 'queued' | 'reclaims' | 'copies' | 'memoryBudgetBytes' | 'reservedBytes' | 'memoryWaits'>;
  /** Thermal zones' directory. @defaultValue {@link THERMAL_ROOT} */
  thermalRoot?: string;
}

interface KindSeries {
  done: FastIncrementer;
  failed: FastIncrementer;
  duration: FastObserver;
}

/**
 * A slave's Prometheus metrics, in a registry of its own (`cctv_slave_` series, `cctv_`
 * process metrics). Task outcomes come through {@link SlaveMetrics.taskOutcome}, called
 * where the slave counts them (label children cached per kind); worker gauges, totals and
 * the CPU temperature are read when scraped.
 */
export class SlaveMetrics {
  /** This slave's registry (prom-client's global registry is never used). */
  readonly registry = new Registry();
  private readonly tasks: FastCounter;
  private readonly duration: FastHistogram;
  private readonly byKind = new Map<TaskKind, KindSeries>();
  private defaultsOn = false;

  /** Registers the slave's series; the counters of every supported kind start at 0. */
  constructor(sources: SlaveMetricsSources) {
    const registers = [this.registry];
    const { stats, pool } = sources;
    const thermalRoot = sources.thermalRoot ?? THERMAL_ROOT;
    this.tasks = new FastCounter({ name: 'cctv_slave_tasks_total', help: 'Tasks this slave answered, by kind and outcome (done or failed; failures include refusals while leaving).', labelNames: ['kind', 'outcome'], registers });
    this.duration = new FastHistogram({ name: 'cctv_slave_task_duration_seconds', help: 'CPU time of successful tasks on their worker (decode included once per image), by kind.', labelName: 'kind', buckets: COMPUTE_BUCKETS_S, registers });
    // Every series starts at 0, so the first increase is seen.
    for (const k of SUPPORTED_KINDS) if (k !== 'noop') this.series(k);
    const gauge = (name: string, help: string, read: () => number): void => {
      readGauge(registers, name, help, read);
    };
    gauge('cctv_slave_workers', 'Worker processes (tasks run at once).', () => pool.size);
    gauge('cctv_slave_busy_workers', 'Worker processes running a task now.', () => pool.busy);
    gauge('cctv_slave_queued_tasks', 'Tasks received and waiting for a worker.', () => pool.queued);
    gauge('cctv_slave_memory_budget_bytes', 'Memory the images running at once may take in the workers (--memory-budget; -1: no limit).', () => (pool.memoryBudgetBytes === Infinity ? -1 : pool.memoryBudgetBytes));
    gauge('cctv_slave_memory_reserved_bytes', 'Memory the images on the workers now are estimated to take (from their pixels and task kinds).', () => pool.reservedBytes);
    const total = (name: string, help: string, read: () => number): void => {
      readCounter(registers, name, help, read);
    };
    total('cctv_slave_tasks_reclaimed_total', 'Tasks taken back from a worker, unstarted, for another: an idle worker took over those waiting behind an overdue task (work stealing), or the master sent one again.', () => pool.reclaims);
    total('cctv_slave_task_copies_total', 'Copies of a stuck running task (10 times its kind\'s mean, at least 10 s) started on an idle worker with nothing queued; the first copy to finish answers.', () => pool.copies);
    total('cctv_slave_memory_waits_total', 'Times a worker was left idle because the next image did not fit in the memory budget.', () => pool.memoryWaits);
    total('cctv_slave_tasks_refused_total', 'Tasks refused because the slave was leaving (the master retries them elsewhere).', () => stats.tasksRefused);
    total('cctv_slave_stale_dropped_total', 'Tasks and results dropped because the session with the master that sent them ended (DISCONNECT or reconnect).', () => stats.staleDropped);
    total('cctv_slave_messages_rejected_total', 'Messages from the master dropped as malformed or unexpected.', () => stats.messagesRejected);
    new Gauge({
      name: 'cctv_cpu_temperature_celsius',
      help: 'Temperature of each thermal zone (/sys/class/thermal), degrees Celsius, read at scrape time; no sample where there is none.',
      labelNames: ['zone', 'type'],
      registers,
      async collect() {
        this.reset();
        for (const z of await readCpuTemperatures(thermalRoot)) this.labels(z.zone, z.type).set(z.celsius);
      },
    });
  }

  /**
   * Adds the process metrics of prom-client (CPU, memory, event-loop lag, GC, handles),
   * prefixed `cctv_`. Idempotent. Only worth it when the registry is served.
   */
  collectDefaults(): void {
    if (this.defaultsOn) return;
    this.defaultsOn = true;
    collectProcessMetrics(this.registry);
  }

  /** A task finished on this slave (or was refused): counts it; a success's `computeMs` (ms) goes into the duration histogram. */
  taskOutcome(outcome: PoolOutcome): void {
    const s = this.series(outcome.kind);
    if (outcome.ok) {
      s.done.inc();
      s.duration.observe(outcome.computeMs / 1000);
    } else s.failed.inc();
  }

  private series(kind: TaskKind): KindSeries {
    let s = this.byKind.get(kind);
    if (s === undefined) {
      s = { done: this.tasks.child(kind, 'done'), failed: this.tasks.child(kind, 'failed'), duration: this.duration.child(kind) };
      this.byKind.set(kind, s);
    }
    return s;
  }
}
