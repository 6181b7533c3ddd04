import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cv } from '../../../shared/opencv.js';
import { DecodeError } from '../../../shared/errors.js';
import { decodeImage } from '../../../slave/vision/decode.js';
import { peekImageSize } from '../../../shared/image-size.js';
import { SAMPLE_FACES } from '../../helpers/fixtures.js';

/** A header saying 60000x60000 px (3.6e9, over OpenCV's own 2^30 limit) with a few bytes of pixels. */
const HUGE = 60_000;

/** A BigTIFF (version 43) header whose first directory holds ImageWidth and ImageLength as LONG8. */
function bigTiff(width: number, height: number): Buffer {
  const b = Buffer.alloc(16 + 8 + 2 * 20 + 8);
  b.write('II', 0, 'latin1');
  b.writeUInt16LE(43, 2);
  b.writeUInt16LE(8, 4);
  b.writeBigUInt64LE(16n, 8);
  b.writeBigUInt64LE(2n, 16);
  for (const [n, tag, value] of [[0, 256, width], [1, 257, height]] as const) {
    const e = 24 + n * 20;
    b.writeUInt16LE(tag, e);
    b.writeUInt16LE(16, e + 2);
    b.writeBigUInt64LE(1n, e + 4);
    b.writeBigUInt64LE(BigInt(value), e + 12);
  }
  return b;
}

describe('unit: image size from the header, before decoding', () => {
  it('reads the size OpenCV decodes for every format imencode writes here (53x37 px)', () => {
    const colour = new cv.Mat(37, 53, cv.CV_8UC3, [10, 200, 30]);
    const grey = colour.cvtColor(cv.COLOR_BGR2GRAY);
    const float = colour.convertTo(cv.CV_32FC3);
    const cases: [string, typeof colour, number[]][] = [
      ['.png', colour, []],
      ['.jpg', colour, []],
      ['.jpg', colour, [cv.IMWRITE_JPEG_PROGRESSIVE, 1]],
      ['.bmp', colour, []],
      ['.tiff', colour, []],
      ['.tiff', grey, []],
      ['.webp', colour, [cv.IMWRITE_WEBP_QUALITY, 101]],
      ['.webp', colour, [cv.IMWRITE_WEBP_QUALITY, 80]],
      ['.ppm', colour, []],
      ['.pgm', grey, []],
      ['.pbm', grey, []],
      ['.pgm', grey, [cv.IMWRITE_PXM_BINARY, 0]],
      ['.pam', colour, []],
      ['.pfm', float, []],
      ['.ras', colour, []],
      ['.jp2', colour, []],
      ['.exr', float, []],
      ['.hdr', float, []],
    ];
    for (const [ext, mat, params] of cases) {
      const bytes = cv.imencode(ext, mat, params);
      const decoded = cv.imdecode(bytes, cv.IMREAD_COLOR);
      const label = `${ext} ${params.join(',')}`;
      expect([decoded.cols, decoded.rows], label).to.deep.equal([53, 37]);
      expect(peekImageSize(bytes), label).to.deep.equal({ width: 53, height: 37 });
    }
    const photo = readFileSync(join(SAMPLE_FACES, '2008_001009.jpg'));
    const decoded = cv.imdecode(photo, cv.IMREAD_COLOR);
    expect(peekImageSize(photo)).to.deep.equal({ width: decoded.cols, height: decoded.rows });
  });

  it('reads headers that claim more than OpenCV decodes: PPM with comments, TIFF of either byte order, BigTIFF, PAM, WebP VP8X, Sun raster, JPEG 2000 codestream', () => {
    const pixels = Buffer.alloc(3000, 0x80);
    expect(peekImageSize(Buffer.concat([Buffer.from(`P6\n# made by hand\n${HUGE} # width\n${HUGE}\n255\n`), pixels]))).to.deep.equal({ width: HUGE, height: HUGE });
    expect(peekImageSize(Buffer.concat([Buffer.from(`P7\nWIDTH ${HUGE}\nHEIGHT 7\nDEPTH 3\nMAXVAL 255\nTUPLTYPE RGB\nENDHDR\n`), pixels]))).to.deep.equal({ width: HUGE, height: 7 });
    // OpenCV's own TIFF, its ImageWidth and ImageLength patched, and the same in big-endian.
    const tiff = cv.imencode('.tiff', new cv.Mat(40, 40, cv.CV_8UC1, 0));
    const ifd = tiff.readUInt32LE(4);
    for (let n = 0; n < tiff.readUInt16LE(ifd); n++) {
      const e = ifd + 2 + n * 12;
      const tag = tiff.readUInt16LE(e);
      if (tag !== 256 && tag !== 257) continue;
      tiff.writeUInt16LE(4, e + 2);
      tiff.writeUInt32LE(tag === 256 ? HUGE : HUGE + 1, e + 8);
    }
    expect(peekImageSize(tiff)).to.deep.equal({ width: HUGE, height: HUGE + 1 });
    const motorola = Buffer.alloc(8 + 2 + 2 * 12 + 4);
    motorola.write('MM', 0, 'latin1');
    motorola.writeUInt16BE(42, 2);
    motorola.writeUInt32BE(8, 4);
    motorola.writeUInt16BE(2, 8);
    for (const [n, tag, type, value] of [[0, 256, 3, 1234], [1, 257, 4, HUGE]] as const) {
      motorola.writeUInt16BE(tag, 10 + n * 12);
      motorola.writeUInt16BE(type, 12 + n * 12);
      motorola.writeUInt32BE(1, 14 + n * 12);
      if (type === 3) motorola.writeUInt16BE(value, 18 + n * 12);
      else motorola.writeUInt32BE(value, 18 + n * 12);
    }
    expect(peekImageSize(motorola)).to.deep.equal({ width: 1234, height: HUGE });
    expect(peekImageSize(bigTiff(HUGE, 3))).to.deep.equal({ width: HUGE, height: 3 });
    const vp8x = Buffer.alloc(30);
    vp8x.write('RIFF', 0, 'latin1');
    vp8x.write('WEBPVP8X', 8, 'latin1');
    vp8x.writeUIntLE(HUGE - 1, 24, 3);
    vp8x.writeUIntLE(99, 27, 3);
    expect(peekImageSize(vp8x)).to.deep.equal({ width: HUGE, height: 100 });
    const ras = Buffer.alloc(32);
    ras.writeUInt32BE(0x59a66a95, 0);
    ras.writeUInt32BE(HUGE, 4);
    ras.writeUInt32BE(HUGE, 8);
    expect(peekImageSize(ras)).to.deep.equal({ width: HUGE, height: HUGE });
    const j2k = Buffer.alloc(48);
    j2k.writeUInt32BE(0xff4fff51, 0);
    j2k.writeUInt32BE(HUGE + 10, 8);
    j2k.writeUInt32BE(500, 12);
    j2k.writeUInt32BE(10, 16);
    expect(peekImageSize(j2k)).to.deep.equal({ width: HUGE, height: 500 });
  });

  it('finds a JPEG\'s SOF as libjpeg does: past fill bytes and stray bytes before a marker, which once hid a 30000x30000 image', () => {
    const jpeg = cv.imencode('.jpg', new cv.Mat(37, 53, cv.CV_8UC3, [10, 200, 30]));
    let sof = -1;
    for (let i = 2; i + 1 < jpeg.length; i += 2 + jpeg.readUInt16BE(i + 2)) {
      if (jpeg[i + 1] === 0xc0) {
        sof = i;
        break;
      }
    }
    expect(sof).to.be.above(0);
    const fill = Buffer.concat([jpeg.subarray(0, sof), Buffer.from([0xff, 0xff, 0xff]), jpeg.subarray(sof)]);
    // Stray bytes before the SOF marker: libjpeg skips them with a warning ("extraneous bytes").
    const stray = Buffer.concat([jpeg.subarray(0, sof), Buffer.from([0x00, 0x12, 0x34]), jpeg.subarray(sof)]);
    for (const [label, bytes] of [['fill', fill], ['stray', stray]] as const) {
      const decoded = cv.imdecode(bytes, cv.IMREAD_COLOR);
      expect([decoded.cols, decoded.rows], label).to.deep.equal([53, 37]);
      expect(peekImageSize(bytes), label).to.deep.equal({ width: 53, height: 37 });
      const huge = Buffer.from(bytes);
      const at = huge.indexOf(Buffer.from([0xff, 0xc0]), sof);
      huge.writeUInt16BE(30_000, at + 5);
      huge.writeUInt16BE(30_000, at + 7);
      expect(peekImageSize(huge), label).to.deep.equal({ width: 30_000, height: 30_000 });
    }
  });

  it('takes a BMP header only where OpenCV does: text or damage after "BM" is a corrupt image, not one too large to decode', () => {
    const valid = cv.imencode('.bmp', new cv.Mat(37, 53, cv.CV_8UC3, [10, 200, 30]));
    const patched = (at: number, value: number, bytes = 4): Buffer => {
      const b = Buffer.from(valid);
      b.writeIntLE(value, at, bytes);
      return b;
    };
    expect(peekImageSize(valid)).to.deep.equal({ width: 53, height: 37 });
    // 16-bit BI_RGB, 8-bit RLE8 and a top-down (negative height) header are OpenCV's too.
    expect([peekImageSize(patched(28, 16, 2)), peekImageSize(Buffer.concat([patched(28, 8, 2).subarray(0, 30), Buffer.from([1, 0, 0, 0]), valid.subarray(34)])), peekImageSize(patched(22, -37))]).to.deep.equal([{ width: 53, height: 37 }, { width: 53, height: 37 }, { width: 53, height: 37 }]);
    const text = Buffer.from('BMW dashcam log, 2026-11-25 12:00: engine on, camera on, recording to card 1\n');
    for (const [label, bytes] of [['text', text], ['12 bits a pixel', patched(28, 12, 2)], ['compression 7', patched(30, 7)], ['RLE4 at 8 bits', patched(30, 2)], ['width 0', patched(18, 0)], ['header of 20 bytes', patched(14, 20)]] as const) {
      expect(peekImageSize(bytes), label).to.equal(undefined);
      expect(cv.imdecode(bytes, cv.IMREAD_COLOR).rows, `${label}: OpenCV refuses it too`).to.equal(0);
      expect(() => decodeImage(bytes), label).to.throw(DecodeError, /BMP is corrupt or truncated/);
    }
  });

  it('gives no size for data that is no image or a header that cannot be walked, without throwing', () => {
    for (const bytes of [
      Buffer.alloc(0),
      Buffer.from('this is not an image\n'),
      Buffer.from('P6\nwidth height\n'),
      Buffer.concat([Buffer.from('II*\0'), Buffer.alloc(996)]),
      Buffer.from('MM\0*\xff\xff\xff\xf0', 'latin1'),
      Buffer.from('RIFF\0\0\0\0WEBPVP8 \0\0\0\0\0\0\0\0\0\0\0\0\0\0', 'latin1'),
      Buffer.from('#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n', 'latin1'),
      Buffer.from([0x76, 0x2f, 0x31, 0x01, 2, 0, 0, 0, 0x61, 0x62]),
    ]) {
      expect(peekImageSize(bytes), bytes.toString('latin1').slice(0, 20)).to.equal(undefined);
    }
  });
});
