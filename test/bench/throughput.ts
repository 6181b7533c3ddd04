import { closeSync, fstatSync, openSync, readSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { ImageRecord } from '../../master/merge.js';
import type { BatchReport } from '../../master/report.js';
import { DEFAULT_DETECTOR_CONFIG } from '../../proto/detector-config.js';
import type { TaskKind } from '../../proto/task-kinds.js';
import { runDetector } from '../../slave/detectors/index.js';
import { decodeImage } from '../../slave/vision/decode.js';
import { readReport, readResults } from '../helpers/fixtures.js';
import { startMaster, waitExit } from '../helpers/processes.js';
import { childPids, processCpuMs, sampleCpu, utilization } from './cpu.js';

export const KINDS: readonly TaskKind[] = ['object', 'face', 'edge', 'corner'];

/** Detections of one run: frame file name -> kind -> value (timings stripped). */
export type Detections = Map<string, Map<TaskKind, unknown>>;

/** Figures of one run. */
export interface RunFigures {
  name: string;
  /** Worker threads in total (1 for the baseline). */
  threads: number;
  images: number;
  /** Wall time of the processing, ms (cluster: first READY to last record). */
  processingMs: number;
  /** Wall time including process start-up, ms. */
  totalMs: number;
  imagesPerSecond: number;
  /** Machine-wide CPU busy share during the run, 0..1 (2 cores: 1.0 = both busy). */
  cpu: number;
  /** Mean compute per kind, ms (decode included where it happened). */
  computeMs: Partial<Record<TaskKind, number>>;
  /** Slot time not spent computing, per task, ms: (processing x threads - compute) / tasks. */
  overheadMsPerTask: number;
  /**
   * CPU time per image of the coordinating processes, ms: the master, and the slaves' main
   * processes (not their workers), from the 5th record to the last one seen (start-up left
   * out). On 2 cores this is taken from the workers.
   */
  coordinatorCpuMsPerImage?: { master: number; slaves: number } | undefined;
  detections: Detections;
  report?: BatchReport;
}

/**
 * The baseline: the four detectors run one after another in this process and thread,
 * each task decoding its own JPEG, as every peer in PEERS.md does.
 */
export async function runBaseline(frames: readonly Buffer[], names: readonly string[]): Promise<RunFigures> {
  const detections: Detections = new Map();
  const sums = new Map<TaskKind, number>();
  const cpu0 = sampleCpu();
  const t0 = performance.now();
  for (const [i, bytes] of frames.entries()) {
    const values = new Map<TaskKind, unknown>();
    for (const kind of KINDS) {
      const t = performance.now();
      const image = decodeImage(bytes);
      values.set(kind, runDetector(kind, image, DEFAULT_DETECTOR_CONFIG).value);
      // Freed at once, as a Python peer's arrays are, rather than when V8 collects them.
      image.release();
      sums.set(kind, (sums.get(kind) ?? 0) + performance.now() - t);
    }
    detections.set(names[i] ?? '', values);
    // A turn of the event loop between images (~0.4 s each), so that Ctrl-C is handled
    // within one image rather than after the whole run.
    await new Promise((r) => setImmediate(r));
  }
  const ms = performance.now() - t0;
  const cpu = utilization(cpu0, sampleCpu());
  const computeMs = Object.fromEntries(KINDS.map((k) => [k, (sums.get(k) ?? 0) / frames.length]));
  const computeSum = [...sums.values()].reduce((a, b) => a + b, 0);
  return {
    name: 'baseline: sequential, 1 process, 1 thread',
    threads: 1,
    images: frames.length,
    processingMs: ms,
    totalMs: ms,
    imagesPerSecond: (frames.length * 1000) / ms,
    cpu,
    computeMs,
    overheadMsPerTask: (ms - computeSum) / (frames.length * KINDS.length),
    detections,
  };
}

/** One cluster run: a real `master run` with local slaves over loopback TCP. */
export async function runCluster(dir: string, outDir: string, slaves: number, threads: number): Promise<RunFigures> {
  const out = join(outDir, `cluster-${slaves}x${threads}.jsonl`);
  // A previous round's file would be counted by the CPU watcher until it is overwritten.
  for (const f of [out, `${out}.report.json`, `${out}.report.html`]) rmSync(f, { force: true });
  const cpu0 = sampleCpu();
  const t0 = performance.now();
  const m = startMaster(['run', dir, '--local-slaves', String(slaves), '--local-threads', String(threads), '--bind', 'tcp://127.0.0.1:*', '--out', out, '--overwrite', '--progress', 'none', '--log-level', 'warn', '--metrics-port', '0']);
  const coordinator = watchCoordinatorCpu(m.pid, out);
  const code = await waitExit(m, 1_800_000);
  const totalMs = performance.now() - t0;
  const coordinatorCpuMsPerImage = coordinator.stop();
  const cpu = utilization(cpu0, sampleCpu());
  if (code !== 0) throw new Error(`master exited ${String(code)}:\n${m.stderr().slice(-3000)}`);
  const report = readReport(`${out}.report.json`);
  const detections: Detections = new Map();
  for (const r of readResults(out).records) detections.set(r.source.split('/').pop() ?? '', valuesOf(r));
  const computeMs = Object.fromEntries(report.kinds.map((k) => [k.kind, k.meanMs]));
  const computeSum = report.kinds.reduce((n, k) => n + k.meanMs * k.tasks, 0);
  const total = slaves * threads;
  return {
    name: `cluster: ${slaves} slave${slaves > 1 ? 's' : ''} x ${threads} thread${threads > 1 ? 's' : ''}`,
    threads: total,
    images: report.images,
    processingMs: report.processingMs,
    totalMs,
    imagesPerSecond: (report.images * 1000) / report.processingMs,
    cpu,
    computeMs,
    overheadMsPerTask: (report.processingMs * total - computeSum) / report.tasks,
    coordinatorCpuMsPerImage,
    detections,
    report,
  };
}

/**
 * How often the coordinator's CPU is sampled, ms. Every sample costs the bench process CPU
 * that the cluster, using both cores, pays for and the one-core baseline does not: sampled
 * every 100 ms it took ~43 ms of CPU per 10 s (0.2% of this machine; schedstat).
 */
const WATCH_INTERVAL_MS = 1000;

/**
 * Samples, every {@link WATCH_INTERVAL_MS}, the records written so far and the CPU time of a
 * master and of its local slaves (its children; their workers are the slaves' children, not
 * counted).
 * Each slave's CPU is taken from its own first and last readings, so slaves that stop
 * before the master (it stops them at the end) still count in full.
 */
function watchCoordinatorCpu(masterPid: number, resultsFile: string): { stop: () => { master: number; slaves: number } | undefined } {
  let startRecords: number | undefined;
  let endRecords = 0;
  let masterStart = 0;
  let masterEnd = 0;
  const slaveStart = new Map<number, number>();
  const slaveEnd = new Map<number, number>();
  // Lines counted as the file grows (reading it whole each time would take CPU from the
  // run being measured); the first line is the batch header.
  let lines = 0;
  let readTo = 0;
  const timer = setInterval(() => {
    try {
      const fresh = readTail(resultsFile, readTo);
      readTo += fresh.length;
      for (let i = fresh.indexOf(0x0a); i >= 0; i = fresh.indexOf(0x0a, i + 1)) lines++;
      const records = lines - 1;
      if (startRecords === undefined && records < 5) return;
      const master = processCpuMs(masterPid);
      const slaves = childPids(masterPid).map((pid) => [pid, processCpuMs(pid)] as const);
      if (startRecords === undefined) {
        startRecords = records;
        masterStart = master;
        for (const [pid, ms] of slaves) slaveStart.set(pid, ms);
      }
      endRecords = records;
      masterEnd = master;
      for (const [pid, ms] of slaves) slaveEnd.set(pid, ms);
    } catch {
      // Not started yet, or just gone.
    }
  }, WATCH_INTERVAL_MS);
  return {
    stop: () => {
      clearInterval(timer);
      const n = endRecords - (startRecords ?? endRecords);
      if (n <= 0) return undefined;
      let slaves = 0;
      for (const [pid, end] of slaveEnd) slaves += end - (slaveStart.get(pid) ?? 0);
      return { master: (masterEnd - masterStart) / n, slaves: slaves / n };
    },
  };
}

function valuesOf(r: ImageRecord): Map<TaskKind, unknown> {
  const out = new Map<TaskKind, unknown>();
  for (const k of KINDS) {
    const { computeMs: _c, slave: _s, attempts: _a, ...value } = (r[k] ?? {}) as Record<string, unknown>;
    out.set(k, value);
  }
  return out;
}

/** Lists the differences between two runs' detections (empty when equal). */
export function compareDetections(a: Detections, b: Detections): string[] {
  const diffs: string[] = [];
  if (a.size !== b.size) diffs.push(`${a.size} vs ${b.size} images`);
  for (const [name, kinds] of a) {
    const other = b.get(name);
    for (const [k, v] of kinds) {
      if (JSON.stringify(v) !== JSON.stringify(other?.get(k))) diffs.push(`${name} ${k}`);
    }
  }
  return diffs;
}

/** Totals comparable with PEERS.md: people boxes, faces, edge pixels, corners. */
export function totals(d: Detections): { people: number; faces: number; edgePixels: number; corners: number } {
  let people = 0;
  let faces = 0;
  let edgePixels = 0;
  let corners = 0;
  for (const kinds of d.values()) {
    people += (kinds.get('object') as { count?: number } | undefined)?.count ?? 0;
    faces += (kinds.get('face') as { count?: number } | undefined)?.count ?? 0;
    edgePixels += (kinds.get('edge') as { edgePixels?: number } | undefined)?.edgePixels ?? 0;
    corners += (kinds.get('corner') as { count?: number } | undefined)?.count ?? 0;
  }
  return { people, faces, edgePixels, corners };
}

/** The bytes of `path` from `offset` to its current end. */
function readTail(path: string, offset: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const out = Buffer.alloc(Math.max(0, size - offset));
    if (out.length > 0) readSync(fd, out, 0, out.length, offset);
    return out;
  } finally {
    closeSync(fd);
  }
}
