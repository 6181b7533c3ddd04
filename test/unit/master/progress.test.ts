import { expect } from 'chai';
import { createProgress } from '../../../master/progress.js';

/** What `fn` writes to stderr (the plain progress lines go there). */
function stderrOf(fn: () => void): string {
  const chunks: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array) => {
    chunks.push(String(chunk));
    return true;
  });
  try {
    fn();
  } finally {
    process.stderr.write = write;
  }
  return chunks.join('');
}

describe('plain progress lines', () => {
  it('separates every field with a comma, with and without an ETA', async () => {
    const progress = createProgress('plain', 0, undefined, 0);
    expect(progress).to.not.equal(undefined);
    const unknownTotal = stderrOf(() => progress?.update({ done: 0, skipped: 0, failed: 0, slaves: 0, inFlight: 0 }));
    expect(unknownTotal).to.match(/^progress: 0 images, 0\.00 img\/s, slaves 0, in flight 0, failed 0\n$/);
    progress?.setTotal(10);
    // The ETA needs a rate, and the rate some elapsed time.
    await new Promise((resolve) => setTimeout(resolve, 20));
    const withEta = stderrOf(() => progress?.update({ done: 4, skipped: 0, failed: 1, slaves: 2, inFlight: 3 }));
    expect(withEta).to.match(/^progress: 4\/10 images, \d+\.\d\d img\/s, ETA \d+s, slaves 2, in flight 3, failed 1\n$/);
  });

  it('shows a total that is only a lower bound (a video of unknown length) as N+, never below the images seen, and no ETA', async () => {
    const progress = createProgress('plain', 0, undefined, 0);
    progress?.setTotal(61, false);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const line = (done: number): string => stderrOf(() => progress?.update({ done, skipped: 0, failed: 0, slaves: 1, inFlight: 2 }));
    expect(line(22)).to.match(/^progress: 22\/61\+ images, \d+\.\d\d img\/s, slaves 1, in flight 2, failed 0\n$/);
    // Was "82/61 images ... ETA 0s" with work left (QA).
    expect(line(82)).to.match(/^progress: 82\/82\+ images, \d+\.\d\d img\/s, slaves 1, /);
  });

  it('shows no rate or ETA in the first seconds: an image failed at once is not a rate', () => {
    const progress = createProgress('plain', 0);
    progress?.setTotal(15);
    const line = stderrOf(() => progress?.update({ done: 1, skipped: 0, failed: 1, slaves: 0, inFlight: 0 }));
    expect(line).to.equal('progress: 1/15 images, 0.00 img/s, slaves 0, in flight 0, failed 1\n');
  });

  it('counts the images a resumed file already held as done, and leaves them out of the rate and the ETA', async () => {
    const progress = createProgress('plain', 0, undefined, 0);
    progress?.setTotal(100);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    // 80 images were done by the earlier run; this one has done 9 in ~1 s: 11 left at ~9 a second.
    const line = stderrOf(() => progress?.update({ done: 9, skipped: 80, failed: 0, slaves: 1, inFlight: 2 }));
    const m = /^progress: 89\/100 images, (\d+\.\d\d) img\/s, ETA (\d+)s, /.exec(line);
    expect(m, line).to.not.equal(null);
    expect(Number(m?.[1])).to.be.within(4, 9.1);
    expect(Number(m?.[2]), "11 images left at this run's rate, not 91").to.be.within(1, 3);
  });
});
