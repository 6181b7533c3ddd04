import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { linkSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MASTER_EXIT } from '../../master/master.js';
import { SAMPLE_FACES, SAMPLE_VIDEO, readReport, readResults, useTempDir, recordsSoFar } from '../helpers/fixtures.js';
import { freePort, loopbackEndpoint } from '../helpers/ports.js';
import { scrape, total } from '../helpers/prometheus.js';
import { descendants, killSurvivors, startMaster, startSlave, survivors, waitExit, waitFor, type SeenProcess, runsEntry } from '../helpers/processes.js';


describe('faults: Ctrl-C on the master', function () {
  this.timeout(180_000);
  const tmp = useTempDir();

  it('SIGINT stops dispatching, keeps every finished record, stops its local slaves, exits 130; --resume finishes the batch', async () => {
    const out = join(tmp.dir, 'r.jsonl');
    const args = ['run', SAMPLE_VIDEO, '--every', '6', '--tasks', 'object,edge', '--bind', await loopbackEndpoint(), '--local-slaves', '1', '--local-threads', '2', '--out', out, '--progress', 'none'];
    const m = startMaster(args);
    await waitFor(() => recordsSoFar(out) >= 3, 120_000, 'first records');
    m.proc.kill('SIGINT');
    expect(await waitExit(m, 60_000)).to.equal(MASTER_EXIT.interrupted);
    expect(m.stderr()).to.match(/run the same command with --resume/);
    expect(m.stdout()).to.match(/^Batch interrupted \(run again with --resume to finish\): \d+ images/m);
    // The reports say so too (they read like a finished batch).
    const stopped = readReport(`${out}.report.json`);
    expect([stopped.interrupted, stopped.stoppedBy]).to.deep.equal([true, 'signal']);
    expect(readFileSync(`${out}.report.html`, 'utf8')).to.include('<p class="interrupted">Batch interrupted (run again with --resume to finish): ');
    // Its local slaves (named local-<master pid>-N) are gone too.
    const ps = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' });
    expect(ps).to.not.include(`local-${m.pid}-`);
    const kept = readResults(out).records;
    expect(kept.length).to.be.within(3, 19);
    expect(kept.every((r) => r.ok)).to.equal(true);

    const r = startMaster([...args, '--resume']);
    expect(await waitExit(r, 120_000), r.stderr()).to.equal(0);
    const all = readResults(out).records;
    expect(all).to.have.length(20);
    expect(new Set(all.map((x) => x.frame)).size).to.equal(20);
    const finished = readReport(`${out}.report.json`);
    expect([finished.imagesResumed, finished.interrupted]).to.deep.equal([kept.length, false]);
    expect(readFileSync(`${out}.report.html`, 'utf8')).to.include(`<p class="resumed">${kept.length} images were already in the results file and were skipped.</p>`);
  });

  it('SIGINT at full speed: the summary and the report count exactly the images the results file holds', async () => {
    // Thousands of no-op tasks a second: results still arrive while the master closes its socket.
    const dir = join(tmp.dir, 'many');
    mkdirSync(dir);
    const src = join(SAMPLE_FACES, '2008_001009.jpg');
    for (let i = 0; i < 10_000; i++) linkSync(src, join(dir, `f${String(i).padStart(5, '0')}.jpg`));
    for (let round = 0; round < 3; round++) {
      const out = join(tmp.dir, `many-${round}.jsonl`);
      const m = startMaster(['run', dir, '--tasks', 'noop', '--bind', await loopbackEndpoint(), '--local-slaves', '2', '--local-threads', '1', '--out', out, '--progress', 'none', '--metrics-port', '0']);
      await waitFor(() => recordsSoFar(out) >= 300, 120_000, 'records to flow');
      m.proc.kill('SIGINT');
      expect(await waitExit(m, 60_000), `${m.stderr().slice(-2000)}\n${m.stdout().slice(-500)}`).to.equal(MASTER_EXIT.interrupted);
      const records = readResults(out).records.length;
      expect(readReport(`${out}.report.json`).images, `round ${round}`).to.equal(records);
      expect(m.stdout()).to.match(new RegExp(`^Batch interrupted \\(run again with --resume to finish\\): ${records} images`, 'm'));
    }
  });

  it('Ctrl-C in a terminal (SIGINT to the whole process group) stops the batch as quietly as SIGINT to the master alone', async () => {
    // The local slave and the annotator were in the master's group: each got the terminal's
    // SIGINT itself, and the slave then took the master's SIGTERM for a second Ctrl-C.
    const out = join(tmp.dir, 'tty.jsonl');
    const args = ['run', SAMPLE_VIDEO, '--every', '6', '--tasks', 'object,edge', '--bind', await loopbackEndpoint(), '--local-slaves', '1', '--local-threads', '2', '--out', out, '--annotate', join(tmp.dir, 'tty-ann'), '--progress', 'none'];
    // A group of its own, as a shell gives a foreground job.
    const m = startMaster(args, { detached: true });
    await waitFor(() => recordsSoFar(out) >= 3, 120_000, 'first records');
    process.kill(-m.pid, 'SIGINT');
    expect(await waitExit(m, 60_000), m.stderr()).to.equal(MASTER_EXIT.interrupted);
    expect(m.stderr()).to.not.match(/again: exiting at once|annotator process ended|local slave \d+ exited/);
    expect(m.stderr()).to.match(/run the same command with --resume/);
    const ps = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' });
    expect(ps).to.not.include(`local-${m.pid}-`);
  });

  it("SIGINT with an image half done: the summary's tasks are those of the recorded images, and the task done for the unrecorded one is named as run again on --resume", async () => {
    // Image 0's object task hangs and its edge task finishes; images 1 and 2 finish.
    const out = join(tmp.dir, 'half.jsonl');
    const port = await freePort();
    const args = ['run', SAMPLE_FACES, '--tasks', 'edge,object', '--bind', await loopbackEndpoint(), '--local-slaves', '1', '--local-threads', '2', '--out', out, '--progress', 'none', '--metrics-port', String(port)];
    const m = startMaster(args, { env: { ...process.env, CCTV_TEST_FAULT: 'hang:object:0' } });
    let tree: SeenProcess[] = [];
    try {
      let edgesDone = 0;
      const start = Date.now();
      while (recordsSoFar(out) < 2 || edgesDone < 3) {
        if (Date.now() - start > 120_000) throw new Error(`timed out: ${recordsSoFar(out)} records, ${edgesDone} edge tasks done\n${m.stderr().slice(-2000)}`);
        await sleep(100);
        edgesDone = total((await scrape(`http://127.0.0.1:${port}/metrics`).catch(() => ({ samples: [] }))).samples, 'cctv_tasks_total', { kind: 'edge', outcome: 'done' });
      }
      tree = descendants(m.pid);
      m.proc.kill('SIGINT');
      expect(await waitExit(m, 60_000), m.stderr()).to.equal(MASTER_EXIT.interrupted);
      expect(readResults(out).records).to.have.length(2);
      const report = readReport(`${out}.report.json`);
      expect([report.images, report.tasks, report.tasksOfUnrecordedImages]).to.deep.equal([2, 4, 1]);
      expect(report.kinds.find((k) => k.kind === 'edge')?.tasks, 'the per-kind table counts the work done').to.equal(3);
      expect(m.stdout()).to.match(/^Batch interrupted \(run again with --resume to finish\): 2 images, 4 tasks in /m);
      expect(m.stdout()).to.include('(and 1 task(s) done for images not recorded, whose other tasks had not finished: they run again with --resume)');
    } finally {
      killSurvivors(tree);
    }
  });

  it('SIGINT while a worker is stuck in a task: no slave or worker process outlives the master', async () => {
    // The injected hang never returns to the event loop, so that worker cannot notice its
    // slave leaving: only the slave killing it ends it.
    const out = join(tmp.dir, 'stuck.jsonl');
    const args = ['run', SAMPLE_FACES, '--tasks', 'object', '--bind', await loopbackEndpoint(), '--local-slaves', '1', '--local-threads', '2', '--out', out, '--progress', 'none'];
    const m = startMaster(args, { env: { ...process.env, CCTV_TEST_FAULT: 'hang:object:0' } });
    let tree: SeenProcess[] = [];
    try {
      // Images 1 and 2 done on the other worker: image 0's task has been stuck since the start.
      await waitFor(() => recordsSoFar(out) >= 2, 120_000, 'the two images that do not hang');
      tree = descendants(m.pid);
      expect(tree.filter((p) => runsEntry(p, 'child-main')), 'worker processes').to.have.length(2);
      m.proc.kill('SIGINT');
      expect(await waitExit(m, 60_000), m.stderr()).to.equal(MASTER_EXIT.interrupted);
      expect(await survivors(tree, 10_000), 'the slave and its workers outlived the master').to.deep.equal([]);
    } finally {
      killSurvivors(tree);
    }
  });

  it('two signals a few ms apart (a wrapper such as GNU timeout forwarding the terminal\'s) are one stop: the master stops cleanly, with its summary and report', async () => {
    const out = join(tmp.dir, 'burst.jsonl');
    const m = startMaster(['run', SAMPLE_VIDEO, '--every', '6', '--tasks', 'object,edge', '--bind', await loopbackEndpoint(), '--local-slaves', '1', '--local-threads', '1', '--out', out, '--progress', 'none', '--metrics-port', '0']);
    await waitFor(() => recordsSoFar(out) >= 2, 120_000, 'first records');
    // A few ms apart, as a wrapper sends them (sent at the same instant, the kernel may merge them into one).
    m.proc.kill('SIGTERM');
    await sleep(5);
    m.proc.kill('SIGTERM');
    expect(await waitExit(m, 60_000), m.stderr()).to.equal(MASTER_EXIT.interrupted);
    expect(m.stderr().match(/SIGTERM: stopping; results so far are kept/g)).to.have.length(1);
    expect(m.stderr()).to.match(/run the same command with --resume/);
    expect(readReport(`${out}.report.json`).interrupted).to.equal(true);
  });

  it('SIGHUP (terminal or ssh session closed) stops it like SIGTERM: exits 130 and --resume finishes the batch', async () => {
    // No local slave: the master waits for one, so the signal finds it mid-batch without OpenCV work.
    const out = join(tmp.dir, 'hup.jsonl');
    const args = ['run', join(SAMPLE_FACES, '2008_001009.jpg'), '--tasks', 'edge', '--bind', await loopbackEndpoint(), '--out', out, '--progress', 'none', '--metrics-port', '0'];
    const m = startMaster([...args, '--local-slaves', '0']);
    await waitFor(() => /waiting for slaves/.test(m.stderr()), 30_000, 'the master to wait for slaves');
    m.proc.kill('SIGHUP');
    expect(await waitExit(m, 30_000), m.stderr()).to.equal(MASTER_EXIT.interrupted);
    expect(m.stderr()).to.match(/SIGHUP: stopping; results so far are kept/);
    expect(m.stderr()).to.match(/run the same command with --resume/);
    expect(readResults(out).header).to.include({ type: 'batch' });
    const r = startMaster([...args, '--local-threads', '1', '--resume']);
    expect(await waitExit(r, 60_000), r.stderr()).to.equal(0);
    expect(readResults(out).records).to.have.length(1);
  });
});

describe('faults: SIGHUP on a slave', function () {
  this.timeout(60_000);
  const tmp = useTempDir();

  it('two signals a few ms apart (GNU timeout signals the child, then its group) are one stop: it finishes its task and exits 0', async () => {
    const bind = await loopbackEndpoint();
    const out = join(tmp.dir, 'burst.jsonl');
    const m = startMaster(['run', SAMPLE_VIDEO, '--every', '6', '--tasks', 'object', '--bind', bind, '--local-slaves', '0', '--out', out, '--progress', 'none', '--metrics-port', '0']);
    try {
      const s = startSlave(['--connect', bind, '--threads', '1']);
      // Mid-batch: a task is running when the signals come.
      await waitFor(() => recordsSoFar(out) >= 1, 120_000, 'a first record');
      s.proc.kill('SIGTERM');
      await sleep(5);
      s.proc.kill('SIGTERM');
      expect(await waitExit(s, 30_000), s.stderr()).to.equal(0);
      expect(s.stderr()).to.match(/SIGTERM: finishing tasks in hand, then leaving/);
      expect(s.stderr()).to.not.match(/again: exiting at once/);
      // Its last word says how the stop went: the running task finished, nothing given up.
      // A TASK that crossed its DISCONNECT on the wire is handed back, and said so (CI).
      expect(s.stderr(), s.stderr()).to.match(/left: [1-9]\d* task\(s\) done and 0 failed since this slave started(; [1-9]\d* task\(s\) sent as it was leaving handed back)?\n?$/);
    } finally {
      m.proc.kill('SIGTERM');
      await waitExit(m, 30_000);
    }
  });

  it('stopped with a task that never ends, it gives it up after --drain-timeout and says so once: given up, not also failed (QA)', async () => {
    const bind = await loopbackEndpoint();
    const out = join(tmp.dir, 'hung.jsonl');
    const m = startMaster(['run', SAMPLE_FACES, '--tasks', 'edge', '--bind', bind, '--local-slaves', '0', '--out', out, '--progress', 'none', '--metrics-port', '0']);
    try {
      // Image 1's edge task hangs its worker; images 0 and 2 are done first or after.
      const s = startSlave(['--connect', bind, '--threads', '1', '--drain-timeout', '1000'], { env: { ...process.env, CCTV_TEST_FAULT: 'hang:edge:1' } });
      await waitFor(() => recordsSoFar(out) >= 1, 60_000, 'a first record');
      s.proc.kill('SIGTERM');
      expect(await waitExit(s, 30_000), s.stderr()).to.equal(0);
      expect(s.stderr()).to.match(/left: [1-9] task\(s\) done and 0 failed since this slave started; [1-9]\d* unfinished task\(s\) given up \(the master runs them elsewhere\)(; [1-9]\d* task\(s\) sent as it was leaving handed back)?\n?$/);
    } finally {
      m.proc.kill('SIGTERM');
      await waitExit(m, 30_000);
    }
  });

  it('finishes the tasks in hand and exits 0, as on SIGTERM', async () => {
    // Nobody listens there: the slave keeps trying to connect until it is stopped.
    const s = startSlave(['--connect', await loopbackEndpoint(), '--threads', '1']);
    await waitFor(() => /connecting to/.test(s.stderr()), 30_000, 'the slave to start');
    s.proc.kill('SIGHUP');
    expect(await waitExit(s, 30_000), s.stderr()).to.equal(0);
    expect(s.stderr()).to.match(/SIGHUP: finishing tasks in hand, then leaving/);
  });
});
