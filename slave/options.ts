import { connectProblem } from '../shared/endpoint.js';
import { DEFAULT_RECONNECT_INITIAL_MS, DEFAULT_RECONNECT_MAX_MS } from './connection.js';
import { DEFAULT_HEARTBEAT_INTERVAL_MS, DEFAULT_HEARTBEAT_LIVENESS, MAX_HEARTBEAT_INTERVAL_MS, MIN_HEARTBEAT_LIVENESS } from '../shared/liveness.js';
import { DEFAULT_MAX_IMAGE_BYTES, DEFAULT_MAX_IMAGE_PIXELS, DEFAULT_MAX_MESSAGE_BYTES, MIN_MAX_MESSAGE_BYTES } from '../shared/limits.js';
import { InvalidArgumentError, requireInteger } from '../shared/errors.js';
import { DEFAULT_METRICS_HOST, metricsHostProblem } from '../shared/metrics-server.js';
import { defaultWorkerCount } from '../shared/memory.js';

/** Everything a slave can be told; every field documented with unit and default. */
export interface SlaveOptions {
  /** Master endpoint. @defaultValue `tcp://127.0.0.1:5570` */
  connect: string;
  /** Worker processes, i.e. tasks run at once. @defaultValue the number of CPU cores, fewer where memory is short ({@link defaultWorkerCount}) */
  threads: number;
  /**
   * Tasks accepted queued beyond `threads`, so workers never wait on the network.
   * @defaultValue {@link defaultPrefetch}: 8 x threads
   */
  prefetch: number;
  /** Routing id; must be unique per master. @defaultValue `<hostname>-<pid>-<4 random hex digits>` */
  slaveId: string | undefined;
  /** Heartbeat interval, ms. @defaultValue 1000 (ZeroMQ Guide ch.4) */
  heartbeatIntervalMs: number;
  /** Missed heartbeats before the master is presumed gone. @defaultValue 3 (ZeroMQ Guide ch.4) */
  heartbeatLiveness: number;
  /** First reconnect delay, ms, doubling up to `reconnectMaxMs`. @defaultValue 1000 */
  reconnectInitialMs: number;
  /** Largest reconnect delay, ms. @defaultValue 32000 */
  reconnectMaxMs: number;
  /** A task running longer is killed with its worker and fails retryably, ms. @defaultValue 300000 */
  taskTimeoutMs: number;
  /** Largest image decoded, px (checked from the header before decoding). @defaultValue 50000000 */
  maxImagePixels: number;
  /**
   * Memory the images running at once may take in the workers, MiB; 0: no limit. An image
   * waits for a worker while its need (estimated from its pixels and task kinds) does not
   * fit, rather than risk the kernel's OOM killer. @defaultValue undefined: 90% of the
   * memory available (within a cgroup's limit) once the workers are ready
   */
  memoryBudgetMb: number | undefined;
  /** Largest encoded image part accepted, bytes (checked before decoding). @defaultValue 64 MiB */
  maxImageBytes: number;
  /** Largest message part accepted from the master, bytes (ZMQ_MAXMSGSIZE: a larger one drops the connection). @defaultValue 256 MiB */
  maxMessageBytes: number;
  /** On SIGINT/SIGTERM/SIGHUP, time allowed to finish running tasks, ms. @defaultValue 30000 */
  drainTimeoutMs: number;
  /**
   * This slave's CURVE secret key file (`slave keygen`); its public key is derived from
   * it. With `masterPublicKeyFile`, turns CURVE on. @defaultValue none
   */
  curveSecretKeyFile: string | undefined;
  /** The master's public key file (`master.pub`). @defaultValue none */
  masterPublicKeyFile: string | undefined;
  /** Port of the Prometheus `/metrics` endpoint; 0 = none (9465 is the suggested one). @defaultValue 0 */
  metricsPort: number;
  /** Address the metrics endpoint listens on. @defaultValue 127.0.0.1 */
  metricsHost: string;
}

/**
 * Default prefetch for `threads` workers: 8 x threads, i.e. two images of four tasks
 * queued per worker besides the one it runs. A slave sends an image's results together
 * when its last task ends, so credit comes back an image at a time; with one image
 * queued per worker (4 x threads) a worker could finish before the next image arrived.
 */
export function defaultPrefetch(threads: number): number {
  return 8 * threads;
}

/** The defaults of {@link SlaveOptions}. */
export function defaultSlaveOptions(): SlaveOptions {
  const threads = defaultWorkerCount();
  return {
    connect: 'tcp://127.0.0.1:5570',
    threads,
    prefetch: defaultPrefetch(threads),
    slaveId: undefined,
    heartbeatIntervalMs: DEFAULT_HEARTBEAT_INTERVAL_MS,
    heartbeatLiveness: DEFAULT_HEARTBEAT_LIVENESS,
    reconnectInitialMs: DEFAULT_RECONNECT_INITIAL_MS,
    reconnectMaxMs: DEFAULT_RECONNECT_MAX_MS,
    taskTimeoutMs: 300_000,
    maxImagePixels: DEFAULT_MAX_IMAGE_PIXELS,
    memoryBudgetMb: undefined,
    maxImageBytes: DEFAULT_MAX_IMAGE_BYTES,
    maxMessageBytes: DEFAULT_MAX_MESSAGE_BYTES,
    drainTimeoutMs: 30_000,
    curveSecretKeyFile: undefined,
    masterPublicKeyFile: undefined,
    metricsPort: 0,
    metricsHost: DEFAULT_METRICS_HOST,
  };
}

/**
 * Checks resolved slave options.
 *
 * @throws {@link InvalidArgumentError} naming the first invalid option
 */
export function validateSlaveOptions(o: SlaveOptions): SlaveOptions {
  const positiveInt = (name: string, v: number, max: number): void => {
    requireInteger(name, v, 1, max);
  };
  const problem = connectProblem(o.connect);
  if (problem !== undefined) throw InvalidArgumentError.format('--connect', problem);
  positiveInt('--threads', o.threads, 256);
  requireInteger('--prefetch', o.prefetch, 0, 4096);
  if (o.slaveId !== undefined && !/^[\w.:@-]{1,64}$/.test(o.slaveId)) {
    throw InvalidArgumentError.format('--slave-id', 'must be 1-64 characters of letters, digits and . : @ _ -');
  }
  // As the master's: under 10 ms a heartbeat is a busy loop, not a sign of life.
  requireInteger('--heartbeat-interval', o.heartbeatIntervalMs, 10, MAX_HEARTBEAT_INTERVAL_MS);
  requireInteger('--heartbeat-liveness', o.heartbeatLiveness, MIN_HEARTBEAT_LIVENESS, 100);
  positiveInt('--task-timeout', o.taskTimeoutMs, 86_400_000);
  positiveInt('--max-image-pixels', o.maxImagePixels, 2_000_000_000);
  if (o.memoryBudgetMb !== undefined) requireInteger('--memory-budget', o.memoryBudgetMb, 0, 2 ** 31 - 1);
  positiveInt('--max-image-bytes', o.maxImageBytes, 2 ** 31 - 1);
  requireInteger('--max-message-bytes', o.maxMessageBytes, MIN_MAX_MESSAGE_BYTES, 2 ** 31 - 1);
  // The back-off starts at reconnectInitialMs (1000 ms) and doubles up to this: not below the start.
  requireInteger('--reconnect-max', o.reconnectMaxMs, o.reconnectInitialMs, 3_600_000);
  requireInteger('--drain-timeout', o.drainTimeoutMs, 0, 3_600_000);
  requireInteger('--metrics-port', o.metricsPort, 0, 65_535);
  const hostProblem = metricsHostProblem(o.metricsHost);
  if (hostProblem !== undefined) throw InvalidArgumentError.format('--metrics-host', hostProblem);
  if ((o.curveSecretKeyFile === undefined) !== (o.masterPublicKeyFile === undefined)) {
    const [given, missing] = o.curveSecretKeyFile === undefined ? ['--master-public-key', '--curve-secret-key'] : ['--curve-secret-key', '--master-public-key'];
    throw InvalidArgumentError.format(given, `needs ${missing} too (CURVE needs this slave's key and the master's public key)`);
  }
  return o;
}
