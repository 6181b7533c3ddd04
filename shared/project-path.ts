/**
 * Paths inside the project, found from the project's package.json: code compiled into one
 * module under node_modules/.cache (bin/compiled-entry.mjs) cannot name a file relative to
 * its own `import.meta.url` as its source could.
 */
export { PROJECT_DIR, projectPath } from '../bin/compiled-entry.mjs';
