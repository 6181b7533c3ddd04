import { expect } from 'chai';
import { Timeline } from '../../../master/timeline.js';

describe('Timeline', () => {
  it('counts completions per bucket', () => {
    const t = new Timeline(1000);
    t.add(10);
    t.add(999);
    t.add(2500, 3);
    expect(t.counts).to.deep.equal([2, 0, 3]);
  });

  it('stays bounded on a long batch by merging neighbouring buckets, keeping every count', () => {
    const t = new Timeline(1000);
    for (let s = 0; s < 10_000; s++) t.add(s * 1000 + 1);
    expect(t.counts.length).to.be.at.most(2000);
    expect(t.bucketMs).to.equal(8000);
    expect(t.counts.reduce((a, b) => a + b, 0)).to.equal(10_000);
  });
});
