import { expect } from 'chai';
import { ManualClock } from '../../../shared/clock.js';
import { DEFAULT_HEARTBEAT_INTERVAL_MS, DEFAULT_HEARTBEAT_LIVENESS, Liveness } from '../../../shared/liveness.js';

describe('Liveness (Paranoid Pirate)', () => {
  it('uses the ZeroMQ Guide defaults', () => {
    expect(DEFAULT_HEARTBEAT_INTERVAL_MS).to.equal(1000);
    expect(DEFAULT_HEARTBEAT_LIVENESS).to.equal(3);
  });

  it('declares a peer dead after interval x liveness of silence, not before', () => {
    const clock = new ManualClock();
    const l = new Liveness(1000, 3, clock);
    clock.advance(2999);
    expect(l.isDead()).to.equal(false);
    expect(l.remaining()).to.equal(1);
    clock.advance(1);
    expect(l.isDead()).to.equal(true);
    expect(l.remaining()).to.equal(0);
  });

  it('is reset by anything heard', () => {
    const clock = new ManualClock();
    const l = new Liveness(1000, 3, clock);
    clock.advance(2500);
    l.heard();
    clock.advance(2500);
    expect(l.isDead()).to.equal(false);
    expect(l.silentForMs()).to.equal(2500);
  });

  it('judges a peer that announced a longer interval by that interval, and a shorter one by its own', () => {
    const clock = new ManualClock();
    const l = new Liveness(1000, 3, clock);
    l.peerInterval(5000);
    clock.advance(14_999);
    expect([l.isDead(), l.remaining()]).to.deep.equal([false, 1]);
    clock.advance(1);
    expect(l.isDead()).to.equal(true);
    const fast = new Liveness(1000, 3, clock);
    fast.peerInterval(200);
    expect(fast.judgedIntervalMs).to.equal(1000);
    clock.advance(2999);
    expect(fast.isDead()).to.equal(false);
  });
});

