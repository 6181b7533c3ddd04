import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './processes.js';
import type { ImageRecord } from '../../master/merge.js';
import type { BatchReport } from '../../master/report.js';

/**
 * Test data comes from the project's own `samples/` (bundled, licensed), never from
 * `../shared`. `CCTV_FIXTURES` may point at another folder with the same layout.
 */
export const SAMPLES = process.env['CCTV_FIXTURES'] ?? join(ROOT, 'samples');
/** The 12 s, 120-frame CCTV clip. */
export const SAMPLE_VIDEO = join(SAMPLES, 'vtest-12s.avi');
/** Face photos with ground truth in `gt_faces.json`. */
export const SAMPLE_FACES = join(SAMPLES, 'faces');

/** A fresh temporary folder; removed by the returned cleanup function. */
export function tempDir(prefix = 'cctv-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return {
    dir,
    cleanup: () => {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A fresh temporary folder for each test of the calling `describe`, removed after it
 * (registers the mocha hooks). `file(name, text)` writes a file there and returns its path.
 */
export function useTempDir(): { readonly dir: string; file: (name: string, text: string | Buffer) => string } {
  let current: ReturnType<typeof tempDir> | undefined;
  beforeEach(() => {
    current = tempDir();
  });
  afterEach(() => {
    current?.cleanup();
    current = undefined;
  });
  const dir = (): string => {
    if (current === undefined) throw new Error('useTempDir: no test is running');
    return current.dir;
  };
  return {
    get dir() {
      return dir();
    },
    file: (name, text) => {
      const path = join(dir(), name);
      writeFileSync(path, text);
      return path;
    },
  };
}

/** Reads a results file: its header and its image records. */
export function readResults(path: string): { header: Record<string, unknown>; records: ImageRecord[] } {
  const lines = readFileSync(path, 'utf8').split('\n').filter((l) => l.length > 0);
  const [first, ...rest] = lines;
  // A finished video's line (journal.ts FinishedVideoRecord) is not an image's.
  const records = rest.map((l) => JSON.parse(l) as ImageRecord | { type: 'video' }).filter((r): r is ImageRecord => r.type !== 'video');
  return { header: JSON.parse(first ?? '{}') as Record<string, unknown>, records };
}

/** Records written so far to a results file (0 while it does not exist yet). */
export function recordsSoFar(path: string): number {
  try {
    return readResults(path).records.length;
  } catch {
    return 0;
  }
}

/** Resident set size of a process, bytes (`VmRSS` in /proc/PID/status); 0 when gone. */
export function rssBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Reads a report file. */
export function readReport(path: string): BatchReport {
  return JSON.parse(readFileSync(path, 'utf8')) as BatchReport;
}

/** Intersection over union of two boxes. */
export function iou(a: { x: number; y: number; width: number; height: number }, b: { x: number; y: number; width: number; height: number }): number {
  const x1 = Math.max(a.x, b.x);
  const y1 = Math.max(a.y, b.y);
  const x2 = Math.min(a.x + a.width, b.x + b.width);
  const y2 = Math.min(a.y + a.height, b.y + b.height);
  const inter = Math.max(0, x2 - x1) * Math.max(0, y2 - y1);
  const union = a.width * a.height + b.width * b.height - inter;
  return union > 0 ? inter / union : 0;
}
