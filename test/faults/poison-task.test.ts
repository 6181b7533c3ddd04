import { expect } from 'chai';
import { join } from 'node:path';
import { MASTER_EXIT } from '../../master/master.js';
import { isKindFailure } from '../../master/merge.js';
import { SAMPLE_VIDEO, readReport, readResults, useTempDir } from '../helpers/fixtures.js';
import { loopbackEndpoint } from '../helpers/ports.js';
import { killTree, startMaster, startSlave, waitExit, waitFor } from '../helpers/processes.js';

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

  it('a --resume gives a task that ran out of time on every attempt one attempt, not --max-attempts', async () => {
    const endpoint = await loopbackEndpoint();
    const out = join(tmp.dir, 'resume-hang.jsonl');
    const run = ['run', SAMPLE_VIDEO, '--every', '12', '--tasks', 'edge,corner', '--bind', endpoint, '--local-slaves', '0', '--out', out, '--progress', 'none', '--max-attempts', '2', ...HEARTBEAT];
    const slaveArgs = ['--connect', endpoint, '--threads', '1', '--log-level', 'error', '--task-timeout', '1500', ...HEARTBEAT];
    // Image ids count from 0 in each run: frame 36 is image 3 of the first run and the only image (0) of the resume.
    const first = startMaster(run);
    const hangFirst = startSlave([...slaveArgs, '--slave-id', 'hang-first'], { env: { ...process.env, CCTV_TEST_FAULT: 'hang:edge:3' } });
    expect(await waitExit(first, 150_000), first.stderr().slice(-3000)).to.equal(MASTER_EXIT.someFailed);
    await killTree(hangFirst);
    const before = readResults(out).records.find((r) => r.frame === 36)?.edge;
    expect(isKindFailure(before) && before.attempts, 'the first run used both attempts').to.equal(2);

    const resumed = startMaster([...run, '--resume', '--log-level', 'info']);
    startSlave([...slaveArgs, '--slave-id', 'hang-again'], { env: { ...process.env, CCTV_TEST_FAULT: 'hang:edge:0' } });
    expect(await waitExit(resumed, 150_000), resumed.stderr().slice(-3000)).to.equal(MASTER_EXIT.someFailed);
    expect(resumed.stderr()).to.match(/1 of those image\(s\) have tasks that ran out of time or crashed their worker: those tasks get one attempt/);
    const records = readResults(out).records;
    expect(records).to.have.length(10);
    const again = records.find((r) => r.frame === 36);
    expect(isKindFailure(again?.edge)).to.equal(true);
    if (isKindFailure(again?.edge)) {
      expect(again.edge.attempts).to.equal(1);
      expect(again.edge.error.message).to.match(/task timeout of 1500 ms/);
    }
    expect(isKindFailure(again?.corner), 'the image\'s other kind ran and passed').to.equal(false);
    const report = readReport(`${out}.report.json`);
    expect(report.retries).to.equal(0);
    expect(report.tasksFailed).to.equal(1);
  });

  it('on a --resume, the one attempt of such a task hung on one slave is saved by a backup copy on an idle one', async () => {
    const endpoint = await loopbackEndpoint();
    const out = join(tmp.dir, 'resume-backup.jsonl');
    const run = ['run', SAMPLE_VIDEO, '--every', '60', '--tasks', 'edge', '--bind', endpoint, '--local-slaves', '0', '--out', out, '--progress', 'none', '--max-attempts', '2', ...HEARTBEAT];
    const slaveArgs = ['--connect', endpoint, '--threads', '1', '--log-level', 'error', ...HEARTBEAT];
    // The first run records frame 60 (image 1) as crashing its worker on both attempts.
    const first = startMaster(run);
    const crashing = startSlave([...slaveArgs, '--slave-id', 'crashing'], { env: { ...process.env, CCTV_TEST_FAULT: 'crash:edge:1' } });
    expect(await waitExit(first, 150_000), first.stderr().slice(-3000)).to.equal(MASTER_EXIT.someFailed);
    await killTree(crashing);
    // The resume's one attempt goes to a slave that hangs on it; a healthy slave joins after.
    const resumed = startMaster([...run, '--resume', '--log-level', 'info', '--lease', 'edge=60000']);
    startSlave([...slaveArgs, '--slave-id', 'hanging', '--task-timeout', '120000'], { env: { ...process.env, CCTV_TEST_FAULT: 'hang:edge:0' } });
    await waitFor(() => /slave hanging joined/.test(resumed.stderr()), 60_000, 'the hanging slave joined');
    startSlave([...slaveArgs, '--slave-id', 'healthy']);
    expect(await waitExit(resumed, 150_000), resumed.stderr().slice(-3000)).to.equal(MASTER_EXIT.ok);
    const records = readResults(out).records;
    expect(records.map((r) => [r.frame, r.ok])).to.deep.equal([
      [0, true],
      [60, true],
    ]);
    const edge = records[1]!.edge;
    expect(!isKindFailure(edge) && edge?.slave).to.equal('healthy');
    expect(readReport(`${out}.report.json`).backupsWon).to.equal(1);
  });
});
