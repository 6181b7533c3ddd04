import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { videoFrames } from '../../master/ingest/video.js';
import type { ImageRecord } from '../../master/merge.js';
import { DEFAULT_DETECTOR_CONFIG } from '../../proto/detector-config.js';
import { runDetector } from '../../slave/detectors/index.js';
import { decodeImage } from '../../slave/vision/decode.js';
import { SAMPLE_VIDEO, readReport, readResults, tempDir } from '../helpers/fixtures.js';
import { loopbackEndpoint } from '../helpers/ports.js';
import { startMaster, startSlave, waitExit } from '../helpers/processes.js';
import { valueOf } from '../helpers/reference.js';

const KINDS = ['object', 'face', 'edge', 'corner'] as const;
const EVERY = 3; // 120-frame clip -> 40 frames

describe('end to end: a real master and two real slaves on loopback', function () {
  this.timeout(240_000);
  let tmp: ReturnType<typeof tempDir>;
  let records: ImageRecord[] = [];
  let out = '';

  before(async function () {
    tmp = tempDir();
    out = join(tmp.dir, 'results.jsonl');
    const endpoint = await loopbackEndpoint();
    const master = startMaster(['run', SAMPLE_VIDEO, '--every', String(EVERY), '--bind', endpoint, '--local-slaves', '0', '--out', out, '--progress', 'none']);
    const slaves = [1, 2].map((i) => startSlave(['--connect', endpoint, '--threads', '1', '--slave-id', `e2e-${i}`, '--log-level', 'warn']));
    const code = await waitExit(master, 200_000);
    expect(code, master.stderr()).to.equal(0);
    for (const s of slaves) s.proc.kill('SIGTERM');
    await Promise.all(slaves.map((s) => waitExit(s, 20_000)));
    records = readResults(out).records;
  });

  after(() => {
    tmp.cleanup();
  });

  it('processes every sampled frame once, each record holding all four results', () => {
    expect(records).to.have.length(40);
    const frames = records.map((r) => r.frame).sort((a, b) => (a ?? 0) - (b ?? 0));
    expect(frames).to.deep.equal(Array.from({ length: 40 }, (_, i) => i * EVERY));
    for (const r of records) {
      expect(r.ok, JSON.stringify(r).slice(0, 300)).to.equal(true);
      expect(r.source).to.equal(SAMPLE_VIDEO);
      expect(r.width).to.equal(768);
      expect(r.height).to.equal(576);
      expect(r.timestampMs).to.be.closeTo(((r.frame ?? 0) * 1000) / 10, 0.01);
      for (const k of KINDS) expect(r[k], `${k} of frame ${r.frame}`).to.have.property('computeMs');
    }
  });

  it('spreads the tasks over both slaves and reports per-slave counts that add up', () => {
    const report = readReport(`${out}.report.json`);
    expect(report.images).to.equal(40);
    expect(report.tasks).to.equal(160);
    expect(report.tasksFailed).to.equal(0);
    const bySlave = Object.fromEntries(report.slaves.map((s) => [s.slaveId, s.tasks]));
    expect(Object.keys(bySlave).sort()).to.deep.equal(['e2e-1', 'e2e-2']);
    expect((bySlave['e2e-1'] ?? 0) + (bySlave['e2e-2'] ?? 0)).to.equal(160);
    expect(bySlave['e2e-1']).to.be.above(0);
    expect(bySlave['e2e-2']).to.be.above(0);
  });

  it("gets an image's four results in one message: the master receives far fewer messages than tasks", () => {
    const report = readReport(`${out}.report.json`);
    // Besides one RESULT per image: READY and DISCONNECT (x2, draining first) per slave,
    // and at most one heartbeat per slave per second (sent only when nothing else was).
    const heartbeats = 2 * Math.ceil(report.wallMs / 1000 + 1);
    process.stdout.write(`      [measured] messages received ${report.messagesReceived}, bound ${40 + 2 * 3 + heartbeats} (receipts of images included: a slave says one a MiB)\n`);
    expect(report.messagesReceived).to.be.at.most(40 + 2 * 3 + heartbeats);
    expect(40 + 2 * 3 + heartbeats, 'the bound must exclude a RESULT per task').to.be.below(report.tasks);
  });

  it('draws the report page: throughput over time and per-slave utilization', () => {
    const html = readFileSync(`${out}.report.html`, 'utf8');
    expect(html.match(/<svg /g)).to.have.length(2);
    expect(html).to.match(/<polyline [^>]*points="[\d., ]+"/);
    expect(html).to.include('e2e-1');
    expect(html).to.include('e2e-2');
    expect(html.match(/class="slave"/g)).to.have.length(2);
  });

  it('equals a sequential in-process run of the same detectors on the same frames', async () => {
    const byFrame = new Map(records.map((r) => [r.frame, r]));
    let compared = 0;
    for await (const item of videoFrames(SAMPLE_VIDEO, EVERY, { format: 'jpg', jpegQuality: 90 })) {
      const image = decodeImage(await item.load());
      const record = byFrame.get(item.frame);
      expect(record, `frame ${item.frame}`).to.not.equal(undefined);
      for (const k of KINDS) {
        expect(valueOf(record?.[k]), `${k} of frame ${item.frame}`).to.deep.equal(runDetector(k, image, DEFAULT_DETECTOR_CONFIG).value);
      }
      compared++;
    }
    expect(compared).to.equal(40);
  });
});
