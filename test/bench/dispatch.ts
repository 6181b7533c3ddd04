import { join } from 'node:path';
import { Master } from '../../master/master.js';
import { defaultMasterOptions } from '../../master/options.js';
import type { IngestItem } from '../../master/ingest/item.js';
import { systemClock } from '../../shared/clock.js';
import { createLogger } from '../../shared/logger.js';
import { startSlave, killAllTracked } from '../helpers/processes.js';
import { loopbackEndpoint } from '../helpers/ports.js';
import { processCpuMs } from './cpu.js';

/** Result of one dispatch-overhead run. */
export interface DispatchFigures {
  slaves: number;
  tasks: number;
  processingMs: number;
  tasksPerSecond: number;
  microsPerTask: number;
  /** Messages the master sent / received: how well tasks and results were batched. */
  messagesSent: number;
  messagesReceived: number;
  /**
   * CPU time per task, µs, of the master process (all its threads) and of all slaves
   * together, from the first finished image to the end: unlike wall time, this hardly
   * moves when other work shares the cores.
   */
  masterCpuMicrosPerTask: number;
  slaveCpuMicrosPerTask: number;
}

/** N synthetic items with a 16-byte payload each: no file I/O, so only dispatch is timed. */
function* synthetic(n: number): Generator<IngestItem> {
  const loaded = Promise.resolve(Buffer.alloc(16, 1));
  // One load function for all items: a closure per item costs the master's thread more
  // than the dispatch being measured (tsx wraps each in a naming helper).
  const load = (): Promise<Buffer> => loaded;
  for (let i = 0; i < n; i++) {
    const key = `noop-${i}`;
    yield { key, source: key, load };
  }
}

/** {@link synthetic} as the async iterable the master takes. */
async function* syntheticSource(n: number): AsyncGenerator<IngestItem> {
  await Promise.resolve();
  yield* synthetic(n);
}

/**
 * Tasks the slaves of a dispatch run hold queued together (`--prefetch`, split evenly
 * between them). 1 slave has had 2,048 since the seventeenth session (1,024 was no better
 * there: PROFILE.md). Split rather than per slave: 4 x 2,048 made the master hold 16,384
 * images, and 4 x 512 ran ~10% faster (PROFILE.md, twenty-third session).
 */
export const DISPATCH_PREFETCH_TASKS = 2048;

/**
 * No-op tasks through a real master (in this process) and real slave processes over
 * loopback TCP: master -> slave -> master, one task per item, slaves answering in their
 * main process. Time is from the first READY to the last record.
 *
 * @param prefetch - each slave's `--prefetch`, tasks; by default {@link DISPATCH_PREFETCH_TASKS} split between the slaves
 */
export async function measureDispatch(slaves: number, tasks: number, dir: string, prefetch = Math.ceil(DISPATCH_PREFETCH_TASKS / slaves)): Promise<DispatchFigures> {
  // BENCH_ENDPOINT lets a profiled slave started by hand connect.
  const endpoint = process.env['BENCH_ENDPOINT'] ?? (await loopbackEndpoint());
  const options = {
    ...defaultMasterOptions(),
    inputs: ['synthetic'],
    kinds: ['noop' as const],
    bind: endpoint,
    localSlaves: 0,
    out: join(dir, `dispatch-${slaves}.jsonl`),
    reportFile: join(dir, `dispatch-${slaves}.report.json`),
    overwrite: true,
    progress: 'none' as const,
    window: Number(process.env['BENCH_WINDOW'] ?? '0'),
  };
  const master = new Master(options, createLogger('bench-master', (process.env['BENCH_LOG'] ?? 'warn') as 'warn', false), systemClock, undefined, syntheticSource(tasks));
  const running = master.run();
  const pids: number[] = [];
  for (let i = 0; i < slaves; i++) pids.push(startSlave(['--connect', endpoint, '--threads', '1', '--prefetch', String(prefetch), '--log-level', 'warn']).pid);
  // CPU counters from the first finished image on, so start-up (module loading) is left out.
  let first: { master: number; slaves: number; done: number } | undefined;
  const cpuNow = (): { master: number; slaves: number } => {
    const u = process.cpuUsage();
    return { master: (u.user + u.system) / 1000, slaves: pids.reduce((sum, pid) => sum + processCpuMs(pid), 0) };
  };
  // Runs in the master's own thread: stopped as soon as it has its reading.
  const poll = setInterval(() => {
    if (master.stats.imagesDone === 0) return;
    first = { ...cpuNow(), done: master.stats.imagesDone };
    clearInterval(poll);
  }, 2);
  const outcome = await running;
  clearInterval(poll);
  const last = cpuNow();
  await killAllTracked();
  const counted = outcome.report.tasks - (first?.done ?? 0);
  const perTask = (ms: number): number => Math.round((ms * 1000 * 10) / Math.max(1, counted)) / 10;
  const ms = outcome.report.processingMs;
  return {
    slaves,
    tasks: outcome.report.tasks,
    processingMs: ms,
    tasksPerSecond: Math.round((outcome.report.tasks / ms) * 1000),
    microsPerTask: Math.round(((ms * 1000) / outcome.report.tasks) * 10) / 10,
    messagesSent: outcome.report.messagesSent,
    messagesReceived: outcome.report.messagesReceived,
    masterCpuMicrosPerTask: perTask(last.master - (first?.master ?? 0)),
    slaveCpuMicrosPerTask: perTask(last.slaves - (first?.slaves ?? 0)),
  };
}

// By hand: node --import tsx test/bench/dispatch.ts [TASKS [SLAVES [PREFETCH_PER_SLAVE]]]
if (process.argv[1]?.endsWith('dispatch.ts')) {
  const n = Number(process.argv[2] ?? '100000');
  const s = Number(process.argv[3] ?? '1');
  const f = await measureDispatch(s, n, '/tmp', process.argv[4] === undefined ? undefined : Number(process.argv[4]));
  console.log(JSON.stringify(f));
  process.exit(0);
}
