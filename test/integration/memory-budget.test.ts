import { expect } from 'chai';
import { join } from 'node:path';
import { SAMPLE_VIDEO, readReport, readResults, tempDir } from '../helpers/fixtures.js';
import { freePort, loopbackEndpoint } from '../helpers/ports.js';
import { single, scrape } from '../helpers/prometheus.js';
import { startMaster, startSlave, waitExit, waitFor } from '../helpers/processes.js';
import { expectSameAsReference, referenceRun } from '../helpers/reference.js';

const KINDS = ['object', 'face', 'edge', 'corner'] as const;
const EVERY = 10;

/**
 * `slave --memory-budget` through real processes: a slave of two workers whose budget holds
 * less than one image runs its images one at a time (slave/pool/child-pool.ts; the pool's
 * own test shows the order), and loses nothing by it.
 */
describe('integration: a slave with a memory budget smaller than an image', function () {
  this.timeout(240_000);

  it('makes its second worker wait for memory, says so once in its log and in its metrics, and every result equals the reference', async () => {
    const tmp = tempDir();
    const endpoint = await loopbackEndpoint();
    const port = await freePort();
    const out = join(tmp.dir, 'budget.jsonl');
    const slave = startSlave(['--connect', endpoint, '--threads', '2', '--memory-budget', '1', '--slave-id', 'budget-1', '--metrics-port', String(port), '--drain-timeout', '1000']);
    try {
      await waitFor(() => slave.stderr().includes('connecting to') || slave.proc.exitCode !== null, 60_000, 'the slave to be ready');
      expect(slave.stderr()).to.include('2 worker(s), 1 MiB of memory for images at once');
      const master = startMaster(['run', SAMPLE_VIDEO, '--every', String(EVERY), '--tasks', KINDS.join(','), '--bind', endpoint, '--local-slaves', '0', '--out', out, '--progress', 'none', '--metrics-port', '0']);
      expect(await waitExit(master, 200_000), master.stderr()).to.equal(0);
      const compared = expectSameAsReference(readResults(out).records, await referenceRun(SAMPLE_VIDEO, EVERY, KINDS), KINDS);
      expect(compared).to.equal(12 * KINDS.length);
      expect(readReport(`${out}.report.json`).retries, 'no task needed a second attempt').to.equal(0);
      const m = (await scrape(`http://127.0.0.1:${port}/metrics`)).samples;
      expect(single(m, 'cctv_slave_memory_budget_bytes')).to.equal(2 ** 20);
      expect(single(m, 'cctv_slave_memory_waits_total'), 'the second worker waited').to.be.above(0);
      expect(single(m, 'cctv_slave_memory_reserved_bytes'), 'nothing held after the batch').to.equal(0);
      expect(slave.stderr().match(/waits for memory/g), slave.stderr()).to.have.length(1);
    } finally {
      slave.proc.kill('SIGTERM');
      await waitExit(slave, 20_000).catch(() => slave.proc.kill('SIGKILL'));
      tmp.cleanup();
    }
  });
});
