import { expect } from 'chai';
import { Packr } from 'msgpackr';
import { decode } from '../../../proto/codec.js';
import { msgpackShapeError } from '../../../proto/msgpack-shape.js';
import { Fuzzer } from '../../helpers/fuzz.js';

const packr = new Packr({ useRecords: false, mapsAsObjects: true, variableMapSize: true });

/** Values that use every msgpack type msgpackr writes, around each length boundary. */
function samples(): unknown[] {
  const strings = [0, 1, 31, 32, 255, 256, 65535, 65536].map((n) => 'é'.repeat(Math.ceil(n / 2)).slice(0, n));
  const numbers = [0, 1, 127, 128, 255, 256, 65535, 65536, 2 ** 32, 2 ** 53 - 1, -1, -32, -33, -128, -129, -32768, -32769, -(2 ** 31) - 1, 0.5, 1e300, -1.25, Number.NaN];
  const arrays = [0, 1, 15, 16, 65535, 65536].map((n) => Array.from({ length: n }, (_, i) => i % 3));
  const map = Object.fromEntries(Array.from({ length: 70_000 }, (_, i) => [`k${i}`, i % 2 === 0]));
  return [null, true, false, ...strings, ...numbers, ...arrays, map, Buffer.alloc(70_000, 1), Buffer.alloc(3), new Date(0), { a: [{ b: { c: [1, 'x', null] } }] }];
}

describe('proto msgpack-shape (the pre-check before msgpackr reads a header)', () => {
  it('passes every complete document msgpackr writes, and refuses each of its truncations and a trailing byte', () => {
    for (const value of samples()) {
      const bytes = packr.pack(value);
      expect(msgpackShapeError(bytes), JSON.stringify(value).slice(0, 80)).to.equal(undefined);
      expect(msgpackShapeError(Buffer.concat([bytes, Buffer.from([0xc0])]))).to.match(/after the end/);
      for (const cut of [0, 1, Math.floor(bytes.length / 2), bytes.length - 1]) {
        if (cut < bytes.length) expect(msgpackShapeError(bytes.subarray(0, cut)), `cut at ${cut}`).to.be.a('string');
      }
    }
  });

  it('never refuses a fuzzed header that msgpackr reads (5,000 frames)', () => {
    const fuzz = new Fuzzer(Number(process.env['CCTV_FUZZ_SEED'] ?? 20261121));
    let read = 0;
    for (let i = 0; i < 5_000; i++) {
      const [header] = fuzz.toMaster('fuzzer', 400);
      if (header === undefined) continue;
      let readable = true;
      try {
        packr.unpack(header);
      } catch {
        readable = false; // msgpackr refuses it anyway (unknown extension, truncation...)
      }
      if (!readable) continue;
      read++;
      expect(msgpackShapeError(header), `frame ${i}: ${header.subarray(0, 40).toString('hex')}`).to.equal(undefined);
    }
    expect(read).to.be.above(1_000);
  });

  it('refuses containers that declare more items than bytes remain, before any allocation', () => {
    // 3,000 nested array16 headers of 65,535 elements: msgpackr would allocate ~1.5 GB first.
    const bomb = Buffer.concat(Array.from({ length: 3000 }, () => Buffer.from([0xdc, 0xff, 0xff])));
    expect(msgpackShapeError(bomb)).to.match(/declares \d+ more items than the \d+ bytes left/);
    expect(msgpackShapeError(Buffer.from([0xdd, 0x01, 0x00, 0x00, 0x00, 0xc0]))).to.match(/more items/);
    expect(msgpackShapeError(Buffer.from([0xdf, 0xff, 0xff, 0xff, 0xff]))).to.match(/more items/);
    expect(msgpackShapeError(Buffer.from([0xdb, 0xff, 0xff, 0xff, 0xff, 0x61]))).to.match(/runs past the end/);
    expect(msgpackShapeError(Buffer.from([0xc1]))).to.match(/not a msgpack type/);
    const d = decode([bomb]);
    expect(d.ok).to.equal(false);
    if (!d.ok) expect(d.error.reason).to.equal('bad_msgpack');
  });
});
