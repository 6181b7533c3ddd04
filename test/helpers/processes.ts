import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Absolute path of the project root. */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** `bin/master.js`. */
export const MASTER_BIN = `${ROOT}bin/master.js`;
/** `bin/slave.js`. */
export const SLAVE_BIN = `${ROOT}bin/slave.js`;

/** A child process a test started, with its output collected. */
export interface Tracked {
  proc: ChildProcess;
  pid: number;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the exit code (or signal name) when the process ends. */
  exited: Promise<number | string>;
}

// One set per test process, even when this module is loaded twice: mocha's --require
// loads it as CommonJS (through tsx) while a test file that tsx cannot turn into CommonJS
// (one importing a module that uses import.meta.resolve) loads it again as ESM. With a
// set per copy, the root hook killed nothing the ESM copy started, and a leaked slave kept
// mocha from exiting.
const TRACKED_KEY = Symbol.for('cctv-cluster.test.tracked-processes');
const registry = globalThis as unknown as Record<symbol, Set<Tracked> | undefined>;
const tracked: Set<Tracked> = (registry[TRACKED_KEY] ??= new Set<Tracked>());

/**
 * Starts `node [nodeArgs...] script args...` and tracks it; {@link killAllTracked} (run after every
 * test by the root hook) ends it by PID if it is still running.
 *
 * @param options.netns - run it in this network namespace (`ip netns exec`)
 * @param options.cpus - run it, and the processes it starts, on these CPUs only (`taskset -c`, e.g. `0,1`)
 */
export function startNode(script: string, args: string[], options: SpawnOptions & { netns?: string; nodeArgs?: string[]; cpus?: string } = {}): Tracked {
  const { netns, nodeArgs = [], cpus, ...spawnOptions } = options;
  // `ip netns exec NS node ...` and `taskset -c CPUS node ...` exec node in place, so the tracked PID is node's own.
  const nodeArgv = [...nodeArgs, script, ...args];
  const pinned = cpus === undefined ? [process.execPath, ...nodeArgv] : ['taskset', '-c', cpus, process.execPath, ...nodeArgv];
  const [cmd, argv] = netns === undefined ? [pinned[0] ?? '', pinned.slice(1)] : ['ip', ['netns', 'exec', netns, ...pinned]];
  const proc = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], cwd: ROOT, ...spawnOptions });
  let out = '';
  let err = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | string>((resolve) => {
    proc.on('exit', (code, signal) => {
      resolve(code ?? signal ?? -1);
    });
  });
  if (proc.pid === undefined) throw new Error(`could not start ${script}`);
  const t: Tracked = { proc, pid: proc.pid, stdout: () => out, stderr: () => err, exited };
  tracked.add(t);
  void exited.then(() => tracked.delete(t));
  return t;
}

/** Starts a `master` process. */
export function startMaster(args: string[], options: SpawnOptions & { netns?: string; cpus?: string } = {}): Tracked {
  return startNode(MASTER_BIN, args, options);
}

/** Starts a `slave` process. */
export function startSlave(args: string[], options: SpawnOptions & { netns?: string } = {}): Tracked {
  return startNode(SLAVE_BIN, args, options);
}

/** Waits for a tracked process to exit, failing after `timeoutMs`. */
export async function waitExit(t: Tracked, timeoutMs: number): Promise<number | string> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`process ${t.pid} did not exit within ${timeoutMs} ms\nstderr:\n${t.stderr().slice(-3000)}`));
    }, timeoutMs);
  });
  try {
    return await Promise.race([t.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Waits until `predicate` holds, polling every 50 ms, failing after `timeoutMs`. */
export async function waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Ends every tracked process still running: SIGTERM, then SIGKILL after 2 s. */
export async function killAllTracked(): Promise<void> {
  const alive = [...tracked];
  await Promise.all(
    alive.map(async (t) => {
      if (t.proc.exitCode !== null || t.proc.signalCode !== null) return;
      // A stopped process cannot handle SIGTERM: continue it first.
      try {
        process.kill(t.pid, 'SIGCONT');
      } catch {
        /* already gone */
      }
      t.proc.kill('SIGTERM');
      const timer = setTimeout(() => t.proc.kill('SIGKILL'), 2000);
      await t.exited;
      clearTimeout(timer);
    }),
  );
}

process.on('exit', () => {
  for (const t of tracked) t.proc.kill('SIGKILL');
});

/** PIDs of a process's direct children (Linux /proc/PID/task/PID/children; empty once it is gone). */
export function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** A process seen in /proc: its PID and its command line at the time. */
export interface SeenProcess {
  pid: number;
  cmdline: string;
}

/** Every process below `pid`, with its command line (Linux /proc). */
export function descendants(pid: number): SeenProcess[] {
  return childPids(pid).flatMap((c) => [{ pid: c, cmdline: cmdlineOf(c) ?? '' }, ...descendants(c)]);
}

/** A process's command line, arguments joined by spaces; undefined once it is gone. */
export function cmdlineOf(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return undefined;
  }
}

/**
 * Whether `p` is a Node process running `entry` (e.g. `child-main`, `annotate-child`), compiled
 * or not: not the esbuild process compiling it, whose command line names the entry too.
 */
export function runsEntry(p: SeenProcess, entry: string): boolean {
  return p.cmdline.startsWith(`${process.execPath} `) && p.cmdline.includes(entry);
}

/** Whether that process still runs (the same command line guards against a reused PID). */
export function alive(p: SeenProcess): boolean {
  return cmdlineOf(p.pid) === p.cmdline;
}

/**
 * Waits up to `timeoutMs` for every process of `seen` to be gone, then returns the command
 * lines of those still running (empty when all are gone).
 */
export async function survivors(seen: readonly SeenProcess[], timeoutMs: number): Promise<string[]> {
  await waitFor(() => seen.every((p) => !alive(p)), timeoutMs, 'processes to exit').catch(() => undefined);
  return seen.filter(alive).map((p) => p.cmdline);
}

/** SIGKILLs the processes of `seen` still running (a test's clean-up, also on failure). */
export function killSurvivors(seen: readonly SeenProcess[]): void {
  for (const p of seen) if (alive(p)) process.kill(p.pid, 'SIGKILL');
}

/**
 * SIGKILLs `t`, gives the processes below it up to 10 s to die with it (a slave's workers
 * do, by the parent-death signal), then SIGKILLs any still running: a test's clean-up of a
 * slave whose worker hangs, also on failure.
 */
export async function killTree(t: Tracked): Promise<void> {
  const tree = descendants(t.pid);
  t.proc.kill('SIGKILL');
  await survivors(tree, 10_000);
  killSurvivors(tree);
}
