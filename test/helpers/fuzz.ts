export { rssBytes } from './fixtures.js';
import { Packr } from 'msgpackr';
import { DEFAULT_DETECTOR_CONFIG } from '../../proto/detector-config.js';
import { PROTOCOL_VERSION } from '../../proto/version.js';

/**
 * A protocol fuzzer for tests: random and mutated frames for the master's ROUTER (from a
 * raw DEALER) and for a slave's DEALER (from a raw ROUTER). Deterministic for a seed
 * (mulberry32), so a failure can be replayed with `CCTV_FUZZ_SEED`.
 */

const raw = new Packr({ useRecords: false, mapsAsObjects: true });

/** mulberry32: a small seeded PRNG, uniform in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Json = null | boolean | number | string | Buffer | Json[] | { [k: string]: Json };

/** Frame generator state: the PRNG and counts of what was generated, by category. */
export class Fuzzer {
  /** Frames generated so far, by category. */
  readonly counts = new Map<string, number>();
  private readonly rnd: () => number;

  constructor(readonly seed: number) {
    this.rnd = prng(seed);
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.rnd() * n);
  }

  /** One of `items`, uniformly. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }

  /** `n` random bytes. */
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }

  private count(category: string): void {
    this.counts.set(category, (this.counts.get(category) ?? 0) + 1);
  }

  /** A value of a surprising type or size. */
  weird(): Json {
    return this.pick<() => Json>([
      () => null,
      () => -1,
      () => 2 ** 53 + 2,
      () => -(2 ** 63),
      () => 1e308,
      () => Number.NaN,
      () => Number.POSITIVE_INFINITY,
      () => 0.5,
      () => '',
      () => 'x'.repeat(5000),
      () => '\u0000\uffff\ud800',
      () => [],
      () => {
        const deep: Json[] = [];
        let cur = deep;
        for (let i = 0; i < 200; i++) {
          const next: Json[] = [];
          cur.push(next);
          cur = next;
        }
        return deep;
      },
      () => ({}),
      () => JSON.parse('{"__proto__": {"polluted": true}}') as Json, // an own key named __proto__
      () => true,
      () => this.bytes(16),
      () => Array.from({ length: 5000 }, () => 0),
    ])();
  }

  /** Replaces one field, at any depth, of a copy of `obj` by a weird value (or deletes it). */
  mutate(obj: Json): Json {
    const copy = structuredClone(obj);
    const paths: (string | number)[][] = [];
    const walk = (v: Json, path: (string | number)[]): void => {
      if (path.length > 0) paths.push(path);
      if (Array.isArray(v)) v.forEach((x, i) => { walk(x, [...path, i]); });
      else if (v !== null && typeof v === 'object' && !Buffer.isBuffer(v)) for (const [k, x] of Object.entries(v)) walk(x, [...path, k]);
    };
    walk(copy, []);
    const path = this.pick(paths);
    let parent = copy as Record<string | number, Json>;
    for (const key of path.slice(0, -1)) parent = parent[key] as Record<string | number, Json>;
    const last = path[path.length - 1] as string | number;
    if (this.int(5) === 0 && !Array.isArray(parent)) Reflect.deleteProperty(parent, last);
    else parent[last] = this.weird();
    return copy;
  }

  /** Header bytes that claim huge lengths, nest deeply, or use msgpack extensions. */
  hostileMsgpack(): Buffer {
    return this.pick<() => Buffer>([
      () => Buffer.from([0xdb, 0xff, 0xff, 0xff, 0xff, 0x61, 0x62]), // str32 of 4 GiB, 2 bytes present
      () => Buffer.from([0xc6, 0x7f, 0xff, 0xff, 0xff, 0x00]), // bin32 of 2 GiB
      () => Buffer.from([0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0]), // array32 of 4G elements
      () => Buffer.from([0xdf, 0xff, 0xff, 0xff, 0xff, 0xa1, 0x76, 0x01]), // map32 of 4G entries
      () => Buffer.concat([Buffer.alloc(100_000, 0x91), Buffer.from([0xc0])]), // arrays nested 100k deep
      () => Buffer.concat([Buffer.from([0xdd, 0x00, 0x01, 0x00, 0x00]), Buffer.alloc(0x10000, 0xc0)]), // 64k nils
      () => Buffer.from([0xd4, this.int(256), this.int(256)]), // fixext1, any type
      () => Buffer.concat([Buffer.from([0xc7, 0x20, this.pick([0x72, 0x73, 0x65, 0x78, 0x74, 0x70, 0x69, 0x62, 0xff])]), this.bytes(0x20)]), // ext8: records, Set, Error, RegExp, typed array...
      () => Buffer.concat([Buffer.from([0x82, 0xa1, 0x76, 0x01, 0xa3, 0x63, 0x6d, 0x64]), this.bytes(4)]), // {v:1, cmd: <garbage>}
    ])();
  }

  /** A valid READY for `slaveId` announcing only the `noop` kind, so the master never gives it a task. */
  readyFrame(slaveId: string): Buffer[] {
    return [this.header({ cmd: 'READY', slaveId, capacity: 1, prefetch: 0, kinds: ['noop'], host: { hostname: 'fuzz', pid: 1, platform: 'linux', arch: 'x64', cpus: 1, opencv: '0' } })];
  }

  /** A header as `encode` would write it (`v` first). */
  header(fields: Record<string, Json>): Buffer {
    return raw.pack({ v: PROTOCOL_VERSION, ...fields });
  }

  /**
   * One frame for the master, from a peer registered as `slaveId` that holds no task:
   * garbage, truncated or mutated messages, unknown commands, absurd values, and valid
   * RESULT/FAIL for task ids it was never sent (0..`maxTaskId`).
   */
  toMaster(slaveId: string, maxTaskId: number): Buffer[] {
    const taskId = this.int(maxTaskId + 1);
    const kind = this.pick(['edge', 'corner'] as const);
    const value: Json = kind === 'edge' ? { edgePixels: 5, density: 0.01 } : { count: 1, points: [{ x: 1, y: 2 }] };
    const result: Record<string, Json> = { cmd: 'RESULT', results: [{ taskId, attempt: 1, computeMs: 1, width: 768, height: 576, kind, value }] };
    const fail: Record<string, Json> = { cmd: 'FAIL', failures: [{ taskId, attempt: 1, kind, computeMs: 1, error: { name: 'DetectorError', message: 'forged', retryable: false } }] };
    // A READY that registers the fuzzer for no real kind, so it is never given a task.
    const ready: Record<string, Json> = {
      cmd: 'READY', slaveId, capacity: 1, prefetch: 0, kinds: ['noop'],
      host: { hostname: 'fuzz', pid: 1, platform: 'linux', arch: 'x64', cpus: 1, opencv: '0' },
    };
    const valid = this.pick([result, fail, result, { cmd: 'HEARTBEAT' }, { cmd: 'HEARTBEAT', running: [{ taskId: 1, attempt: 1 }] }, ready]);
    const choice = this.int(10);
    switch (choice) {
      case 0:
        this.count('random bytes');
        return [this.bytes(this.int(4) === 0 ? 1 + this.int(65536) : 1 + this.int(200))];
      case 1: {
        this.count('truncated msgpack');
        const h = this.header(valid);
        return [h.subarray(0, Math.max(1, this.int(h.length)))];
      }
      case 2:
        this.count('wrong types / mutated fields');
        return [this.header(this.mutate(valid) as Record<string, Json>)];
      case 3:
        this.count('huge lengths / deep nesting / extensions');
        return [this.hostileMsgpack()];
      case 4:
        this.count('unknown command or version');
        return [this.pick([
          () => this.header({ cmd: this.pick(['EXPLODE', 'ready', 'TASKS', '', 'x'.repeat(10_000)]) }),
          () => this.header({ cmd: this.int(1000) }),
          () => raw.pack({ v: this.pick<Json>([0, 2, '1', null, 1.5, 2 ** 40]), cmd: 'HEARTBEAT' }),
          () => raw.pack([PROTOCOL_VERSION, 'HEARTBEAT']),
          () => raw.pack('HEARTBEAT'),
        ])()];
      case 5: {
        this.count('absurd values in valid-looking headers');
        const r = structuredClone(result);
        const entry = (r['results'] as Record<string, Json>[])[0] as Record<string, Json>;
        entry[this.pick(['taskId', 'attempt', 'computeMs', 'width', 'height'])] = this.pick<Json>([2 ** 53 - 1, 1e9, -1, 1e300, 0]);
        if (this.int(3) === 0) r['results'] = Array.from({ length: 1000 }, () => entry);
        return [this.header(r)];
      }
      case 6:
      case 7:
        this.count('RESULT/FAIL for tasks not held');
        return [this.header(this.int(3) === 0 ? fail : result)];
      case 8:
        this.count('wrong part count');
        return [this.header(this.pick([{ cmd: 'HEARTBEAT' }, result, { cmd: 'TASK', tasks: [], config: DEFAULT_DETECTOR_CONFIG }])), ...Array.from({ length: 1 + this.int(40) }, () => this.bytes(this.int(64)))];
      default:
        this.count('valid: heartbeat or noop READY');
        return [this.header(this.int(2) === 0 ? { cmd: 'HEARTBEAT' } : ready)];
    }
  }

  /**
   * One frame for a slave from a fake master: garbage, truncated or mutated TASKs, bad
   * part indexes, absurd but valid parameters (edge/corner only, so none runs for long),
   * and valid TASKs whose image is random bytes, `jpeg` or `oversized`; task ids come from `nextTaskId`.
   */
  toSlave(jpeg: Buffer, nextTaskId: () => number, oversized: Buffer): Buffer[] {
    const kind = this.pick(['edge', 'corner', 'object', 'face', 'noop'] as const);
    const spec = (k: string): Record<string, Json> => ({ taskId: nextTaskId(), kind: k, attempt: 1 + this.int(3), part: 0, imageId: 1_000_000 + this.int(1_000_000) });
    const config = structuredClone(DEFAULT_DETECTOR_CONFIG) as unknown as Record<string, Record<string, Json>>;
    const task: Record<string, Json> = { cmd: 'TASK', tasks: [spec(kind)], config };
    let choice = this.int(10);
    // Real images run real detectors: keep them to about 1 frame in 15.
    if ((choice === 5 || choice === 9) && this.int(3) !== 0) choice = 6;
    switch (choice) {
      case 0:
        this.count('random bytes');
        return [this.bytes(1 + this.int(300))];
      case 1: {
        this.count('truncated TASK');
        const h = this.header(task);
        return [h.subarray(0, Math.max(1, this.int(h.length))), this.bytes(100)];
      }
      case 2:
        this.count('mutated TASK');
        return [this.header(this.mutate(task) as Record<string, Json>), this.bytes(this.int(500))];
      case 3:
        this.count('huge lengths / deep nesting / extensions');
        return [this.hostileMsgpack()];
      case 4:
        this.count('bad part index or missing parts');
        return this.pick([
          () => [this.header({ ...task, tasks: [{ ...spec('edge'), part: 3 }] }), this.bytes(10)],
          () => [this.header(task)],
          () => [this.header({ ...task, tasks: [{ ...spec('edge'), part: 1e6 }] }), this.bytes(10)],
        ])();
      case 5: {
        this.count('absurd valid parameters (edge/corner)');
        config['edge'] = { blurKernelPx: 31, blurSigma: 100, lowThreshold: 0, highThreshold: 10000 };
        config['corner'] = { maxCorners: 100000, qualityLevel: 1e-9, minDistancePx: 0, blockSize: 31 };
        return [this.header({ ...task, tasks: [spec(this.pick(['edge', 'corner']))] }), jpeg];
      }
      case 6:
        this.count('valid TASK, random image bytes');
        return [this.header({ ...task, tasks: [spec(kind), spec(this.pick(['edge', 'face']))] }), this.bytes(1 + this.int(2000))];
      case 7:
        this.count('valid TASK, image over --max-image-bytes');
        return [this.header({ ...task, tasks: [spec('edge')] }), oversized];
      case 8:
        this.count('commands a master never sends');
        return [this.header(this.pick<Record<string, Json>>([
          { cmd: 'RESULT', results: [{ taskId: 1, attempt: 1, computeMs: 1, width: 1, height: 1, kind: 'noop', value: {} }] },
          { cmd: 'READY', slaveId: 'x', capacity: 1, prefetch: 0, kinds: ['edge'], host: { hostname: 'h', pid: 1, platform: 'p', arch: 'a', cpus: 1, opencv: '4' } },
          { cmd: 'EXPLODE' },
        ]))];
      default:
        this.count('valid TASK, real image (edge/corner/noop)');
        return [this.header({ ...task, tasks: [spec(this.pick(['edge', 'corner', 'noop']))] }), jpeg];
    }
  }
}

