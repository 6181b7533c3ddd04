import { expect } from 'chai';
import { SmallImageBundle } from '../../../master/small-image-bundle.js';
import { MAX_BUNDLE_BYTES } from '../../../proto/schema.js';

describe('SmallImageBundle', () => {
  it('packs small images into one part between the large ones, each readable at its offset', () => {
    const parts: Buffer[] = [];
    const bundle = new SmallImageBundle(parts);
    const large = Buffer.alloc(10_000, 9);
    parts.push(large);
    const a = bundle.add(Buffer.from('first'));
    parts.push(large);
    const b = bundle.add(Buffer.from('second'));
    bundle.close();
    expect(parts).to.have.length(3);
    expect(a).to.deep.equal({ part: 1, offset: 0, length: 5 });
    expect(b).to.deep.equal({ part: 1, offset: 5, length: 6 });
    expect(parts[1]!.toString()).to.equal('firstsecond');
    expect(parts[0]).to.equal(large);
    expect(parts[2]).to.equal(large);
  });

  it('starts a new part when one would exceed MAX_BUNDLE_BYTES', () => {
    const parts: Buffer[] = [];
    const bundle = new SmallImageBundle(parts);
    const image = Buffer.alloc(4096, 1);
    const placed = Array.from({ length: MAX_BUNDLE_BYTES / 4096 + 1 }, () => bundle.add(image));
    bundle.close();
    expect(parts.map((p) => p.length)).to.deep.equal([MAX_BUNDLE_BYTES, 4096]);
    expect(placed.at(-1)).to.deep.equal({ part: 1, offset: 0, length: 4096 });
    expect(placed.at(-2)).to.deep.equal({ part: 0, offset: MAX_BUNDLE_BYTES - 4096, length: 4096 });
  });

  it('adds no part when no image was placed', () => {
    const parts: Buffer[] = [];
    new SmallImageBundle(parts).close();
    expect(parts).to.deep.equal([]);
  });
});
