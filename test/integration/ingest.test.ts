import { expect } from 'chai';
import { chmodSync, copyFileSync, existsSync, mkdirSync, symlinkSync } from 'node:fs';
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
async function expand(inputs: string[], cwd: string): Promise<{ sources: string[]; items: IngestItem[]; warnings: string[] }> {
  const warnings: string[] = [];
  const items: IngestItem[] = [];
  const was = process.cwd();
  process.chdir(cwd);
  try {
    for await (const item of expandInputs(inputs, { every: 1000, encoding: { format: 'jpg', jpegQuality: 90 }, maxImageBytes: 1e8, warn: (m) => warnings.push(m) })) items.push(item);
  } finally {
    process.chdir(was);
  }
  return { sources: items.map((i) => i.source), items, warnings };
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

  it('does not follow a link back up the tree, in a glob or a folder walk, but takes links to files', async () => {
    mkdirSync(join(tmp.dir, 'cam'));
    copyFileSync(PHOTO, join(tmp.dir, 'cam', 'x.jpg'));
    symlinkSync('../cam', join(tmp.dir, 'cam', 'loop'));
    symlinkSync('x.jpg', join(tmp.dir, 'cam', 'y.jpg'));
    expect((await expand(['cam/**/*.jpg'], tmp.dir)).sources.sort()).to.deep.equal(['cam/x.jpg', 'cam/y.jpg']);
    expect((await expand(['cam'], tmp.dir)).sources.sort()).to.deep.equal(['cam/x.jpg', 'cam/y.jpg']);
    const was = process.cwd();
    process.chdir(tmp.dir);
    try {
      expect(await countInputs(['cam/**/*.jpg', 'cam'], 1), 'each file once').to.equal(2);
    } finally {
      process.chdir(was);
    }
  });

  it('processes a file named by several inputs once, and says so', async () => {
    mkdirSync(join(tmp.dir, 'cam', 'a'), { recursive: true });
    copyFileSync(PHOTO, join(tmp.dir, 'cam', 'a', '1.jpg'));
    copyFileSync(PHOTO, join(tmp.dir, 'cam', '2.jpg'));
    const r = await expand(['cam/2.jpg', './cam/2.jpg', join(tmp.dir, 'cam/2.jpg'), 'cam', 'cam/a/1.jpg'], tmp.dir);
    expect(r.sources.sort()).to.deep.equal(['cam/2.jpg', 'cam/a/1.jpg']);
    expect(r.warnings).to.deep.equal(['4 file(s) named by more than one input were processed once']);
  });

  it('warns about an input that holds no image, and fails a pipe named .jpg as not a regular file', async () => {
    mkdirSync(join(tmp.dir, 'empty'));
    copyFileSync(PHOTO, join(tmp.dir, 'photo.jpg'));
    execFileSync('mkfifo', [join(tmp.dir, 'pipe.jpg')]);
    const r = await expand(['empty', 'nomatch/*.jpg', 'photo.jpg', 'pipe.jpg'], tmp.dir);
    expect(r.sources).to.deep.equal(['photo.jpg', 'pipe.jpg']);
    expect(r.warnings).to.have.length(2);
    expect(r.warnings[0]).to.match(/^input empty holds no image or video file/);
    expect(r.warnings[1]).to.match(/^input nomatch\/\*\.jpg holds no image or video file/);
    const was = process.cwd();
    process.chdir(tmp.dir);
    try {
      let error = '';
      await r.items[1]?.load().catch((e: unknown) => (error = (e as Error).message));
      expect(error).to.equal('pipe.jpg is not a regular file (a pipe)');
    } finally {
      process.chdir(was);
    }
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
