import { expect } from 'chai';
import { join } from 'node:path';
import { MASTER_EXIT } from '../../master/master.js';
import { isKindFailure } from '../../master/merge.js';
import { SAMPLE_VIDEO, readReport, readResults, tempDir, recordsSoFar } from '../helpers/fixtures.js';
import { loopbackEndpoint } from '../helpers/ports.js';
import { alive, descendants, killSurvivors, killTree, startMaster, startSlave, survivors, waitExit, waitFor, type SeenProcess, type Tracked, runsEntry } from '../helpers/processes.js';
import { expectSameAsReference, referenceRun } from '../helpers/reference.js';

const KINDS = ['object', 'face', 'edge', 'corner'] as const;
const EVERY = 4; // 30 frames of the 120-frame sample
const HEARTBEAT = ['--heartbeat-interval', '250', '--heartbeat-liveness', '3'];


describe('faults: slaves die, hang, join and leave mid-batch; nothing is lost', function () {
  this.timeout(240_000);
  let tmp: ReturnType<typeof tempDir>;
  let endpoint = '';
  let out = '';

  beforeEach(async () => {
    tmp = tempDir();
    endpoint = await loopbackEndpoint();
    out = join(tmp.dir, 'results.jsonl');
  });
  afterEach(() => {
    tmp.cleanup();
  });

  const master = (extra: string[] = []): Tracked =>
    startMaster(['run', SAMPLE_VIDEO, '--every', String(EVERY), '--bind', endpoint, '--local-slaves', '0', '--out', out, '--progress', 'none', ...HEARTBEAT, ...extra]);
  const slave = (id: string, env: NodeJS.ProcessEnv = process.env, threads = 1, extra: string[] = []): Tracked =>
    startSlave(['--connect', endpoint, '--threads', String(threads), '--slave-id', id, '--log-level', 'warn', ...HEARTBEAT, ...extra], { env });

  /** A master with one local slave of one worker, once two records are in: the master, and its slave process. */
  async function masterWithLocalSlave(): Promise<{ m: Tracked; local: SeenProcess }> {
    const m = master(['--local-slaves', '1', '--local-threads', '1']);
    await waitFor(() => recordsSoFar(out) >= 2, 120_000, 'first records');
    const local = descendants(m.proc.pid!).filter((p) => p.cmdline.includes('bin/slave.js'));
    expect(local).to.have.length(1);
    return { m, local: local[0]! };
  }

  async function finishAndCheck(m: Tracked): Promise<ReturnType<typeof readReport>> {
    const code = await waitExit(m, 200_000);
    expect(code, m.stderr().slice(-4000)).to.equal(0);
    const reference = await referenceRun(SAMPLE_VIDEO, EVERY, KINDS);
    expect(expectSameAsReference(readResults(out).records, reference, KINDS)).to.equal(30 * 4);
    const report = readReport(`${out}.report.json`);
    process.stdout.write(`      [measured] retries ${report.retries}, slaves lost ${report.slavesLost}, leases expired ${report.leasesExpired}, duplicates dropped ${report.duplicatesDropped}, results lost 0 (120 of 120 equal the reference)\n`);
    return report;
  }

  it('1. SIGKILL one of three slaves: its leases move to the others', async () => {
    const m = master();
    const slaves = ['a', 'b', 'c'].map((id) => slave(`kill-${id}`));
    await waitFor(() => recordsSoFar(out) >= 3, 120_000, 'first records');
    const killedAt = Date.now();
    slaves[0]!.proc.kill('SIGKILL');
    await waitFor(() => m.stderr().includes('slave kill-a is lost'), 30_000, 'the master to notice');
    const noticedMs = Date.now() - killedAt;
    const report = await finishAndCheck(m);
    // At least the killed one; on a loaded 2-core machine a busy slave can also miss its
    // 750 ms of heartbeats now and then, which costs a retry, never a result.
    expect(report.slavesLost).to.be.at.least(1);
    expect(report.retries).to.be.above(0);
    const line = /slave kill-a is lost \(([^)]*)\); (\d+) task\(s\) go back/.exec(m.stderr());
    expect(line).to.not.equal(null);
    // Put back without using an attempt, and said so: the records all show attempt 1.
    expect(report.retriesAfterSlaveLoss).to.be.at.least(Number(line?.[2]));
    expect(report.retriesAfterSlaveLoss).to.be.at.most(report.retries);
    expect(m.stdout()).to.match(/retries: \d+ \(\d+ of them tasks of slaves that left, were lost or reconnected: no attempt used\)/);
    process.stdout.write(`      [measured] dead slave noticed after ${noticedMs} ms (${line?.[1]}), ${line?.[2]} task(s) reassigned, duplicates dropped ${report.duplicatesDropped}\n`);
  });

  it('10. SIGKILL four slaves in a row, each while it holds the first tasks: losing slaves uses up no attempt, the master says it has no slave, nothing fails', async () => {
    const m = master();
    // Each task of the first images blocks its worker 600 ms first (test fault), so no doomed
    // slave can finish an image in the ~300 ms it lives: on a fast hour one image took ~310 ms.
    const slow = Array.from({ length: 6 }, (_, image) => KINDS.map((kind) => `slow:${kind}:${image}`)).flat().join(',');
    for (let i = 0; i < 4; i++) {
      const doomed = slave(`doomed-${i}`, { ...process.env, CCTV_TEST_FAULT: slow });
      await waitFor(() => m.stderr().includes(`slave doomed-${i} joined`), 60_000, `slave doomed-${i} to join`);
      // It holds its credit's worth of tasks as soon as it has joined; let it start on them.
      await new Promise((r) => setTimeout(r, 300));
      doomed.proc.kill('SIGKILL');
      await waitFor(() => m.stderr().includes(`slave doomed-${i} is lost`), 30_000, `the master to notice doomed-${i}`);
    }
    expect(recordsSoFar(out), 'no image finished before the last slave').to.equal(0);
    // With every slave gone the master says so (after 10 s) instead of waiting in silence.
    await waitFor(() => /no slave connected for \d+ s; the batch waits: start `node bin\/slave\.js --connect /.test(m.stderr()), 30_000, 'the no-slave warning');
    slave('survivor');
    // --max-attempts is 3: before, the third loss failed the first image's tasks for good.
    const report = await finishAndCheck(m);
    expect(report.tasksFailed).to.equal(0);
    expect(report.slavesLost).to.be.at.least(4);
  });

  it('15. the master\'s only local slave is killed (SIGKILL, as by the out-of-memory killer): the master starts it again and the batch finishes, nothing lost', async () => {
    const { m, local } = await masterWithLocalSlave();
    process.kill(local.pid, 'SIGKILL');
    await waitFor(() => m.stderr().includes('local slave 1 was killed (SIGKILL'), 30_000, 'the master to notice');
    const report = await finishAndCheck(m);
    expect(report.tasksFailed).to.equal(0);
    expect(m.stderr()).to.match(/local slave 1 was killed \(SIGKILL: by the out-of-memory killer, or a user\?\); starting it again/);
    // The new process, under the same slave id; the old one counted lost at once, and not
    // taken for a second slave with that id.
    expect(m.stderr().match(new RegExp(`slave local-${m.proc.pid!}-1-[0-9a-f]{6} joined`, 'g'))).to.have.length(2);
    expect(m.stderr()).to.match(/slave local-\d+-1-[0-9a-f]{6} is lost \(its process was killed \(SIGKILL/);
    expect(m.stderr()).to.not.match(/same --slave-id/);
    expect(report.slavesLost).to.be.at.least(1);
  });

  it('16. the master\'s only local slave stops (SIGSTOP: hung): taken for dead, it is killed and started again, and the batch finishes, nothing lost', async () => {
    const { m, local } = await masterWithLocalSlave();
    process.kill(local.pid, 'SIGSTOP');
    await waitFor(() => /local slave local-\d+-1-[0-9a-f]{6} still runs but is silent: killed, to be started again/.test(m.stderr()), 30_000, 'the master to end its hung slave');
    const report = await finishAndCheck(m);
    expect(report.tasksFailed).to.equal(0);
    expect(alive(local)).to.equal(false);
    // Its end is the master's doing, not blamed on the OOM killer (QA).
    expect(m.stderr()).to.include('local slave 1 was killed by the master for its silence; starting it again');
    expect(m.stderr()).to.not.include('out-of-memory killer');
  });

  it('17. a local slave in a crash loop is started again at once, then after 1, 2, 4 and 8 s, then not before its first restart is a minute old; Ctrl-C in that wait stops the master at once', async () => {
    const { m, local } = await masterWithLocalSlave();
    const seen: SeenProcess[] = [local];
    process.kill(local.pid, 'SIGKILL');
    for (let start = 2; start <= 6; start++) {
      let next: SeenProcess | undefined;
      await waitFor(() => (next = descendants(m.proc.pid!).find((p) => p.cmdline.includes('bin/slave.js') && !seen.some((s) => s.pid === p.pid))) !== undefined, 30_000, `start ${start} of the local slave`);
      seen.push(next!);
      process.kill(next!.pid, 'SIGKILL');
    }
    await waitFor(() => m.stderr().includes('its 6th end within a minute'), 30_000, 'the sixth end');
    const delays = [...m.stderr().matchAll(/local slave 1 was killed \(SIGKILL[^;]*\); starting it again(?: in (\d+) ms)?/g)].map((x) => Number(x[1] ?? 0));
    expect(delays, m.stderr().slice(-4000)).to.deep.equal([0, 1000, 2000, 4000, 8000]);
    // Its first restart was ~15 s (1 + 2 + 4 + 8 and the starts) before the sixth end.
    const wait = Number(/its 6th end within a minute: starting it again in (\d+) s; meanwhile the batch waits/.exec(m.stderr())?.[1]);
    expect(wait).to.be.within(30, 46);
    const before = recordsSoFar(out);
    const interruptedAt = Date.now();
    m.proc.kill('SIGINT');
    expect(await waitExit(m, 15_000), m.stderr().slice(-4000)).to.equal(MASTER_EXIT.interrupted);
    const stoppedMs = Date.now() - interruptedAt;
    expect(await survivors(seen, 5000)).to.deep.equal([]);
    expect(descendants(m.proc.pid!)).to.deep.equal([]);
    // What was done stays recorded: the records before Ctrl-C are all in the file.
    expect(recordsSoFar(out)).to.be.at.least(before);
    process.stdout.write(`      [measured] restarts after 0/1000/2000/4000/8000 ms, then a wait of ${wait} s; Ctrl-C ended the master in ${stoppedMs} ms\n`);
  });

  it('2. SIGSTOP a slave (hung, socket open), SIGCONT later: its work is redone elsewhere, late results dropped', async () => {
    const m = master();
    const slaves = ['a', 'b'].map((id) => slave(`stop-${id}`));
    await waitFor(() => recordsSoFar(out) >= 3, 120_000, 'first records');
    const stoppedAt = Date.now();
    process.kill(slaves[0]!.pid, 'SIGSTOP');
    await waitFor(() => m.stderr().includes('slave stop-a is lost'), 30_000, 'the master to notice');
    process.stdout.write(`      [measured] hung slave noticed after ${Date.now() - stoppedAt} ms; ${/slave stop-a is lost \([^)]*\); (\d+) task/.exec(m.stderr())?.[1] ?? '?'} task(s) reassigned\n`);
    await new Promise((r) => setTimeout(r, 1500));
    process.kill(slaves[0]!.pid, 'SIGCONT');
    const report = await finishAndCheck(m);
    expect(report.slavesLost).to.be.at.least(1);
    expect(slaves[0]!.stderr(), 'its own stop is not taken for a slow master').not.to.match(/answered on a new connection/);
    // Its heartbeats until it joins again are a recovery, not dropped messages (QA).
    expect(m.stderr()).to.not.include('HEARTBEAT from a slave that has not sent READY');
    process.stdout.write(`      [measured] retries ${report.retries}, duplicates dropped ${report.duplicatesDropped}\n`);
  });

  it('4. a slave joining mid-batch gets work; a slave leaving gracefully (SIGTERM) hands back nothing lost', async () => {
    const m = master();
    // A short drain: what it holds beyond its running task is handed back when it leaves.
    const first = startSlave(['--connect', endpoint, '--threads', '1', '--slave-id', 'join-a', '--log-level', 'warn', '--drain-timeout', '300', ...HEARTBEAT]);
    await waitFor(() => recordsSoFar(out) >= 2, 120_000, 'first records');
    slave('join-b');
    await waitFor(() => m.stderr().includes('slave join-b joined'), 30_000, 'the second slave to join');
    await waitFor(() => recordsSoFar(out) >= 8, 120_000, 'more records');
    first.proc.kill('SIGTERM');
    expect(await waitExit(first, 60_000)).to.equal(0);
    // The reason comes from the slave, so it is logged quoted and escaped.
    expect(m.stderr()).to.match(/slave join-a (is leaving|left): "slave join-a stopped by SIGTERM/);
    const report = await finishAndCheck(m);
    const b = report.slaves.find((s) => s.slaveId === 'join-b');
    expect(b?.tasks).to.be.above(0);
    // What it handed back on leaving used no attempt and is no failed attempt of its own.
    const a = report.slaves.find((s) => s.slaveId === 'join-a');
    expect({ failed: a?.failed, retries: report.retries }, m.stderr()).to.deep.equal({ failed: 0, retries: report.retriesAfterSlaveLoss });
    expect(report.retriesAfterSlaveLoss, 'tasks handed back').to.be.above(0);
    expect(m.stderr(), 'the leaving slave is not treated as lost').to.not.match(/slave join-a is lost/);
  });

  it('5. a slave started before its master says it has no answer yet, waits, and is served once the master starts', async () => {
    const s = slave('early');
    await waitFor(() => /no answer from a master at tcp:\/\/127\.0\.0\.1:\d+ for 1\d s: is the master running/.test(s.stderr()), 30_000, 'the no-answer warning');
    expect(s.proc.exitCode).to.equal(null);
    const m = master();
    await finishAndCheck(m);
  });

  it('5b. a slave whose --connect host name does not resolve says so, instead of only that no master answers', async () => {
    // .invalid never resolves (RFC 2606).
    const s = startSlave(['--connect', 'tcp://no-such-master.invalid:5570', '--threads', '1']);
    try {
      await waitFor(() => /no answer from a master at tcp:\/\/no-such-master\.invalid:5570 for 1\d s: its host name no-such-master\.invalid does not resolve \(\w+\)/.test(s.stderr()), 30_000, 'the warning');
      expect(s.proc.exitCode, 'it keeps trying').to.equal(null);
    } finally {
      await killTree(s);
    }
  });

  it('6. a slave whose face detector throws keeps serving its other tasks; the failed ones succeed elsewhere', async () => {
    const m = master();
    // The healthy slave is connected first, so a failed task always has somewhere else to go.
    slave('healthy');
    await waitFor(() => m.stderr().includes('slave healthy joined'), 30_000, 'the healthy slave');
    // On this slave only, the face detector throws on every image (so it surely meets
    // some, whichever images the scheduler gives it); its other detectors work.
    const faults = Array.from({ length: 30 }, (_, i) => `throw:face:${i}`).join(',');
    slave('faulty', { ...process.env, CCTV_TEST_FAULT: faults });
    const report = await finishAndCheck(m);
    const f = report.slaves.find((s) => s.slaveId === 'faulty');
    expect(f?.tasks, 'the faulty slave kept serving').to.be.above(4);
    expect(f?.failed, 'the injected fault fired').to.be.at.least(1);
    expect(report.retries).to.be.at.least(1);
  });

  it('7. SIGKILL a slave while one of its workers is stuck in a task: its workers die with it; the task is redone elsewhere', async () => {
    const m = master();
    // Image 0's object task never returns to the worker's event loop, so that worker cannot
    // notice its slave is gone; only the kernel's parent-death signal ends it.
    const s = slave('stuck', { ...process.env, CCTV_TEST_FAULT: 'hang:object:0' }, 2);
    let tree: SeenProcess[] = [];
    try {
      // Two images done by the other worker: image 0, dispatched first, has been stuck since.
      await waitFor(() => recordsSoFar(out) >= 2, 120_000, 'the images that do not hang');
      tree = descendants(s.proc.pid ?? 0);
      expect(tree.filter((p) => runsEntry(p, 'child-main')), 'worker processes').to.have.length(2);
      s.proc.kill('SIGKILL');
      expect(await survivors(tree, 10_000), 'workers outlived their slave').to.deep.equal([]);
    } finally {
      killSurvivors(tree);
    }
    slave('rescue');
    const report = await finishAndCheck(m);
    expect(report.slavesLost).to.be.at.least(1);
  });

  it('8. a slave whose worker hangs holds the last tasks: backup copies on the other slave finish the batch before any lease runs out', async () => {
    // Leases of 200 s: only backup tasks can finish this batch within the test's time.
    const m = master(['--lease', 'object=200000,face=200000,edge=200000,corner=200000']);
    // Every object task hangs on this slave, so the first one it starts stops it for good,
    // with its other tasks queued behind; its heartbeats go on (the slave itself is fine).
    const hangs = Array.from({ length: 30 }, (_, i) => `hang:object:${i}`).join(',');
    const s = slave('stuck', { ...process.env, CCTV_TEST_FAULT: hangs });
    await waitFor(() => m.stderr().includes('slave stuck joined'), 60_000, 'the stuck slave');
    slave('healthy');
    try {
      const report = await finishAndCheck(m);
      expect(report.leasesExpired, 'no lease ran out').to.equal(0);
      expect(report.slavesLost, 'the stuck slave kept its heartbeats').to.equal(0);
      expect(report.backupTasks, 'backup copies sent').to.be.at.least(1);
      expect(report.backupsWon, 'backup copies answered first').to.be.at.least(1);
      const stuck = report.slaves.find((x) => x.slaveId === 'stuck');
      expect(stuck?.tasks ?? 0, 'the stuck slave finished no object task').to.be.below(30);
      const objects = readResults(out).records.map((r) => (r['object'] as { slave?: string } | undefined)?.slave);
      expect(objects.filter((id) => id === 'stuck'), 'object results from the stuck slave').to.deep.equal([]);
      process.stdout.write(`      [measured] backup tasks ${report.backupTasks}, answered first ${report.backupsWon}, duplicates dropped ${report.duplicatesDropped}, batch ${(report.wallMs / 1000).toFixed(1)} s with 200 s leases\n`);
    } finally {
      await killTree(s);
    }
  });

  it('9. SIGKILL the slave holding the last tasks while their backup copies run elsewhere: nothing is lost', async () => {
    const m = master(['--log-level', 'debug']);
    const slaves = new Map(['a', 'b', 'c'].map((id) => [`tail-${id}`, slave(`tail-${id}`)]));
    // Three single-worker slaves each hold up to two queued images, so the first to run
    // out of work at the end gets backup copies of another's.
    await waitFor(() => /backup: \d+ task\(s\) also go to tail-\w: image \d+ \(held by tail-\w\)/.test(m.stderr()), 180_000, 'the first backup copies');
    const holder = /\(held by (tail-\w)\)/.exec(m.stderr())?.[1] ?? '';
    expect([...slaves.keys()], 'the holder named in the log').to.include(holder);
    slaves.get(holder)?.proc.kill('SIGKILL');
    const report = await finishAndCheck(m);
    expect(report.backupTasks).to.be.at.least(1);
    const lost = new RegExp(`slave ${holder} is lost \\([^)]*\\); (\\d+) task\\(s\\) go back to the queue(?:, (\\d+) to the backup)?`).exec(m.stderr());
    process.stdout.write(`      [measured] killed ${holder}: ${lost === null ? 'the batch ended before it was noticed' : `${lost[1]} task(s) requeued, ${lost[2] ?? 0} handed to running backup copies`}; backups ${report.backupTasks}, answered first ${report.backupsWon}\n`);
  });

  it('11. a slow slave holding a deep queue: tasks waiting behind the others keep their leases, nothing is redone', async () => {
    // One worker and 40 tasks queued (~10 frames, ~4 s of work) against 2.5 s leases: each
    // task runs well within its lease (face ~0.3 s), but the last in the queue waits longer
    // than a lease. Leases timed from sending ran out and redid work here (a Pi with big
    // images did the same with the default leases); timed from each task's reported start,
    // with queued tasks kept while the slave makes progress, none runs out.
    const m = master(['--lease', 'object=2500,face=2500,edge=2500,corner=2500']);
    const s = slave('deep', process.env, 1, ['--prefetch', '40']);
    const report = await finishAndCheck(m);
    expect(report.leasesExpired, m.stderr().slice(-2000)).to.equal(0);
    expect(report.retries).to.equal(0);
    expect(report.duplicatesDropped).to.equal(0);
    expect(report.messagesDropped, 'the HEARTBEATs with starts were accepted').to.equal(0);
    expect(s.proc.exitCode, 'the slave stays up for the next batch').to.equal(null);
  });
  it('12. one of two workers on the only slave hangs in an image\'s first task: the tasks queued behind it are taken back with its lease and run on the other worker; nothing fails', async () => {
    // Image 10's object task (the first of its request) hangs on its first attempt only, with
    // the image's other three tasks queued behind it on that worker. A slave splits its last
    // queued image's tasks across its workers (slave/pool/child-pool.ts), so none would wait
    // behind the hang: image 3 was that image at the start of the batch now and then (face
    // ran on the other worker; CI failed), and with the default prefetch an image mid-batch
    // was too, once in 6 runs. With 40 tasks of prefetch, only the batch's tail is split.
    // Before the take-back, the other worker's answers renewed their leases until the slave
    // ran dry; then each ran out as an attempt, and their retries' results, held 5 s by the
    // slave for their hung first attempts, ran out again: with --max-attempts 2, failed.
    const m = master(['--lease', 'object=4000,face=4000,edge=4000,corner=4000', '--max-attempts', '2', '--log-level', 'debug']);
    const s = slave('half-hung', { ...process.env, CCTV_TEST_FAULT: 'hang:object:10:1' }, 2, ['--prefetch', '40']);
    try {
      const report = await finishAndCheck(m);
      expect(report.tasksFailed).to.equal(0);
      const retried = readResults(out).records.filter((r) => KINDS.some((k) => ((r[k] as { attempts?: number } | undefined)?.attempts ?? 1) > 1));
      expect(retried, 'images with a task run more than once').to.have.length(1);
      const attempts = Object.fromEntries(KINDS.map((k) => [k, (retried[0]?.[k] as { attempts?: number } | undefined)?.attempts]));
      expect(attempts, 'the hung task took two attempts; those queued behind it were given back, not failed').to.deep.equal({ object: 2, face: 1, edge: 1, corner: 1 });
      const leaseLines = m.stderr().split('\n').filter((l) => l.includes('(object, image 10,') || l.includes('image 10) on half-hung taken back')).join('\n');
      for (const kind of ['face', 'edge', 'corner']) {
        expect(leaseLines, `${kind} taken back with the hung task's lease`).to.match(new RegExp(`lease of task \\d+ \\(${kind}, image 10\\) on half-hung taken back: queued behind task \\d+`));
      }
      // The slave's row counts its failed attempts, not failed tasks (there are none).
      expect(m.stdout()).to.match(/failed tasks: 0 [^\n]*\n[\s\S]*tasks {2}failed attempts {2}tasks\/s[^\n]*\n +half-hung +\S+ +2 +\d+ +[1-9]\d* /);
      process.stdout.write(`      [measured] leases expired ${report.leasesExpired} (the hung task's and those taken back with it), retries ${report.retries}, batch ${(report.wallMs / 1000).toFixed(1)} s\n`);
    } finally {
      await killTree(s);
    }
  });
  it('13. the only worker of the only slave hangs until the slave\'s --task-timeout: the tasks queued behind it never started, so their leases run out as give-backs, not attempts', async () => {
    // Leases of 2.5 s against an 8 s task timeout: with --max-attempts 1 every task queued on
    // the slave when its worker hung used to run out its one attempt and fail for good.
    const m = master(['--lease', 'object=2500,face=2500,edge=2500,corner=2500', '--max-attempts', '1', '--log-level', 'debug']);
    const s = slave('one-hung', { ...process.env, CCTV_TEST_FAULT: 'hang:object:3:1' }, 1, ['--task-timeout', '8000']);
    try {
      expect(await waitExit(m, 200_000), m.stderr().slice(-4000)).to.equal(MASTER_EXIT.someFailed);
      const records = readResults(out).records;
      expect(records).to.have.length(30);
      const failed = records.flatMap((r) => KINDS.filter((k) => isKindFailure(r[k])).map((k) => `${k}@${r.frame ?? '?'}`));
      // Image 3 is frame 12: its object task hung on its one attempt; nothing else failed.
      expect(failed, 'failed tasks').to.deep.equal(['object@12']);
      const report = readReport(`${out}.report.json`);
      expect(report.tasksFailed).to.equal(1);
      expect(m.stderr()).to.match(/lease of task \d+ \(\w+, image \d+, attempt 1\) on one-hung ran out, queued there: retry/);
      // Counted as what they were: given back, not the slave's failed attempts (the summary said
      // "failed attempts" for each, while every record said attempts 1).
      expect(report.leasesGivenBack, 'leases of queued tasks given back').to.be.above(0);
      expect(report.leasesExpired - report.leasesGivenBack, 'the hung task\'s own lease').to.equal(1);
      expect(m.stdout()).to.match(new RegExp(`leases expired: ${report.leasesExpired} \\(${report.leasesGivenBack} of tasks not yet started: given back, no attempt used\\)`));
      expect(m.stdout(), 'one failed attempt on the slave: the hung task').to.match(/tasks {2}failed attempts {2}tasks\/s[^\n]*\n +one-hung +\S+ +1 +\d+ +1 /);
      process.stdout.write(`      [measured] leases expired ${report.leasesExpired} (${report.leasesGivenBack} given back), retries ${report.retries}, duplicates dropped ${report.duplicatesDropped}, batch ${(report.wallMs / 1000).toFixed(1)} s; 119 of 120 tasks done, the hung one failed\n`);
    } finally {
      await killTree(s);
    }
  });
  it('14. a worker of the only slave freezes (SIGSTOP) while the other runs dry: a copy of its task runs on the idle worker, and the batch ends without waiting out the 120 s lease', async () => {
    // The master's backup copies go only to other slaves: a lone slave held the end of its
    // batch for the whole lease (a tester's report: 124 s for a 5 s batch).
    const m = master();
    const s = slave('half-frozen', process.env, 2);
    let frozen: number | undefined;
    try {
      await waitFor(() => recordsSoFar(out) >= 2, 120_000, 'first records');
      const workers = descendants(s.pid).filter((p) => runsEntry(p, 'child-main'));
      expect(workers, 'worker processes').to.have.length(2);
      const [stopped] = workers;
      frozen = stopped?.pid;
      if (frozen !== undefined) process.kill(frozen, 'SIGSTOP');
      const report = await finishAndCheck(m);
      expect(report.leasesExpired, 'no lease ran out: the copy answered first').to.equal(0);
      expect(s.stderr()).to.match(/task \d+ \((object|face|edge|corner)\) has run \d+ s on worker \d[^:]*: running a copy on an idle worker, the first to finish answers/);
      // Once the copy answered, the frozen worker is stopped and replaced, not left frozen
      // until the task timeout (5 minutes).
      expect(s.stderr()).to.match(/task \d+ answered on another worker first: stopping worker \d, still on its copy, and starting another/);
      if (stopped !== undefined) await waitFor(() => !alive(stopped), 10_000, 'the frozen worker to be stopped');
      await waitFor(() => descendants(s.pid).filter((p) => runsEntry(p, 'child-main') && p.pid !== frozen).length === 2, 30_000, 'a new worker in its place');
    } finally {
      try {
        if (frozen !== undefined) process.kill(frozen, 'SIGCONT');
      } catch {
        // Gone already: stopped by its slave.
      }
      await killTree(s);
    }
  });
});

