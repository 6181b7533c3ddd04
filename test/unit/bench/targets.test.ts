import { expect } from 'chai';
import { targetsSection } from '../../../test/bench/targets.js';

const s = (median: number, min = median, max = median, count = 3) => ({ median, min, max, count });
/** The verdict cell of the row whose target starts with `prefix`. */
const verdictOf = (lines: string[], prefix: string): string => {
  const row = lines.find((l) => l.startsWith(`| ${prefix}`));
  if (row === undefined) throw new Error(`no row for ${prefix}`);
  return row.split('|').at(-2)?.trim() ?? '';
};

describe("bench: issue 4's targets table", () => {
  it('checks medians against the thresholds, at the boundaries as the issue words them', () => {
    const lines = targetsSection({
      speedUps: [
        { shape: '1 slave x 2 threads', ratios: s(2.0, 1.9, 2.1) },
        { shape: '2 slaves x 1 thread', ratios: s(1.999, 1.95, 2.2) },
      ],
      peerRatios: [{ shape: '1 slave x 2 threads', peer: 'Pool(2)', ratios: s(1.0) }],
      // The best run alone would pass; the median decides.
      dispatch: { best: 150_000, median: 99_999, peerRatio: s(1.2, 0.9, 1.5, 5) },
      memoryGrowthMb: 50,
      wireRatio: 1.25,
    });
    expect(verdictOf(lines, 'cluster 1 slave x 2 threads vs sequential')).to.equal('met');
    expect(verdictOf(lines, 'cluster 2 slaves x 1 thread vs sequential')).to.equal('**not met**');
    expect(verdictOf(lines, 'cluster 1 slave x 2 threads vs Pool(2)'), 'level with the peer is not ahead').to.equal('**not met**');
    expect(verdictOf(lines, 'dispatch, no-op')).to.equal('**not met**');
    expect(verdictOf(lines, 'dispatch, 1 slave vs')).to.equal('met');
    expect(verdictOf(lines, 'master memory growth'), '< 50 MB').to.equal('**not met**');
    expect(verdictOf(lines, 'bytes on the wire'), '<= 1.25x').to.equal('met');
    expect(lines.join('\n')).to.include('median 2.000x (1.900-2.100, 3 rounds)');
  });

  it('leaves out the rows of parts the bench skipped', () => {
    const lines = targetsSection({ speedUps: [{ shape: '1 slave x 2 threads', ratios: s(2.05, 2.05, 2.05, 1) }] });
    expect(lines.filter((l) => l.startsWith('| ') && !l.startsWith('| target'))).to.have.length(1);
    expect(lines.join('\n')).to.include('| 2.050x |');
  });
});
