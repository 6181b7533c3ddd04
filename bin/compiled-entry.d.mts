/** How to start a TypeScript entry with `node` (see compiled-entry.mjs). */
export interface ChildScript {
  /** The module to run: a compiled `.mjs`, or the `.ts` entry itself. */
  script: string;
  /** `node` options before it (tsx's loader, for the `.ts` entry). */
  execArgv: string[];
  /** Why the entry runs through tsx, when it does (the compile failed). */
  fallbackReason?: string;
}
/** The project's folder (the one holding its package.json), wherever the running code was compiled to. */
export declare const PROJECT_DIR: string;
/** Where compiled entries go (`node_modules/.cache/cctv-cluster` of the project). */
export declare const COMPILED_DIR: string;
/** Every entry module the project runs (paths inside it): the launchers' and the child processes'. */
export declare const ENTRIES: Readonly<{ master: string; slave: string; worker: string; annotator: string; reader: string }>;
/** Absolute path of `inProject`, a path inside the project (e.g. `bin/slave.js`). */
export declare function projectPath(inProject: string): string;
/** A TypeScript entry compiled into one plain ES module, cached by content; never throws (see `fallbackReason`). */
export declare function compiledEntry(entry: string): ChildScript;
/** Runs a launcher's entry (`master/cli.ts`) in this process, compiled or through tsx. */
export declare function runEntry(inProject: string): Promise<void>;
/** Why this process's launcher entry runs through tsx; undefined when it runs compiled. */
export declare function launcherFallbackReason(): string | undefined;
