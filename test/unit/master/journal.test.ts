import { expect } from 'chai';
import { chmodSync, linkSync, lstatSync, readdirSync, readFileSync, readlinkSync, realpathSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Journal, readJournal, settingsChanges, type BatchHeader } from '../../../master/journal.js';
import { useTempDir } from '../../helpers/fixtures.js';

const header: BatchHeader = { type: 'batch', tool: 'cctv-cluster', protocol: 2, startedAt: '2026-11-21T00:00:00.000Z', settings: { tasks: ['edge'] }, cwd: '/archive' };
const record = (n: number) => ({ type: 'image' as const, source: `img${n}.jpg`, ok: true });
/** Descriptors of this process open on `path` (only those: other tests' children and sockets open and close their own meanwhile). */
const fdsOn = (path: string): number => {
  const target = realpathSync(path);
  return readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`) === target;
    } catch {
      return false; // closed since the listing (the listing's own descriptor among them)
    }
  }).length;
};
const nextTurn = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('Journal (the results file)', () => {
  const tmp = useTempDir();

  it('writes records at the end of the turn, syncs off the main thread, and closes safely with a sync in flight', async () => {
    const path = join(tmp.dir, 'results.jsonl');
    // syncMs 0: every write-out starts a background fdatasync.
    const { journal } = await Journal.open(path, header, { resume: false, overwrite: false }, 60_000, 0);
    expect(fdsOn(path), 'the results file is open').to.equal(1);
    for (let i = 0; i < 3; i++) journal.append(record(i));
    expect(readFileSync(path, 'utf8').trim().split('\n')).to.have.length(1);
    await nextTurn();
    expect(readFileSync(path, 'utf8').trim().split('\n')).to.have.length(4);
    for (let i = 3; i < 5; i++) journal.append(record(i));
    await nextTurn(); // a second write-out while the first sync may still run
    journal.append(record(5));
    journal.close(); // syncs in place; the descriptor waits for any background sync
    const { done, previous } = await readJournal(path);
    expect(previous).to.deep.equal(header);
    // Keyed by absolute path: the relative sources resolved against the header's cwd.
    expect([...done].sort()).to.deep.equal([0, 1, 2, 3, 4, 5].map((i) => `/archive/img${i}.jpg`));
    // A background fdatasync took ~190 ms on this VM, longer under load: wait up to 5 s.
    for (let i = 0; i < 500 && fdsOn(path) > 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(fdsOn(path), 'the results file descriptor is closed').to.equal(0);
  });

  it('on resume skips a line that is not a record between records and keeps the records after it; cuts what follows the last record', async () => {
    const path = join(tmp.dir, 'edited.jsonl');
    const lines = [header, record(0), record(1)].map((o) => JSON.stringify(o));
    // A blank line, a line cut short by an edit, more records, then a torn last line.
    // And JSON that is no record (`null` stopped the resume with a TypeError).
    const text = `${[...lines, '', '{"type":"image","sour', 'null', JSON.stringify(record(2)), JSON.stringify(record(3))].join('\n')}\n{"type":"ima`;
    writeFileSync(path, text);
    const { done, badLines, badLineCount, cutBytes } = await Journal.open(path, header, { resume: true, overwrite: false }).then(({ journal, ...rest }) => {
      journal.close();
      return rest;
    });
    expect([...done].sort()).to.deep.equal([0, 1, 2, 3].map((i) => `/archive/img${i}.jpg`));
    expect(badLines).to.deep.equal([5, 6]);
    expect(badLineCount).to.equal(2);
    expect(cutBytes, 'the torn last line').to.equal('{"type":"ima'.length);
    // The torn line is cut; the skipped one stays (the file is the user's).
    expect(readFileSync(path, 'utf8')).to.equal(`${[...lines, '', '{"type":"image","sour', 'null', JSON.stringify(record(2)), JSON.stringify(record(3))].join('\n')}\n`);
  });

  it('on resume runs again an image whose failures may pass, and keeps one that would fail again; its new record replaces the old one on close', async () => {
    const path = join(tmp.dir, 'retry.jsonl');
    const failed = (n: number, error: Record<string, unknown>) => ({ type: 'image', source: `img${n}.jpg`, ok: false, edge: { error, attempts: 3 } });
    const lines = [
      header,
      record(0),
      failed(1, { name: 'WorkerCrashError', message: 'worker process died (signal SIGKILL)', retryable: true }),
      failed(2, { name: 'DecodeError', message: 'JPEG is corrupt or truncated', retryable: false }),
      // Written before failures carried `retryable`: judged by the error's name.
      failed(3, { name: 'LeaseExpiredError', message: 'lease ran out' }),
      failed(4, { name: 'InputError', message: 'image file is empty (0 bytes)' }),
    ];
    writeFileSync(path, `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
    const opened = await Journal.open(path, header, { resume: true, overwrite: false });
    expect([...opened.done].sort()).to.deep.equal(['/archive/img0.jpg', '/archive/img2.jpg', '/archive/img4.jpg']);
    expect([...opened.retry].sort()).to.deep.equal(['/archive/img1.jpg', '/archive/img3.jpg']);
    expect(opened.failedBefore).to.equal(2);
    // img1 run again; img3 not (its input left out of this run): its record stays.
    opened.journal.append({ type: 'image', source: '/archive/img1.jpg', ok: true }, '/archive/img1.jpg');
    opened.journal.close();
    expect(await opened.journal.compact()).to.equal(1);
    const after = readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { source?: string; ok?: boolean });
    expect(after.map((r) => [r.source, r.ok])).to.deep.equal([[undefined, undefined], ['img0.jpg', true], ['img2.jpg', false], ['img3.jpg', false], ['img4.jpg', false], ['/archive/img1.jpg', true]]);
    expect(readdirSync(tmp.dir).filter((f) => f.endsWith('.tmp'))).to.deep.equal([]);
  });

  it('on resume lists the kinds of an image run again that ran out of time or crashed their worker (one attempt each), by its last record', async () => {
    const path = join(tmp.dir, 'last-chance.jsonl');
    const timeout = { error: { name: 'TaskTimeoutError', message: 'task timeout of 1500 ms', retryable: true }, attempts: 3 };
    const crash = { error: { name: 'WorkerCrashError', message: 'worker process died', retryable: true }, attempts: 3 };
    const lease = { error: { name: 'LeaseExpiredError', message: 'lease on slave a ran out after 120000 ms', retryable: true }, attempts: 3 };
    const lost = { error: { name: 'SlaveLostError', message: 'slave lost', retryable: true }, attempts: 1 };
    const ok = { edgePixels: 5, density: 0.05, computeMs: 1, slave: 'a', attempts: 1 };
    const lines = [
      header,
      { type: 'image', source: 'img1.jpg', ok: false, edge: timeout, face: crash, corner: ok, object: lease },
      // Its slave was lost: the image is not to blame, full attempts.
      { type: 'image', source: 'img2.jpg', ok: false, edge: lost },
      // Timed out, then passed on a resume: its last record is ok.
      { type: 'image', source: 'img3.jpg', ok: false, edge: timeout },
      { type: 'image', source: 'img3.jpg', ok: true, edge: ok },
      // A timeout beside a decode error: the image would fail again, not run again.
      { type: 'image', source: 'img4.jpg', ok: false, edge: timeout, face: { error: { name: 'DecodeError', message: 'corrupt', retryable: false }, attempts: 1 } },
    ];
    writeFileSync(path, `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
    const read = await readJournal(path);
    expect([...read.retry].sort()).to.deep.equal(['/archive/img1.jpg', '/archive/img2.jpg']);
    expect([...read.lastChance]).to.deep.equal([['/archive/img1.jpg', ['edge', 'face', 'object']]]);
  });

  it('reads an image recorded twice (a master killed before compacting) by its last record, and compacts on the next close', async () => {
    const path = join(tmp.dir, 'twice.jsonl');
    const crashed = { type: 'image', source: 'img1.jpg', ok: false, edge: { error: { name: 'WorkerCrashError', message: 'x', retryable: true }, attempts: 3 } };
    // Frames of one video are images of their own, also one whose frame comes late in its line (edited by hand).
    const frames = [
      { type: 'image', source: 'cam.avi', ok: true, frame: 0 },
      { type: 'image', source: 'cam.avi', ok: true, frame: 5, timestampMs: 500 },
      { type: 'image', source: 'cam.avi', ok: false, edge: { error: { name: 'DecodeError', message: 'x', retryable: false }, attempts: 1 }, frame: 10 },
      { type: 'image', source: 'cam.avi', ok: true, edge: { edgePixels: 1, density: 0 }, frame: 15 },
    ];
    writeFileSync(path, `${[header, crashed, ...frames, record(2), record(1)].map((l) => JSON.stringify(l)).join('\n')}\n`);
    const read = await readJournal(path);
    expect({ done: [...read.done].sort(), retry: [...read.retry], failed: read.failed, duplicates: read.duplicates }).to.deep.equal({ done: ['/archive/cam.avi#0', '/archive/cam.avi#10', '/archive/cam.avi#15', '/archive/cam.avi#5', '/archive/img1.jpg', '/archive/img2.jpg'], retry: [], failed: 1, duplicates: true });
    const opened = await Journal.open(path, header, { resume: true, overwrite: false });
    opened.journal.close();
    expect(await opened.journal.compact()).to.equal(1);
    expect(readFileSync(path, 'utf8').trim().split('\n').map((l) => { const r = JSON.parse(l) as { source?: string; frame?: number }; return `${r.source ?? 'header'}${r.frame === undefined ? '' : `#${r.frame}`}`; })).to.deep.equal(['header', 'cam.avi#0', 'cam.avi#5', 'cam.avi#10', 'cam.avi#15', 'img2.jpg', 'img1.jpg']);
  });

  it('drops a video\'s failure before its first frame (its reader killed) once its frames are recorded, in this run or an earlier one', async () => {
    const path = join(tmp.dir, 'video.jsonl');
    const killed = { type: 'image', source: 'cam.avi', ok: false, edge: { error: { name: 'InputError', message: 'the video reader process was killed (SIGKILL); no frame was read', retryable: true }, attempts: 0 } };
    const other = { type: 'image', source: 'cam2.avi', ok: false, edge: { error: { name: 'InputError', message: 'killed too', retryable: true }, attempts: 0 } };
    writeFileSync(path, `${[header, killed, other].map((l) => JSON.stringify(l)).join('\n')}\n`);
    const opened = await Journal.open(path, header, { resume: true, overwrite: false });
    expect([...opened.retry].sort()).to.deep.equal(['/archive/cam.avi', '/archive/cam2.avi']);
    opened.journal.append({ type: 'image', source: 'cam.avi', ok: true, frame: 0 }, '/archive/cam.avi#0');
    opened.journal.append({ type: 'image', source: 'cam.avi', ok: true, frame: 5 }, '/archive/cam.avi#5');
    // cam2.avi was not read again (not named in this run): its failed record stands, and counts.
    expect(opened.journal.replacesLeft).to.equal(1);
    opened.journal.close();
    expect(await opened.journal.compact()).to.equal(1);
    const sources = (): string[] => readFileSync(path, 'utf8').trim().split('\n').slice(1).map((l) => { const r = JSON.parse(l) as { source: string; frame?: number }; return `${r.source}${r.frame === undefined ? '' : `#${r.frame}`}`; });
    expect(sources()).to.deep.equal(['cam2.avi', 'cam.avi#0', 'cam.avi#5']);
    // The same file as a master killed before compacting left it: read, the failure is superseded.
    writeFileSync(path, `${[header, killed, { type: 'image', source: 'cam.avi', ok: true, frame: 0 }].map((l) => JSON.stringify(l)).join('\n')}\n`);
    const again = await Journal.open(path, header, { resume: true, overwrite: false });
    expect({ retry: [...again.retry], done: [...again.done] }).to.deep.equal({ retry: [], done: ['/archive/cam.avi#0'] });
    again.journal.close();
    expect(await again.journal.compact()).to.equal(1);
    expect(sources()).to.deep.equal(['cam.avi#0']);
  });

  it('reads each video\'s last finished-video record by absolute path, ignores a damaged one, and keeps them through a compaction', async () => {
    const path = join(tmp.dir, 'finished.jsonl');
    const video = (source: string, frames: number, size: number) => ({ type: 'video' as const, source, frames, size, mtimeMs: 1_700_000_000_123.5 });
    const frame = (n: number) => ({ type: 'image', source: 'cam.avi', ok: true, frame: n });
    const crashed = { type: 'image', source: 'img1.jpg', ok: false, edge: { error: { name: 'WorkerCrashError', message: 'x', retryable: true }, attempts: 3 } };
    const lines = [header, frame(0), frame(5), video('cam.avi', 2, 1000), video('/elsewhere/b.avi', 3, 7), { type: 'video', source: 'c.avi', frames: 0, size: 1, mtimeMs: 1 }, { type: 'video', source: 'd.avi' }, video('cam.avi', 2, 2000), crashed, record(1)];
    writeFileSync(path, `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
    const read = await readJournal(path);
    expect([...read.videos]).to.deep.equal([
      ['/archive/cam.avi', video('cam.avi', 2, 2000)],
      ['/elsewhere/b.avi', video('/elsewhere/b.avi', 3, 7)],
    ]);
    expect([...read.done].sort(), 'video lines are not images').to.deep.equal(['/archive/cam.avi#0', '/archive/cam.avi#5', '/archive/img1.jpg']);
    const opened = await Journal.open(path, header, { resume: true, overwrite: false });
    expect(opened.videos.get('/archive/cam.avi')?.size).to.equal(2000);
    opened.journal.close();
    expect(await opened.journal.compact(), 'the crashed image\'s earlier record').to.equal(1);
    expect((await readJournal(path)).videos.size, 'video lines stay').to.equal(2);
  });

  it('counts only image records as persisted, with finished-video lines written among them', async () => {
    const path = join(tmp.dir, 'persisted.jsonl');
    const { journal } = await Journal.open(path, header, { resume: false, overwrite: false });
    journal.append({ type: 'image', source: 'cam.avi', ok: true, frame: 0 });
    journal.appendVideo({ type: 'video', source: 'cam.avi', frames: 1, size: 10, mtimeMs: 5 });
    journal.append(record(1));
    await nextTurn();
    expect({ written: journal.written, persisted: journal.persisted }).to.deep.equal({ written: 2, persisted: 2 });
    journal.close();
    expect(readFileSync(path, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { type: string }).type)).to.deep.equal(['batch', 'image', 'video', 'image']);
  });

  it('compacts the file a link to it names, keeping its mode, and removes copies a killed compaction left', async () => {
    const real = join(tmp.dir, 'store.jsonl');
    const link = join(tmp.dir, 'link.jsonl');
    const crashed = { type: 'image', source: 'img1.jpg', ok: false, edge: { error: { name: 'WorkerCrashError', message: 'x', retryable: true }, attempts: 3 } };
    writeFileSync(real, `${[header, crashed, record(2)].map((l) => JSON.stringify(l)).join('\n')}\n`, { mode: 0o600 });
    chmodSync(real, 0o600);
    symlinkSync(real, link);
    writeFileSync(`${real}.99999999.tmp`, 'half a compaction');
    const opened = await Journal.open(link, header, { resume: true, overwrite: false });
    // The lock is the real file's, which every name of it finds.
    expect(readdirSync(tmp.dir).sort()).to.deep.equal(['link.jsonl', 'store.jsonl', 'store.jsonl.lock']);
    opened.journal.append({ type: 'image', source: 'img1.jpg', ok: true }, '/archive/img1.jpg');
    opened.journal.close();
    expect(await opened.journal.compact()).to.equal(1);
    expect(lstatSync(link).isSymbolicLink()).to.equal(true);
    expect(statSync(real).mode & 0o777).to.equal(0o600);
    expect(readFileSync(real, 'utf8').trim().split('\n')).to.have.length(3);
    expect(readdirSync(tmp.dir).sort()).to.deep.equal(['link.jsonl', 'store.jsonl']);
  });

  it('leaves a file with a second hard link as it is, both records in it, rather than part the names', async () => {
    const path = join(tmp.dir, 'linked.jsonl');
    const crashed = { type: 'image', source: 'img1.jpg', ok: false, edge: { error: { name: 'WorkerCrashError', message: 'x', retryable: true }, attempts: 3 } };
    writeFileSync(path, `${[header, crashed].map((l) => JSON.stringify(l)).join('\n')}\n`);
    linkSync(path, join(tmp.dir, 'backup.jsonl'));
    const opened = await Journal.open(path, header, { resume: true, overwrite: false });
    opened.journal.append({ type: 'image', source: 'img1.jpg', ok: true }, '/archive/img1.jpg');
    opened.journal.close();
    let error: unknown;
    await opened.journal.compact().catch((err: unknown) => (error = err));
    expect((error as Error | undefined)?.message).to.equal("it has 2 hard links, which a new file renamed over one name would part (the others would keep the old records); each image's last record is its result");
    expect(statSync(path).nlink).to.equal(2);
    expect(readFileSync(join(tmp.dir, 'backup.jsonl'), 'utf8').trim().split('\n')).to.have.length(3);
    expect([...(await readJournal(path)).done]).to.deep.equal(['/archive/img1.jpg']);
    expect(readdirSync(tmp.dir).sort()).to.deep.equal(['backup.jsonl', 'linked.jsonl']);
  });

  it('resumes a file with CRLF line ends (edited on Windows) without cutting a record, and cuts only a torn last line', async () => {
    const path = join(tmp.dir, 'crlf.jsonl');
    const text = `${[header, record(0), record(1), record(2)].map((l) => JSON.stringify(l)).join('\r\n')}\r\n{"type":"ima`;
    writeFileSync(path, text);
    const opened = await Journal.open(path, header, { resume: true, overwrite: false });
    expect([...opened.done].sort()).to.deep.equal(['/archive/img0.jpg', '/archive/img1.jpg', '/archive/img2.jpg']);
    expect(opened.cutBytes).to.equal('{"type":"ima'.length);
    opened.journal.append(record(3));
    opened.journal.close();
    expect(readFileSync(path, 'utf8')).to.equal(`${text.slice(0, -'{"type":"ima'.length)}${JSON.stringify(record(3))}\n`);
    expect((await readJournal(path)).done.size).to.equal(4);
  });

  it('names each setting that differs from the results file, and ignores the order of the task kinds', async () => {
    const before = { tasks: ['edge', 'corner'], every: 5, detectors: { face: { minNeighbors: 3, scaleFactor: 1.1 } } };
    expect(settingsChanges(before, { tasks: ['corner', 'edge'], every: 5, detectors: { face: { minNeighbors: 3, scaleFactor: 1.1 } } })).to.deep.equal([]);
    expect(settingsChanges(before, { tasks: ['edge'], every: 7, detectors: { face: { minNeighbors: 4, scaleFactor: 1.1 } } })).to.deep.equal([
      // As given (not sorted), under the flags' names.
      '--tasks: ["edge","corner"] -> ["edge"]',
      '--every: 5 -> 7',
      'detectors.face.minNeighbors: 3 -> 4',
    ]);
    expect(settingsChanges({ every: 5 }, { every: 5, frameFormat: 'jpg' })).to.deep.equal(['--frame-format: unset -> "jpg"']);
    // The JPEG quality of frames sent as PNG is not used: no change (a resume was refused over it).
    expect(settingsChanges({ frameFormat: 'png', jpegQuality: 50 }, { frameFormat: 'png', jpegQuality: 90 })).to.deep.equal([]);
    expect(settingsChanges({ frameFormat: 'jpg', jpegQuality: 50 }, { frameFormat: 'jpg', jpegQuality: 90 })).to.deep.equal(['--jpeg-quality: 50 -> 90']);
    expect(settingsChanges({ frameFormat: 'png', jpegQuality: 50 }, { frameFormat: 'jpg', jpegQuality: 90 })).to.deep.equal(['--frame-format: "png" -> "jpg"', '--jpeg-quality: 50 -> 90']);
    const path = join(tmp.dir, 'r.jsonl');
    (await Journal.open(path, { ...header, settings: before }, { resume: false, overwrite: false })).journal.close();
    let message = '';
    await Journal.open(path, { ...header, settings: { ...before, every: 7 } }, { resume: true, overwrite: false }).catch((e: unknown) => (message = (e as Error).message));
    expect(message).to.match(/was written with other settings: --every: 5 -> 7\. Use the same settings, or --overwrite/);
  });

  it('refuses to resume a file whose batch header is not this tool\'s, saying so rather than listing settings', async () => {
    for (const [name, first] of [['bare', '{"type":"batch"}'], ['other', '{"type":"batch","tool":"other-tool","settings":{"tasks":["edge"]}}']] as const) {
      const path = join(tmp.dir, `${name}.jsonl`);
      writeFileSync(path, `${first}\n`);
      let message = '';
      await Journal.open(path, header, { resume: true, overwrite: false }).catch((e: unknown) => (message = (e as Error).message));
      expect(message, name).to.equal(`--out ${path} is not a cctv-cluster results file (its batch header is not this tool's): name another file, or --overwrite to replace it`);
    }
  });
});

