/** One sample of the Prometheus text exposition format. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A scraped `/metrics` page. */
export interface Scrape {
  status: number;
  contentType: string;
  text: string;
  samples: Sample[];
}

/**
 * Parses the Prometheus text format (version 0.0.4): `name{label="value",...} value`
 * lines; `# HELP` / `# TYPE` comments are skipped.
 */
export function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line.length === 0 || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$/.exec(line);
    if (m === null) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1] ?? ''] = (l[2] ?? '').replace(/\\(.)/g, '$1');
    const raw = m[3] ?? '';
    const value = raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw);
    out.push({ name: m[1] ?? '', labels, value });
  }
  return out;
}

/** Samples named `name` whose labels include every one of `labels`. */
export function matching(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): Sample[] {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

/** Sum of the samples named `name` whose labels include `labels` (0 when there are none). */
export function total(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number {
  return matching(samples, name, labels).reduce((n, s) => n + s.value, 0);
}

/** The one sample named `name` with `labels`; throws when there is not exactly one. */
export function single(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number {
  const m = matching(samples, name, labels);
  if (m.length !== 1) throw new Error(`expected one sample ${name}${JSON.stringify(labels)}, found ${m.length}`);
  return m[0]?.value ?? NaN;
}

/** GETs a metrics URL and parses it. */
export async function scrape(url: string): Promise<Scrape> {
  const res = await fetch(url);
  const text = await res.text();
  return { status: res.status, contentType: res.headers.get('content-type') ?? '', text, samples: res.ok ? parseMetrics(text) : [] };
}
