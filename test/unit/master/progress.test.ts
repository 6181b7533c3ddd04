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
    const progress = createProgress('plain', 0);
    expect(progress).to.not.equal(undefined);
    const unknownTotal = stderrOf(() => progress?.update({ done: 0, failed: 0, slaves: 0, inFlight: 0 }));
    expect(unknownTotal).to.match(/^progress: 0 images, 0\.00 img\/s, slaves 0, in flight 0, failed 0\n$/);
    progress?.setTotal(10);
    // The ETA needs a rate, and the rate some elapsed time.
    await new Promise((resolve) => setTimeout(resolve, 20));
    const withEta = stderrOf(() => progress?.update({ done: 4, failed: 1, slaves: 2, inFlight: 3 }));
    expect(withEta).to.match(/^progress: 4\/10 images, \d+\.\d\d img\/s, ETA \d+s, slaves 2, in flight 3, failed 1\n$/);
  });
});
