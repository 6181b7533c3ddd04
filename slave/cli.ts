import { hideBin } from 'yargs/helpers';
import { InvalidArgumentError } from '../shared/errors.js';
import { runKeygen } from '../shared/keygen-cli.js';
import { createLogger, surviveClosedOutput } from '../shared/logger.js';
import { writeUsageError } from '../shared/cli-args.js';
import { startMetricsServer } from '../shared/metrics-server.js';
import { refuseInspectorSignal, StopSignals } from '../shared/stop-signals.js';
import { logLaunch } from '../shared/child-script.js';
import { buildSlaveArgs, buildSlaveKeygenArgs } from './args.js';
import { Slave } from './slave.js';

/** Exit codes of `slave`: 0 left cleanly (tasks in hand finished), 1 fatal, 2 usage error, 130 a second Ctrl-C left tasks unfinished (the master runs them elsewhere). */
export const SLAVE_EXIT = { ok: 0, fatal: 1, usage: 2, interrupted: 130 } as const;

async function main(): Promise<void> {
  surviveClosedOutput();
  const argv = hideBin(process.argv);
  if (argv[0] === 'keygen') {
    process.exit(runKeygen('slave', await buildSlaveKeygenArgs(argv)));
  }
  let args;
  try {
    args = await buildSlaveArgs(argv);
  } catch (err) {
    if (err instanceof InvalidArgumentError) {
      writeUsageError('slave', err.message, argv);
      process.exit(SLAVE_EXIT.usage);
    }
    throw err;
  }
  const logger = createLogger('slave', args.logLevel, args.logJson);
  refuseInspectorSignal((text) => {
    logger.warn(text);
  });
  logLaunch(logger, import.meta.url);
  for (const warning of args.warnings) logger.warn(warning);
  let slave: Slave;
  try {
    slave = new Slave(args.options, logger);
  } catch (err) {
    // A missing or malformed key file is a usage error.
    if (err instanceof InvalidArgumentError) {
      writeUsageError('slave', err.message, argv);
      process.exit(SLAVE_EXIT.usage);
    }
    throw err;
  }
  if (args.options.metricsPort > 0) slave.metrics.collectDefaults();
  await startMetricsServer({ port: args.options.metricsPort, host: args.options.metricsHost, registry: slave.metrics.registry, logger });
  const signals = new StopSignals();
  const stop = (signal: string): void => {
    const which = signals.next();
    if (which === 'echo') return;
    if (which === 'again') {
      logger.warn(`${signal} again: exiting at once (the master runs the unfinished tasks elsewhere)`);
      process.exit(SLAVE_EXIT.interrupted);
    }
    logger.info(`${signal}: finishing tasks in hand, then leaving`);
    void slave.stop(`slave ${slave.id} stopped by ${signal}`, args.options.drainTimeoutMs).then(() => process.exit(SLAVE_EXIT.ok));
  };
  process.on('SIGINT', () => {
    stop('SIGINT');
  });
  process.on('SIGTERM', () => {
    stop('SIGTERM');
  });
  // A closed terminal or ssh session: finish like on Ctrl-C (Node's default is to die at once).
  process.on('SIGHUP', () => {
    stop('SIGHUP');
  });
  if (args.exitWithParent) {
    process.on('disconnect', () => {
      stop('parent exit');
    });
    // A parent that died while this process was starting closed the channel before the
    // listener existed: a local slave of a master that crashed at start ran on, orphaned.
    if (!process.connected) stop('parent exit');
  }
  slave.onFatal = (reason) => {
    logger.fatal(reason);
    void slave.stop(reason, 0, false).then(() => process.exit(SLAVE_EXIT.fatal));
  };
  try {
    await slave.start();
  } catch (err) {
    logger.fatal((err as Error).message);
    process.exit(SLAVE_EXIT.fatal);
  }
}

await main();
