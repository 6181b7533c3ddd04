import { Counter, Histogram, type MetricType, type Registry } from 'prom-client';

/**
 * Per-task series whose hot path is a few additions. prom-client's own `observe()` and
 * `inc()` build a label hash string on every call (label children included): about 1 µs
 * per task on the master, 10-15% of its time per no-op task (measured with
 * `test/bench/dispatch.ts`). These subclasses keep their counts in plain arrays and
 * override `get()`, which the registry calls at scrape time, to hand prom-client the same
 * shape its own classes return, so exposition (text format, le labels, `_sum`, `_count`)
 * stays prom-client's.
 */

// prom-client's typings declare a numeric enum; at run time (and in the text format) it is the string.
const TYPE_HISTOGRAM = 'histogram' as unknown as MetricType;
const TYPE_COUNTER = 'counter' as unknown as MetricType;

const NO_COLLECT = (): void => undefined;

type Values = Awaited<ReturnType<Histogram['get']>>['values'];

/** One label value's bucket counts (not cumulative), sum (s) and count. */
interface HistogramSeries {
  labels: Record<string, string>;
  counts: Float64Array;
  sum: number;
  count: number;
}

/** A child of {@link FastHistogram} bound to one label value. */
export interface FastObserver {
  /** Adds one observation, in the histogram's unit (seconds for `_seconds`). */
  observe(value: number): void;
}

/** A histogram with one label, for series updated once per task. */
export class FastHistogram extends Histogram {
  private readonly fastName: string;
  private readonly fastHelp: string;
  private readonly labelName: string;
  private readonly bounds: readonly number[];
  private readonly series = new Map<string, HistogramSeries>();

  /**
   * @param buckets - upper bounds, ascending (`+Inf` is added)
   * @throws Error from prom-client when the name is taken in a registry
   */
  constructor(config: { name: string; help: string; labelName: string; buckets: readonly number[]; registers: Registry[] }) {
    super({ name: config.name, help: config.help, labelNames: [config.labelName], buckets: [...config.buckets], registers: config.registers });
    this.fastName = config.name;
    this.fastHelp = config.help;
    this.labelName = config.labelName;
    this.bounds = [...config.buckets];
  }

  /** The series of one label value, created at 0 (so it is exported before its first observation). */
  child(labelValue: string): FastObserver {
    let s = this.series.get(labelValue);
    if (s === undefined) {
      s = { labels: { [this.labelName]: labelValue }, counts: new Float64Array(this.bounds.length + 1), sum: 0, count: 0 };
      this.series.set(labelValue, s);
    }
    const series = s;
    const bounds = this.bounds;
    return {
      observe(value: number): void {
        if (!Number.isFinite(value)) return;
        let i = 0;
        while (i < bounds.length && value > (bounds[i] ?? Infinity)) i++;
        series.counts[i] = (series.counts[i] ?? 0) + 1;
        series.sum += value;
        series.count++;
      },
    };
  }

  /** What the registry's text exposition reads for a histogram (prom-client calls it when present). */
  getForPromString(): Promise<Awaited<ReturnType<Histogram['get']>>> {
    return this.get();
  }

  /** The series for a scrape, as prom-client's Histogram gives them: cumulative `_bucket`s (`le`, `+Inf` last), `_sum` and `_count` per label value. */
  override async get(): Promise<Awaited<ReturnType<Histogram['get']>>> {
    await Promise.resolve();
    const values: Values = [];
    for (const s of this.series.values()) {
      let cumulative = 0;
      for (let i = 0; i <= this.bounds.length; i++) {
        cumulative += s.counts[i] ?? 0;
        values.push({ labels: { le: i < this.bounds.length ? (this.bounds[i] ?? 0) : '+Inf', ...s.labels }, value: cumulative, metricName: `${this.fastName}_bucket` });
      }
      values.push({ labels: { ...s.labels }, value: s.sum, metricName: `${this.fastName}_sum` });
      values.push({ labels: { ...s.labels }, value: s.count, metricName: `${this.fastName}_count` });
    }
    return { name: this.fastName, help: this.fastHelp, type: TYPE_HISTOGRAM, values, aggregator: 'sum', collect: NO_COLLECT };
  }

  /** Sets every series to zero; the series stay exported. */
  override reset(): void {
    // prom-client's constructor calls reset() before this class's fields exist.
    const series = this.series as Map<string, HistogramSeries> | undefined;
    if (series === undefined) return;
    for (const s of series.values()) {
      s.counts.fill(0);
      s.sum = 0;
      s.count = 0;
    }
  }
}

/** A child of {@link FastCounter} bound to one set of label values. */
export interface FastIncrementer {
  /** Adds `by` (default 1, never negative). */
  inc(by?: number): void;
}

/** A counter with labels, for series updated once per task. */
export class FastCounter extends Counter {
  private readonly fastName: string;
  private readonly fastHelp: string;
  private readonly labelNames2: readonly string[];
  private readonly series = new Map<string, { labels: Record<string, string>; value: number }>();

  /** @throws Error from prom-client when the name is taken in a registry */
  constructor(config: { name: string; help: string; labelNames: readonly string[]; registers: Registry[] }) {
    super({ name: config.name, help: config.help, labelNames: [...config.labelNames], registers: config.registers });
    this.fastName = config.name;
    this.fastHelp = config.help;
    this.labelNames2 = [...config.labelNames];
  }

  /** The series of these label values (in `labelNames` order), created at 0. */
  child(...labelValues: string[]): FastIncrementer {
    const key = labelValues.join('\u0000');
    let s = this.series.get(key);
    if (s === undefined) {
      const labels: Record<string, string> = {};
      this.labelNames2.forEach((n, i) => (labels[n] = labelValues[i] ?? ''));
      s = { labels, value: 0 };
      this.series.set(key, s);
    }
    const series = s;
    return {
      inc(by = 1): void {
        if (by > 0 && Number.isFinite(by)) series.value += by;
      },
    };
  }

  /** The series for a scrape, as prom-client's Counter gives them: one value per set of label values. */
  override async get(): Promise<Awaited<ReturnType<Counter['get']>>> {
    await Promise.resolve();
    const values = [...this.series.values()].map((s) => ({ labels: { ...s.labels }, value: s.value }));
    return { name: this.fastName, help: this.fastHelp, type: TYPE_COUNTER, values, aggregator: 'sum', collect: NO_COLLECT };
  }

  /** Sets every series to zero; the series stay exported. */
  override reset(): void {
    // prom-client's constructor calls reset() before this class's fields exist.
    const series = this.series as Map<string, { value: number }> | undefined;
    if (series === undefined) return;
    for (const s of series.values()) s.value = 0;
  }
}
