/**
 * Text a peer chooses (slave ids, host facts, error messages, DISCONNECT reasons) reaches
 * the master's log, progress and report. Control and format characters (Unicode Cc, Cf,
 * Zl, Zp) in it could forge a log line with a newline, drive the terminal with ANSI
 * escapes or reverse text with U+202E; a tester did each of these.
 */

/** One control or format character (Unicode Cc, Cf, Zl, Zp). */
export const CONTROL_OR_FORMAT_CHAR = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;

/** {@link CONTROL_OR_FORMAT_CHAR}, global: built once, not per log line. */
const EVERY_CONTROL_OR_FORMAT_CHAR = new RegExp(CONTROL_OR_FORMAT_CHAR.source, 'gu');

/** Matches text without any control or format character (for schemas of peer text). */
export const FREE_OF_CONTROL_CHARS = new RegExp(`^[^${CONTROL_OR_FORMAT_CHAR.source.slice(1, -1)}]*$`, 'u');

/**
 * Peer-chosen text for a log line: quoted, at most `max` characters, with control and
 * format characters escaped (`\u001b`, `\u202e`, `\u2028`). JSON.stringify alone leaves
 * U+202E and U+2028 raw.
 */
export function printable(text: string, max = 64): string {
  return escapeControls(JSON.stringify(text.slice(0, max)));
}

/**
 * Like {@link printable} without the quotes, for text a peer sends as prose (a master's
 * DISCONNECT reason in a slave's log): at most `max` characters, control and format
 * characters escaped (`\u000a`), so that it cannot forge a log line or drive the terminal.
 */
export function unquotedPrintable(text: string, max = 200): string {
  return escapeControls(text.slice(0, max));
}

/** Every control or format character of `text` as `\uXXXX`. */
function escapeControls(text: string): string {
  return text.replace(EVERY_CONTROL_OR_FORMAT_CHAR, (c) => `\\u${(c.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`);
}
