import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Dealer, Router } from 'zeromq';
import { decode, encode } from '../../proto/codec.js';
import { DEFAULT_DETECTOR_CONFIG } from '../../proto/detector-config.js';
import type { TaskFailure, TaskResult } from '../../proto/messages.js';
import { runDetector } from '../../slave/detectors/index.js';
import { decodeImage } from '../../slave/vision/decode.js';
import { SAMPLE_FACES, SAMPLE_VIDEO, readReport, readResults, tempDir } from '../helpers/fixtures.js';
import { Fuzzer, rssBytes } from '../helpers/fuzz.js';
import { loopbackEndpoint } from '../helpers/ports.js';
import { startMaster, startSlave, waitExit, waitFor } from '../helpers/processes.js';
import { expectSameAsReference, referenceRun } from '../helpers/reference.js';

const KINDS = ['edge', 'corner'] as const;
const EVERY = 1; // all 120 frames, edge and corner only: a light but not instant batch
const MIN_FRAMES = 10_000;
const MAX_FRAMES = 20_000;
const MAX_RSS_GROWTH = 150 * 1024 * 1024;
const MB = (n: number): string => (n / 1024 / 1024).toFixed(1);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function seed(): number {
  return Number(process.env['CCTV_FUZZ_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
}

/** A process's RSS once two readings 250 ms apart differ by under 2 MB (at most 10 s), bytes. */
/** Command lines of a process's children (empty for a child gone meanwhile). */
function childCommands(pid: number): string[] {
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter((c) => c !== '');
  return children.map((c) => {
    try {
      return readFileSync(`/proc/${c}/cmdline`, 'utf8');
    } catch {
      return '';
    }
  });
}

async function steadyRss(pid: number): Promise<number> {
  let last = rssBytes(pid);
  for (let i = 0; i < 40; i++) {
    await sleep(250);
    const now = rssBytes(pid);
    if (Math.abs(now - last) < 2 * 1024 * 1024) return now;
    last = now;
  }
  return last;
}

function countsText(f: Fuzzer): string {
  return [...f.counts.entries()].map(([k, n]) => `${k} ${n}`).join(', ');
}

describe('protocol fuzzer: hostile frames never crash a master or a slave', function () {
  this.timeout(180_000);
  let tmp: ReturnType<typeof tempDir>;
  const sockets: (Dealer | Router)[] = [];

  beforeEach(() => {
    tmp = tempDir();
  });
  afterEach(() => {
    for (const s of sockets.splice(0)) s.close();
    tmp.cleanup();
  });

  it(`a raw DEALER sends >= ${MIN_FRAMES} random and mutated frames to a master during a real batch: no crash, bounded memory, drops counted, results correct`, async () => {
    const fz = new Fuzzer(seed());
    const endpoint = await loopbackEndpoint();
    const out = join(tmp.dir, 'r.jsonl');
    const m = startMaster([
      'run', SAMPLE_VIDEO, '--every', String(EVERY), '--tasks', KINDS.join(','), '--bind', endpoint, '--local-slaves', '0',
      '--out', out, '--progress', 'none', '--max-message-bytes', String(16 * 1024 * 1024),
    ]);
    await waitFor(() => m.stderr().includes('listening on'), 20_000, 'master to listen');
    // Baseline once the master's video reader runs (it loads OpenCV in its own process; a
    // busy CI once took the baseline before the master held its window of frames).
    await waitFor(() => childCommands(m.pid).some((c) => c.includes('video-child')), 30_000, 'the master\'s video reader');
    const rssBefore = await steadyRss(m.pid);
    let rssPeak = rssBefore;
    const sampler = setInterval(() => {
      rssPeak = Math.max(rssPeak, rssBytes(m.pid));
    }, 100);

    const d = new Dealer({ routingId: 'fuzzer', linger: 0, sendTimeout: 2000, receiveHighWaterMark: 100_000 });
    sockets.push(d);
    d.connect(endpoint);
    let replies = 0;
    void (async () => {
      try {
        for await (const reply of d) if (reply.length > 0) replies++;
      } catch {
        /* closed */
      }
    })();
    await d.send(fz.readyFrame('fuzzer'));
    startSlave(['--connect', endpoint, '--threads', '1', '--slave-id', 'real', '--log-level', 'warn']);

    let sent = 0;
    const t0 = Date.now();
    let sendError = '';
    while (sent < MAX_FRAMES && Date.now() - t0 < 60_000 && (sent < MIN_FRAMES || m.proc.exitCode === null)) {
      try {
        for (let i = 0; i < 100; i++) {
          await d.send(fz.toMaster('fuzzer', 400));
          sent++;
        }
      } catch (err) {
        sendError = (err as Error).message;
        break;
      }
      await sleep(2);
    }
    const fuzzMs = Date.now() - t0;
    const stillRunning = m.proc.exitCode === null;

    const code = await waitExit(m, 120_000);
    clearInterval(sampler);
    expect(code, m.stderr().slice(-3000)).to.equal(0);
    expect(sent, `frames sent before the batch ended (${sendError})`).to.be.at.least(MIN_FRAMES);
    const report = readReport(`${out}.report.json`);
    const valid = (fz.counts.get('valid: heartbeat or noop READY') ?? 0) + (fz.counts.get('wrong types / mutated fields') ?? 0);
    expect(report.messagesDropped + report.duplicatesDropped, 'every invalid or forged frame is dropped and counted').to.be.at.least(sent - valid);
    expect(report.tasksFailed).to.equal(0);
    const reference = await referenceRun(SAMPLE_VIDEO, EVERY, KINDS);
    expect(expectSameAsReference(readResults(out).records, reference, KINDS)).to.equal(120 * KINDS.length);
    expect(rssPeak - rssBefore, `master RSS grew from ${MB(rssBefore)} MB to ${MB(rssPeak)} MB (replay: CCTV_FUZZ_SEED=${fz.seed})`).to.be.below(MAX_RSS_GROWTH);
    process.stdout.write(
      `      [measured] fuzzer seed ${fz.seed}: ${sent} frames in ${fuzzMs} ms (${countsText(fz)}); master ${stillRunning ? 'still running' : 'done'} when the fuzzer stopped; ` +
        `${replies} replies; messagesDropped ${report.messagesDropped}, duplicatesDropped ${report.duplicatesDropped}; master RSS ${MB(rssBefore)} -> peak ${MB(rssPeak)} MB\n`,
    );
  });

  it('a fake master sends mutated TASKs to a real slave: no crash, every valid task answered once, bounded memory, still correct', async () => {
    const fz = new Fuzzer(seed());
    const endpoint = await loopbackEndpoint();
    const router = new Router({ linger: 0, receiveHighWaterMark: 100_000, sendHighWaterMark: 100_000 });
    sockets.push(router);
    await router.bind(endpoint);
    const s = startSlave(['--connect', endpoint, '--threads', '1', '--slave-id', 'victim', '--max-image-bytes', '1000000', '--log-level', 'warn']);

    let ready = false;
    const answers = new Map<number, number>();
    const results = new Map<number, TaskResult>();
    const failures = new Map<number, TaskFailure>();
    void (async () => {
      try {
        for await (const [, ...parts] of router) {
          const msg = decode(parts);
          if (!msg.ok) continue;
          const m = msg.message;
          if (m.cmd === 'READY') ready = true;
          const entries = m.cmd === 'RESULT' ? m.results : m.cmd === 'FAIL' ? m.failures : [];
          for (const e of entries) answers.set(e.taskId, (answers.get(e.taskId) ?? 0) + 1);
          if (m.cmd === 'RESULT') for (const r of m.results) results.set(r.taskId, r);
          if (m.cmd === 'FAIL') for (const f of m.failures) failures.set(f.taskId, f);
        }
      } catch {
        /* closed */
      }
    })();
    await waitFor(() => ready, 30_000, 'the slave to send READY');
    const rssBefore = rssBytes(s.pid);
    let rssPeak = rssBefore;

    const jpeg = readFileSync(join(SAMPLE_FACES, '2008_001009.jpg'));
    const oversized = fz.bytes(1_200_000);
    let taskId = 0;
    const expected = new Set<number>();
    const oversizedIds: number[] = [];
    const frames = 2000;
    for (let i = 0; i < frames; i++) {
      const f = fz.toSlave(jpeg, () => taskId++, oversized);
      const msg = decode(f);
      if (msg.ok && msg.message.cmd === 'TASK') {
        for (const t of msg.message.tasks) {
          expected.add(t.taskId);
          if (msg.payload[t.part] === oversized) oversizedIds.push(t.taskId);
        }
      }
      await router.send(['victim', ...f]);
      if (i % 100 === 99) {
        rssPeak = Math.max(rssPeak, rssBytes(s.pid));
        await sleep(5);
      }
    }
    const heartbeat = encode({ cmd: 'HEARTBEAT' });
    const keepAlive = setInterval(() => {
      rssPeak = Math.max(rssPeak, rssBytes(s.pid));
      void router.send(['victim', ...heartbeat]).catch(() => undefined);
    }, 500);
    try {
      await waitFor(() => [...expected].every((id) => answers.has(id)), 120_000, `answers to ${expected.size} valid tasks`);
      // Still a working slave: a fresh, valid task on a real image gives the right values.
      const final = [taskId++, taskId++];
      await router.send(['victim', ...encode({ cmd: 'TASK', tasks: [{ taskId: final[0]!, kind: 'edge', attempt: 1, part: 0, imageId: 7 }, { taskId: final[1]!, kind: 'corner', attempt: 1, part: 0, imageId: 7 }], config: DEFAULT_DETECTOR_CONFIG }, [jpeg])]);
      await waitFor(() => final.every((id) => results.has(id)), 30_000, 'the final results');
      const image = decodeImage(jpeg);
      expect(results.get(final[0]!)?.value).to.deep.equal(runDetector('edge', image, DEFAULT_DETECTOR_CONFIG).value);
      expect(results.get(final[1]!)?.value).to.deep.equal(runDetector('corner', image, DEFAULT_DETECTOR_CONFIG).value);
    } finally {
      clearInterval(keepAlive);
    }
    expect(s.proc.exitCode, s.stderr().slice(-2000)).to.equal(null);
    for (const id of expected) expect(answers.get(id), `task ${id} answered once`).to.equal(1);
    expect([...answers.keys()].filter((id) => !expected.has(id) && id < taskId - 2), 'no answer for a task that was never valid').to.deep.equal([]);
    expect(oversizedIds.length).to.be.above(0);
    for (const id of oversizedIds) expect(failures.get(id)?.error.message).to.match(/over this slave's limit of 1000000 bytes \(--max-image-bytes\)/);
    expect(rssPeak - rssBefore, `slave RSS grew from ${MB(rssBefore)} MB to ${MB(rssPeak)} MB`).to.be.below(MAX_RSS_GROWTH);
    process.stdout.write(
      `      [measured] fuzzer seed ${fz.seed}: ${frames} frames to the slave (${countsText(fz)}); ${expected.size} valid tasks, ` +
        `${results.size} results, ${failures.size} failures; slave RSS ${MB(rssBefore)} -> peak ${MB(rssPeak)} MB\n`,
    );
  });
});
