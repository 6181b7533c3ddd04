/**
 * Child process entries (and the launchers' own) compiled from the TypeScript sources with esbuild, so that children
 * start without tsx: the logic lives in bin/compiled-entry.mjs, shared with the `master` and
 * `slave` launchers, which must run before any TypeScript can.
 */
import { fileURLToPath } from 'node:url';
import { launcherFallbackReason } from '../bin/compiled-entry.mjs';
import type { Logger } from './logger.js';

export { COMPILED_DIR as CHILD_SCRIPT_DIR, compiledEntry as childScript, ENTRIES, type ChildScript } from '../bin/compiled-entry.mjs';

/**
 * Logs how this launcher (`master`, `slave`) runs: at debug the module, at info why it runs
 * through tsx when it does (not a fault: a read-only checkout starts as before, slower).
 *
 * @param entryUrl - the entry module's `import.meta.url`: compiled, the `.mjs` under
 *   node_modules/.cache; through tsx, the `.ts` source
 */
export function logLaunch(logger: Logger, entryUrl: string): void {
  logger.debug(`running ${fileURLToPath(entryUrl)}`);
  const fallback = launcherFallbackReason();
  if (fallback !== undefined) logger.info(`running through tsx (slower to start, ~30 MB more): its entry could not be compiled: ${fallback}`);
}
