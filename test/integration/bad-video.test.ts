import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MASTER_EXIT } from '../../master/master.js';
import { cv } from '../../shared/opencv.js';
import { isKindFailure } from '../../master/merge.js';
import type { FinishedVideoRecord } from '../../master/journal.js';
import { SAMPLE_FACES, SAMPLE_VIDEO, readReport, readResults, useTempDir } from '../helpers/fixtures.js';
import { loopbackEndpoint } from '../helpers/ports.js';
import { killTree, startMaster, startSlave, waitExit, waitFor } from '../helpers/processes.js';

/** The finished-video lines of a results file (journal.ts `FinishedVideoRecord`). */
function videoLines(out: string): FinishedVideoRecord[] {
  return readFileSync(out, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{"type":"video"'))
    .map((l) => JSON.parse(l) as FinishedVideoRecord);
}

/** Writes the first `frames` frames of the sample video (768x576) to `path` as `fourcc` at 10 fps. */
function writeClip(path: string, fourcc: string, frames: number): void {
  const cap = new cv.VideoCapture(SAMPLE_VIDEO);
  const writer = new cv.VideoWriter(path, cv.VideoWriter.fourcc(fourcc), 10, new cv.Size(768, 576), true);
  for (let i = 0; i < frames; i++) writer.write(cap.read());
  writer.release();
  cap.release();
}

/**
 * Damages the frames of an MJPG AVI for which `damaged(frame)` holds: zeroes each one's
 * JPEG data after its first 200 bytes (its "00dc" chunk), so that it fails to decode.
 */
function damageFrames(path: string, frames: number, damaged: (frame: number) => boolean): void {
  const bytes = readFileSync(path);
  let chunk = 0;
  for (let at = bytes.indexOf('00dc'); at >= 0; at = bytes.indexOf('00dc', at + 8)) {
    const length = bytes.readUInt32LE(at + 4);
    if (length <= 1000) continue; // an index entry, not a frame
    if (damaged(chunk)) bytes.fill(0, at + 8 + 200, at + 8 + length);
    chunk++;
  }
  expect(chunk).to.equal(frames);
  writeFileSync(path, bytes);
}

/** The boxes on the way from the top of an MP4 to its first `names.at(-1)` box, each as [offset, size], bytes. */
function mp4Path(bytes: Buffer, names: string[]): [number, number][] {
  const path: [number, number][] = [];
  let [start, end] = [0, bytes.length];
  for (const name of names) {
    let at = start;
    while (at < end && bytes.toString('latin1', at + 4, at + 8) !== name) at += bytes.readUInt32BE(at);
    expect(at, `an MP4 box ${name}`).to.be.below(end);
    path.push([at, bytes.readUInt32BE(at)]);
    [start, end] = [at + 8, at + bytes.readUInt32BE(at)];
  }
  return path;
}

/**
 * Writes a 12-frame MP4 (mp4v, 10 fps) of the sample's first frames, then makes it a
 * variable-rate recording, as a motion-triggered camera writes: frame 6 comes 10 s after
 * frame 5 (its time-to-sample table, ISO/IEC 14496-12 `stts`, becomes 5 x 1, 1 x 100,
 * 6 x 1 frame durations), and the track, media and movie durations and the edit list grow
 * by the gap. Frame i is then shown at 100 i ms for i <= 5, and 10 s + 100 (i - 1) ms after.
 */
function writeVariableRateMp4(path: string): void {
  writeClip(path, 'mp4v', 12);
  let bytes = readFileSync(path);
  const stbl = mp4Path(bytes, ['moov', 'trak', 'mdia', 'minf', 'stbl', 'stts']);
  const [stts, size] = stbl.at(-1)!;
  expect(bytes.readUInt32BE(stts + 12), 'one stts entry').to.equal(1);
  const [count, delta] = [bytes.readUInt32BE(stts + 16), bytes.readUInt32BE(stts + 20)];
  expect(count).to.equal(12);
  const entries = [[5, delta], [1, 100 * delta], [6, delta]] as const;
  const table = Buffer.alloc(16 + 8 * entries.length);
  table.writeUInt32BE(table.length, 0);
  table.write('stts', 4, 'latin1');
  table.writeUInt32BE(entries.length, 12);
  entries.forEach(([n, d], k) => {
    table.writeUInt32BE(n, 16 + 8 * k);
    table.writeUInt32BE(d, 20 + 8 * k);
  });
  bytes = Buffer.concat([bytes.subarray(0, stts), table, bytes.subarray(stts + size)]);
  // The boxes holding it grow; the media data comes before them, so no chunk offset moves.
  for (const [at] of stbl.slice(0, -1)) bytes.writeUInt32BE(bytes.readUInt32BE(at) + table.length - size, at);
  const [mdhd] = mp4Path(bytes, ['moov', 'trak', 'mdia', 'mdhd']).at(-1)!;
  const [mvhd] = mp4Path(bytes, ['moov', 'mvhd']).at(-1)!;
  const [tkhd] = mp4Path(bytes, ['moov', 'trak', 'tkhd']).at(-1)!;
  expect([bytes[mdhd + 8], bytes[mvhd + 8], bytes[tkhd + 8]], 'version 0 headers (32-bit durations)').to.deep.equal([0, 0, 0]);
  const gap = 99 * delta; // in the media's time scale
  const movieGap = (gap * bytes.readUInt32BE(mvhd + 20)) / bytes.readUInt32BE(mdhd + 20);
  bytes.writeUInt32BE(bytes.readUInt32BE(mdhd + 24) + gap, mdhd + 24);
  bytes.writeUInt32BE(bytes.readUInt32BE(mvhd + 24) + movieGap, mvhd + 24);
  bytes.writeUInt32BE(bytes.readUInt32BE(tkhd + 28) + movieGap, tkhd + 28);
  const edit = mp4Path(bytes, ['moov', 'trak', 'edts', 'elst']).at(-1)![0];
  bytes.writeUInt32BE(bytes.readUInt32BE(edit + 16) + movieGap, edit + 16);
  writeFileSync(path, bytes);
}

describe('bad videos and oversized images get error records', function () {
  this.timeout(120_000);
  const tmp = useTempDir();

  it('records a video that ends early and one that cannot be opened, and processes the frames it could read', async () => {
    const half = join(tmp.dir, 'half.avi');
    const fake = join(tmp.dir, 'fake.avi');
    writeFileSync(half, readFileSync(SAMPLE_VIDEO).subarray(0, 800_000));
    writeFileSync(fake, 'this is not a video\n');
    const out = join(tmp.dir, 'r.jsonl');
    const m = startMaster(['run', half, fake, '--every', '10', '--tasks', 'edge,corner', '--bind', await loopbackEndpoint(), '--out', out, '--progress', 'none']);
    expect(await waitExit(m, 100_000), m.stderr()).to.equal(MASTER_EXIT.someFailed);
    // FFmpeg's own message about the cut frame ("[msmpeg4 @ 0x...] ...") shows only under --log-level debug.
    expect(m.stderr()).to.not.match(/\[\w+ @ 0x[0-9a-f]+\]/);
    // Nor OpenCV's own log of its backends trying the fake one ("[ WARN:0@0.1] global ... GStreamer ...").
    expect(m.stderr()).to.not.match(/GStreamer|OpenCV Error|\[ ?(WARN|ERROR):/);
    const records = readResults(out).records;
    const good = records.filter((r) => r.ok);
    expect(good.length).to.be.at.least(3);
    expect(good.every((r) => r.source === half && (r.frame ?? -1) % 10 === 0)).to.equal(true);
    const early = records.find((r) => r.source === half && !r.ok);
    expect(isKindFailure(early?.edge) && early.edge.error.message).to.match(/video ended early: read \d+ of 120 announced frames/);
    const unopened = records.find((r) => r.source === fake);
    expect(unopened?.ok).to.equal(false);
    expect(isKindFailure(unopened?.corner) && unopened.corner.error.message).to.match(/video could not be opened/);
  });

  it('--resume reads again a video that ended early or could not be read (a copy under way, a link to a file not there yet), and not one that cannot be opened (QA)', async () => {
    const dir = join(tmp.dir, 'resumed');
    mkdirSync(dir);
    const half = join(dir, 'half.avi');
    const fake = join(dir, 'fake.avi');
    const later = join(tmp.dir, 'later.avi');
    writeFileSync(half, readFileSync(SAMPLE_VIDEO).subarray(0, 800_000));
    writeFileSync(fake, 'this is not a video\n');
    symlinkSync(later, join(dir, 'gone.avi'));
    const out = join(tmp.dir, 'resumed.jsonl');
    const args = ['run', dir, '--every', '10', '--tasks', 'edge', '--bind', await loopbackEndpoint(), '--out', out, '--progress', 'none', '--metrics-port', '0'];
    const first = startMaster(args);
    expect(await waitExit(first, 100_000), first.stderr()).to.equal(MASTER_EXIT.someFailed);
    const failure = (source: string): { message: string; retryable: boolean } | undefined => {
      const r = readResults(out).records.find((x) => x.source.endsWith(source) && !x.ok);
      return isKindFailure(r?.edge) ? r.edge.error : undefined;
    };
    expect(failure('half.avi')).to.deep.include({ retryable: true }).and.property('message').match(/video ended early/);
    expect(failure('gone.avi')).to.deep.equal({ name: 'InputError', message: `cannot read ${join(dir, 'gone.avi')}: ENOENT`, retryable: true });
    expect(failure('fake.avi')).to.deep.include({ retryable: false }).and.property('message').match(/video could not be opened/);
    // The copies finish, and the file that was not a video becomes one: only the first two are read again.
    copyFileSync(SAMPLE_VIDEO, half);
    copyFileSync(SAMPLE_VIDEO, later);
    copyFileSync(SAMPLE_VIDEO, fake);
    const second = startMaster([...args, '--resume']);
    expect(await waitExit(second, 100_000), second.stderr()).to.equal(MASTER_EXIT.someFailed);
    const records = readResults(out).records;
    const frames = (name: string): (number | undefined)[] => records.filter((r) => r.source.endsWith(name)).map((r) => r.frame).sort((a, b) => (a ?? 0) - (b ?? 0));
    const all = Array.from({ length: 12 }, (_, i) => i * 10);
    expect(frames('half.avi'), 'each frame once, the ended-early record replaced').to.deep.equal(all);
    expect(frames('gone.avi'), 'each frame once, the unreadable record replaced').to.deep.equal(all);
    expect(records.filter((r) => r.source.endsWith('.avi') && !r.source.endsWith('fake.avi')).every((r) => r.ok)).to.equal(true);
    expect(frames('fake.avi'), 'the failed record of the whole video stands alone').to.deep.equal([undefined]);
    // Read whole only in the second run: then each of them is said finished.
    expect(videoLines(out).map((v) => v.source).sort()).to.deep.equal([join(dir, 'gone.avi'), join(dir, 'half.avi')]);
  });

  it('--resume does not read again a video whose sampled frames are all recorded, while its size and modification time are those recorded', async () => {
    const dir = join(tmp.dir, 'finished');
    mkdirSync(dir);
    const clip = join(dir, 'clip.avi');
    copyFileSync(SAMPLE_VIDEO, clip);
    // A whole second: utimes with a Date sets no finer than a ms, and the time is put back below.
    const when = new Date(1_750_000_000_000);
    utimesSync(clip, when, when);
    const out = join(tmp.dir, 'finished.jsonl');
    const args = ['run', dir, '--every', '10', '--tasks', 'edge', '--bind', await loopbackEndpoint(), '--out', out, '--progress', 'none', '--metrics-port', '0', '--log-level', 'debug'];
    const first = startMaster(args);
    expect(await waitExit(first, 100_000), first.stderr()).to.equal(MASTER_EXIT.ok);
    const st = statSync(clip);
    expect(videoLines(out)).to.deep.equal([{ type: 'video', source: clip, frames: 12, size: st.size, mtimeMs: st.mtimeMs }]);
    const skipped = /clip\.avi has each of its 12 sampled frame\(s\) recorded and is unchanged since: not read again/;
    expect(first.stderr()).not.to.match(skipped);
    const written = readFileSync(out, 'utf8');

    // Its bytes zeroed, size and time kept: read, it would fail as a whole and get a record.
    writeFileSync(clip, Buffer.alloc(st.size));
    utimesSync(clip, when, when);
    const second = startMaster([...args, '--resume']);
    expect(await waitExit(second, 100_000), second.stderr()).to.equal(MASTER_EXIT.ok);
    expect(second.stderr()).to.match(skipped);
    expect(second.stderr()).to.match(/it holds 12 images already done, and 1 video\(s\) with every frame recorded, which are not read again while unchanged;/);
    expect(readFileSync(out, 'utf8'), 'not read: nothing written').to.equal(written);

    // Copied again (touched): read again, each frame still recorded once, and said finished again.
    copyFileSync(SAMPLE_VIDEO, clip);
    utimesSync(clip, when, new Date(st.mtimeMs + 5000));
    const third = startMaster([...args, '--resume']);
    expect(await waitExit(third, 100_000), third.stderr()).to.equal(MASTER_EXIT.ok);
    expect(third.stderr()).not.to.match(skipped);
    const records = readResults(out).records;
    expect(records.map((r) => r.frame ?? -1).sort((a, b) => a - b)).to.deep.equal(Array.from({ length: 12 }, (_, i) => i * 10));
    expect(videoLines(out).map((v) => v.mtimeMs)).to.deep.equal([st.mtimeMs, st.mtimeMs + 5000]);

    // A frame's record taken out (by hand, or lost to a damaged line): that frame runs again (QA).
    writeFileSync(out, readFileSync(out, 'utf8').split('\n').filter((l) => !l.includes('"frame":50,')).join('\n'));
    const fourth = startMaster([...args, '--resume']);
    expect(await waitExit(fourth, 100_000), fourth.stderr()).to.equal(MASTER_EXIT.ok);
    expect(fourth.stderr()).not.to.match(skipped);
    expect(readResults(out).records.map((r) => r.frame ?? -1).sort((a, b) => a - b)).to.deep.equal(Array.from({ length: 12 }, (_, i) => i * 10));
    expect(videoLines(out)).to.have.length(3);

    // Cut short (copied over again, say): it ends early, so it gets no line, though its frame
    // that failed to be read has a record from before (QA: a line of its shorter length).
    writeFileSync(clip, readFileSync(SAMPLE_VIDEO).subarray(0, 800_000));
    const fifth = startMaster([...args, '--resume']);
    expect(await waitExit(fifth, 100_000), fifth.stderr()).to.equal(MASTER_EXIT.ok);
    expect(videoLines(out)).to.have.length(3);
    expect(fifth.stderr()).to.match(/clip\.avi: video ended early: read \d+ of 120 announced frames; frame \d+ was recorded by an earlier run, and its record stays/);
  });

  it('a corrupt frame fails only itself: the frames after it are read (MJPG AVI with frames 0 and 12 zeroed)', async () => {
    const path = join(tmp.dir, 'damaged.avi');
    writeClip(path, 'MJPG', 30);
    damageFrames(path, 30, (i) => i === 0 || i === 12);
    const out = join(tmp.dir, 'damaged.jsonl');
    const m = startMaster(['run', path, '--every', '6', '--tasks', 'edge', '--bind', await loopbackEndpoint(), '--out', out, '--progress', 'none', '--metrics-port', '0']);
    expect(await waitExit(m, 100_000), m.stderr()).to.equal(MASTER_EXIT.someFailed);
    const byFrame = new Map(readResults(out).records.map((r) => [r.frame, r]));
    expect([...byFrame.keys()].sort((a, b) => (a ?? 0) - (b ?? 0))).to.deep.equal([0, 6, 12, 18, 24]);
    for (const f of [0, 12]) {
      const r = byFrame.get(f);
      expect(isKindFailure(r?.edge) && r.edge.error.message, `frame ${f}`).to.equal(`frame ${f} could not be decoded (corrupt data in the video); the frames after it were read`);
    }
    for (const f of [6, 18, 24]) expect(byFrame.get(f)?.ok, `frame ${f}`).to.equal(true);
    expect(byFrame.get(18)?.timestampMs).to.equal(1800);
    expect(byFrame.get(12)?.timestampMs, 'a failed frame keeps its time').to.equal(1200);
  });

  it('a damaged stretch longer than a second, or at the start, fails only its own frames: the rest of the video is read', async () => {
    const middle = join(tmp.dir, 'stretch.avi');
    const head = join(tmp.dir, 'head.avi');
    writeClip(middle, 'MJPG', 60);
    writeClip(head, 'MJPG', 40);
    // 40 and 30 frames in a row: reading stopped after 25 failed reads, and the rest of the
    // video (all of it, for the damaged start) was never read.
    damageFrames(middle, 60, (i) => i >= 10 && i < 50);
    damageFrames(head, 40, (i) => i < 30);
    const out = join(tmp.dir, 'stretch.jsonl');
    const m = startMaster(['run', middle, head, '--every', '5', '--tasks', 'edge', '--bind', await loopbackEndpoint(), '--out', out, '--progress', 'none', '--metrics-port', '0']);
    expect(await waitExit(m, 100_000), m.stderr()).to.equal(MASTER_EXIT.someFailed);
    const records = readResults(out).records;
    const outcomes = (source: string): [number | undefined, boolean][] => records.filter((r) => r.source === source).map((r): [number | undefined, boolean] => [r.frame, r.ok]).sort((a, b) => (a[0] ?? 0) - (b[0] ?? 0));
    const expected = (frames: number, damaged: (f: number) => boolean): [number, boolean][] => Array.from({ length: frames / 5 }, (_, k) => [k * 5, !damaged(k * 5)]);
    expect(outcomes(middle)).to.deep.equal(expected(60, (f) => f >= 10 && f < 50));
    expect(outcomes(head)).to.deep.equal(expected(40, (f) => f < 30));
    const failed = records.find((r) => r.source === middle && r.frame === 45);
    expect(isKindFailure(failed?.edge) && failed.edge.error.message).to.equal('frame 45 could not be decoded (corrupt data in the video); the frames after it were read');
  });

  it('a video named with a printf pattern (seq_%04d.avi) that is no video fails as one: the files its pattern names are not read as its frames', async () => {
    const dir = join(tmp.dir, 'pattern');
    mkdirSync(dir);
    const named = join(dir, 'seq_%04d.avi');
    writeFileSync(named, 'not a video\n');
    // OpenCV's image-sequence reader, tried when FFmpeg fails, read these three as its frames.
    for (let i = 0; i < 3; i++) copyFileSync(join(SAMPLE_FACES, '2008_001009.jpg'), join(dir, `seq_000${i}.avi`));
    const out = join(tmp.dir, 'pattern.jsonl');
    const m = startMaster(['run', named, '--every', '1', '--tasks', 'edge', '--bind', await loopbackEndpoint(), '--out', out, '--progress', 'none', '--metrics-port', '0']);
    expect(await waitExit(m, 100_000), m.stderr()).to.equal(MASTER_EXIT.someFailed);
    const records = readResults(out).records;
    expect(records.map((r) => [r.source, r.frame, r.ok])).to.deep.equal([[named, undefined, false]]);
    const only = records[0];
    expect(isKindFailure(only?.edge) && only.edge.error.message).to.match(/video could not be opened/);
  });

  it('logs what a reader writes on stderr about a damaged video as a log line of the master naming it (JSON under --log-json), and not at all under --log-level error', async () => {
    const path = join(tmp.dir, 'header.avi');
    writeClip(path, 'MJPG', 5);
    // The AVI header after "RIFF....AVI " overwritten: FFmpeg's AVI demuxer complains
    // ("Something went wrong during header parsing, tag [27][27][27][27] ..."), shown at debug.
    const bytes = readFileSync(path);
    bytes.fill(0x1b, 12, 2000);
    writeFileSync(path, bytes);
    const args = ['run', path, '--tasks', 'edge', '--bind', await loopbackEndpoint(), '--out', join(tmp.dir, 'header.jsonl'), '--overwrite', '--progress', 'none', '--metrics-port', '0'];
    const m = startMaster([...args, '--log-json', '--log-level', 'debug']);
    expect(await waitExit(m, 100_000), m.stderr()).to.equal(MASTER_EXIT.someFailed);
    const lines = m.stderr().split('\n').filter((l) => l.length > 0);
    expect(lines.every((l) => l.startsWith('{')), 'every stderr line is a JSON record').to.equal(true);
    const messages = lines.map((l) => (JSON.parse(l) as { msg: string }).msg);
    expect(messages.some((t) => t.startsWith(`video reader (${path}): [avi @ 0x`) && t.includes('header parsing')), messages.join('\n')).to.equal(true);
    expect(m.stderr()).to.not.include('\u001b');
    const quiet = startMaster([...args, '--log-level', 'error']);
    expect(await waitExit(quiet, 100_000), quiet.stderr()).to.equal(MASTER_EXIT.someFailed);
    expect(quiet.stderr()).to.not.include('header parsing');
  });

  it('gives a variable-rate video\'s frames their presentation times: a 10 s gap of a motion-triggered recording is in them', async () => {
    const path = join(tmp.dir, 'motion.mp4');
    writeVariableRateMp4(path);
    const out = join(tmp.dir, 'motion.jsonl');
    const m = startMaster(['run', path, '--every', '1', '--tasks', 'edge', '--bind', await loopbackEndpoint(), '--out', out, '--progress', 'none', '--metrics-port', '0']);
    expect(await waitExit(m, 100_000), m.stderr()).to.equal(0);
    const records = readResults(out).records.sort((a, b) => (a.frame ?? 0) - (b.frame ?? 0));
    // By frame / average rate (12 frames in 11.1 s) frame 6 was at 5550 ms.
    expect(records.map((r) => [r.frame, r.timestampMs])).to.deep.equal([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11].map((f) => [f, f <= 5 ? 100 * f : 10_000 + 100 * (f - 1)]));
  });

  it('reads MPEG-TS (.ts) in a folder, with timestamps from the stream (its 90 kHz time base is no frame rate) and no false "ended early"', async () => {
    const dir = join(tmp.dir, 'ts');
    mkdirSync(dir);
    writeClip(join(dir, 'cam.ts'), 'mp4v', 12);
    const out = join(tmp.dir, 'ts.jsonl');
    const m = startMaster(['run', dir, '--every', '5', '--tasks', 'edge', '--bind', await loopbackEndpoint(), '--out', out, '--progress', 'none', '--metrics-port', '0']);
    expect(await waitExit(m, 100_000), m.stderr()).to.equal(0);
    const records = readResults(out).records.sort((a, b) => (a.frame ?? 0) - (b.frame ?? 0));
    expect(records.map((r) => [r.frame, r.timestampMs, r.ok])).to.deep.equal([[0, 0, true], [5, 500, true], [10, 1000, true]]);
    // Named on the command line with an extension that says nothing: told apart by content.
    const clip = join(tmp.dir, 'clip.dat');
    const photo = join(tmp.dir, 'photo.dat');
    copyFileSync(join(dir, 'cam.ts'), clip);
    copyFileSync(join(SAMPLE_FACES, '2008_001009.jpg'), photo);
    const named = join(tmp.dir, 'named.jsonl');
    const n = startMaster(['run', clip, photo, '--every', '5', '--tasks', 'edge', '--bind', await loopbackEndpoint(), '--out', named, '--progress', 'none', '--metrics-port', '0']);
    expect(await waitExit(n, 100_000), n.stderr()).to.equal(0);
    const sources = readResults(named).records.map((r) => `${r.source === clip ? 'clip' : 'photo'}#${r.frame ?? '-'}`).sort();
    expect(sources).to.deep.equal(['clip#0', 'clip#10', 'clip#5', 'photo#-']);
  });

  it('sends no image over a slave\'s announced pixel limit: it waits for a slave that takes it, uses no attempt, and fails once no connected slave takes it', async () => {
    // The sample photos are 500x375 (187,500 px) or so; allow 100,000.
    const pi = ['--threads', '1', '--max-image-pixels', '100000', '--slave-id', 'pi', '--log-level', 'warn'];
    const alone = await loopbackEndpoint();
    const out = join(tmp.dir, 'r.jsonl');
    const m = startMaster(['run', SAMPLE_FACES, '--tasks', 'edge', '--bind', alone, '--local-slaves', '0', '--out', out, '--progress', 'none', '--max-attempts', '2']);
    const piAlone = startSlave(['--connect', alone, ...pi]);
    expect(await waitExit(m, 100_000), m.stderr()).to.equal(MASTER_EXIT.someFailed);
    expect(m.stderr()).to.include('3 image(s) are over the limits of every connected slave (--max-image-pixels, --max-image-bytes): their tasks fail');
    // Not sent at all (its READY says its limit): a refused image crossed the wire for nothing.
    expect(readReport(`${out}.report.json`).imageBytesSent).to.equal(0);
    expect(piAlone.stderr()).to.not.include('over this slave\'s image limits');
    const records = readResults(out).records;
    expect(records).to.have.length(3);
    for (const r of records) {
      expect(isKindFailure(r.edge) && r.edge.error.message).to.match(/^image is \d+x\d+ px, over the --max-image-pixels of every connected slave \(pi 100000\)$/);
      expect(isKindFailure(r.edge) && r.edge.error.name).to.equal('ImageTooLargeError');
      // Over the limits of the slaves connected then, not of every slave.
      expect(isKindFailure(r.edge) && r.edge.error.retryable).to.equal(true);
    }
    // So a --resume with a slave that takes them runs them (QA: "would fail again", for good).
    const resumed = startMaster(['run', SAMPLE_FACES, '--tasks', 'edge', '--bind', await loopbackEndpoint(), '--local-threads', '1', '--out', out, '--progress', 'none', '--resume']);
    expect(await waitExit(resumed, 100_000), resumed.stderr()).to.equal(MASTER_EXIT.ok);
    expect(readResults(out).records.map((r) => r.ok)).to.deep.equal([true, true, true]);

    // With one attempt: each image waits while only the Pi is there, and the PC that joins runs it.
    const both = await loopbackEndpoint();
    const out2 = join(tmp.dir, 'r2.jsonl');
    const m2 = startMaster(['run', SAMPLE_FACES, '--tasks', 'edge', '--bind', both, '--local-slaves', '0', '--out', out2, '--progress', 'none', '--max-attempts', '1']);
    startSlave(['--connect', both, ...pi]);
    await waitFor(() => m2.stderr().includes('slave pi joined'), 60_000, 'the pi to join');
    startSlave(['--connect', both, '--threads', '1', '--slave-id', 'pc', '--log-level', 'warn']);
    expect(await waitExit(m2, 100_000), m2.stderr()).to.equal(MASTER_EXIT.ok);
    const done = readResults(out2).records;
    expect(done.map((r) => [r.ok, r.edge?.slave, r.edge?.attempts]), m2.stderr()).to.deep.equal([0, 1, 2].map(() => [true, 'pc', 1]));
    const report = readReport(`${out2}.report.json`);
    expect([report.retries, report.slaves.find((x) => x.slaveId === 'pi')?.tasks, report.imageBytesSent], 'nothing sent to the pi').to.deep.equal([0, 0, report.imageBytesRead]);
  });

  it('sends no image larger than a slave\'s --max-message-bytes to it: with no slave that takes it the image fails, saying why, and the rest is done', async () => {
    const dir = join(tmp.dir, 'big');
    mkdirSync(dir);
    // Noise does not compress: a 1000x1000 PNG of it is about 3 MB, over the slave's 1 MiB.
    const noise = randomBytes(1000 * 1000 * 3);
    writeFileSync(join(dir, 'noise.png'), cv.imencode('.png', new cv.Mat(noise, 1000, 1000, cv.CV_8UC3)));
    copyFileSync(join(SAMPLE_FACES, '2008_001009.jpg'), join(dir, 'person.jpg'));
    const endpoint = await loopbackEndpoint();
    const out = join(tmp.dir, 'mm.jsonl');
    const m = startMaster(['run', dir, '--tasks', 'edge', '--bind', endpoint, '--local-slaves', '0', '--out', out, '--progress', 'none']);
    // Sent anyway, ZeroMQ dropped the slave's connection for it, again and again: the batch never ended.
    const s = startSlave(['--connect', endpoint, '--threads', '1', '--max-message-bytes', '1048576', '--log-level', 'warn']);
    try {
      expect(await waitExit(m, 100_000), m.stderr().slice(-3000)).to.equal(MASTER_EXIT.someFailed);
    } finally {
      await killTree(s);
    }
    const bySource = new Map(readResults(out).records.map((r) => [r.source.replace(/^.*\//, ''), r]));
    const big = bySource.get('noise.png')?.edge;
    expect(isKindFailure(big) && big.error.message).to.match(/^image is \d+ bytes, over what every connected slave accepts in a message \(--max-message-bytes: \S+ 1048576\)$/);
    expect(isKindFailure(big) && big.attempts, 'never sent').to.equal(0);
    expect(bySource.get('person.jpg')?.ok).to.equal(true);
    expect(readReport(`${out}.report.json`).slavesLost, 'the slave was never cut off').to.equal(0);
    expect(m.stderr()).to.match(/1 image\(s\) are larger than any connected slave accepts in a message \(--max-message-bytes: \S+ 1048576\): their tasks fail/);
  });
});
