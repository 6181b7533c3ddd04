import type { ChildProcess } from 'node:child_process';

/**
 * Whether a child process has not exited yet: neither an exit code nor a signal has been
 * reported for it (Node sets one of them on 'exit').
 */
export function isRunning(proc: ChildProcess): boolean {
  return proc.exitCode === null && proc.signalCode === null;
}

/**
 * What a SIGKILL that this project did not send most often is: the kernel's out-of-memory
 * killer (or a user's `kill -9`). One wording for a worker, a local slave and a video
 * reader, so that one log search finds them all.
 */
export const KILLED_FROM_OUTSIDE = 'SIGKILL: by the out-of-memory killer, or a user?';
