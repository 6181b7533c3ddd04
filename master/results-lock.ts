import { closeSync, openSync, readFileSync, realpathSync, rmSync, statSync, writeSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { InvalidArgumentError } from '../shared/errors.js';
import { isStreamOrDevice } from './report.js';

/** Who holds a results file, as written in its lock file (JSON). */
interface LockOwner {
  pid: number;
  host: string;
  /** The holder's start time, clock ticks since boot (`/proc/PID/stat` field 22): tells it from a later process given the same PID. */
  startTicks: string | undefined;
  /** When it took the lock, ISO 8601. */
  since: string;
}

/**
 * The lock of a results file: `OUT.lock`, created with `O_EXCL`, naming the master that
 * holds it. Two masters on one file overwrote each other's records (a second run with
 * `--overwrite` or `--resume` while the first still wrote; found by QA), so a master takes
 * the file's lock before it reads or truncates it.
 *
 * A lock whose holder is gone (killed, crashed: the same host, and no process with its PID
 * and start time) is taken over at once, so `--resume` right after a `kill -9` works. A
 * lock held on another host (a results file on a shared folder) is taken for live: the
 * message says how to remove it. Age-based locks (proper-lockfile's mtime, 10 s) would
 * refuse that resume for a while, so this one checks the holder instead. Two masters
 * taking over the same stale lock in the same millisecond could both get it: not guarded.
 */
export class ResultsLock {
  private constructor(
    private readonly path: string,
    /** `path` with its links resolved ({@link realPathOf}). */
    private readonly real: string,
    private readonly lockPaths: string[],
  ) {}

  /** The lock file beside the results file (the first of those held). */
  get lockPath(): string {
    return this.lockPaths[0] ?? '';
  }

  /**
   * Takes the lock of results file `path`; none (undefined) for a device, a pipe or a path
   * in /dev or /proc (`--out /dev/stdout`), or where the lock file cannot be created (a
   * folder that cannot be written: opening the results file then says so).
   *
   * Two locks, so that every name of the file finds them (QA: a second master given a
   * symbolic or hard link to a file in use wrote into it): `REAL.lock` beside the file's
   * real path (links resolved), and, for a file that exists, one named by its device and
   * inode in the system's temporary folder ({@link inodeLockPath}).
   *
   * @throws {@link InvalidArgumentError} when another live master holds it; Error when the
   *   lock file was created but could not be written (ENOSPC: it is removed again)
   */
  static take(path: string): ResultsLock | undefined {
    if (isStreamOrDevice(path)) return undefined;
    const real = realPathOf(path);
    // As typed where no link is involved, so that messages name it the user's way.
    const beside = takeOne(path, `${real === resolve(path) ? path : real}.lock`, 'beside the results file');
    if (beside === undefined) return undefined;
    const lock = new ResultsLock(path, real, [beside]);
    try {
      lock.holdInode();
    } catch (err) {
      lock.release();
      throw err;
    }
    return lock;
  }

  /**
   * Takes the lock named by the file's inode, if not held yet and the file exists: called
   * again once a new results file is written, so that a hard link made to it later finds it.
   *
   * @throws {@link InvalidArgumentError} when a live master holds it
   */
  holdInode(): void {
    if (this.lockPaths.length > 1) return;
    const byInode = inodeLockPath(this.real);
    if (byInode !== undefined && takeOne(this.path, byInode, "named by the results file's inode") !== undefined) this.lockPaths.push(byInode);
  }

  /** Removes the lock files that are still this process's. */
  release(): void {
    for (const lockPath of this.lockPaths) {
      if (readOwner(lockPath)?.pid === process.pid) rmSync(lockPath, { force: true });
    }
  }
}

/**
 * `path` with every symbolic link resolved: the file's own real path when it exists, else
 * its folder's with its name (a link whose target is not there yet: as given).
 */
function realPathOf(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    try {
      return join(realpathSync(dirname(resolve(path))), basename(path));
    } catch {
      return path;
    }
  }
}

/**
 * The lock named by an existing file's device and inode, `TMPDIR/cctv-cluster-DEV-INO.lock`,
 * which every hard link to the file shares; undefined when the file does not exist yet (a
 * new file has no other name). Taken on this machine only: a master on another host writing
 * the same file over a shared folder finds the lock beside it.
 */
function inodeLockPath(real: string): string | undefined {
  try {
    const st = statSync(real, { bigint: true });
    return st.isFile() ? join(tmpdir(), `cctv-cluster-${st.dev}-${st.ino}.lock`) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Creates one lock file (`O_EXCL`) naming this process; undefined when it cannot be created.
 * `where` says which lock it is, in an error message.
 *
 * @throws {@link InvalidArgumentError} when a live master holds it
 */
function takeOne(path: string, lockPath: string, where: string): string | undefined {
  for (let tries = 0; tries < 2; tries++) {
    let fd: number;
    try {
      fd = openSync(lockPath, 'wx');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return undefined;
      const held = readOwner(lockPath);
      if (held !== undefined && isRunning(held)) throw inUse(path, lockPath, held);
      // Its master is gone (or the file is not a lock we wrote): take it over.
      rmSync(lockPath, { force: true });
      continue;
    }
    try {
      writeSync(fd, `${JSON.stringify(ownOwner())}\n`);
    } catch (err) {
      // A full disk: named, and no empty lock left behind (it was a bare "ENOSPC ... write").
      closeSync(fd);
      rmSync(lockPath, { force: true });
      throw new Error(`cannot write the lock file ${lockPath}, ${where}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}${(err as NodeJS.ErrnoException).code === 'ENOSPC' ? ' (the disk is full)' : ''}`, { cause: err });
    }
    closeSync(fd);
    return lockPath;
  }
  const held = readOwner(lockPath);
  throw inUse(path, lockPath, held ?? ownOwner());
}

function inUse(path: string, lockPath: string, held: LockOwner): InvalidArgumentError {
  return InvalidArgumentError.format('--out', `${path} is in use by another master (pid ${held.pid} on ${held.host}, since ${held.since}): wait for its batch to end, or give another --out; if no master runs on it any more, remove ${lockPath}`);
}

function ownOwner(): LockOwner {
  return { pid: process.pid, host: hostname(), startTicks: startTicks(process.pid), since: new Date().toISOString() };
}

/** The lock file's holder; undefined when it cannot be read or is not one of ours. */
function readOwner(lockPath: string): LockOwner | undefined {
  try {
    const o = JSON.parse(readFileSync(lockPath, 'utf8')) as Partial<LockOwner>;
    if (typeof o.pid !== 'number' || typeof o.host !== 'string') return undefined;
    return { pid: o.pid, host: o.host, startTicks: typeof o.startTicks === 'string' ? o.startTicks : undefined, since: typeof o.since === 'string' ? o.since : '?' };
  } catch {
    return undefined;
  }
}

/** Whether the holder still runs: on another host, assumed so (it cannot be looked at from here). */
function isRunning(owner: LockOwner): boolean {
  if (owner.host !== hostname()) return true;
  if (owner.pid === process.pid) return false;
  try {
    process.kill(owner.pid, 0);
  } catch (err) {
    // EPERM: it exists, owned by another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  const now = startTicks(owner.pid);
  return owner.startTicks === undefined || now === undefined || now === owner.startTicks;
}

/** A process's start time in clock ticks since boot, `/proc/PID/stat` field 22 (proc(5)); undefined without /proc. */
function startTicks(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2, the command name, is in parentheses and may hold spaces: count after it (field 3 on).
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}
