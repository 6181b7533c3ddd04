import yargs, { type Options } from 'yargs';
import { booleanValueCheck, invokedAs, lastValue, LOG_OPTIONS, numberValue, singleValued, unknownOptionHint, withUsageStrings, writeUsageError } from '../shared/cli-args.js';
import { blameConfig, loadConfig } from '../shared/config-file.js';
import { KEYGEN_OPTIONS, keygenOptions, type KeygenArgs } from '../shared/keygen-cli.js';
import { shortSilenceWarning } from '../shared/liveness.js';
import type { LogLevel } from '../shared/logger.js';
import { SUGGESTED_SLAVE_METRICS_PORT } from '../shared/metrics-server.js';
import { fewerWorkersWarning, moreWorkersThanCoresWarning, toMiB, WORKER_MIN_BYTES } from '../shared/memory.js';
import { defaultPrefetch, defaultSlaveOptions, validateSlaveOptions, type SlaveOptions } from './options.js';

/** Parsed `slave` command line. */
export interface SlaveArgs {
  options: SlaveOptions;
  logLevel: LogLevel;
  logJson: boolean;
  /** Exit when the parent process goes away (set by `master --local-slaves`). */
  exitWithParent: boolean;
  /** Settings that are valid but probably not meant, for the log. */
  warnings: string[];
}

/**
 * Below this `--task-timeout` (ms) a warning is logged: a face task takes ~0.3 s on a PC and
 * several seconds on a Raspberry Pi, and each one killed costs a worker restart (~1 s).
 */
const SHORT_TASK_TIMEOUT_MS = 5_000;

/** The `slave` options (also the settings a `--config` file may hold, by these names). */
function slaveOptionsTable(d: SlaveOptions) {
  const table = singleValued({
    connect: { type: 'string', default: d.connect, description: 'master endpoint (tcp://HOST:PORT, or ipc:///PATH on the same machine)' },
    threads: { type: 'number', description: `worker processes = tasks run at once, or auto (the default: the config file's threads, else CPU cores, fewer where memory is short: ~${toMiB(WORKER_MIN_BYTES)} MiB each; ${d.threads} here)` },
    prefetch: { type: 'number', description: 'tasks held queued beyond --threads so workers never idle (default: 8 x threads)' },
    'slave-id': { type: 'string', description: 'unique name of this slave (default: HOSTNAME-PID-RANDOM)' },
    'heartbeat-interval': { type: 'number', default: d.heartbeatIntervalMs, description: 'heartbeat interval, ms (ZeroMQ Guide ch.4)' },
    'heartbeat-liveness': { type: 'number', default: d.heartbeatLiveness, description: 'missed heartbeats before the master is presumed gone' },
    'reconnect-max': { type: 'number', default: d.reconnectMaxMs, description: 'longest wait between reconnects, ms (back-off from 1000 ms doubling)' },
    'task-timeout': { type: 'number', default: d.taskTimeoutMs, description: 'kill a task (and its worker) running longer than this, ms' },
    'max-image-pixels': { type: 'number', default: d.maxImagePixels, description: 'refuse images larger than this many pixels before decoding' },
    'memory-budget': { type: 'number', description: 'memory the images running at once may take in the workers, MiB; an image waits for a worker while it does not fit (0 = no limit; default: 90% of the memory available once the workers are ready)' },
    'max-image-bytes': { type: 'number', default: d.maxImageBytes, description: 'refuse encoded images larger than this, bytes, before decoding' },
    'max-message-bytes': { type: 'number', default: d.maxMessageBytes, description: 'largest message part accepted from the master, bytes, at least 1 MiB (ZMQ_MAXMSGSIZE: a larger one drops the connection)' },
    'drain-timeout': { type: 'number', default: d.drainTimeoutMs, description: 'on Ctrl-C/SIGTERM/SIGHUP, time allowed to finish running tasks, ms' },
    'curve-secret-key': { type: 'string', description: 'this slave\'s secret key file (`slave keygen`; its public key is derived from it): encrypt with CurveZMQ; needs --master-public-key' },
    'master-public-key': { type: 'string', description: 'the master\'s public key file (master.pub from `master keygen`)' },
    ...LOG_OPTIONS,
    'metrics-port': { type: 'number', default: d.metricsPort, description: `serve Prometheus metrics at http://HOST:PORT/metrics (0 = off; ${SUGGESTED_SLAVE_METRICS_PORT} is the usual port)` },
    'metrics-host': { type: 'string', default: d.metricsHost, description: 'address of the metrics endpoint (0.0.0.0: every interface)' },
    config: { type: 'string', description: 'read settings from a JSON or YAML file (keys: these option names, e.g. threads: 2); flags override it' },
    'exit-with-parent': { type: 'boolean', default: false, hidden: true, description: 'exit when the parent process exits' },
  } satisfies Record<string, Options>);
  // `auto` is the default count, for a unit file that always passes the flag (deploy/systemd:
  // `--threads ${CCTV_THREADS}`; a number there gave a 512 MB board one worker per core).
  Object.assign(table.threads, { coerce: threadsValue });
  return table;
}

/**
 * `--threads`: a number, or `auto` (any case) for the config file's count or the default,
 * as undefined.
 *
 * @throws Error `--threads must be a number or auto, got "x"` (a usage error to yargs)
 */
function threadsValue(value: unknown): number | undefined {
  if (String(lastValue(value)).trim().toLowerCase() === 'auto') return undefined;
  try {
    return numberValue('threads', value);
  } catch (err) {
    throw new Error((err as Error).message.replace('must be a number,', 'must be a number or auto,'));
  }
}

/**
 * Builds the `slave` yargs parser (jest-cli `args.ts` style: one options table, every
 * option described, `.strict()` so a mistyped flag fails). On a usage error the parser
 * writes the message ({@link writeUsageError}) and exits the process with code 2.
 *
 * @param config - settings of a `--config` file, below the flags (yargs' `.config()`)
 */
export function slaveParser(argv: string[], config?: Record<string, unknown>) {
  const d = defaultSlaveOptions();
  const parser = yargs(argv)
    .scriptName(invokedAs('slave'))
    .usage(
      // Lines under 72 characters: yargs cuts longer usage lines mid-word.
      '$0 [options]\n\nConnects to a cctv-cluster master and runs its object, face, edge\n' +
        'and corner detection tasks on a pool of worker processes. Start one\n' +
        'per machine; the master spreads work over every slave that connects.\n' +
        'Runs until stopped (Ctrl-C finishes the tasks in hand first; a second\n' +
        'Ctrl-C exits at once). An option given twice takes its last value.\n\n' +
        '$0 keygen [NAME]: write this slave\'s CurveZMQ key pair (see `$0 keygen --help`).',
    )
    .example('$0 --connect tcp://192.168.1.10:5570', 'serve the master at 192.168.1.10 with one worker per core')
    .example('$0 --connect tcp://master.local:5570 --threads 2', 'use two workers (e.g. to keep a Pi cool)')
    .example('$0 --connect tcp://master.local:5570 --curve-secret-key pi-1.key --master-public-key master.pub', 'encrypted, authenticated with CurveZMQ keys')
    .options(slaveOptionsTable(d))
    .config(config ?? {})
    .parserConfiguration({ 'populate--': true, 'camel-case-expansion': false })
    // Options only: a stray word is refused by the check below, not called an unknown option.
    .strictOptions()
    .check((a) => {
      const stray = [...a._, ...((a['--'] as unknown[] | undefined) ?? [])];
      if (stray.length > 0) return `unexpected argument ${JSON.stringify(String(stray[0]))}: slave takes only options (and \`slave keygen\`)`;
      return booleanValueCheck(argv, slaveOptionsTable(d));
    })
    .fail((msg, err) => {
      // Usage errors exit 2 (the documented code), with a pointer to --help.
      writeUsageError('slave', unknownOptionHint(msg || err.message, argv, slaveOptionsTable(d)), argv, `${invokedAs('slave')} --help`);
      process.exit(2);
    })
    .help()
    .alias('h', 'help')
    .version()
    .wrap(null);
  return withUsageStrings(parser);
}

/**
 * Parses and validates a `slave` command line.
 *
 * @throws {@link InvalidArgumentError} for an invalid value (yargs handles unknown flags)
 */
export async function buildSlaveArgs(argv: string[]): Promise<SlaveArgs> {
  const d = defaultSlaveOptions();
  const table = slaveOptionsTable(d);
  // The file's settings go in below the flags (yargs' config object).
  const config = loadConfig(argv, { options: table, command: 'slave', autoNumbers: ['threads'] });
  const a = await slaveParser(argv, config?.values).parseAsync();
  // `--threads auto` leaves the count to the config file when it sets one (the systemd unit
  // always passes --threads), else to the default.
  const configThreads = config?.values['threads'];
  const chosenThreads = a.threads ?? (typeof configThreads === 'number' ? configThreads : undefined);
  const threads = chosenThreads ?? d.threads;
  let options: SlaveOptions;
  try {
    options = validateSlaveOptions({
      ...d,
      connect: a.connect,
      threads,
      prefetch: a.prefetch ?? defaultPrefetch(threads),
      slaveId: a['slave-id'],
      heartbeatIntervalMs: a['heartbeat-interval'],
      heartbeatLiveness: a['heartbeat-liveness'],
      reconnectMaxMs: a['reconnect-max'],
      taskTimeoutMs: a['task-timeout'],
      maxImagePixels: a['max-image-pixels'],
      memoryBudgetMb: a['memory-budget'],
      maxImageBytes: a['max-image-bytes'],
      maxMessageBytes: a['max-message-bytes'],
      drainTimeoutMs: a['drain-timeout'],
      curveSecretKeyFile: a['curve-secret-key'],
      masterPublicKeyFile: a['master-public-key'],
      metricsPort: a['metrics-port'],
      metricsHost: a['metrics-host'],
    });
  } catch (err) {
    throw blameConfig(err, config, argv, table);
  }
  const warnings: string[] = [];
  const fewer = chosenThreads === undefined ? fewerWorkersWarning(threads, '--threads') : undefined;
  if (fewer !== undefined) warnings.push(fewer);
  const crowded = moreWorkersThanCoresWarning(threads, `--threads ${threads}`);
  // A local slave's master has warned of its --local-threads already.
  if (crowded !== undefined && !a['exit-with-parent']) warnings.push(crowded);
  if (options.taskTimeoutMs < SHORT_TASK_TIMEOUT_MS) {
    warnings.push(`--task-timeout ${options.taskTimeoutMs} ms is shorter than a task can take (a face task takes about 0.3 s on a PC and several seconds on a Raspberry Pi): tasks running longer are killed with their worker and can fail`);
  }
  const silence = shortSilenceWarning(options.heartbeatIntervalMs, options.heartbeatLiveness, 'slave');
  // A local slave takes its master's values: the master has said so already.
  if (silence !== undefined && !a['exit-with-parent']) warnings.push(silence);
  return { options, logLevel: a['log-level'], logJson: a['log-json'], exitWithParent: a['exit-with-parent'], warnings };
}

/**
 * Parses `slave keygen [NAME] [--force]` (the shared implementation `master keygen` offers too).
 * Exits 2 on a usage error, like {@link slaveParser}.
 */
export async function buildSlaveKeygenArgs(argv: string[]): Promise<KeygenArgs> {
  const parser = yargs(argv)
    .scriptName(invokedAs('slave'))
    .usage('$0 keygen [NAME]\n\nWrites this slave\'s CurveZMQ key pair: NAME.key (secret, mode 0600) and NAME.pub.')
    .command('keygen [name]', 'write a CurveZMQ key pair NAME.key (secret) and NAME.pub (public)', (y) => keygenOptions(y, 'slave').options(singleValued(LOG_OPTIONS)))
    // Unknown flags named as typed (not also as camelCase).
    .parserConfiguration({ 'camel-case-expansion': false })
    .demandCommand(1)
    .strict()
    .check(() => booleanValueCheck(argv, { ...KEYGEN_OPTIONS, ...LOG_OPTIONS }))
    .fail((msg, err) => {
      writeUsageError('slave', unknownOptionHint(msg || err.message, argv, { ...KEYGEN_OPTIONS, ...LOG_OPTIONS }), argv, `${invokedAs('slave')} keygen --help`);
      process.exit(2);
    })
    .help()
    .alias('h', 'help')
    .wrap(null);
  const a = await withUsageStrings(parser, ['keygen']).parseAsync();
  return { command: 'keygen', name: a['name'] as string, force: a['force'] as boolean };
}
