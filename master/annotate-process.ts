import type { ChildProcess } from 'node:child_process';
import { readdirSync, realpathSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { DetectorConfig } from '../proto/detector-config.js';
import { isRunning } from '../shared/child-process.js';
import { relayLogLines, type Logger, type LogLevel } from '../shared/logger.js';
import { makeDirectory } from '../shared/make-directory.js';
import { childScript, ENTRIES } from '../shared/child-script.js';
import { forkDyingWithParent } from '../shared/parent-death.js';
import { InvalidArgumentError } from '../shared/errors.js';
import type { FromAnnotator, ToAnnotator } from './annotate-protocol.js';
import { AnnotatedNames, annotatedName, isAnnotated } from './annotated-name.js';
import type { ImageRecord } from './merge.js';
import { projectPath } from '../shared/project-path.js';

/** The annotator process's entry module. */
export const CHILD_MAIN = projectPath(ENTRIES.annotator);
/** Longest wait for the contact sheet at the end, ms. */
const FINISH_TIMEOUT_MS = 120_000;

/**
 * `--annotate`, run in a child process so the master's thread only hands over records
 * and image bytes: {@link Annotator} (decode, draw, encode, write) in `annotate-child.ts`.
 * The bytes handed over and not yet annotated are {@link pendingBytes}; the master counts
 * them with its window, so a slow annotator slows the reading of inputs instead of
 * piling images up in memory. If the process dies, annotation stops with a warning and
 * the batch goes on.
 */
export class AnnotatorProcess {
  /** Encoded image bytes sent and not yet annotated. */
  pendingBytes = 0;
  /** Annotated copies written, as the process said of each image. */
  written = 0;
  /** Records given the name of an annotated copy (`annotated`). */
  named = 0;
  /** Records that would have been drawn, finished after the process ended: no copy, no name. */
  notDrawn = 0;
  /** Copies an earlier run of a resumed batch named in its records that are not in the folder ({@link checkEarlier}). */
  missingEarlier = 0;
  private readonly proc: ChildProcess;
  private alive = true;
  /** The process wrote the contact sheet and said so. */
  private finished = false;
  private onFinished: (() => void) | undefined;
  private readonly names = new AnnotatedNames();
  /** The folder with every link resolved. */
  private readonly realDir: string;

  /**
   * Creates the folder (with its parents) and starts the process.
   *
   * @throws {@link InvalidArgumentError} when the folder cannot be created
   */
  constructor(dir: string, edge: DetectorConfig['edge'], private readonly logger: Logger, logLevel: LogLevel, logJson: boolean) {
    try {
      makeDirectory(dir);
    } catch (err) {
      throw InvalidArgumentError.format('--annotate', `cannot create the folder ${dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    this.realDir = realpathSync(dir);
    const { fallbackReason } = childScript(CHILD_MAIN);
    // Not a fault (a read-only checkout, as under the systemd unit): the annotator starts as before.
    if (fallbackReason !== undefined) logger.info(`annotate: the annotator runs through tsx (slower to start, ~25 MB more): its entry was not compiled: ${fallbackReason}`);
    this.proc = forkDyingWithParent(CHILD_MAIN, ['ignore', 'ignore', 'pipe', 'ipc']);
    relayLogLines(this.proc.stderr, (text) => {
      logger.warn(`annotate: ${text}`);
    });
    this.proc.on('message', (message: FromAnnotator) => {
      if (message.type === 'done') {
        this.pendingBytes = Math.max(0, this.pendingBytes - message.bytes);
        if (message.written) this.written++;
      } else {
        this.finished = true;
        this.onFinished?.();
      }
    });
    this.proc.on('exit', (code, signal) => {
      if (!this.finished) this.logger.warn(`annotate: the annotator process ended (${signal ?? `code ${code ?? '?'}`}) before it finished: annotated copies of this run are missing from then on, and the contact sheet`);
      this.alive = false;
      this.pendingBytes = 0;
      this.onFinished?.();
    });
    this.proc.on('error', (err) => {
      this.logger.warn(`annotate: annotator process error: ${err.message}`);
    });
    this.send({ type: 'init', dir, edge, logLevel, logJson });
  }

  /**
   * Keeps annotated copies off an input: when `source`, links resolved, is a file in the
   * folder, its name is taken so no copy gets it (an input reached through a link in a
   * walked folder had another image's copy written over it). Call it as each input is read,
   * before its record is named; a copy named before the input was read is not undone.
   */
  protect(source: string): void {
    let real: string;
    try {
      real = realpathSync(source);
    } catch {
      return;
    }
    if (dirname(real) === this.realDir) this.names.take(basename(real));
  }

  /**
   * Takes the names of the annotated copies an earlier run of this (resumed) batch wrote,
   * in its records' order ({@link AnnotatedNames.reserve}), before any image of this run:
   * theirs are kept, and a source of this run with the same name gets `NAME-2.jpg` as
   * within one run.
   */
  reserve(names: readonly { name: string; exact: boolean }[]): void {
    this.names.reserve(names);
  }

  /**
   * Counts the copies an earlier run of this resumed batch named in its records (`annotated`,
   * the `exact` ones of {@link reserve}) that the folder does not hold, into {@link missing},
   * and warns: a run stopped by a second Ctrl-C while its copies were being drawn left
   * records naming copies never written, and the resume said nothing and exited 0 (QA).
   * They are not drawn again: the record's image may be a video frame, or no longer there.
   *
   * @param out - the results file, for the message
   */
  checkEarlier(names: readonly { name: string; exact: boolean }[], out: string): void {
    const named = names.filter((n) => n.exact);
    if (named.length === 0) return;
    let present: Set<string>;
    try {
      present = new Set(readdirSync(this.realDir));
    } catch {
      return;
    }
    this.missingEarlier = named.filter((n) => !present.has(n.name)).length;
    if (this.missingEarlier > 0) {
      this.logger.warn(
        `annotate: ${this.missingEarlier} of the ${named.length} annotated copies that earlier records of ${out} name are not in ${this.realDir} (a run stopped before it wrote them, or they were moved or deleted): counted as not written (exit 3); --overwrite runs the batch again with every copy`,
      );
    }
  }

  /** Copies named in this run's records and not written yet (all of them at a second Ctrl-C, which does not wait). */
  get unwritten(): number {
    return Math.max(0, this.named - this.written);
  }

  /**
   * Hands over one finished record and its encoded image (none: nothing to draw on), and
   * sets the record's `annotated` file name: call it before the record is written. A
   * record none of whose tasks succeeded is not drawn ({@link isAnnotated}).
   */
  add(record: ImageRecord, bytes: Buffer | undefined): void {
    if (bytes === undefined || bytes.length === 0 || !isAnnotated(record)) return;
    if (!this.alive) {
      // Counted: a batch whose annotator died early ended with exit 0 and most copies missing.
      this.notDrawn++;
      return;
    }
    // An input that is a file in the folder had its name taken by protect() when it was read.
    record.annotated = this.names.take(annotatedName(record));
    this.named++;
    this.pendingBytes += bytes.length;
    this.send({ type: 'image', record, bytes });
  }

  /**
   * Annotated copies not written: of records that name one (the process died or hung, or
   * the image could not be drawn or written), of records finished after the process
   * ended ({@link notDrawn}), and of a resumed batch's earlier records ({@link checkEarlier}).
   * Final once {@link finish} returns.
   */
  get missing(): number {
    return this.unwritten + this.notDrawn + this.missingEarlier;
  }

  /**
   * Waits (at most {@link FINISH_TIMEOUT_MS}) for the images handed over and the contact
   * sheet, then ends the process; logs an error when annotated copies are {@link missing}.
   */
  async finish(): Promise<void> {
    if (this.alive) {
      if (this.pendingBytes > 0) this.logger.info(`annotate: finishing the annotated copies (${(this.pendingBytes / 1e6).toFixed(1)} MB of images to go)`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, FINISH_TIMEOUT_MS);
        this.onFinished = () => {
          clearTimeout(timer);
          resolve();
        };
        this.send({ type: 'finish' });
      });
    }
    if (this.alive && !this.finished) this.logger.warn(`annotate: the annotator did not finish within ${FINISH_TIMEOUT_MS / 1000} s; stopping it`);
    this.alive = false;
    if (this.proc.connected) this.proc.disconnect();
    if (isRunning(this.proc)) {
      await new Promise<void>((resolve) => {
        // 5 s after the channel closed: an annotator that has not exited by then is stuck.
        const timer = setTimeout(() => this.proc.kill('SIGKILL'), 5_000);
        this.proc.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    if (this.missing > 0) {
      const parts: string[] = [];
      if (this.unwritten > 0 || this.missingEarlier === 0) parts.push(`${this.unwritten} of the ${this.named} named in the results (\`annotated\`)`);
      if (this.notDrawn > 0) parts.push(`${this.notDrawn} image(s) finished after the annotator ended have none`);
      if (this.missingEarlier > 0) parts.push(`${this.missingEarlier} named by earlier records of the resumed batch`);
      this.logger.error(`annotate: ${this.missing} annotated copies were not written: ${parts.join('; and ')} (see the warnings above)`);
    }
  }

  private send(message: ToAnnotator): void {
    if (!this.proc.connected) return;
    this.proc.send(message, (err) => {
      if (err !== null && this.alive) this.logger.debug(`annotate: send to the annotator failed: ${err.message}`);
    });
  }
}
