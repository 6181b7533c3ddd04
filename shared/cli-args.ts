import { isAbsolute, relative } from 'node:path';
import type { Argv, Options } from 'yargs';
import { findConfigPath, readConfigFile } from './config-file.js';
import { LOG_LEVELS } from './logger.js';
import { nearestName } from './nearest-name.js';
import { unquotedPrintable } from './peer-text.js';

/**
 * Command-line conventions shared by `master` and `slave` (yargs 17):
 * every option that takes a value takes exactly one, a repeated option keeps its last
 * value, and yargs' usage messages name the option or command at fault first.
 */

/**
 * Whether a command line asks for JSON log records: `--log-json` in `argv`, or `log-json: true`
 * in its `--config` file when `argv` does not say `--no-log-json`. Read from `argv` and the file
 * themselves, since the error to report may be in parsing them; a file that cannot be read
 * or parsed says nothing.
 */
export function wantsLogJson(argv: readonly string[]): boolean {
  if (argv.some((a) => a === '--no-log-json' || a === '--log-json=false')) return false;
  if (argv.some((a) => a === '--log-json' || a === '--log-json=true')) return true;
  const file = findConfigPath(argv);
  if (file === undefined) return false;
  try {
    return readConfigFile(file)['log-json'] === true;
  } catch {
    return false;
  }
}

/**
 * How the user started `tool`, for the help's examples and the usage errors' pointer to it:
 * `node bin/master.js` when run by the script's path (as the README does; a bare `master`
 * is no command there), else the name (an npm-installed bin, `npx master`).
 *
 * @param script - the script as run, default `process.argv[1]`
 */
export function invokedAs(tool: string, script: string | undefined = process.argv[1]): string {
  if (script === undefined || !script.endsWith('.js')) return tool;
  const rel = relative(process.cwd(), script);
  const path = rel === '' || rel.startsWith('..') || isAbsolute(rel) ? script : rel;
  // Quoted when a shell would split or expand it, so that the hint works when pasted.
  return `node ${/^[\w./@%+=:,-]+$/.test(path) ? path : `'${path.replace(/'/g, "'\\''")}'`}`;
}

/**
 * Writes a usage error to stderr: `TOOL: MESSAGE` and a pointer to the help, or under
 * `--log-json` ({@link wantsLogJson}: on the command line or in its config file) one log
 * record like the logger's, so that every stderr line stays JSON.
 *
 * @param help - the help command to point at, e.g. `master run --help`
 */
export function writeUsageError(tool: string, message: string, argv: readonly string[], help?: string): void {
  const json = wantsLogJson(argv);
  // Short options as typed: yargs names "-x" --x, like a long one.
  // Control characters escaped (a name with an ANSI escape drove the terminal), line by line:
  // yargs' own messages span lines ("Invalid values:\n  Argument: ...").
  const text = message
    .replace(/--([A-Za-z])(?![\w-])/g, '-$1')
    .split('\n')
    .map((line) => unquotedPrintable(line, Infinity))
    .join('\n');
  if (json) process.stderr.write(`${JSON.stringify({ level: 50, time: Date.now(), pid: process.pid, name: tool, msg: text })}\n`);
  else process.stderr.write(`${tool}: ${text}\n${help === undefined ? '' : `Run \`${help}\` for the options.\n`}`);
}

/** The last of a repeated option's values (`--every 5 --every 6` -> 6); other values as given. */
export function lastValue(value: unknown): unknown {
  return Array.isArray(value) ? value.at(-1) : value;
}

/**
 * Marks every non-boolean option of a yargs options table as taking exactly one value:
 * `requiresArg` (so `--every` with no value, or followed by another flag, is a usage
 * error) and a `coerce` keeping the last value of a repeated option.
 *
 * yargs' parser setting `duplicate-arguments-array: false` would keep the last value too,
 * but it also drops all but the last word of a variadic positional (`run <inputs..>`;
 * yargs issue #2011, open in 17.7), hence the coerce.
 *
 * @param table - options by long name, as given to yargs' `.options()`
 * @returns the same table (a copy) with those two settings added; its static type is the
 *   input's, so yargs infers the same argument types
 */
export function singleValued<T extends Record<string, Options>>(table: T): T {
  const out: Record<string, Options> = {};
  for (const [name, option] of Object.entries(table)) {
    if (option.type === 'boolean') out[name] = option;
    // `string: true` stops yargs-parser turning the text into a number first (`16MiB` -> NaN,
    // `--every=` -> 0); help still shows [number].
    else if (option.type === 'number') out[name] = { ...option, string: true, requiresArg: true, coerce: (v: unknown) => numberValue(name, v) };
    else out[name] = { ...option, requiresArg: true, coerce: (v: unknown) => stringValue(name, v) };
  }
  return out as T;
}

/**
 * The usage error for a boolean option given a value other than `true` or `false`
 * (`--resume=yes`, `--backup-tasks=1`): yargs-parser reads any such value as false without a
 * word, which turned `--backup-tasks=yes` into "off". Only `--NAME=VALUE` words before `--`
 * are looked at; a separate word after a boolean flag is a positional to yargs.
 *
 * @param argv - the command line as given
 * @param table - options by long name; those of `type: 'boolean'` are checked
 * @returns the message (`--resume takes true or false, got "yes"`), or true when all is well
 *   (the shape yargs' `.check()` wants)
 */
export function booleanValueCheck(argv: readonly string[], table: Readonly<Record<string, Options>>): string | true {
  const booleans = new Set(Object.entries(table).filter(([, o]) => o.type === 'boolean').map(([name]) => name));
  for (const word of argv) {
    if (word === '--') break;
    const m = /^--(?:no-)?([^=]+)=(.*)$/s.exec(word);
    if (m === null || !booleans.has(m[1] as string)) continue;
    const value = m[2] as string;
    if (value !== 'true' && value !== 'false') return `${word.slice(0, word.indexOf('='))} takes true or false, got ${JSON.stringify(value)}`;
  }
  return true;
}

/**
 * The text a string option was given (its last value when repeated; a number from a config
 * file as its decimal text).
 *
 * @throws Error `--NAME takes a value (--no-NAME is not an option)` for a boolean: yargs
 *   reads `--no-tasks` as tasks=false, and the string checks then died on it with a
 *   TypeError and exit 1; yargs reports this as a usage error (exit 2)
 */
export function stringValue(name: string, value: unknown): unknown {
  const v = lastValue(value);
  if (typeof v === 'boolean') throw new Error(`--${name} takes a value (--no-${name} is not an option)`);
  // `-o.jsonl` is `o: { jsonl: true }` to yargs (dot notation): a TypeError deep inside before.
  if (typeof v === 'object' && v !== null) throw new Error(`--${name} takes one value, not --${name}.KEY (to name a file that begins with -, put \`--\` before it)`);
  return v;
}

/** A plain decimal number, as a user types it on a command line (`5`, `0.5`, `1e6`, `-1`). */
const DECIMAL = /^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i;

/** Whether `text` is a number as options take them: decimal, with an optional sign and exponent (`1.6e7`). */
export function isDecimal(text: string): boolean {
  return DECIMAL.test(text);
}

/**
 * The logging options every command of `master` and `slave` takes (`keygen` too, so that
 * one `--log-json` works on all of them: its usage errors are JSON then).
 */
export const LOG_OPTIONS = {
  'log-level': { choices: LOG_LEVELS, default: 'info', description: 'log verbosity (logs go to stderr)' },
  'log-json': { type: 'boolean', default: false, description: 'log one JSON object per line' },
} as const satisfies Record<string, Options>;

/**
 * The number a numeric option was given (its last value when repeated).
 *
 * @param name - the option's long name, for the message
 * @param value - what yargs parsed: a string from the command line, a number from a config file
 * @throws Error `--NAME needs a value` for an empty value (`--every=`), `--NAME takes a
 *   number (--no-NAME is not an option)` for `--no-every`, `--NAME must be a number, got
 *   "16MiB"` for anything else that is not a plain decimal number; yargs reports it as a
 *   usage error (exit 2)
 */
export function numberValue(name: string, value: unknown): number {
  const v = lastValue(value);
  if (typeof v === 'number') return v;
  // yargs reads `--no-every` as every=false.
  if (typeof v === 'boolean') throw new Error(`--${name} takes a number (--no-${name} is not an option)`);
  const text = String(v).trim();
  if (text === '') throw new Error(`--${name} needs a value`);
  if (!isDecimal(text)) throw new Error(`--${name} must be a number, got ${JSON.stringify(text)}`);
  return Number(text);
}

/**
 * Rewords yargs' usage messages so that the option or command at fault comes first:
 * `--every needs a value`, `unknown option --bogus`, `unknown command bogus; commands: ...`.
 *
 * @param commands - the program's commands, listed after an unknown one (none: not mentioned)
 */
export function withUsageStrings<T>(y: Argv<T>, commands: readonly string[] = []): Argv<T> {
  const list = commands.length > 0 ? `; commands: ${commands.join(', ')}` : '';
  // y18n takes {one, other} for the messages yargs words by count; @types/yargs only knows strings.
  const strings = {
    'Not enough arguments following: %s': '--%s needs a value',
    'Unknown argument: %s': { one: 'unknown option --%s', other: 'unknown options: %s' },
    'Unknown command: %s': { one: `unknown command %s${list}`, other: `unknown commands: %s${list}` },
  };
  return y.updateStrings(strings as unknown as Record<string, string>);
}

/**
 * yargs names every word as an unknown command when the first is one (`master runn x.jpg`:
 * "unknown commands: runn, x.jpg", in {@link withUsageStrings}' wording): names only the
 * first, the mistyped command, and says when it differs from one only in case (`RUN`).
 * Other messages are returned as they are.
 *
 * @param program - the program's name, for the hint (`master`)
 */
export function firstUnknownCommand(program: string, message: string): string {
  const m = /^unknown commands?:? (.*?); commands: (.*)$/s.exec(message);
  if (m === null) return message;
  const word = (m[1] ?? '').split(', ')[0] ?? '';
  const commands = (m[2] ?? '').split(', ');
  const cased = commands.find((c) => c === word.toLowerCase());
  return `unknown command ${word}; commands: ${commands.join(', ')}${cased === undefined ? '' : ` (lower case: \`${program} ${cased}\`)`}`;
}

/**
 * Adds a suggestion to a one-option "unknown option --NAME" message (as worded by
 * {@link withUsageStrings}) and names a negated flag as typed: yargs strips `--no-`, so
 * `--no-backup-task` was reported as `--backup-task`.
 * `unknown option --evry (did you mean --every?)`, `unknown option --no-backup-task (did you
 * mean --no-backup-tasks?)`. The suggestion is {@link nearestName}'s; a negated flag is
 * matched against the boolean options only. Other messages, and names with no near option, are returned as
 * they are.
 *
 * @param argv - the command line as given (to find the word as typed)
 * @param table - the options of the command at fault, by long name
 */
export function unknownOptionHint(message: string, argv: readonly string[], table: Readonly<Record<string, Options>>): string {
  const m = /^unknown option --([^\s]+)$/.exec(message);
  const name = m?.[1];
  if (name === undefined || name.length < 2) return message;
  const words = argv.slice(0, argv.includes('--') ? argv.indexOf('--') : argv.length).map((w) => w.replace(/=.*$/s, ''));
  const negated = !words.includes(`--${name}`) && words.includes(`--no-${name}`);
  const candidates = Object.entries({ ...table, help: { type: 'boolean' }, version: { type: 'boolean' } } as Record<string, Options>)
    .filter(([, o]) => !negated || o.type === 'boolean')
    .map(([known]) => known);
  const best = nearestName(name, candidates);
  const typed = `--${negated ? 'no-' : ''}${name}`;
  if (best === undefined) return `unknown option ${typed}`;
  return `unknown option ${typed} (did you mean --${negated ? 'no-' : ''}${best}?)`;
}
