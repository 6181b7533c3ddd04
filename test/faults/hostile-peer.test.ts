import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { Packr } from 'msgpackr';
import { Dealer } from 'zeromq';
import { decode, encode } from '../../proto/codec.js';
import type { TaskKind } from '../../proto/task-kinds.js';
import { PROTOCOL_VERSION } from '../../proto/version.js';
import { SAMPLE_FACES, readReport, readResults, tempDir } from '../helpers/fixtures.js';
import { SAMPLE_HOST } from '../helpers/messages.js';
import { loopbackEndpoint } from '../helpers/ports.js';
import { killTree, startMaster, startSlave, waitExit, waitFor } from '../helpers/processes.js';

const raw = new Packr({ useRecords: false });

describe('hostile or mismatched peers on the master\'s port', function () {
  this.timeout(120_000);
  const sockets: Dealer[] = [];
  let tmp: ReturnType<typeof tempDir>;

  beforeEach(() => {
    tmp = tempDir();
  });
  afterEach(() => {
    for (const s of sockets.splice(0)) s.close();
    tmp.cleanup();
  });

  /** A folder `name` of `count` copies of one face photo, in the test's temporary folder. */
  function photoFolder(name: string, count: number): string {
    const photos = join(tmp.dir, name);
    mkdirSync(photos);
    for (let i = 0; i < count; i++) copyFileSync(join(SAMPLE_FACES, '2008_001009.jpg'), join(photos, `p${i}.jpg`));
    return photos;
  }

  /** A fake slave `id`: a DEALER connected to `endpoint` that has said READY (closed after the test). */
  async function fakeSlave(endpoint: string, id: string, pid: number, offer: { capacity: number; prefetch: number; kinds: TaskKind[] }): Promise<Dealer> {
    const peer = new Dealer({ routingId: id, linger: 0 });
    sockets.push(peer);
    peer.connect(endpoint);
    await peer.send(encode({ cmd: 'READY', slaveId: id, ...offer, host: { ...SAMPLE_HOST, pid } }));
    return peer;
  }

  it('refuses a slave speaking another protocol version with a clear DISCONNECT, drops garbage, and finishes the batch', async () => {
    const endpoint = await loopbackEndpoint();
    const out = join(tmp.dir, 'r.jsonl');
    const master = startMaster(['run', SAMPLE_FACES, '--bind', endpoint, '--local-slaves', '0', '--out', out, '--progress', 'none']);
    await waitFor(() => master.stderr().includes('listening on'), 20_000, 'master to listen');

    const old = new Dealer({ routingId: 'old-slave', linger: 0 });
    sockets.push(old);
    old.connect(endpoint);
    await old.send([raw.pack({ v: PROTOCOL_VERSION + 1, cmd: 'READY', slaveId: 'old-slave' })]);
    const reply = await old.receive();
    // The reply is in the master's version: decode it as this release does.
    const d = decode(reply);
    expect(d.ok).to.equal(true);
    if (d.ok && d.message.cmd === 'DISCONNECT') expect(d.message.reason).to.match(/protocol version mismatch/);
    else expect.fail(`expected DISCONNECT, got ${JSON.stringify(d)}`);

    const junk = new Dealer({ linger: 0 });
    sockets.push(junk);
    junk.connect(endpoint);
    const sent = 300;
    for (let i = 0; i < sent; i++) {
      const kind = i % 3;
      const parts = kind === 0 ? [randomBytes(1 + (i % 64))] : kind === 1 ? [raw.pack({ v: PROTOCOL_VERSION, cmd: 'RESULT', results: [{ taskId: i }] })] : [raw.pack({ v: PROTOCOL_VERSION, cmd: 'HEARTBEAT' }), randomBytes(8)];
      await junk.send(parts);
    }

    const slave = startSlave(['--connect', endpoint, '--threads', '2', '--log-level', 'warn']);
    const code = await waitExit(master, 90_000);
    expect(code, master.stderr()).to.equal(0);
    expect(master.stderr()).to.match(/refused "old-slave": protocol version mismatch/);
    // The junk came without a routing id of its own: named for what it is, not as '"\u0000k\ufffdEg"'.
    expect(master.stderr(), master.stderr().slice(-3000)).to.include('dropped a message from a connection without a slave id (ZeroMQ id 0x00');
    const report = readReport(`${out}.report.json`);
    expect(report.messagesDropped).to.be.at.least(sent + 1);
    expect(readResults(out).records.filter((r) => r.ok)).to.have.length(3);
    slave.proc.kill('SIGTERM');
    await waitExit(slave, 20_000);
  });

  it('a peer that has not joined gets its large headers dropped unread (a READY, HEARTBEAT or DISCONNECT is small): 8 MiB of nils each stalled the master 40-100 ms (QA)', async () => {
    const endpoint = await loopbackEndpoint();
    const out = join(tmp.dir, 'big.jsonl');
    const master = startMaster(['run', SAMPLE_FACES, '--tasks', 'edge,corner', '--bind', endpoint, '--local-slaves', '0', '--out', out, '--progress', 'none', '--metrics-port', '0']);
    await waitFor(() => master.stderr().includes('listening on'), 20_000, 'master to listen');
    const peer = new Dealer({ routingId: 'never-joined', linger: 0 });
    sockets.push(peer);
    peer.connect(endpoint);
    // Valid msgpack, a plausible command, and one million nils: cheap to send, slow to unpack.
    const header = raw.pack({ v: PROTOCOL_VERSION, cmd: 'HEARTBEAT', pad: new Array<null>(1_000_000).fill(null) });
    const sent = 20;
    for (let i = 0; i < sent; i++) await peer.send([header]);
    const slave = startSlave(['--connect', endpoint, '--threads', '1', '--log-level', 'warn']);
    try {
      expect(await waitExit(master, 90_000), master.stderr().slice(-3000)).to.equal(0);
      expect(master.stderr()).to.include(`dropped a message from "never-joined": header of ${header.length} bytes exceeds the limit of 65536 bytes`);
      expect(readReport(`${out}.report.json`).messagesDropped).to.be.at.least(sent);
      expect(readResults(out).records.filter((r) => r.ok)).to.have.length(3);
    } finally {
      slave.proc.kill('SIGTERM');
      await waitExit(slave, 20_000);
    }
  });

  it('raw TCP on the port (connections held open, 0xff and random bytes, an HTTP request, 1000 at once) costs the batch nothing: every image done, refusals counted', async () => {
    const port = Number((await loopbackEndpoint()).split(':').pop());
    const endpoint = `tcp://127.0.0.1:${port}`;
    const out = join(tmp.dir, 'raw.jsonl');
    const master = startMaster(['run', SAMPLE_FACES, '--tasks', 'edge,corner', '--bind', endpoint, '--local-slaves', '0', '--out', out, '--progress', 'none', '--metrics-port', '0']);
    await waitFor(() => master.stderr().includes('listening on'), 20_000, 'master to listen');
    const flood: Socket[] = [];
    try {
      const payloads = [Buffer.alloc(64, 0xff), randomBytes(200), Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), Buffer.alloc(0)];
      await Promise.all(Array.from({ length: 1000 }, (_, i) => new Promise<void>((resolve) => {
        const c = connect(port, '127.0.0.1', () => {
          const p = payloads[i % payloads.length] ?? Buffer.alloc(0);
          if (p.length > 0) c.write(p);
          resolve();
        });
        c.on('error', () => {
          resolve();
        });
        flood.push(c);
      })));
      const slave = startSlave(['--connect', endpoint, '--threads', '1', '--log-level', 'warn']);
      expect(await waitExit(master, 90_000), master.stderr().slice(-3000)).to.equal(0);
      const report = readReport(`${out}.report.json`);
      expect(readResults(out).records.filter((r) => r.ok)).to.have.length(3);
      expect(report.handshakesRefused, 'the 0xff greetings').to.be.at.least(1);
      expect(master.stderr()).to.not.include('the peer uses CURVE');
      slave.proc.kill('SIGTERM');
      await waitExit(slave, 20_000);
    } finally {
      for (const c of flood) c.destroy();
    }
  });

  it('a peer that answers each task as another kind is refused and held to its credit; a real slave does the batch', async () => {
    const endpoint = await loopbackEndpoint();
    const photos = photoFolder('photos', 12);
    const out = join(tmp.dir, 'swap.jsonl');
    // Short leases: the tasks the peer holds go to the real slave a few seconds after it stops answering.
    const master = startMaster(['run', photos, '--tasks', 'edge,corner', '--bind', endpoint, '--local-slaves', '0', '--out', out, '--progress', 'none', '--lease', 'edge=3000,corner=3000']);
    try {
      await waitFor(() => master.stderr().includes('listening on'), 20_000, 'master to listen');
      const peer = await fakeSlave(endpoint, 'swapper', 4242, { capacity: 1, prefetch: 8, kinds: ['edge', 'corner'] });
      let received = 0;
      const swap = (kind: TaskKind): 'edge' | 'corner' => (kind === 'edge' ? 'corner' : 'edge');
      void (async () => {
        for (;;) {
          const d = decode(await peer.receive());
          if (!d.ok || d.message.cmd !== 'TASK') continue;
          received += d.message.tasks.length;
          const results = d.message.tasks.map((t) => {
            const kind = swap(t.kind);
            const value = kind === 'edge' ? { edgePixels: 1, density: 0 } : { count: 0, points: [] };
            return { taskId: t.taskId, attempt: t.attempt, kind, computeMs: 1, width: 500, height: 375, value };
          });
          await peer.send(encode({ cmd: 'RESULT', results } as Parameters<typeof encode>[0]));
        }
      })().catch(() => undefined);
      await waitFor(() => received > 0, 20_000, 'the peer to be sent tasks');
      await new Promise((r) => setTimeout(r, 1000));
      // Refused answers return no credit: it keeps what it was first sent (it was sent the
      // whole window, 24 tasks, when each refused answer gave its credit back).
      const early = received;
      expect(early, 'tasks sent to the peer before a real slave came').to.be.at.most(16);
      const slave = startSlave(['--connect', endpoint, '--threads', '1', '--log-level', 'warn']);
      try {
        expect(await waitExit(master, 100_000), master.stderr().slice(-3000)).to.equal(0);
      } finally {
        await killTree(slave);
      }
      const records = readResults(out).records;
      expect(records).to.have.length(12);
      for (const r of records) expect((r.edge as { slave?: string } | undefined)?.slave, r.source).to.not.equal('swapper');
      expect(readReport(`${out}.report.json`).messagesDropped).to.be.at.least(1);
    } finally {
      await killTree(master);
    }
  });

  it('a slave that hands its tasks back as leaving (SlaveLeavingError) is sent no more; a real slave does the batch', async () => {
    const endpoint = await loopbackEndpoint();
    const photos = photoFolder('leaving', 12);
    const out = join(tmp.dir, 'leaving.jsonl');
    const master = startMaster(['run', photos, '--tasks', 'edge,corner', '--bind', endpoint, '--local-slaves', '0', '--out', out, '--progress', 'none']);
    try {
      await waitFor(() => master.stderr().includes('listening on'), 20_000, 'master to listen');
      // A slave mid-drain whose READY reached a master anyway (its socket reconnected).
      const peer = await fakeSlave(endpoint, 'leaver', 4343, { capacity: 1, prefetch: 8, kinds: ['edge', 'corner'] });
      let messages = 0;
      let received = 0;
      void (async () => {
        for (;;) {
          const d = decode(await peer.receive());
          if (!d.ok || d.message.cmd !== 'TASK') continue;
          messages++;
          received += d.message.tasks.length;
          const failures = d.message.tasks.map((t) => ({ taskId: t.taskId, attempt: t.attempt, kind: t.kind, computeMs: 0, error: { name: 'SlaveLeavingError', message: 'slave leaver is shutting down', retryable: true } }));
          await peer.send(encode({ cmd: 'FAIL', failures }));
        }
      })().catch(() => undefined);
      await waitFor(() => received > 0, 20_000, 'the peer to be sent tasks');
      const slave = startSlave(['--connect', endpoint, '--threads', '1', '--log-level', 'warn']);
      try {
        expect(await waitExit(master, 100_000), master.stderr().slice(-3000)).to.equal(0);
      } finally {
        await killTree(slave);
      }
      // At most its credit (9 tasks; 8 in whole images), in the first TASK or two (a master
      // that had read fewer images when the peer joined sends the rest as they come), and
      // none after the answer (they bounced: 80 in 13 ms).
      expect(received, `${messages} TASK message(s)`).to.be.within(1, 9);
      expect(messages).to.be.within(1, 4);
      expect(master.stderr()).to.match(/slave leaver left: none of its tasks is in flight/);
      const records = readResults(out).records;
      expect(records.map((r) => r.ok)).to.deep.equal(Array(12).fill(true));
      const report = readReport(`${out}.report.json`);
      expect(report.tasksFailed).to.equal(0);
    } finally {
      await killTree(master);
    }
  });

  it('peers that take tasks and never answer (but heartbeat) hold no image past the time a real slave needs: their backups move to it', async () => {
    const endpoint = await loopbackEndpoint();
    const photos = photoFolder('held', 6);
    const out = join(tmp.dir, 'held.jsonl');
    // Leases far longer than the test: only backups can finish the batch in time.
    const master = startMaster(['run', photos, '--tasks', 'edge', '--bind', endpoint, '--local-slaves', '0', '--out', out, '--progress', 'none', '--lease', 'edge=200000']);
    const timers: NodeJS.Timeout[] = [];
    try {
      await waitFor(() => master.stderr().includes('listening on'), 20_000, 'master to listen');
      let received = 0;
      for (let i = 0; i < 3; i++) {
        const peer = await fakeSlave(endpoint, `silent-${i}`, 4300 + i, { capacity: 1024, prefetch: 4096, kinds: ['edge'] });
        timers.push(setInterval(() => void peer.send(encode({ cmd: 'HEARTBEAT' })).catch(() => undefined), 300));
        void (async () => {
          for (;;) {
            const d = decode(await peer.receive());
            if (d.ok && d.message.cmd === 'TASK') received += d.message.tasks.length;
          }
        })().catch(() => undefined);
      }
      // They hold every task, and backups of each other's, before a real slave comes.
      await waitFor(() => received >= 12, 20_000, 'the peers to be sent every task and its backup');
      const slave = startSlave(['--connect', endpoint, '--threads', '1', '--log-level', 'warn']);
      try {
        expect(await waitExit(master, 60_000), master.stderr().slice(-3000)).to.equal(0);
      } finally {
        await killTree(slave);
      }
      const records = readResults(out).records;
      expect(records).to.have.length(6);
      for (const r of records) expect((r.edge as { slave?: string } | undefined)?.slave, r.source).to.not.match(/^silent-/);
    } finally {
      for (const t of timers) clearInterval(t);
      await killTree(master);
    }
  });

  it('a flood of forged slave ids writes at most 100 join and loss lines a minute to the log, and tells how many more went to debug; a real slave does the batch', async () => {
    const endpoint = await loopbackEndpoint();
    const photos = photoFolder('flood', 4);
    const out = join(tmp.dir, 'flood.jsonl');
    // Liveness 300 ms: the forged slaves, which never heartbeat, are lost within a second.
    const master = startMaster(['run', photos, '--tasks', 'edge,corner', '--bind', endpoint, '--local-slaves', '0', '--out', out, '--progress', 'none', '--heartbeat-interval', '100']);
    try {
      await waitFor(() => master.stderr().includes('listening on'), 20_000, 'master to listen');
      const forged = 150;
      for (let i = 0; i < forged; i++) await fakeSlave(endpoint, `forged-${i}`, 5000 + i, { capacity: 1, prefetch: 1, kinds: ['edge', 'corner'] });
      // Every forged slave has joined and been lost (150 + 150 lines) once the master warns
      // of no slave again; by then its budget of 100 is long spent.
      await waitFor(() => /no slave connected for/.test(master.stderr()), 30_000, 'the forged slaves to be lost');
      // At the master's interval, so that its join is the real slave's one line.
      const slave = startSlave(['--connect', endpoint, '--threads', '1', '--log-level', 'warn', '--heartbeat-interval', '100']);
      try {
        expect(await waitExit(master, 100_000), master.stderr().slice(-3000)).to.equal(0);
      } finally {
        await killTree(slave);
      }
      const err = master.stderr();
      const shown = (err.match(/ (info|warn) +\[master\] slave \S+ (joined|is lost|left)/g) ?? []).length;
      expect(shown).to.equal(100);
      const told = /(\d+) more line\(s\) about slaves joining, leaving or being lost went to the debug level only, over 100 a minute \(many slave ids coming and going; without CURVE/.exec(err);
      expect(told, err.slice(-3000)).to.not.equal(null);
      // 150 forged joins and losses, the real slave's join, and its leaving at the end
      // (told after the batch, so not in this count) or not at all.
      expect(Number(told?.[1]) + shown).to.equal(2 * forged + 1);
      expect(readResults(out).records.map((r) => r.ok)).to.deep.equal(Array(4).fill(true));
    } finally {
      await killTree(master);
    }
  });

  it('two slave processes with one --slave-id: once each has announced itself twice in turn, the second is told to leave for good', async () => {
    const endpoint = await loopbackEndpoint();
    const master = startMaster(['run', SAMPLE_FACES, '--bind', endpoint, '--local-slaves', '0', '--out', join(tmp.dir, 'twin.jsonl'), '--progress', 'none']);
    try {
      await waitFor(() => master.stderr().includes('listening on'), 20_000, 'master to listen');
      // Each announcement on a socket of its own that does not reconnect by itself, so the
      // order of READYs is the test's: A, B (takes A's connection: ROUTER handover), A, B.
      const announce = async (pid: number): Promise<Dealer> => {
        const d = new Dealer({ routingId: 'twin', linger: 0, reconnectInterval: -1 });
        sockets.push(d);
        d.connect(endpoint);
        await d.send(encode({ cmd: 'READY', slaveId: 'twin', capacity: 1, prefetch: 0, kinds: ['edge'], host: { ...SAMPLE_HOST, pid } }));
        await new Promise((r) => setTimeout(r, 300));
        return d;
      };
      await announce(100);
      await announce(200);
      await announce(100);
      expect(master.stderr()).to.match(/two slaves are running with the slave id twin: pi-1\/100 \(first\) and pi-1\/200/);
      const b = await announce(200);
      let reason = '';
      for (let i = 0; i < 20 && reason === ''; i++) {
        const d = decode(await b.receive());
        if (d.ok && d.message.cmd === 'DISCONNECT') reason = d.message.reason;
      }
      expect(reason).to.match(/^slave id in use: slave twin is already connected from another process \(pi-1\/100/);
      // A, B, A joined; B's second announcement did not.
      expect(master.stderr().match(/slave twin joined/g)).to.have.length(3);
      // A slave restarted under that id (a new process) is no duplicate: it is served.
      await announce(300);
      expect(master.stderr().match(/slave twin joined/g)).to.have.length(4);
    } finally {
      await killTree(master);
    }
  });
});
