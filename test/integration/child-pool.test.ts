import { expect } from 'chai';
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_DETECTOR_CONFIG } from '../../proto/detector-config.js';
import type { TaskKind } from '../../proto/task-kinds.js';
import { pino } from 'pino';
import { CHILD_SCRIPT_DIR } from '../../shared/child-script.js';
import { createLogger } from '../../shared/logger.js';
import { cv } from '../../shared/opencv.js';
import { runDetector } from '../../slave/detectors/index.js';
import { ChildPool } from '../../slave/pool/child-pool.js';
import type { ChildDropRequest, ChildMessage, ChildRunRequest } from '../../slave/pool/child-protocol.js';
import { imagePixels, workerBytesFor } from '../../slave/pool/memory-budget.js';
import type { PoolJob, PoolOutcome } from '../../slave/pool/pool.js';
import { decodeImage } from '../../slave/vision/decode.js';
import { SAMPLE_FACES } from '../helpers/fixtures.js';
import { descendants, runsEntry } from '../helpers/processes.js';

const KINDS: readonly TaskKind[] = ['object', 'face', 'edge', 'corner'];
const IMAGE_ID = 7;

/**
 * The slave's worker pool with real worker processes and real OpenCV: an image's jobs
 * queued together go to one worker in one request (see child-protocol.ts) unless workers
 * would stay idle, and a fault in one of them (crash, hang, lost decode) costs that job at
 * most, never its siblings.
 */
describe('integration: child-process worker pool', function () {
  this.timeout(120_000);
  const bytes = readFileSync(join(SAMPLE_FACES, '2008_001009.jpg'));
  const reference = new Map<TaskKind, unknown>();
  let pool: ChildPool | undefined;

  before(() => {
    const image = decodeImage(bytes);
    for (const kind of KINDS) reference.set(kind, runDetector(kind, image, DEFAULT_DETECTOR_CONFIG).value);
  });

  afterEach(async () => {
    delete process.env['CCTV_TEST_FAULT'];
    await pool?.close();
    pool = undefined;
  });

  /** Starts a pool whose workers get `fault` as CCTV_TEST_FAULT (read when a worker starts). */
  async function startPool(size: number, fault = '', taskTimeoutMs = 60_000, stuckMinMs?: number): Promise<ChildPool> {
    if (fault !== '') process.env['CCTV_TEST_FAULT'] = fault;
    pool = new ChildPool({ size, taskTimeoutMs, maxImagePixels: 50_000_000, logger: createLogger('test', 'silent', false), ...(stuckMinMs === undefined ? {} : { stuckMinMs }) });
    await pool.start();
    return pool;
  }

  it('kills and restarts a worker that hangs before it is ready; when every start hangs, start() fails saying so instead of waiting for ever', async () => {
    process.env['CCTV_TEST_FAULT'] = 'hang:start:0';
    pool = new ChildPool({ size: 1, taskTimeoutMs: 60_000, maxImagePixels: 50_000_000, startTimeoutMs: 500, logger: createLogger('test', 'silent', false) });
    const t0 = Date.now();
    let error: Error | undefined;
    await pool.start().catch((e: unknown) => { error = e as Error; });
    expect(error?.message).to.match(/worker processes fail to start/);
    // Five starts, each given up after 500 ms.
    expect(Date.now() - t0).to.be.at.least(5 * 500);
  });

  function job(kind: TaskKind, taskId: number, imageId = IMAGE_ID): PoolJob {
    return { taskId, attempt: 1, kind, imageId, bytes, config: DEFAULT_DETECTOR_CONFIG };
  }

  function expectSuccess(outcome: PoolOutcome, kind: TaskKind): void {
    expect(outcome.ok, JSON.stringify(outcome)).to.equal(true);
    if (outcome.ok) {
      expect(outcome.kind).to.equal(kind);
      expect(outcome.value).to.deep.equal(reference.get(kind));
    }
  }

  it("runs each image's four jobs on one worker in one request, each equal to a run in this process; the last image is shared", async () => {
    const p = await startPool(2);
    const images = [IMAGE_ID, IMAGE_ID + 1, IMAGE_ID + 2];
    const running = images.flatMap((imageId, n) => KINDS.map((kind, i) => p.run(job(kind, 4 * n + i, imageId))));
    await Promise.resolve();
    // Two whole images for two workers (one request and one decode each); the third waits.
    expect({ busy: p.busy, queued: p.queued, requests: p.requests }).to.deep.equal({ busy: 2, queued: 4, requests: 2 });
    const outcomes = await Promise.all(running);
    outcomes.forEach((o, i) => {
      expectSuccess(o, KINDS[i % 4] as TaskKind);
    });
    // The last image went out in two shares, one per worker as each came free.
    expect(p.requests).to.equal(4);
  });

  it("shares a lone image's jobs among idle workers instead of leaving one idle", async () => {
    const p = await startPool(2);
    const running = KINDS.map((kind, i) => p.run(job(kind, i)));
    await Promise.resolve();
    expect({ busy: p.busy, queued: p.queued, requests: p.requests }).to.deep.equal({ busy: 2, queued: 0, requests: 2 });
    const outcomes = await Promise.all(running);
    outcomes.forEach((o, i) => {
      expectSuccess(o, KINDS[i] as TaskKind);
    });
  });

  it('with memory for one image at a time, runs the images one after another instead of two at once, and every job answers', async () => {
    const need = workerBytesFor(imagePixels(bytes), KINDS);
    pool = new ChildPool({ size: 2, taskTimeoutMs: 60_000, maxImagePixels: 50_000_000, memoryBudgetBytes: need + 1, logger: createLogger('test', 'silent', false) });
    const p = pool;
    await p.start();
    expect(p.memoryBudgetBytes).to.equal(need + 1);
    const images = [IMAGE_ID, IMAGE_ID + 1, IMAGE_ID + 2];
    const running = images.flatMap((imageId, n) => KINDS.map((kind, i) => p.run(job(kind, 4 * n + i, imageId))));
    await Promise.resolve();
    // Without the budget, two images start at once (the test above); here the second waits.
    expect({ busy: p.busy, queued: p.queued, requests: p.requests, reservedBytes: p.reservedBytes }).to.deep.equal({ busy: 1, queued: 8, requests: 1, reservedBytes: need });
    expect(p.memoryWaits).to.be.at.least(1);
    const outcomes = await Promise.all(running);
    outcomes.forEach((o, i) => {
      expectSuccess(o, KINDS[i % 4] as TaskKind);
    });
    expect(p.peakReservedBytes).to.equal(need);
    expect(p.reservedBytes).to.equal(0);
  });

  it('runs an image larger than the whole memory budget alone, and a lone image is then not shared among workers', async () => {
    pool = new ChildPool({ size: 2, taskTimeoutMs: 60_000, maxImagePixels: 50_000_000, memoryBudgetBytes: 1, logger: createLogger('test', 'silent', false) });
    const p = pool;
    await p.start();
    const running = KINDS.map((kind, i) => p.run(job(kind, i)));
    await Promise.resolve();
    // Without the budget its jobs go out in two shares at once (the test above).
    expect({ busy: p.busy, requests: p.requests }).to.deep.equal({ busy: 1, requests: 1 });
    const outcomes = await Promise.all(running);
    outcomes.forEach((o, i) => {
      expectSuccess(o, KINDS[i] as TaskKind);
    });
  });

  it('refuses a task whose kind alone needs more memory for its image than the machine has (ImageTooLargeError, retryable elsewhere), and runs the kinds that fit', async () => {
    // A 4000x3000 image on a "machine" of 200 MiB: face needs ~710 MiB, edge ~92 MiB.
    pool = new ChildPool({ size: 1, taskTimeoutMs: 60_000, maxImagePixels: 50_000_000, memoryCeilingBytes: 200 * 2 ** 20, logger: createLogger('test', 'silent', false) });
    const p = pool;
    await p.start();
    const big = cv.imencode('.jpg', new cv.Mat(3000, 4000, cv.CV_8UC3, [40, 90, 160]));
    const [face, edge] = await Promise.all((['face', 'edge'] as const).map((kind, i) => p.run({ ...job(kind, i), bytes: big })));
    expect(face?.ok).to.equal(false);
    if (face !== undefined && !face.ok) {
      expect(face.error).to.deep.equal({ name: 'ImageTooLargeError', message: 'a face task on this image (12000000 px) needs ~710 MiB, more than this slave\'s machine has (200 MiB, or its cgroup\'s limit)', retryable: true });
    }
    expect(edge?.ok).to.equal(true);
  });

  it('a worker that dies mid-image fails only the job it was running; the jobs queued behind it run on the restarted worker', async () => {
    const p = await startPool(1, `crash:face:${IMAGE_ID}`);
    const [object, face, edge, corner] = await Promise.all(KINDS.map((kind, i) => p.run(job(kind, i))));
    expectSuccess(object as PoolOutcome, 'object');
    expect(face?.ok).to.equal(false);
    if (face !== undefined && !face.ok) {
      expect(face.error.name).to.equal('WorkerCrashError');
      expect(face.error.retryable).to.equal(true);
      // SIGKILL, as the kernel's out-of-memory killer sends it: the likely cause named.
      expect(face.error.message).to.equal('worker process died (SIGKILL: by the out-of-memory killer, or a user?) while running this task');
    }
    expectSuccess(edge as PoolOutcome, 'edge');
    expectSuccess(corner as PoolOutcome, 'corner');
  });

  it('a job that hangs is killed at the task timeout alone; the jobs behind it still run', async () => {
    const p = await startPool(1, `hang:object:${IMAGE_ID}`, 2_000);
    const [object, ...rest] = await Promise.all(KINDS.map((kind, i) => p.run(job(kind, i))));
    expect(object?.ok).to.equal(false);
    if (object !== undefined && !object.ok) expect(object.error.message).to.match(/task timeout of 2000 ms/);
    rest.forEach((o, i) => {
      expectSuccess(o, KINDS[i + 1] as TaskKind);
    });
  });

  it("sends a worker its next image while it runs the current one's last job, and the worker runs them in order", async () => {
    const p = await startPool(1);
    const images = [IMAGE_ID, IMAGE_ID + 1, IMAGE_ID + 2];
    const outcomes = await Promise.all(images.flatMap((imageId, n) => KINDS.map((kind, i) => p.run(job(kind, 4 * n + i, imageId)))));
    outcomes.forEach((o, i) => {
      expectSuccess(o, KINDS[i % 4] as TaskKind);
    });
    // Images 2 and 3 each went out when the previous image's last job started.
    expect({ requests: p.requests, requestsAhead: p.requestsAhead, cacheMisses: p.cacheMisses }).to.deep.equal({ requests: 3, requestsAhead: 2, cacheMisses: 0 });
  });

  /**
   * Forks a worker process on its own (no pool), sends it images 1 and 2 (tasks 0-3 and
   * 4-7, all four kinds) as soon as it is ready, then calls `afterSend`; resolves with the
   * ids of the first `answers` tasks it answered, each checked against the reference.
   */
  async function workerProcessAnswers(answers: number, env: NodeJS.ProcessEnv = process.env, afterSend: (child: ChildProcess) => void = () => undefined): Promise<number[]> {
    const child = fork(fileURLToPath(new URL('../../slave/pool/child-main.ts', import.meta.url)), [], {
      execArgv: ['--import', 'tsx'],
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env,
    });
    try {
      const done: number[] = [];
      await new Promise<void>((resolve, reject) => {
        child.on('exit', (code) => {
          reject(new Error(`worker exited (${String(code)})`));
        });
        child.on('message', (msg: ChildMessage) => {
          if (msg.type === 'ready') {
            // Both at once: the second arrives while the first one's tasks run.
            for (const imageId of [1, 2]) {
              const tasks = KINDS.map((kind, i) => ({ taskId: 4 * (imageId - 1) + i, attempt: 1, kind }));
              const request: ChildRunRequest = { type: 'run', seq: imageId, imageId, bytes, config: DEFAULT_DETECTOR_CONFIG, maxImagePixels: 50_000_000, tasks };
              child.send(request);
            }
            afterSend(child);
          } else if (msg.type === 'done') {
            expectSuccess(msg.outcome, msg.outcome.kind);
            done.push(msg.outcome.taskId);
            if (done.length === answers) resolve();
          }
        });
      });
      return done;
    } finally {
      child.kill('SIGKILL');
    }
  }

  it('a worker process runs requests that arrive while it is busy after the current one, in order', async () => {
    expect(await workerProcessAnswers(8)).to.deep.equal([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('a worker process drops the tasks it is told to that have not started, in its current request and in one waiting, even when told during a task', async () => {
    // Task 0 blocks the worker's thread 600 ms, as a detector in native code does; the
    // drops arrive in the middle of it, and must be read before task 1 starts.
    const done = await workerProcessAnswers(4, { ...process.env, CCTV_TEST_FAULT: 'slow:object:1' }, (child) => {
      setTimeout(() => {
        child.send({ type: 'drop', seq: 1, taskIds: [0, 1, 3] } satisfies ChildDropRequest);
        child.send({ type: 'drop', seq: 2, taskIds: [4, 5] } satisfies ChildDropRequest);
        child.send({ type: 'drop', seq: 99, taskIds: [6] } satisfies ChildDropRequest);
      }, 200);
    });
    // Task 0 had started (it still ran), 1, 3 and 4, 5 had not; seq 99 names no request.
    expect(done).to.deep.equal([0, 2, 6, 7]);
  });

  it('an idle worker takes over the jobs waiting behind an overdue job on another worker, long before the task timeout', async () => {
    const p = await startPool(2, `hang:object:${IMAGE_ID}`, 60_000);
    // Image 7 goes to worker 0 in one request and hangs in its first job, object; image 8
    // keeps worker 1 busy, then it has nothing left to do.
    const [hung, ...behind] = KINDS.map((kind, i) => p.run(job(kind, i)));
    const other = KINDS.map((kind, i) => p.run(job(kind, 4 + i, IMAGE_ID + 1)));
    const t0 = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((r) => {
      timer = setTimeout(() => {
        r('late');
      }, 20_000);
    });
    const outcomes = await Promise.race([Promise.all([...behind, ...other]), late]);
    clearTimeout(timer);
    expect(outcomes, 'the jobs behind the hung one waited for the 60 s task timeout').to.not.equal('late');
    if (outcomes !== 'late') {
      outcomes.forEach((o, i) => {
        expectSuccess(o, i < 3 ? (KINDS[i + 1] as TaskKind) : (KINDS[i - 3] as TaskKind));
      });
    }
    expect(p.reclaims, 'face, edge and corner of image 7 taken back from worker 0').to.equal(3);
    process.stdout.write(`      [measured] jobs behind the hung one done ${((performance.now() - t0) / 1000).toFixed(1)} s after they were queued\n`);
    await p.close();
    const last = await hung;
    expect(last?.ok).to.equal(false);
  });

  it('a slow job on a big image among small ones is not taken for stuck: the stuck timer scales with the image\'s pixels', async () => {
    const p = await startPool(2, '', 60_000, 200);
    // The sample photo (500x375) sets what a face job takes here.
    const t = performance.now();
    for (let i = 0; i < 3; i++) expectSuccess(await p.run(job('face', i)), 'face');
    const smallMs = (performance.now() - t) / 3;
    // 49 times its pixels: its face job runs far over 10 times a face job's mean, at the
    // expected pace for its size. It was copied to the idle worker as stuck.
    const big = cv.imencode('.jpg', cv.imdecode(bytes).resize(2625, 3500), [cv.IMWRITE_JPEG_QUALITY, 90]);
    const t0 = performance.now();
    const running = p.run({ taskId: 9, attempt: 1, kind: 'face', imageId: IMAGE_ID + 1, bytes: big, config: DEFAULT_DETECTOR_CONFIG });
    // A small job on the other worker: its outcome leaves that worker idle with nothing
    // queued, which is when the pool looks for stuck jobs.
    expectSuccess(await p.run(job('face', 3)), 'face');
    const outcome = await running;
    expect(outcome.ok, JSON.stringify(outcome)).to.equal(true);
    expect(p.copies, 'copies of stuck jobs').to.equal(0);
    process.stdout.write(`      [measured] the 9.2 MP face job took ${Math.round(performance.now() - t0)} ms, the 0.19 MP one ${Math.round(smallMs)} ms\n`);
  });

  it('a task sent again while its job waits on a worker behind another is taken back into the queue, with the new attempt', async () => {
    const p = await startPool(2, `hang:object:${IMAGE_ID}`, 60_000);
    const jobs = KINDS.map((kind, i) => job(kind, i));
    const runs = jobs.map((j) => p.run(j));
    const other = KINDS.map((kind, i) => p.run(job(kind, 4 + i, IMAGE_ID + 1)));
    // Dispatched (a microtask), and worker 0 is in object, which hangs: face waits behind it.
    await new Promise((r) => setTimeout(r, 100));
    const held = p.queuedJob(1);
    expect(held, 'the face job, not yet started, is found on its worker').to.equal(jobs[1]);
    if (held !== undefined) held.attempt = 2;
    expect(p.reclaims).to.equal(1);
    const face = await runs[1];
    expectSuccess(face as PoolOutcome, 'face');
    expect(face?.attempt, 'it ran once, as the new attempt').to.equal(2);
    await Promise.all(other);
    await p.close();
  });

  it('a worker that dies with a request sent ahead: the job it ran fails, the jobs sent ahead run on the restarted worker', async () => {
    const p = await startPool(1, `crash:corner:${IMAGE_ID}`);
    const outcomes = await Promise.all([IMAGE_ID, IMAGE_ID + 1].flatMap((imageId, n) => KINDS.map((kind, i) => p.run(job(kind, 4 * n + i, imageId)))));
    expect(p.requestsAhead).to.equal(1);
    outcomes.forEach((o, i) => {
      if (i === 3) {
        expect(o.ok).to.equal(false);
        if (!o.ok) expect(o.error.name).to.equal('WorkerCrashError');
      } else expectSuccess(o, KINDS[i % 4] as TaskKind);
    });
  });

  it('a job that hangs with a request sent ahead is killed at the task timeout; the jobs sent ahead still run', async () => {
    const p = await startPool(1, `hang:corner:${IMAGE_ID}`, 2_000);
    const outcomes = await Promise.all([IMAGE_ID, IMAGE_ID + 1].flatMap((imageId, n) => KINDS.map((kind, i) => p.run(job(kind, 4 * n + i, imageId)))));
    expect(p.requestsAhead).to.equal(1);
    outcomes.forEach((o, i) => {
      if (i === 3) {
        expect(o.ok).to.equal(false);
        if (!o.ok) expect(o.error.message).to.match(/task timeout of 2000 ms/);
      } else expectSuccess(o, KINDS[i % 4] as TaskKind);
    });
  });

  it('closing with a request sent ahead fails its jobs as retryable, with the running one', async () => {
    const p = await startPool(1, `hang:corner:${IMAGE_ID}`);
    const running = [IMAGE_ID, IMAGE_ID + 1].flatMap((imageId, n) => KINDS.map((kind, i) => p.run(job(kind, 4 * n + i, imageId))));
    const first3 = await Promise.all(running.slice(0, 3));
    first3.forEach((o, i) => {
      expectSuccess(o, KINDS[i] as TaskKind);
    });
    // The third outcome sent image 2 ahead in the same turn; the worker now hangs in corner.
    expect(p.requestsAhead).to.equal(1);
    await p.close();
    const rest = await Promise.all(running.slice(3));
    for (const o of rest) {
      expect(o.ok).to.equal(false);
      if (!o.ok) expect(o.error).to.include({ name: 'SlaveLeavingError', retryable: true });
    }
  });

  it("starts its worker processes with glibc malloc's thresholds fixed (slave/pool/worker-env.ts)", async () => {
    await startPool(2);
    const workers = descendants(process.pid).filter((p) => runsEntry(p, 'child-main'));
    expect(workers, 'worker processes of this pool').to.have.length(2);
    for (const { pid } of workers) {
      const env = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      expect(env, `worker ${pid}`).to.include.members([`MALLOC_MMAP_THRESHOLD_=${32 * 1024 * 1024}`, `MALLOC_TRIM_THRESHOLD_=${64 * 1024 * 1024}`]);
    }
  });

  it('starts its workers from the compiled entry, without the tsx loader (shared/child-script.ts)', async () => {
    await startPool(2);
    const workers = descendants(process.pid).filter((p) => runsEntry(p, 'child-main'));
    expect(workers, 'worker processes of this pool').to.have.length(2);
    for (const { pid, cmdline } of workers) {
      expect(cmdline, `worker ${pid}`).to.include(CHILD_SCRIPT_DIR);
      expect(cmdline, `worker ${pid}`).to.not.include('tsx');
    }
  });

  it('a worker that no longer holds an image answers a cache miss, and the pool sends the bytes again', async () => {
    // `forget`: the worker drops its decoded images when a request for face arrives
    // without bytes, as a restarted or confused worker would.
    const p = await startPool(1, `forget:face:${IMAGE_ID}`);
    expectSuccess(await p.run(job('object', 0)), 'object');
    // Same image, same bytes: the pool believes the worker holds it and sends no bytes.
    expectSuccess(await p.run(job('face', 1)), 'face');
    expect(p.cacheMisses).to.equal(1);
    expectSuccess(await p.run(job('edge', 2)), 'edge');
    expect(p.cacheMisses).to.equal(1);
  });

  it("a worker's stderr (libjpeg's warning about a corrupt JPEG) goes into the slave's log as one warning per line", async () => {
    const lines: string[] = [];
    pool = new ChildPool({ size: 1, taskTimeoutMs: 60_000, maxImagePixels: 50_000_000, logger: pino({ level: 'warn' }, { write: (l: string) => lines.push(l) }) });
    await pool.start();
    // The first 30 KB of a JPEG and an end-of-image marker: libjpeg decodes it with a warning.
    const cut = Buffer.concat([bytes.subarray(0, 30_000), Buffer.from([0xff, 0xd9])]);
    const outcome = await pool.run({ ...job('edge', 1), bytes: cut });
    expect(outcome.ok, 'libjpeg recovers the image; the warning is not a failure').to.equal(true);
    for (let i = 0; i < 100 && lines.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    const logged = lines.map((l) => JSON.parse(l) as { level: number; msg: string });
    expect(logged.map((l) => [l.level, l.msg])).to.deep.equal([[40, 'worker 0: Corrupt JPEG data: premature end of data segment']]);
  });
});
