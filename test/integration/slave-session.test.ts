import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Router } from 'zeromq';
import { decode, encode } from '../../proto/codec.js';
import { DEFAULT_DETECTOR_CONFIG } from '../../proto/detector-config.js';
import type { Message, OutgoingMessage, TaskSpec } from '../../proto/messages.js';
import { runDetector } from '../../slave/detectors/index.js';
import { decodeImage } from '../../slave/vision/decode.js';
import { SAMPLE_FACES, readResults, tempDir } from '../helpers/fixtures.js';
import { loopbackEndpoint } from '../helpers/ports.js';
import { startMaster, startSlave, waitExit, waitFor } from '../helpers/processes.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** An object and a face task (attempt 1, part 0) for each of `images` images: task ids 0, 1 for image 0, 2, 3 for image 1... */
function objectAndFaceTasks(images: number): TaskSpec[] {
  const tasks: TaskSpec[] = [];
  for (let image = 0; image < images; image++) {
    for (const kind of ['object', 'face'] as const) tasks.push({ taskId: tasks.length, kind, attempt: 1, part: 0, imageId: image });
  }
  return tasks;
}

describe('a slave and the end of its session with a master', function () {
  this.timeout(120_000);
  let router: Router | undefined;
  let keepAlive: NodeJS.Timeout | undefined;
  afterEach(() => {
    clearInterval(keepAlive);
    keepAlive = undefined;
    router?.close();
    router = undefined;
  });

  /**
   * A bare ROUTER on a loopback port standing in for the master of slave `slaveId`: hands each
   * well-formed message the slave sends to `onMessage`, and with `heartbeats` sends it a
   * HEARTBEAT every 300 ms; on `at` when given. Closed after each test.
   */
  async function fakeMaster(slaveId: string, onMessage: (m: Message) => void, heartbeats = true, at?: string): Promise<{ endpoint: string; send: (message: OutgoingMessage, payload?: Buffer[]) => Promise<void> }> {
    const endpoint = at ?? (await loopbackEndpoint());
    const r = new Router({ linger: 0 });
    router = r;
    await r.bind(endpoint);
    void (async () => {
      try {
        for await (const [, ...parts] of r) {
          const msg = decode(parts);
          if (msg.ok) onMessage(msg.message);
        }
      } catch {
        /* closed */
      }
    })();
    const send = (message: OutgoingMessage, payload: Buffer[] = []): Promise<void> => r.send([slaveId, ...encode(message, payload)]);
    if (heartbeats) {
      keepAlive = setInterval(() => {
        void send({ cmd: 'HEARTBEAT' }).catch(() => undefined);
      }, 300);
    }
    return { endpoint, send };
  }

  it('after DISCONNECT it drops the queued tasks unstarted and the running ones\' outcomes, and serves the next session with the same task ids', async () => {
    let ready = false;
    const answers: { cmd: string; taskId: number; kind: string }[] = [];
    const values = new Map<number, unknown>();
    const master = await fakeMaster('sess', (m) => {
      if (m.cmd === 'READY') ready = true;
      if (m.cmd === 'RESULT') {
        for (const x of m.results) {
          answers.push({ cmd: 'RESULT', taskId: x.taskId, kind: x.kind });
          values.set(x.taskId, x.value);
        }
      }
      if (m.cmd === 'FAIL') for (const x of m.failures) answers.push({ cmd: 'FAIL', taskId: x.taskId, kind: x.kind });
    });
    const s = startSlave(['--connect', master.endpoint, '--threads', '1', '--slave-id', 'sess', '--log-level', 'info']);
    await waitFor(() => ready, 30_000, 'the slave to send READY');
    const jpeg = readFileSync(join(SAMPLE_FACES, '2008_001009.jpg'));
    // Session 1: three images of object + face tasks (~0.3 s an image on one worker),
    // then at once DISCONNECT, as a master does when its batch ends or is interrupted.
    const old = objectAndFaceTasks(3);
    await master.send({ cmd: 'TASK', tasks: old, config: DEFAULT_DETECTOR_CONFIG }, [jpeg]);
    await master.send({ cmd: 'DISCONNECT', reason: 'batch complete' });
    await waitFor(() => /session with the master ended \(master said DISCONNECT: batch complete\)/.test(s.stderr()), 30_000, 'the slave to end the session');
    const line = /(\d+) queued task\(s\) and (\d+) result\(s\) dropped; (\d+) running task\(s\) will be dropped/.exec(s.stderr());
    expect(line, s.stderr()).to.not.equal(null);
    const [queued, held, running] = [Number(line?.[1]), Number(line?.[2]), Number(line?.[3])];
    expect(queued, 'tasks dropped unstarted').to.be.at.least(2);
    expect(queued + held + running, 'every task of the session accounted for').to.equal(old.length);
    // Long enough for the running image to finish: its outcomes must not be sent.
    await sleep(3000);
    expect(answers, 'answers for the ended session').to.deep.equal([]);

    // Session 2 reuses task ids 0 and 1 (ids restart with every batch), for other kinds.
    await master.send({ cmd: 'TASK', tasks: [{ taskId: 0, kind: 'edge', attempt: 1, part: 0, imageId: 0 }, { taskId: 1, kind: 'corner', attempt: 1, part: 0, imageId: 0 }], config: DEFAULT_DETECTOR_CONFIG }, [jpeg]);
    await waitFor(() => answers.length >= 2, 30_000, 'the new session\'s results');
    await sleep(500);
    expect(answers.map((a) => `${a.cmd} ${a.taskId} ${a.kind}`).sort()).to.deep.equal(['RESULT 0 edge', 'RESULT 1 corner']);
    const image = decodeImage(jpeg);
    expect(values.get(0)).to.deep.equal(runDetector('edge', image, DEFAULT_DETECTOR_CONFIG).value);
    expect(values.get(1)).to.deep.equal(runDetector('corner', image, DEFAULT_DETECTOR_CONFIG).value);
    expect(s.proc.exitCode, 'the slave is still running').to.equal(null);
    process.stdout.write(`      [measured] at DISCONNECT: ${queued} queued task(s) dropped unstarted, ${running} running task(s)' outcomes dropped, ${held} held result(s) dropped\n`);
  });

  it('a task sent again while its copy still waits queued runs once, answered with the new attempt', async () => {
    let ready = false;
    const answers: string[] = [];
    const master = await fakeMaster('again', (m) => {
      if (m.cmd === 'READY') ready = true;
      if (m.cmd === 'RESULT') for (const x of m.results) answers.push(`${x.taskId}/${x.attempt}`);
      if (m.cmd === 'FAIL') for (const x of m.failures) answers.push(`FAIL ${x.taskId}/${x.attempt}`);
    });
    const s = startSlave(['--connect', master.endpoint, '--threads', '1', '--slave-id', 'again', '--log-level', 'debug']);
    await waitFor(() => ready, 30_000, 'the slave to send READY');
    const jpeg = readFileSync(join(SAMPLE_FACES, '2008_001009.jpg'));
    // Four images of object + face (~0.3 s an image on its one worker): the last waits
    // queued when the master, having taken its leases back, sends its two tasks again.
    const tasks = objectAndFaceTasks(4);
    await master.send({ cmd: 'TASK', tasks, config: DEFAULT_DETECTOR_CONFIG }, [jpeg]);
    const resent = tasks.slice(6).map((t) => ({ ...t, attempt: 2 }));
    await master.send({ cmd: 'TASK', tasks: resent, config: DEFAULT_DETECTOR_CONFIG }, [jpeg]);
    await waitFor(() => answers.length >= 8, 30_000, 'the answers');
    // Time for a second copy to run and answer, were there one.
    await sleep(1500);
    expect(answers.slice().sort()).to.deep.equal(['0/1', '1/1', '2/1', '3/1', '4/1', '5/1', '6/2', '7/2']);
    expect(s.stderr()).to.match(/task 6 \(object\) sent again as attempt 2 while unstarted here/);
  });

  it('stopped after its session ended, it does not wait out --drain-timeout for a hung task whose outcome would be dropped', async () => {
    let ready = false;
    let started = false;
    const master = await fakeMaster('stale', (m) => {
      if (m.cmd === 'READY') ready = true;
      if (m.cmd === 'HEARTBEAT' && (m.running?.length ?? 0) > 0) started = true;
    }, false);
    const s = startSlave(['--connect', master.endpoint, '--threads', '1', '--slave-id', 'stale', '--log-level', 'info', '--drain-timeout', '60000'], { env: { ...process.env, CCTV_TEST_FAULT: 'hang:object:0' } });
    await waitFor(() => ready, 30_000, 'the slave to send READY');
    const jpeg = readFileSync(join(SAMPLE_FACES, '2008_001009.jpg'));
    await master.send({ cmd: 'TASK', tasks: [{ taskId: 0, kind: 'object', attempt: 1, part: 0, imageId: 0 }], config: DEFAULT_DETECTOR_CONFIG }, [jpeg]);
    await waitFor(() => started, 30_000, 'the hung task to be reported started');
    await master.send({ cmd: 'DISCONNECT', reason: 'batch complete' });
    await waitFor(() => /1 running task\(s\) will be dropped when done/.test(s.stderr()), 30_000, 'the session to end');
    // Said once: the sessions that end while it still runs (a new socket for the next master) are not its.
    await sleep(1500);
    expect(s.stderr().match(/running task\(s\) will be dropped/g), s.stderr()).to.have.length(1);
    s.proc.kill('SIGTERM');
    // It used to wait the whole 60 s drain for the hung task, then kill its worker.
    expect(await waitExit(s, 20_000), s.stderr()).to.equal(0);
    expect(s.stderr()).to.not.match(/finishing \d+ task\(s\) in flight/);
  });

  it('logs a master\'s DISCONNECT reason with its control characters escaped: no forged log line, no terminal escape', async () => {
    let ready = false;
    const master = await fakeMaster('escaped', (m) => {
      if (m.cmd === 'READY') ready = true;
    });
    const s = startSlave(['--connect', master.endpoint, '--threads', '1', '--slave-id', 'escaped', '--log-level', 'info']);
    await waitFor(() => ready, 30_000, 'the slave to send READY');
    await master.send({ cmd: 'DISCONNECT', reason: 'bye\n12:00:00.000 error [slave] FORGED\u001b[31m' });
    await waitFor(() => s.stderr().includes('master says: '), 30_000, 'the reason in the log');
    expect(s.stderr()).to.include('master says: bye\\u000a12:00:00.000 error [slave] FORGED\\u001b[31m');
    expect(s.stderr()).to.not.match(/^12:00:00\.000 error/m);
    expect(s.stderr()).to.not.include('\u001b');
  });

  it('after a batch ends it waits for the next master quietly (no "master silent" warning) and serves it', async () => {
    const endpoint = await loopbackEndpoint();
    const s = startSlave(['--connect', endpoint, '--threads', '1', '--slave-id', 'patient', '--log-level', 'info', '--heartbeat-interval', '500']);
    for (const batch of [1, 2]) {
      const tmp = tempDir();
      try {
        const out = join(tmp.dir, 'r.jsonl');
        const m = startMaster(['run', SAMPLE_FACES, '--tasks', 'edge', '--bind', endpoint, '--local-slaves', '0', '--out', out, '--progress', 'none', '--metrics-port', '0', '--heartbeat-interval', '500']);
        expect(await waitExit(m, 60_000), m.stderr()).to.equal(0);
        expect(readResults(out).records, `batch ${batch}`).to.have.length(3);
      } finally {
        tmp.cleanup();
      }
      // Five heartbeat intervals without a master: long enough for a silence warning.
      await sleep(2500);
    }
    expect(s.stderr()).to.include('master says: batch complete');
    expect(s.stderr()).to.not.include('master silent');
  });

  it('waiting with no master answering, it opens each new socket after the first delay (no growing back-off), and serves the master that comes', async () => {
    const endpoint = await loopbackEndpoint();
    // A new socket after 3 s without an answer (--reconnect-max), each after 1 s: a doubling
    // back-off left an idle slave without a socket for up to 32 s at a time.
    const s = startSlave(['--connect', endpoint, '--threads', '1', '--slave-id', 'waiting', '--log-level', 'debug', '--reconnect-max', '3000', '--heartbeat-interval', '250']);
    const delays = (): string[] => [...s.stderr().matchAll(/no answer on this socket at \S+; reconnecting in (\d+) ms/g)].map((m) => m[1] ?? '');
    await waitFor(() => delays().length >= 3, 40_000, 'three new sockets');
    expect(delays().slice(0, 3)).to.deep.equal(['1000', '1000', '1000']);
    const tmp = tempDir();
    try {
      const out = join(tmp.dir, 'late.jsonl');
      const m = startMaster(['run', SAMPLE_FACES, '--tasks', 'edge', '--bind', endpoint, '--local-slaves', '0', '--out', out, '--progress', 'none', '--metrics-port', '0']);
      expect(await waitExit(m, 60_000), m.stderr()).to.equal(0);
      expect(readResults(out).records).to.have.length(3);
    } finally {
      tmp.cleanup();
    }
  });

  it('a "no session" answer that arrives just after its READY went out ignores it, though the READY was queued long before (link down)', async () => {
    const endpoint = await loopbackEndpoint();
    // No master yet: READY waits queued on the socket until libzmq's retries (0.1 s doubling
    // to 2 s) reach the master bound below, ~3-5 s later. The grace is 2 s (the interval).
    const s = startSlave(['--connect', endpoint, '--threads', '1', '--slave-id', 'queued-ready', '--log-level', 'info', '--reconnect-max', '10000', '--heartbeat-interval', '2000']);
    await waitFor(() => /connecting to/.test(s.stderr()), 60_000, 'the slave to connect');
    await sleep(3500);
    let readies = 0;
    let noSessionSent = false;
    const to: { send?: (message: OutgoingMessage) => Promise<void> } = {};
    to.send = (await fakeMaster(
      'queued-ready',
      (m) => {
        if (m.cmd !== 'READY') return;
        readies++;
        // As a master answers a stale heartbeat of the slave's old connection, delivered late.
        if (readies === 1 && to.send !== undefined) {
          noSessionSent = true;
          void to.send({ cmd: 'DISCONNECT', reason: 'no session: a HEARTBEAT before READY' });
        }
      },
      true,
      endpoint,
    )).send;
    await waitFor(() => readies >= 1, 30_000, 'the READY');
    await sleep(1500);
    expect(noSessionSent, 'the "no session" answer went out').to.equal(true);
    expect(readies, s.stderr()).to.equal(1);
    expect(s.stderr()).not.to.match(/joining again/);
  });

  it('taking a silent master for dead on a connection still up, it says DISCONNECT with the silence before it closes it, then sends READY again', async () => {
    const seen: Message[] = [];
    const to: { send?: (message: OutgoingMessage) => Promise<void> } = {};
    // Answers the first READY once, then says nothing: the slave's window is 250 ms x 3.
    const master = await fakeMaster(
      'let-go',
      (m) => {
        seen.push(m);
        if (m.cmd === 'READY' && seen.filter((x) => x.cmd === 'READY').length === 1) void to.send?.({ cmd: 'HEARTBEAT', heartbeatIntervalMs: 250 });
      },
      false,
    );
    to.send = master.send;
    const { endpoint } = master;
    const s = startSlave(['--connect', endpoint, '--threads', '1', '--slave-id', 'let-go', '--log-level', 'info', '--heartbeat-interval', '250', '--heartbeat-liveness', '3']);
    await waitFor(() => seen.filter((m) => m.cmd === 'READY').length >= 2, 30_000, 'a second READY');
    const cmds = seen.map((m) => m.cmd);
    const bye = seen.find((m) => m.cmd === 'DISCONNECT');
    expect(bye?.cmd === 'DISCONNECT' ? bye.reason : undefined, s.stderr()).to.match(/^master silent for \d+ ms; reconnecting$/);
    // Said on the old connection, after its heartbeats and before the new one's READY.
    expect(cmds.indexOf('DISCONNECT')).to.be.greaterThan(cmds.indexOf('READY'));
    expect(cmds.indexOf('DISCONNECT')).to.be.lessThan(cmds.lastIndexOf('READY'));
    expect(s.stderr()).to.match(/master silent for \d+ ms at \S+; reconnecting in \d+ ms/);
  });

  it('a slave whose master stops answering says, after 10 s without an answer, when it last heard one, not to check that it is pointed at the master', async () => {
    let readies = 0;
    const to: { send?: (message: OutgoingMessage) => Promise<void> } = {};
    const master = await fakeMaster(
      'gone',
      (m) => {
        if (m.cmd === 'READY' && ++readies === 1) void to.send?.({ cmd: 'HEARTBEAT', heartbeatIntervalMs: 250 });
      },
      false,
    );
    to.send = master.send;
    const s = startSlave(['--connect', master.endpoint, '--threads', '1', '--slave-id', 'gone', '--log-level', 'info', '--heartbeat-interval', '250']);
    await waitFor(() => /connected to master/.test(s.stderr()), 30_000, 'the slave to be answered');
    // The master goes away (its port now refuses connections).
    router?.close();
    router = undefined;
    await waitFor(() => /no answer from a master at \S+ for 1\d s/.test(s.stderr()), 40_000, 'the no-answer warning');
    expect(s.stderr()).to.match(/no answer from a master at \S+ for 1\d s \(it was last heard 1\d s ago\): it may have stopped, or the network between may be down \(still trying\)/);
    expect(s.stderr()).not.to.match(/is the master running/);
  });

  it('a TASK that crosses its leaving on the wire is handed back (SlaveLeavingError), and its last line says so, not that it failed', async () => {
    const fails: string[] = [];
    let draining = false;
    let done = 0;
    let ready = false;
    const to: { send?: (message: OutgoingMessage, payload?: Buffer[]) => Promise<void> } = {};
    const jpeg = readFileSync(join(SAMPLE_FACES, '2008_001009.jpg'));
    const master = await fakeMaster('crossed', (m) => {
      if (m.cmd === 'READY') ready = true;
      if (m.cmd === 'RESULT') done += m.results.length;
      if (m.cmd === 'FAIL') for (const x of m.failures) fails.push(`${x.taskId} ${x.error.name}`);
      // As a master does that sent work before it read the slave's DISCONNECT.
      if (m.cmd === 'DISCONNECT' && m.draining === true && !draining) {
        draining = true;
        void to.send?.({ cmd: 'TASK', tasks: [{ taskId: 9, kind: 'edge', attempt: 1, part: 0, imageId: 9 }], config: DEFAULT_DETECTOR_CONFIG }, [jpeg]);
      }
    });
    to.send = master.send;
    const s = startSlave(['--connect', master.endpoint, '--threads', '1', '--slave-id', 'crossed', '--log-level', 'info']);
    await waitFor(() => ready, 30_000, 'the slave to send READY');
    await master.send({ cmd: 'TASK', tasks: objectAndFaceTasks(2), config: DEFAULT_DETECTOR_CONFIG }, [jpeg]);
    await waitFor(() => done >= 1, 30_000, 'a first result');
    s.proc.kill('SIGTERM');
    expect(await waitExit(s, 30_000), s.stderr()).to.equal(0);
    expect(fails).to.deep.equal(['9 SlaveLeavingError']);
    expect(s.stderr()).to.match(/left: [1-9] task\(s\) done and 0 failed since this slave started; 1 task\(s\) sent as it was leaving handed back\n?$/);
  });
});
