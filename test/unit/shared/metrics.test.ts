import { expect } from 'chai';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { MasterMetrics } from '../../../master/metrics.js';
import { BatchStats } from '../../../master/stats.js';
import type { Logger } from '../../../shared/logger.js';
import { metricsHostProblem, startMetricsServer } from '../../../shared/metrics-server.js';
import { SlaveMetrics, readCpuTemperatures } from '../../../slave/metrics.js';
import { tempDir } from '../../helpers/fixtures.js';
import { freePort } from '../../helpers/ports.js';
import { parseMetrics, single, total } from '../../helpers/prometheus.js';

function captureLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const logger: Logger = pino({ level: 'info' }, { write: (l: string) => lines.push(l) });
  return { logger, lines };
}

describe('metrics', () => {
  describe('MasterMetrics', () => {
    it('mirrors hooks and the batch state, with every series named cctv_*', async () => {
      const stats = new BatchStats();
      const slaves = [{ capacity: 2, inFlight: new Map([[1, 1], [2, 1]]) }, { capacity: 4, inFlight: new Map() }];
      const router = { bytesSent: 1000, bytesReceived: 200 };
      const m = new MasterMetrics(['object', 'edge'], { stats, table: { pendingCount: 7, imageCount: 3 }, slaves: { size: 2, all: () => slaves }, router: () => router });
      const before = parseMetrics(await m.registry.metrics());
      // The batch's kinds start at zero.
      expect(single(before, 'cctv_tasks_total', { kind: 'object', outcome: 'done' })).to.equal(0);
      expect(single(before, 'cctv_task_compute_seconds_count', { kind: 'edge' })).to.equal(0);
      m.taskDone('object', 150, 2000);
      m.taskDone('object', 50, 1000);
      m.taskRetried('edge');
      m.imageRecorded({ kinds: ['object', 'edge'], outcomes: [{ ok: true }, { ok: false }] });
      m.messageDropped('not_holder');
      m.messageDropped('bad_msgpack');
      m.messageDropped('not_holder');
      stats.imagesDone = 5;
      stats.handshakesRefused = 2;
      router.bytesSent = 5000;
      const s = parseMetrics(await m.registry.metrics());
      expect(single(s, 'cctv_tasks_total', { kind: 'object', outcome: 'done' })).to.equal(2);
      expect(single(s, 'cctv_tasks_total', { kind: 'edge', outcome: 'retried' })).to.equal(1);
      expect(single(s, 'cctv_tasks_total', { kind: 'edge', outcome: 'failed' })).to.equal(1);
      expect(single(s, 'cctv_task_compute_seconds_sum', { kind: 'object' })).to.be.closeTo(0.2, 1e-9);
      expect(single(s, 'cctv_task_compute_seconds_bucket', { kind: 'object', le: '0.1' })).to.equal(1);
      expect(single(s, 'cctv_task_end_to_end_seconds_sum', { kind: 'object' })).to.be.closeTo(3, 1e-9);
      expect(single(s, 'cctv_messages_dropped_total', { reason: 'not_holder' })).to.equal(2);
      expect(total(s, 'cctv_messages_dropped_total')).to.equal(3);
      expect(single(s, 'cctv_images_done_total')).to.equal(5);
      expect(single(s, 'cctv_handshakes_refused_total')).to.equal(2);
      expect(single(s, 'cctv_bytes_sent_total')).to.equal(5000);
      expect(single(s, 'cctv_bytes_received_total')).to.equal(200);
      expect(single(s, 'cctv_pending_tasks')).to.equal(7);
      expect(single(s, 'cctv_in_flight_tasks')).to.equal(2);
      expect(single(s, 'cctv_connected_slaves')).to.equal(2);
      expect(single(s, 'cctv_connected_workers')).to.equal(6);
      expect(single(s, 'cctv_images_in_memory')).to.equal(3);
      for (const x of s) expect(x.name).to.match(/^cctv_/);
    });

    it('keeps its own registry: two masters in one process do not collide', async () => {
      const sources = { stats: new BatchStats(), table: { pendingCount: 0, imageCount: 0 }, slaves: { size: 0, all: () => [] }, router: () => undefined };
      const a = new MasterMetrics(['edge'], sources);
      const b = new MasterMetrics(['edge'], sources);
      a.taskDone('edge', 1, 1);
      a.collectDefaults();
      a.collectDefaults();
      expect(single(parseMetrics(await a.registry.metrics()), 'cctv_tasks_total', { kind: 'edge', outcome: 'done' })).to.equal(1);
      expect(single(parseMetrics(await b.registry.metrics()), 'cctv_tasks_total', { kind: 'edge', outcome: 'done' })).to.equal(0);
      expect(await a.registry.metrics()).to.include('cctv_nodejs_eventloop_lag_seconds');
      expect(await b.registry.metrics()).to.not.include('nodejs_eventloop_lag_seconds');
    });
  });

  describe('SlaveMetrics and CPU temperature', () => {
    let tmp: ReturnType<typeof tempDir>;
    beforeEach(() => {
      tmp = tempDir();
    });
    afterEach(() => {
      tmp.cleanup();
    });

    const zone = (name: string, temp: string | undefined, type?: string): void => {
      mkdirSync(join(tmp.dir, name));
      if (temp !== undefined) writeFileSync(join(tmp.dir, name, 'temp'), temp);
      if (type !== undefined) writeFileSync(join(tmp.dir, name, 'type'), `${type}\n`);
    };

    it('reads thermal zones in degrees Celsius and leaves out those without a reading', async () => {
      zone('thermal_zone0', '48312\n', 'cpu-thermal');
      zone('thermal_zone1', 'garbage', 'acpitz');
      zone('thermal_zone2', undefined, 'gpu');
      zone('thermal_zone3', '-5000');
      zone('cooling_device0', '1');
      expect(await readCpuTemperatures(tmp.dir)).to.deep.equal([
        { zone: 'thermal_zone0', type: 'cpu-thermal', celsius: 48.312 },
        { zone: 'thermal_zone3', type: 'unknown', celsius: -5 },
      ]);
      expect(await readCpuTemperatures(join(tmp.dir, 'missing'))).to.deep.equal([]);
    });

    it('counts outcomes by kind and reads the pool and the temperature at scrape time', async () => {
      zone('thermal_zone0', '61000', 'cpu-thermal');
      const pool = { size: 2, busy: 1, queued: 5, reclaims: 6, copies: 1, memoryBudgetBytes: 900 * 2 ** 20, reservedBytes: 224 * 2 ** 20, memoryWaits: 7 };
      const stats = { tasksRefused: 3, messagesRejected: 1, staleDropped: 4 };
      const m = new SlaveMetrics({ stats, pool, thermalRoot: tmp.dir });
      m.taskOutcome({ ok: true, taskId: 1, attempt: 1, kind: 'face', computeMs: 300, width: 1, height: 1, value: { count: 0, boxes: [] } });
      m.taskOutcome({ ok: false, taskId: 2, attempt: 1, kind: 'face', computeMs: 0, error: { name: 'DecodeError', message: 'x', retryable: false } });
      const s = parseMetrics(await m.registry.metrics());
      expect(single(s, 'cctv_slave_tasks_total', { kind: 'face', outcome: 'done' })).to.equal(1);
      expect(single(s, 'cctv_slave_tasks_total', { kind: 'face', outcome: 'failed' })).to.equal(1);
      expect(single(s, 'cctv_slave_task_duration_seconds_count', { kind: 'face' })).to.equal(1);
      expect(single(s, 'cctv_slave_task_duration_seconds_sum', { kind: 'face' })).to.be.closeTo(0.3, 1e-9);
      expect(single(s, 'cctv_slave_workers')).to.equal(2);
      expect(single(s, 'cctv_slave_busy_workers')).to.equal(1);
      expect(single(s, 'cctv_slave_queued_tasks')).to.equal(5);
      expect(single(s, 'cctv_slave_tasks_reclaimed_total')).to.equal(6);
      expect(single(s, 'cctv_slave_task_copies_total')).to.equal(1);
      expect(single(s, 'cctv_slave_memory_budget_bytes')).to.equal(900 * 2 ** 20);
      expect(single(s, 'cctv_slave_memory_reserved_bytes')).to.equal(224 * 2 ** 20);
      expect(single(s, 'cctv_slave_memory_waits_total')).to.equal(7);
      expect(single(s, 'cctv_slave_tasks_refused_total')).to.equal(3);
      expect(single(s, 'cctv_slave_messages_rejected_total')).to.equal(1);
      expect(single(s, 'cctv_slave_stale_dropped_total')).to.equal(4);
      expect(single(s, 'cctv_cpu_temperature_celsius', { zone: 'thermal_zone0', type: 'cpu-thermal' })).to.equal(61);
      // A zone that disappears leaves no stale sample.
      tmp.cleanup();
      expect(parseMetrics(await m.registry.metrics()).filter((x) => x.name === 'cctv_cpu_temperature_celsius')).to.deep.equal([]);
    });
  });

  describe('the /metrics endpoint', () => {
    it('serves GET and HEAD /metrics, 404 elsewhere, 405 for other methods', async () => {
      const registry = new Registry();
      const { logger, lines } = captureLogger();
      const port = await freePort();
      const server = await startMetricsServer({ port, host: '127.0.0.1', registry, logger });
      expect(server?.url).to.equal(`http://127.0.0.1:${port}/metrics`);
      expect(lines.join('')).to.include(`serving metrics at http://127.0.0.1:${port}/metrics`);
      try {
        const ok = await fetch(`http://127.0.0.1:${port}/metrics?x=1`);
        expect(ok.status).to.equal(200);
        expect(ok.headers.get('content-type')).to.match(/^text\/plain; version=0\.0\.4/);
        expect((await fetch(`http://127.0.0.1:${port}/metrics`, { method: 'HEAD' })).status).to.equal(200);
        expect((await fetch(`http://127.0.0.1:${port}/`)).status).to.equal(404);
        const post = await fetch(`http://127.0.0.1:${port}/metrics`, { method: 'POST' });
        expect(post.status).to.equal(405);
        expect(post.headers.get('allow')).to.equal('GET, HEAD');
      } finally {
        await server?.close();
      }
    });

    it('is off at port 0, and a port in use only costs a warning', async () => {
      const registry = new Registry();
      const { logger, lines } = captureLogger();
      expect(await startMetricsServer({ port: 0, host: '127.0.0.1', registry, logger })).to.equal(undefined);
      expect(lines).to.deep.equal([]);
      const taken = createServer();
      await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
      const addr = taken.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      try {
        expect(await startMetricsServer({ port, host: '127.0.0.1', registry, logger })).to.equal(undefined);
        expect(lines.join('')).to.match(/cannot serve metrics on 127\.0\.0\.1:\d+ \(listen EADDRINUSE.*\); running without metrics/);
      } finally {
        taken.close();
      }
    });

    it('accepts IP addresses and host names as --metrics-host', () => {
      for (const ok of ['127.0.0.1', '0.0.0.0', '::', '::1', 'localhost', 'pi-7.local']) expect(metricsHostProblem(ok), ok).to.equal(undefined);
      for (const bad of ['', 'not a host', 'http://x', '-x']) expect(metricsHostProblem(bad), bad).to.be.a('string');
    });
  });
});
