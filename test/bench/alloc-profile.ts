/**
 * Bytes the master allocates per no-op task, by function: V8's sampling heap profiler
 * (every 4 KiB) through the inspector, counting objects that young- and old-generation GC
 * already freed, over the dispatch benchmark. GC was a quarter of the master's thread per
 * task; this shows who makes the garbage (see PROFILE.md).
 *
 *   node --import tsx test/bench/alloc-profile.ts [tasks, default 100000]
 */
import { Session } from 'node:inspector/promises';
import { measureDispatch } from './dispatch.js';
const s = new Session(); s.connect();
await s.post('HeapProfiler.enable');
await s.post('HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true } as never);
const f = await measureDispatch(1, Number(process.argv[2] ?? '100000'), '/tmp');
const { profile } = (await s.post('HeapProfiler.stopSampling')) as { profile: { head: Node } };
interface Node { callFrame: { functionName: string; url: string; lineNumber: number }; selfSize: number; children: Node[] }
const self = new Map<string, number>();
const incl = new Map<string, number>();
function walk(n: Node, stack: string[]): number {
  const k = `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.split('/').slice(-2).join('/')}:${n.callFrame.lineNumber}`;
  self.set(k, (self.get(k) ?? 0) + n.selfSize);
  let t = n.selfSize;
  for (const c of n.children) t += walk(c, [...stack, k]);
  if (!stack.includes(k)) incl.set(k, (incl.get(k) ?? 0) + t);
  return t;
}
const total = walk(profile.head, []);
console.log(JSON.stringify(f), 'total MB', (total / 1e6).toFixed(1), 'bytes/task', Math.round(total / f.tasks));
console.log('--- self');
for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log((v / f.tasks).toFixed(0).padStart(6), k);
console.log('--- inclusive');
for (const [k, v] of [...incl].sort((a, b) => b[1] - a[1]).slice(0, 40)) console.log((v / f.tasks).toFixed(0).padStart(6), k);
process.exit(0);
