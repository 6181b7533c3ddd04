import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MASTER_EXIT } from '../../master/master.js';
import { isKindFailure } from '../../master/merge.js';
import { SAMPLE_FACES, SAMPLE_VIDEO, readResults, useTempDir } from '../helpers/fixtures.js';
import { loopbackEndpoint } from '../helpers/ports.js';
import { startMaster, startSlave, waitExit } from '../helpers/processes.js';

describe('bad videos and oversized images get error records', function () {
  this.timeout(120_000);
  const tmp = useTempDir();

  it('records a video that ends early and one that cannot be opened, and processes the frames it could read', async () => {
    const half = join(tmp.dir, 'half.avi');
    const fake = join(tmp.dir, 'fake.avi');
    writeFileSync(half, readFileSync(SAMPLE_VIDEO).subarray(0, 800_000));
    writeFileSync(fake, 'this is not a video\n');
    const out = join(tmp.dir, 'r.jsonl');
    const m = startMaster(['run', half, fake, '--every', '10', '--tasks', 'edge,corner', '--bind', await loopbackEndpoint(), '--out', out, '--progress', 'none']);
    expect(await waitExit(m, 100_000), m.stderr()).to.equal(MASTER_EXIT.someFailed);
    const records = readResults(out).records;
    const good = records.filter((r) => r.ok);
    expect(good.length).to.be.at.least(3);
    expect(good.every((r) => r.source === half && (r.frame ?? -1) % 10 === 0)).to.equal(true);
    const early = records.find((r) => r.source === half && !r.ok);
    expect(isKindFailure(early?.edge) && early.edge.error.message).to.match(/video ended early: read \d+ of 120 announced frames/);
    const unopened = records.find((r) => r.source === fake);
    expect(unopened?.ok).to.equal(false);
    expect(isKindFailure(unopened?.corner) && unopened.corner.error.message).to.match(/video could not be opened/);
  });

  it('refuses an image over the slave\'s pixel limit before decoding it', async () => {
    const endpoint = await loopbackEndpoint();
    const out = join(tmp.dir, 'r.jsonl');
    const m = startMaster(['run', SAMPLE_FACES, '--tasks', 'edge', '--bind', endpoint, '--local-slaves', '0', '--out', out, '--progress', 'none']);
    // The sample photos are 500x375 (187,500 px) or so; allow 100,000.
    startSlave(['--connect', endpoint, '--threads', '1', '--max-image-pixels', '100000', '--log-level', 'warn']);
    expect(await waitExit(m, 100_000), m.stderr()).to.equal(MASTER_EXIT.someFailed);
    const records = readResults(out).records;
    expect(records).to.have.length(3);
    for (const r of records) {
      expect(isKindFailure(r.edge) && r.edge.error.message).to.match(/over the limit of 100000 px/);
    }
  });
});
