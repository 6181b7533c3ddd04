import yargs, { type Options } from 'yargs';
import { existsSync } from 'node:fs';
import { TASK_KINDS, isTaskKind, type TaskKind } from '../proto/task-kinds.js';
import { booleanValueCheck, firstUnknownCommand, invokedAs, isDecimal, LOG_OPTIONS, singleValued, unknownOptionHint, withUsageStrings, writeUsageError } from '../shared/cli-args.js';
import { blameConfig, dropExcludedByFlags, loadConfig } from '../shared/config-file.js';
import { InvalidArgumentError } from '../shared/errors.js';
import { KEYGEN_OPTIONS, keygenOptions, type KeygenArgs } from '../shared/keygen-cli.js';
import { shortSilenceWarning } from '../shared/liveness.js';
import { fewerWorkersWarning, moreWorkersThanCoresWarning } from '../shared/memory.js';
import type { LogLevel } from '../shared/logger.js';
import { DEFAULT_BIND, DEFAULT_EVERY, defaultMasterOptions, validateMasterOptions, type MasterOptions } from './options.js';
import { isStreamOrDevice } from './report.js';

/** Parsed `master run` command line. */
export interface MasterArgs {
  command: 'run';
  options: MasterOptions;
  logLevel: LogLevel;
  logJson: boolean;
  /** Settings accepted but questionable, for the log once it exists (e.g. --local-threads without local slaves). */
  warnings: string[];
}

/** Leases below this draw a warning, ms: a big image's face task can take seconds on a Pi. */
const SHORT_LEASE_MS = 5_000;

/** Options of `master` itself (every command). */
const MASTER_GLOBAL_OPTIONS = singleValued(LOG_OPTIONS);

/** Options of `master run` (also the settings a `--config` file may hold, by these names). */
function masterRunOptions(d: MasterOptions) {
  return singleValued({
    tasks: { type: 'string', default: d.kinds.join(','), description: `task kinds, comma-separated (${TASK_KINDS.filter((k) => k !== 'noop').join(', ')}; noop: no work, for measuring dispatch overhead)` },
    out: { type: 'string', alias: 'o', default: d.out, description: 'results file: one JSON record per image or frame (JSON Lines)' },
    report: { type: 'string', description: 'timing report file (JSON, and an HTML copy beside it) (default: OUT.report.json; cctv-report.json when OUT is a device or pipe such as /dev/stdout); an existing file that is not a report is replaced only with --overwrite' },
    resume: { type: 'boolean', default: false, description: 'finish the batch recorded in OUT, skipping images already done' },
    overwrite: { type: 'boolean', default: false, description: 'replace OUT if it exists' },
    every: { type: 'number', default: DEFAULT_EVERY, description: 'process every Nth video frame (5 = 2 frames/s of 10 fps CCTV)' },
    'frame-format': { choices: ['jpg', 'png'] as const, default: 'jpg' as const, description: 'how video frames are encoded for the slaves' },
    'jpeg-quality': { type: 'number', default: d.jpegQuality, description: 'JPEG quality of video frames (1-100)' },
    'video-readers': { type: 'number', default: d.videoReaders, description: 'videos read at once, each by a process of its own (~120 MB each at 1080p) (default: CPU cores, at most 4, fewer where memory is short)' },
    bind: { type: 'string', default: DEFAULT_BIND, description: 'endpoint slaves connect to (loopback by default)' },
    'allow-insecure': { type: 'boolean', default: false, description: 'allow --bind on a network address without CURVE (anyone reaching it can take tasks, read the images and forge results)' },
    'curve-secret-key': { type: 'string', description: 'master secret key file (`master keygen`): encrypt with CurveZMQ; needs --allow-keys' },
    'allow-keys': { type: 'string', description: 'slaves admitted: a file of Z85 public keys (one a line, # comments) or a folder of *.pub files' },
    'local-slaves': { type: 'number', default: d.localSlaves, description: 'slave processes to start on this machine (0 = remote slaves only)' },
    'local-threads': { type: 'number', description: 'worker processes per local slave (default: CPU cores / local slaves, fewer where memory is short; no effect with --local-slaves 0)' },
    'max-attempts': { type: 'number', default: d.maxAttempts, description: 'attempts per task before it is recorded as failed' },
    'backup-tasks': { type: 'boolean', default: d.backupTasks, description: 'at the end of a batch, run copies of the tasks still in flight on slaves with a free worker; the first answer wins (--no-backup-tasks: off)' },
    lease: { type: 'string', description: 'how long a task may run on a slave\'s worker before it is given to another, per kind in ms, e.g. object=120000,face=120000 (defaults: object/face 120000, edge/corner 60000)' },
    'heartbeat-interval': { type: 'number', default: d.heartbeatIntervalMs, description: 'heartbeat interval, ms (ZeroMQ Guide ch.4)' },
    'heartbeat-liveness': { type: 'number', default: d.heartbeatLiveness, description: 'missed heartbeats before a slave is declared dead' },
    window: { type: 'number', default: 0, description: 'images held in memory at once (0 = the images the slaves\' total credit covers, plus a quarter, at least 16)' },
    'max-image-bytes': { type: 'number', default: d.maxImageBytes, description: 'refuse image files larger than this, bytes (recorded as failed, never sent)' },
    'max-message-bytes': { type: 'number', default: d.maxMessageBytes, description: 'largest message part accepted from a slave, bytes, at least 1 MiB (ZMQ_MAXMSGSIZE: a larger one drops its connection)' },
    progress: { choices: ['auto', 'bar', 'plain', 'none'] as const, default: 'auto' as const, description: 'progress display (auto: a bar on a terminal, plain lines otherwise and under --log-json)' },
    'metrics-port': { type: 'number', default: d.metricsPort, description: 'serve Prometheus metrics at http://HOST:PORT/metrics (0 = off)' },
    'metrics-host': { type: 'string', default: d.metricsHost, description: 'address of the metrics endpoint (0.0.0.0: every interface)' },
    'metrics-linger': { type: 'number', default: d.metricsLingerMs, description: 'after the batch, keep serving /metrics this long before exiting, ms (for a last scrape)' },
    annotate: { type: 'string', description: 'write an annotated JPEG of each image or frame (people, faces, corners, edges) and contact-sheet.jpg into this folder (created if missing)' },
    config: { type: 'string', description: 'read settings from a JSON or YAML file (keys: these option names, e.g. every: 10); flags override it' },
  } satisfies Record<string, Options>);
}

/**
 * Builds the `master` yargs parser (jest-cli `args.ts` style: one options table, every
 * option described, `.strict()` so a mistyped flag fails). On a usage error the parser
 * writes the message ({@link writeUsageError}) and exits the process with code 2.
 *
 * @param config - settings of a `--config` file, below the flags (yargs' `.config()`)
 */
export function masterParser(argv: string[], config?: Record<string, unknown>) {
  const d = defaultMasterOptions();
  const parser = yargs(argv)
    .scriptName(invokedAs('master'))
    .usage('$0 <command> [options]\n\nCoordinates a cctv-cluster batch: splits images and video frames\ninto object, face, edge and corner detection tasks and hands them\nto slaves over ZeroMQ.')
    // INPUTS is optional to yargs only so that words after `--` can be inputs too (yargs
    // checks a required positional before it sees them); validateMasterOptions requires one.
    .command('run [inputs..]', 'process images, directories, globs and videos', (y) =>
      y
        .positional('inputs', { type: 'string', array: true, description: 'image files, directories (searched recursively), globs or video files (at least one); every word after -- is an input, e.g. -- -w.jpg' })
        .example('$0 run footage/cam1.avi', 'every 5th frame of a video, with local slaves on this machine')
        .example('$0 run snapshots/ --tasks face,object --out faces.jsonl', 'two kinds of task over a folder of images')
        .example('$0 run archive/ --bind tcp://0.0.0.0:5570 --curve-secret-key master.key --allow-keys slaves/ --local-slaves 0', 'serve remote slaves only, encrypted, admitting the keys in slaves/*.pub')
        .example('$0 run archive/ --bind tcp://10.0.0.5:5570 --allow-insecure --local-slaves 0', 'serve remote slaves on a trusted network without encryption')
        .options(masterRunOptions(d))
        .epilog('An option given twice takes its last value.'),
    )
    .command('keygen [name]', 'write a CurveZMQ key pair NAME.key (secret) and NAME.pub (public)', (y) => keygenOptions(y, 'master'))
    .options(MASTER_GLOBAL_OPTIONS)
    .config(config ?? {})
    // Words after `--` go to argv['--'] (inputs of `run`), not to the command's positionals.
    .parserConfiguration({ 'populate--': true, 'camel-case-expansion': false })
    .demandCommand(1, 'give a command: run or keygen')
    .strict()
    .strictCommands()
    .check(() => booleanValueCheck(argv, { ...masterRunOptions(d), ...MASTER_GLOBAL_OPTIONS, ...KEYGEN_OPTIONS }))
    .fail((msg, err) => {
      // Usage errors exit 2 (the documented code), with a pointer to --help.
      const help = `${invokedAs('master')} ${argv[0] === 'keygen' ? 'keygen --help' : argv[0] === 'run' ? 'run --help' : '--help'}`;
      const table = argv[0] === 'keygen' ? { ...MASTER_GLOBAL_OPTIONS, ...KEYGEN_OPTIONS } : { ...masterRunOptions(d), ...MASTER_GLOBAL_OPTIONS };
      writeUsageError('master', `${unknownOptionHint(firstUnknownCommand('master', msg || err.message), argv, table)}${dashedFileHint(argv)}`, argv, help);
      process.exit(2);
    })
    .help()
    .alias('h', 'help')
    .version()
    .wrap(null);
  return withUsageStrings(parser, ['run', 'keygen']);
}

/** Parses `--tasks`. @throws {@link InvalidArgumentError} for an unknown kind */
export function parseKinds(text: string): TaskKind[] {
  const kinds = text.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  const out: TaskKind[] = [];
  for (const k of kinds) {
    if (!isTaskKind(k)) throw InvalidArgumentError.format('--tasks', `has unknown kind ${JSON.stringify(k)}; known: ${TASK_KINDS.join(', ')}`);
    if (!out.includes(k)) out.push(k);
  }
  return out;
}

/**
 * Parses `--lease` (`kind=ms,...`) over `base`, the lease per kind in ms.
 *
 * @returns the lease per kind, ms (kinds not named keep `base`'s)
 * @throws {@link InvalidArgumentError} for an empty value, an entry not `KIND=NUMBER`, or a NUMBER that is not one (`1.2e5` is)
 */
export function parseLeases(text: string | undefined, base: Record<TaskKind, number>): Record<TaskKind, number> {
  const out = { ...base };
  if (text === undefined) return out;
  if (text.trim() === '') throw InvalidArgumentError.format('--lease', 'must name at least one kind=ms entry, e.g. object=120000, got ""');
  for (const entry of text.split(',').filter((s) => s.trim().length > 0)) {
    const parts = entry.split('=').map((s) => s.trim());
    const [kind, ms] = parts;
    if (parts.length !== 2 || kind === undefined || !isTaskKind(kind) || ms === undefined) {
      throw InvalidArgumentError.format('--lease', `entries look like object=120000, got ${JSON.stringify(entry)}`);
    }
    // Written as every other number (1.2e5 too); the range is checked with the options.
    if (!isDecimal(ms)) throw InvalidArgumentError.format('--lease', `${kind} must be a number of ms, e.g. ${kind}=120000, got ${JSON.stringify(ms)}`);
    out[kind] = Number(ms);
  }
  return out;
}

/**
 * Parses and validates a `master` command line.
 *
 * @throws {@link InvalidArgumentError} for an invalid value (yargs handles unknown flags)
 */
export async function buildMasterArgs(argv: string[]): Promise<MasterArgs | KeygenArgs> {
  const d = defaultMasterOptions();
  const table = { ...masterRunOptions(d), ...MASTER_GLOBAL_OPTIONS };
  // The file's settings go in below the flags (yargs' config object).
  const config = loadConfig(argv, { options: table, lists: ['tasks', 'lease'], command: 'master run' });
  dropExcludedByFlags(config, argv, [['resume', 'overwrite']]);
  const a = await masterParser(argv, config?.values).parseAsync();
  if (a._[0] === 'keygen') return { command: 'keygen', name: a['name'] as string, force: a['force'] as boolean };
  const localSlaves = a['local-slaves'] as number;
  const out = a['out'] as string;
  // yargs drops a lone `-` without a word; the master reads no images from standard input.
  const dashAt = argv.indexOf('-');
  if (out === '-' || (dashAt > 0 && ['-o', '--out'].includes(argv[dashAt - 1] ?? ''))) {
    throw InvalidArgumentError.format('--out', '"-" is not supported: give a file, or /dev/stdout for standard output (e.g. --out /dev/stdout | jq)');
  }
  const endAt = argv.indexOf('--');
  if (dashAt >= 0 && (endAt < 0 || dashAt < endAt)) {
    throw InvalidArgumentError.format('INPUT', '"-" (standard input) is not supported: give image files, directories, globs or video files (a file named - can be given as ./-)');
  }
  let options: MasterOptions;
  try {
    options = resolveMasterOptions(a, d, localSlaves, out);
  } catch (err) {
    throw blameConfig(err, config, argv, table);
  }
  const warnings: string[] = [];
  if (localSlaves === 0 && a['local-threads'] !== undefined) {
    warnings.push(`--local-threads ${options.localThreads} has no effect with --local-slaves 0: no slave is started on this machine`);
  }
  const fewer = localSlaves > 0 && a['local-threads'] === undefined ? fewerWorkersWarning(d.localThreads, '--local-threads') : undefined;
  if (fewer !== undefined) warnings.push(fewer);
  const crowded = localSlaves > 0 ? moreWorkersThanCoresWarning(localSlaves * options.localThreads, localSlaves === 1 ? `--local-threads ${options.localThreads}` : `--local-slaves ${localSlaves} x --local-threads ${options.localThreads}`) : undefined;
  if (crowded !== undefined) warnings.push(crowded);
  // A lease shorter than the task: every copy is given back and sent again until the task
  // fails (--lease face=100 failed every face task although the slave answered each late).
  const short = options.kinds.filter((k) => options.leaseMs[k] < SHORT_LEASE_MS).map((k) => `${k}=${options.leaseMs[k]}`);
  if (short.length > 0) {
    warnings.push(`--lease ${short.join(',')} ms is shorter than such a task can take (seconds on a Raspberry Pi or a large image: a face task takes about 0.3 s on a PC at 768x576): tasks not answered within it are given back and run again, and can fail`);
  }
  const silence = shortSilenceWarning(options.heartbeatIntervalMs, options.heartbeatLiveness, 'master');
  if (silence !== undefined) warnings.push(silence);
  if (a['log-json'] && options.progress === 'bar') {
    throw InvalidArgumentError.format('--progress', 'bar draws on stderr, where --log-json writes only JSON records: use --progress plain (progress lines as records) or none');
  }
  return { command: 'run', options, logLevel: a['log-level'], logJson: a['log-json'], warnings };
}

/** Builds and validates {@link MasterOptions} from parsed arguments. @throws {@link InvalidArgumentError} */
function resolveMasterOptions(a: Record<string, unknown>, d: MasterOptions, localSlaves: number, out: string): MasterOptions {
  return validateMasterOptions({
    ...d,
    inputs: [...((a['inputs'] as string[] | undefined) ?? []), ...((a['--'] as unknown[] | undefined) ?? []).map(String)],
    kinds: parseKinds(a['tasks'] as string),
    bind: a['bind'] as string,
    allowInsecure: a['allow-insecure'] as boolean,
    curveSecretKeyFile: a['curve-secret-key'] as string | undefined,
    allowKeys: a['allow-keys'] as string | undefined,
    out,
    reportFile: (a['report'] as string | undefined) ?? defaultReportFile(out),
    resume: a['resume'] as boolean,
    overwrite: a['overwrite'] as boolean,
    every: a['every'] as number,
    frameFormat: a['frame-format'] as 'jpg' | 'png',
    jpegQuality: a['jpeg-quality'] as number,
    videoReaders: a['video-readers'] as number,
    localSlaves,
    localThreads: (a['local-threads'] as number | undefined) ?? Math.max(1, Math.floor(d.localThreads / Math.max(1, localSlaves))),
    maxAttempts: a['max-attempts'] as number,
    backupTasks: a['backup-tasks'] as boolean,
    leaseMs: parseLeases(a['lease'] as string | undefined, d.leaseMs),
    heartbeatIntervalMs: a['heartbeat-interval'] as number,
    heartbeatLiveness: a['heartbeat-liveness'] as number,
    window: a['window'] as number,
    maxImageBytes: a['max-image-bytes'] as number,
    maxMessageBytes: a['max-message-bytes'] as number,
    progress: a['progress'] as MasterOptions['progress'],
    logLevel: a['log-level'] as LogLevel,
    logJson: a['log-json'] as boolean,
    metricsPort: a['metrics-port'] as number,
    metricsHost: a['metrics-host'] as string,
    metricsLingerMs: a['metrics-linger'] as number,
    annotate: a['annotate'] as string | undefined,
  });
}

/**
 * `--report`'s default: `OUT.report.json`, or `cctv-report.json` in the current folder when
 * OUT is not a regular file or lies in /dev or /proc (`--out /dev/stdout`, also redirected
 * to a file; a named pipe: `/dev/stdout.report.json` would land in /dev).
 */
export function defaultReportFile(out: string): string {
  return isStreamOrDevice(out) ? 'cctv-report.json' : `${out}.report.json`;
}

/**
 * A hint for a file named like an option (`master run -dash.jpg` read as -d -a -s ...):
 * the first word before `--` that begins with `-` and names an existing file.
 */
function dashedFileHint(argv: readonly string[]): string {
  const end = argv.indexOf('--');
  const file = (end < 0 ? argv : argv.slice(0, end)).find((a) => a.startsWith('-') && a.length > 1 && existsSync(a));
  return file === undefined ? '' : `\n(${JSON.stringify(file)} is a file: put \`--\` before file names that begin with -, e.g. \`${invokedAs('master')} run -- ${file}\`)`;
}
