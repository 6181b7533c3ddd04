import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { nearestName } from './nearest-name.js';
import { InvalidArgumentError } from './errors.js';

/** The part of a yargs option declaration a config file is checked against. */
export interface ConfigOptionSpec {
  /** `string`, `number` or `boolean` (others are taken as strings). */
  type?: string;
  choices?: readonly unknown[];
  hidden?: boolean;
  alias?: string | readonly string[];
}

/** A config file's settings, checked and converted for yargs' `.config()`. */
export interface LoadedConfig {
  /** The file as given after `--config`. */
  file: string;
  /** Settings by long option name (`every`, `local-slaves`), values of the option's type. */
  values: Record<string, unknown>;
}

/** How a config file is checked (see {@link loadConfig}). */
export interface ConfigRules {
  /** The command's options, by long name, as declared to yargs. */
  options: Readonly<Record<string, ConfigOptionSpec>>;
  /** String options that also take a list (joined with `,`) or a mapping (`key=value,...`), e.g. `tasks`, `lease`. */
  lists?: readonly string[];
  /** The command, for messages, e.g. `master run`. */
  command: string;
  /** Number options that also take the word `auto` (any case), as their flag does, e.g. the slave's `threads`. */
  autoNumbers?: readonly string[];
}

/** The option that names the config file; a file cannot set it. */
export const CONFIG_OPTION = 'config';

/**
 * Finds `--config FILE` or `--config=FILE` in a command line, before yargs runs (the file's
 * settings become yargs' config object, below the flags). The last one wins; `--` ends the
 * search. `--config` followed by nothing or by another flag is skipped, as yargs does (it
 * then reports that `--config` needs a value).
 */
export function findConfigPath(argv: readonly string[]): string | undefined {
  let found: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a === '--') break;
    if (a === `--${CONFIG_OPTION}`) {
      const next = argv[i + 1];
      // yargs' rule for a value: not a flag, but a negative number is one.
      if (next !== undefined && !/^-[^0-9]/.test(next)) found = argv[++i];
    } else if (a.startsWith(`--${CONFIG_OPTION}=`)) found = a.slice(CONFIG_OPTION.length + 3);
  }
  return found;
}

/**
 * Reads a config file: JSON (`.json`) or YAML (any other name; YAML 1.2, so JSON too),
 * with or without a UTF-8 byte-order mark. The top level must be a mapping; an empty file
 * is an empty mapping.
 *
 * @throws {@link InvalidArgumentError} naming the file when it cannot be read or parsed
 */
export function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new InvalidArgumentError(`cannot read config file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
  // Windows editors save UTF-8 with a byte-order mark; YAML skips it, JSON.parse does not.
  if (text.startsWith('\uFEFF')) text = text.slice(1);
  // JSON.parse refused an empty .json ("Unexpected end of JSON input") where YAML gives null.
  if (text.trim() === '') return {};
  let data: unknown;
  try {
    data = extname(file).toLowerCase() === '.json' ? JSON.parse(text) : parseYaml(text, { prettyErrors: true });
  } catch (err) {
    throw new InvalidArgumentError(`config file ${file} is not valid ${extname(file).toLowerCase() === '.json' ? 'JSON' : 'YAML'}: ${(err as Error).message.split('\n')[0] ?? ''}`, { cause: err });
  }
  if (data === null || data === undefined) return {};
  if (typeof data !== 'object' || Array.isArray(data)) {
    throw new InvalidArgumentError(`config file ${file} must hold a mapping of settings (e.g. {"every": 10}), not ${Array.isArray(data) ? 'a list' : typeof data}`);
  }
  return data as Record<string, unknown>;
}

/**
 * Checks a config file's settings against a command's options: every key must be a
 * long option name (not an alias, a hidden option or `config`), every value of the
 * option's type (a number, true/false, a string; one of the `choices`). Numbers are only
 * type-checked here; their ranges are checked with the flags' (`validate*Options`).
 *
 * @throws {@link InvalidArgumentError} naming the setting and the file
 */
export function checkConfig(raw: Record<string, unknown>, file: string, rules: ConfigRules): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const known = Object.keys(rules.options).filter((k) => k !== CONFIG_OPTION && rules.options[k]?.hidden !== true);
  for (const [key, value] of Object.entries(raw)) {
    const spec = rules.options[key];
    if (spec === undefined || key === CONFIG_OPTION || spec.hidden === true) {
      const why = key === CONFIG_OPTION ? 'a config file cannot name another one' : `settings are the long option names of \`${rules.command} --help\`: ${known.join(', ')}`;
      const near = key === CONFIG_OPTION ? undefined : nearestName(key, known);
      throw new InvalidArgumentError(`config file ${file}: unknown setting ${JSON.stringify(key)}${near === undefined ? '' : ` (did you mean ${JSON.stringify(near)}?)`} (${why})`);
    }
    const bad = (what: string): InvalidArgumentError => InvalidArgumentError.format(`--${key}`, `${what}, got ${JSON.stringify(value)} (set in config file ${file})`);
    if (spec.choices !== undefined) {
      if (typeof value !== 'string' || !spec.choices.includes(value)) throw bad(`must be one of ${spec.choices.map(String).join(', ')}`);
      out[key] = value;
    } else if (spec.type === 'number' && rules.autoNumbers?.includes(key) === true && typeof value === 'string' && value.trim().toLowerCase() === 'auto') {
      out[key] = 'auto';
    } else if (spec.type === 'number') {
      // `every: '5'` refused as got "5" read as a contradiction: say it is quoted.
      if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) throw bad('must be a number, written without quotes');
      if (typeof value !== 'number') throw bad(rules.autoNumbers?.includes(key) === true ? 'must be a number or auto' : 'must be a number');
      out[key] = value;
    } else if (spec.type === 'boolean') {
      if (value === 'true' || value === 'false') throw bad('must be true or false, written without quotes');
      if (typeof value !== 'boolean') throw bad('must be true or false');
      out[key] = value;
    } else if (typeof value === 'string' || typeof value === 'number') {
      out[key] = String(value);
    } else if (rules.lists?.includes(key) === true && Array.isArray(value) && value.every(isScalar)) {
      out[key] = value.map(String).join(',');
    } else if (rules.lists?.includes(key) === true && isMapping(value) && Object.values(value).every(isScalar)) {
      out[key] = Object.entries(value).map(([k, v]) => `${k}=${String(v)}`).join(',');
    } else {
      throw bad(rules.lists?.includes(key) === true ? 'must be a string, a list or a mapping' : 'must be a string');
    }
  }
  return out;
}

/**
 * Loads the `--config` file named in `argv`, if any ({@link findConfigPath},
 * {@link readConfigFile}, {@link checkConfig}).
 *
 * @throws {@link InvalidArgumentError} naming the file (and the setting, for a bad one), or
 *   for `--config ''`
 */
export function loadConfig(argv: readonly string[], rules: ConfigRules): LoadedConfig | undefined {
  const file = findConfigPath(argv);
  if (file === undefined) return undefined;
  if (file.trim() === '') throw InvalidArgumentError.format(`--${CONFIG_OPTION}`, 'must name a file, got ""');
  return { file, values: checkConfig(readConfigFile(file), file, rules) };
}

/**
 * Adds "(set in config file FILE)" to an option error (`--every must be ...`) when that
 * setting came from the config file, i.e. is in it and was not given as a flag.
 */
export function blameConfig(err: unknown, config: LoadedConfig | undefined, argv: readonly string[], options: Readonly<Record<string, ConfigOptionSpec>>): unknown {
  if (config === undefined || !(err instanceof InvalidArgumentError)) return err;
  const key = /^--([a-z][\w-]*)/.exec(err.message)?.[1];
  if (key === undefined || !(key in config.values) || givenAsFlag(argv, key, options[key]?.alias)) return err;
  return new InvalidArgumentError(`${err.message} (set in config file ${config.file})`, { cause: err });
}

/**
 * Drops from `config` the settings a flag on the command line rules out: of each pair of
 * boolean options that cannot both be on (`resume`, `overwrite`), the one in the file when
 * the other is turned on by a flag. "Flags override the file" then holds for them too:
 * `--overwrite` with a file that says `resume: true` was refused as the two together.
 */
export function dropExcludedByFlags(config: LoadedConfig | undefined, argv: readonly string[], pairs: readonly (readonly [string, string])[]): void {
  if (config === undefined) return;
  for (const [a, b] of pairs) {
    const onA = turnedOnByFlag(argv, a);
    const onB = turnedOnByFlag(argv, b);
    const dropped = onA && !onB ? b : onB && !onA ? a : undefined;
    if (dropped !== undefined) config.values = Object.fromEntries(Object.entries(config.values).filter(([key]) => key !== dropped));
  }
}

/** Whether the last of `--key`, `--key=true|false` and `--no-key` in `argv` (before `--`) turns boolean option `key` on. */
function turnedOnByFlag(argv: readonly string[], key: string): boolean {
  let on = false;
  for (const word of argv) {
    if (word === '--') break;
    if (word === `--${key}` || word === `--${key}=true`) on = true;
    else if (word === `--no-${key}` || word === `--${key}=false`) on = false;
  }
  return on;
}

/** Whether `argv` sets option `key` itself (`--key`, `--key=`, `--no-key`, camelCase, or its one-letter alias). */
function givenAsFlag(argv: readonly string[], key: string, alias: string | readonly string[] | undefined): boolean {
  const camel = key.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
  const aliases = alias === undefined ? [] : typeof alias === 'string' ? [alias] : alias;
  for (const a of argv) {
    if (a === '--') break;
    const name = /^--(?:no-)?([^=]+)/.exec(a)?.[1] ?? /^-([^-=])(?:=|$)/.exec(a)?.[1];
    if (name === key || name === camel || (name !== undefined && aliases.includes(name))) return true;
  }
  return false;
}

function isScalar(v: unknown): v is string | number {
  return typeof v === 'string' || typeof v === 'number';
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
