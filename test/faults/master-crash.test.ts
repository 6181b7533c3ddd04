import { expect } from 'chai';
import { existsSync, linkSync, readFileSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SAMPLE_FACES, SAMPLE_VIDEO, readReport, readResults, useTempDir, recordsSoFar } from '../helpers/fixtures.js';
import { loopbackEndpoint } from '../helpers/ports.js';
import { descendants, killSurvivors, SLAVE_BIN, startMaster, startNode, startSlave, waitExit, waitFor, type SeenProcess, type Tracked } from '../helpers/processes.js';
import { expectSameAsReference, referenceRun } from '../helpers/reference.js';

const KINDS = ['object', 'face', 'edge', 'corner'] as const;
const EVERY = 4;
const HEARTBEAT = ['--heartbeat-interval', '250', '--heartbeat-liveness', '3'];


describe('faults: the master crashes and resumes', function () {
  this.timeout(240_000);
  const tmp = useTempDir();

  it('3. SIGKILL the master mid-batch; `--resume` completes it without redoing or losing any record', async () => {
    const endpoint = await loopbackEndpoint();
    const out = join(tmp.dir, 'results.jsonl');
    const args = ['run', SAMPLE_VIDEO, '--every', String(EVERY), '--bind', endpoint, '--local-slaves', '0', '--out', out, '--progress', 'none', ...HEARTBEAT];
    const first = startMaster(args);
    const slaves = ['a', 'b'].map((id) => startSlave(['--connect', endpoint, '--threads', '1', '--slave-id', `crash-${id}`, '--log-level', 'warn', ...HEARTBEAT]));
    await waitFor(() => recordsSoFar(out) >= 8, 120_000, 'records before the crash');
    first.proc.kill('SIGKILL');
    await waitExit(first, 10_000);
    const before = recordsSoFar(out);
    expect(before).to.be.within(8, 29);

    const again = startMaster(args);
    const refused = await waitExit(again, 30_000);
    expect(refused, 'an existing results file is not overwritten by accident').to.equal(2);
    expect(again.stderr()).to.match(/already exists: pass --resume/);

    const resumed: Tracked = startMaster([...args, '--resume']);
    const code = await waitExit(resumed, 200_000);
    expect(code, resumed.stderr().slice(-3000)).to.equal(0);
    expect(resumed.stderr()).to.match(/resuming .*: it holds \d+ images already done; the inputs among them are skipped/);
    const report = readReport(`${out}.report.json`);
    expect(report.images + report.imagesResumed).to.equal(30);
    expect(report.images, 'finished images are not redone').to.equal(30 - report.imagesResumed);
    const reference = await referenceRun(SAMPLE_VIDEO, EVERY, KINDS);
    expect(expectSameAsReference(readResults(out).records, reference, KINDS)).to.equal(120);
    process.stdout.write(`      [measured] ${before} records survived the SIGKILL; ${report.images} images done after resume\n`);
    for (const s of slaves) expect(s.proc.exitCode, 'slaves survive the master crash').to.equal(null);
    // A master that died closed the connection: not a slow link, so no longer window.
    for (const s of slaves) expect(s.stderr()).not.to.match(/answered on a new connection/);
  });

  it('a slave whose socket reconnected by itself to a restarted master is told it has no session and joins at once, not after its liveness', async () => {
    const endpoint = await loopbackEndpoint();
    const out = join(tmp.dir, 'rejoin.jsonl');
    const args = ['run', SAMPLE_VIDEO, '--every', String(EVERY), '--tasks', 'edge,corner', '--bind', endpoint, '--local-slaves', '0', '--out', out, '--progress', 'none', '--metrics-port', '0'];
    // Left to itself this slave would take the master for dead only after 100 s of silence.
    // Images 1-8 take 600 ms each, so the batch is still running when its master is killed.
    const slow = Array.from({ length: 8 }, (_, i) => `slow:edge:${i + 1}`).join(',');
    const slave = startSlave(['--connect', endpoint, '--threads', '1', '--heartbeat-interval', '1000', '--heartbeat-liveness', '100'], { env: { ...process.env, CCTV_TEST_FAULT: slow } });
    const first = startMaster(args);
    await waitFor(() => recordsSoFar(out) >= 1, 120_000, 'records before the crash');
    first.proc.kill('SIGKILL');
    await waitExit(first, 10_000);

    const resumed = startMaster([...args, '--resume']);
    expect(await waitExit(resumed, 60_000), resumed.stderr().slice(-3000)).to.equal(0);
    expect(resumed.stderr()).to.match(/slave \S+ joined/);
    expect(slave.stderr()).to.match(/master says: no session: .*; joining again/);
    expect(slave.stderr(), 'the slave did not wait for its liveness to reconnect').not.to.match(/reconnecting in/);
    expect(readResults(out).records.length).to.equal(30);
  });

  it('SIGKILL during an --overwrite batch leaves no report of the earlier batch to stand for it', async () => {
    const out = join(tmp.dir, 'over.jsonl');
    const common = ['--tasks', 'edge', '--bind', await loopbackEndpoint(), '--local-slaves', '1', '--local-threads', '1', '--out', out, '--progress', 'none', '--metrics-port', '0'];
    const earlier = startMaster(['run', SAMPLE_FACES, ...common]);
    expect(await waitExit(earlier, 120_000), earlier.stderr()).to.equal(0);
    expect(readReport(`${out}.report.json`).images).to.equal(3);
    expect(existsSync(`${out}.report.html`)).to.equal(true);

    // Image 5's task hangs: the second batch cannot end before the kill.
    const second = startMaster(['run', SAMPLE_VIDEO, '--every', '3', '--overwrite', ...common], { env: { ...process.env, CCTV_TEST_FAULT: 'hang:edge:5' } });
    let tree: SeenProcess[] = [];
    try {
      // The file holds the first batch's 3 records until the second master replaces it.
      await waitFor(() => readFileSync(out, 'utf8').includes('vtest-12s.avi') && recordsSoFar(out) >= 2, 120_000, 'records of the second batch');
      tree = descendants(second.pid);
      second.proc.kill('SIGKILL');
      await waitExit(second, 10_000);
      expect([existsSync(`${out}.report.json`), existsSync(`${out}.report.html`)], "the first batch's report").to.deep.equal([false, false]);
    } finally {
      killSurvivors(tree);
    }
  });

  it('a second master on a results file in use is refused, with --overwrite or --resume; the first one\'s records are whole, and its lock goes with it', async () => {
    const out = join(tmp.dir, 'shared.jsonl');
    const endpoint = await loopbackEndpoint();
    const common = ['--tasks', 'edge', '--out', out, '--progress', 'none', '--metrics-port', '0'];
    const first = startMaster(['run', SAMPLE_FACES, ...common, '--bind', endpoint, '--local-slaves', '0']);
    await waitFor(() => /waiting for slaves/.test(first.stderr()), 30_000, 'the first master to wait for slaves');
    for (const flag of ['--overwrite', '--resume']) {
      const second = startMaster(['run', SAMPLE_FACES, ...common, '--bind', await loopbackEndpoint(), flag]);
      expect(await waitExit(second, 30_000), second.stderr()).to.equal(2);
      expect(second.stderr()).to.include(`is in use by another master (pid ${first.pid} on `);
      expect(second.stderr()).to.include(`wait for its batch to end, or give another --out; if no master runs on it any more, remove ${out}.lock`);
    }
    // Another name for the same file finds the lock too (QA: a second master wrote into it).
    const byInode = join(tmpdir(), `cctv-cluster-${statSync(out).dev}-${statSync(out).ino}.lock`);
    expect(existsSync(byInode), 'a lock named by the file\'s inode').to.equal(true);
    const symbolic = join(tmp.dir, 'symbolic.jsonl');
    const hard = join(tmp.dir, 'hard.jsonl');
    symlinkSync(out, symbolic);
    linkSync(out, hard);
    for (const [name, flag] of [[symbolic, '--overwrite'], [hard, '--resume'], [hard, '--overwrite']] as const) {
      const second = startMaster(['run', SAMPLE_FACES, '--tasks', 'edge', '--out', name, '--progress', 'none', '--metrics-port', '0', '--bind', await loopbackEndpoint(), flag]);
      expect(await waitExit(second, 30_000), `${name} ${flag}: ${second.stderr()}`).to.equal(2);
      expect(second.stderr()).to.include(`is in use by another master (pid ${first.pid} on `);
    }
    expect(existsSync(`${hard}.lock`), 'a refused master leaves no lock of its own').to.equal(false);
    startSlave(['--connect', endpoint, '--threads', '1', '--log-level', 'warn']);
    expect(await waitExit(first, 120_000), first.stderr()).to.equal(0);
    const { records } = readResults(out);
    expect(records.map((r) => [r.ok, r.source]).sort()).to.deep.equal(['2008_001009.jpg', '2008_001322.jpg', '2008_002506.jpg'].map((f) => [true, join(SAMPLE_FACES, f)]).sort());
    expect(existsSync(`${out}.lock`), 'the lock is removed at the end').to.equal(false);
    expect(existsSync(byInode), 'and the one named by its inode').to.equal(false);
  });

  it('--overwrite on a port in use leaves the earlier batch\'s results and report as they were', async () => {
    const out = join(tmp.dir, 'kept.jsonl');
    const common = ['--tasks', 'edge', '--out', out, '--progress', 'none', '--metrics-port', '0'];
    const endpoint = await loopbackEndpoint();
    const earlier = startMaster(['run', SAMPLE_FACES, ...common, '--bind', endpoint, '--local-threads', '1']);
    expect(await waitExit(earlier, 120_000), earlier.stderr()).to.equal(0);
    const files = [out, `${out}.report.json`, `${out}.report.html`].map((f) => readFileSync(f, 'utf8'));
    // A master still running on that port (here, one waiting for slaves).
    const busy = startMaster(['run', SAMPLE_FACES, '--tasks', 'edge', '--out', join(tmp.dir, 'busy.jsonl'), '--progress', 'none', '--metrics-port', '0', '--bind', endpoint, '--local-slaves', '0']);
    await waitFor(() => /waiting for slaves/.test(busy.stderr()), 30_000, 'the master holding the port');
    try {
      const again = startMaster(['run', SAMPLE_VIDEO, ...common, '--bind', endpoint, '--overwrite']);
      expect(await waitExit(again, 30_000), again.stderr()).to.equal(1);
      expect(again.stderr()).to.match(/cannot listen on/);
    } finally {
      busy.proc.kill('SIGKILL');
      await waitExit(busy, 10_000);
    }
    expect([out, `${out}.report.json`, `${out}.report.html`].map((f) => readFileSync(f, 'utf8'))).to.deep.equal(files);
    expect(existsSync(`${out}.lock`)).to.equal(false);
  });

  it('a local slave whose master died while it was starting exits by itself (its parent was gone before it listened for that)', async () => {
    // A parent that starts a slave the way the master starts its local slaves, then exits at once.
    const parent = startNode('-e', [
      `const c = require('node:child_process').spawn(process.execPath, [${JSON.stringify(SLAVE_BIN)}, '--connect', 'tcp://127.0.0.1:9', '--threads', '1', '--exit-with-parent'], { stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });`
        + 'process.stdout.write(String(c.pid)); c.disconnect(); c.unref(); process.exit(0);',
    ]);
    await waitExit(parent, 30_000);
    const pid = Number(parent.stdout());
    expect(pid, parent.stderr()).to.be.above(0);
    const gone = (): boolean => !existsSync(`/proc/${pid}`) || readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z') === true;
    try {
      await waitFor(gone, 30_000, `the orphaned slave ${pid} to exit`);
    } finally {
      if (!gone()) process.kill(pid, 'SIGKILL');
    }
  });
});
