import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { MasterMetrics } from '../../../master/metrics.js';
import { BatchStats } from '../../../master/stats.js';
import { DEFAULT_MASTER_METRICS_PORT, SUGGESTED_SLAVE_METRICS_PORT } from '../../../shared/metrics-server.js';
import { SlaveMetrics } from '../../../slave/metrics.js';
import { ROOT } from '../../helpers/processes.js';

interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { uid: string };
  targets?: { expr: string }[];
}

/** Every series name the two registries can export (histograms with their suffixes). */
async function exportedNames(): Promise<Set<string>> {
  const master = new MasterMetrics(['object'], { stats: new BatchStats(), table: { pendingCount: 0, imageCount: 0 }, slaves: { size: 0, all: () => [] }, router: () => undefined });
  const slave = new SlaveMetrics({ stats: { tasksRefused: 0, messagesRejected: 0, staleDropped: 0 }, pool: { size: 1, busy: 0, queued: 0, reclaims: 0, copies: 0, memoryBudgetBytes: Infinity, reservedBytes: 0, memoryWaits: 0 } });
  master.collectDefaults();
  slave.collectDefaults();
  const names = new Set<string>();
  for (const r of [master.registry, slave.registry]) {
    for (const m of await r.getMetricsAsJSON()) {
      names.add(m.name);
      // prom-client's typings say a numeric enum; at run time the type is its name.
      if ((m.type as unknown) === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${m.name}${suffix}`);
    }
  }
  return names;
}

describe('deploy kit: Grafana dashboard and Prometheus configuration', () => {
  const dashboard = JSON.parse(readFileSync(join(ROOT, 'deploy/grafana/cctv-cluster.json'), 'utf8')) as { uid: string; panels: Panel[]; templating: { list: { name: string; query: unknown }[] } };

  it('queries only series the master and slaves export', async () => {
    const names = await exportedNames();
    const used = new Set<string>();
    const texts = [...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)), ...dashboard.templating.list.map((v) => JSON.stringify(v.query))];
    for (const text of texts) for (const m of text.matchAll(/\bcctv_\w+/g)) used.add(m[0]);
    expect(used.size).to.be.above(20);
    expect([...used].filter((n) => !names.has(n)), 'unknown series').to.deep.equal([]);
  });

  it('has unique panel ids, a data source variable and panels on the 24-column grid', () => {
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).to.equal(ids.length);
    expect(dashboard.templating.list.map((v) => v.name)).to.include.members(['datasource', 'master', 'slave']);
    for (const p of dashboard.panels) {
      expect(p.gridPos.x + p.gridPos.w, p.title).to.be.at.most(24);
      if (p.type !== 'row') expect(p.datasource?.uid, p.title).to.equal('${datasource}');
    }
  });

  it('keeps "All" of the master and slave variables to the instances found, not every target', () => {
    // Both processes export cctv_process_* and cctv_nodejs_* under the same names: an
    // allValue of ".*" put the slaves in the master's panels (seen in a real Prometheus).
    const vars = dashboard.templating.list as { name: string; allValue?: string }[];
    for (const v of vars.filter((x) => x.name === 'master' || x.name === 'slave')) expect(v.allValue, v.name).to.equal(undefined);
  });

  it('scrapes the master and the slaves on the documented ports', () => {
    const config = parseYaml(readFileSync(join(ROOT, 'deploy/prometheus.yml'), 'utf8')) as { scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[] };
    const jobs = Object.fromEntries(config.scrape_configs.map((j) => [j.job_name, j.static_configs.flatMap((s) => s.targets)]));
    expect(Object.keys(jobs)).to.deep.equal(['cctv-master', 'cctv-slave']);
    for (const t of jobs['cctv-master'] ?? []) expect(t).to.match(new RegExp(`:${DEFAULT_MASTER_METRICS_PORT}$`));
    for (const t of jobs['cctv-slave'] ?? []) expect(t).to.match(new RegExp(`:${SUGGESTED_SLAVE_METRICS_PORT}$`));
  });
});
