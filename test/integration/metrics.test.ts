import { expect } from 'chai';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BatchReport } from '../../master/report.js';
import { SAMPLE_FACES, SAMPLE_VIDEO, readReport, readResults, tempDir } from '../helpers/fixtures.js';
import { freePort, loopbackEndpoint } from '../helpers/ports.js';
import { single, scrape, total, type Sample, type Scrape } from '../helpers/prometheus.js';
import { startMaster, startSlave, waitExit, waitFor, type Tracked } from '../helpers/processes.js';

const KINDS = ['object', 'face', 'edge', 'corner'] as const;
/** The config file says 5; the flag's 10 must win: 120 frames -> 12 images. */
const EVERY = 10;

function hasThermalZones(): boolean {
  try {
    return readdirSync('/sys/class/thermal').some((n) => /^thermal_zone\d+$/.test(n));
  } catch {
    return false;
  }
}

describe('Prometheus metrics of a real master and slave, set up by config files', function () {
  this.timeout(240_000);
  let tmp: ReturnType<typeof tempDir>;
  let out = '';
  let master: Tracked;
  let slave: Tracked;
  let masterUrl = '';
  let slaveUrl = '';
  let during: { master: Scrape; slave: Scrape };
  let atEnd: { master: Scrape; slave: Scrape };
  let report: BatchReport;
  let header: Record<string, unknown>;
  let masterExit: number | string;
  let notFound = 0;

  before(async function () {
    tmp = tempDir();
    out = join(tmp.dir, 'results.jsonl');
    const endpoint = await loopbackEndpoint();
    const masterPort = await freePort();
    const slavePort = await freePort();
    masterUrl = `http://127.0.0.1:${masterPort}/metrics`;
    slaveUrl = `http://127.0.0.1:${slavePort}/metrics`;
    // YAML for the master (lists and all), JSON for the slave.
    const masterConfig = join(tmp.dir, 'master.yaml');
    writeFileSync(
      masterConfig,
      [`bind: ${endpoint}`, 'every: 5', 'local-slaves: 0', 'progress: none', `tasks: [${KINDS.join(', ')}]`, `metrics-port: ${masterPort}`, 'metrics-linger: 120000', ''].join('\n'),
    );
    const slaveConfig = join(tmp.dir, 'slave.json');
    writeFileSync(slaveConfig, JSON.stringify({ connect: endpoint, threads: 1, 'slave-id': 'metrics-1', 'metrics-port': slavePort, 'log-level': 'warn' }));

    master = startMaster(['run', SAMPLE_VIDEO, '--config', masterConfig, '--every', String(EVERY), '--out', out]);
    slave = startSlave(['--config', slaveConfig]);
    let masterGone = false;
    void master.exited.then(() => (masterGone = true));
    await waitFor(() => master.stderr().includes('slave metrics-1 joined') || masterGone, 60_000, 'the slave to join');
    expect(masterGone, master.stderr()).to.equal(false);
    during = { master: await scrape(masterUrl), slave: await scrape(slaveUrl) };
    // The report is printed once the batch is over; the master then lingers for a last scrape.
    await waitFor(() => master.stdout().includes('Results:') || masterGone, 200_000, 'the batch to finish');
    expect(masterGone, master.stderr()).to.equal(false);
    atEnd = { master: await scrape(masterUrl), slave: await scrape(slaveUrl) };
    notFound = (await fetch(slaveUrl.replace('/metrics', '/'))).status;
    report = readReport(`${out}.report.json`);
    header = readResults(out).header;
    // A signal ends the linger at once; the exit status stays the batch's.
    const lingerStart = Date.now();
    master.proc.kill('SIGTERM');
    masterExit = await waitExit(master, 20_000);
    expect(Date.now() - lingerStart, 'SIGTERM ends the linger').to.be.below(10_000);
    slave.proc.kill('SIGTERM');
    await waitExit(slave, 20_000);
  });

  after(() => {
    tmp.cleanup();
  });

  it('ran with the file\'s settings, the flag overriding the file', () => {
    expect(masterExit, master.stderr()).to.equal(0);
    expect((header['settings'] as { every: number }).every).to.equal(EVERY);
    expect(report.images).to.equal(120 / EVERY);
    expect(report.slaves.map((s) => s.slaveId)).to.deep.equal(['metrics-1']);
    expect(report.slaves[0]?.threads).to.equal(1);
  });

  it('has a report whose numbers add up', () => {
    const doneTasks = report.tasks - report.tasksFailed;
    expect(report.tasks, 'one outcome per (image, kind)').to.equal(report.images * KINDS.length);
    expect(report.slaves.reduce((n, s) => n + s.tasks, 0), 'tasks by slave').to.equal(doneTasks);
    expect(report.kinds.reduce((n, k) => n + k.tasks, 0), 'tasks by kind').to.equal(doneTasks);
    expect(report.slaves.reduce((n, s) => n + s.failed, 0), 'failed attempts by slave').to.be.at.most(report.retries + report.tasksFailed);
    expect(report.imagesFailed).to.be.at.most(report.images);
    expect(report.tasksFailed).to.be.at.least(report.imagesFailed);
  });

  it('serves the Prometheus text format at /metrics only, every series prefixed cctv_', () => {
    for (const s of [during.master, during.slave, atEnd.master, atEnd.slave]) {
      expect(s.status).to.equal(200);
      expect(s.contentType).to.match(/^text\/plain; version=0\.0\.4/);
      for (const line of s.text.split('\n').filter((l) => l.length > 0 && !l.startsWith('#'))) expect(line).to.match(/^cctv_/);
    }
    expect(notFound).to.equal(404);
  });

  it('shows the live state while the batch runs', () => {
    const m = during.master.samples;
    expect(single(m, 'cctv_connected_slaves')).to.equal(1);
    expect(single(m, 'cctv_connected_workers')).to.equal(1);
    expect(single(m, 'cctv_in_flight_tasks')).to.be.within(0, 1 + 8);
    expect(single(m, 'cctv_pending_tasks')).to.be.at.least(0);
    expect(single(m, 'cctv_images_in_memory')).to.be.at.least(0);
    const s = during.slave.samples;
    expect(single(s, 'cctv_slave_workers')).to.equal(1);
    expect(single(s, 'cctv_slave_busy_workers')).to.be.within(0, 1);
    // prom-client's process metrics, in the same registry, with the prefix.
    for (const samples of [m, s]) {
      expect(samples.some((x) => x.name === 'cctv_nodejs_eventloop_lag_seconds')).to.equal(true);
      expect(samples.some((x) => x.name === 'cctv_process_cpu_seconds_total')).to.equal(true);
    }
  });

  it('counts no slave connected once the batch is over (they were told so), while it lingers', () => {
    const m = atEnd.master.samples;
    // They still counted 1 slave and its workers, gone by then.
    expect([single(m, 'cctv_connected_slaves'), single(m, 'cctv_connected_workers')]).to.deep.equal([0, 0]);
  });

  it('counts on the master what the report says', () => {
    const m = atEnd.master.samples;
    for (const k of report.kinds) {
      expect(single(m, 'cctv_tasks_total', { kind: k.kind, outcome: 'done' }), k.kind).to.equal(k.tasks);
      expect(single(m, 'cctv_task_compute_seconds_count', { kind: k.kind }), k.kind).to.equal(k.tasks);
      expect(single(m, 'cctv_task_end_to_end_seconds_count', { kind: k.kind }), k.kind).to.equal(k.tasks);
      // The report's mean is rounded to 0.1 ms.
      expect(single(m, 'cctv_task_compute_seconds_sum', { kind: k.kind }), k.kind).to.be.closeTo((k.meanMs * k.tasks) / 1000, (0.05 * k.tasks) / 1000 + 1e-6);
      expect(single(m, 'cctv_task_compute_seconds_bucket', { kind: k.kind, le: '+Inf' }), k.kind).to.equal(k.tasks);
    }
    expect(report.kinds.map((k) => k.kind)).to.deep.equal([...KINDS]);
    expect(total(m, 'cctv_tasks_total', { outcome: 'failed' })).to.equal(report.tasksFailed);
    expect(total(m, 'cctv_tasks_total', { outcome: 'retried' })).to.equal(report.retries);
    const scalar: [string, number][] = [
      ['cctv_images_done_total', report.images],
      ['cctv_images_failed_total', report.imagesFailed],
      ['cctv_leases_expired_total', report.leasesExpired],
      ['cctv_leases_given_back_total', report.leasesGivenBack],
      ['cctv_slaves_lost_total', report.slavesLost],
      ['cctv_duplicates_dropped_total', report.duplicatesDropped],
      ['cctv_handshakes_refused_total', report.handshakesRefused],
      ['cctv_bytes_sent_total', report.bytesSent],
      ['cctv_bytes_received_total', report.bytesReceived],
      ['cctv_image_bytes_read_total', report.imageBytesRead],
      ['cctv_image_bytes_sent_total', report.imageBytesSent],
      ['cctv_pending_tasks', 0],
      ['cctv_in_flight_tasks', 0],
      ['cctv_images_in_memory', 0],
    ];
    for (const [name, expected] of scalar) expect(single(m, name), name).to.equal(expected);
    expect(total(m, 'cctv_messages_dropped_total')).to.equal(report.messagesDropped);
    expect(report.bytesSent).to.be.above(report.imageBytesSent);
  });

  it('counts on the slave what the report says it did', () => {
    const s = atEnd.slave.samples;
    const mine = report.slaves[0];
    expect(total(s, 'cctv_slave_tasks_total', { outcome: 'done' })).to.equal(mine?.tasks);
    for (const k of report.kinds) {
      expect(single(s, 'cctv_slave_tasks_total', { kind: k.kind, outcome: 'done' }), k.kind).to.equal(k.tasks);
      expect(single(s, 'cctv_slave_task_duration_seconds_count', { kind: k.kind }), k.kind).to.equal(k.tasks);
    }
    expect(total(s, 'cctv_slave_tasks_total', { outcome: 'failed' })).to.equal(mine?.failed);
    expect(single(s, 'cctv_slave_busy_workers')).to.equal(0);
    expect(single(s, 'cctv_slave_queued_tasks')).to.equal(0);
    expect(single(s, 'cctv_slave_tasks_refused_total')).to.equal(0);
  });

  it('reports CPU temperatures where the machine has thermal zones, and no sample where not', () => {
    const temps: Sample[] = atEnd.slave.samples.filter((x) => x.name === 'cctv_cpu_temperature_celsius');
    if (hasThermalZones()) {
      expect(temps.length).to.be.above(0);
      for (const t of temps) expect(t.value).to.be.within(-40, 150);
    } else {
      expect(temps).to.deep.equal([]);
      expect(atEnd.slave.text).to.include('# TYPE cctv_cpu_temperature_celsius gauge');
    }
  });
});

describe('Prometheus metrics after a batch with backup copies', function () {
  this.timeout(180_000);

  it('holds no task in flight once the batch is over, also when backup copies lost to their primaries', async () => {
    const tmp = tempDir();
    const port = await freePort();
    const endpoint = await loopbackEndpoint();
    const out = join(tmp.dir, 'backups.jsonl');
    // Two slaves of one worker, both ready before the master starts, so that they join
    // within ZeroMQ's reconnect interval (100 ms) of each other. The face task of the last
    // image (id 2) takes 600 ms longer on its first attempt, so whichever slave holds it
    // is still busy when the other runs dry and gets backup copies of that image; the
    // backup of the face task (attempt 2) never answers, so it loses to its primary.
    // Before, the two slaves raced (no backup at all in ~1 run of 10, when both ran dry
    // together).
    const env = { ...process.env, CCTV_TEST_FAULT: 'slow:face:2:1,hang:face:2:2' };
    const slaves = [1, 2].map((i) => startSlave(['--connect', endpoint, '--threads', '1', '--slave-id', `backup-test-${i}`, '--drain-timeout', '1000'], { env }));
    await waitFor(() => slaves.every((s) => s.stderr().includes('connecting to')), 60_000, 'both slaves to be ready');
    const master = startMaster(['run', SAMPLE_FACES, '--bind', endpoint, '--local-slaves', '0', '--out', out, '--progress', 'none', '--metrics-port', String(port), '--metrics-linger', '60000']);
    try {
      await waitFor(() => master.stdout().includes('Results:') || master.proc.exitCode !== null, 120_000, 'the batch to finish');
      const report = readReport(`${out}.report.json`);
      expect(report.backupTasks, `backup copies were sent\n${master.stderr()}`).to.be.above(0);
      expect(report.backupsWon, 'the face backup lost').to.be.below(report.backupTasks);
      // Image 2 is whichever file the folder listing gave third; its face task had a backup.
      const faceAttempts = readResults(out).records.map((r) => r.face?.attempts);
      expect(faceAttempts, 'every face task answered by its first attempt').to.deep.equal([1, 1, 1]);
      const m = (await scrape(`http://127.0.0.1:${port}/metrics`)).samples;
      expect([single(m, 'cctv_in_flight_tasks'), single(m, 'cctv_pending_tasks'), single(m, 'cctv_backup_tasks_total')]).to.deep.equal([0, 0, report.backupTasks]);
      master.proc.kill('SIGTERM');
      expect(await waitExit(master, 20_000), master.stderr()).to.equal(0);
    } finally {
      master.proc.kill('SIGKILL');
      tmp.cleanup();
    }
  });
});
