import { expect } from 'chai';
import { join } from 'node:path';
import { MASTER_EXIT } from '../../master/master.js';
import { isKindFailure } from '../../master/merge.js';
import { SAMPLE_VIDEO, readReport, readResults, useTempDir } from '../helpers/fixtures.js';
import { loopbackEndpoint } from '../helpers/ports.js';
import { startMaster, startSlave, waitExit } from '../helpers/processes.js';

const HEARTBEAT = ['--heartbeat-interval', '250', '--heartbeat-liveness', '3'];

describe('faults: poison tasks', function () {
  this.timeout(180_000);
  const tmp = useTempDir();

  for (const action of ['crash', 'hang'] as const) {
    it(`a task that ${action === 'crash' ? 'kills' : 'hangs'} every worker it touches fails after --max-attempts; the rest of the batch completes`, async () => {
      const endpoint = await loopbackEndpoint();
      const out = join(tmp.dir, `${action}.jsonl`);
      const m = startMaster(['run', SAMPLE_VIDEO, '--every', '12', '--tasks', 'edge,corner', '--bind', endpoint, '--local-slaves', '0', '--out', out, '--progress', 'none', '--max-attempts', '3', ...HEARTBEAT]);
      const env = { ...process.env, CCTV_TEST_FAULT: `${action}:edge:3` };
      const slaves = ['a', 'b'].map((id) =>
        startSlave(['--connect', endpoint, '--threads', '1', '--slave-id', `poison-${id}`, '--log-level', 'error', '--task-timeout', '1500', ...HEARTBEAT], { env }),
      );
      const code = await waitExit(m, 150_000);
      expect(code, m.stderr().slice(-3000)).to.equal(MASTER_EXIT.someFailed);
      const records = readResults(out).records;
      expect(records).to.have.length(10);
      const bad = records.filter((r) => !r.ok);
      expect(bad).to.have.length(1);
      expect(bad[0]!.frame).to.equal(36);
      const edge = bad[0]!.edge;
      expect(isKindFailure(edge)).to.equal(true);
      if (isKindFailure(edge)) {
        expect(edge.attempts).to.equal(3);
        expect(edge.error.message).to.match(action === 'crash' ? /worker process died/ : /task timeout of 1500 ms/);
      }
      expect(isKindFailure(bad[0]!.corner)).to.equal(false);
      const report = readReport(`${out}.report.json`);
      expect(report.tasksFailed).to.equal(1);
      expect(report.retries).to.equal(2);
      for (const s of slaves) expect(s.proc.exitCode, 'slaves survive the poison task').to.equal(null);
    });
  }
});
