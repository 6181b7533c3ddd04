import { expect } from 'chai';
import { statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FinishedVideos } from '../../../master/finished-videos.js';
import type { FinishedVideoRecord } from '../../../master/journal.js';
import type { ImageRecord } from '../../../master/merge.js';
import { useTempDir } from '../../helpers/fixtures.js';

describe('FinishedVideos (a video record once every frame is recorded)', () => {
  const tmp = useTempDir();
  const frame = (source: string, n: number, ok = true, retryable = false): ImageRecord =>
    ok ? { type: 'image', source, frame: n, ok } : { type: 'image', source, frame: n, ok, edge: { error: { name: retryable ? 'LeaseExpiredError' : 'DecodeError', message: 'x', retryable }, attempts: 1 } };

  const follow = (earlier: ReadonlyMap<string, FinishedVideoRecord> = new Map(), done: ReadonlySet<string> = new Set()) => {
    const written: FinishedVideoRecord[] = [];
    const videos = new FinishedVideos(earlier, done, 5, (r) => written.push(r), (s) => s);
    return { videos, written };
  };

  it('writes the record after the last frame is recorded for good, also when the reader finished first, with the identity the file had', () => {
    const path = join(tmp.dir, 'cam.avi');
    writeFileSync(path, 'x'.repeat(100));
    const { videos, written } = follow();
    videos.frame(path, false);
    videos.frame(path, true); // recorded in an earlier run
    videos.frame(path, false);
    videos.recorded(frame(path, 0));
    const st = statSync(path);
    videos.read({ path, whole: true, frames: 3, identity: { size: 100, mtimeMs: st.mtimeMs } });
    expect(written, 'a frame is still in flight').to.deep.equal([]);
    videos.recorded(frame(path, 10, false)); // failed for the frame itself: final
    expect(written).to.deep.equal([{ type: 'video', source: path, frames: 3, size: 100, mtimeMs: st.mtimeMs }]);
    expect(videos.size, 'forgotten once written').to.equal(0);
  });

  it('writes none for a video with a frame failed for a cause that may pass, one not read whole, or one that changed while read', () => {
    const { videos, written } = follow();
    const identity = { size: 1, mtimeMs: 2 };
    videos.frame('/a.avi', false);
    videos.recorded(frame('/a.avi', 0, false, true));
    videos.read({ path: '/a.avi', whole: true, frames: 1, identity });
    videos.frame('/b.avi', false);
    videos.read({ path: '/b.avi', whole: false, frames: 1, identity });
    videos.recorded(frame('/b.avi', 0));
    videos.frame('/c.avi', false);
    videos.read({ path: '/c.avi', whole: true, frames: 1, identity: undefined });
    videos.recorded(frame('/c.avi', 0));
    expect(written).to.deep.equal([]);
    expect(videos.size).to.equal(0);
  });

  it('lets a resume skip a video only while its size and modification time are those recorded and each of its frames still has a record', () => {
    const path = join(tmp.dir, 'kept.avi');
    writeFileSync(path, 'y'.repeat(50));
    const st = statSync(path);
    // Sampled every 5 frames: 0, 5, ..., 30; beside the records of other images.
    const done = new Set([...Array.from({ length: 7 }, (_, i) => `${path}#${i * 5}`), ...Array.from({ length: 10 }, (_, i) => `/other/${i}.jpg`)]);
    const line: FinishedVideoRecord = { type: 'video', source: 'kept.avi', frames: 7, size: 50, mtimeMs: st.mtimeMs };
    const { videos } = follow(new Map([[path, line]]), done);
    expect(videos.unchanged(path)).to.equal(7);
    expect(videos.unchanged(join(tmp.dir, 'other.avi')), 'no record').to.equal(undefined);
    const lost = new Set(done);
    lost.delete(`${path}#15`);
    expect(follow(new Map([[path, line]]), lost).videos.unchanged(path), 'a frame\'s record edited out').to.equal(undefined);
    expect(follow(new Map([[path, { ...line, frames: 1e308 }]]), done).videos.unchanged(path), 'a count edited by hand').to.equal(undefined);
    utimesSync(path, st.atime, new Date(st.mtimeMs + 1000));
    expect(videos.unchanged(path), 'touched').to.equal(undefined);
  });
});
