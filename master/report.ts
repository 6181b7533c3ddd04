import { fstatSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { TaskKind } from '../proto/task-kinds.js';
import type { SlaveTotals } from './slave-registry.js';
import type { BatchStats } from './stats.js';

/**
 * The timing report of one batch (also written as JSON next to the results). A counter
 * without a doc of its own here is {@link BatchStats}' of the same name.
 */
export interface BatchReport {
  /**
   * The batch was stopped before its end: by Ctrl-C, SIGTERM or SIGHUP (`stoppedBy`
   * `signal`), or because the results file could not be written (`results-write-error`).
   * Its images so far are in the results file; `--resume` runs the rest.
   */
  interrupted: boolean;
  stoppedBy?: 'signal' | 'results-write-error';
  /** Wall time from start to the last record, ms. */
  wallMs: number;
  /** Images and video frames recorded in the results file by this run. */
  images: number;
  /** Of {@link images}, those recorded with a failed task. */
  imagesFailed: number;
  /**
   * With `--annotate`: annotated copies not written, of records that name one (`annotated`:
   * the annotator process died or hung, or the image could not be drawn or written), that
   * finished after the annotator process ended, or, on a resume, that earlier records name
   * and the folder does not hold. Makes the exit code 3.
   */
  annotatedMissing?: number;
  /** Inputs skipped because the resumed results file already held them (`--resume`). */
  imagesResumed: number;
  /** Images a resumed results file held with a failed task (they make the exit code 3 again), whether or not among this run's inputs. */
  imagesResumedFailed: number;
  /**
   * Of {@link images}, those with a task a slave answered: not the images that failed at the
   * master (unreadable, empty, too large, a video that could not be read).
   */
  imagesRun: number;
  /**
   * {@link imagesRun} per second of {@link processingMs}: a master that waited 25 s for its
   * first slave does not count the wait as slow work (wall time when no slave joined), and
   * 100 empty files failed at the master in a few ms do not make 3,000 images/s (QA).
   */
  imagesPerSecond: number;
  /** Tasks of the images recorded ({@link images}), done or failed. */
  tasks: number;
  tasksFailed: number;
  /**
   * Successful tasks of images not recorded when the batch stopped (their other tasks had
   * not finished): they run again on `--resume`. 0 when the batch finished. The per-kind
   * table and the speed-up count them (they were work done); {@link tasks} does not.
   */
  tasksOfUnrecordedImages: number;
  retries: number;
  /** Of `retries`, tasks of slaves that left, were lost or reconnected, put back without using an attempt. */
  retriesAfterSlaveLoss: number;
  leasesExpired: number;
  /** Of the expired leases, those of tasks that had not started: given back without using an attempt. */
  leasesGivenBack: number;
  slavesLost: number;
  /** Backup copies of in-flight tasks sent at the end of the batch, and how many answered first (MapReduce §3.6). */
  backupTasks: number;
  backupsWon: number;
  duplicatesDropped: number;
  messagesDropped: number;
  /** CURVE handshakes refused: peers not on the allow-list, without CURVE or with the wrong master key (each try of a retrying peer counts). */
  handshakesRefused: number;
  /**
   * Sum of compute time (the tasks' CPU time on their workers) over {@link processingMs}:
   * how many cores' worth of work ran in parallel, at most the slaves' cores however many workers they run.
   */
  speedUp: number;
  /**
   * Compute time over the worker time the slaves offered (their threads times the time each
   * was connected): 1.0 = every thread of every connected slave always computing. A slave
   * that joined late or was restarted counts only while it was there.
   */
  parallelEfficiency: number;
  /** Time tasks waited in the master's queue before their lease, ms. */
  queueWaitP50Ms: number;
  queueWaitP95Ms: number;
  /** Time from the first slave's READY to the last record, ms (wall time less start-up). */
  processingMs: number;
  /** Bytes the master sent and received on its socket, all parts. */
  bytesSent: number;
  bytesReceived: number;
  /** Messages the master sent and received (a TASK or RESULT carries many tasks). */
  messagesSent: number;
  messagesReceived: number;
  /** Encoded image bytes read from the inputs, and put on the wire. */
  imageBytesRead: number;
  imageBytesSent: number;
  /**
   * Per task kind, in the batch's order: `tasks` done (of unrecorded images too); compute
   * (CPU) time on the worker, mean, p50, p95 and max, and queue-to-result time, p50 and p95;
   * ms, to 0.1 ms. Percentiles are nearest-rank over a sample of at most 20,000 tasks.
   */
  kinds: { kind: TaskKind; tasks: number; meanMs: number; p50Ms: number; p95Ms: number; maxMs: number; endToEndP50Ms: number; endToEndP95Ms: number }[];
  /**
   * Per slave: `tasks` done there; `failed`, attempts that failed there or ran out of their
   * lease (most were retried and done elsewhere: tasks failed for good are `tasksFailed`);
   * `tasksPerSecond`, over the time it was connected; `utilization`, its compute time over
   * the worker time it offered while connected.
   */
  slaves: { slaveId: string; hostname: string; threads: number; tasks: number; failed: number; computeMs: number; tasksPerSecond: number; utilization: number }[];
  /** The results file, as given to `--out`. */
  resultsFile: string;
}

/**
 * Builds the report from the batch's counters. Rates divide by `processingMs` (by
 * `wallMs` when no slave joined); the byte and message totals of the socket are left 0
 * for the caller to fill in.
 *
 * @param kindOrder - the batch's task kinds, in the order the report lists them
 */
export function buildReport(stats: BatchStats, slaves: SlaveTotals[], wallMs: number, processingMs: number, resultsFile: string, kindOrder: readonly TaskKind[]): BatchReport {
  // The rates run from the first slave's READY; a batch no slave joined has only wall time.
  const rateMs = Math.max(processingMs > 0 ? processingMs : wallMs, 1);
  const kinds: BatchReport['kinds'] = [];
  let computeSum = 0;
  let computed = 0;
  for (const kind of kindOrder) {
    const s = stats.compute.get(kind);
    if (s === undefined) continue;
    computeSum += s.sum;
    computed += s.count;
    const e = stats.endToEnd.get(kind);
    kinds.push({
      kind,
      tasks: s.count,
      meanMs: r1(s.mean),
      p50Ms: r1(s.percentile(50)),
      p95Ms: r1(s.percentile(95)),
      maxMs: r1(s.max),
      endToEndP50Ms: r1(e?.percentile(50) ?? 0),
      endToEndP95Ms: r1(e?.percentile(95) ?? 0),
    });
  }
  return {
    interrupted: false,
    wallMs: Math.round(wallMs),
    images: stats.imagesDone,
    imagesFailed: stats.imagesFailed,
    imagesResumed: stats.imagesResumed,
    imagesResumedFailed: stats.imagesResumedFailed,
    imagesRun: stats.imagesRun,
    imagesPerSecond: r2((stats.imagesRun * 1000) / rateMs),
    tasks: stats.tasksDone + stats.tasksFailed,
    tasksFailed: stats.tasksFailed,
    tasksOfUnrecordedImages: Math.max(0, computed - stats.tasksDone),
    retries: stats.retries,
    retriesAfterSlaveLoss: stats.retriesAfterSlaveLoss,
    leasesExpired: stats.leasesExpired,
    leasesGivenBack: stats.leasesGivenBack,
    slavesLost: stats.slavesLost,
    backupTasks: stats.backupTasks,
    backupsWon: stats.backupsWon,
    duplicatesDropped: stats.duplicatesDropped,
    messagesDropped: stats.messagesDropped,
    handshakesRefused: stats.handshakesRefused,
    speedUp: r2(computeSum / rateMs),
    parallelEfficiency: r2(computeSum / Math.max(1, slaves.reduce((n, s) => n + s.workerMs, 0))),
    queueWaitP50Ms: r1(stats.queueWait.percentile(50)),
    queueWaitP95Ms: r1(stats.queueWait.percentile(95)),
    processingMs: Math.round(processingMs),
    bytesSent: 0,
    bytesReceived: 0,
    messagesSent: 0,
    messagesReceived: 0,
    imageBytesRead: stats.imageBytesRead,
    imageBytesSent: stats.imageBytesSent,
    kinds,
    slaves: slaves.map((s) => ({
      slaveId: s.slaveId,
      hostname: s.hostname,
      threads: s.capacity,
      tasks: s.tasksDone,
      failed: s.tasksFailed,
      computeMs: Math.round(s.computeMs),
      // Over the time it was connected (its worker time over its threads).
      tasksPerSecond: r2((s.tasksDone * 1000) / Math.max(1, s.workerMs > 0 ? s.workerMs / Math.max(1, s.capacity) : rateMs)),
      utilization: r2(s.computeMs / Math.max(1, s.workerMs)),
    })),
    resultsFile,
  };
}

/** The first words of a report's summary: how the batch ended. */
export function batchEnding(r: Pick<BatchReport, 'interrupted' | 'stoppedBy'>): string {
  if (!r.interrupted) return 'Batch finished';
  if (r.stoppedBy === 'results-write-error') return 'Batch stopped (the results file could not be written)';
  return 'Batch interrupted (run again with --resume to finish)';
}

/**
 * The rate after a batch's wall time: over the time from the first slave on, and how long
 * the master waited for it when that was a second or more (`, 25.11 s of it waiting for the
 * first slave; 2.75 images/s from the first slave on`), over the images slaves ran
 * ({@link BatchReport.imagesRun}); none when every image failed at the master.
 */
export function rateText(r: Pick<BatchReport, 'wallMs' | 'processingMs' | 'imagesPerSecond' | 'images' | 'imagesRun'>): string {
  // Every image failed at the master (empty or unreadable files): no slave rate to give.
  if (r.imagesRun === 0 && r.images > 0) return '';
  const rate = r.imagesPerSecond.toFixed(2);
  const of = r.imagesRun < r.images ? `, counting the ${r.imagesRun} image(s) slaves ran (the others failed at the master)` : '';
  if (r.processingMs <= 0) return ` = ${rate} images/s${of}`;
  const waitedMs = r.wallMs - r.processingMs;
  const waited = waitedMs >= 1000 ? `, ${(waitedMs / 1000).toFixed(2)} s of it waiting for the first slave` : '';
  return `${waited}; ${rate} images/s from the first slave on${of}`;
}

/** Slaves that ran no task shown one row each in the summary; more are summed up in one line. */
const MAX_IDLE_SLAVE_ROWS = 10;

/**
 * Formats the report as the plain-text table printed at the end of `master run`; the
 * first line says whether the batch finished or was stopped ({@link batchEnding}). A
 * `--resume` that found every image done gets two lines instead of tables of zeros.
 */
export function formatReport(r: BatchReport): string {
  const lines: string[] = [];
  lines.push('');
  if (r.images === 0 && r.tasks === 0 && r.imagesResumed > 0 && !r.interrupted) {
    // --resume of a finished batch: tables of zeros said nothing.
    const failed = r.imagesResumedFailed > 0 ? `; the file holds ${r.imagesResumedFailed} image(s) with failed tasks (--overwrite runs everything again)` : '';
    const done = r.imagesResumed === 1 ? 'the one input image was' : `all ${r.imagesResumed} input images were`;
    lines.push(`Batch finished: nothing left to do, ${done} already in the results file${failed}`);
    if ((r.annotatedMissing ?? 0) > 0) lines.push(`  annotated copies not written: ${r.annotatedMissing}`);
    lines.push(`Results: ${r.resultsFile}`);
    return lines.join('\n');
  }
  lines.push(`${batchEnding(r)}: ${count(r.images, 'image')}, ${count(r.tasks, 'task')} in ${(r.wallMs / 1000).toFixed(2)} s${rateText(r)}`);
  if (r.tasksOfUnrecordedImages > 0) {
    lines.push(`  (and ${r.tasksOfUnrecordedImages} task(s) done for images not recorded, whose other tasks had not finished: they run again with --resume)`);
  }
  if ((r.annotatedMissing ?? 0) > 0) lines.push(`  annotated copies not written: ${r.annotatedMissing}`);
  if (r.imagesResumed > 0) {
    const failed = r.imagesResumedFailed > 0 ? `; the file holds ${r.imagesResumedFailed} image(s) with failed tasks` : '';
    lines.push(`  (${r.imagesResumed} images were already in the results file and were skipped${failed})`);
  }
  lines.push(`  failed tasks: ${r.tasksFailed} (in ${r.imagesFailed} images)   retries: ${r.retries}${r.retriesAfterSlaveLoss > 0 ? ` (${r.retriesAfterSlaveLoss} of them tasks of slaves that left, were lost or reconnected: no attempt used)` : ''}   leases expired: ${r.leasesExpired}${r.leasesGivenBack > 0 ? ` (${r.leasesGivenBack} of tasks not yet started: given back, no attempt used)` : ''}   slaves lost: ${r.slavesLost}`);
  lines.push(`  backup tasks (end of batch): ${r.backupTasks}, ${r.backupsWon} answered first   duplicate results dropped: ${r.duplicatesDropped}   messages dropped (malformed, forged or stale): ${r.messagesDropped}   handshakes refused: ${r.handshakesRefused}`);
  lines.push(`  speed-up (tasks' CPU time / processing time): ${r.speedUp.toFixed(2)}x   parallel efficiency (of the slaves' threads while connected): ${Math.round(r.parallelEfficiency * 100)}%   processing (first slave to last record): ${(r.processingMs / 1000).toFixed(2)} s`);
  lines.push(`  queue wait p50 / p95: ${r.queueWaitP50Ms.toFixed(1)} / ${r.queueWaitP95Ms.toFixed(1)} ms`);
  if (r.imageBytesRead > 0) {
    lines.push(`  on the wire: ${mb(r.bytesSent)} sent, ${mb(r.bytesReceived)} received in ${r.messagesSent} / ${r.messagesReceived} messages; image bytes sent / read = ${(r.imageBytesSent / r.imageBytesRead).toFixed(3)}`);
  }
  lines.push('');
  lines.push(table(
    ['kind', 'tasks', 'mean ms', 'p50 ms', 'p95 ms', 'max ms', 'e2e p50 ms', 'e2e p95 ms'],
    r.kinds.map((k) => [k.kind, String(k.tasks), k.meanMs.toFixed(1), k.p50Ms.toFixed(1), k.p95Ms.toFixed(1), k.maxMs.toFixed(1), k.endToEndP50Ms.toFixed(1), k.endToEndP95Ms.toFixed(1)]),
  ));
  lines.push('');
  // Peers that joined and ran nothing (1,000 fakes on an insecure bind printed 1,000 rows)
  // are summed up in one line when there are many; the JSON report lists them all.
  const idle = r.slaves.filter((s) => s.tasks === 0 && s.failed === 0);
  const shown = idle.length > MAX_IDLE_SLAVE_ROWS ? r.slaves.filter((s) => s.tasks > 0 || s.failed > 0) : r.slaves;
  lines.push(table(
    // "failed attempts": a bare "failed 1" next to "failed tasks: 0" above read as a contradiction.
    ['slave', 'host', 'threads', 'tasks', 'failed attempts', 'tasks/s', 'utilization'],
    shown.map((s) => [s.slaveId, s.hostname, String(s.threads), String(s.tasks), String(s.failed), s.tasksPerSecond.toFixed(2), `${Math.round(s.utilization * 100)}%`]),
  ));
  if (shown.length < r.slaves.length) lines.push(`  and ${r.slaves.length - shown.length} more slave(s) that joined and ran no task (listed in the JSON report)`);
  lines.push('');
  lines.push(`Results: ${r.resultsFile}`);
  return lines.join('\n');
}

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const fmt = (row: string[]): string => row.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  return [fmt(head), ...rows.map(fmt)].map((l) => `  ${l}`).join('\n');
}

function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(2)} MB`;
}

function r1(n: number): number {
  return Math.round(n * 10) / 10;
}
function r2(n: number): number {
  return Math.round(n * 100) / 100;
}

/** Whether `path` is this process's standard output (`/dev/stdout`, `/proc/self/fd/1`, or the file stdout is redirected to). */
export function isStandardOutput(path: string): boolean {
  try {
    const out = fstatSync(1);
    const target = statSync(path);
    return out.dev === target.dev && out.ino === target.ino;
  } catch {
    return false;
  }
}

/**
 * Whether an output path is no place for files beside it: it lies in /dev or /proc
 * (`/dev/stdout`, even when redirected to a regular file) or is there and is not a regular
 * file (a device, a named pipe).
 */
export function isStreamOrDevice(path: string): boolean {
  if (/^\/(dev|proc)\//.test(resolve(path))) return true;
  try {
    const st = statSync(path, { throwIfNoEntry: false });
    return st !== undefined && !st.isFile();
  } catch {
    // ENOTDIR (a file used as a folder), EACCES, ELOOP: not there as far as this goes;
    // the check of the output paths names the problem.
    return false;
  }
}

/**
 * The HTML report's path: the JSON report's, with `.html` for `.json` (or added); undefined,
 * so no HTML copy, when the report is a device or pipe or lies in /dev or /proc
 * (`--report /dev/null` wrote a regular file `/dev/null.html`).
 */
export function reportHtmlPath(reportFile: string): string | undefined {
  if (isStreamOrDevice(reportFile)) return undefined;
  return /\.json$/i.test(reportFile) ? `${reportFile.slice(0, -5)}.html` : `${reportFile}.html`;
}

/** `1 image`, `2 images`: a count with its noun. */
function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
