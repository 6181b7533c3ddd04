import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { videoFrames } from '../../master/ingest/video.js';
import { DEFAULT_DETECTOR_CONFIG } from '../../proto/detector-config.js';
import { SMALL_IMAGE_BYTES } from '../../proto/schema.js';
import { cv } from '../../shared/opencv.js';
import { runDetector } from '../../slave/detectors/index.js';
import { decodeImage } from '../../slave/vision/decode.js';
import { SAMPLE_VIDEO, readResults, tempDir } from '../helpers/fixtures.js';
import { startMaster, waitExit } from '../helpers/processes.js';
import { valueOf } from '../helpers/reference.js';

const KINDS = ['object', 'face', 'edge', 'corner'] as const;

describe('small images: thumbnails share TASK parts (offset/length) and each gets its own results', function () {
  this.timeout(120_000);

  it('equals a sequential run on each file, for thumbnails mixed with full frames', async () => {
    const tmp = tempDir();
    try {
      // 16 different thumbnails under SMALL_IMAGE_BYTES (they travel packed together) and 2 full frames.
      const files: string[] = [];
      let n = 0;
      for await (const item of videoFrames(SAMPLE_VIDEO, 7, { format: 'jpg', jpegQuality: 90 })) {
        const full = await item.load();
        const small = n < 16;
        const bytes = small ? cv.imencode('.jpg', cv.imdecode(full).resize(60, 80), [cv.IMWRITE_JPEG_QUALITY, 60]) : full;
        if (small) expect(bytes.length).to.be.below(SMALL_IMAGE_BYTES);
        else expect(bytes.length).to.be.above(SMALL_IMAGE_BYTES);
        const file = join(tmp.dir, `img-${String(n).padStart(2, '0')}.jpg`);
        writeFileSync(file, bytes);
        files.push(file);
        if (++n === 18) break;
      }
      const out = join(tmp.dir, 'results.jsonl');
      const master = startMaster(['run', tmp.dir, '--bind', 'tcp://127.0.0.1:*', '--local-slaves', '1', '--local-threads', '2', '--out', out, '--progress', 'none']);
      expect(await waitExit(master, 100_000), master.stderr()).to.equal(0);
      const records = readResults(out).records;
      expect(records.map((r) => r.source).sort()).to.deep.equal(files);
      const distinct = new Set<string>();
      for (const r of records) {
        const image = decodeImage(readFileSync(r.source));
        expect([r.width, r.height], r.source).to.deep.equal([image.grey.cols, image.grey.rows]);
        for (const k of KINDS) {
          expect(valueOf(r[k]), `${r.source} ${k}`).to.deep.equal(runDetector(k, image, DEFAULT_DETECTOR_CONFIG).value);
        }
        distinct.add(JSON.stringify(r.corner));
      }
      // Had a slave read the shared part as one image, the thumbnails' results would repeat.
      expect(distinct.size).to.be.above(12);
    } finally {
      tmp.cleanup();
    }
  });
});
