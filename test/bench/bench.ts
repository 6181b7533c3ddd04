/**
 * `npm run bench`: the side-by-side benchmark of issue 4, in one invocation.
 *
 * 1. throughput on the PEERS.md workload (200 frames of vtest.avi, every 3rd from frame 0,
 *    JPEG quality 90, four tasks per frame): the sequential single-thread baseline, then
 *    the cluster with local slaves in several shapes; detections must be equal everywhere;
 * 2. dispatch overhead: no-op tasks through master -> slave -> master, 1 and 4 slaves;
 * 3. master memory with 10,000 and 100,000 queued images;
 * 4. bytes on the wire per image against the encoded image size;
 * 5. the Python peers of PEERS.md on the same frames (when python3-opencv can be had).
 *
 * Prints a table and writes test/bench/RESULTS.md. Options: `--frames N` (default 200),
 * `--skip peers,dispatch,memory` to leave parts out. Exit 1 if detections differ.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, hostname, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { opencvVersion } from '../../shared/opencv.js';
import { killAllTracked } from '../helpers/processes.js';
import { measureDispatch, type DispatchFigures } from './dispatch.js';
import { prepareFrames } from './frames.js';
import { runPythonPeers } from './peers.js';
import { measureMasterMemory, type MemoryFigures } from './memory.js';
import { KINDS, compareDetections, runBaseline, runCluster, totals, type RunFigures } from './throughput.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const args = process.argv.slice(2);
const frameCount = Number(args[args.indexOf('--frames') + 1] ?? 200) || 200;
const skip = new Set((args.includes('--skip') ? (args[args.indexOf('--skip') + 1] ?? '') : '').split(','));

function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

const video = execFileSync('bash', [join(ROOT, 'scripts/bench-data.sh')], { encoding: 'utf8' }).trim();
const work = mkdtempSync(join(tmpdir(), 'cctv-bench-'));
const out: string[] = [];
try {
  log(`machine: ${cpus().length} x ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, OpenCV ${opencvVersion()}`);
  log(`workload: ${frameCount} frames of ${video}, every 3rd from frame 0, JPEG q90, tasks ${KINDS.join(',')}`);
  const framesDir = join(work, 'frames');
  const { frames, names, totalBytes } = prepareFrames(video, frameCount, 3, framesDir);
  log(`frames: ${frames.length}, ${(totalBytes / frames.length / 1024).toFixed(1)} KiB each on average`);

  // 1. Throughput.
  const runs: RunFigures[] = [];
  log('running baseline ...');
  const baseline = runBaseline(frames, names);
  runs.push(baseline);
  const shapes: [number, number][] = [[1, 1], [1, 2], [2, 1]];
  if (cpus().length >= 4) shapes.push([1, cpus().length], [cpus().length, 1]);
  for (const [s, t] of shapes) {
    log(`running cluster ${s} x ${t} ...`);
    runs.push(await runCluster(framesDir, work, s, t));
  }
  let peers: ReturnType<typeof runPythonPeers> = 'skipped (--skip peers)';
  if (!skip.has('peers')) {
    log('running the Python peers (PEERS.md) on the same frames ...');
    peers = runPythonPeers(framesDir, cpus().length);
  }
  let mismatches = 0;
  for (const r of runs.slice(1)) {
    const diffs = compareDetections(baseline.detections, r.detections);
    if (diffs.length > 0) {
      mismatches += diffs.length;
      log(`DETECTIONS DIFFER in ${r.name}: ${diffs.slice(0, 10).join(', ')}${diffs.length > 10 ? ' ...' : ''}`);
    }
  }
  const t = totals(baseline.detections);
  const throughputTable = [
    '| run | images/s | vs baseline | CPU busy | object ms | face ms | edge ms | corner ms | overhead ms/task | master / slaves CPU ms/image | wall incl. start-up s |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...runs.map((r) =>
      [
        r.name,
        r.imagesPerSecond.toFixed(2),
        `${(r.imagesPerSecond / baseline.imagesPerSecond).toFixed(2)}x`,
        `${Math.round(r.cpu * 100)}%`,
        ...KINDS.map((k) => (r.computeMs[k] ?? 0).toFixed(1)),
        r.overheadMsPerTask.toFixed(2),
        r.coordinatorCpuMsPerImage === undefined ? '' : `${r.coordinatorCpuMsPerImage.master.toFixed(1)} / ${r.coordinatorCpuMsPerImage.slaves.toFixed(1)}`,
        (r.totalMs / 1000).toFixed(1),
      ].join(' | ').replace(/^/, '| ').replace(/$/, ' |'),
    ),
  ];
  const differingPeers = typeof peers === 'string' ? [] : peers.filter((p) => JSON.stringify(p.totals) !== JSON.stringify(t));
  for (const p of differingPeers) log(`the peer's totals differ: ${JSON.stringify(p.totals)}`);
  if (typeof peers !== 'string') {
    for (const p of peers) {
      throughputTable.push(`| ${p.name} | ${p.imagesPerSecond.toFixed(2)} | ${(p.imagesPerSecond / baseline.imagesPerSecond).toFixed(2)}x | | | | | | | | |`);
    }
  }
  const throughputStart = out.length;
  out.push('## Throughput', '', throughputTable.join('\n'), '');
  if (typeof peers === 'string') {
    out.push(`Python peers: not run: ${peers}.`, '');
  } else {
    const bestPeer = Math.max(...peers.map((p) => p.imagesPerSecond));
    const bestOurs = Math.max(...runs.slice(1).map((r) => r.imagesPerSecond));
    out.push(`Python peers (test/bench/peers/python_peers.py, Debian's python3-opencv, cv2.setNumThreads(1), each task decoding its own JPEG) ran on the same frames in this run; their totals ${differingPeers.length === 0 ? 'equal ours' : 'DIFFER from ours'}. Best cluster run / best peer: ${(bestOurs / bestPeer).toFixed(3)}x. A peer's images/s is timed from its first task to its last (pool start-up excluded).`, '');
  }
  out.push(`Detections equal across all runs: ${mismatches === 0 ? 'yes' : `NO (${mismatches} differences)`}. Totals: ${t.people} people boxes, ${t.faces} faces, ${t.edgePixels} edge pixels, ${t.corners} corners (PEERS.md: 637, 3, 3,915,561, 99,980).`, '');
  out.push('Where the time goes (profiles, and what was tried): test/bench/PROFILE.md.', '');
  out.push('images/s of a cluster run counts from the first slave\'s READY to the last record (start-up of the processes excluded; the last column includes it). Baseline compute per kind includes a decode for every task; cluster compute includes one decode per image, in whichever task decoded it. Overhead = (processing time x threads - compute time) / tasks. Master / slaves CPU: CPU time of the master process and of the slaves\' main processes (not their workers) per image, from the 5th record on (/proc/PID/stat).', '');
  log(out.slice(throughputStart).join('\n'));

  // 4. Bytes on the wire, from the 2 x 1 run.
  const two = runs.find((r) => r.name.startsWith('cluster: 2 slaves x 1'))?.report;
  if (two) {
    const perImage = two.bytesSent / two.images;
    const encoded = two.imageBytesRead / two.images;
    out.push('## Bytes on the wire (2 slaves x 1 thread)', '');
    out.push(`master -> slaves: ${(perImage / 1024).toFixed(1)} KiB per image for ${(encoded / 1024).toFixed(1)} KiB of encoded image = ${(perImage / encoded).toFixed(3)}x (image parts alone: ${(two.imageBytesSent / two.imageBytesRead).toFixed(3)}x); slaves -> master: ${(two.bytesReceived / two.images / 1024).toFixed(1)} KiB per image (results).`, '');
    log(out.slice(-2).join('\n'));
  }

  // 2. Dispatch overhead.
  if (!skip.has('dispatch')) {
    const d: DispatchFigures[] = [];
    for (const s of [1, 4]) {
      log(`dispatch with ${s} slave(s) ...`);
      d.push(await measureDispatch(s, 200_000, work));
    }
    out.push('## Dispatch overhead (no-op tasks, 16-byte payload, 200,000 tasks)', '');
    out.push('| slaves | tasks/s | us per task |', '|---:|---:|---:|', ...d.map((x) => `| ${x.slaves} | ${x.tasksPerSecond} | ${x.microsPerTask} |`), '');
    log(out.slice(-5).join('\n'));
  }

  // 3. Memory.
  if (!skip.has('memory')) {
    const m: MemoryFigures[] = [];
    for (const n of [10_000, 100_000]) {
      log(`master memory with ${n} queued images ...`);
      m.push(await measureMasterMemory(n, join(work, `mem-${n}`)));
    }
    const growth = ((m[1]?.peakRssBytes ?? 0) - (m[0]?.peakRssBytes ?? 0)) / 1e6;
    out.push('## Master memory (peak RSS, no-op tasks, images streamed from a folder)', '');
    out.push('| queued images | peak RSS MB | wall s |', '|---:|---:|---:|', ...m.map((x) => `| ${x.images} | ${(x.peakRssBytes / 1e6).toFixed(1)} | ${(x.wallMs / 1000).toFixed(1)} |`), '');
    out.push(`Growth from 10,000 to 100,000 queued images: ${growth.toFixed(1)} MB.`, '');
    log(out.slice(-6).join('\n'));
  }

  const header = [
    '# Benchmark results',
    '',
    `Written by \`npm run bench\` on ${new Date().toISOString().slice(0, 10)}, host ${hostname()}: ${cpus().length} x ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, OpenCV ${opencvVersion()}.`,
    `Workload: ${frames.length} frames of vtest.avi (every 3rd from frame 0, JPEG quality 90, ${(totalBytes / frames.length / 1024).toFixed(1)} KiB on average), tasks ${KINDS.join(', ')}, detector parameters of ../shared/PEERS.md.`,
    '',
  ];
  writeFileSync(join(ROOT, 'test/bench/RESULTS.md'), [...header, ...out].join('\n'));
  log('wrote test/bench/RESULTS.md');
  if (mismatches > 0) process.exitCode = 1;
} finally {
  await killAllTracked();
  rmSync(work, { recursive: true, force: true });
}
process.exit(process.exitCode ?? 0);
