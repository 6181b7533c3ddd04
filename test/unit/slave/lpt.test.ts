import { expect } from 'chai';
import { splitLongestFirst } from '../../../slave/pool/lpt.js';

/** What an idle worker pool does with the last image: share its tasks by expected time. */
describe('unit: splitLongestFirst (LPT)', () => {
  const ms: Record<string, number> = { object: 135, face: 295, edge: 2.5, corner: 7 };
  const cost = (k: string): number => ms[k] ?? 0;

  it("gives the face task a worker of its own and the other three to the second (the bench's mean times)", () => {
    expect(splitLongestFirst(['object', 'face', 'edge', 'corner'], 2, cost)).to.deep.equal([['face'], ['object', 'edge', 'corner']]);
  });

  it('alternates items of equal cost, keeping their order within each list', () => {
    expect(splitLongestFirst(['a', 'b', 'c', 'd', 'e'], 2, () => 1)).to.deep.equal([
      ['a', 'c', 'e'],
      ['b', 'd'],
    ]);
  });

  it('returns no empty lists when there are fewer items than lists wanted', () => {
    expect(splitLongestFirst(['object', 'face'], 4, cost)).to.deep.equal([['face'], ['object']]);
    expect(splitLongestFirst([], 3, cost)).to.deep.equal([]);
  });

  it('keeps everything in one list when one is wanted', () => {
    expect(splitLongestFirst(['object', 'face', 'edge'], 1, cost)).to.deep.equal([['object', 'face', 'edge']]);
  });

  it('stays within 4/3 of the best split on a classic worst case (Graham 1969: 2,2,2,3,3 on 2)', () => {
    const lists = splitLongestFirst([3, 3, 2, 2, 2], 2, (x) => x);
    const longest = Math.max(...lists.map((l) => l.reduce((a, b) => a + b, 0)));
    expect(longest).to.equal(7); // the best is 6 (3+3 | 2+2+2); 7 <= 4/3 x 6
  });
});
