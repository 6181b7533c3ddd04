import { fork, spawnSync, type ChildProcess, type StdioOptions } from 'node:child_process';
import { childScript } from './child-script.js';

/** A command prefix that runs a program with a parent-death signal, or none. */
export interface ParentDeathLauncher {
  /** Executable to start instead of `node` (util-linux's `setpriv`). */
  execPath: string;
  /** Its arguments before node's own: `--pdeathsig KILL <node>`. */
  args: string[];
}

let probed: ParentDeathLauncher | undefined | null = null;

/**
 * How to start a worker process so that the kernel SIGKILLs it the moment its slave dies,
 * however the slave dies (SIGKILL, the OOM killer): `setpriv --pdeathsig KILL` (util-linux
 * >= 2.33, part of every Debian, Ubuntu and Raspberry Pi OS install) sets
 * `PR_SET_PDEATHSIG` (prctl(2)) and then execs node, keeping the PID and the IPC channel.
 * A worker stuck in native code never sees its channel close, so without this it would
 * outlive a slave killed that way.
 *
 * Probed once per process (one `setpriv ... true`, a few ms). Undefined off Linux or where
 * `setpriv` is missing or lacks `--pdeathsig`: workers then rely on their channel closing
 * and on the pool's exit hook.
 */
export function parentDeathLauncher(): ParentDeathLauncher | undefined {
  if (probed !== null) return probed;
  probed = undefined;
  if (process.platform !== 'linux') return probed;
  for (const path of ['/usr/bin/setpriv', '/bin/setpriv']) {
    // A few ms normally; the 5 s bound only keeps a hung probe from holding the start.
    const probe = spawnSync(path, ['--pdeathsig', 'KILL', 'true'], { stdio: 'ignore', timeout: 5_000 });
    if (probe.status === 0) {
      probed = { execPath: path, args: ['--pdeathsig', 'KILL', process.execPath] };
      break;
    }
  }
  return probed;
}

/**
 * Forks a TypeScript module as a child process with an IPC channel (`advanced`
 * serialization, so Buffers travel as such), through {@link parentDeathLauncher} where it
 * can, so the child dies with this process even by SIGKILL. The module runs compiled
 * ({@link childScript}), or through tsx when it could not be compiled. Used for the
 * slave's workers and the master's annotator and video readers.
 *
 * @param script - absolute path of the child's `.ts` entry module
 * @param stdio - stdio of the child; must include `'ipc'`
 * @param env - the child's environment (default: this process's)
 */
export function forkDyingWithParent(script: string, stdio: StdioOptions, env: NodeJS.ProcessEnv = process.env): ChildProcess {
  const launcher = parentDeathLauncher();
  const compiled = childScript(script);
  return fork(compiled.script, [], {
    ...(launcher === undefined ? {} : { execPath: launcher.execPath }),
    execArgv: [...(launcher?.args ?? []), ...compiled.execArgv],
    serialization: 'advanced',
    stdio,
    env,
  });
}
