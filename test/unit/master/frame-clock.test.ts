import { expect } from 'chai';
import { FrameClock } from '../../../master/ingest/frame-clock.js';

describe('FrameClock (timestampMs of video frames)', () => {
  it('takes the presentation time of a variable-rate video, and extrapolates a failed frame from the last one at the rate', () => {
    const clock = new FrameClock(1.081, 12);
    expect([0, 1, 5].map((f) => clock.read(f, f * 100))).to.deep.equal([0, 100, 500]);
    expect(clock.read(6, 10_500)).to.equal(10_500);
    // Not read: one frame at the average rate after the last time taken.
    expect(clock.estimate(7)).to.equal(10_500 + Math.round(1_000_000 / 1.081) / 1000);
  });

  it('replaces the times OpenCV gets wrong (0 at an MP4\'s end and in raw H.264, -3.7e20 in raw MJPEG, NaN, past twice the length) by the rate', () => {
    const clock = new FrameClock(10, 12);
    expect(clock.read(0, 0)).to.equal(0);
    expect(clock.read(1, 0), 'not past the last').to.equal(100);
    expect(clock.read(2, -3.68934881474191e20)).to.equal(200);
    expect(clock.read(3, Number.NaN)).to.equal(300);
    expect(clock.read(4, 2401), 'past twice 12 frames at 10 fps').to.equal(400);
    expect(clock.read(5, 500.0000000001), 'rounded to µs').to.equal(500);
    expect(clock.read(6, 500), 'repeated').to.equal(600);
    expect(clock.estimate(9)).to.equal(900);
  });

  it('without a plausible rate: the presentation time when it is one, else nothing', () => {
    const clock = new FrameClock(undefined, 0);
    expect(clock.read(0, Number.NaN)).to.equal(undefined);
    expect(clock.read(1, 40)).to.equal(40);
    expect(clock.read(2, 1e9), 'no length to bound it').to.equal(1e9);
    expect(clock.read(3, 0)).to.equal(undefined);
    expect(clock.estimate(4)).to.equal(undefined);
  });
});
