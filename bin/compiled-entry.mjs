// The launchers' bootstrap, in JavaScript because it is what runs the TypeScript: compiles an
// entry module and everything it imports into one plain ES module with esbuild, cached by
// content, so that `master`, `slave` and their child processes start without tsx. Types:
// compiled-entry.d.mts. TypeScript code reaches it through shared/child-script.ts and
// shared/project-path.ts.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
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

/**
 * Every entry module the project runs, as paths inside it: the launchers' (bin/master.js,
 * bin/slave.js) and the child processes' (a slave's worker, the master's annotator and video readers).
 * `node bin/compiled-entry.mjs` compiles them all, for installs whose project folder the
 * service cannot write (deploy/pi/setup.sh, deploy/container/Dockerfile).
 */
export const ENTRIES = Object.freeze({ master: 'master/cli.ts', slave: 'slave/cli.ts', worker: 'slave/pool/child-main.ts', annotator: 'master/annotate-child.ts', reader: 'master/ingest/video-child.ts' });

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

/**
 * Another compiled file of an entry compiled anew is deleted when it was last written or
 * used this long ago, ms: one file per source version otherwise piles up in COMPILED_DIR.
 * A process still running an older one writes it again when it next needs it.
 */
const PRUNE_AFTER_MS = 24 * 60 * 60 * 1000;

/**
 * Deletes the other compiled files (and leftover temporary files) of `name` older than
 * {@link PRUNE_AFTER_MS}; any error (a read-only folder) leaves them.
 *
 * @param {string} name - the entry's file name stem ({@link entryName})
 * @param {string} keep - absolute path of the current compiled file
 */
function pruneOthers(name, keep) {
  const mine = new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-[0-9a-f]{16}\\.mjs(\\.\\d+\\.tmp)?$`);
  try {
    for (const file of readdirSync(COMPILED_DIR)) {
      const path = join(COMPILED_DIR, file);
      if (!mine.test(file) || path === keep) continue;
      try {
        if (Date.now() - statSync(path).mtimeMs > PRUNE_AFTER_MS) unlinkSync(path);
      } catch {
        // gone already, or not ours to delete
      }
    }
  } catch {
    // no folder to read
  }
}

/**
 * Writes `content` to `path` unless it is there, through a file of this process's own
 * renamed into place: processes started together write the same content at once, and none
 * may run a half-written file. Marks it used (its time) when it is there.
 *
 * @param {string} path
 * @param {Buffer} content
 * @throws Error when it cannot be written
 */
function materialize(path, content) {
  if (existsSync(path)) {
    try {
      const now = new Date();
      utimesSync(path, now, now);
    } catch {
      // a read-only install: nothing prunes it there either
    }
    return;
  }
  mkdirSync(COMPILED_DIR, { recursive: true });
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, content);
  renameSync(temporary, path);
}

/** @type {Map<string, { result: import('./compiled-entry.d.mts').ChildScript, content?: Buffer }>} */
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
  if (known?.content !== undefined && !existsSync(known.result.script)) {
    // Pruned by a process of a newer version (a worker restarted a day later): this
    // process's own version again, not the current sources'.
    try {
      materialize(known.result.script, known.content);
    } catch (err) {
      return fallback(entry, err);
    }
  }
  if (known !== undefined) return known.result;
  let result;
  let content;
  try {
    content = compile(entry);
    const hash = createHash('sha256').update(content).digest('hex').slice(0, 16);
    const name = entryName(entry);
    const path = join(COMPILED_DIR, `${name}-${hash}.mjs`);
    materialize(path, content);
    pruneOthers(name, path);
    result = { script: path, execArgv: [] };
  } catch (err) {
    result = fallback(entry, err);
    content = undefined;
  }
  compiled.set(entry, { result, content });
  return result;
}

/**
 * @param {string} entry - absolute path of the `.ts` entry module
 * @param {Error} err - why it is not compiled
 * @returns {import('./compiled-entry.d.mts').ChildScript} the entry through tsx
 */
function fallback(entry, err) {
  return { script: entry, execArgv: ['--import', TSX_LOADER], fallbackReason: err.message };
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
  // Read now: once the loader has filled the file table, /proc cannot be opened either.
  const limit = openFilesLimit();
  try {
    if (fallbackReason === undefined) {
      process.setSourceMapsEnabled(true);
      await import(pathToFileURL(script).href);
      return;
    }
    launcherFallback = fallbackReason;
    const { register } = await import('tsx/esm/api');
    register();
    await import(pathToFileURL(entry).href);
  } catch (err) {
    const why = fileTableFull(err, limit);
    if (why === undefined) throw err;
    process.stderr.write(`${basename(process.argv[1] ?? inProject)}: cannot load its modules: ${why}\n`);
    process.exit(1);
  }
}

/** Node's ESM loader opens a module graph's files at once: ~90 for the master. */
const FILES_TO_LOAD = 128;

/**
 * Why loading failed, when it is the file table (EMFILE or ENFILE, open(2)); a limit such
 * as `ulimit -n 64` otherwise ends the process with a loader stack trace.
 *
 * @param {unknown} err - what the import threw
 * @param {number | undefined} limit - the soft limit on open files, read before the import
 * @returns {string | undefined} a sentence for the user, or undefined for any other error
 */
function fileTableFull(err, limit) {
  const code = err instanceof Error && 'code' in err ? err.code : undefined;
  if (code === 'ENFILE') return 'the system\'s file table is full (ENFILE); close files elsewhere and start again';
  if (code !== 'EMFILE') return undefined;
  return `too many open files (EMFILE): this process may open ${limit ?? 'too few'} files at once (\`ulimit -n\`); raise it to at least ${FILES_TO_LOAD}, e.g. \`ulimit -n 1024\`, and start again`;
}

/** @returns {number | undefined} the soft limit on open files (/proc/self/limits, Linux), or undefined where unknown */
function openFilesLimit() {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    const soft = line === undefined ? undefined : Number(line.slice('Max open files'.length).trim().split(/\s+/)[0]);
    return soft !== undefined && Number.isFinite(soft) ? soft : undefined;
  } catch {
    return undefined;
  }
}

// `node bin/compiled-entry.mjs`: compile every entry now; exit 1 naming any that fails.
// (Not when bundled into another entry: that module is run by its own name.)
const runAsScript = basename(fileURLToPath(import.meta.url)) === 'compiled-entry.mjs' && process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (runAsScript) {
  for (const inProject of Object.values(ENTRIES)) {
    const { script, fallbackReason } = compiledEntry(projectPath(inProject));
    if (fallbackReason !== undefined) {
      process.stderr.write(`${inProject}: not compiled: ${fallbackReason}\n`);
      process.exitCode = 1;
    } else process.stdout.write(`${inProject}: ${script}\n`);
  }
}
