import { linkSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cv } from '../../shared/opencv.js';
import { readReport } from '../helpers/fixtures.js';
import { startMaster, waitExit } from '../helpers/processes.js';
import { rssBytes } from './cpu.js';

/** Peak and final resident memory of the master over one batch. */
export interface MemoryFigures {
  images: number;
  peakRssBytes: number;
  wallMs: number;
}

/**
 * Master memory with `count` queued images: a folder of `count` hard links to one tiny
 * JPEG, run with no-op tasks, the master's RSS sampled every 100 ms (VmRSS).
 */
export async function measureMasterMemory(count: number, root: string): Promise<MemoryFigures> {
  const dir = join(root, `queued-${count}`);
  mkdirSync(dir, { recursive: true });
  const jpeg = cv.imencode('.jpg', new cv.Mat(16, 16, cv.CV_8UC3, [40, 80, 120]), [cv.IMWRITE_JPEG_QUALITY, 90]);
  // Hard links are cheap to make, but an inode takes at most 65,000 of them.
  const linksPerSeed = 50_000;
  for (let i = 0; i < count; i++) {
    const seed = join(root, `seed-${Math.floor(i / linksPerSeed)}.jpg`);
    if (i % linksPerSeed === 0) writeFileSync(seed, jpeg);
    linkSync(seed, join(dir, `img-${String(i).padStart(6, '0')}.jpg`));
  }
  const out = join(root, `memory-${count}.jsonl`);
  const t0 = Date.now();
  const m = startMaster(['run', dir, '--tasks', 'noop', '--local-slaves', '1', '--local-threads', '1', '--bind', 'tcp://127.0.0.1:*', '--out', out, '--overwrite', '--progress', 'none', '--log-level', 'warn', '--metrics-port', '0']);
  let peak = 0;
  const timer = setInterval(() => {
    peak = Math.max(peak, rssBytes(m.pid));
  }, 100);
  const code = await waitExit(m, 1_800_000);
  clearInterval(timer);
  if (code !== 0) throw new Error(`master exited ${String(code)}: ${m.stderr().slice(-2000)}`);
  return { images: readReport(`${out}.report.json`).images, peakRssBytes: peak, wallMs: Date.now() - t0 };
}
