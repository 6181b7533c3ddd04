import { expect } from 'chai';
import { ManualClock } from '../../../shared/clock.js';
import { SIGNAL_BURST_MS, StopSignals } from '../../../shared/stop-signals.js';

describe('StopSignals', () => {
  it('counts a burst (GNU timeout: the child, then its group) as the first signal, and a later one as a second', () => {
    const clock = new ManualClock(1000);
    const s = new StopSignals(clock);
    expect(s.next()).to.equal('first');
    clock.advance(6);
    expect(s.next()).to.equal('echo');
    clock.advance(SIGNAL_BURST_MS - 7);
    expect(s.next()).to.equal('echo');
    clock.advance(1);
    expect(s.next()).to.equal('again');
    clock.advance(1);
    expect(s.next()).to.equal('again');
  });
});
