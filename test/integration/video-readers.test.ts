import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { countInputs } from '../../master/ingest/count.js';
import { expandInputs } from '../../master/ingest/expand.js';
import type { IngestItem } from '../../master/ingest/item.js';
import { videoFrames } from '../../master/ingest/video.js';
import { VideoReaderPool } from '../../master/ingest/video-readers.js';
import { cv } from '../../shared/opencv.js';
import { SAMPLE_VIDEO, useTempDir } from '../helpers/fixtures.js';

const JPEG = { format: 'jpg', jpegQuality: 90 } as const;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Waits (bounded) until none of `pids` is alive. */
async function gone(pids: number[], timeoutMs = 10_000): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (pids.some(alive)) {
    if (Date.now() > until) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}

describe('video reader processes: videos are read off the master\'s thread, several at once, and a reader lost costs only its video\'s rest', function () {
  this.timeout(120_000);
  const tmp = useTempDir();
  /** Readers stopped by a test, resumed (and so ended) after it whatever happened. */
  const stopped: number[] = [];
  /** Videos and streams a test opened: ended after it (and their readers with them), also when it failed midway. */
  const opened: { return(): Promise<unknown> }[] = [];
  const open = <T extends { return(): Promise<unknown> }>(x: T): T => {
    opened.push(x);
    return x;
  };
  afterEach(async () => {
    for (const x of opened.splice(0)) await x.return();
    for (const pid of stopped.splice(0)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });

  it('reads the same frames in its own process, and that process ends with the video', async () => {
    const video = open(videoFrames(SAMPLE_VIDEO, 10, JPEG));
    const first = await video.next();
    const pid = video.readerPid;
    expect(pid).to.be.a('number');
    expect(pid).to.not.equal(process.pid);
    const frames = [first.value as IngestItem];
    for await (const item of video) frames.push(item);
    expect(frames.map((f) => f.frame)).to.deep.equal(Array.from({ length: 12 }, (_, i) => i * 10));
    expect(frames.every((f) => f.error === undefined && f.timestampMs === (f.frame ?? 0) * 100)).to.equal(true);
    const bytes = await frames[3]!.load();
    expect(bytes.subarray(0, 3).toString('hex')).to.equal('ffd8ff');
    expect(await gone([pid!])).to.equal(true);
  });

  it('a reader killed mid-video fails the next sampled frame with the reason, retryable; the frames before it stand', async () => {
    const video = open(videoFrames(SAMPLE_VIDEO, 5, JPEG, SAMPLE_VIDEO, { readAhead: 1 }));
    const a = await video.next();
    const b = await video.next();
    expect([a.value?.frame, b.value?.frame]).to.deep.equal([0, 5]);
    const pid = video.readerPid!;
    process.kill(pid, 'SIGKILL');
    const rest: IngestItem[] = [];
    for await (const item of video) rest.push(item);
    // With one frame of read-ahead, frame 10 may have arrived before the kill.
    const last = rest.at(-1)!;
    expect(rest.slice(0, -1).every((i) => i.error === undefined)).to.equal(true);
    expect(rest.length).to.be.within(1, 2);
    expect(last.frame).to.equal(rest.length === 1 ? 10 : 15);
    // Killed from outside (the OOM killer, a user): not blamed on the video, and tried again by a --resume.
    expect(last.error).to.match(/^the video reader process was killed \(SIGKILL: by the out-of-memory killer, or a user\?\) while reading it; frames from 1[05] on were not read$/);
    expect(last.errorMayPass).to.equal(true);
    expect(last.key).to.equal(`${SAMPLE_VIDEO}#${last.frame}`);
    const loaded = await last.load().then(() => 'loaded', (err: unknown) => (err as Error).message);
    expect(loaded).to.equal(last.error);
  });

  it('a reader that hangs is ended after the stall timeout, failing the frame it owed', async () => {
    const video = open(videoFrames(SAMPLE_VIDEO, 5, JPEG, SAMPLE_VIDEO, { readAhead: 1, stallMs: 1_500 }));
    expect((await video.next()).value?.frame).to.equal(0);
    const pid = video.readerPid!;
    // Let the owed frame 5 arrive, then stop the reader before it can read frame 10.
    expect((await video.next()).value?.frame).to.equal(5);
    process.kill(pid, 'SIGSTOP');
    stopped.push(pid);
    const rest: IngestItem[] = [];
    for await (const item of video) rest.push(item);
    const last = rest.at(-1)!;
    expect(last.error).to.match(/^no frame from the video reader for 2 s: the video decoder hung on its data, and the reader was ended; frames from (10|15) on were not read$/);
    expect(await gone([pid])).to.equal(true);
  });

  it('return() ends a video at once, even while its reader hangs, and ends the reader', async () => {
    const video = open(videoFrames(SAMPLE_VIDEO, 1, JPEG, SAMPLE_VIDEO, { readAhead: 1 }));
    await video.next();
    const pid = video.readerPid!;
    process.kill(pid, 'SIGSTOP');
    stopped.push(pid);
    const pending = video.next();
    await video.return();
    expect((await pending).done).to.equal(true);
    expect(await gone([pid])).to.equal(true);
  });

  it('a batch of videos reads two at once (--video-readers 2), yields every frame of each once, and ends its readers', async () => {
    const videos = ['a.avi', 'b.avi', 'c.avi'].map((name) => {
      const path = join(tmp.dir, name);
      copyFileSync(SAMPLE_VIDEO, path);
      return path;
    });
    const stream = open(expandInputs(videos, { every: 20, encoding: JPEG, maxImageBytes: 1e8, videoReaders: 2 }));
    const items: IngestItem[] = [];
    let mostReaders = 0;
    for await (const item of stream) {
      items.push(item);
      mostReaders = Math.max(mostReaders, stream.readerPids.length);
    }
    expect(mostReaders).to.equal(2);
    const keys = items.map((i) => i.key);
    const expected = videos.flatMap((v) => [0, 20, 40, 60, 80, 100].map((f) => `${v}#${f}`));
    expect([...keys].sort()).to.deep.equal([...expected].sort());
    expect(items.every((i) => i.error === undefined)).to.equal(true);
    // Each video's own frames keep their order.
    for (const v of videos) {
      const frames = items.filter((i) => i.source === v).map((i) => i.frame);
      expect(frames).to.deep.equal([0, 20, 40, 60, 80, 100]);
    }
    expect(stream.readerPids).to.deep.equal([]);
  });

  it('with one reader, a batch\'s items keep the order of its inputs, and one reader process reads every video', async () => {
    const videos = ['a.avi', 'b.avi'].map((name) => {
      const path = join(tmp.dir, name);
      copyFileSync(SAMPLE_VIDEO, path);
      return path;
    });
    const stream = open(expandInputs(videos, { every: 50, encoding: JPEG, maxImageBytes: 1e8, videoReaders: 1 }));
    const keys: string[] = [];
    const pids = new Set<number>();
    for await (const item of stream) {
      keys.push(item.key);
      for (const pid of stream.readerPids) pids.add(pid);
    }
    expect(keys).to.deep.equal(videos.flatMap((v) => [0, 50, 100].map((f) => `${v}#${f}`)));
    expect(pids.size).to.equal(1);
  });

  it('keeps a reader for the next video, and ends one left idle for its idle timeout', async () => {
    const pool = new VideoReaderPool({ idleMs: 1_000 });
    opened.push({
      return: () => {
        pool.close();
        return Promise.resolve();
      },
    });
    const readAll = async (): Promise<number | undefined> => {
      const video = open(pool.frames(SAMPLE_VIDEO, 40, JPEG));
      let pid: number | undefined;
      for await (const item of video) {
        expect(item.error).to.equal(undefined);
        pid ??= video.readerPid;
      }
      return pid;
    };
    const first = await readAll();
    expect(pool.pids).to.deep.equal([first]);
    // Within the idle timeout: the same process reads the next video.
    expect(await readAll()).to.equal(first);
    expect(pool.pids).to.deep.equal([first]);
    expect(await gone([first!], 10_000)).to.equal(true);
    expect(pool.pids).to.deep.equal([]);
    // The pool still works: a new reader starts for the next video.
    const next = await readAll();
    expect(next).to.be.a('number').and.not.equal(first);
  });

  it('counts a batch\'s frames for the progress bar with the videos opened by a reader, not in this process', async () => {
    const fake = join(tmp.dir, 'fake.avi');
    writeFileSync(fake, 'this is not a video\n');
    const video = join(tmp.dir, 'cam.avi');
    copyFileSync(SAMPLE_VIDEO, video);
    // 120 frames at --every 7: 18 items; a video that cannot be opened is one failed item.
    expect(await countInputs([video, fake], 7)).to.deep.equal({ items: 19, exact: true });
  });

  it('counts one item for a video whose count it cannot believe: a cut MPEG-TS (its 90 kHz clock as the rate), whose total is then a lower bound, or a FIFO (never opened)', async () => {
    const whole = join(tmp.dir, 'whole.ts');
    const cap = new cv.VideoCapture(SAMPLE_VIDEO);
    const writer = new cv.VideoWriter(whole, cv.VideoWriter.fourcc('mp4v'), 10, new cv.Size(768, 576), true);
    for (let i = 0; i < 12; i++) writer.write(cap.read());
    writer.release();
    cap.release();
    const cut = join(tmp.dir, 'cut.ts');
    const bytes = readFileSync(whole);
    writeFileSync(cut, bytes.subarray(0, bytes.length >> 1));
    const fifo = join(tmp.dir, 'cam.avi');
    execFileSync('mkfifo', [fifo]);
    // OpenCV announces 36,000 frames at 90,000 fps for the cut file: the total was 36,000.
    const probe = new cv.VideoCapture(cut, cv.CAP_FFMPEG);
    expect([probe.get(cv.CAP_PROP_FPS), probe.get(cv.CAP_PROP_FRAME_COUNT)]).to.deep.equal([90_000, 36_000]);
    probe.release();
    // The FIFO is one failed item; the cut file has frames to read, how many is not known.
    expect(await countInputs([cut, fifo], 1)).to.deep.equal({ items: 2, exact: false });
    expect(await countInputs([fifo], 1)).to.deep.equal({ items: 1, exact: true });
  });
});
