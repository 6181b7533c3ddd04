import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as Esbuild from 'esbuild';

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

/** The project's folder: esbuild writes paths relative to it, so the output (and its name) does not depend on the working folder. */
const PROJECT_DIR = fileURLToPath(new URL('..', import.meta.url));

/** tsx's ESM loader, for the fallback (resolved from here, not the working folder). */
const TSX_LOADER = import.meta.resolve('tsx');

const compiled = new Map<string, ChildScript>();

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
  // Loaded here, not with this module: a master without --annotate never needs it.
  let esbuild: typeof Esbuild | undefined;
  try {
    esbuild = createRequire(import.meta.url)('esbuild') as typeof Esbuild;
    const out = esbuild.buildSync({
      entryPoints: [entry],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: `node${process.versions.node.split('.')[0] ?? '20'}`,
      packages: 'external',
      sourcemap: 'inline',
      write: false,
      logLevel: 'silent',
      absWorkingDir: PROJECT_DIR,
    }).outputFiles[0];
    if (out === undefined) throw new Error('esbuild wrote no output');
    const hash = createHash('sha256').update(out.contents).digest('hex').slice(0, 16);
    const path = join(CHILD_SCRIPT_DIR, `${basename(entry).replace(/\.[cm]?ts$/, '')}-${hash}.mjs`);
    if (!existsSync(path)) {
      mkdirSync(CHILD_SCRIPT_DIR, { recursive: true });
      // Through a file of this process's own, renamed into place: slaves started together
      // write the same content at once, and none may run a half-written file.
      const temporary = `${path}.${process.pid}.tmp`;
      writeFileSync(temporary, out.contents);
      renameSync(temporary, path);
    }
    // The source map is inline: NODE_OPTIONS=--enable-source-maps makes stacks name the
    // TypeScript sources. Not on by default: it costs each worker ~3 MB.
    result = { script: path, execArgv: [] };
  } catch (err) {
    result = { script: entry, execArgv: ['--import', TSX_LOADER], fallbackReason: (err as Error).message };
  } finally {
    // buildSync leaves a worker thread and an esbuild process running for the next call
    // (~5 MB, for the life of a slave): there is none.
    void esbuild?.stop();
  }
  compiled.set(entry, result);
  return result;
}
