/**
 * Entry point of one worker process of the child-process pool. Loads OpenCV once, then
 * runs the tasks the parent sends, one image's tasks per request, one task at a time, and
 * the requests in the order they arrive.
 * Keeps the last decoded images so that the tasks of one image share one decode and one
 * grey conversion, also across requests.
 */
import { getPriority, setPriority } from 'node:os';
import { DecodeError, errorMessage, toWireError } from '../../shared/errors.js';
import { runDetector } from '../detectors/index.js';
import { decodeImage, PreparedImage } from '../vision/decode.js';
import { opencvVersion } from '../../shared/opencv.js';
import { WORKER_CACHE_SIZE, type ChildDropRequest, type ChildMessage, type ChildRequest, type ChildRunRequest, type ChildTaskRef } from './child-protocol.js';

/**
 * Test-only fault injection, off unless `CCTV_TEST_FAULT` is set: a comma-separated list
 * of `ACTION:KIND:IMAGE_ID[:ATTEMPT]` (without ATTEMPT, every attempt) where ACTION is
 * `throw` (the detector throws), `crash` (the worker process dies), `hang` (the worker never
 * answers), `slow` (the task blocks the worker's thread 600 ms first) or `forget` (once: the worker drops its decoded images before a request for that
 * task arrives without bytes, so it answers with a cache miss); and `hang:start:0`: every
 * worker hangs before it says it is ready. Used by `test/faults/` and the pool's tests.
 */
const FAULTS = new Map(
  (process.env['CCTV_TEST_FAULT'] ?? '')
    .split(',')
    .filter((f) => f.length > 0)
    .map((f) => {
      const [action, kind, imageId, attempt] = f.split(':');
      return [`${kind ?? ''}:${imageId ?? ''}${attempt === undefined ? '' : `:${attempt}`}`, action ?? ''] as const;
    }),
);

/** How long the `slow` test fault blocks a task, ms. */
const SLOW_FAULT_MS = 600;

/** Blocks this worker's thread for `ms`, as a detector busy in native code does: its event loop reads nothing meanwhile (test faults only). */
function blockFor(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Blocks this worker for good, as a detector stuck in native code would (test faults only). */
function hangForever(): never {
  for (;;) blockFor(1000);
}

function injectFault(imageId: number, task: ChildTaskRef): void {
  const action = FAULTS.get(`${task.kind}:${imageId}`) ?? FAULTS.get(`${task.kind}:${imageId}:${task.attempt}`);
  if (action === 'throw') throw new Error(`injected fault: ${task.kind} detector throws on image ${imageId}`);
  if (action === 'crash') process.kill(process.pid, 'SIGKILL');
  if (action === 'hang') hangForever();
  if (action === 'slow') blockFor(SLOW_FAULT_MS);
}

function injectForget(req: ChildRunRequest): void {
  const key: `${string}:${string}` = `${req.tasks[0]?.kind ?? ''}:${String(req.imageId)}`;
  if (req.bytes === undefined && FAULTS.get(key) === 'forget') {
    FAULTS.delete(key);
    for (const id of [...cache.keys()]) evict(id);
  }
}

const CACHE_SIZE = WORKER_CACHE_SIZE;
/**
 * Last decoded images by image id, with the bytes they came from: ids restart at 0 in
 * every batch, so a slave serving a second master could otherwise reuse a stale decode.
 */
const cache = new Map<number, { bytes: Uint8Array; entry: PreparedImage | Error }>();

/** Drops image `imageId` from the cache and frees its pixels now (see PreparedImage). */
function evict(imageId: number): void {
  const entry = cache.get(imageId)?.entry;
  cache.delete(imageId);
  if (entry instanceof PreparedImage) entry.release();
}

function send(message: ChildMessage): void {
  try {
    process.send?.(message, (err: Error | null) => {
      if (err) process.exit(0);
    });
  } catch {
    // The slave is gone (EPIPE); nothing left to answer to.
    process.exit(0);
  }
}

// Ctrl-C in a terminal signals the whole process group: the slave decides when its
// workers stop (it drains first), so workers ignore SIGINT/SIGTERM and leave when the
// IPC channel to the slave closes.
process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => undefined);

// Workers run 5 nice levels below their slave, so the slave's own process (heartbeats,
// results) and a master on the same machine get the CPU as soon as they need it: under
// full load a slave otherwise missed its heartbeats now and then (fault suite, 2 cores).
try {
  setPriority(Math.min(19, getPriority() + 5));
} catch {
  // Not permitted here: run at the slave's priority.
}

/**
 * Time spent, ms: CPU time of this worker process (user + system, `process.cpuUsage`, µs
 * resolution) and wall time (`performance.now()`). A task's compute time is CPU time: with
 * more workers than cores a task waits for a core, and wall time then counted the wait as
 * work (8 workers on 2 cores reported a 6.85x speed-up). A worker runs one task at a time
 * on one OpenCV thread, so its CPU time during a task is the task's. The pool's timers
 * compare wall time with wall time.
 */
interface Spent {
  cpuMs: number;
  wallMs: number;
}

const NOTHING_SPENT: Spent = { cpuMs: 0, wallMs: 0 };

/** This worker's clocks now, read as a {@link Spent} since its start. */
function clocks(): Spent {
  const u = process.cpuUsage();
  return { cpuMs: (u.user + u.system) / 1000, wallMs: performance.now() };
}

/** Time spent since `start` (from {@link clocks}), plus `earlier` (e.g. the image's decode). */
function since(start: Spent, earlier: Spent = NOTHING_SPENT): Spent {
  const now = clocks();
  return { cpuMs: now.cpuMs - start.cpuMs + earlier.cpuMs, wallMs: now.wallMs - start.wallMs + earlier.wallMs };
}

/** An image ready for its tasks, with what decoding it cost now ({@link NOTHING_SPENT} when it was decoded earlier). */
interface Prepared {
  image: PreparedImage;
  decode: Spent;
}

/** The request's image, decoded now or earlier; undefined when it has no bytes and is not held. */
function prepared(req: ChildRunRequest): Prepared | Error | undefined {
  const cached = cache.get(req.imageId);
  if (cached !== undefined && (req.bytes === undefined || Buffer.compare(cached.bytes, req.bytes) === 0)) {
    const hit = cached.entry;
    if (req.bytes !== undefined) {
      // The parent re-inserts on every send with bytes; keep the same order here.
      cache.delete(req.imageId);
      cache.set(req.imageId, cached);
    }
    return hit instanceof Error ? hit : { image: hit, decode: NOTHING_SPENT };
  }
  if (req.bytes === undefined) return undefined;
  let entry: PreparedImage | Error;
  const start = clocks();
  try {
    const bytes = Buffer.from(req.bytes.buffer, req.bytes.byteOffset, req.bytes.byteLength);
    entry = decodeImage(bytes, req.maxImagePixels);
  } catch (err) {
    // The binding throws plain strings at times: an Error is what the tasks below tell apart.
    entry = err instanceof Error ? err : new DecodeError(`image could not be decoded: ${errorMessage(err)}`);
  }
  const decode = since(start);
  evict(req.imageId);
  cache.set(req.imageId, { bytes: req.bytes, entry });
  if (cache.size > CACHE_SIZE) {
    const oldest = cache.keys().next().value;
    if (oldest !== undefined) evict(oldest);
  }
  return entry instanceof Error ? entry : { image: entry, decode };
}

/**
 * Runs one task of `req` on its prepared image and answers with its outcome: its
 * `computeMs` is the task's CPU time and the message's `wallMs` its wall time ({@link Spent}),
 * each with the decode's when `p` holds one.
 */
function runTask(req: ChildRunRequest, task: ChildTaskRef, p: Prepared | Error): void {
  const start = clocks();
  const base = { taskId: task.taskId, attempt: task.attempt, kind: task.kind };
  if (task.kind === 'noop') {
    send({ type: 'done', outcome: { ...base, ok: true, computeMs: 0, width: 0, height: 0, value: {} }, wallMs: 0 });
    return;
  }
  try {
    if (FAULTS.size > 0) injectFault(req.imageId, task);
    if (p instanceof Error) throw p;
    const result = runDetector(task.kind, p.image, req.config);
    const spent = since(start, p.decode);
    send({ type: 'done', outcome: { ...base, ok: true, computeMs: spent.cpuMs, width: p.image.width, height: p.image.height, value: result.value }, wallMs: spent.wallMs });
  } catch (err) {
    // A detector that throws on an image this task decoded: the decode counts too.
    const spent = since(start, p instanceof Error ? NOTHING_SPENT : p.decode);
    send({ type: 'done', outcome: { ...base, ok: false, computeMs: spent.cpuMs, error: toWireError(err) }, wallMs: spent.wallMs });
  }
}

/**
 * Calls `fn` after the event loop has polled for I/O at least once, so messages that arrived
 * during a task (a {@link ChildDropRequest}) are read before the next task starts. One
 * setImmediate is not enough: set from the poll phase (a request's first task runs in its
 * message handler) it runs in the same turn's check phase, before the next poll.
 */
function afterPoll(fn: () => void): void {
  setImmediate(() => setImmediate(fn));
}

/** Requests that arrived while another ran (the parent sends the next one ahead), oldest first. */
const waiting: ChildRunRequest[] = [];
/** A request is running (or its cache miss was just answered): later ones wait. */
let running = false;
/** The request running now, and the index of its next task (those from there on have not started). */
let current: { req: ChildRunRequest; next: number } | undefined;

/**
 * Runs the tasks of one request in order, then the next waiting request. Each next task
 * starts after a poll for I/O ({@link afterPoll}), so a closed IPC channel (the slave is
 * gone) or a {@link ChildDropRequest} is noticed between tasks.
 */
function run(req: ChildRunRequest): void {
  running = true;
  if (FAULTS.size > 0) injectForget(req);
  const p = prepared(req);
  if (p === undefined) {
    send({ type: 'miss', imageId: req.imageId });
    setImmediate(runNext);
    return;
  }
  const state = { req, next: 0 };
  current = state;
  let decodeCharged = false;
  const step = (): void => {
    const task = req.tasks[state.next++];
    if (task === undefined) {
      runNext();
      return;
    }
    // Only the first task run (the one that decoded the image) counts the decode in its compute time.
    const input = p instanceof Error || !decodeCharged ? p : { image: p.image, decode: NOTHING_SPENT };
    decodeCharged = true;
    runTask(req, task, input);
    afterPoll(step);
  };
  step();
}

function runNext(): void {
  running = false;
  current = undefined;
  const req = waiting.shift();
  if (req !== undefined) run(req);
}

/** Removes the named tasks of request `seq` that have not started; a finished request is gone already. */
function drop(msg: ChildDropRequest): void {
  const ids = new Set(msg.taskIds);
  if (current?.req.seq === msg.seq) {
    const { req, next } = current;
    req.tasks = [...req.tasks.slice(0, next), ...req.tasks.slice(next).filter((t) => !ids.has(t.taskId))];
    return;
  }
  const at = waiting.findIndex((r) => r.seq === msg.seq);
  const req = waiting[at];
  if (req === undefined) return;
  req.tasks = req.tasks.filter((t) => !ids.has(t.taskId));
  if (req.tasks.length === 0) waiting.splice(at, 1);
}

process.on('message', (msg: ChildRequest) => {
  if (msg.type === 'drop') drop(msg);
  else if (running) waiting.push(msg);
  else run(msg);
});
process.on('disconnect', () => process.exit(0));
if (FAULTS.get('start:0') === 'hang') hangForever();
send({ type: 'ready', opencv: opencvVersion() });
