/**
 * `master run --annotate DIR`: an annotated JPEG copy of each completed image or frame,
 * and a contact sheet of the frames with the most detections.
 *
 * Runs in the annotator process (`annotate-child.ts`, started by `AnnotatorProcess`), on
 * its main thread, so only synchronous OpenCV calls are used (the binding's `*Async`
 * methods allocate on libuv threads and abort the process, see `shared/opencv.ts`), and
 * every parameter is passed explicitly (the binding's defaults differ from OpenCV's).
 */
import { basename, join } from 'node:path';
import type { DetectorConfig } from '../proto/detector-config.js';
import type { Logger } from '../shared/logger.js';
import { InvalidArgumentError } from '../shared/errors.js';
import { makeDirectory } from '../shared/make-directory.js';
import { writeFileReplacing } from '../shared/write-replacing.js';
import { cv, type Mat } from '../shared/opencv.js';
import { isKindFailure, type ImageRecord, type KindFailure, type KindSuccess } from './merge.js';
import { CONTACT_SHEET_FILE, isEntryOf } from './annotated-name.js';

export { annotatedName, sanitizedBase } from './annotated-name.js';

/** Colours, BGR. */
const GREEN = new cv.Vec3(0, 200, 0);
const BLUE = new cv.Vec3(255, 64, 0);
const RED = new cv.Vec3(0, 0, 255);
const YELLOW = new cv.Vec3(0, 255, 255);
const DARK_GREY = new cv.Vec3(40, 40, 40);
const WHITE = new cv.Vec3(255, 255, 255);
const BLACK = new cv.Vec3(0, 0, 0);
const FONT = cv.FONT_HERSHEY_SIMPLEX;
/** Opacity of the edge overlay. */
const EDGE_ALPHA = 0.5;
/** JPEG quality (1-100, `IMWRITE_JPEG_QUALITY`) of the annotated copies and the contact sheet. */
const JPEG_QUALITY = 90;
/** Smallest side of an image that gets the source-name header, px (the header is ~17 px tall). */
const MIN_HEADER_SIDE_PX = 64;

/**
 * Contact sheet layout: thumbnails `thumbWidth` px wide and at most `thumbMaxHeight` px tall,
 * `columns` to a row, the `max` images with the most detections (people and faces).
 */
export const CONTACT_SHEET = { file: CONTACT_SHEET_FILE, thumbWidth: 240, thumbMaxHeight: 480, columns: 4, max: 16 } as const;

interface Thumb {
  detections: number;
  seq: number;
  mat: Mat;
}

type Entry = KindSuccess | KindFailure | undefined;

/** A kind's value when it succeeded. */
function success(entry: Entry): KindSuccess | undefined {
  return entry === undefined || isKindFailure(entry) ? undefined : entry;
}

/** Writes annotated copies of completed images and, at {@link Annotator.finish}, a contact sheet. */
export class Annotator {
  private readonly thumbs: Thumb[] = [];
  private seq = 0;

  /**
   * Creates the folder (with its parents).
   *
   * @param edge - the edge detector's parameters, to draw the same edges the slaves counted
   * @throws {@link InvalidArgumentError} when the folder cannot be created
   */
  constructor(
    private readonly dir: string,
    private readonly edge: DetectorConfig['edge'],
    private readonly logger: Logger,
  ) {
    try {
      makeDirectory(dir);
    } catch (err) {
      throw InvalidArgumentError.format('--annotate', `cannot create the folder ${dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }

  /**
   * Annotates one record's image as `record.annotated` (named by the master:
   * `AnnotatedNames`); never throws (a failure is logged and skipped).
   *
   * @returns whether the copy was written
   */
  add(record: ImageRecord, bytes: Buffer | undefined): boolean {
    // Not named by the master: every task failed (e.g. "JPEG is truncated"), nothing to draw.
    const name = record.annotated;
    if (name === undefined) return false;
    const what = `${record.source}${record.frame === undefined ? '' : ` frame ${record.frame}`}`;
    if (bytes === undefined || bytes.length === 0) {
      this.logger.warn(`annotate: no image bytes for ${what}; ${name} not written`);
      return false;
    }
    try {
      return this.annotate(record, bytes, name);
    } catch (err) {
      // Its record names the copy: not a debug matter.
      this.logger.warn(`annotate: ${what}: ${name} not written: ${err instanceof Error ? err.message : String(err)}`);
      return false;
    }
  }

  /** Writes the contact sheet (when any image was annotated); never throws. */
  finish(): void {
    if (this.thumbs.length === 0) return;
    try {
      const sorted = [...this.thumbs].sort((a, b) => b.detections - a.detections || a.seq - b.seq);
      const { thumbWidth, columns } = CONTACT_SHEET;
      const cols = Math.min(columns, sorted.length);
      const rows = Math.ceil(sorted.length / columns);
      const gap = 4;
      // Each row is as tall as its tallest thumbnail; rowTop[r] is where row r starts.
      const rowTop = [gap];
      for (let r = 0; r < rows; r++) {
        const height = Math.max(...sorted.slice(r * columns, (r + 1) * columns).map((t) => t.mat.rows));
        rowTop.push((rowTop[r] ?? 0) + height + gap);
      }
      const sheet = filled(rowTop[rows] ?? gap, cols * thumbWidth + (cols + 1) * gap, DARK_GREY);
      sorted.forEach((t, i) => {
        const x = gap + (i % columns) * (thumbWidth + gap);
        const y = rowTop[Math.floor(i / columns)] ?? 0;
        t.mat.copyTo(sheet.getRegion(new cv.Rect(x, y, t.mat.cols, t.mat.rows)));
      });
      writeFileReplacing(join(this.dir, CONTACT_SHEET.file), cv.imencode('.jpg', sheet, [cv.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]));
    } catch (err) {
      this.logger.warn(`annotate: could not write the contact sheet: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private annotate(record: ImageRecord, bytes: Buffer, file: string): boolean {
    const image = cv.imdecode(bytes, cv.IMREAD_COLOR);
    if (image.empty || image.rows === 0 || image.cols === 0) throw new Error('image could not be decoded');
    if (record.width !== undefined && (record.width !== image.cols || record.height !== image.rows)) {
      throw new Error(`decoded ${image.cols}x${image.rows} px, but the record says ${record.width}x${record.height}`);
    }
    // Line widths, radii and text scale with the image: one unit per 500 px of its shorter side.
    const s = Math.max(1, Math.round(Math.min(image.cols, image.rows) / 500));
    const fontScale = 0.45 * s;

    const edge = success(record.edge) as ({ edgePixels: number } & KindSuccess) | undefined;
    if (edge !== undefined) {
      // As slave/detectors/edge.ts finds them (same border, aperture 3, L1 gradient), so the
      // overlay shows the edges the slaves counted.
      const k = new cv.Size(this.edge.blurKernelPx, this.edge.blurKernelPx);
      const grey = image.cvtColor(cv.COLOR_BGR2GRAY);
      const edges = grey.gaussianBlur(k, this.edge.blurSigma, this.edge.blurSigma, cv.BORDER_REFLECT_101).canny(this.edge.lowThreshold, this.edge.highThreshold, 3, false);
      const yellow = filled(image.rows, image.cols, YELLOW);
      image.addWeighted(1 - EDGE_ALPHA, yellow, EDGE_ALPHA, 0, -1).copyTo(image, edges);
    }
    const corner = success(record.corner) as ({ points: { x: number; y: number }[] } & KindSuccess) | undefined;
    for (const p of corner?.points ?? []) image.drawCircle(new cv.Point2(p.x, p.y), 2 * s, RED, -1, cv.LINE_AA, 0);

    const boxes: { x: number; y: number; width: number; height: number; label: string; colour: typeof GREEN }[] = [];
    const object = success(record.object) as ({ boxes: { x: number; y: number; width: number; height: number; score: number }[] } & KindSuccess) | undefined;
    for (const b of object?.boxes ?? []) boxes.push({ ...b, label: `person ${b.score.toFixed(2)}`, colour: GREEN });
    const face = success(record.face) as ({ boxes: { x: number; y: number; width: number; height: number }[] } & KindSuccess) | undefined;
    for (const b of face?.boxes ?? []) boxes.push({ ...b, label: 'face', colour: BLUE });
    for (const b of boxes) image.drawRectangle(new cv.Point2(b.x, b.y), new cv.Point2(b.x + b.width - 1, b.y + b.height - 1), b.colour, 2 * s, cv.LINE_8, 0);
    for (const b of boxes) label(image, b.label, b.x, b.y, b.colour, fontScale, s);

    const name = basename(record.source);
    // On a tiny image the header would cover it all (a 3x3 copy came out black).
    if (Math.min(image.rows, image.cols) >= MIN_HEADER_SIDE_PX) label(image, record.frame === undefined ? name : `${name} frame ${record.frame}`, 0, 0, BLACK, fontScale, s, true);

    const target = join(this.dir, basename(file));
    if (isEntryOf(record.source, this.dir, basename(file))) {
      // The master names around this (AnnotatorProcess.add); a last guard.
      this.logger.warn(`annotate: not writing ${target}: it is the input ${record.source} itself`);
      return false;
    }
    writeFileReplacing(target, cv.imencode('.jpg', image, [cv.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]));
    this.keepThumb(image, (object?.boxes.length ?? 0) + (face?.boxes.length ?? 0), name, record.frame);
    return true;
  }

  /** Keeps a labelled thumbnail when it is among the top {@link CONTACT_SHEET}.max by detections. */
  private keepThumb(image: Mat, detections: number, name: string, frame: number | undefined): void {
    const seq = this.seq++;
    let worst = -1;
    if (this.thumbs.length >= CONTACT_SHEET.max) {
      worst = 0;
      this.thumbs.forEach((t, i) => {
        const w = this.thumbs[worst];
        if (w !== undefined && (t.detections < w.detections || (t.detections === w.detections && t.seq > w.seq))) worst = i;
      });
      if ((this.thumbs[worst]?.detections ?? 0) >= detections) return;
    }
    // Scaled to fit thumbWidth x thumbMaxHeight and centred on a canvas thumbWidth wide: a
    // 10x20000 image made a 10,000 px tall sheet row (3.7 GB, then over OpenCV's size limit).
    const { thumbWidth, thumbMaxHeight } = CONTACT_SHEET;
    const scale = Math.min(thumbWidth / image.cols, thumbMaxHeight / image.rows);
    const width = Math.max(1, Math.round(image.cols * scale));
    const height = Math.max(1, Math.round(image.rows * scale));
    const mat = filled(Math.max(height, 24), thumbWidth, DARK_GREY);
    image.resize(new cv.Size(width, height), 0, 0, cv.INTER_AREA).copyTo(mat.getRegion(new cv.Rect(Math.floor((thumbWidth - width) / 2), 0, width, height)));
    const text = `${frame === undefined ? name : `${name} f${frame}`}: ${detections}`;
    label(mat, text, 0, mat.rows, BLACK, 0.4, 1, true, true);
    const thumb = { detections, seq, mat };
    if (worst >= 0) this.thumbs[worst] = thumb;
    else this.thumbs.push(thumb);
  }
}

/**
 * A BGR image of one colour. Not `new cv.Mat(rows, cols, type, [b, g, r])`: the binding
 * fills that pixel by pixel from JavaScript, 1.6 s for a 4K frame (`setTo`: 2 ms).
 */
function filled(rows: number, cols: number, colour: typeof YELLOW): Mat {
  return new cv.Mat(rows, cols, cv.CV_8UC3).setTo(colour);
}

/**
 * Draws `text` on a filled box at (x, y): above that point (or below it when there is no
 * room), or, with `inside`, from the top-left corner (`bottom`: up from y).
 */
function label(image: Mat, text: string, x: number, y: number, bg: typeof GREEN, fontScale: number, s: number, inside = false, bottom = false): void {
  const thickness = s;
  const { size, baseLine } = cv.getTextSize(text, FONT, fontScale, thickness);
  const pad = 2 * s;
  const h = size.height + baseLine + 2 * pad;
  const w = Math.min(image.cols, size.width + 2 * pad);
  let top: number;
  if (inside) top = bottom ? y - h : y;
  else top = y - h >= 0 ? y - h : y;
  const left = Math.max(0, Math.min(x, image.cols - w));
  image.drawRectangle(new cv.Point2(left, top), new cv.Point2(left + w - 1, top + h - 1), bg, cv.FILLED, cv.LINE_8, 0);
  image.putText(text, new cv.Point2(left + pad, top + pad + size.height), FONT, fontScale, WHITE, thickness, cv.LINE_AA, 0);
}
