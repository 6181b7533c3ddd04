import { sep } from 'node:path';

/**
 * Whether `path` is `dir` or lies inside it, comparing absolute paths as strings (resolve
 * them, and their links if that matters, first): `/a/b` is within `/a`, `/ab` is not.
 */
export function isWithin(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir.endsWith(sep) ? dir : `${dir}${sep}`);
}
