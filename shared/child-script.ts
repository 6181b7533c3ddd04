import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** How to start a child process's TypeScript entry with `node`. */
export interface ChildScript {
  /** The module to run: a compiled `.mjs`, or the `.ts` entry itself. */
  script: string;
  /** `node` options before it. */
  execArgv: string[];
  /** Why the entry runs through tsx, when it does (the compile failed). */
  fallbackReason?: string;
}

/**
 * Where compiled child entries go: under the project's `node_modules`, so that the packages
 * they import resolve as they do from the sources.
 */
export const CHILD_SCRIPT_DIR = fileURLToPath(new URL('../node_modules/.cache/cctv-cluster/', import.meta.url));

/** The project's folder, where esbuild runs. */
const PROJECT_DIR = fileURLToPath(new URL('..', import.meta.url));

/** tsx's ESM loader, for the fallback (resolved from here, not the working folder). */
const TSX_LOADER = import.meta.resolve('tsx');

const compiled = new Map<string, ChildScript>();

/** Largest compiled entry read back, bytes (the worker's is ~80 KB with its source map). */
const MAX_OUTPUT_BYTES = 64 * 1024 * 1024;
/** Longest a compile may take before the entry runs through tsx instead, ms (~20 ms on a PC). */
const COMPILE_TIMEOUT_MS = 60_000;

/**
 * Bundles `entry` with esbuild's command-line program, which exits when done: the JS API's
 * `buildSync` ran in a worker thread whose esbuild process stayed for the life of the slave
 * (a zombie after `stop()`), and loading its module cost the slave ~10 MB. ~10-30 ms for
 * the worker's entry (x86-64).
 *
 * @returns the module's text (bundled, packages left as imports, inline source map)
 * @throws Error with esbuild's first error lines when it fails, or when it cannot be run
 */
function compile(entry: string): Buffer {
  const esbuild = createRequire(import.meta.url).resolve('esbuild/bin/esbuild');
  const target = `node${process.versions.node.split('.')[0] ?? '20'}`;
  const args = [entry, '--bundle', '--platform=node', '--format=esm', `--target=${target}`, '--packages=external', '--sourcemap=inline', '--log-level=error', '--color=false'];
  try {
    // Run from the project's folder: the output's paths are relative to it, so the output
    // (and its name) does not depend on the working folder.
    return execFileSync(esbuild, args, { cwd: PROJECT_DIR, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: MAX_OUTPUT_BYTES, timeout: COMPILE_TIMEOUT_MS });
  } catch (err) {
    const { stderr } = err as { stderr?: Buffer };
    const lines = (stderr?.toString('utf8') ?? '').split('\n').map((l) => l.replace(/^\s*✘ \[ERROR\]\s*/, '').trim()).filter((l) => l.length > 0);
    throw new Error(lines.length > 0 ? `esbuild: ${lines.slice(0, 2).join(' at ')}` : (err as Error).message);
  }
}

/**
 * A child's entry as one plain ES module, compiled from the current sources with esbuild
 * (bundled, packages left as imports) once per process and cached by content hash, so a
 * child starts without tsx. tsx transpiles every module in a loader thread of each process
 * it runs: measured on a slave's worker (x86-64), ready after 560-710 ms with tsx against
 * 334-354 ms compiled, and 60-64 MB private memory against 36 MB.
 *
 * Never throws: when the compile or the write fails (a read-only checkout, say), the child
 * runs the `.ts` entry through tsx as before, and `fallbackReason` says why.
 *
 * @param entry - absolute path of the child's `.ts` entry module
 */
export function childScript(entry: string): ChildScript {
  const known = compiled.get(entry);
  if (known !== undefined) return known;
  let result: ChildScript;
  try {
    const out = compile(entry);
    const hash = createHash('sha256').update(out).digest('hex').slice(0, 16);
    const path = join(CHILD_SCRIPT_DIR, `${basename(entry).replace(/\.[cm]?ts$/, '')}-${hash}.mjs`);
    if (!existsSync(path)) {
      mkdirSync(CHILD_SCRIPT_DIR, { recursive: true });
      // Through a file of this process's own, renamed into place: slaves started together
      // write the same content at once, and none may run a half-written file.
      const temporary = `${path}.${process.pid}.tmp`;
      writeFileSync(temporary, out);
      renameSync(temporary, path);
    }
    // The source map is inline: NODE_OPTIONS=--enable-source-maps makes stacks name the
    // TypeScript sources. Not on by default: it costs each worker ~3 MB.
    result = { script: path, execArgv: [] };
  } catch (err) {
    result = { script: entry, execArgv: ['--import', TSX_LOADER], fallbackReason: (err as Error).message };
  }
  compiled.set(entry, result);
  return result;
}
