import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { unquotedPrintable } from './peer-text.js';

/** Log levels accepted by `--log-level`. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
/** One log level. */
export type LogLevel = (typeof LOG_LEVELS)[number];

const toStderr = (line: string): void => {
  process.stderr.write(line);
};
let lineWriter: (line: string) => void = toStderr;

/**
 * Writes one finished log line (ending in a newline) where log lines go: stderr, or what
 * {@link setLogLineWriter} installed. Lines relayed from child processes go through here too.
 */
export function writeLogLine(line: string): void {
  lineWriter(line);
}

/**
 * Passes each log line a child process of ours (a local slave, the annotator) writes on
 * `stream` (its stderr) on as a log line of this process. Any other line there is not its
 * logger's but a library's writing straight to the descriptor (libpng's "iCCP: too short",
 * a Node warning): it goes to `other`, escaped as {@link onStderrLines} does, for the caller
 * to log with its context. Passed on raw, it broke `--log-json` output (found by QA).
 */
export function relayLogLines(stream: Readable | null, other: (text: string) => void): void {
  if (stream === null) return;
  createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => {
    if (isOwnLogLine(line)) writeLogLine(`${line}\n`);
    else if (line.trim() !== '') other(unquotedPrintable(line, MAX_STDERR_LINE_CHARS));
  });
}

/** A line of {@link createLogger}'s plain format: `HH:MM:SS.mmm LEVEL [name] ...`. */
const PLAIN_LOG_LINE = /^\d\d:\d\d:\d\d\.\d{3} (trace|debug|info |warn |error|fatal|log {2}) \[/;

/** Whether `line` is one {@link createLogger} wrote: a pino JSON record (`--log-json`), or a plain line. */
function isOwnLogLine(line: string): boolean {
  if (PLAIN_LOG_LINE.test(line)) return true;
  if (!line.startsWith('{')) return false;
  try {
    const o = JSON.parse(line) as unknown;
    return typeof o === 'object' && o !== null && typeof (o as { level?: unknown }).level === 'number' && typeof (o as { msg?: unknown }).msg === 'string';
  } catch {
    return false;
  }
}

/** A child's bare stderr line is passed on up to this length, characters. */
const MAX_STDERR_LINE_CHARS = 1000;

/**
 * Calls `each` with every non-blank line a child process that is not ours to format (OpenCV,
 * FFmpeg, libjpeg inside a worker or a video reader) writes on `stream`, at most
 * {@link MAX_STDERR_LINE_CHARS} characters, control characters escaped: decoders quote a
 * file's bytes ("Expected: LIST. Got: ..."), which must not reach a terminal raw. The
 * caller logs it with the context it knows. For children that write our own log lines, see
 * {@link relayLogLines}.
 */
export function onStderrLines(stream: Readable | null, each: (text: string) => void): void {
  if (stream === null) return;
  createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => {
    if (line.trim() !== '') each(unquotedPrintable(line, MAX_STDERR_LINE_CHARS));
  });
}

/**
 * Sends every log line through `writer` instead of straight to stderr, until called
 * without one: a progress bar on the terminal clears its line before a log line, which
 * otherwise lands at the end of the bar.
 */
export function setLogLineWriter(writer?: (line: string) => void): void {
  lineWriter = writer ?? toStderr;
}

/**
 * Keeps the process running when the reader of its stdout or stderr goes away
 * (`master run ... 2>&1 | head -1`): output is lost then, not the batch. Without it the
 * next write threw EPIPE and the master died mid-batch with exit 1, silently.
 */
export function surviveClosedOutput(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') throw err;
    });
  }
}

/**
 * Creates the process logger. Logs go to stderr (stdout carries the report), as one JSON
 * object a line when `json` is set, otherwise as short human-readable lines.
 *
 * @param name - process role shown in every line, e.g. `master` or `slave s1`
 */
export function createLogger(name: string, level: LogLevel, json: boolean): Logger {
  if (json) {
    return pino({ name, level }, { write: writeLogLine });
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
        // Control characters escaped: file names and peers' words reach messages, and a newline
        // or an ANSI escape in them forged lines or drove the terminal.
        writeLogLine(`${ts} ${(levelNames[lv as number] ?? 'log').padEnd(5)} [${String(n)}] ${unquotedPrintable(String(msg), Infinity)}${extra}\n`);
      } catch {
        writeLogLine(line);
      }
    },
  };
  return pino({ name, level }, dest);
}

export type { Logger };
