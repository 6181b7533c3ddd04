import { expect } from 'chai';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { SAMPLE_VIDEO, readReport, readResults, tempDir } from '../helpers/fixtures.js';
import { loopbackEndpoint } from '../helpers/ports.js';
import { startMaster, waitExit } from '../helpers/processes.js';

describe("compute time: a task's CPU time on its worker, not its wall time", function () {
  this.timeout(240_000);

  it('keeps the speed-up within the cores when a slave runs twice as many workers as there are, and warns of the extra workers', async () => {
    // Pinned to (at most) two CPUs, so the test is the same on a bigger machine.
    const cores = Math.min(2, cpus().length);
    const threads = 2 * cores;
    const tmp = tempDir();
    try {
      const out = join(tmp.dir, 'r.jsonl');
      const master = startMaster(
        ['run', SAMPLE_VIDEO, '--every', '6', '--bind', await loopbackEndpoint(), '--local-slaves', '1', '--local-threads', String(threads), '--out', out, '--progress', 'none', '--metrics-port', '0'],
        { cpus: cores === 1 ? '0' : '0,1' },
      );
      expect(await waitExit(master, 200_000), master.stderr()).to.equal(0);
      expect(master.stderr()).to.include(`--local-threads ${threads}: ${threads} worker processes on ${cores} CPU core(s)`);
      const report = readReport(`${out}.report.json`);
      expect(report.tasksFailed).to.equal(0);
      // Wall time counted each task's wait for a core as work: ~2x the cores (3.9x here).
      // CPU time cannot add up to more than the cores over the processing time.
      expect(report.speedUp).to.be.above(0).and.at.most(cores + 0.02);
      expect(report.slaves[0]?.utilization).to.be.at.most(cores / threads + 0.02);
      const { records } = readResults(out);
      expect(records).to.have.length(20);
      for (const r of records) {
        const record = r as unknown as Record<string, { computeMs?: number } | undefined>;
        expect(record['face']?.computeMs, 'a face task takes CPU time').to.be.above(0);
      }
    } finally {
      tmp.cleanup();
    }
  });
});
