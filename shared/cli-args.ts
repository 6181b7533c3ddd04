import type { Argv, Options } from 'yargs';

/**
 * Command-line conventions shared by `master` and `slave` (yargs 17):
 * every option that takes a value takes exactly one, a repeated option keeps its last
 * value, and yargs' usage messages name the option or command at fault first.
 */

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
    out[name] = option.type === 'boolean' ? option : { ...option, requiresArg: true, coerce: lastValue };
  }
  return out as T;
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
