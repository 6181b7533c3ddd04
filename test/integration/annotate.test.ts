import { expect } from 'chai';
import { copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { crc32 } from 'node:zlib';
import { CONTACT_SHEET, annotatedName } from '../../master/annotate.js';
import { MASTER_EXIT } from '../../master/master.js';
import { isKindFailure, type ImageRecord } from '../../master/merge.js';
import { cv, type Mat } from '../../shared/opencv.js';
import { SIGNAL_BURST_MS } from '../../shared/stop-signals.js';
import { SAMPLE_FACES, SAMPLE_VIDEO, readReport, readResults, recordsSoFar, useTempDir } from '../helpers/fixtures.js';
import { loopbackEndpoint } from '../helpers/ports.js';
import { descendants, startMaster, waitExit, waitFor, type SeenProcess, type Tracked, runsEntry } from '../helpers/processes.js';

type Box = { x: number; y: number; width: number; height: number };

function boxesOf(entry: ImageRecord['face']): Box[] {
  return entry === undefined || isKindFailure(entry) ? [] : (entry as unknown as { boxes: Box[] }).boxes;
}

/** The original image of a record: the photo, or the video frame read sequentially. */
function original(r: ImageRecord): Mat {
  if (r.frame === undefined) return cv.imread(r.source, cv.IMREAD_COLOR);
  const cap = new cv.VideoCapture(r.source);
  try {
    let frame = cap.read();
    for (let i = 0; i < r.frame; i++) frame = cap.read();
    return frame;
  } finally {
    cap.release();
  }
}

/** Mean over channels of the per-pixel absolute difference. */
function meanAbsDiff(a: Mat, b: Mat): number {
  const m = a.absdiff(b).mean();
  return (m.w + m.x + m.y) / 3; // Vec4 is (w, x, y, z): B, G, R here
}

/**
 * How much `channel` (BGR index) dominates the other two along the left side of a box
 * (the best of the columns around its left edge, middle half of its height).
 */
function colourMargin(image: Mat, b: Box, channel: number): number {
  let best = -Infinity;
  for (let x = Math.max(0, b.x - 2); x <= Math.min(image.cols - 1, b.x + 2); x++) {
    const m = image.getRegion(new cv.Rect(x, b.y + Math.floor(b.height / 4), 1, Math.floor(b.height / 2))).mean();
    const bgr = [m.w, m.x, m.y]; // Vec4 is (w, x, y, z)
    best = Math.max(best, (bgr[channel] ?? 0) - Math.max(...bgr.filter((_, i) => i !== channel)));
  }
  return best;
}

describe('master run --annotate', function () {
  this.timeout(180_000);
  const tmp = useTempDir();

  it('writes an annotated JPEG per record and a contact sheet', async () => {
    const out = join(tmp.dir, 'results.jsonl');
    const dir = join(tmp.dir, 'annotated');
    const master = startMaster([
      'run', SAMPLE_FACES, SAMPLE_VIDEO, '--every', '40', '--annotate', dir,
      '--bind', await loopbackEndpoint(), '--local-slaves', '1', '--local-threads', '2',
      '--out', out, '--progress', 'none', '--metrics-port', '0',
    ]);
    const code = await waitExit(master, 170_000);
    expect(code, master.stderr()).to.equal(MASTER_EXIT.ok);

    const { records } = readResults(out);
    expect(records).to.have.length(6); // 3 photos + frames 0, 40, 80
    const names = records.map((r) => annotatedName(r));
    expect(readdirSync(dir).sort()).to.deep.equal([...names, CONTACT_SHEET.file].sort());

    let detected = 0;
    for (const r of records) {
      const name = annotatedName(r);
      const annotated = cv.imread(join(dir, name), cv.IMREAD_COLOR);
      const orig = original(r);
      expect([annotated.cols, annotated.rows], name).to.deep.equal([orig.cols, orig.rows]);
      expect([annotated.cols, annotated.rows], name).to.deep.equal([r.width, r.height]);
      const faces = boxesOf(r.face);
      const people = boxesOf(r.object);
      if (faces.length + people.length === 0) continue;
      detected++;
      expect(meanAbsDiff(annotated, orig), name).to.be.above(1);
      // The left side of each box is drawn in its colour (BGR): blue for faces, green for people.
      for (const [boxes, channel] of [[faces, 0], [people, 1]] as const) {
        for (const b of boxes) {
          const drawn = colourMargin(annotated, b, channel);
          const before = colourMargin(orig, b, channel);
          expect(drawn - before, `${name} box ${JSON.stringify(b)}: colour margin ${drawn.toFixed(1)}, originally ${before.toFixed(1)}`).to.be.above(40);
        }
      }
    }
    expect(detected, 'records with people or faces').to.be.at.least(3);

    const sheetPath = join(dir, CONTACT_SHEET.file);
    expect(existsSync(sheetPath)).to.equal(true);
    const sheet = cv.imread(sheetPath, cv.IMREAD_COLOR);
    // 6 thumbnails: 4 columns of 240 px with 4 px gaps, 2 rows.
    expect(sheet.cols).to.equal(4 * CONTACT_SHEET.thumbWidth + 5 * 4);
    expect(sheet.rows).to.be.above(2 * 100);
  });
  it('keeps the contact sheet small for a very tall image (thumbnails fit thumbWidth x thumbMaxHeight)', async () => {
    const tall = join(tmp.dir, 'tall.png');
    cv.imwrite(tall, new cv.Mat(8000, 10, cv.CV_8UC3, [200, 120, 40]));
    const out = join(tmp.dir, 'tall.jsonl');
    const dir = join(tmp.dir, 'annotated');
    const master = startMaster(['run', tall, '--tasks', 'edge', '--annotate', dir, '--bind', await loopbackEndpoint(), '--local-threads', '1', '--out', out, '--progress', 'none', '--metrics-port', '0']);
    expect(await waitExit(master, 120_000), master.stderr()).to.equal(MASTER_EXIT.ok);
    const sheet = cv.imread(join(dir, CONTACT_SHEET.file), cv.IMREAD_COLOR);
    expect([sheet.cols, sheet.rows]).to.deep.equal([CONTACT_SHEET.thumbWidth + 2 * 4, CONTACT_SHEET.thumbMaxHeight + 2 * 4]);
  });
  it('draws no header over a tiny image (a 3x3 white image came out black)', async () => {
    const tiny = join(tmp.dir, 'tiny.png');
    cv.imwrite(tiny, new cv.Mat(3, 3, cv.CV_8UC3).setTo(new cv.Vec3(255, 255, 255)));
    const out = join(tmp.dir, 'tiny.jsonl');
    const dir = join(tmp.dir, 'annotated-tiny');
    const master = startMaster(['run', tiny, '--tasks', 'edge', '--annotate', dir, '--bind', await loopbackEndpoint(), '--local-threads', '1', '--out', out, '--progress', 'none', '--metrics-port', '0']);
    expect(await waitExit(master, 120_000), master.stderr()).to.equal(MASTER_EXIT.ok);
    const copy = cv.imread(join(dir, 'tiny.jpg'), cv.IMREAD_COLOR);
    expect([copy.cols, copy.rows]).to.deep.equal([3, 3]);
    expect(meanAbsDiff(copy, cv.imread(tiny, cv.IMREAD_COLOR)), 'the copy is the white image').to.be.below(8);
  });
  it('on --resume keeps the annotated copies of the earlier run: a new source of the same name gets NAME-2.jpg', async () => {
    const cam1 = join(tmp.dir, 'cam1');
    const cam2 = join(tmp.dir, 'cam2');
    mkdirSync(cam1);
    mkdirSync(cam2);
    copyFileSync(join(SAMPLE_FACES, '2008_001009.jpg'), join(cam1, 'a.jpg'));
    copyFileSync(join(SAMPLE_FACES, '2008_001322.jpg'), join(cam2, 'a.jpg'));
    const out = join(tmp.dir, 'resumed.jsonl');
    const dir = join(tmp.dir, 'annotated-resumed');
    const common = ['--tasks', 'edge', '--annotate', dir, '--local-threads', '1', '--out', out, '--progress', 'none', '--metrics-port', '0'];
    const first = startMaster(['run', cam1, '--bind', await loopbackEndpoint(), ...common]);
    expect(await waitExit(first, 120_000), first.stderr()).to.equal(MASTER_EXIT.ok);
    const before = readFileSync(join(dir, 'a.jpg'));
    // The batch goes on with a second camera's folder, whose a.jpg is another picture.
    const second = startMaster(['run', cam1, cam2, '--resume', '--bind', await loopbackEndpoint(), ...common]);
    expect(await waitExit(second, 120_000), second.stderr()).to.equal(MASTER_EXIT.ok);
    expect(readResults(out).records.map((r) => r.source).sort()).to.deep.equal([join(cam1, 'a.jpg'), join(cam2, 'a.jpg')]);
    expect(readFileSync(join(dir, 'a.jpg')).equals(before), "the earlier run's a.jpg was replaced").to.equal(true);
    const second2 = cv.imread(join(dir, 'a-2.jpg'), cv.IMREAD_COLOR);
    const photo = cv.imread(join(cam2, 'a.jpg'), cv.IMREAD_COLOR);
    expect([second2.cols, second2.rows], "cam2's a.jpg annotated as a-2.jpg").to.deep.equal([photo.cols, photo.rows]);
    // Each record names its copy, so cam1's and cam2's a.jpg can be told apart.
    expect(readResults(out).records.map((r) => [r.source, r.annotated]).sort()).to.deep.equal([
      [join(cam1, 'a.jpg'), 'a.jpg'],
      [join(cam2, 'a.jpg'), 'a-2.jpg'],
    ]);
    // A third run over a record written before records named their copy (as an older
    // release wrote them): its name is worked out again, and the next a.jpg gets a-3.jpg.
    const cam3 = join(tmp.dir, 'cam3');
    mkdirSync(cam3);
    copyFileSync(join(SAMPLE_FACES, '2008_002506.jpg'), join(cam3, 'a.jpg'));
    const lines = readFileSync(out, 'utf8').split('\n').filter((l) => l !== '');
    writeFileSync(out, `${lines.map((l) => { const o = JSON.parse(l) as Record<string, unknown>; delete o['annotated']; return JSON.stringify(o); }).join('\n')}\n`);
    const third = startMaster(['run', cam1, cam2, cam3, '--resume', '--bind', await loopbackEndpoint(), ...common]);
    expect(await waitExit(third, 120_000), third.stderr()).to.equal(MASTER_EXIT.ok);
    expect(readResults(out).records.find((r) => r.source === join(cam3, 'a.jpg'))?.annotated).to.equal('a-3.jpg');
    // cam2's a.jpg recorded as failed for a cause that may pass (its worker killed): run
    // again, its new copy takes its old name, a-2.jpg, with no copy left orphaned.
    const marked = readFileSync(out, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
    // Each record names its copy again, as this release writes them.
    const names = new Map([[join(cam1, 'a.jpg'), 'a.jpg'], [join(cam2, 'a.jpg'), 'a-2.jpg'], [join(cam3, 'a.jpg'), 'a-3.jpg']]);
    for (const r of marked) if (r['type'] === 'image') r['annotated'] = names.get(String(r['source']));
    for (const r of marked) if (r['source'] === join(cam2, 'a.jpg')) Object.assign(r, { ok: false, edge: { error: { name: 'WorkerCrashError', message: 'x', retryable: true }, attempts: 3 } });
    writeFileSync(out, `${marked.map((l) => JSON.stringify(l)).join('\n')}\n`);
    const fourth = startMaster(['run', cam1, cam2, cam3, '--resume', '--bind', await loopbackEndpoint(), ...common]);
    expect(await waitExit(fourth, 120_000), fourth.stderr()).to.equal(MASTER_EXIT.ok);
    expect(readResults(out).records.map((r) => [r.source, r.annotated, r.ok]).sort()).to.deep.equal([
      [join(cam1, 'a.jpg'), 'a.jpg', true],
      [join(cam2, 'a.jpg'), 'a-2.jpg', true],
      [join(cam3, 'a.jpg'), 'a-3.jpg', true],
    ]);
    expect(readdirSync(dir).filter((f) => f !== CONTACT_SHEET.file).sort()).to.deep.equal(['a-2.jpg', 'a-3.jpg', 'a.jpg']);
  });

  it('annotates 48-megapixel images without holding up the master: no missed heartbeat, no retry', async () => {
    const photos = join(tmp.dir, 'photos');
    mkdirSync(photos);
    const big = cv.imread(join(SAMPLE_FACES, '2008_001009.jpg'), cv.IMREAD_COLOR).resize(new cv.Size(8000, 6000), 0, 0, cv.INTER_LINEAR);
    const encoded = cv.imencode('.jpg', big, [cv.IMWRITE_JPEG_QUALITY, 90]);
    for (let i = 0; i < 6; i++) writeFileSync(join(photos, `big${i}.jpg`), encoded);
    const out = join(tmp.dir, 'big.jsonl');
    const dir = join(tmp.dir, 'annotated');
    // Heartbeats every 300 ms: the master is declared dead by its slave after 0.9 s of silence.
    // Drawing one such image takes about a second, which the master's thread used to spend.
    const master = startMaster(['run', photos, '--tasks', 'edge', '--annotate', dir, '--heartbeat-interval', '300', '--bind', await loopbackEndpoint(), '--local-threads', '2', '--out', out, '--progress', 'none', '--metrics-port', '0', '--log-level', 'info']);
    expect(await waitExit(master, 170_000), master.stderr()).to.equal(MASTER_EXIT.ok);
    const report = readReport(`${out}.report.json`);
    expect({ retries: report.retries, slavesLost: report.slavesLost, dropped: report.messagesDropped }, master.stderr()).to.deep.equal({ retries: 0, slavesLost: 0, dropped: 0 });
    expect(master.stderr()).to.not.include('master silent');
    expect(readdirSync(dir).sort()).to.deep.equal([...[0, 1, 2, 3, 4, 5].map((i) => `big${i}.jpg`), CONTACT_SHEET.file].sort());
  });
  it('never writes through a link in the annotate folder, keeps an input called contact-sheet.jpg, and draws no image whose tasks all failed', async () => {
    const inputs = join(tmp.dir, 'in');
    const dir = join(tmp.dir, 'annotated');
    mkdirSync(inputs);
    mkdirSync(dir);
    const photo = join(inputs, 'a.jpg');
    copyFileSync(join(SAMPLE_FACES, '2008_001009.jpg'), photo);
    copyFileSync(join(SAMPLE_FACES, '2008_001322.jpg'), join(inputs, 'contact-sheet.jpg'));
    const whole = readFileSync(join(SAMPLE_FACES, '2008_002506.jpg'));
    writeFileSync(join(inputs, 'cut.jpg'), whole.subarray(0, whole.length >> 1));
    const original = readFileSync(photo);
    // A leftover link where a.jpg's annotated copy goes, pointing at the input itself.
    symlinkSync(photo, join(dir, 'a.jpg'));
    const out = join(tmp.dir, 'links.jsonl');
    // The folder is not empty: only with --overwrite.
    const master = startMaster(['run', inputs, '--tasks', 'edge', '--annotate', dir, '--overwrite', '--bind', await loopbackEndpoint(), '--local-threads', '1', '--out', out, '--progress', 'none', '--metrics-port', '0']);
    expect(await waitExit(master, 120_000), master.stderr()).to.equal(MASTER_EXIT.someFailed);
    expect(readFileSync(photo).equals(original), 'the input image is untouched').to.equal(true);
    expect(lstatSync(join(dir, 'a.jpg')).isSymbolicLink(), 'the link was replaced by the annotated copy').to.equal(false);
    expect(readdirSync(dir).sort()).to.deep.equal(['a.jpg', 'contact-sheet-2.jpg', CONTACT_SHEET.file].sort());
  });
  /** A master annotating the 20 sampled frames of the sample video into `NAME/`, once its annotator process runs. */
  async function annotatingMaster(name: string): Promise<{ master: Tracked; out: string; dir: string; annotatorPid: number }> {
    const out = join(tmp.dir, `${name}.jsonl`);
    const dir = join(tmp.dir, name);
    const master = startMaster(['run', SAMPLE_VIDEO, '--every', '6', '--tasks', 'edge', '--annotate', dir, '--bind', await loopbackEndpoint(), '--local-threads', '1', '--out', out, '--progress', 'none', '--metrics-port', '0']);
    let annotator: SeenProcess | undefined;
    await waitFor(() => (annotator = descendants(master.pid).find((p) => runsEntry(p, 'annotate-child'))) !== undefined, 60_000, 'the annotator process');
    if (annotator === undefined) throw new Error('no annotator process');
    return { master, out, dir, annotatorPid: annotator.pid };
  }

  it('when the annotator process dies mid-batch: the batch finishes, and the missing copies named in the results are counted, said and exit 3', async () => {
    const { master, out, dir, annotatorPid } = await annotatingMaster('annotated-dies');
    // Held from the start, killed once every record is written: every named copy is missing.
    process.kill(annotatorPid, 'SIGSTOP');
    await waitFor(() => recordsSoFar(out) >= 20, 120_000, 'every record');
    process.kill(annotatorPid, 'SIGKILL');
    expect(await waitExit(master, 120_000), master.stderr()).to.equal(MASTER_EXIT.someFailed);
    const records = readResults(out).records;
    expect(records).to.have.length(20);
    const named = records.filter((r) => r.annotated !== undefined);
    const missing = named.filter((r) => !existsSync(join(dir, r.annotated ?? ''))).length;
    expect([named.length, missing], 'copies named, and not written').to.deep.equal([20, 20]);
    expect(readReport(`${out}.report.json`).annotatedMissing).to.equal(missing);
    expect(master.stderr()).to.include(`annotate: ${missing} annotated copies were not written: ${missing} of the ${named.length} named in the results`);
    expect(master.stdout()).to.include(`annotated copies not written: ${missing}`);
    expect(readFileSync(`${out}.report.html`, 'utf8')).to.include(`Annotated copies not written: ${missing}.`);
  });
  it('a second Ctrl-C while the copies are drawn says how many are not written, and a resume counts them and exits 3 (it said "nothing left to do" and exited 0)', async () => {
    const { master, out, dir, annotatorPid } = await annotatingMaster('annotated-double-ctrl-c');
    // Held, so that every copy is still to be drawn when the batch's records are all written.
    process.kill(annotatorPid, 'SIGSTOP');
    await waitFor(() => master.stderr().includes('annotate: finishing the annotated copies'), 120_000, 'the wait for the annotator');
    master.proc.kill('SIGINT');
    await waitFor(() => master.stderr().includes('SIGINT: the batch is complete; finishing up'), 30_000, 'the first SIGINT');
    // After the window in which a second signal is the same Ctrl-C's echo.
    await delay(SIGNAL_BURST_MS + 100);
    master.proc.kill('SIGINT');
    expect(await waitExit(master, 30_000), master.stderr()).to.equal(MASTER_EXIT.interrupted);
    process.kill(annotatorPid, 'SIGKILL');
    expect(master.stderr()).to.include('SIGINT again: exiting at once; 20 annotated copies named in the results were not written');
    const named = readResults(out).records.filter((r) => r.annotated !== undefined);
    expect([named.length, named.filter((r) => existsSync(join(dir, r.annotated ?? ''))).length], 'copies named, and written').to.deep.equal([20, 0]);
    const resumed = startMaster(['run', SAMPLE_VIDEO, '--every', '6', '--tasks', 'edge', '--annotate', dir, '--resume', '--bind', await loopbackEndpoint(), '--local-threads', '1', '--out', out, '--progress', 'none', '--metrics-port', '0']);
    expect(await waitExit(resumed, 120_000), resumed.stderr()).to.equal(MASTER_EXIT.someFailed);
    expect(resumed.stderr()).to.include(`annotate: 20 of the 20 annotated copies that earlier records of ${out} name are not in`);
    expect(readReport(`${out}.report.json`).annotatedMissing).to.equal(20);
    expect(resumed.stdout()).to.include('annotated copies not written: 20');
  });
  it('when the annotator process dies early: the images finished after it count as missing copies too, and the exit status is 3', async () => {
    const { master, out, dir, annotatorPid } = await annotatingMaster('annotated-dies-early');
    process.kill(annotatorPid, 'SIGKILL');
    // Exit 0 before, with most images and the contact sheet without a copy.
    expect(await waitExit(master, 120_000), master.stderr()).to.equal(MASTER_EXIT.someFailed);
    const records = readResults(out).records;
    expect(records).to.have.length(20);
    const written = records.filter((r) => r.annotated !== undefined && existsSync(join(dir, r.annotated))).length;
    expect(readReport(`${out}.report.json`).annotatedMissing).to.equal(20 - written);
    expect(master.stdout()).to.include(`annotated copies not written: ${20 - written}`);
  });
  it("logs what a library writes on the annotator's stderr (libpng on a PNG with a bad iCCP chunk) as a record of the master under --log-json, not as a bare line", async () => {
    const png = Buffer.from(cv.imencode('.png', new cv.Mat(120, 160, cv.CV_8UC3, [40, 90, 160])));
    // An iCCP chunk of two bytes after IHDR (8-byte signature + 25-byte IHDR): libpng says "iCCP: too short" and reads on.
    const data = Buffer.from([0x41, 0x00]);
    const chunk = Buffer.alloc(12 + data.length);
    chunk.writeUInt32BE(data.length, 0);
    chunk.write('iCCP', 4, 'latin1');
    data.copy(chunk, 8);
    chunk.writeUInt32BE(crc32(chunk.subarray(4, 8 + data.length)), 8 + data.length);
    const inputs = join(tmp.dir, 'iccp-in');
    mkdirSync(inputs);
    writeFileSync(join(inputs, 'iccp.png'), Buffer.concat([png.subarray(0, 33), chunk, png.subarray(33)]));
    const out = join(tmp.dir, 'iccp.jsonl');
    const master = startMaster(['run', inputs, '--tasks', 'edge', '--annotate', join(tmp.dir, 'iccp-annotated'), '--bind', await loopbackEndpoint(), '--local-threads', '1', '--out', out, '--progress', 'none', '--metrics-port', '0', '--log-json']);
    expect(await waitExit(master, 120_000), master.stderr()).to.equal(0);
    const lines = master.stderr().split('\n').filter((l) => l !== '');
    const bare = lines.filter((l) => { try { return typeof JSON.parse(l) !== 'object'; } catch { return true; } });
    expect(bare, 'stderr lines that are not JSON records').to.deep.equal([]);
    const records = lines.map((l) => JSON.parse(l) as { name: string; msg: string });
    expect(records.some((r) => r.name === 'master' && r.msg === 'annotate: libpng warning: iCCP: too short'), master.stderr()).to.equal(true);
    expect(readResults(out).records.map((r) => r.edge !== undefined && !isKindFailure(r.edge))).to.deep.equal([true]);
  });
  it('refuses a folder that already holds files without --overwrite or --resume, and never writes over an input linked from another folder', async () => {
    const victims = join(tmp.dir, 'victims');
    const links = join(tmp.dir, 'links');
    mkdirSync(victims);
    mkdirSync(links);
    const photo = join(victims, 'photo.jpg');
    copyFileSync(join(SAMPLE_FACES, '2008_001009.jpg'), photo);
    const original = readFileSync(photo);
    // The input is a link to a file in the annotate folder: its copy would be named photo.jpg there.
    symlinkSync(photo, join(links, 'photo.jpg'));
    const out = join(tmp.dir, 'victim.jsonl');
    const args = ['run', links, '--tasks', 'edge', '--annotate', victims, '--local-threads', '1', '--out', out, '--progress', 'none', '--metrics-port', '0'];
    const refused = startMaster([...args, '--bind', await loopbackEndpoint()]);
    expect(await waitExit(refused, 60_000), refused.stderr()).to.equal(MASTER_EXIT.usage);
    expect(refused.stderr()).to.include('is not empty (it holds "photo.jpg", for one)');
    expect(existsSync(out), 'nothing ran').to.equal(false);

    const master = startMaster([...args, '--overwrite', '--bind', await loopbackEndpoint()]);
    expect(await waitExit(master, 120_000), master.stderr()).to.equal(MASTER_EXIT.ok);
    expect(readFileSync(photo).equals(original), 'the input image is untouched').to.equal(true);
    // Another input of that name, the link met in a walked folder: its copy is not written over the linked file.
    const walked = join(tmp.dir, 'walked');
    mkdirSync(walked);
    symlinkSync(photo, join(walked, 'a.jpg'));
    copyFileSync(join(SAMPLE_FACES, '2008_001322.jpg'), join(walked, 'photo.jpg'));
    const other = startMaster(['run', walked, '--tasks', 'edge', '--annotate', victims, '--overwrite', '--local-threads', '1', '--out', join(tmp.dir, 'walked.jsonl'), '--progress', 'none', '--metrics-port', '0', '--bind', await loopbackEndpoint()]);
    expect(await waitExit(other, 120_000), other.stderr()).to.equal(MASTER_EXIT.ok);
    expect(readFileSync(photo).equals(original), 'the linked input is untouched').to.equal(true);
    expect(readResults(join(tmp.dir, 'walked.jsonl')).records.map((r) => r.annotated).sort()).to.deep.equal(['a.jpg', 'photo-2.jpg']);
    // Its copy takes the next free name instead.
    expect(readResults(out).records.map((r) => [r.source, r.annotated])).to.deep.equal([[join(links, 'photo.jpg'), 'photo-2.jpg']]);
    expect(existsSync(join(victims, 'photo-2.jpg'))).to.equal(true);
  });
});
