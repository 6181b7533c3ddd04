import { expect } from 'chai';
import { chmodSync, closeSync, constants as fsConstants, copyFileSync, existsSync, mkdirSync, openSync, statSync, symlinkSync } from 'node:fs';
import { join, relative } from 'node:path';
import { execFileSync } from 'node:child_process';
import { expandInputs } from '../../master/ingest/expand.js';
import { countInputs } from '../../master/ingest/count.js';
import type { IngestItem } from '../../master/ingest/item.js';
import { MASTER_EXIT } from '../../master/master.js';
import { isKindFailure } from '../../master/merge.js';
import { SAMPLE_FACES, readResults, tempDir } from '../helpers/fixtures.js';
import { loopbackEndpoint } from '../helpers/ports.js';
import { startMaster, waitExit } from '../helpers/processes.js';

const PHOTO = join(SAMPLE_FACES, '2008_001009.jpg');
/** `nobody`: root reads any folder, so the unreadable-folder test drops to this user when run as root. */
const NOBODY = 65534;

/** Sources of the items `inputs` expand to (relative to `cwd`), and the warnings given. */
async function expand(inputs: string[], cwd: string): Promise<{ sources: string[]; items: IngestItem[]; warnings: string[]; infos: string[] }> {
  const warnings: string[] = [];
  const infos: string[] = [];
  const items: IngestItem[] = [];
  const was = process.cwd();
  process.chdir(cwd);
  try {
    for await (const item of expandInputs(inputs, { every: 1000, encoding: { format: 'jpg', jpegQuality: 90 }, maxImageBytes: 1e8, warn: (m) => warnings.push(m), info: (m) => infos.push(m) })) items.push(item);
  } finally {
    process.chdir(was);
  }
  return { sources: items.map((i) => i.source), items, warnings, infos };
}

describe('inputs: globs, links, duplicates and unreadable folders', function () {
  this.timeout(120_000);
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => {
    tmp = tempDir();
  });
  afterEach(() => {
    tmp.cleanup();
  });

  it('takes an existing file literally even when its name looks like a glob; a pattern that names no file is a glob', async () => {
    mkdirSync(join(tmp.dir, 'gl'));
    for (const name of ['a{b,c}.jpg', 'ab.jpg', 'img[1].jpg', 'img1.jpg']) copyFileSync(PHOTO, join(tmp.dir, 'gl', name));
    expect((await expand(['gl/a{b,c}.jpg'], tmp.dir)).sources).to.deep.equal(['gl/a{b,c}.jpg']);
    expect((await expand(['gl/img[1].jpg'], tmp.dir)).sources).to.deep.equal(['gl/img[1].jpg']);
    expect((await expand(['gl/a*.jpg'], tmp.dir)).sources.sort()).to.deep.equal(['gl/ab.jpg', 'gl/a{b,c}.jpg']);
  });

  it('searches the folders a glob matches, each file once', async () => {
    mkdirSync(join(tmp.dir, 'cams', 'cam1'), { recursive: true });
    mkdirSync(join(tmp.dir, 'cams', 'cam2', 'day1'), { recursive: true });
    copyFileSync(PHOTO, join(tmp.dir, 'cams', 'top.jpg'));
    copyFileSync(PHOTO, join(tmp.dir, 'cams', 'cam1', 'a.jpg'));
    copyFileSync(PHOTO, join(tmp.dir, 'cams', 'cam2', 'day1', 'b.jpg'));
    const all = ['cams/cam1/a.jpg', 'cams/cam2/day1/b.jpg', 'cams/top.jpg'];
    expect((await expand(['cams/*'], tmp.dir)).sources.sort()).to.deep.equal(all);
    // A globstar matches the folders and the files in them: still each file once, in silence.
    const star = await expand(['cams/**/*'], tmp.dir);
    expect(star.sources.sort()).to.deep.equal(all);
    expect(star.warnings).to.deep.equal([]);
    expect((await expand(['cams/cam*'], tmp.dir)).sources.sort()).to.deep.equal(['cams/cam1/a.jpg', 'cams/cam2/day1/b.jpg']);
  });

  it('shows a name that reads like an escaped byte (caf\\xe9.jpg typed literally) the same way whether walked, globbed or named', async () => {
    mkdirSync(join(tmp.dir, 'lk'));
    copyFileSync(PHOTO, Buffer.from(join(tmp.dir, 'lk', 'caf\xe9.jpg'), 'latin1'));
    copyFileSync(PHOTO, join(tmp.dir, 'lk', 'caf\\xe9.jpg'));
    const latin1 = 'lk/caf\\xe9.jpg';
    const literal = 'lk/caf\\x5cxe9.jpg';
    expect((await expand(['lk'], tmp.dir)).sources.sort()).to.deep.equal([literal, latin1]);
    // Named or globbed, the literal one kept its text and took the Latin-1 one's source:
    // the Latin-1 file was then never processed ("named by more than one input").
    const named = await expand(['lk/caf\\xe9.jpg', 'lk'], tmp.dir);
    expect(named.sources.sort()).to.deep.equal([literal, latin1]);
    expect(named.warnings).to.deep.equal(['1 file(s) named by more than one input (or through a link to a folder) were processed once']);
    expect((await expand(['lk/caf*.jpg'], tmp.dir)).sources.filter((s) => !s.includes('\ufffd'))).to.deep.equal([literal]);
    // Read by its own name: the bytes of the photo, not a failure.
    const item = named.items.find((i) => i.source === literal);
    const was = process.cwd();
    process.chdir(tmp.dir);
    try {
      expect((await item?.load())?.length).to.equal(statSync(PHOTO).size);
    } finally {
      process.chdir(was);
    }
  });

  it('says how many files a folder walk or a glob left out for their extension, naming some; a file named on its own is read', async () => {
    mkdirSync(join(tmp.dir, 'cam', 'day1'), { recursive: true });
    copyFileSync(PHOTO, join(tmp.dir, 'cam', 'a.jpg'));
    // An OpenCV-readable image whose extension a walk leaves out, and two files of other programs.
    copyFileSync(PHOTO, join(tmp.dir, 'cam', 'b.exr'));
    copyFileSync(PHOTO, join(tmp.dir, 'cam', 'day1', 'index.idx'));
    copyFileSync(PHOTO, join(tmp.dir, 'cam', 'day1', 'notes.txt'));
    copyFileSync(PHOTO, join(tmp.dir, 'cam', 'day1', 'z.txt'));
    const walked = await expand(['cam'], tmp.dir);
    expect(walked.sources).to.deep.equal(['cam/a.jpg']);
    expect(walked.warnings).to.deep.equal([]);
    expect(walked.infos).to.have.length(1);
    expect(walked.infos[0]).to.match(/^input cam: 4 file\(s\) left out, their extensions not an image's or a video's \(cam\/\S+, cam\/\S+, cam\/\S+, \.\.\.\); a file named as an input of its own is read whatever its extension$/);
    const globbed = await expand(['cam/*'], tmp.dir);
    expect(globbed.sources).to.deep.equal(['cam/a.jpg']);
    expect(globbed.infos[0]).to.match(/^input cam\/\*: 4 file\(s\) left out/);
    expect((await expand(['cam/*.jpg'], tmp.dir)).infos, 'a pattern that names only images leaves nothing out').to.deep.equal([]);
    const named = await expand(['cam/b.exr'], tmp.dir);
    expect([named.sources, named.infos]).to.deep.equal([['cam/b.exr'], []]);
  });

  it('does not follow a link back up the tree, in a glob or a folder walk, but takes links to files', async () => {
    mkdirSync(join(tmp.dir, 'cam'));
    copyFileSync(PHOTO, join(tmp.dir, 'cam', 'x.jpg'));
    symlinkSync('../cam', join(tmp.dir, 'cam', 'loop'));
    symlinkSync('x.jpg', join(tmp.dir, 'cam', 'y.jpg'));
    expect((await expand(['cam/**/*.jpg'], tmp.dir)).sources.sort()).to.deep.equal(['cam/x.jpg', 'cam/y.jpg']);
    const walked = await expand(['cam'], tmp.dir);
    expect(walked.sources.sort()).to.deep.equal(['cam/x.jpg', 'cam/y.jpg']);
    expect(walked.warnings).to.deep.equal(['input cam: 1 link(s) to folders not followed (cam/loop); name a linked folder as an input of its own to include it']);
    // A glob says so too (it skipped them in silence).
    expect((await expand(['cam/*'], tmp.dir)).warnings).to.deep.equal(['input cam/*: 1 link(s) to folders not followed (cam/loop); name a linked folder as an input of its own to include it']);
    const was = process.cwd();
    process.chdir(tmp.dir);
    try {
      expect(await countInputs(['cam/**/*.jpg', 'cam'], 1), 'each file once').to.deep.equal({ items: 2, exact: true });
    } finally {
      process.chdir(was);
    }
  });

  it('processes a file named by several inputs once, and says so', async () => {
    mkdirSync(join(tmp.dir, 'cam', 'a'), { recursive: true });
    copyFileSync(PHOTO, join(tmp.dir, 'cam', 'a', '1.jpg'));
    copyFileSync(PHOTO, join(tmp.dir, 'cam', '2.jpg'));
    // A link to the folder, named too: its files were processed again under its name.
    symlinkSync('cam', join(tmp.dir, 'cam-link'));
    const r = await expand(['cam/2.jpg', './cam/2.jpg', join(tmp.dir, 'cam/2.jpg'), 'cam', 'cam/a/1.jpg', 'cam-link', 'cam-link/a/1.jpg'], tmp.dir);
    expect(r.sources.sort()).to.deep.equal(['cam/2.jpg', 'cam/a/1.jpg']);
    expect(r.warnings).to.deep.equal(['2 file(s) named by more than one input (or through a link to a folder) were processed once']);
  });

  it('warns about an input that holds no image, and fails a pipe named .jpg as not a regular file', async () => {
    mkdirSync(join(tmp.dir, 'empty'));
    copyFileSync(PHOTO, join(tmp.dir, 'photo.jpg'));
    execFileSync('mkfifo', [join(tmp.dir, 'pipe.jpg')]);
    const r = await expand(['empty', 'nomatch/*.jpg', 'photo.jpg', 'pipe.jpg'], tmp.dir);
    expect(r.sources).to.deep.equal(['photo.jpg', 'pipe.jpg']);
    expect(r.warnings).to.have.length(2);
    expect(r.warnings[0]).to.match(/^input empty holds no image or video file/);
    expect(r.warnings[1]).to.match(/^input nomatch\/\*\.jpg matches no image or video file/);
    const was = process.cwd();
    process.chdir(tmp.dir);
    try {
      let error = '';
      await r.items[1]?.load().catch((e: unknown) => (error = (e as Error).message));
      expect(error).to.equal('pipe.jpg is not a regular file (a pipe)');
    } finally {
      process.chdir(was);
    }
    // In a folder too: found, and failed by its own record rather than skipped in silence.
    mkdirSync(join(tmp.dir, 'cam'));
    execFileSync('mkfifo', [join(tmp.dir, 'cam', 'pipe.jpg')]);
    expect((await expand(['cam'], tmp.dir)).sources).to.deep.equal(['cam/pipe.jpg']);
  });


  it('fails a pipe with no known extension, a pipe named .avi and a device by their own records, without waiting on them', async () => {
    execFileSync('mkfifo', [join(tmp.dir, 'pipe')]);
    execFileSync('mkfifo', [join(tmp.dir, 'clip.avi')]);
    copyFileSync(PHOTO, join(tmp.dir, 'photo.jpg'));
    // Should a regression open a FIFO for reading, that waits for a writer (before, `pipe` held
    // the batch at 0 images, past Ctrl-C): a writer that comes and goes after 10 s ends the
    // wait, so the test fails on its records instead of hanging the run.
    const unblock = setTimeout(() => {
      for (const f of ['pipe', 'clip.avi']) {
        try {
          closeSync(openSync(join(tmp.dir, f), fsConstants.O_WRONLY | fsConstants.O_NONBLOCK));
        } catch {
          // ENXIO: nobody is reading it.
        }
      }
    }, 10_000);
    try {
      const r = await expand(['pipe', 'clip.avi', '/dev/zero', 'photo.jpg'], tmp.dir);
      expect(r.sources).to.deep.equal(['pipe', 'clip.avi', '/dev/zero', 'photo.jpg']);
      const was = process.cwd();
      process.chdir(tmp.dir);
      try {
        const errors = await Promise.all(r.items.map((i) => i.load().then(() => '', (e: unknown) => (e as Error).message)));
        expect(errors).to.deep.equal(['pipe is not a regular file (a pipe)', 'not a regular file (a pipe)', '/dev/zero is not a regular file (a device)', '']);
      } finally {
        process.chdir(was);
      }
    } finally {
      clearTimeout(unblock);
    }
  });
  it('processes images whose names are not UTF-8 (Latin-1 bytes, in a folder whose name is not UTF-8 either), shown as \\xNN', async () => {
    const dir = join(tmp.dir, 'cam');
    const bytes = (text: string): Buffer => Buffer.from(text, 'latin1');
    mkdirSync(bytes(join(dir, 'd\xe8r')), { recursive: true });
    copyFileSync(PHOTO, bytes(join(dir, 'caf\xe9.jpg')));
    copyFileSync(PHOTO, bytes(join(dir, 'caf\xe8.jpg')));
    copyFileSync(PHOTO, bytes(join(dir, 'd\xe8r', 'ok.jpg')));
    copyFileSync(join(SAMPLE_FACES, '..', 'vtest-12s.avi'), bytes(join(dir, 'v\xe9.avi')));
    // A UTF-8 name that reads like the escaped Latin-1 one: it got the same source, and --resume skipped one.
    copyFileSync(PHOTO, join(dir, 'caf\\xe9.jpg'));
    const out = join(tmp.dir, 'names.jsonl');
    const m = startMaster(['run', 'cam', '--tasks', 'edge', '--bind', await loopbackEndpoint(), '--out', out, '--progress', 'none', '--metrics-port', '0'], { cwd: tmp.dir });
    expect(await waitExit(m, 100_000), m.stderr()).to.equal(MASTER_EXIT.someFailed);
    const records = readResults(out).records.sort((a, b) => a.source.localeCompare(b.source));
    expect(records.map((r) => [r.source, r.ok])).to.deep.equal([
      ['cam/caf\\x5cxe9.jpg', true],
      ['cam/caf\\xe8.jpg', true],
      ['cam/caf\\xe9.jpg', true],
      ['cam/d\\xe8r/ok.jpg', true],
      ['cam/v\\xe9.avi', false],
    ]);
    const video = records[4];
    expect(isKindFailure(video?.edge) && video.edge.error.message).to.match(/the file name is not UTF-8, and OpenCV cannot open a video by such a name; rename it/);
    // Named on the command line the bytes are lost (Node.js decodes argv as UTF-8): say so.
    const named = startMaster(['run', bytes(join(dir, 'caf\xe9.jpg')).toString('utf8'), '--out', join(tmp.dir, 'n2.jsonl'), '--progress', 'none', '--metrics-port', '0']);
    expect(await waitExit(named, 60_000)).to.equal(MASTER_EXIT.usage);
    expect(named.stderr()).to.match(/its name has bytes that are not UTF-8, which cannot be passed on the command line/);
    // A glob reads names as text: such a match fails with a message saying why, and so does
    // a folder so named under a ** pattern (its files were skipped without a word).
    copyFileSync(PHOTO, bytes(join(dir, 'd\xe8r', 'deep.jpg')));
    const globbed = join(tmp.dir, 'glob.jsonl');
    const g = startMaster(['run', 'cam/*.jpg', '--tasks', 'edge', '--bind', await loopbackEndpoint(), '--out', globbed, '--progress', 'none', '--metrics-port', '0'], { cwd: tmp.dir });
    expect(await waitExit(g, 100_000), g.stderr()).to.equal(MASTER_EXIT.someFailed);
    const failed = readResults(globbed).records.filter((r) => !r.ok);
    expect(failed.length).to.be.at.least(1);
    for (const r of failed.filter((f) => f.source.endsWith('.jpg'))) expect(isKindFailure(r.edge) && r.edge.error.message).to.match(/the file name is not UTF-8 and a glob cannot pass it on; name the folder that holds it instead/);
    const deep = join(tmp.dir, 'deep.jsonl');
    const d = startMaster(['run', 'cam/**/*.jpg', '--tasks', 'edge', '--bind', await loopbackEndpoint(), '--out', deep, '--progress', 'none', '--metrics-port', '0'], { cwd: tmp.dir });
    expect(await waitExit(d, 100_000), d.stderr()).to.equal(MASTER_EXIT.someFailed);
    const folder = readResults(deep).records.find((r) => !r.source.endsWith('.jpg'));
    expect(isKindFailure(folder?.edge) && folder.edge.error.message).to.match(/^cannot read directory cam\/d\S+r: its name is not UTF-8 and a glob cannot pass it on/);
  });

  it('a batch whose inputs hold no image at all exits 2 and says so before it starts anything or writes a file', async () => {
    mkdirSync(join(tmp.dir, 'empty'));
    const out = join(tmp.dir, 'r.jsonl');
    const m = startMaster(['run', join(tmp.dir, 'empty'), join(tmp.dir, 'nomatch/*.jpg'), '--bind', await loopbackEndpoint(), '--out', out, '--progress', 'none', '--metrics-port', '0']);
    expect(await waitExit(m, 60_000), m.stderr()).to.equal(MASTER_EXIT.usage);
    expect(m.stderr()).to.match(/^master: no image or video found in \S+empty, \S+nomatch\/\*\.jpg \(extensions: jpg, /m);
    expect(m.stderr()).to.not.match(/listening|local slave/);
    expect(existsSync(out)).to.equal(false);
  });

  it('an unreadable folder becomes one failed record, and the folders after it and the other inputs are still processed', async () => {
    const root = join(tmp.dir, 'archive');
    for (const d of ['a', 'locked', 'z']) mkdirSync(join(root, d), { recursive: true });
    copyFileSync(PHOTO, join(root, '0.jpg'));
    copyFileSync(PHOTO, join(root, 'a', '1.jpg'));
    copyFileSync(PHOTO, join(root, 'locked', '5.jpg'));
    copyFileSync(PHOTO, join(root, 'z', '2.jpg'));
    const extra = join(tmp.dir, 'extra.jpg');
    copyFileSync(PHOTO, extra);
    chmodSync(join(root, 'locked'), 0o000);
    // The master (as nobody when we are root) writes its results here.
    chmodSync(tmp.dir, 0o777);
    const out = join(tmp.dir, 'r.jsonl');
    const asNobody = process.getuid?.() === 0 ? { uid: NOBODY, gid: NOBODY } : {};
    const m = startMaster(['run', root, extra, '--tasks', 'edge', '--bind', await loopbackEndpoint(), '--local-slaves', '1', '--local-threads', '1', '--out', out, '--progress', 'none', '--metrics-port', '0'], asNobody);
    const code = await waitExit(m, 100_000);
    chmodSync(join(root, 'locked'), 0o755);
    expect(code, m.stderr()).to.equal(MASTER_EXIT.someFailed);
    const records = readResults(out).records;
    const bySource = new Map(records.map((r) => [relative(tmp.dir, r.source), r]));
    expect([...bySource.keys()].sort()).to.deep.equal(['archive/0.jpg', 'archive/a/1.jpg', 'archive/locked', 'archive/z/2.jpg', 'extra.jpg']);
    for (const s of ['archive/0.jpg', 'archive/a/1.jpg', 'archive/z/2.jpg', 'extra.jpg']) expect(bySource.get(s)?.ok, s).to.equal(true);
    const locked = bySource.get('archive/locked');
    expect(locked?.ok).to.equal(false);
    const edge = locked?.edge;
    expect(edge !== undefined && isKindFailure(edge) ? edge.error.message : '').to.match(/^cannot read directory .*archive\/locked: EACCES$/);
  });
});
