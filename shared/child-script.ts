/**
 * Child process entries (and the launchers' own) compiled from the TypeScript sources with esbuild, so that children
 * start without tsx: the logic lives in bin/compiled-entry.mjs, shared with the `master` and
 * `slave` launchers, which must run before any TypeScript can.
 */
export { COMPILED_DIR as CHILD_SCRIPT_DIR, compiledEntry as childScript, ENTRIES, launcherFallbackReason, type ChildScript } from '../bin/compiled-entry.mjs';
