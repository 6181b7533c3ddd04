import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { availableMemoryBytes, defaultMemoryBudget, defaultWorkerCount, fewerWorkersWarning, inactiveFileBytes, localSlaveMemoryBudgetMb, MEMORY_BUDGET_SHARE, memoryCgroupFiles, moreWorkersThanCoresWarning, WORKER_IDLE_BYTES, WORKER_MIN_BYTES } from '../../../shared/memory.js';
import { imagePixels, MAX_WORKER_BYTES_PER_PIXEL, WORKER_BYTES_PER_PIXEL, workerBytesFor } from '../../../slave/pool/memory-budget.js';
import { decodeImage } from '../../../slave/vision/decode.js';
import { SAMPLE_FACES } from '../../helpers/fixtures.js';

/** What a worker is expected to need for an image, from which the pool admits images (slave/pool/memory-budget.ts). */
describe('unit: memory a worker needs for an image', () => {
  it("is the sum of each kind's bytes per pixel (repeats counted once) up to what all four measured, and nothing for noop", () => {
    const px = 1920 * 1080;
    expect(workerBytesFor(px, ['edge'])).to.equal(px * WORKER_BYTES_PER_PIXEL.edge);
    expect(workerBytesFor(px, ['face', 'face', 'edge'])).to.equal(px * (WORKER_BYTES_PER_PIXEL.face + WORKER_BYTES_PER_PIXEL.edge));
    // All four kinds at 1080p: ~168 MB, the ~165-180 MB measured above an idle worker.
    const all = workerBytesFor(px, ['object', 'face', 'edge', 'corner']);
    expect(all).to.equal(px * MAX_WORKER_BYTES_PER_PIXEL);
    expect(all / 2 ** 20).to.be.within(160, 180);
    expect(workerBytesFor(px, ['noop'])).to.equal(0);
    expect(workerBytesFor(px, [])).to.equal(0);
  });

  it("reads an image's pixels from its header, and estimates them from the length for a header it cannot read", () => {
    const bytes = readFileSync(join(SAMPLE_FACES, '2008_001009.jpg'));
    const image = decodeImage(bytes);
    expect(imagePixels(bytes)).to.equal(image.width * image.height);
    image.release();
    // A TIFF header whose directory (offset 0) runs past the end of the data.
    const tiffLike = Buffer.concat([Buffer.from('II*\0'), Buffer.alloc(996)]);
    expect(imagePixels(tiffLike)).to.equal(3000);
  });

  it('budgets 90% of the memory available by default, measured within any cgroup limit', () => {
    expect(MEMORY_BUDGET_SHARE).to.equal(0.9);
    expect(defaultMemoryBudget(1000 * 2 ** 20)).to.equal(Math.floor(900 * 2 ** 20));
    const available = availableMemoryBytes();
    expect(available).to.be.above(0);
    expect(available).to.be.at.most(Number.MAX_SAFE_INTEGER);
  });

  it("finds the memory cgroup's files for cgroup v1 and v2, and reads its inactive file cache (counted as free: the kernel reclaims it first)", () => {
    const v1 = '12:pids:/x\n4:memory:/process_api/abc\n3:cpuset:/\n0::/\n';
    expect(memoryCgroupFiles(v1)).to.deep.equal({ stat: '/sys/fs/cgroup/memory/process_api/abc/memory.stat', key: 'total_inactive_file' });
    expect(memoryCgroupFiles('0::/system.slice/cctv-slave.service\n')).to.deep.equal({ stat: '/sys/fs/cgroup/system.slice/cctv-slave.service/memory.stat', key: 'inactive_file' });
    expect(memoryCgroupFiles('')).to.deep.equal({ stat: undefined, key: '' });
    const dir = mkdtempSync(join(tmpdir(), 'cgroup-'));
    try {
      const stat = join(dir, 'memory.stat');
      writeFileSync(stat, 'cache 650461184\ninactive_file 7\ntotal_inactive_file 648138752\n');
      expect(inactiveFileBytes({ stat, key: 'total_inactive_file' })).to.equal(648138752);
      expect(inactiveFileBytes({ stat, key: 'inactive_file' })).to.equal(7);
      expect(inactiveFileBytes({ stat, key: 'missing' })).to.equal(0);
      expect(inactiveFileBytes({ stat: join(dir, 'none'), key: 'inactive_file' })).to.equal(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('starts one worker per core by default, fewer where memory is short (and says so), never none', () => {
    const mib = 2 ** 20;
    expect(WORKER_MIN_BYTES).to.equal(WORKER_IDLE_BYTES + 40 * mib);
    expect(defaultWorkerCount(4, 24 * 1024 * mib)).to.equal(4);
    // A 512 MB board with 4 cores, ~400 MB free: four idle workers alone would take ~380 MB.
    expect(defaultWorkerCount(4, 400 * mib)).to.equal(2);
    expect(defaultWorkerCount(4, 10 * mib)).to.equal(1);
    expect(fewerWorkersWarning(4, '--threads', 4, 400 * mib)).to.equal(undefined);
    expect(fewerWorkersWarning(2, '--threads', 4, 400 * mib)).to.equal('2 worker(s), not one per core (4): 400 MiB of memory is available and a worker needs ~135 MiB; --threads sets the number');
  });

  it('warns when the workers outnumber the cores, and not when they do not', () => {
    expect(moreWorkersThanCoresWarning(4, '--threads 4', 4)).to.equal(undefined);
    expect(moreWorkersThanCoresWarning(1, '--threads 1', 4)).to.equal(undefined);
    expect(moreWorkersThanCoresWarning(5, '--threads 5', 4)).to.equal('--threads 5: 5 worker processes on 4 CPU core(s). Workers beyond the cores only take turns on them (no more images/s, each task takes longer, ~135 MiB more memory each)');
  });

  it("shares the memory among local slaves started together, less their workers' idle size", () => {
    const gib = 2 ** 30;
    expect(localSlaveMemoryBudgetMb(1, 2, gib)).to.equal(Math.floor(((gib - 2 * WORKER_IDLE_BYTES) * 0.9) / 2 ** 20));
    expect(localSlaveMemoryBudgetMb(2, 1, gib)).to.equal(Math.floor(((gib - 2 * WORKER_IDLE_BYTES) * 0.9) / 2 / 2 ** 20));
    expect(localSlaveMemoryBudgetMb(16, 4, gib), 'never below 1 MiB').to.equal(1);
  });
});
