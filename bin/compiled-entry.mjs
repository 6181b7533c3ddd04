// The launchers' bootstrap, in JavaScript because it is what runs the TypeScript: compiles an
// entry module and everything it imports into one plain ES module with esbuild, cached by
// content, so that `master`, `slave` and their child processes start without tsx. Types:
// compiled-entry.d.mts. TypeScript code reaches it through shared/child-script.ts and
// shared/project-path.ts.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, isAbsolute, join, relative, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** This project's name in its package.json. */
const PACKAGE_NAME = 'cctv-cluster';
/** Largest compiled entry read back, bytes (the master's is ~1 MB with its source map). */
const MAX_OUTPUT_BYTES = 64 * 1024 * 1024;
/** Longest a compile may take before the entry runs through tsx instead, ms (~10-50 ms on a PC). */
const COMPILE_TIMEOUT_MS = 60_000;

/**
 * The nearest folder at or above `from` holding this project's package.json.
 *
 * @param {string} from - a folder
 * @returns {string}
 * @throws Error when there is none (this file was copied out of the project)
 */
function findProjectDir(from) {
  for (let dir = from; ; dir = dirname(dir)) {
    try {
      if (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).name === PACKAGE_NAME) return dir;
    } catch {
      // no package.json here, or not JSON: look further up
    }
    if (dirname(dir) === dir) throw new Error(`${fileURLToPath(import.meta.url)} is not inside the ${PACKAGE_NAME} project`);
  }
}

/**
 * The project's folder (the one holding its package.json), found from this module's place:
 * it runs from bin/, or bundled into a compiled entry under node_modules/.cache, so a path
 * relative to `import.meta.url` would differ between the two.
 */
export const PROJECT_DIR = findProjectDir(dirname(fileURLToPath(import.meta.url)));

/**
 * Where compiled entries go: under the project's node_modules, so that the packages they
 * import resolve as they do from the sources.
 */
export const COMPILED_DIR = join(PROJECT_DIR, 'node_modules', '.cache', PACKAGE_NAME);

/**
 * @param {string} inProject - a path inside the project, e.g. `bin/slave.js`
 * @returns {string} its absolute path
 */
export function projectPath(inProject) {
  return join(PROJECT_DIR, inProject);
}

/** The launchers' entries, by command (bin/master.js, bin/slave.js; deploy/pi/setup.sh compiles them at install). */
export const LAUNCHER_ENTRIES = Object.freeze({ master: 'master/cli.ts', slave: 'slave/cli.ts' });

/** tsx's ESM loader (a file: URL), for the fallback; a bare name resolves from the bundle's place too. */
const TSX_LOADER = import.meta.resolve('tsx');

/**
 * Bundles `entry` with esbuild's command-line program, which exits when done (the JS API's
 * `buildSync` ran in a worker thread whose esbuild process stayed for the life of the
 * process, a zombie after `stop()`, and loading it cost ~10 MB).
 *
 * @param {string} entry - absolute path of a `.ts` module
 * @returns {Buffer} the module's text: bundled, packages left as imports, inline source map
 * @throws Error with esbuild's first error lines when it fails, or when it cannot be run
 */
function compile(entry) {
  const esbuild = createRequire(join(PROJECT_DIR, 'package.json')).resolve('esbuild/bin/esbuild');
  const target = `node${process.versions.node.split('.')[0] ?? '20'}`;
  const args = [entry, '--bundle', '--platform=node', '--format=esm', `--target=${target}`, '--packages=external', '--sourcemap=inline', '--log-level=error', '--color=false'];
  try {
    // From the project's folder: the output names the sources relative to it, so the output
    // (and the file's name) does not depend on the working folder.
    return execFileSync(esbuild, args, { cwd: PROJECT_DIR, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: MAX_OUTPUT_BYTES, timeout: COMPILE_TIMEOUT_MS });
  } catch (err) {
    const lines = String(err.stderr ?? '')
      .split('\n')
      .map((l) => l.replace(/^\s*✘ \[ERROR\]\s*/, '').trim())
      .filter((l) => l.length > 0);
    throw new Error(lines.length > 0 ? `esbuild: ${lines.slice(0, 2).join(' at ')}` : err.message);
  }
}

/**
 * @param {string} entry - absolute path of a `.ts` module
 * @returns {string} its path in the project with `-` for `/` (`master-cli`), else its name
 */
function entryName(entry) {
  const inside = relative(PROJECT_DIR, entry);
  const name = inside.startsWith('..') || isAbsolute(inside) ? basename(entry) : inside.replaceAll(sep, '-');
  return name.replace(/\.[cm]?ts$/, '');
}

/** @type {Map<string, import('./compiled-entry.d.mts').ChildScript>} */
const compiled = new Map();

/**
 * How to run a TypeScript entry with `node`: compiled from the current sources into one
 * plain ES module (`COMPILED_DIR/NAME-HASH.mjs`: `master-cli-…`, HASH of its content), once per process.
 * tsx transpiles every module in a loader thread of each process it runs: measured on
 * x86-64, a worker ready after 560-710 ms with tsx against 334-354 ms compiled and 60-64 MB
 * private memory against 36 MB; a slave's main process 30 MB private less and ready
 * ~300 ms sooner.
 *
 * Never throws: when the compile or the write fails (a read-only checkout without the
 * file, say), the entry runs through tsx as before, and `fallbackReason` says why.
 *
 * @param {string} entry - absolute path of the `.ts` entry module
 * @returns {import('./compiled-entry.d.mts').ChildScript}
 */
export function compiledEntry(entry) {
  const known = compiled.get(entry);
  if (known !== undefined) return known;
  let result;
  try {
    const out = compile(entry);
    const hash = createHash('sha256').update(out).digest('hex').slice(0, 16);
    const path = join(COMPILED_DIR, `${entryName(entry)}-${hash}.mjs`);
    if (!existsSync(path)) {
      mkdirSync(COMPILED_DIR, { recursive: true });
      // Through a file of this process's own, renamed into place: processes started
      // together write the same content at once, and none may run a half-written file.
      const temporary = `${path}.${process.pid}.tmp`;
      writeFileSync(temporary, out);
      renameSync(temporary, path);
    }
    result = { script: path, execArgv: [] };
  } catch (err) {
    result = { script: entry, execArgv: ['--import', TSX_LOADER], fallbackReason: err.message };
  }
  compiled.set(entry, result);
  return result;
}

/** @type {string | undefined} */
let launcherFallback;

/**
 * @returns {string | undefined} why this process's launcher entry runs through tsx
 *   ({@link runEntry}), for its log; undefined when it runs compiled
 */
export function launcherFallbackReason() {
  return launcherFallback;
}

/**
 * Runs a launcher's entry in this process: compiled ({@link compiledEntry}), with stack
 * traces naming the TypeScript sources through the inline source map; or, when it cannot
 * be compiled, through tsx ({@link launcherFallbackReason} says why: the entry logs it,
 * as JSON under --log-json).
 *
 * @param {string} inProject - the entry's path inside the project, e.g. `master/cli.ts`
 * @returns {Promise<void>} once the entry module has been evaluated
 */
export async function runEntry(inProject) {
  const entry = projectPath(inProject);
  const { script, fallbackReason } = compiledEntry(entry);
  if (fallbackReason === undefined) {
    process.setSourceMapsEnabled(true);
    await import(pathToFileURL(script).href);
    return;
  }
  launcherFallback = fallbackReason;
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(entry).href);
}
