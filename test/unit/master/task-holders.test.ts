import { expect } from 'chai';
import { TaskHolders } from '../../../master/task-holders.js';

describe('TaskHolders', () => {
  it('lets only the slaves a task was sent to answer it, until the task is forgotten', () => {
    const h = new TaskHolders();
    h.add(1, 'a');
    h.add(1, 'b'); // re-leased after a's lease was taken away: both may still answer
    h.add(1, 'b');
    h.add(2, 'a');
    expect(h.holds(1, 'a')).to.equal(true);
    expect(h.holds(1, 'b')).to.equal(true);
    expect(h.holds(1, 'fuzzer')).to.equal(false);
    expect(h.holds(2, 'b')).to.equal(false);
    expect(h.holds(3, 'a')).to.equal(false);
    h.forget([1, 2]);
    expect(h.size).to.equal(0);
    expect(h.holds(1, 'a')).to.equal(false);
  });
});
