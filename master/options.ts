import { closeSync, existsSync, opendirSync, openSync, readSync, realpathSync, rmSync, statSync, type Dir } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import fg from 'fast-glob';
import { DEFAULT_DETECTOR_CONFIG, type DetectorConfig } from '../proto/detector-config.js';
import { DEFAULT_TASK_KINDS, type TaskKind } from '../proto/task-kinds.js';
import { endpointProblem } from '../shared/endpoint.js';
import { InvalidArgumentError, requireInteger } from '../shared/errors.js';
import { DEFAULT_MAX_IMAGE_BYTES, DEFAULT_MASTER_MAX_MESSAGE_BYTES, MIN_MAX_MESSAGE_BYTES } from '../shared/limits.js';
import { DEFAULT_HEARTBEAT_INTERVAL_MS, DEFAULT_HEARTBEAT_LIVENESS, MAX_HEARTBEAT_INTERVAL_MS, MIN_HEARTBEAT_LIVENESS } from '../shared/liveness.js';
import type { LogLevel } from '../shared/logger.js';
import { DEFAULT_MAX_HEADER_BYTES } from '../proto/codec.js';
import { DEFAULT_MASTER_METRICS_PORT, DEFAULT_METRICS_HOST, metricsHostProblem } from '../shared/metrics-server.js';
import { availableMemoryBytes, defaultWorkerCount } from '../shared/memory.js';
import { isWithin } from '../shared/path-within.js';
import { reportHtmlPath } from './report.js';
import { mediaType } from './ingest/extensions.js';

/** Default endpoint: loopback only, so a master without keys is not open to the network. */
export const DEFAULT_BIND = 'tcp://127.0.0.1:5570';

/**
 * Default video sampling step: every 5th frame, i.e. 2 frames/s of typical 10 fps CCTV
 * (5 frames/s of 25 fps), enough to catch a walking person several times while cutting
 * the work five-fold.
 */
export const DEFAULT_EVERY = 5;

/**
 * A video reader's private memory reading 1080p H.264, bytes (117-119 MB measured, x86-64,
 * Debian's OpenCV 4.6: FFmpeg's frame buffers for its decoding threads; ~49 MB at 768x576).
 */
export const VIDEO_READER_BYTES = 120 * 1024 * 1024;

/**
 * The default number of videos read at once: one a core, at most 4, and at most one per
 * 4 x {@link VIDEO_READER_BYTES} of the memory available (a 1 GB board running slaves
 * too gets 1 or 2), and at least one. A reader reads only a few frames ahead
 * (`READ_AHEAD_FRAMES`, ingest/video-readers.ts), so idle ones cost memory, not CPU; one
 * reader took 35 ms an image of 1080p H.264 at --every 5, a ceiling of ~28 images/s for
 * the whole cluster when it was the master's thread.
 *
 * @param cores - CPU cores (default: this machine's)
 * @param available - memory available, bytes (default: now)
 */
export function defaultVideoReaders(cores = availableParallelism(), available = availableMemoryBytes()): number {
  return Math.max(1, Math.min(4, cores, Math.floor(available / (4 * VIDEO_READER_BYTES))));
}

/**
 * Default lease per kind, ms: how long a task may run on a slave's worker (timed from the
 * start the slave reports; queue wait is covered while the slave makes progress,
 * PROTOCOL.md "Leases") before it is leased again elsewhere. Generous against a Raspberry Pi's speed (HOG and
 * Haar take about 1-3 s a 768x576 frame there); a dead slave is caught much sooner by
 * its heartbeats.
 */
export const DEFAULT_LEASE_MS: Readonly<Record<TaskKind, number>> = { object: 120_000, face: 120_000, edge: 60_000, corner: 60_000, noop: 30_000 };

/** Everything `master run` can be told. */
export interface MasterOptions {
  /** Image files, directories, globs or video files, as given (at least one). */
  inputs: string[];
  /** Task kinds run on every image, in output order. @defaultValue {@link DEFAULT_TASK_KINDS} */
  kinds: TaskKind[];
  /** Endpoint to bind. @defaultValue {@link DEFAULT_BIND} */
  bind: string;
  /** Allow binding a non-loopback address without encryption. @defaultValue false */
  allowInsecure: boolean;
  /** The master's CURVE secret key file (`master keygen`); with `allowKeys`, turns CURVE on. @defaultValue none */
  curveSecretKeyFile: string | undefined;
  /** Slave public keys admitted: a file (one Z85 key a line) or a folder of `*.pub` files. @defaultValue none */
  allowKeys: string | undefined;
  /** Results file (JSON Lines). @defaultValue `cctv-results.jsonl` */
  out: string;
  /** Timing report file (JSON). @defaultValue `<out>.report.json` */
  reportFile: string;
  /** Finish the batch recorded in `out`, skipping the images it holds. @defaultValue false */
  resume: boolean;
  /** Replace `out` if it exists. @defaultValue false */
  overwrite: boolean;
  /** Video sampling step, frames. @defaultValue 5 */
  every: number;
  /** Encoding of video frames on the wire. @defaultValue jpg */
  frameFormat: 'jpg' | 'png';
  /** JPEG quality of video frames, 1-100. @defaultValue 90 */
  jpegQuality: number;
  /** Videos read at once, each by a reader process of its own. @defaultValue {@link defaultVideoReaders} */
  videoReaders: number;
  /** Slave processes to start on this machine. @defaultValue 1 */
  localSlaves: number;
  /** Worker processes per local slave. @defaultValue CPU cores (fewer where memory is short: {@link defaultWorkerCount}) / local slaves */
  localThreads: number;
  /** Attempts per task before it is recorded as failed. @defaultValue 3 */
  maxAttempts: number;
  /**
   * Once every task has been handed out and no input is left, send copies of the tasks
   * still in flight to slaves with a free worker; the first answer wins (MapReduce §3.6,
   * "Backup Tasks"). @defaultValue true
   */
  backupTasks: boolean;
  /** Lease per kind, ms. @defaultValue {@link DEFAULT_LEASE_MS} */
  leaseMs: Record<TaskKind, number>;
  /** Heartbeat interval, ms. @defaultValue 1000 (ZeroMQ Guide ch.4) */
  heartbeatIntervalMs: number;
  /** Missed heartbeats before a slave is declared dead. @defaultValue 3 (ZeroMQ Guide ch.4) */
  heartbeatLiveness: number;
  /**
   * Images held in memory (loaded, in flight) at once; 0 = automatic: the images the slaves'
   * total credit covers (credit / task kinds) plus a quarter, at least 16. Either way at
   * most `MAX_WINDOW_BYTES` (master.ts: 128 MiB) of image bytes. @defaultValue 0
   */
  window: number;
  /** Largest image file read, bytes. @defaultValue 64 MiB */
  maxImageBytes: number;
  /** Largest message part accepted from a slave, bytes (ZMQ_MAXMSGSIZE: a larger one drops its connection). @defaultValue 16 MiB */
  maxMessageBytes: number;
  /** Largest message header accepted, bytes. @defaultValue 8 MiB */
  maxHeaderBytes: number;
  /** Detector parameters sent with every TASK; no flag sets them. @defaultValue {@link DEFAULT_DETECTOR_CONFIG} */
  detectors: DetectorConfig;
  /** Progress display. @defaultValue auto (a bar on a terminal, plain lines otherwise) */
  progress: 'auto' | 'bar' | 'plain' | 'none';
  /** Log verbosity (passed on to local slaves and the annotator). @defaultValue info */
  logLevel: LogLevel;
  /** Log one JSON object per line (passed on to local slaves). @defaultValue false */
  logJson: boolean;
  /** Port of the Prometheus `/metrics` endpoint; 0 = none. @defaultValue 9464 */
  metricsPort: number;
  /** Address the metrics endpoint listens on. @defaultValue 127.0.0.1 */
  metricsHost: string;
  /** After the batch, keep serving `/metrics` this long before exiting (for a last scrape), ms. @defaultValue 0 */
  metricsLingerMs: number;
  /**
   * Folder for annotated JPEG copies of each completed image or frame (boxes, corners, edge
   * overlay) and `contact-sheet.jpg` of the frames with the most detections; undefined = none.
   * Drawn by a child process of the master (`AnnotatorProcess`). @defaultValue none
   */
  annotate: string | undefined;
}

/** The defaults of {@link MasterOptions} (inputs empty). */
export function defaultMasterOptions(): MasterOptions {
  return {
    inputs: [],
    kinds: [...DEFAULT_TASK_KINDS],
    bind: DEFAULT_BIND,
    allowInsecure: false,
    curveSecretKeyFile: undefined,
    allowKeys: undefined,
    out: 'cctv-results.jsonl',
    reportFile: 'cctv-results.jsonl.report.json',
    resume: false,
    overwrite: false,
    every: DEFAULT_EVERY,
    frameFormat: 'jpg',
    jpegQuality: 90,
    videoReaders: defaultVideoReaders(),
    localSlaves: 1,
    localThreads: defaultWorkerCount(),
    maxAttempts: 3,
    backupTasks: true,
    leaseMs: { ...DEFAULT_LEASE_MS },
    heartbeatIntervalMs: DEFAULT_HEARTBEAT_INTERVAL_MS,
    heartbeatLiveness: DEFAULT_HEARTBEAT_LIVENESS,
    window: 0,
    maxImageBytes: DEFAULT_MAX_IMAGE_BYTES,
    maxMessageBytes: DEFAULT_MASTER_MAX_MESSAGE_BYTES,
    maxHeaderBytes: DEFAULT_MAX_HEADER_BYTES,
    detectors: structuredClone(DEFAULT_DETECTOR_CONFIG),
    progress: 'auto',
    logLevel: 'info',
    logJson: false,
    metricsPort: DEFAULT_MASTER_METRICS_PORT,
    metricsHost: DEFAULT_METRICS_HOST,
    metricsLingerMs: 0,
    annotate: undefined,
  };
}

/** True when an endpoint is reachable from this machine only: a tcp endpoint on a loopback address (`localhost`, `127.x.x.x`, `::1`), or `ipc://`. */
export function isLoopbackEndpoint(endpoint: string): boolean {
  const m = /^tcp:\/\/(\[[^\]]+\]|[^:]+):/.exec(endpoint);
  if (!m) return endpoint.startsWith('ipc://');
  const host = (m[1] ?? '').replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * The flag that finishes an interrupted batch, for hints: `--resume`, or with `--overwrite`
 * given, `--resume in place of --overwrite` ("the same command with --resume" was refused:
 * the two do not go together).
 */
export function resumeFlag(o: Pick<MasterOptions, 'overwrite'>): string {
  return o.overwrite ? '--resume in place of --overwrite' : '--resume';
}

/** Whether the options turn CURVE on (secret key and allow-list both given). */
export function curveEnabled(o: Pick<MasterOptions, 'curveSecretKeyFile' | 'allowKeys'>): boolean {
  return o.curveSecretKeyFile !== undefined && o.allowKeys !== undefined;
}

/**
 * Checks resolved master options, values first, then the paths the master will write
 * ({@link checkOutputPaths}, which looks at the file system).
 *
 * @throws {@link InvalidArgumentError} naming the first invalid option and its allowed range
 */
export function validateMasterOptions(o: MasterOptions): MasterOptions {
  if (o.inputs.length === 0) throw InvalidArgumentError.format('INPUT', 'is required: give image files, directories, globs or video files');
  if (o.inputs.some((i) => i === '')) throw InvalidArgumentError.format('INPUT', 'is an empty word (an unset shell variable?): give image files, directories, globs or video files');
  if (o.kinds.length === 0) throw InvalidArgumentError.format('--tasks', 'must name at least one task kind');
  const bindProblem = endpointProblem(o.bind);
  if (bindProblem !== undefined) throw InvalidArgumentError.format('--bind', bindProblem);
  if ((o.curveSecretKeyFile === undefined) !== (o.allowKeys === undefined)) {
    const [given, missing] = o.allowKeys === undefined ? ['--curve-secret-key', '--allow-keys'] : ['--allow-keys', '--curve-secret-key'];
    throw InvalidArgumentError.format(given, `needs ${missing} too (CURVE needs the master key and the slaves it admits)`);
  }
  if (!isLoopbackEndpoint(o.bind) && !o.allowInsecure && !curveEnabled(o)) {
    throw InvalidArgumentError.format(
      '--bind',
      `${o.bind} is reachable from the network, and without encryption anyone who can reach it could take tasks (and the images in them); give CURVE keys (--curve-secret-key, --allow-keys) or pass --allow-insecure to accept that risk`,
    );
  }
  requireInteger('--every', o.every, 1, 1_000_000);
  requireInteger('--jpeg-quality', o.jpegQuality, 1, 100);
  requireInteger('--video-readers', o.videoReaders, 1, 64);
  requireInteger('--local-slaves', o.localSlaves, 0, 64);
  requireInteger('--local-threads', o.localThreads, 1, 256);
  requireInteger('--max-attempts', o.maxAttempts, 1, 100);
  requireInteger('--heartbeat-interval', o.heartbeatIntervalMs, 10, MAX_HEARTBEAT_INTERVAL_MS);
  requireInteger('--heartbeat-liveness', o.heartbeatLiveness, MIN_HEARTBEAT_LIVENESS, 100);
  requireInteger('--window', o.window, 0, 1_000_000);
  requireInteger('--max-image-bytes', o.maxImageBytes, 1, 2 ** 31 - 1);
  requireInteger('--max-message-bytes', o.maxMessageBytes, MIN_MAX_MESSAGE_BYTES, 2 ** 31 - 1);
  for (const [kind, ms] of Object.entries(o.leaseMs)) requireInteger(`--lease (${kind})`, ms, 100, 86_400_000);
  requireInteger('--metrics-port', o.metricsPort, 0, 65_535);
  const hostProblem = metricsHostProblem(o.metricsHost);
  if (hostProblem !== undefined) throw InvalidArgumentError.format('--metrics-host', hostProblem);
  requireInteger('--metrics-linger', o.metricsLingerMs, 0, 3_600_000);
  if (o.annotate?.trim() === '') throw InvalidArgumentError.format('--annotate', 'must name a folder');
  if (o.resume && o.overwrite) throw InvalidArgumentError.format('--resume', 'and --overwrite cannot be used together');
  checkOutputPaths(o);
  return o;
}

/**
 * Checks, before any work starts, that the files the master will write can be written and
 * destroy nothing else: `--out` and `--report` (and the report's HTML copy,
 * {@link reportHtmlPath}) name files in existing folders, `--annotate` a folder (or none
 * yet), no two of them the same path; an existing report that is not one of ours is
 * replaced only with `--overwrite`. (Whether OUT itself may be replaced is
 * the journal's check, done when it opens the file.)
 *
 * @throws {@link InvalidArgumentError} naming the option and the problem
 */
export function checkOutputPaths(o: Pick<MasterOptions, 'out' | 'reportFile' | 'annotate' | 'overwrite' | 'resume' | 'inputs'>): void {
  checkFileTarget('--out', o.out);
  // The JSON would land in X.html and the page in X.html.html. Before the probe, which creates the file.
  if (/\.html?$/i.test(o.reportFile)) throw InvalidArgumentError.format('--report', `${o.reportFile}: --report names the JSON report, and its HTML copy is written beside it (X.json gives X.html); give a name ending in .json`);
  checkFileTarget('--report', o.reportFile);
  const html = reportHtmlPath(o.reportFile);
  if (html !== undefined) checkFileTarget('--report', html, ` (the HTML copy of --report ${o.reportFile})`);
  checkAgainstInputs(o);
  const out = canonicalPath(o.out);
  if (canonicalPath(o.reportFile) === out) throw InvalidArgumentError.format('--report', `${o.reportFile} is the results file (--out): give the report another name`);
  if (html !== undefined && canonicalPath(html) === out) throw InvalidArgumentError.format('--report', `${o.reportFile} would write its HTML copy over the results file ${o.out} (--out): give the report another name`);
  if (o.annotate !== undefined) {
    const at = pathKind(o.annotate);
    if (at === 'file') throw InvalidArgumentError.format('--annotate', `${o.annotate} is a file, not a folder`);
    if (at === 'missing') {
      // Created with its missing parents at the start; the nearest existing one must be a folder.
      let up = dirname(resolve(o.annotate));
      while (pathKind(up) === 'missing' && dirname(up) !== up) up = dirname(up);
      if (pathKind(up) === 'file') throw InvalidArgumentError.format('--annotate', `${o.annotate} cannot be created: ${up} is a file, not a folder`);
    }
    const dir = canonicalPath(o.annotate);
    if (dir === out) throw InvalidArgumentError.format('--annotate', `${o.annotate} is the results file (--out): give the folder another name`);
    if (canonicalPath(o.reportFile) === dir || (html !== undefined && canonicalPath(html) === dir)) {
      throw InvalidArgumentError.format('--report', `${o.reportFile} is the --annotate folder: give the report another name`);
    }
    // Annotated copies replace files of the same name: a user's photo, or an input reached
    // through a link to a file, was written over without a word.
    if (at === 'directory' && !o.overwrite && !o.resume) {
      const held = firstVisibleEntry(o.annotate);
      if (held !== undefined) {
        throw InvalidArgumentError.format(
          '--annotate',
          `${o.annotate} is not empty (it holds ${JSON.stringify(held)}, for one), and annotated copies replace files of the same name: give an empty or new folder, --resume to add to an earlier run's copies, or --overwrite to replace them`,
        );
      }
    }
  }
  if (o.overwrite) return;
  for (const [file, ours] of [[o.reportFile, isOurJsonReport], [html, isOurHtmlReport]] as const) {
    if (file !== undefined && pathKind(file) === 'file' && !ours(file)) {
      throw InvalidArgumentError.format(
        '--report',
        `${file} already exists and is not a cctv-cluster report${file === html ? ` (it is where --report ${o.reportFile} writes its HTML copy)` : ''}: give another name, or pass --overwrite to replace it`,
      );
    }
  }
}

/**
 * The master's outputs must leave its inputs alone: `--out` and `--report` may not be an
 * input or look like media (with `--overwrite` a results file named `cam1/a1.jpg`
 * replaced that image, and one in an input folder would be read as one), and the
 * `--annotate` folder may not be, hold or lie inside an input (annotated copies were
 * written over the originals, or walked as new inputs while they were written: 2,000
 * images gave 4,828 records).
 */
function checkAgainstInputs(o: Pick<MasterOptions, 'out' | 'reportFile' | 'annotate' | 'inputs'>): void {
  const roots = o.inputs.map((input) => ({ input, root: canonicalPath(inputRoot(input)) }));
  for (const [flag, file] of [['--out', o.out], ['--report', o.reportFile]] as const) {
    if (mediaType(file) !== 'other') throw InvalidArgumentError.format(flag, `${file} has an image or video extension; name the ${flag === '--out' ? 'results file e.g. results.jsonl' : 'report e.g. report.json'}`);
    const at = canonicalPath(file);
    const id = fileIdentity(file);
    const input = roots.find((r) => r.root === at || (id !== undefined && fileIdentity(r.input) === id));
    if (input !== undefined) throw InvalidArgumentError.format(flag, `${file} is an input (${input.input}): give another name`);
  }
  if (o.annotate === undefined) return;
  const dir = canonicalPath(o.annotate);
  for (const { input, root } of roots) {
    if (isWithin(dir, root) || isWithin(root, dir)) {
      throw InvalidArgumentError.format(
        '--annotate',
        `${o.annotate} ${dir === root ? 'is' : isWithin(dir, root) ? 'lies inside' : 'holds'} the input ${input}: annotated copies would overwrite the images or be read as new inputs; give a folder outside the inputs`,
      );
    }
  }
}

/**
 * The path an input names on disk: itself, or for a glob the folder before its first
 * pattern character (`cams/*\/day?/*.jpg` -> `cams`), which holds every match.
 */
function inputRoot(input: string): string {
  // classifyInput's rule: an existing path is literal, else a glob when fast-glob says so.
  if (existsSync(input) || !fg.isDynamicPattern(input)) return input;
  const parts = input.split('/');
  const literal = parts.slice(0, parts.findIndex((p) => p !== '' && fg.isDynamicPattern(p)));
  return literal.length === 0 ? '.' : literal.join('/') || '/';
}

/** `--out`/`--report` must name a file (not a folder) in an existing folder, and be writable ({@link probeWritable}). */
function checkFileTarget(flag: string, path: string, which = ''): void {
  if (path.trim() === '') throw InvalidArgumentError.format(flag, 'must name a file, got ""');
  // `dir/` names a folder, and its HTML copy `dir/.html` a file nobody asked for.
  if (path.endsWith('/')) throw InvalidArgumentError.format(flag, `${path} ends in /, which names a folder; give a file name`);
  if (pathKind(path) === 'directory') throw InvalidArgumentError.format(flag, `${path}${which} is a directory; give a file name`);
  const parent = dirname(path);
  const kind = pathKind(parent);
  if (kind === 'missing') throw InvalidArgumentError.format(flag, `${path}${which}: directory ${parent} does not exist`);
  if (kind === 'file') throw InvalidArgumentError.format(flag, `${path}${which}: ${parent} is a file, not a directory`);
  probeWritable(flag, path, which);
}

/**
 * Opens `path` for writing and closes it, so that a file the master cannot write is found
 * now, not when the report is written at the end of a long batch. A missing file is created
 * and removed again; an existing one is opened for appending, which changes nothing.
 * Anything but a regular file is left alone (opening a named pipe for writing blocks).
 * `access(2)` is not enough: for root it passes even on /proc.
 *
 * @throws {@link InvalidArgumentError} with the system's error code
 */
function probeWritable(flag: string, path: string, which: string): void {
  let created = false;
  try {
    const st = statSync(path, { throwIfNoEntry: false });
    if (st !== undefined && !st.isFile()) return;
    created = st === undefined;
    closeSync(openSync(path, created ? 'wx' : 'a'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw InvalidArgumentError.format(flag, `${path}${which} cannot be written (${code}): give a file in a folder you can write to`);
  }
  if (created) rmSync(path, { force: true });
}

/** The first entry of folder `dir` that is not hidden (dot files: `.DS_Store` and the like); undefined when none, or when it cannot be read. */
function firstVisibleEntry(dir: string): string | undefined {
  let handle: Dir | undefined;
  try {
    handle = opendirSync(dir);
    for (let entry = handle.readSync(); entry !== null; entry = handle.readSync()) {
      if (!entry.name.startsWith('.')) return entry.name;
    }
  } catch {
    // Unreadable: creating the copies will say so.
  } finally {
    handle?.closeSync();
  }
  return undefined;
}

/** What is at `path`; `missing` also when a parent is a file (ENOTDIR). @throws {@link InvalidArgumentError} when it cannot be looked at */
function pathKind(path: string): 'missing' | 'file' | 'directory' {
  try {
    return statSync(path).isDirectory() ? 'directory' : 'file';
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return 'missing';
    throw new InvalidArgumentError(`cannot look at ${path}: ${code ?? (err as Error).message}`, { cause: err });
  }
}

/**
 * Absolute path with every symbolic link resolved, the last one too (`--annotate link`
 * to an input folder is that folder); for a path that does not exist yet, its folder's
 * links. To compare two options' paths.
 */
function canonicalPath(path: string): string {
  const abs = resolve(path);
  try {
    return realpathSync(abs);
  } catch {
    try {
      return join(realpathSync(dirname(abs)), basename(abs));
    } catch {
      return abs;
    }
  }
}

/** `dev:ino` of an existing file, to catch a hard link to it; undefined when it does not exist. */
function fileIdentity(path: string): string | undefined {
  try {
    const s = statSync(path);
    return s.isFile() ? `${s.dev}:${s.ino}` : undefined;
  } catch {
    return undefined;
  }
}

/** Largest file read to tell whether it is one of our reports; a report is a few KB. */
const REPORT_PROBE_BYTES = 1 << 20;

/** The first `max` bytes of a file, as text; empty when it cannot be read (so it counts as not ours). */
function head(path: string, max: number): string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return '';
  }
  try {
    const buf = Buffer.alloc(max);
    return buf.subarray(0, readSync(fd, buf, 0, max, 0)).toString('utf8');
  } catch {
    return '';
  } finally {
    closeSync(fd);
  }
}

/** Whether a file is empty or a JSON report this tool wrote (an object with its counters). */
function isOurJsonReport(path: string): boolean {
  const size = statSync(path).size;
  if (size === 0) return true;
  if (size > REPORT_PROBE_BYTES) return false;
  const text = head(path, size);
  try {
    const r = JSON.parse(text) as Record<string, unknown> | null;
    return typeof r === 'object' && r !== null && ['wallMs', 'images', 'tasks', 'speedUp'].every((k) => typeof r[k] === 'number');
  } catch {
    // Ours cut short (a full disk or a kill while it was written, before reports were
    // written whole): it was refused, and the advice, --overwrite, would also wipe the results.
    return REPORT_START.test(text);
  }
}

/** How {@link buildReport}'s JSON begins (`JSON.stringify(report, null, 2)`). */
const REPORT_START = /^\{\n {2}"interrupted": (true|false),\n {2}"wallMs": \d/;

/** Whether a file is empty or an HTML report this tool wrote (its title, near the top). */
function isOurHtmlReport(path: string): boolean {
  return statSync(path).size === 0 || head(path, 4096).includes('<title>cctv-cluster report</title>');
}
