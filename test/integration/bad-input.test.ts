import { expect } from 'chai';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MASTER_EXIT } from '../../master/master.js';
import { isKindFailure } from '../../master/merge.js';
import { cv } from '../../shared/opencv.js';
import { SAMPLE_FACES, readReport, readResults, tempDir } from '../helpers/fixtures.js';
import { loopbackEndpoint } from '../helpers/ports.js';
import { startMaster, waitExit } from '../helpers/processes.js';

describe('bad input fails only its own tasks', function () {
  this.timeout(120_000);

  it('gives a truncated JPEG, a zero-byte file and a text file named .jpg error records and processes the rest', async () => {
    const tmp = tempDir();
    try {
      const input = join(tmp.dir, 'in');
      const { mkdirSync } = await import('node:fs');
      mkdirSync(input);
      const good = join(SAMPLE_FACES, '2008_001009.jpg');
      copyFileSync(good, join(input, 'good-1.jpg'));
      copyFileSync(join(SAMPLE_FACES, '2008_001322.jpg'), join(input, 'good-2.jpg'));
      const bytes = readFileSync(good);
      writeFileSync(join(input, 'truncated.jpg'), bytes.subarray(0, Math.floor(bytes.length / 2)));
      writeFileSync(join(input, 'empty.jpg'), Buffer.alloc(0));
      writeFileSync(join(input, 'notes.jpg'), 'shift notes: camera 3 offline from 02:00\n');
      const out = join(tmp.dir, 'results.jsonl');
      const master = startMaster(['run', input, '--bind', await loopbackEndpoint(), '--local-slaves', '1', '--local-threads', '2', '--out', out, '--progress', 'none']);
      const code = await waitExit(master, 100_000);
      expect(code, master.stderr()).to.equal(MASTER_EXIT.someFailed);
      expect(master.stderr()).to.match(/task\(s\) failed; their errors are in/);

      const byName = new Map(readResults(out).records.map((r) => [r.source.split('/').pop(), r]));
      expect([...byName.keys()].sort()).to.deep.equal(['empty.jpg', 'good-1.jpg', 'good-2.jpg', 'notes.jpg', 'truncated.jpg']);
      for (const name of ['good-1.jpg', 'good-2.jpg']) {
        const r = byName.get(name);
        expect(r?.ok, name).to.equal(true);
        expect(r?.face && !isKindFailure(r.face) ? (r.face as { count: number }).count : 0).to.be.above(0);
      }
      const expectations: [string, RegExp][] = [
        ['empty.jpg', /empty \(0 bytes\)/],
        ['truncated.jpg', /JPEG is truncated/],
        ['notes.jpg', /could not be decoded .*not an image/],
      ];
      for (const [name, pattern] of expectations) {
        const r = byName.get(name);
        expect(r?.ok, name).to.equal(false);
        for (const kind of ['object', 'face', 'edge', 'corner'] as const) {
          const entry = r?.[kind];
          expect(isKindFailure(entry), `${name} ${kind}`).to.equal(true);
          if (isKindFailure(entry)) {
            expect(entry.error.message, `${name} ${kind}`).to.match(pattern);
            // Bad data is not retried: one attempt (or none when the master refused it).
            expect(entry.attempts).to.be.at.most(1);
          }
        }
      }
      // The rate counts the images a slave ran, not those failed at the master in a few ms
      // (100 empty files and one image made 3,375 images/s; QA).
      const report = readReport(`${out}.report.json`);
      const ran = readResults(out).records.filter((r) => (['object', 'face', 'edge', 'corner'] as const).some((k) => (r[k] as { slave?: string } | undefined)?.slave !== undefined)).length;
      expect(ran, 'the empty file fails at the master').to.be.within(2, 4);
      expect([report.images, report.imagesRun]).to.deep.equal([5, ran]);
      // processingMs is rounded to the ms in the report; the rate is not.
      expect(report.imagesPerSecond).to.be.closeTo((ran * 1000) / report.processingMs, (ran * 1000) / report.processingMs / 100 + 0.01);
      expect(master.stdout()).to.include(`images/s from the first slave on, counting the ${ran} image(s) slaves ran (the others failed at the master)`);
    } finally {
      tmp.cleanup();
    }
  });

  it('--resume of a results file that holds failed images still exits 3 and says so, and keeps the report of the run that did the work', async () => {
    const tmp = tempDir();
    try {
      const good = join(tmp.dir, 'good.jpg');
      const bad = join(tmp.dir, 'notes.jpg');
      copyFileSync(join(SAMPLE_FACES, '2008_001009.jpg'), good);
      writeFileSync(bad, 'not an image\n');
      const out = join(tmp.dir, 'results.jsonl');
      const args = ['run', good, bad, '--tasks', 'edge', '--bind', await loopbackEndpoint(), '--local-slaves', '1', '--local-threads', '1', '--out', out, '--progress', 'none', '--metrics-port', '0'];
      const first = startMaster(args);
      expect(await waitExit(first, 100_000), first.stderr()).to.equal(MASTER_EXIT.someFailed);
      const firstReport = readFileSync(`${out}.report.json`, 'utf8');
      const resumed = startMaster([...args, '--resume']);
      expect(await waitExit(resumed, 100_000), resumed.stderr()).to.equal(MASTER_EXIT.someFailed);
      expect(resumed.stderr()).to.match(/it holds 2 images already done \(1 of them with failed tasks/);
      expect(resumed.stdout()).to.match(/^Batch finished: nothing left to do, all 2 input images were already in the results file; the file holds 1 image\(s\) with failed tasks \(--overwrite runs everything again\)$/m);
      // Nothing was left to do: the report of the run that did the work is kept, not replaced
      // by one of 0 images.
      expect(resumed.stderr()).to.match(/no image finished in this run: the report of the earlier run, \S+results\.jsonl\.report\.json, is kept/);
      expect(readFileSync(`${out}.report.json`, 'utf8')).to.equal(firstReport);
      const report = readReport(`${out}.report.json`);
      expect([report.images, report.imagesFailed, report.imagesResumed]).to.deep.equal([2, 1, 0]);
      expect(readResults(out).records.map((r) => r.ok).sort()).to.deep.equal([false, true]);
      // One input fewer: the images skipped are counted, not the records in the file.
      const fewer = startMaster([...args.filter((a) => a !== bad), '--resume']);
      expect(await waitExit(fewer, 100_000), fewer.stderr()).to.equal(MASTER_EXIT.someFailed);
      expect(fewer.stdout()).to.match(/^Batch finished: nothing left to do, the one input image was already in the results file; the file holds 1 image\(s\) with failed tasks/m);
    } finally {
      tmp.cleanup();
    }
  });
  it('refuses images whose headers claim more pixels than allowed, in formats beyond PNG/JPEG/BMP (PPM, TIFF), before sending or decoding them: no worker crashes', async () => {
    const tmp = tempDir();
    try {
      // 60000x60000 px is also over OpenCV's own 2^30 px, which made imdecode abort the
      // worker (SIGABRT) three times per image before the header was read here.
      writeFileSync(join(tmp.dir, 'huge.ppm'), Buffer.concat([Buffer.from('P6\n60000 60000\n255\n'), Buffer.alloc(3000, 0x80)]));
      const tiff = cv.imencode('.tiff', new cv.Mat(40, 40, cv.CV_8UC1, 0));
      const ifd = tiff.readUInt32LE(4);
      for (let n = 0; n < tiff.readUInt16LE(ifd); n++) {
        const e = ifd + 2 + n * 12;
        if (tiff.readUInt16LE(e) !== 256 && tiff.readUInt16LE(e) !== 257) continue;
        tiff.writeUInt16LE(4, e + 2);
        tiff.writeUInt32LE(60_000, e + 8);
      }
      writeFileSync(join(tmp.dir, 'huge.tif'), tiff);
      copyFileSync(join(SAMPLE_FACES, '2008_001009.jpg'), join(tmp.dir, 'good.jpg'));
      const out = join(tmp.dir, 'results.jsonl');
      const m = startMaster(['run', tmp.dir, '--tasks', 'edge', '--bind', await loopbackEndpoint(), '--local-slaves', '1', '--local-threads', '1', '--out', out, '--progress', 'none', '--metrics-port', '0']);
      expect(await waitExit(m, 100_000), m.stderr()).to.equal(MASTER_EXIT.someFailed);
      const byName = new Map(readResults(out).records.map((r) => [r.source.split('/').pop(), r]));
      expect(byName.get('good.jpg')?.ok).to.equal(true);
      for (const name of ['huge.ppm', 'huge.tif']) {
        const edge = byName.get(name)?.edge;
        // The master reads the header as the slave would, and sends it no image over the limit its READY gave.
        expect(isKindFailure(edge) && edge.error.name, name).to.equal('ImageTooLargeError');
        expect(isKindFailure(edge) && edge.error.message, name).to.match(/^image is 60000x60000 px, over the --max-image-pixels of every connected slave \(local-\S+ 50000000\)$/);
      }
      expect(m.stderr()).to.not.match(/worker process died|SIGABRT/);
      expect(readReport(`${out}.report.json`).imageBytesSent, 'only good.jpg was sent').to.equal(readFileSync(join(tmp.dir, 'good.jpg')).length);
    } finally {
      tmp.cleanup();
    }
  });
});
