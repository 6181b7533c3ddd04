import { destination, pino, type Logger } from 'pino';

/** Log levels accepted by `--log-level`. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
/** One log level. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * Creates the process logger. Logs go to stderr (stdout carries the report), as one JSON
 * object a line when `json` is set, otherwise as short human-readable lines.
 *
 * @param name - process role shown in every line, e.g. `master` or `slave s1`
 */
export function createLogger(name: string, level: LogLevel, json: boolean): Logger {
  if (json) {
    return pino({ name, level }, destination({ fd: 2, sync: true }));
  }
  const levelNames: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
  const dest = {
    write(line: string): void {
      try {
        const o = JSON.parse(line) as Record<string, unknown>;
        const { level: lv, time, msg, name: n, ...rest } = o;
        delete rest['pid'];
        delete rest['hostname'];
        const ts = new Date(typeof time === 'number' ? time : Date.now()).toISOString().slice(11, 23);
        const extra = Object.keys(rest).length > 0 ? ` ${JSON.stringify(rest)}` : '';
        process.stderr.write(`${ts} ${(levelNames[lv as number] ?? 'log').padEnd(5)} [${String(n)}] ${String(msg)}${extra}\n`);
      } catch {
        process.stderr.write(line);
      }
    },
  };
  return pino({ name, level }, dest);
}

export type { Logger };
