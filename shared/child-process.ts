import type { ChildProcess } from 'node:child_process';

/**
 * Whether a child process has not exited yet: neither an exit code nor a signal has been
 * reported for it (Node sets one of them on 'exit').
 */
export function isRunning(proc: ChildProcess): boolean {
  return proc.exitCode === null && proc.signalCode === null;
}
