import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** One run of a Python peer on the benchmark frames. */
export interface PeerRun {
  name: string;
  images: number;
  seconds: number;
  imagesPerSecond: number;
  totals: { people: number; faces: number; edgePixels: number; corners: number };
}

interface RawRun {
  images: number;
  seconds: number;
  images_per_second: number;
  totals: { people: number; faces: number; edge_pixels: number; corners: number };
}

/**
 * Runs the Python peers of ../shared/PEERS.md (`peers/python_peers.py`: sequential, and
 * `multiprocessing.Pool(poolSize)` one task at a time) on the same frames, so the
 * comparison is made on this machine in this run rather than against PEERS.md's figures.
 *
 * @param framesDir - the benchmark's JPEG frames
 * @returns the two runs, or the reason they could not run (no python3-opencv and no root)
 */
export function runPythonPeers(framesDir: string, poolSize: number): PeerRun[] | string {
  let python: string;
  try {
    python = execFileSync('bash', [join(ROOT, 'scripts/bench-peers.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
  } catch {
    return 'python3-opencv is not available (see the message above)';
  }
  const r = spawnSync(python, [join(ROOT, 'test/bench/peers/python_peers.py'), framesDir, String(poolSize)], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) return `python_peers.py failed (${String(r.status ?? r.signal)}): ${r.stderr.slice(-500)}`;
  const raw = JSON.parse(r.stdout) as { sequential: RawRun; pool: RawRun };
  const convert = (name: string, x: RawRun): PeerRun => ({
    name,
    images: x.images,
    seconds: x.seconds,
    imagesPerSecond: x.images_per_second,
    totals: { people: x.totals.people, faces: x.totals.faces, edgePixels: x.totals.edge_pixels, corners: x.totals.corners },
  });
  return [convert('peer: Python, sequential, 1 process', raw.sequential), convert(`peer: Python multiprocessing.Pool(${poolSize}), one task at a time`, raw.pool)];
}

/** One run of the Python dispatch peer (`peers/python_dispatch.py`). */
export interface DispatchPeerRun {
  tasks: number;
  seconds: number;
  tasksPerSecond: number;
}

/**
 * Runs PEERS.md's dispatch peer ("socket + pickle master/slaves, all tasks pipelined": a
 * Python master and one slave over loopback TCP, one pickled message per task each way) on
 * `tasks` no-op tasks, so our dispatch figure is compared with it in the same round.
 *
 * @returns the run, or the reason it could not run (no python3, or the script failed)
 */
export function runDispatchPeer(tasks: number): DispatchPeerRun | string {
  const r = spawnSync('python3', [join(ROOT, 'test/bench/peers/python_dispatch.py'), String(tasks)], { encoding: 'utf8', maxBuffer: 1 << 20, timeout: 300_000 });
  if (r.error !== undefined) return `python3 could not be run: ${r.error.message}`;
  if (r.status !== 0) return `python_dispatch.py failed (${String(r.status ?? r.signal)}): ${r.stderr.slice(-500)}`;
  const raw = JSON.parse(r.stdout) as { tasks: number; seconds: number; tasks_per_second: number };
  return { tasks: raw.tasks, seconds: raw.seconds, tasksPerSecond: Math.round(raw.tasks_per_second) };
}
