import { expect } from 'chai';
import { LogBudget } from '../../../shared/log-budget.js';

describe('LogBudget', () => {
  it('lets the first `lines` of a window through and counts the rest', () => {
    const b = new LogBudget(3, 1000);
    const taken = [0, 10, 20, 30, 40].map((t) => b.take(t));
    expect(taken).to.deep.equal([true, true, true, false, false]);
    expect(b.ended(999)).to.equal(0);
    expect(b.ended(1000)).to.equal(2);
  });

  it('starts a new window with the next line once one has ended, and tells a count only once', () => {
    const b = new LogBudget(1, 100);
    expect(b.take(0)).to.equal(true);
    expect(b.take(50)).to.equal(false);
    expect(b.ended(150)).to.equal(1);
    expect(b.ended(300)).to.equal(0);
    expect(b.take(500)).to.equal(true);
    expect(b.take(590)).to.equal(false);
    // The window began at 500, the new line's time, not at the old one's end.
    expect(b.ended(599)).to.equal(0);
    expect(b.ended(600)).to.equal(1);
  });

  it('tells what a running window held back when forced (the end of a batch)', () => {
    const b = new LogBudget(2, 60_000);
    for (let t = 0; t < 5; t++) b.take(t);
    expect(b.ended(10, true)).to.equal(3);
    expect(b.ended(20, true)).to.equal(0);
  });

  it('refuses a budget of no lines or no time', () => {
    expect(() => new LogBudget(0, 1000)).to.throw(RangeError);
    expect(() => new LogBudget(1, 0)).to.throw(RangeError);
  });
});
