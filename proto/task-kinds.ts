/**
 * The kinds of task a slave can run on one image. `noop` does no vision work and exists
 * to measure dispatch overhead (`npm run bench`); it is never a default.
 */
export const TASK_KINDS = ['object', 'face', 'edge', 'corner', 'noop'] as const;

/** One task kind. */
export type TaskKind = (typeof TASK_KINDS)[number];

/** The kinds `master run` asks for when `--tasks` is not given. */
export const DEFAULT_TASK_KINDS: readonly TaskKind[] = ['object', 'face', 'edge', 'corner'];

/** Type guard for task kind names coming from users or the wire. */
export function isTaskKind(value: string): value is TaskKind {
  return (TASK_KINDS as readonly string[]).includes(value);
}
