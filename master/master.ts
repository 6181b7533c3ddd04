import { existsSync, lstatSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, isAbsolute, relative, resolve } from 'node:path';
import { Command, NO_SESSION, SLAVE_ID_IN_USE } from '../proto/commands.js';
import type { Message, ReadyMessage, TaskSpec, TaskStart } from '../proto/messages.js';
import { MAX_PARTS_PER_MESSAGE, MAX_TASKS_PER_MESSAGE, SMALL_IMAGE_BYTES } from '../proto/schema.js';
import type { TaskKind } from '../proto/task-kinds.js';
import { PROTOCOL_VERSION } from '../proto/version.js';
import type { Clock } from '../shared/clock.js';
import { InputError, toWireError, type ProtocolError, type WireError } from '../shared/errors.js';
import { bindFailureHint, freePortAfter } from '../shared/endpoint.js';
import { readAllowList, readSecretKeyFile, writeEphemeralClientKeys, type EphemeralClientKeys } from '../shared/keys.js';
import { LogBudget } from '../shared/log-budget.js';
import type { Logger } from '../shared/logger.js';
import { isWithin } from '../shared/path-within.js';
import { printable } from '../shared/peer-text.js';
import { writeFileReplacing } from '../shared/write-replacing.js';
import { anyInputEntry, checkInputs, expandInputs } from './ingest/expand.js';
import { MEDIA_EXTENSIONS_TEXT } from './ingest/extensions.js';
import { itemKey, type IngestItem } from './ingest/item.js';
import { FinishedVideos } from './finished-videos.js';
import { Journal, mayPass, type BatchHeader, type OpenedJournal } from './journal.js';
import { LocalSlaves } from './local-slaves.js';
import { AnnotatorProcess } from './annotate-process.js';
import { annotatedNameOfRecord } from './annotated-name.js';
import { mergeImage } from './merge.js';
import { MasterMetrics } from './metrics.js';
import { curveEnabled, resumeFlag, type MasterOptions } from './options.js';
import { buildReport, isStandardOutput, isStreamOrDevice, reportHtmlPath, type BatchReport } from './report.js';
import { renderReportHtml } from './report-html.js';
import { Timeline } from './timeline.js';
import { MasterRouter, peerName, type Refusal, type RouterCurve } from './router.js';
import { planBackups, planDispatch, refusedByAll, unplaceable } from './scheduler.js';
import { hasAnswered, SlaveRegistry, type SlaveInfo } from './slave-registry.js';
import { SmallImageBundle, type ImagePlace } from './small-image-bundle.js';
import { BatchStats } from './stats.js';
import { imageHeader, TaskTable, type TaskEntry } from './task-table.js';
import { projectPath } from '../shared/project-path.js';

/**
 * Most encoded image bytes the master holds at once, whatever the window in images
 * (but always at least one image). The window grows with the credit slaves announce, and
 * a peer announcing the most the protocol allows (1,024 slots + 4,096 queued) made the
 * master load 2,560 images: 118 -> 342 MB of memory for 107 KB frames, gigabytes for
 * camera photos. 128 MiB still holds ~1,200 CCTV frames, or 25 images of 5 MB: 100 tasks
 * for the workers to share.
 */
export const MAX_WINDOW_BYTES = 128 * 1024 * 1024;

/** Images the default window holds per image the slaves' credit covers (see `windowSize`). */
const WINDOW_PER_CREDIT = 1.25;
/** Fewest images the default window holds, whatever the credit: a small cluster's slaves are never short of work. */
const MIN_WINDOW_IMAGES = 16;

/** Distinct refused slave keys logged each on its own line; beyond, refusals are logged once a second (975 random keys gave 990 lines). */
const MAX_REFUSED_KEYS_LOGGED = 50;
/**
 * Lines a minute about slaves joining, leaving and being lost, beyond which they go to the
 * debug level and a count is told at the minute's end: a peer announcing 50 forged slave
 * ids a second wrote 100 lines a second (found by QA). A cluster of up to ~100 slaves
 * starting at once is still logged in full.
 */
const SESSION_LINES_PER_MINUTE = 100;

/** The slave's command-line entry point in this checkout. */
const SLAVE_SCRIPT = projectPath('bin/slave.js');
/** How long work waits with no slave connected before the master says so, ms. */
const NO_SLAVE_WARN_MS = 10_000;
/** How long images no connected slave accepts (--max-message-bytes) wait, with nothing else running, before they fail: slaves started together join some ms apart. */
const UNPLACEABLE_GRACE_MS = 5_000;
/**
 * How long after a slave closed its connection (not fell silent) its READY still counts as
 * from a slave this master heard all along, ms: a slave's back-off between sockets is at
 * most 32 s by default (`--reconnect-max`).
 */
const HEARD_ALL_ALONG_MS = 60_000;
/** How long opening a named pipe as `--out` may take before the master says it waits for a reader, ms. */
const PIPE_WAIT_NOTICE_MS = 300;
/** Most DISCONNECT {@link NO_SESSION} replies the master sends a second, to all peers together (and one a second to each). */
export const NO_SESSION_REPLIES_PER_S = 1000;

/** Exit codes of `master run`. */
export const MASTER_EXIT = {
  /** Every task succeeded. */
  ok: 0,
  /** Fatal error (e.g. address in use; the results file could not be written mid-batch). */
  fatal: 1,
  /** Bad usage: invalid flag or value, missing input, results file conflict. */
  usage: 2,
  /**
   * The batch finished but some tasks failed (their errors are in the results file), or
   * annotated copies were not written (`--annotate`: `annotatedMissing`).
   */
  someFailed: 3,
  /** Interrupted (Ctrl-C / SIGTERM / SIGHUP); run again with --resume to finish. */
  interrupted: 130,
} as const;

/** A progress update: counts of images, slaves and tasks. */
export interface ProgressState {
  /** Images recorded by this run. */
  done: number;
  /** Images of the inputs that a resumed results file already held. */
  skipped: number;
  /** Of `done`, images recorded with a failed task. */
  failed: number;
  /** Slaves connected. */
  slaves: number;
  /** Tasks sent to slaves and not yet answered (backup copies count on each slave). */
  inFlight: number;
}

/** What the master tells its progress display. */
export interface ProgressSink {
  /**
   * Total images, once counted (may never be called for an unbounded input); `exact` false
   * when it is only a lower bound (a video of unknown length counted as one): shown as
   * `N+`, with no ETA.
   */
  setTotal(total: number, exact?: boolean): void;
  /**
   * `done`: images recorded by this run; `skipped`: images of the inputs a resumed results
   * file already held (they count towards the total, not towards this run's rate).
   */
  update(state: ProgressState): void;
  /**
   * The batch is over. `final`, when it ran to its end: the last state, whose images seen
   * are the total (a count made in advance trusts the frame counts videos announce, and a
   * truncated video left the bar at 24/40).
   */
  stop(final?: ProgressState): void;
}

/** How a batch ended. */
export interface BatchOutcome {
  report: BatchReport;
  /** One of {@link MASTER_EXIT}. */
  exitCode: number;
  /** Stopped before its end (a signal, or the results file could not be written). */
  interrupted: boolean;
}

/**
 * Runs one batch: streams the inputs into the {@link TaskTable}, dispatches tasks to
 * slaves with credit-based flow control ({@link planDispatch}), watches heartbeats and
 * leases, merges each image's results into one record in the {@link Journal}, and builds
 * the report. Time comes from the injected clock.
 */
export class Master {
  /** The batch's counters, from which the report is built. */
  readonly stats = new BatchStats();
  /** Prometheus metrics mirroring {@link Master.stats}; the CLI serves them (`--metrics-port`). */
  readonly metrics: MasterMetrics;
  private readonly table: TaskTable;
  private readonly registry: SlaveRegistry;
  /** Writes annotated copies (`--annotate`), created in {@link Master.run}. */
  private annotator: AnnotatorProcess | undefined;
  private router: MasterRouter | undefined;
  /** Throw-away keys of the local slaves, when CURVE is on. */
  private localKeys: EphemeralClientKeys | undefined;
  /** Refusals already logged (bounded), so a retrying peer is logged once. */
  private readonly refusedKeysLogged = new Set<string>();
  private refusedLogAtMs = 0;
  /**
   * The process (host/pid of its READY) behind each slave id, the one before it, and when it
   * changed, monotonic ms: an id whose process alternates is two live slaves sharing it.
   */
  private readonly instances = new Map<string, { current: string; previous: string | undefined; changedMs: number }>();
  /** Slave id -> the process told to leave because another live slave has that id. */
  private readonly expelled = new Map<string, string>();
  /** When each slave id re-announced itself while registered (monotonic ms, last minute), and from which host/pid. */
  private readonly rejoins = new Map<string, { atMs: number; instance: string }[]>();
  /**
   * Slaves lost because their connection closed or a send to them failed, or that said
   * DISCONNECT (as one does that takes this master for dead), not for their silence, by id,
   * monotonic ms: this master heard them to the end, so one that comes back
   * soon took a live master for dead (`heardAllAlong` in the HEARTBEAT answering its READY).
   */
  private readonly lostWhileHeard = new Map<string, number>();
  private readonly rejoinWarned = new Set<string>();
  /** Since when images waited that no connected slave accepts, with nothing else running, monotonic ms. */
  private unplaceableSinceMs: number | undefined;
  /** Since when work has waited with no slave connected, monotonic ms. */
  private noSlaveSinceMs: number | undefined;
  private noSlaveWarnedAtMs = -Infinity;
  /** Peers refused for their protocol version, and when they were last told so, monotonic ms. */
  private readonly versionRefusedAtMs = new Map<string, number>();
  private journal: Journal | undefined;
  private localSlaves: LocalSlaves | undefined;
  private ingest: AsyncIterator<IngestItem> | undefined;
  private ingestDone = false;
  /** When a full file table was last told ({@link warnIfFileTableFull}), monotonic ms. */
  private fileTableWarnedAtMs = -Infinity;
  /** Reading the inputs failed part-way: the batch ends with what was read, exit 1. */
  private inputsFailed = false;
  private filling = false;
  private done: Set<string> = new Set();
  /** Images a resume runs again whose kinds listed get one attempt (journal.ts `lastChanceKinds`), by key. */
  private lastChance: Map<string, TaskKind[]> = new Map();
  /** Images of a resumed results file recorded with a failed task. */
  private failedBefore = 0;
  /** Items the inputs yielded, including those a resumed file already holds. */
  private itemsFound = 0;
  /** Of {@link itemsFound}, those a resumed file already holds. */
  private itemsSkipped = 0;
  private timer: NodeJS.Timeout | undefined;
  private finish: ((interrupted: boolean) => void) | undefined;
  private stopping = false;
  /**
   * Set once shutdown has closed the results file: what slaves send after that (while the
   * socket lingers) is ignored, since an image finished then could not be recorded yet would
   * be counted in the summary, the report and the metrics, and drawn by --annotate.
   */
  private recordsClosed = false;
  /** Every image recorded: see {@link Master.complete}. */
  private completed = false;
  private startedMs = 0;
  /** When a dropped message was last logged (monotonic ms); none yet: the first is logged, also in the master's first second. */
  private droppedLogAtMs = -Infinity;
  /** Start of the current second of {@link askToJoin}'s rate limit, ms, and the replies in it. */
  private noSessionWindowMs = -Infinity;
  private noSessionReplies = 0;
  /** When each peer was last answered 'no session', ms (at most 10,000 peers remembered). */
  private readonly noSessionRepliedAt = new Map<string, number>();
  /** Budget of the join/leave/lost lines: {@link SESSION_LINES_PER_MINUTE}. */
  private readonly sessionLines = new LogBudget(SESSION_LINES_PER_MINUTE, 60_000);
  private dispatchScheduled = false;
  /** Images completed over time, for the report's throughput chart. */
  private readonly timeline = new Timeline();
  /** When the first slave announced itself, monotonic ms (processing starts there). */
  private firstReadyMs: number | undefined;
  /** Set when resuming in another directory than the batch started in: record absolute sources. */
  private absoluteSources = false;
  /** Videos whose frames are being recorded, for their video record; a resumed file's finished ones. */
  private videos: FinishedVideos | undefined;
  /** The endpoint actually bound, once started. */
  endpoint = '';

  /**
   * @param options - validated options ({@link validateMasterOptions})
   * @param clock - monotonic time, ms (tests drive it by hand)
   * @param progress - the progress display, if any
   */
  constructor(
    private readonly options: MasterOptions,
    private readonly logger: Logger,
    private readonly clock: Clock,
    private readonly progress?: ProgressSink,
    /** Items to process instead of `options.inputs` (benchmarks feed synthetic images). */
    private readonly source?: AsyncIterable<IngestItem>,
  ) {
    this.table = new TaskTable(options.maxAttempts, options.annotate !== undefined);
    this.registry = new SlaveRegistry(clock, options.heartbeatIntervalMs, options.heartbeatLiveness);
    this.metrics = new MasterMetrics(options.kinds, { stats: this.stats, table: this.table, slaves: this.registry, router: () => this.router });
  }

  /**
   * Runs the batch to the end (or until {@link Master.stop}).
   *
   * @param checked - called once the inputs, the keys and the results file have been
   *   checked, before the master binds its socket (the CLI starts `/metrics` there, so a
   *   usage error never opens a port first)
   * @throws {@link InputError} for a missing input or inputs with no media,
   *   {@link InvalidArgumentError} for a results file that is in use, refused (exists,
   *   other settings) or cannot be written, or an `--annotate` folder that cannot be created, {@link KeyFileError} (an InvalidArgumentError) for a bad CURVE key
   *   file or allow-list, Error when the endpoint cannot be bound or the results file's lock
   *   cannot be written
   */
  async run(checked?: () => Promise<void>): Promise<BatchOutcome> {
    const o = this.options;
    if (this.source === undefined) {
      await checkInputs(o.inputs);
      if (!(await anyInputEntry(o.inputs))) throw new InputError(`no image or video found in ${o.inputs.join(', ')} (extensions: ${MEDIA_EXTENSIONS_TEXT})`);
    }
    const curve = this.loadCurve();
    const header: BatchHeader = {
      type: 'batch',
      tool: 'cctv-cluster',
      protocol: PROTOCOL_VERSION,
      startedAt: new Date().toISOString(),
      settings: { tasks: o.kinds, every: o.every, frameFormat: o.frameFormat, jpegQuality: o.jpegQuality, detectors: o.detectors },
      cwd: process.cwd(),
      inputs: o.inputs.map((input) => resolve(input)),
    };
    if (o.annotate !== undefined) this.annotator = new AnnotatorProcess(o.annotate, o.detectors.edge, this.logger, o.logLevel, o.logJson);
    // The annotated copies a resumed batch's earlier run wrote keep their names (its records'
    // order replays its -2, -3 suffixes): this run's images of the same name must not replace them.
    const annotatedBefore: { name: string; exact: boolean }[] = [];
    const onRecord = this.annotator === undefined ? undefined : (r: Readonly<Record<string, unknown>>): void => {
      const name = annotatedNameOfRecord(r);
      // Not the names of images run again (their failures may pass): the new copy takes the
      // old one's name, where it got a -2 name beside an orphaned copy (found by QA).
      if (name !== undefined && !mayPass(r)) annotatedBefore.push(name);
    };
    // Locked and checked before the port is bound (a usage error opens no port), written only
    // after: a second master on a port in use (the default one) with --overwrite had
    // truncated the first one's results, then failed to bind.
    const prepared = await Journal.prepare(o.out, header, { resume: o.resume, overwrite: o.overwrite, ...(onRecord === undefined ? {} : { onRecord }) });
    try {
      await checked?.();
    } catch (err) {
      prepared.release();
      throw err;
    }
    this.router = new MasterRouter({
      bind: o.bind,
      maxMessageBytes: o.maxMessageBytes,
      maxHeaderBytes: o.maxHeaderBytes,
      hasJoined: (id) => this.registry.everSeen(id),
      // One interval: a send blocks only on a peer that has not read 1,000 messages (never
      // under credit) or whose connection closed while the socket waited in a receive, which
      // zeromq.js 6 reports as EHOSTUNREACH only when the send times out (measured: a lone
      // SIGKILLed slave was lost after 3.2 s with interval x liveness, 2.0 s with this).
      sendTimeoutMs: o.heartbeatIntervalMs,
      logger: this.logger,
      onMessage: (id, m, p) => {
        this.onMessage(id, m, p);
      },
      onRejected: (id, e) => {
        this.onRejected(id, e);
      },
      onSendFailed: (id, err) => {
        this.onSendFailed(id, err);
      },
      curve,
      onRefused: (r) => {
        this.onRefused(r);
      },
    });
    try {
      this.endpoint = await this.router.bind();
    } catch (err) {
      prepared.release();
      this.localKeys?.cleanup();
      const code = (err as NodeJS.ErrnoException).code;
      const hint = bindFailureHint(o.bind, code, code === 'EADDRINUSE' ? await freePortAfter(o.bind) : undefined);
      throw new Error(`cannot listen on ${o.bind}: ${(err as Error).message}${hint === undefined ? '' : `: ${hint}`}`, { cause: err });
    }
    // Said only when the open waits: a pipe that already has its reader (`--out /dev/stdout |
    // jq`, an anonymous pipe) opens at once, and "waiting for a reader" was wrong there.
    const waiting = statSync(o.out, { throwIfNoEntry: false })?.isFIFO() === true
      ? setTimeout(() => {
          this.logger.info(`--out ${o.out}: waiting for a reader of the named pipe (Ctrl-C to give up)`);
        }, PIPE_WAIT_NOTICE_MS)
      : undefined;
    let opened: OpenedJournal;
    try {
      opened = await prepared.open();
    } catch (err) {
      clearTimeout(waiting);
      await this.router.close(0);
      this.localKeys?.cleanup();
      throw err;
    }
    clearTimeout(waiting);
    this.annotator?.reserve(annotatedBefore);
    this.annotator?.checkEarlier(annotatedBefore, o.out);
    this.journal = opened.journal;
    this.journal.onWriteError = (err) => {
      const why = err.code === 'EPIPE' ? 'EPIPE: the reader of the pipe went away' : err.code === 'ENOENT' ? 'ENOENT: it was deleted, or its folder, while the batch wrote it' : (err.code ?? err.message);
      const resumable = statSync(o.out, { throwIfNoEntry: false })?.isFile() === true;
      this.logger.error(`cannot write results to ${o.out} (${why}); stopping the batch${resumable ? `: the records written so far are kept, and the same command with ${resumeFlag(o)} runs the rest` : ''}`);
      this.stop();
    };
    this.done = opened.done;
    this.lastChance = opened.lastChance;
    this.failedBefore = opened.failedBefore;
    // Relative sources in the file are relative to the directory the batch started in; from
    // another one, this run records absolute paths so the file stays unambiguous.
    const startedIn = opened.previous?.cwd;
    this.absoluteSources = startedIn !== undefined && startedIn !== process.cwd();
    if (this.absoluteSources) this.logger.info(`resuming from another directory than ${startedIn}, where the batch started: new records get absolute paths`);
    const journal = opened.journal;
    this.videos = new FinishedVideos(
      opened.videos,
      opened.done,
      o.every,
      (record) => {
        journal.appendVideo(record);
      },
      (source) => (this.absoluteSources ? resolve(source) : source),
    );
    // Resumed without some of the batch's inputs: their images left to do would be left out
    // in silence, and the run would end "finished" with exit 0.
    const named = header.inputs ?? [];
    const left = (opened.previous?.inputs ?? []).filter((input) => !named.some((n) => isWithin(input, n)));
    if (left.length > 0) {
      this.logger.warn(`${o.out} was started with input(s) this run does not name: ${left.join(', ')}; images of theirs not yet done stay undone (name every input of the batch to finish it)`);
    }
    if (opened.cutBytes > 0) this.logger.warn(`${o.out}: cut ${opened.cutBytes} byte(s) after its last record (an unfinished write, e.g. the master was killed mid-line)`);
    if (opened.badLineCount > 0) {
      const more = opened.badLineCount > opened.badLines.length ? ` and ${opened.badLineCount - opened.badLines.length} more` : '';
      this.logger.warn(`${o.out}: line(s) ${opened.badLines.join(', ')}${more} are not records (edited or damaged) and were skipped; the records around them count`);
    }
    if (o.resume && opened.created) this.logger.warn(`--resume: ${o.out} does not exist yet (or is empty), so there is nothing to resume: starting a new batch there`);
    if (this.done.size > 0) {
      const failed = this.failedBefore > 0 ? ` (${this.failedBefore} of them with failed tasks that would fail again, which keep the exit code at 3; --overwrite runs everything again)` : '';
      // The inputs may have changed since: how many are skipped is known only once they are read.
      const videos = opened.videos.size > 0 ? `, and ${opened.videos.size} video(s) with every frame recorded, which are not read again while unchanged` : '';
      this.logger.info(`resuming ${o.out}: it holds ${this.done.size} images already done${failed}${videos}; the inputs among them are skipped`);
    }
    if (opened.retry.size > 0) {
      this.logger.info(`resuming ${o.out}: ${opened.retry.size} image(s) recorded as failed for causes that may pass (a worker or reader killed, a lease run out, a file that could not be read) run again; their new records replace the old ones`);
    }
    if (opened.lastChance.size > 0) {
      this.logger.info(`resuming ${o.out}: ${opened.lastChance.size} of those image(s) have tasks that ran out of time or crashed their worker: those tasks get one attempt this run, not --max-attempts (the image itself may hang or crash the detector)`);
    }

    this.logger.info(`listening on ${this.endpoint}`);
    if (opened.created) this.removeEarlierReport();
    this.startedMs = this.clock.now();

    if (o.localSlaves > 0) {
      this.localSlaves = new LocalSlaves({
        count: o.localSlaves,
        threads: o.localThreads,
        endpoint: this.endpoint.replace('tcp://0.0.0.0:', 'tcp://127.0.0.1:'),
        heartbeatIntervalMs: o.heartbeatIntervalMs,
        heartbeatLiveness: o.heartbeatLiveness,
        logLevel: o.logLevel === 'info' ? 'warn' : o.logLevel,
        logJson: o.logJson,
        logger: this.logger,
        curve: this.localKeys === undefined ? undefined : { secretKeyFile: this.localKeys.secretKeyFile, masterPublicKeyFile: this.localKeys.serverPublicKeyFile },
        // Its tasks go back at once, counted as a slave lost, rather than after its liveness.
        onEnded: (slaveId, how) => {
          if (!this.stopping && this.registry.get(slaveId) !== undefined) this.loseSlave(slaveId, `its process ${how}`);
        },
      });
      this.localSlaves.start();
      this.logger.info(`started ${o.localSlaves} local slave(s) with ${o.localThreads} worker(s) each`);
    } else {
      this.logger.info(`waiting for slaves: start \`${this.slaveCommand()}\` on each machine`);
    }

    const items =
      this.source ??
      expandInputs(o.inputs, {
        every: o.every,
        encoding: { format: o.frameFormat, jpegQuality: o.jpegQuality },
        maxImageBytes: o.maxImageBytes,
        videoReaders: o.videoReaders,
        // A whole video recorded as failed for good: its frames are not read (QA: a resume
        // recorded them all beside the failed record, and exited 3 for ever after).
        skipVideo: (absolutePath) => {
          if (this.done.has(itemKey(absolutePath))) {
            this.itemsFound++;
            this.itemsSkipped++;
            return true;
          }
          // Every frame recorded and the file unchanged since: decoding it again only to skip
          // its frames took as long as reading it the first time.
          const frames = this.videos?.unchanged(absolutePath);
          if (frames === undefined) return false;
          this.logger.debug(`--resume: ${absolutePath} has each of its ${frames} sampled frame(s) recorded and is unchanged since: not read again`);
          this.itemsFound += frames;
          this.itemsSkipped += frames;
          return true;
        },
        videoDone: (outcome) => {
          this.videos?.read(outcome);
        },
        warn: (message) => {
          this.logger.warn(message);
        },
        info: (message) => {
          this.logger.info(message);
        },
      });
    this.ingest = items[Symbol.asyncIterator]();
    const finished = new Promise<boolean>((resolve) => {
      this.finish = resolve;
    });
    // Four ticks a heartbeat interval (5-250 ms): deaths, leases and heartbeats are checked
    // well within one interval.
    const tickMs = Math.max(5, Math.min(250, Math.floor(o.heartbeatIntervalMs / 4)));
    this.timer = setInterval(() => {
      this.tick();
    }, tickMs);
    this.fillIfWanted();
    const interrupted = await finished;
    return this.shutdown(interrupted);
  }

  /**
   * True once every image is recorded and the master is closing down: a stop request then
   * changes nothing (a Ctrl-C there said "Run again with --resume", then "Batch finished").
   */
  get complete(): boolean {
    return this.completed;
  }

  /** With `--annotate`: copies named in this run's records and not written yet (what a second Ctrl-C, which does not wait, leaves out). */
  get annotatedUnwritten(): number {
    return this.annotator?.unwritten ?? 0;
  }

  /** Stops the batch early: no more dispatching; records so far are kept; resumable. */
  stop(): void {
    if (this.stopping) return;
    this.stopping = true;
    this.finish?.(true);
  }

  /**
   * Whether the results file is open. Before, nothing is written and no slave started: an
   * interrupt can exit at once (the open of a named pipe as OUT waits for its reader).
   */
  get resultsOpen(): boolean {
    return this.journal !== undefined;
  }

  /** The results file could not be written, so the batch stopped ({@link Journal.writeError}). */
  private get resultsWriteFailed(): boolean {
    return this.journal?.writeError !== undefined;
  }

  /** PIDs of local slaves, for tests. */
  get localSlavePids(): number[] {
    return this.localSlaves?.pids ?? [];
  }

  private async shutdown(interrupted: boolean): Promise<BatchOutcome> {
    if (this.timer) clearInterval(this.timer);
    this.stopping = true;
    const wallMs = this.clock.now() - this.startedMs;
    this.drainCompleted();
    this.journal?.close();
    this.recordsClosed = true;
    this.progress?.stop(interrupted ? undefined : this.progressState());
    const reason = interrupted ? 'master interrupted; batch can be resumed' : 'batch complete';
    for (const s of this.registry.all()) this.router?.send(s.slaveId, { cmd: Command.Disconnect, reason });
    this.registry.removeAll(this.startedMs + wallMs);
    this.tellHeldBackSessionLines(this.clock.now(), true);
    // At most 500 ms for the DISCONNECTs queued above to go out.
    await this.router?.close(500);
    await this.localSlaves?.stop();
    // After the slaves are let go: on a large file this takes seconds without heartbeats.
    try {
      const replaced = (await this.journal?.compact()) ?? 0;
      if (replaced > 0) this.logger.info(`${this.options.out}: ${replaced} earlier record(s) of images run again were replaced by their new ones`);
    } catch (err) {
      // Both records stay: the next resume reads the last one, and compacts again.
      this.logger.warn(`${this.options.out}: could not drop the earlier records of images run again: ${(err as Error).message}`);
    }
    // After the slaves are let go: no heartbeats go out from here on.
    await this.annotator?.finish();
    this.localKeys?.cleanup();
    await this.ingest?.return?.(undefined);
    const endMs = this.startedMs + wallMs;
    const processingMs = this.firstReadyMs === undefined ? 0 : endMs - this.firstReadyMs;
    const report = buildReport(this.stats, this.registry.allTotals(endMs), wallMs, processingMs, this.options.out, this.options.kinds);
    report.interrupted = interrupted;
    if (interrupted) report.stoppedBy = this.resultsWriteFailed ? 'results-write-error' : 'signal';
    const persisted = this.journal?.persisted ?? report.images;
    if (this.resultsWriteFailed && persisted < report.images) {
      // The report counts what the file holds: a --resume runs the rest again.
      this.logger.warn(`${report.images - persisted} finished image(s) could not be written to ${this.options.out} and are not counted`);
      // The rate too: "0 images ... 3.44 images/s" read as a contradiction (found by QA).
      report.imagesPerSecond = Math.round((report.imagesPerSecond * persisted * 100) / report.images) / 100;
      report.images = persisted;
      report.imagesFailed = Math.min(report.imagesFailed, persisted);
    }
    report.bytesSent = this.router?.bytesSent ?? 0;
    report.bytesReceived = this.router?.bytesReceived ?? 0;
    report.messagesSent = this.router?.messagesSent ?? 0;
    report.messagesReceived = this.router?.messagesReceived ?? 0;
    // Images recorded as failed for causes that may pass and not run again (their inputs
    // were not named, or a video's reader failed again): their records stand, failed.
    this.failedBefore += this.journal?.replacesLeft ?? 0;
    this.stats.imagesResumed = this.itemsSkipped;
    report.imagesResumed = this.itemsSkipped;
    report.imagesResumedFailed = this.failedBefore;
    if (this.annotator !== undefined) report.annotatedMissing = this.annotator.missing;
    // A resume that finished no image (nothing was left, or Ctrl-C at once) would replace the
    // report of the run that did the work with one of 0 images. Not one that says the batch
    // was interrupted, once it is finished: a master killed between its last record and its
    // report left that one standing for the finished batch (found by QA).
    const nothingNew = this.done.size > 0 && report.images === 0 && existsSync(this.options.reportFile) && (interrupted || !saysInterrupted(this.options.reportFile));
    if (nothingNew) {
      this.logger.info(`no image finished in this run: the report of the earlier run, ${this.options.reportFile}, is kept`);
    } else {
      const json = `${JSON.stringify(report, null, 2)}\n`;
      try {
        // Through this process's own descriptor: opened again by name, a file that stdout is
        // redirected to was truncated, and the summary written after it overwrote the report.
        if (isStandardOutput(this.options.reportFile)) writeSync(1, json);
        else if (isStreamOrDevice(this.options.reportFile)) writeFileSync(this.options.reportFile, json);
        else writeFileReplacing(this.options.reportFile, json);
      } catch (err) {
        this.logger.warn(`could not write the report to ${this.options.reportFile}: ${(err as Error).message}`);
      }
      const html = reportHtmlPath(this.options.reportFile);
      try {
        if (html !== undefined) writeFileReplacing(html, renderReportHtml(report, this.timeline));
      } catch (err) {
        this.logger.warn(`could not write the HTML report to ${html}: ${(err as Error).message}`);
      }
    }
    const someFailed = this.stats.tasksFailed > 0 || this.failedBefore > 0 || (report.annotatedMissing ?? 0) > 0;
    let exitCode: number = this.resultsWriteFailed || this.inputsFailed ? MASTER_EXIT.fatal : interrupted ? MASTER_EXIT.interrupted : someFailed ? MASTER_EXIT.someFailed : MASTER_EXIT.ok;
    if (!interrupted && this.itemsFound === 0 && this.source === undefined) {
      this.logger.error(`no image or video found in ${this.options.inputs.join(', ')}`);
      exitCode = MASTER_EXIT.usage;
    }
    return { report, exitCode, interrupted };
  }

  /**
   * Images held at once: `--window`, or by default the images the slaves' credit covers
   * plus a quarter, at least {@link MIN_WINDOW_IMAGES}. The quarter is pending work ready
   * for credit as it comes back; slaves' own prefetch covers the rest. Twice the credit
   * (the old default) cost the dispatch bench 5-12% more master CPU a task (8 interleaved
   * pairs, 1 and 4 slaves: PROFILE.md): the extra images outlived V8's young generation.
   */
  private windowSize(): number {
    if (this.options.window > 0) return this.options.window;
    let credit = 0;
    for (const s of this.registry.all()) credit += s.capacity + s.prefetch;
    return Math.max(MIN_WINDOW_IMAGES, Math.ceil((WINDOW_PER_CREDIT * credit) / this.options.kinds.length));
  }

  /** Whether the ingest loop should pull another item (state changes across its awaits). */
  private wantsMoreInput(): boolean {
    if (this.ingestDone || this.stopping) return false;
    const images = this.table.imageCount;
    // Images handed to the annotator and not drawn yet count too: a slow --annotate slows
    // the reading of inputs rather than piling images up in memory.
    // With no image in the table bytesHeld is 0, so one image of any size still gets in.
    return images < this.windowSize() && this.table.bytesHeld + (this.annotator?.pendingBytes ?? 0) < MAX_WINDOW_BYTES;
  }

  /**
   * Removes the report (JSON and HTML) of an earlier batch at a new batch's start (a new or
   * `--overwrite`n results file): it stood for this batch until this one ended, and for good
   * when the master was killed (SIGKILL, out of memory). A resumed batch keeps it: it
   * describes the run that recorded the images so far. `checkOutputPaths` (options.ts) has made
   * sure an existing report file is ours or `--overwrite` was given.
   */
  private removeEarlierReport(): void {
    for (const file of [this.options.reportFile, reportHtmlPath(this.options.reportFile)]) {
      // Only a regular file of its own: `--report /dev/stdout` (a link to the file stdout
      // was redirected to) removed the system's /dev/stdout, and a user's link was replaced
      // by a file. A link is written through at the end instead.
      if (file === undefined || isStreamOrDevice(file) || lstatSync(file, { throwIfNoEntry: false })?.isFile() !== true) continue;
      try {
        rmSync(file);
        this.logger.debug(`removed ${file}, the report of an earlier batch`);
      } catch (err) {
        this.logger.warn(`could not remove ${file}, the report of an earlier batch: ${(err as Error).message}`);
      }
    }
  }

  /** Starts {@link Master.fill} unless it runs already or has nothing to do (no promise made then). */
  private fillIfWanted(): void {
    if (!this.filling && this.wantsMoreInput()) void this.fill();
  }

  /** Pulls items from the ingest stream until the window is full. */
  private async fill(): Promise<void> {
    if (this.filling || this.ingestDone || this.stopping || this.ingest === undefined) return;
    this.filling = true;
    try {
      while (this.wantsMoreInput()) {
        let next: IteratorResult<IngestItem>;
        try {
          next = await this.ingest.next();
        } catch (err) {
          // The inputs not read yet are not in the results: said, and the exit status is 1.
          this.logger.error(`reading inputs failed: ${(err as Error).message}; the inputs not read by then are left out of this run (a --resume reads them again)`);
          this.inputsFailed = true;
          this.ingestDone = true;
          break;
        }
        if (next.done === true) {
          this.ingestDone = true;
          break;
        }
        const item = next.value;
        this.itemsFound++;
        let oneAttempt: readonly TaskKind[] | undefined;
        if (this.done.size > 0 || this.absoluteSources || this.lastChance.size > 0) {
          const absolute = resolve(item.source);
          const key = itemKey(absolute, item.frame);
          if (this.done.has(key)) {
            this.itemsSkipped++;
            if (item.frame !== undefined) this.videos?.frame(item.source, true);
            // A video that ended early (cut short since an earlier run read it further) or
            // whose reader died: said, as nothing else would (QA).
            if (item.error !== undefined && item.frame !== undefined) {
              this.logger.warn(`${item.source}: ${item.error}; frame ${item.frame} was recorded by an earlier run, and its record stays`);
            }
            continue;
          }
          oneAttempt = this.lastChance.get(key);
          if (this.absoluteSources) {
            item.source = absolute;
            item.key = key;
          }
        }
        if (item.frame !== undefined) this.videos?.frame(item.source, false);
        let bytes: Buffer | undefined;
        let error: WireError | undefined;
        if (item.error !== undefined) error = toWireError(new InputError(item.error, { retryable: item.errorMayPass === true }));
        else {
          try {
            bytes = await item.load();
          } catch (err) {
            error = toWireError(err);
            this.warnIfFileTableFull(err);
          }
        }
        if (bytes !== undefined) this.stats.imageBytesRead += bytes.length;
        if (item.frame === undefined) this.annotator?.protect(item.source);
        this.table.addImage(item, this.options.kinds, bytes, this.clock.now(), error, oneAttempt);
        this.drainCompleted();
        this.scheduleDispatch();
      }
    } finally {
      this.filling = false;
    }
    this.checkFinished();
  }

  private checkFinished(): void {
    if (this.stopping || !this.ingestDone || this.filling || this.table.imageCount !== 0) return;
    this.completed = true;
    this.finish?.(false);
  }

  /**
   * Runs {@link Master.dispatch} once after the current burst of events, so that the
   * images and results that arrive together go out in few, full TASK messages.
   */
  private scheduleDispatch(): void {
    if (this.dispatchScheduled) return;
    this.dispatchScheduled = true;
    setImmediate(() => {
      this.dispatchScheduled = false;
      this.dispatch();
    });
  }

  private dispatch(): void {
    if (this.stopping || this.router === undefined) return;
    const now = this.clock.now();
    const deadlineFor = this.leaseFor;
    for (const { slaveId, tasks } of planDispatch(this.table, this.registry.credits(this.options.kinds), MAX_TASKS_PER_MESSAGE, MAX_PARTS_PER_MESSAGE)) {
      if (this.registry.get(slaveId) === undefined) continue;
      this.table.lease(
        tasks.map((t) => t.taskId),
        slaveId,
        now,
        deadlineFor,
      );
      this.sendTasks(slaveId, tasks, now);
    }
    // The end of the batch: nothing left to hand out, so idle workers re-run what others still hold.
    if (!this.options.backupTasks || !this.ingestDone || this.table.pendingCount > 0) return;
    // A backup on a slave that has answered nothing may move to another: peers that took
    // tasks and never answered held the last image's backup while a real slave sat idle.
    const replaceable = (holder: string): boolean => !hasAnswered(this.registry.get(holder));
    for (const { slaveId, tasks } of planBackups(this.table, this.registry.credits(this.options.kinds), MAX_TASKS_PER_MESSAGE, MAX_PARTS_PER_MESSAGE, replaceable)) {
      if (this.registry.get(slaveId) === undefined) continue;
      this.table.leaseBackup(
        tasks.map((t) => t.taskId),
        slaveId,
        now,
        deadlineFor,
        replaceable,
      );
      this.stats.backupTasks += tasks.length;
      const held = [...new Set(tasks.map((t) => `image ${t.imageId} (held by ${t.slaveId ?? '?'})`))].join(', ');
      this.logger.debug(`backup: ${tasks.length} task(s) also go to ${slaveId}: ${held}`);
      this.sendTasks(slaveId, tasks, now);
    }
  }

  /** Sends leased (or backup) tasks to a slave in one TASK message, each image's bytes once. */
  private sendTasks(slaveId: string, tasks: readonly TaskEntry[], now: number): void {
    const slave = this.registry.get(slaveId);
    if (slave === undefined || this.router === undefined) return;
    const parts: Buffer[] = [];
    const bundle = new SmallImageBundle(parts);
    const specs: TaskSpec[] = [];
    // The planners put an image's tasks next to each other (Assignment), so only the last
    // image placed is looked up: no map per message.
    let placedImageId = -1;
    let at: ImagePlace = { part: 0 };
    let imageBytes = 0;
    for (const t of tasks) {
      if (t.imageId !== placedImageId) {
        const bytes = this.table.image(t.imageId)?.bytes;
        if (bytes === undefined) continue;
        this.stats.imageBytesSent += bytes.length;
        imageBytes += bytes.length;
        if (bytes.length <= SMALL_IMAGE_BYTES) at = bundle.add(bytes);
        else {
          at = { part: parts.length };
          parts.push(bytes);
        }
        placedImageId = t.imageId;
      }
      const attempt = t.backup?.slaveId === slaveId ? t.backup.attempt : t.attemptsMade;
      // Built whole rather than spread from `at`: two fixed shapes, no copy per task.
      specs.push(
        'offset' in at
          ? { taskId: t.taskId, kind: t.kind, attempt, imageId: t.imageId, part: at.part, offset: at.offset, length: at.length }
          : { taskId: t.taskId, kind: t.kind, attempt, imageId: t.imageId, part: at.part },
      );
      slave.inFlight.set(t.taskId, attempt);
    }
    bundle.close();
    if (specs.length === 0) return;
    slave.lastSentMs = now;
    SlaveRegistry.sentTaskMessage(slave, imageBytes);
    if (!this.router.send(slaveId, { cmd: Command.Task, tasks: specs, config: this.options.detectors }, parts)) {
      this.releaseSlave(slaveId, `send queue to slave ${slaveId} is full`);
    }
  }

  private tick(): void {
    if (this.stopping || this.router === undefined) return;
    const now = this.clock.now();
    this.tellHeldBackSessionLines(now);
    for (const s of this.registry.dead()) {
      this.loseSlave(s.slaveId, `no heartbeat for ${Math.round(s.liveness.silentForMs())} ms`, true);
    }
    const lastProgressMs = (slaveId: string): number | undefined => this.registry.get(slaveId)?.lastProgressMs;
    for (const t of this.table.expiredLeases(now, lastProgressMs, this.leaseFor)) {
      // Given back already, queued behind a task of its image whose lease ran out.
      if (t.state !== 'leased') continue;
      this.stats.leasesExpired++;
      const { slaveId, startedAtMs, attemptsMade } = t;
      // On a slave that has answered nothing yet, an expired lease says more about the slave
      // than the task (a peer that READYs and never reads): a give-back, not an attempt. So
      // does one of a task that never started, queued on a slave that reports starts (its
      // workers hung or far too slow): a slave's only worker hung for its --task-timeout
      // used to fail every task queued behind it once leases were shorter than that.
      const holder = slaveId === undefined ? undefined : this.registry.get(slaveId);
      const neverStarted = startedAtMs === undefined && holder?.reportsStarts === true;
      const countsAsAttempt = holder === undefined || (hasAnswered(holder) && !neverStarted);
      if (!countsAsAttempt) this.stats.leasesGivenBack++;
      const d = this.table.fail(t.taskId, attemptsMade, slaveId, {
        name: 'LeaseExpiredError',
        message: `lease on slave ${slaveId ?? '?'} ran out after ${this.options.leaseMs[t.kind]} ms`,
        retryable: true,
      }, countsAsAttempt);
      // A give-back is no failed attempt of the slave's (the records say attempts 1 too).
      this.countFailDisposition(d, slaveId, t.kind, countsAsAttempt);
      const how = startedAtMs === undefined ? 'queued there' : `started ${Math.round(now - startedAtMs)} ms before`;
      this.logger.debug(`lease of task ${t.taskId} (${t.kind}, image ${t.imageId}, attempt ${attemptsMade}) on ${slaveId ?? '?'} ran out, ${how}: ${d}`);
      if (startedAtMs !== undefined && slaveId !== undefined) this.giveBackQueuedBehind(t, slaveId);
    }
    for (const s of this.registry.all()) {
      if (now - s.lastSentMs >= this.options.heartbeatIntervalMs) {
        s.lastSentMs = now;
        this.router.send(s.slaveId, { cmd: Command.Heartbeat, heartbeatIntervalMs: this.options.heartbeatIntervalMs });
      }
    }
    this.warnIfNoSlave(now);
    this.failUnplaceable(now);
    this.drainCompleted();
    this.scheduleDispatch();
    this.fillIfWanted();
    this.reportProgress();
  }

  /**
   * Takes back the leases of `expired`'s image's tasks still queued on `slaveId`, just after
   * `expired` (reported started) ran out of its lease there: they wait behind it on its
   * worker, and the slave's other workers, still answering, would otherwise renew their
   * leases until the slave ran dry or its `--task-timeout` killed the worker (300 s). They
   * never ran, so each is a give-back, not an attempt. (The slave itself hands them to an
   * idle worker of its own once nothing else is queued there: work stealing in its pool.)
   */
  private giveBackQueuedBehind(expired: TaskEntry, slaveId: string): void {
    for (const q of this.table.queuedBehind(slaveId, expired.imageId)) {
      this.stats.leasesExpired++;
      this.stats.leasesGivenBack++;
      const d = this.table.fail(q.taskId, q.attemptsMade, slaveId, {
        name: 'LeaseExpiredError',
        message: `queued on slave ${slaveId} behind task ${expired.taskId} (${expired.kind}) of its image, whose lease ran out after ${this.options.leaseMs[expired.kind]} ms`,
        retryable: true,
      }, false);
      this.countFailDisposition(d, slaveId, q.kind, false);
      this.logger.debug(`lease of task ${q.taskId} (${q.kind}, image ${q.imageId}) on ${slaveId} taken back: queued behind task ${expired.taskId}: ${d}`);
    }
  }

  /**
   * Fails the images no connected slave can take, once nothing else is running and that
   * has lasted {@link UNPLACEABLE_GRACE_MS}: over every slave's `--max-message-bytes`
   * ({@link planDispatch} rule 5), or refused by every one as over its own limits (rule 6).
   * A slave that takes them may still join (slaves started together join some ms apart),
   * but the batch must end.
   */
  private failUnplaceable(now: number): void {
    const slaves = this.registry.credits(this.options.kinds);
    const stuck = slaves.every((s) => s.inFlight === 0) ? unplaceable(this.table, slaves) : [];
    if (stuck.length === 0) {
      this.unplaceableSinceMs = undefined;
      return;
    }
    this.unplaceableSinceMs ??= now;
    if (now - this.unplaceableSinceMs < UNPLACEABLE_GRACE_MS) return;
    const limits = slaves.map((s) => `${s.slaveId} ${s.maxImageBytes ?? '?'}`).join(', ');
    const refused = new Set(stuck.filter((t) => refusedByAll(t, slaves, this.table)));
    const oversized = stuck.filter((t) => !refused.has(t));
    const count = (tasks: Iterable<TaskEntry>): number => new Set([...tasks].map((t) => t.imageId)).size;
    if (oversized.length > 0) this.logger.warn(`${count(oversized)} image(s) are larger than any connected slave accepts in a message (--max-message-bytes: ${limits}): their tasks fail`);
    if (refused.size > 0) this.logger.warn(`${count(refused)} image(s) are over the limits of every connected slave (--max-image-pixels, --max-image-bytes): their tasks fail`);
    const pixelLimits = slaves.map((s) => `${s.slaveId} ${s.maxImagePixels ?? '?'}`).join(', ');
    for (const t of stuck) {
      const image = this.table.image(t.imageId);
      const size = image?.bytes?.length ?? 0;
      const header = image === undefined ? undefined : imageHeader(image);
      // The slave's own refusal, or, for an image sent to none, what its header says.
      const refusal = t.lastError?.name === 'ImageTooLargeError' ? `${t.lastError.message}; ` : '';
      const message = !refused.has(t)
        ? `image is ${size} bytes, over what every connected slave accepts in a message (--max-message-bytes: ${limits})`
        : refusal === '' && header !== undefined
          ? `image is ${header.width}x${header.height} px, over the --max-image-pixels of every connected slave (${pixelLimits})`
          : `${refusal}over the limits (--max-image-pixels, --max-image-bytes) of every connected slave (${slaves.map((s) => s.slaveId).join(', ')})`;
      // Retryable: it is over the limits of the slaves connected now, and a --resume with
      // others runs it (QA: it was 'would fail again' for good).
      const d = this.table.failPending(t.taskId, { name: 'ImageTooLargeError', message, retryable: true });
      this.countFailDisposition(d, undefined, t.kind);
    }
    this.unplaceableSinceMs = undefined;
  }

  /**
   * Says so when work waits and no slave is connected (they all died or left, or none
   * came): after {@link NO_SLAVE_WARN_MS} without one, then once a minute. Without it a
   * master whose slaves were all killed waited in silence.
   */
  private warnIfNoSlave(now: number): void {
    if (this.registry.size > 0 || this.table.imageCount === 0) {
      this.noSlaveSinceMs = undefined;
      return;
    }
    this.noSlaveSinceMs ??= now;
    if (now - this.noSlaveSinceMs < NO_SLAVE_WARN_MS || now - this.noSlaveWarnedAtMs < 60_000) return;
    this.noSlaveWarnedAtMs = now;
    // Not a count of the images left: only those read ahead into memory are known here.
    this.logger.warn(`no slave connected for ${Math.round((now - this.noSlaveSinceMs) / 1000)} s; the batch waits: start \`${this.slaveCommand()}\``);
  }

  /**
   * The command that starts a slave for this master (as the README runs it, from a
   * checkout of the project), for the log: a wildcard address
   * (`0.0.0.0`, `[::]`) becomes this host's name, and with CURVE the key flags are named
   * (the slave's own `.key`, and the `.pub` beside the master's `.key`).
   */
  private slaveCommand(): string {
    const endpoint = this.endpoint.replace(/^tcp:\/\/(0\.0\.0\.0|\[::\]|\*):/, `tcp://${hostname()}:`);
    const key = this.options.curveSecretKeyFile;
    const curve = key === undefined ? '' : ` --curve-secret-key SLAVE.key --master-public-key ${basename(key).replace(/\.key$/, '')}.pub`;
    // bin/slave.js of this checkout, as the README runs it; absolute when started elsewhere.
    const script = relative(process.cwd(), SLAVE_SCRIPT);
    return `node ${script.startsWith('..') || isAbsolute(script) ? SLAVE_SCRIPT : script} --connect ${endpoint}${curve}`;
  }

  private reportProgress(): void {
    this.progress?.update(this.progressState());
  }

  private progressState(): ProgressState {
    let inFlight = 0;
    for (const s of this.registry.all()) inFlight += s.inFlight.size;
    return { done: this.stats.imagesDone, skipped: this.itemsSkipped, failed: this.stats.imagesFailed, slaves: this.registry.size, inFlight };
  }

  /**
   * Says so (at most once a minute) when input files cannot be opened for a full file
   * table: each such image waits ~4 s and then fails, retryable, and a lasting EMFILE
   * failed 184 images over 2 minutes with nothing in the log (found by QA).
   */
  private warnIfFileTableFull(err: unknown): void {
    // loadImageFile's InputError carries the system's error as its cause.
    const code = ((err as { cause?: unknown }).cause as NodeJS.ErrnoException | undefined)?.code;
    if (code !== 'EMFILE' && code !== 'ENFILE') return;
    const now = this.clock.now();
    if (now - this.fileTableWarnedAtMs < 60_000) return;
    this.fileTableWarnedAtMs = now;
    this.logger.warn(`input files cannot be opened: too many open files (${code}; \`ulimit -n\` is the limit); their images fail, to be run again by --resume`);
  }

  /** Notes that this master heard `slaveId` until its session ended (see {@link lostWhileHeard}). */
  private heardToTheEnd(slaveId: string): void {
    if (this.lostWhileHeard.size >= 1000) this.lostWhileHeard.clear();
    this.lostWhileHeard.set(slaveId, this.clock.now());
  }

  /** A slave died or vanished: all its leases go back to the queue at once. */
  private loseSlave(slaveId: string, why: string, silent = false): void {
    if (silent) this.lostWhileHeard.delete(slaveId);
    else this.heardToTheEnd(slaveId);
    const leases = this.table.leasesOf(slaveId);
    const handedOver = leases.filter((t) => t.backup !== undefined).length;
    this.stats.slavesLost++;
    const toBackups = handedOver > 0 ? `, ${handedOver} to the backup copies already running elsewhere` : '';
    this.sessionLog('warn', `slave ${slaveId} is lost (${why}); ${leases.length - handedOver} task(s) go back to the queue${toBackups}`);
    this.releaseSlave(slaveId, `slave ${slaveId} lost: ${why}`);
    // One of this master's own slaves, still running but silent (stopped or hung): ended, and so started again.
    if (this.localSlaves?.killHung(slaveId) === true) this.logger.warn(`local slave ${slaveId} still runs but is silent: killed, to be started again`);
  }

  /** Puts every lease of a slave back in the queue (or hands it to its running backup copy) and forgets the slave. */
  private releaseSlave(slaveId: string, reason: string): void {
    this.table.dropBackupsOf(slaveId);
    // A slave that answered nothing in its session proves nothing about its tasks: eleven
    // peers that READY and leave at once failed images on give-backs alone.
    const proven = hasAnswered(this.registry.get(slaveId));
    for (const t of this.table.leasesOf(slaveId)) {
      // Not the task's fault: the attempt is given back (a hung task still uses up attempts by lease expiry).
      const d = this.table.fail(t.taskId, t.attemptsMade, slaveId, { name: 'SlaveLostError', message: reason, retryable: true }, false, proven);
      this.countFailDisposition(d, slaveId, t.kind, false);
      if (d === 'retry') this.stats.retriesAfterSlaveLoss++;
    }
    this.registry.remove(slaveId);
    this.drainCompleted();
    this.scheduleDispatch();
  }

  /** Counts a retry; with `byTheSlave`, also a failed task in the slave's row of the report (not for leases it merely gave back by leaving or dying). */
  private countFailDisposition(d: string, slaveId: string | undefined, kind: TaskKind, byTheSlave = true): void {
    if (d === 'retry') this.stats.retries++;
    if (d === 'retry') this.metrics.taskRetried(kind);
    if (byTheSlave && (d === 'retry' || d === 'failed') && slaveId !== undefined) this.registry.recordFailed(slaveId);
  }

  private drainCompleted(): void {
    if (this.recordsClosed) return;
    const completed = this.table.takeCompleted();
    if (completed.length === 0) return;
    for (const image of completed) {
      const record = mergeImage(image, this.options.kinds);
      // First: it names the annotated copy in the record (`annotated`).
      this.annotator?.add(record, image.bytes);
      this.journal?.append(record, this.journal.replaces.size > 0 ? itemKey(resolve(record.source), record.frame) : undefined);
      this.videos?.recorded(record);
      image.bytes = undefined;
      this.stats.imagesDone++;
      this.timeline.add(this.clock.now() - this.startedMs);
      if (!record.ok) this.stats.imagesFailed++;
      if (image.outcomes.some((o) => o?.slaveId !== undefined)) this.stats.imagesRun++;
      for (const o of image.outcomes) {
        if (o?.ok === true) this.stats.tasksDone++;
        else if (o?.ok === false) this.stats.tasksFailed++;
      }
      this.metrics.imageRecorded(image);
    }
    this.reportProgress();
    this.fillIfWanted();
    this.checkFinished();
  }

  private onMessage(slaveId: string, message: Message, _payload: Buffer[]): void {
    if (this.recordsClosed) return;
    if (message.cmd === 'READY') {
      this.onReady(slaveId, message);
      return;
    }
    const slave = this.registry.get(slaveId);
    slave?.liveness.heard();
    switch (message.cmd) {
      case 'HEARTBEAT':
        if (slave === undefined) {
          // A slave of this batch taken for lost (stopped a while, a link cut) still beats
          // until it joins again: a recovery, not a message to count as dropped (QA).
          if (this.registry.everSeen(slaveId)) this.logger.debug(`HEARTBEAT from ${peerName(slaveId)}, lost earlier: asked to send READY again`);
          else this.dropped(slaveId, 'HEARTBEAT from a slave that has not sent READY', 'unknown_slave');
          this.askToJoin(slaveId);
        } else {
          if (message.heartbeatIntervalMs !== undefined) slave.liveness.peerInterval(message.heartbeatIntervalMs);
          if (message.running !== undefined) this.onStarted(slave, message.running);
          // Images it said arrived make room for the next (IN_FLIGHT_BYTES).
          if (message.received !== undefined && SlaveRegistry.received(slave, message.received)) this.scheduleDispatch();
        }
        return;
      case 'RESULT': {
        if (!this.registry.everSeen(slaveId)) {
          this.dropped(slaveId, 'RESULT from an unknown slave', 'unknown_slave');
          this.askToJoin(slaveId);
          return;
        }
        const now = this.clock.now();
        const refused = new RefusedAnswers();
        for (const r of message.results) {
          if (!this.table.mayAnswer(r.taskId, slaveId)) {
            refused.add(`answer for task ${r.taskId}, which was never sent to it`, 'not_holder');
            continue;
          }
          if (this.wrongKind(r.taskId, r.kind, refused)) continue;
          slave?.inFlight.delete(r.taskId);
          if (slave) slave.lastProgressMs = now;
          // An accepted task stays in the table until its image is taken out below.
          const task = this.table.task(r.taskId);
          const byBackup = task?.backup?.slaveId === slaveId;
          // The holder of the other copy (primary or backup), whose answer is now a duplicate.
          const otherCopy = byBackup ? task.slaveId : task?.backup?.slaveId;
          const d = this.table.complete(r, slaveId);
          if (d === 'accepted') {
            if (byBackup) this.stats.backupsWon++;
            // Not held any more as far as the batch goes: the in-flight gauge read 4 after a
            // batch whose 4 backup copies lost, for as long as the master lingered.
            if (otherCopy !== undefined && otherCopy !== slaveId) this.registry.get(otherCopy)?.inFlight.delete(r.taskId);
            const latencyMs = task === undefined ? 0 : now - task.queuedAtMs;
            this.stats.addTask(r.kind, r.computeMs, latencyMs);
            if (task) this.stats.queueWait.add(task.leasedAtMs - task.queuedAtMs);
            this.metrics.taskDone(r.kind, r.computeMs, latencyMs);
            this.registry.recordDone(slaveId, r.computeMs);
          } else if (d === 'duplicate') this.stats.duplicatesDropped++;
          else refused.add(`RESULT for unknown task ${r.taskId}`, 'unknown_task');
        }
        this.droppedAnswers(slaveId, refused);
        break;
      }
      case 'FAIL': {
        if (!this.registry.everSeen(slaveId)) {
          this.dropped(slaveId, 'FAIL from an unknown slave', 'unknown_slave');
          this.askToJoin(slaveId);
          return;
        }
        const now = this.clock.now();
        const refused = new RefusedAnswers();
        for (const f of message.failures) {
          if (!this.table.mayAnswer(f.taskId, slaveId)) {
            refused.add(`answer for task ${f.taskId}, which was never sent to it`, 'not_holder');
            continue;
          }
          if (this.wrongKind(f.taskId, f.kind, refused)) continue;
          slave?.inFlight.delete(f.taskId);
          if (slave) slave.lastProgressMs = now;
          // A draining slave hands back what it will not run: no attempt used, and no failed
          // attempt in its row of the report (the summary said "failed attempts 8" of 0).
          const leaving = f.error.name === 'SlaveLeavingError';
          // Not sent more: a slave that gave its READY while leaving (its socket reconnected to
          // a restarted master mid-drain) was sent tasks again and again, 80 bounces in 13 ms.
          if (leaving && slave !== undefined) slave.leaving = true;
          // Over this slave's own limits: the image goes to another slave, using no attempt.
          const refusedHere = f.error.name === 'ImageTooLargeError' && f.error.retryable;
          if (refusedHere) this.table.markRefused(f.taskId, slaveId);
          const d = this.table.fail(f.taskId, f.attempt, slaveId, f.error, !leaving && !refusedHere);
          if (d === 'unknown') refused.add(`FAIL for unknown task ${f.taskId}`, 'unknown_task');
          else if (d === 'duplicate') this.stats.duplicatesDropped++;
          else if (d === 'backup-dropped') this.logger.debug(`backup of task ${f.taskId} (${f.kind}) failed on ${slaveId}: ${errorText(f.error)}`);
          else if (refusedHere && d === 'retry') this.logger.debug(`task ${f.taskId} (${f.kind}) refused by ${slaveId}, over its limits: ${errorText(f.error)}`);
          else {
            this.countFailDisposition(d, slaveId, f.kind, !leaving && !refusedHere);
            if (leaving && d === 'retry') this.stats.retriesAfterSlaveLoss++;
            this.logger.debug(`task ${f.taskId} (${f.kind}) failed on ${slaveId}: ${errorText(f.error)}`);
          }
        }
        this.droppedAnswers(slaveId, refused);
        break;
      }
      case 'DISCONNECT': {
        if (slave === undefined) return;
        const reason = printable(message.reason, 200);
        if (message.draining === true && slave.inFlight.size > 0) {
          slave.leaving = true;
          this.sessionLog('info', `slave ${slaveId} is leaving: ${reason}`);
        } else {
          this.sessionLog('info', `slave ${slaveId} left: ${reason}`);
          // Heard to the end: a slave that let go because this master was silent to it
          // learns, when it comes back, that its messages were only slow.
          this.heardToTheEnd(slaveId);
          this.releaseSlave(slaveId, `slave ${slaveId} left: ${reason}`);
        }
        return;
      }
      case 'TASK':
        this.dropped(slaveId, 'TASK sent to the master', 'unexpected_command');
        return;
    }
    if (slave?.leaving === true && slave.inFlight.size === 0) {
      this.sessionLog('info', `slave ${slaveId} left: none of its tasks is in flight (each is done or was handed back)`);
      this.releaseSlave(slaveId, `slave ${slaveId} left`);
    }
    this.drainCompleted();
    this.scheduleDispatch();
  }

  /** Lease length of a task kind, ms (`--lease`). */
  private readonly leaseFor = (kind: TaskKind): number => this.options.leaseMs[kind];

  /**
   * A slave reports tasks started on its workers: their leases now run from here, so time
   * spent queued behind its other tasks does not use them up (a healthy slave with big
   * images used to have its queued tasks' leases run out and be redone). Reports of tasks
   * it does not hold are ignored: a start proves nothing about the task, so no count.
   */
  private onStarted(slave: SlaveInfo, running: readonly TaskStart[]): void {
    const now = this.clock.now();
    let matched = false;
    for (const r of running) if (this.table.started(r.taskId, r.attempt, slave.slaveId, now, this.leaseFor)) matched = true;
    if (matched) {
      slave.lastProgressMs = now;
      slave.reportsStarts = true;
    }
  }

  private onReady(slaveId: string, ready: ReadyMessage): void {
    if (ready.slaveId !== slaveId) {
      this.dropped(slaveId, `READY names slave ${printable(ready.slaveId)} but arrived from ${peerName(slaveId)}`, 'id_mismatch');
      return;
    }
    if (this.refuseDuplicate(slaveId, ready)) return;
    const before = this.registry.get(slaveId);
    if (before !== undefined) {
      // Said, since the retries it causes showed in the summary beside "slaves lost: 0".
      if (before.inFlight.size > 0) this.sessionLog('info', `slave ${slaveId} reconnected (a new session): its ${before.inFlight.size} task(s) in flight run again, using no attempt`);
      this.releaseSlave(slaveId, `slave ${slaveId} reconnected`);
      this.noteRejoin(slaveId, instanceOf(ready));
    }
    const info = this.registry.add(ready);
    // A new session may run with other limits (a slave restarted without its
    // --max-image-pixels was never offered the images it had refused).
    this.table.clearRefusalsBy(slaveId);
    this.firstReadyMs ??= this.clock.now();
    this.sessionLog('info', `slave ${slaveId} joined: ${ready.host.hostname}, ${ready.capacity} worker(s), OpenCV ${ready.host.opencv}`);
    if (ready.heartbeatIntervalMs !== undefined && ready.heartbeatIntervalMs > this.options.heartbeatIntervalMs) {
      this.sessionLog('info', `slave ${slaveId} heartbeats every ${ready.heartbeatIntervalMs} ms, this master every ${this.options.heartbeatIntervalMs} ms: its silence is judged by its interval (${ready.heartbeatIntervalMs} ms x ${this.options.heartbeatLiveness})`);
    }
    // Also tells the slave this master's interval before any task can keep it waiting, and
    // whether this master heard it all along (then it took a live master for dead).
    const lostAtMs = this.lostWhileHeard.get(slaveId);
    this.lostWhileHeard.delete(slaveId);
    const heardAllAlong = before !== undefined || (lostAtMs !== undefined && this.clock.now() - lostAtMs < HEARD_ALL_ALONG_MS);
    this.router?.send(slaveId, { cmd: Command.Heartbeat, heartbeatIntervalMs: this.options.heartbeatIntervalMs, ...(heardAllAlong ? { heardAllAlong: true as const } : {}) });
    info.lastSentMs = this.clock.now();
    this.scheduleDispatch();
    this.fillIfWanted();
  }

  /**
   * Two live slave processes with one `--slave-id` take the connection from each other on
   * every reconnect (ROUTER handover) and get next to nothing done. Seen as the id's process
   * (host/pid) going A -> B -> A within a minute: B, the one that came second, is told to
   * leave with a DISCONNECT it does not reconnect after ({@link SLAVE_ID_IN_USE}), now
   * and whenever it announces itself again. A slave restarted under the same id (A -> B)
   * is no duplicate.
   *
   * @returns true when this READY was refused (nothing registered)
   */
  private refuseDuplicate(slaveId: string, ready: ReadyMessage): boolean {
    const instance = instanceOf(ready);
    const now = this.clock.now();
    const seen = this.instances.get(slaveId);
    const expelled = this.expelled.get(slaveId);
    if (expelled === undefined && seen !== undefined && seen.current !== instance && seen.previous === instance && now - seen.changedMs < 60_000) {
      this.expelled.set(slaveId, seen.current);
      this.logger.error(`two slaves are running with the slave id ${slaveId}: ${instance} (first) and ${seen.current} (host/pid); telling ${seen.current} to leave. Give each slave its own --slave-id`);
    }
    if (this.expelled.get(slaveId) === instance) {
      this.router?.send(slaveId, { cmd: Command.Disconnect, reason: `${SLAVE_ID_IN_USE}: slave ${slaveId} is already connected from another process (${seen?.current ?? 'unknown'}, host/pid); start this one with its own --slave-id` });
      return true;
    }
    if (seen === undefined || seen.current !== instance) {
      if (this.instances.size >= 10_000) this.instances.clear();
      this.instances.set(slaveId, { current: instance, previous: seen?.current, changedMs: now });
    }
    return false;
  }

  /**
   * Warns (once per id) when a slave id announces itself again and again while this master
   * still hears it: two slaves started with the same --slave-id take each other's
   * connection (ZeroMQ handover) and both keep reconnecting; one process (one host/pid)
   * doing it is a slave that takes this master for dead, its messages being slow to arrive
   * (large images over a slow link: it waits longer after each time, up to a limit).
   *
   * @param instance - the READY's `host/pid`
   */
  private noteRejoin(slaveId: string, instance: string): void {
    // This master's own slaves come back under their id when it starts them again.
    if (this.rejoinWarned.has(slaveId) || this.localSlaves?.owns(slaveId) === true) return;
    const now = this.clock.now();
    const recent = (this.rejoins.get(slaveId) ?? []).filter((r) => now - r.atMs < 60_000);
    recent.push({ atMs: now, instance });
    if (this.rejoins.size > 1000) this.rejoins.clear();
    this.rejoins.set(slaveId, recent);
    if (recent.length < 3) return;
    this.rejoinWarned.add(slaveId);
    if (recent.every((r) => r.instance === instance)) {
      this.logger.warn(`slave ${slaveId} (${instance}) reconnected ${recent.length} times within a minute while this master still heard it: it takes the master for dead while large messages cross a slow link to it. It waits longer each time; a larger --heartbeat-liveness on the slave, or a smaller --prefetch, avoids the lost transfers`);
    } else {
      this.logger.warn(`slave ${slaveId} announced itself ${recent.length} times within a minute while connected, from ${[...new Set(recent.map((r) => r.instance))].join(' and ')} (host/pid): are two slaves running with the same --slave-id? (each takes the other's connection)`);
    }
  }

  /**
   * Refuses an answer that names another kind than its task's. Checked before the answer
   * counts for anything: such an answer used to give the sender its credit back while the
   * task stayed leased to it, so a peer that swapped kinds was sent the whole window and
   * held it for a lease (a tester's batch: 262 s instead of 37).
   *
   * @returns true when refused (added to `refused`)
   */
  private wrongKind(taskId: number, kind: TaskKind, refused: RefusedAnswers): boolean {
    const task = this.table.task(taskId);
    if (task === undefined || task.kind === kind) return false;
    refused.add(`answer for task ${taskId} as ${kind}, which is a ${task.kind} task`, 'kind_mismatch');
    return true;
  }

  /** Counts a RESULT or FAIL message with answers the master refused as one dropped message. */
  private droppedAnswers(slaveId: string, refused: RefusedAnswers): void {
    if (refused.first === undefined) return;
    const more = refused.count > 1 ? ` (and ${refused.count - 1} more refused answer(s) in the message)` : '';
    this.dropped(slaveId, `${refused.first.why}${more}`, refused.first.reason);
  }

  /** Reads the CURVE keys when configured (before anything is written), and makes the local slaves' keys. */
  private loadCurve(): RouterCurve | undefined {
    const o = this.options;
    if (o.curveSecretKeyFile === undefined || o.allowKeys === undefined) return undefined;
    const own = readSecretKeyFile(o.curveSecretKeyFile);
    if (own.exposed) this.logger.warn(`${o.curveSecretKeyFile} is readable by other users: chmod 600 it`);
    const allow = readAllowList(o.allowKeys);
    const keys = new Map(allow.keys);
    if (o.localSlaves > 0) {
      this.localKeys = writeEphemeralClientKeys(own.publicKey);
      keys.set(this.localKeys.publicKey, 'local slaves (temporary key)');
    }
    this.logger.info(`CURVE on: master public key ${own.publicKey}; ${allow.keys.size} slave key(s) allowed from ${allow.source}`);
    return { secretKey: own.secretKey, allowList: { keys, source: allow.source } };
  }

  /** A peer failed the CURVE handshake or ZAP: counted; each (key, address, reason) logged once, repeats at most once a second. */
  private onRefused(r: Refusal): void {
    this.stats.handshakesRefused++;
    const who = r.publicKey === undefined ? 'a peer' : `slave key ${r.publicKey}${r.address === undefined ? '' : ` from ${r.address}`}`;
    const now = this.clock.now();
    const tag = `${r.publicKey ?? ''}|${r.address ?? ''}|${r.reason}`;
    const line = `refused ${who}: ${r.reason} (${this.stats.handshakesRefused} refused so far)`;
    if (!this.refusedKeysLogged.has(tag) && this.refusedKeysLogged.size < MAX_REFUSED_KEYS_LOGGED) {
      this.refusedKeysLogged.add(tag);
    } else if (now - this.refusedLogAtMs < 1000) {
      this.logger.debug(line);
      return;
    }
    this.refusedLogAtMs = now;
    this.logger.warn(line);
  }

  private onRejected(slaveId: string, error: ProtocolError): void {
    if (error.reason === 'version_mismatch') {
      // A slave of another version hears why once a second at most, and the log says it
      // once per peer: a peer sending 20,000 such messages wrote 20,000 lines and replies.
      const now = this.clock.now();
      const last = this.versionRefusedAtMs.get(slaveId);
      if (last !== undefined && now - last < 1000) {
        this.dropped(slaveId, error.message, error.reason);
        return;
      }
      if (this.versionRefusedAtMs.size >= 1000) this.versionRefusedAtMs.clear();
      this.versionRefusedAtMs.set(slaveId, now);
      this.stats.messagesDropped++;
      this.metrics.messageDropped(error.reason);
      if (last === undefined) this.logger.error(`refused ${peerName(slaveId)}: ${error.message}`);
      this.router?.send(slaveId, { cmd: Command.Disconnect, reason: error.message });
      return;
    }
    this.dropped(slaveId, error.message, error.reason);
  }

  private onSendFailed(slaveId: string, err: unknown): void {
    if (this.stopping) return;
    if (this.registry.get(slaveId) !== undefined) {
      // ROUTER_MANDATORY refuses a send to a peer whose connection has closed with
      // EHOSTUNREACH ("Host unreachable"), which read as a network fault when a slave had died.
      const code = (err as { code?: unknown }).code;
      this.loseSlave(slaveId, code === 'EHOSTUNREACH' ? 'its connection closed: the process ended or the network dropped it' : `sending to it failed: ${(err as Error).message}`);
    }
  }

  /**
   * Answers a peer that talks without a session (a slave of this master's previous run,
   * whose socket reconnected by itself after a restart, or one declared dead) with
   * DISCONNECT {@link NO_SESSION}, so that it sends READY at once: it waited for this
   * master's silence to reach its liveness (3 s) and then for its reconnect delay, ~4 s
   * after a `systemd` restart of the master (measured). One reply a second per peer and at
   * most {@link NO_SESSION_REPLIES_PER_S} in all, so a flood of forged peers gets no more.
   */
  private askToJoin(slaveId: string): void {
    const now = this.clock.now();
    if (now - this.noSessionWindowMs >= 1000) {
      this.noSessionWindowMs = now;
      this.noSessionReplies = 0;
    }
    // One reply a second per peer: a flood under a few hundred forged ids used up the whole
    // budget and a real slave, unanswered, waited out its liveness (found by QA).
    const last = this.noSessionRepliedAt.get(slaveId);
    if (last !== undefined && now - last < 1000) return;
    if (this.noSessionReplies >= NO_SESSION_REPLIES_PER_S) return;
    if (this.noSessionRepliedAt.size >= 10_000) this.noSessionRepliedAt.clear();
    this.noSessionRepliedAt.set(slaveId, now);
    this.noSessionReplies++;
    this.router?.send(slaveId, { cmd: Command.Disconnect, reason: `${NO_SESSION}: this master has no session with slave ${slaveId} (it restarted, or took the slave for dead); send READY` });
  }

  /**
   * Logs a line about a slave joining, leaving or being lost, within
   * {@link SESSION_LINES_PER_MINUTE}; over it, at the debug level only.
   */
  private sessionLog(level: 'info' | 'warn', line: string): void {
    const now = this.clock.now();
    this.tellHeldBackSessionLines(now);
    if (this.sessionLines.take(now)) this.logger[level](line);
    else this.logger.debug(line);
  }

  /** Tells how many join/leave/lost lines went to the debug level in a minute that has ended (`force`: at the end of the batch). */
  private tellHeldBackSessionLines(now: number, force = false): void {
    const heldBack = this.sessionLines.ended(now, force);
    if (heldBack === 0) return;
    const why = !curveEnabled(this.options) ? ' (many slave ids coming and going; without CURVE any peer reaching the port can announce slaves)' : ' (many slave ids coming and going)';
    this.logger.warn(`${heldBack} more line(s) about slaves joining, leaving or being lost went to the debug level only, over ${SESSION_LINES_PER_MINUTE} a minute${why}; --log-level debug shows them`);
  }

  /** Counts and (at most once a second) logs a dropped message; `reason` is a {@link DropReason} or a ProtocolError reason. */
  private dropped(slaveId: string, why: string, reason: string): void {
    this.stats.messagesDropped++;
    this.metrics.messageDropped(reason);
    const now = this.clock.now();
    if (now - this.droppedLogAtMs > 1000) {
      this.droppedLogAtMs = now;
      this.logger.warn(`dropped a message from ${peerName(slaveId)}: ${why} (${this.stats.messagesDropped} dropped so far)`);
    }
  }
}

/** Whether a report file says its batch was interrupted (false when it cannot be read as one). */
function saysInterrupted(reportFile: string): boolean {
  try {
    return (JSON.parse(readFileSync(reportFile, 'utf8')) as { interrupted?: unknown }).interrupted === true;
  } catch {
    return false;
  }
}

/** A slave process as `host/pid`, from its READY. */
function instanceOf(ready: ReadyMessage): string {
  return `${ready.host.hostname}/${ready.host.pid}`;
}

/**
 * The answers of one RESULT or FAIL message that the master refused (tasks never sent to
 * that slave, or unknown): the message counts once in `messagesDropped`, however many
 * forged entries it holds (a forged message of 1,000 entries counted 1,000).
 */
class RefusedAnswers {
  count = 0;
  first: { why: string; reason: string } | undefined;

  add(why: string, reason: string): void {
    this.count++;
    this.first ??= { why, reason };
  }
}

/** A slave's error for a log line, escaped: its name and message come from the peer. */
function errorText(error: WireError): string {
  return `${printable(error.name)}: ${printable(error.message)}`;
}
