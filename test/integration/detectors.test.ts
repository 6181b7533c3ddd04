import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { videoFrames } from '../../master/ingest/video.js';
import { DEFAULT_DETECTOR_CONFIG } from '../../proto/detector-config.js';
import { DecodeError, ImageTooLargeError } from '../../shared/errors.js';
import { cv } from '../../shared/opencv.js';
import { detectCorners } from '../../slave/detectors/corner.js';
import { runDetector } from '../../slave/detectors/index.js';
import { detectEdges } from '../../slave/detectors/edge.js';
import { detectFaces } from '../../slave/detectors/face.js';
import { detectObjects } from '../../slave/detectors/object.js';
import { decodeImage, truncation } from '../../slave/vision/decode.js';
import { SAMPLE_FACES, SAMPLE_VIDEO, iou } from '../helpers/fixtures.js';

interface GtImage {
  image: string;
  boxes: { x: number; y: number; w: number; h: number }[];
}

async function sampleFrames(every: number, limit: number): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const item of videoFrames(SAMPLE_VIDEO, every, { format: 'jpg', jpegQuality: 90 })) {
    out.push(await item.load());
    if (out.length >= limit) break;
  }
  return out;
}

describe('detectors on real images (OpenCV in this process)', () => {
  it('finds people in CCTV frames (HOG)', async () => {
    const frames = await sampleFrames(20, 6);
    expect(frames).to.have.length(6);
    const counts = frames.map((b) => detectObjects(decodeImage(b), DEFAULT_DETECTOR_CONFIG.object).count);
    // PETS2009 S2.L1 shows several pedestrians in every frame.
    expect(counts.filter((c) => c > 0)).to.have.length.at.least(5);
    const boxes = detectObjects(decodeImage(frames[0]!), DEFAULT_DETECTOR_CONFIG.object).boxes;
    for (const b of boxes) {
      expect(b.width).to.be.at.least(64);
      expect(b.height / b.width).to.be.closeTo(2, 0.05);
    }
  });

  it('finds no people, and does not crash, in images smaller than the 64x128 HOG window', async () => {
    const [frame] = await sampleFrames(20, 1);
    const full = cv.imdecode(frame!);
    // 80x60 and 40x300 px: no window fits even with the padding (OpenCV itself segfaults here).
    for (const [rows, cols] of [[60, 80], [300, 40]] as const) {
      const small = cv.imencode('.png', full.resize(rows, cols));
      expect(detectObjects(decodeImage(small), DEFAULT_DETECTOR_CONFIG.object)).to.deep.equal({ count: 0, boxes: [] });
    }
  });

  it('finds the annotated faces in face photos (Haar), IoU >= 0.4', () => {
    const gt = (JSON.parse(readFileSync(join(SAMPLE_FACES, 'gt_faces.json'), 'utf8')) as { images: GtImage[] }).images;
    let matched = 0;
    let total = 0;
    for (const g of gt) {
      const found = detectFaces(decodeImage(readFileSync(join(SAMPLE_FACES, g.image))), DEFAULT_DETECTOR_CONFIG.face).boxes;
      for (const b of g.boxes) {
        total++;
        if (found.some((f) => iou(f, { x: b.x, y: b.y, width: b.w, height: b.h }) >= 0.4)) matched++;
      }
    }
    expect(total).to.equal(8);
    expect(matched).to.be.at.least(7);
  });

  it('counts Canny edge pixels on the Gaussian-blurred grey image with OpenCV\'s reflect border', async () => {
    const [frame] = await sampleFrames(1, 1);
    const image = decodeImage(frame!);
    const e = detectEdges(image, DEFAULT_DETECTOR_CONFIG.edge);
    const expected = image.grey.gaussianBlur(new cv.Size(5, 5), 0, 0, cv.BORDER_REFLECT_101).canny(50, 150, 3, false).countNonZero();
    expect(e.edgePixels).to.equal(expected);
    expect(e.density).to.be.closeTo(expected / (768 * 576), 1e-6);
    const constantBorder = image.grey.gaussianBlur(new cv.Size(5, 5), 0, 0, cv.BORDER_CONSTANT).canny(50, 150, 3, false).countNonZero();
    expect(e.edgePixels).to.not.equal(constantBorder);
  });

  it('finds every inner corner of a drawn chessboard (Shi-Tomasi)', () => {
    const squarePx = 40;
    const board = new cv.Mat(10 * squarePx, 10 * squarePx, cv.CV_8UC3, [255, 255, 255]);
    for (let r = 1; r < 9; r++) {
      for (let c = 1; c < 9; c++) {
        if ((r + c) % 2 === 0) board.drawRectangle(new cv.Rect(c * squarePx, r * squarePx, squarePx, squarePx), new cv.Vec3(0, 0, 0), -1);
      }
    }
    const image = decodeImage(cv.imencode('.png', board));
    const { points } = detectCorners(image, DEFAULT_DETECTOR_CONFIG.corner);
    // The 7x7 inner corners of the 8x8 board.
    for (let r = 2; r <= 8; r++) {
      for (let c = 2; c <= 8; c++) {
        const near = points.some((p) => Math.abs(p.x - c * squarePx) <= 2 && Math.abs(p.y - r * squarePx) <= 2);
        expect(near, `corner at (${c * squarePx}, ${r * squarePx})`).to.equal(true);
      }
    }
  });

  it('refuses empty, truncated and non-image bytes with a DecodeError, an image over the pixel limit with an ImageTooLargeError', () => {
    const good = readFileSync(join(SAMPLE_FACES, '2008_001009.jpg'));
    expect(() => decodeImage(Buffer.alloc(0))).to.throw(DecodeError, /empty/);
    expect(truncation(good)).to.equal(undefined);
    expect(() => decodeImage(good.subarray(0, Math.floor(good.length / 2)))).to.throw(DecodeError, /truncated/);
    expect(() => decodeImage(Buffer.from('this is not an image at all\n'))).to.throw(DecodeError, /could not be decoded \(28 bytes\): not an image format OpenCV reads/);
    // A format with no truncation check of its own is still named.
    const bmp = cv.imencode('.bmp', new cv.Mat(40, 40, cv.CV_8UC3, [1, 2, 3]));
    expect(() => decodeImage(bmp.subarray(0, 1000))).to.throw(DecodeError, /could not be decoded \(1000 bytes\): BMP is corrupt or truncated, or a variant of BMP that OpenCV does not read$/);
    expect(() => decodeImage(good, 1000)).to.throw(ImageTooLargeError, /over this slave's limit of 1000 px \(--max-image-pixels\)/);
  });

  it('decodes a grey PFM, whose one channel OpenCV returns even when asked for colour, as that grey (QA: every task failed with a TypeError)', () => {
    const jpeg = decodeImage(readFileSync(join(SAMPLE_FACES, '2008_001009.jpg')));
    const grey = jpeg.grey;
    // PFM ("Pf": one channel): text header, then little-endian float rows, bottom row first;
    // OpenCV converts them to 8 bits unscaled, so 0-255 floats come back as these pixels.
    const floats = Buffer.alloc(grey.rows * grey.cols * 4);
    const pixels = grey.getData();
    for (let y = 0; y < grey.rows; y++) {
      for (let x = 0; x < grey.cols; x++) floats.writeFloatLE(pixels[y * grey.cols + x] ?? 0, ((grey.rows - 1 - y) * grey.cols + x) * 4);
    }
    const pfm = Buffer.concat([Buffer.from(`Pf\n${grey.cols} ${grey.rows}\n-1.0\n`, 'latin1'), floats]);
    const image = decodeImage(pfm);
    expect([image.width, image.height, image.grey.channels]).to.deep.equal([jpeg.width, jpeg.height, 1]);
    expect(image.grey.absdiff(grey).countNonZero(), 'the same grey pixels').to.equal(0);
    for (const kind of ['object', 'face', 'edge', 'corner'] as const) {
      expect(runDetector(kind, image, DEFAULT_DETECTOR_CONFIG).value, kind).to.deep.equal(runDetector(kind, jpeg, DEFAULT_DETECTOR_CONFIG).value);
    }
  });

  it('a prepared image keeps only its grey pixels, and release() frees them at once (twice is harmless)', () => {
    const image = decodeImage(readFileSync(join(SAMPLE_FACES, '2008_001009.jpg')));
    const { width, height } = image;
    expect([image.grey.cols, image.grey.rows, image.grey.channels]).to.deep.equal([width, height, 1]);
    const expected = runDetector('face', image, DEFAULT_DETECTOR_CONFIG).value;
    image.release();
    expect([image.grey.rows, image.grey.cols], 'grey pixels freed').to.deep.equal([0, 0]);
    image.release();
    expect([image.width, image.height], 'the size outlives the pixels').to.deep.equal([width, height]);
    // A fresh decode of the same bytes finds the same faces: release() touched only that image.
    expect(runDetector('face', decodeImage(readFileSync(join(SAMPLE_FACES, '2008_001009.jpg'))), DEFAULT_DETECTOR_CONFIG).value).to.deep.equal(expected);
  });

  it('decodes a JPEG or PNG with data appended after its end (a motion photo\'s video, a vendor trailer), and still refuses one cut short', () => {
    const jpeg = readFileSync(join(SAMPLE_FACES, '2008_001009.jpg'));
    const png = cv.imencode('.png', cv.imdecode(jpeg, cv.IMREAD_COLOR));
    const expected = runDetector('edge', decodeImage(jpeg), DEFAULT_DETECTOR_CONFIG).value;
    // More than the 1 KiB tail that used to be searched for the end marker (40 KB after EOI
    // failed as "JPEG is truncated"), another whole JPEG after it, zeros after a PNG's IEND.
    for (const [name, bytes] of [
      ['JPEG + 40 KB of zeros', Buffer.concat([jpeg, Buffer.alloc(40_000)])],
      ['JPEG + another JPEG', Buffer.concat([jpeg, jpeg])],
      ['PNG + 20 KB of zeros', Buffer.concat([png, Buffer.alloc(20_000)])],
    ] as const) {
      expect(truncation(bytes), name).to.equal(undefined);
      expect(runDetector('edge', decodeImage(bytes), DEFAULT_DETECTOR_CONFIG).value, name).to.deep.equal(expected);
    }
    for (const f of [0.2, 0.5, 0.9, 0.999]) {
      expect(truncation(jpeg.subarray(0, Math.floor(jpeg.length * f))), `JPEG cut at ${f}`).to.equal('JPEG is truncated or corrupt (its data runs out before the end-of-image marker)');
      expect(truncation(png.subarray(0, Math.floor(png.length * f))), `PNG cut at ${f}`).to.equal('PNG is truncated (no IEND chunk)');
    }
  });
});
