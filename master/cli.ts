import { hideBin } from 'yargs/helpers';
import { systemClock } from '../shared/clock.js';
import { InputError, InvalidArgumentError } from '../shared/errors.js';
import { writeUsageError } from '../shared/cli-args.js';
import { runKeygen } from '../shared/keygen-cli.js';
import { unquotedPrintable } from '../shared/peer-text.js';
import { createLogger, surviveClosedOutput } from '../shared/logger.js';
import { startMetricsServer, type MetricsServer } from '../shared/metrics-server.js';
import { refuseInspectorSignal, StopSignals } from '../shared/stop-signals.js';
import { logLaunch } from '../shared/child-script.js';
import { buildMasterArgs } from './args.js';
import { countInputs } from './ingest/count.js';
import { Master, MASTER_EXIT } from './master.js';
import { curveEnabled, isLoopbackEndpoint, resumeFlag } from './options.js';
import { createProgress } from './progress.js';
import { formatReport, isStandardOutput } from './report.js';

async function main(): Promise<number> {
  surviveClosedOutput();
  let args;
  try {
    args = await buildMasterArgs(hideBin(process.argv));
  } catch (err) {
    if (err instanceof InvalidArgumentError) {
      writeUsageError('master', err.message, hideBin(process.argv));
      return MASTER_EXIT.usage;
    }
    throw err;
  }
  if (args.command === 'keygen') return runKeygen('master', args);
  const logger = createLogger('master', args.logLevel, args.logJson);
  refuseInspectorSignal((text) => {
    logger.warn(text);
  });
  logLaunch(logger, import.meta.url);
  // FFmpeg, inside OpenCV's video reader, prints each decode error of damaged footage
  // ("[h264 @ 0x...] error while decoding MB ...") straight to stderr, naming no file, between
  // the log lines. Such frames decode with artefacts and are processed as they are; their
  // messages show under --log-level debug. OpenCV reads this variable when it first opens a
  // video (videoio's cap_ffmpeg_impl.hpp); -8 is AV_LOG_QUIET.
  if (args.logLevel !== 'debug' && args.logLevel !== 'trace') {
    process.env['OPENCV_FFMPEG_LOGLEVEL'] ??= '-8';
    // OpenCV's own log (read at its first message): trying a file that is no video, its
    // GStreamer backend writes three lines of warnings and a C++ exception's text. The
    // input's record says what went wrong.
    process.env['OPENCV_LOG_LEVEL'] ??= 'FATAL';
  }
  // The closing lines on stderr: plain `master: ...` text, or log records under --log-json
  // (whose readers expect every stderr line to be JSON).
  const logJson = args.logJson;
  const notice = (level: 'warn' | 'error', text: string): void => {
    if (logJson) logger[level](text);
    else process.stderr.write(`master: ${unquotedPrintable(text, Infinity)}\n`);
  };
  for (const warning of args.warnings) logger.warn(warning);
  if (!isLoopbackEndpoint(args.options.bind) && !curveEnabled(args.options)) {
    logger.warn(
      `--allow-insecure: ${args.options.bind} is reachable from the network without encryption or authentication; ` +
        'anyone who can reach it can take tasks, read the images in them and send forged results. Use CURVE keys (master keygen) instead',
    );
  }
  // Under --log-json every stderr line is a record, the plain progress lines too (auto draws
  // no bar then, even on a terminal: `docker run -t` mixed bar frames into the records).
  const progressMode = logJson && args.options.progress === 'auto' ? 'plain' : args.options.progress;
  const progress = createProgress(progressMode, undefined, logJson ? (line) => { logger.info(line); } : undefined);
  const master = new Master(args.options, logger, systemClock, progress);
  if (args.options.metricsPort > 0) master.metrics.collectDefaults();
  let metrics: MetricsServer | undefined;
  const startMetrics = async (): Promise<void> => {
    metrics = await startMetricsServer({ port: args.options.metricsPort, host: args.options.metricsHost, registry: master.metrics.registry, logger });
  };
  const resumeHint = resumeFlag(args.options);
  /** Set while the final metrics are served after the batch: a signal ends that wait. */
  let endLinger: (() => void) | undefined;
  const signals = new StopSignals();
  const onSignal = (signal: string): void => {
    if (endLinger !== undefined) {
      endLinger();
      return;
    }
    const which = signals.next();
    if (which === 'echo') return;
    if (!master.resultsOpen) {
      // Still opening OUT (a named pipe without a reader): nothing to keep yet.
      logger.warn(`${signal}: stopped before the results file ${args.options.out} was open; nothing was written`);
      process.exit(MASTER_EXIT.interrupted);
    }
    if (which === 'first' && master.complete) {
      logger.info(`${signal}: the batch is complete; finishing up (Ctrl-C again to exit at once)`);
    } else if (which === 'first') {
      logger.warn(`${signal}: stopping; results so far are kept. Run again with ${resumeHint} to finish (Ctrl-C again to exit at once)`);
      master.stop();
    } else {
      // Records are flushed synchronously at most every 200 ms, so the file is still resumable.
      const unwritten = master.annotatedUnwritten;
      if (unwritten > 0) logger.warn(`${signal} again: exiting at once; ${unwritten} annotated copies named in the results were not written (a --resume with the same --annotate folder counts them)`);
      process.exit(MASTER_EXIT.interrupted);
    }
  };
  process.on('SIGINT', () => {
    onSignal('SIGINT');
  });
  process.on('SIGTERM', () => {
    onSignal('SIGTERM');
  });
  // A closed terminal or ssh session: stop as cleanly as on Ctrl-C (Node's default is to die at once).
  process.on('SIGHUP', () => {
    onSignal('SIGHUP');
  });
  if (progress) {
    countInputs(args.options.inputs, args.options.every)
      .then((n) => {
        progress.setTotal(n.items, n.exact);
      })
      .catch(() => undefined);
  }
  try {
    const outcome = await master.run(startMetrics);
    // With the results on standard output (`--out /dev/stdout | jq`), the summary goes to
    // stderr: it broke the JSONL stream, and written through stdout's own offset over a
    // redirected file it overwrote the header and the first records.
    const summaryTo = isStandardOutput(args.options.out) || isStandardOutput(args.options.reportFile) ? process.stderr : process.stdout;
    summaryTo.write(`${formatReport(outcome.report)}\n`);
    if (outcome.interrupted && outcome.exitCode === MASTER_EXIT.interrupted) notice('warn', `interrupted; run the same command with ${resumeHint} to finish the batch`);
    else if (outcome.exitCode === MASTER_EXIT.someFailed) {
      const r = outcome.report;
      const what: string[] = [];
      if (r.tasksFailed > 0) what.push(`${r.tasksFailed} task(s) failed`);
      if (r.imagesResumedFailed > 0) what.push(`${r.imagesResumedFailed} image(s) already in the file had failed tasks (--overwrite runs everything again)`);
      const annotations = (r.annotatedMissing ?? 0) > 0 ? `${what.length > 0 ? '; ' : ''}${r.annotatedMissing} annotated copies were not written (see above)` : '';
      notice('warn', `${what.length > 0 ? `${what.join('; ')}; their errors are in ${args.options.out}` : ''}${annotations}`);
    }
    const lingerMs = args.options.metricsLingerMs;
    if (metrics !== undefined && lingerMs > 0 && !outcome.interrupted) {
      logger.info(`batch over; still serving ${metrics.url} for ${lingerMs / 1000} s for a last scrape (Ctrl-C to exit now)`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, lingerMs);
        endLinger = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return outcome.exitCode;
  } catch (err) {
    if (err instanceof InvalidArgumentError || err instanceof InputError) {
      notice('error', err.message);
      return MASTER_EXIT.usage;
    }
    logger.fatal((err as Error).message);
    return MASTER_EXIT.fatal;
  } finally {
    await metrics?.close();
  }
}

process.exitCode = await main();
// Sockets and timers are closed; exit now rather than wait for stray handles.
setTimeout(() => process.exit(), 100).unref();
