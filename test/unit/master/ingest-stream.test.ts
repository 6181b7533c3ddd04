import { expect } from 'chai';
import { IngestStream, type IngestUnit } from '../../../master/ingest/interleave.js';
import type { IngestItem } from '../../../master/ingest/item.js';
import { VideoReaderPool, type VideoFrames } from '../../../master/ingest/video-readers.js';

/** A promise and its resolver. */
function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** A stand-in for a video: each `next()` waits until the test calls `give` (an item) or `end`. */
class FakeVideo {
  private pending: ((result: IteratorResult<IngestItem, undefined>) => void)[] = [];
  asked = 0;
  constructor(readonly name: string) {}
  start(): void {}
  next(): Promise<IteratorResult<IngestItem, undefined>> {
    this.asked++;
    return new Promise((resolve) => this.pending.push(resolve));
  }
  return(): Promise<IteratorResult<IngestItem, undefined>> {
    return Promise.resolve({ value: undefined, done: true });
  }
  give(frame: number): void {
    const key = `${this.name}#${frame}`;
    this.pending.shift()?.({ value: { key, source: this.name, frame, load: () => Promise.resolve(Buffer.alloc(0)) }, done: false });
  }
  end(): void {
    this.pending.shift()?.({ value: undefined, done: true });
  }
}

const ticks = async (): Promise<void> => {
  for (let i = 0; i < 20; i++) await Promise.resolve();
};

describe('unit: IngestStream, the videos of a batch read at once', () => {
  it('keeps the walk\'s next unit when a video\'s frame comes while the walk is slow (a video was dropped: 795 of 1,060 images)', async () => {
    const [a, b, c] = [new FakeVideo('a'), new FakeVideo('b'), new FakeVideo('c')];
    const gate = deferred<undefined>();
    async function* units(): AsyncGenerator<IngestUnit> {
      yield a as unknown as VideoFrames;
      yield b as unknown as VideoFrames;
      // A slow walk: a folder being listed.
      await gate.promise;
      yield c as unknown as VideoFrames;
    }
    const stream = new IngestStream(units(), new VideoReaderPool(), 2);
    const first = stream.next();
    await ticks();
    expect([a.asked, b.asked, c.asked]).to.deep.equal([1, 1, 0]);
    a.end();
    await ticks();
    // The stream now waits for the walk; a frame of b comes meanwhile.
    b.give(0);
    await ticks();
    gate.resolve(undefined);
    expect((await first).value?.key).to.equal('b#0');
    expect(c.asked, 'c was started').to.equal(1);
    c.give(0);
    expect((await stream.next()).value?.key).to.equal('c#0');
    const rest = stream.next();
    b.end();
    c.end();
    expect((await rest).done).to.equal(true);
  });

  it('return() ends a stream waiting for its videos at once', async () => {
    const a = new FakeVideo('a');
    async function* units(): AsyncGenerator<IngestUnit> {
      await Promise.resolve();
      yield a as unknown as VideoFrames;
    }
    const stream = new IngestStream(units(), new VideoReaderPool(), 1);
    const pending = stream.next();
    await ticks();
    await stream.return();
    expect((await pending).done).to.equal(true);
  });
});
