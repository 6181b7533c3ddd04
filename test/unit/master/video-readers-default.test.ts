import { expect } from 'chai';
import { defaultVideoReaders, VIDEO_READER_BYTES } from '../../../master/options.js';

describe('unit: how many videos the master reads at once by default', () => {
  it('one a core, at most 4, at most one per 4 readers\' memory available, at least one', () => {
    const mib = 2 ** 20;
    expect(VIDEO_READER_BYTES).to.equal(120 * mib);
    expect(defaultVideoReaders(2, 24 * 1024 * mib)).to.equal(2);
    expect(defaultVideoReaders(16, 24 * 1024 * mib)).to.equal(4);
    // A 1 GB board with 4 cores and ~700 MB available: one reader (480 MB a reader's share).
    expect(defaultVideoReaders(4, 700 * mib)).to.equal(1);
    expect(defaultVideoReaders(4, 1000 * mib)).to.equal(2);
    expect(defaultVideoReaders(4, 10 * mib)).to.equal(1);
  });
});
