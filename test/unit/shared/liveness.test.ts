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
});
