import { cpus } from 'node:os';
import { DEFAULT_DETECTOR_CONFIG, type DetectorConfig } from '../proto/detector-config.js';
import { DEFAULT_TASK_KINDS, type TaskKind } from '../proto/task-kinds.js';
import { InvalidArgumentError } from '../shared/errors.js';
import { DEFAULT_MAX_IMAGE_BYTES, DEFAULT_MAX_MESSAGE_BYTES } from '../shared/limits.js';
import { DEFAULT_HEARTBEAT_INTERVAL_MS, DEFAULT_HEARTBEAT_LIVENESS } from '../shared/liveness.js';
import { DEFAULT_MAX_HEADER_BYTES } from '../proto/codec.js';
import { DEFAULT_MASTER_METRICS_PORT, DEFAULT_METRICS_HOST, metricsHostProblem } from '../shared/metrics-server.js';

/** Default endpoint: loopback only, so a master without keys is not open to the network. */
export const DEFAULT_BIND = 'tcp://127.0.0.1:5570';

/**
 * Default video sampling step: every 5th frame, i.e. 2 frames/s of typical 10 fps CCTV
 * (5 frames/s of 25 fps), enough to catch a walking person several times while cutting
 * the work five-fold.
 */
export const DEFAULT_EVERY = 5;

/**
 * Default lease per kind, ms: how long a slave may hold a task (queue wait included)
 * before it is leased again elsewhere. Generous against a Raspberry Pi's speed (HOG and
 * Haar take about 1-3 s a 768x576 frame there); a dead slave is caught much sooner by
 * its heartbeats.
 */
export const DEFAULT_LEASE_MS: Readonly<Record<TaskKind, number>> = { object: 120_000, face: 120_000, edge: 60_000, corner: 60_000, noop: 30_000 };

/** Everything `master run` can be told. */
export interface MasterOptions {
  inputs: string[];
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
  resume: boolean;
  overwrite: boolean;
  /** Video sampling step, frames. @defaultValue 5 */
  every: number;
  /** Encoding of video frames on the wire. @defaultValue jpg */
  frameFormat: 'jpg' | 'png';
  /** JPEG quality of video frames. @defaultValue 90 */
  jpegQuality: number;
  /** Slave processes to start on this machine. @defaultValue 1 */
  localSlaves: number;
  /** Worker processes per local slave. @defaultValue CPU cores / local slaves */
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
  /** Images held in memory (loaded, in flight) at once; 0 = automatic (2 x total credit). @defaultValue 0 */
  window: number;
  /** Largest image file read, bytes. @defaultValue 64 MiB */
  maxImageBytes: number;
  /** Largest message accepted, bytes. @defaultValue 256 MiB */
  maxMessageBytes: number;
  /** Largest message header accepted, bytes. @defaultValue 8 MiB */
  maxHeaderBytes: number;
  detectors: DetectorConfig;
  /** Progress display. @defaultValue auto (a bar on a terminal, plain lines otherwise) */
  progress: 'auto' | 'bar' | 'plain' | 'none';
  logLevel: string;
  /** Port of the Prometheus `/metrics` endpoint; 0 = none. @defaultValue 9464 */
  metricsPort: number;
  /** Address the metrics endpoint listens on. @defaultValue 127.0.0.1 */
  metricsHost: string;
  /** After the batch, keep serving `/metrics` this long before exiting (for a last scrape), ms. @defaultValue 0 */
  metricsLingerMs: number;
  /**
   * Folder for annotated JPEG copies of each completed image or frame (boxes, corners, edge
   * overlay) and `contact-sheet.jpg` of the frames with the most detections; undefined = none.
   * Done on the master's main thread. @defaultValue none
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
    localSlaves: 1,
    localThreads: Math.max(1, cpus().length),
    maxAttempts: 3,
    backupTasks: true,
    leaseMs: { ...DEFAULT_LEASE_MS },
    heartbeatIntervalMs: DEFAULT_HEARTBEAT_INTERVAL_MS,
    heartbeatLiveness: DEFAULT_HEARTBEAT_LIVENESS,
    window: 0,
    maxImageBytes: DEFAULT_MAX_IMAGE_BYTES,
    maxMessageBytes: DEFAULT_MAX_MESSAGE_BYTES,
    maxHeaderBytes: DEFAULT_MAX_HEADER_BYTES,
    detectors: structuredClone(DEFAULT_DETECTOR_CONFIG),
    progress: 'auto',
    logLevel: 'info',
    metricsPort: DEFAULT_MASTER_METRICS_PORT,
    metricsHost: DEFAULT_METRICS_HOST,
    metricsLingerMs: 0,
    annotate: undefined,
  };
}

/** True when a tcp endpoint binds only a loopback address. */
export function isLoopbackEndpoint(endpoint: string): boolean {
  const m = /^tcp:\/\/(\[[^\]]+\]|[^:]+):/.exec(endpoint);
  if (!m) return endpoint.startsWith('ipc://') || endpoint.startsWith('inproc://');
  const host = (m[1] ?? '').replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Whether the options turn CURVE on (secret key and allow-list both given). */
export function curveEnabled(o: Pick<MasterOptions, 'curveSecretKeyFile' | 'allowKeys'>): boolean {
  return o.curveSecretKeyFile !== undefined && o.allowKeys !== undefined;
}

/**
 * Checks resolved master options.
 *
 * @throws {@link InvalidArgumentError} naming the first invalid option and its allowed range
 */
export function validateMasterOptions(o: MasterOptions): MasterOptions {
  const int = (name: string, v: number, min: number, max: number): void => {
    if (!Number.isInteger(v) || v < min || v > max) throw InvalidArgumentError.format(name, `must be an integer from ${min} to ${max}, got ${v}`);
  };
  if (o.inputs.length === 0) throw InvalidArgumentError.format('INPUT', 'is required: give image files, directories, globs or video files');
  if (o.kinds.length === 0) throw InvalidArgumentError.format('--tasks', 'must name at least one task kind');
  if (!/^(tcp|ipc|inproc):\/\/.+/.test(o.bind)) throw InvalidArgumentError.format('--bind', `must be an endpoint like tcp://127.0.0.1:5570, got ${JSON.stringify(o.bind)}`);
  if ((o.curveSecretKeyFile === undefined) !== (o.allowKeys === undefined)) {
    throw InvalidArgumentError.format(o.allowKeys === undefined ? '--curve-secret-key' : '--allow-keys', 'needs --curve-secret-key and --allow-keys together (CURVE needs the master key and the slaves it admits)');
  }
  if (!isLoopbackEndpoint(o.bind) && !o.allowInsecure && !curveEnabled(o)) {
    throw InvalidArgumentError.format(
      '--bind',
      `${o.bind} is reachable from the network, and without encryption anyone who can reach it could take tasks (and the images in them); give CURVE keys (--curve-secret-key, --allow-keys) or pass --allow-insecure to accept that risk`,
    );
  }
  int('--every', o.every, 1, 1_000_000);
  int('--jpeg-quality', o.jpegQuality, 1, 100);
  int('--local-slaves', o.localSlaves, 0, 64);
  int('--local-threads', o.localThreads, 1, 256);
  int('--max-attempts', o.maxAttempts, 1, 100);
  int('--heartbeat-interval', o.heartbeatIntervalMs, 10, 600_000);
  int('--heartbeat-liveness', o.heartbeatLiveness, 1, 100);
  int('--window', o.window, 0, 1_000_000);
  int('--max-image-bytes', o.maxImageBytes, 1, 2 ** 31 - 1);
  int('--max-message-bytes', o.maxMessageBytes, 1024, 2 ** 31 - 1);
  for (const [kind, ms] of Object.entries(o.leaseMs)) int(`--lease (${kind})`, ms, 100, 86_400_000);
  int('--metrics-port', o.metricsPort, 0, 65_535);
  const hostProblem = metricsHostProblem(o.metricsHost);
  if (hostProblem !== undefined) throw InvalidArgumentError.format('--metrics-host', hostProblem);
  int('--metrics-linger', o.metricsLingerMs, 0, 3_600_000);
  if (o.annotate?.trim() === '') throw InvalidArgumentError.format('--annotate', 'must name a folder');
  if (o.resume && o.overwrite) throw InvalidArgumentError.format('--resume', 'and --overwrite cannot be used together');
  return o;
}
