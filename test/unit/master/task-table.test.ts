import { expect } from 'chai';
import { attemptsCounted, outcomeOf, TaskTable } from '../../../master/task-table.js';
import type { IngestItem } from '../../../master/ingest/item.js';
import type { TaskResult } from '../../../proto/messages.js';

const item = (n: number): IngestItem => ({ key: `img${n}.jpg`, source: `img${n}.jpg`, load: () => Promise.resolve(Buffer.from('x')) });
const edgeResult = (taskId: number, attempt = 1): TaskResult => ({ taskId, attempt, computeMs: 1, width: 10, height: 10, kind: 'edge', value: { edgePixels: 5, density: 0.05 } });
const lease = (_: unknown): number => 1000;
const retryable = { name: 'DetectorError', message: 'boom', retryable: true };

describe('TaskTable', () => {
  it('creates one pending task per kind and completes the image when all have results', () => {
    const t = new TaskTable(3);
    const img = t.addImage(item(1), ['edge', 'corner'], Buffer.from('x'), 0);
    expect(t.pendingCount).to.equal(2);
    const [edge, corner] = img.taskIds;
    t.lease([edge!, corner!], 's1', 0, lease);
    expect(t.complete(edgeResult(edge!), 's1')).to.equal('accepted');
    expect(t.takeCompleted()).to.have.length(0);
    const cr: TaskResult = { taskId: corner!, attempt: 1, computeMs: 1, width: 10, height: 10, kind: 'corner', value: { count: 0, points: [] } };
    expect(t.complete(cr, 's1')).to.equal('accepted');
    const done = t.takeCompleted();
    expect(done).to.have.length(1);
    expect(done[0]!.outcomeCount).to.equal(2);
    expect(t.imageCount).to.equal(0);
  });

  it('lets only the slaves a task was sent to answer it, until its image leaves the table', () => {
    const t = new TaskTable(3);
    const img = t.addImage(item(1), ['edge'], Buffer.from('x'), 0);
    const edge = img.taskIds[0]!;
    expect(t.mayAnswer(edge, 'a')).to.equal(false);
    t.lease([edge], 'a', 0, lease);
    expect(t.fail(edge, 1, 'a', retryable)).to.equal('retry'); // a's lease taken away
    t.lease([edge], 'b', 1, lease);
    expect(t.task(edge)!.triedBy).to.deep.equal(['a', 'b']);
    expect(t.mayAnswer(edge, 'a')).to.equal(true); // a late answer from a still counts
    expect(t.mayAnswer(edge, 'b')).to.equal(true);
    expect(t.mayAnswer(edge, 'fuzzer')).to.equal(false);
    expect(t.complete(edgeResult(edge, 1), 'a')).to.equal('accepted');
    t.takeCompleted();
    // Gone from the table: the table itself calls any later answer a duplicate.
    expect(t.mayAnswer(edge, 'fuzzer')).to.equal(true);
    expect(t.complete(edgeResult(edge, 1), 'fuzzer')).to.equal('duplicate');
  });

  it('a lease given back because its slave was lost does not use up an attempt; only many give-backs fail the task', () => {
    const t = new TaskTable(3, false, 5);
    const img = t.addImage(item(1), ['edge'], Buffer.from('x'), 0);
    const edge = img.taskIds[0]!;
    const lost = { name: 'SlaveLostError', message: 'slave s lost', retryable: true };
    for (let i = 0; i < 4; i++) {
      t.lease([edge], `s${i}`, i, lease);
      expect(t.fail(edge, 1, `s${i}`, lost, false), `loss ${i + 1}`).to.equal('retry');
      expect(t.task(edge)!.attemptsMade).to.equal(0);
    }
    // An answer after four lost slaves still counts as the first attempt.
    t.lease([edge], 's4', 9, lease);
    expect(t.fail(edge, 1, 's4', retryable)).to.equal('retry');
    t.lease([edge], 's5', 10, lease);
    expect(t.fail(edge, 2, 's5', lost, false), 'the fifth give-back').to.equal('failed');
    const outcome = outcomeOf(t.image(img.imageId)!, 'edge');
    expect(outcome?.ok === false && outcome.error.message).to.equal('slave s lost (the task was given back 5 times without an answer)');
    expect(outcome?.ok === false && outcome.error.retryable, 'slaves lost with it that often: the image is to blame').to.equal(false);
  });

  it('a task whose leases ran out before it started, again and again, fails for a cause that may pass', () => {
    const t = new TaskTable(3, false, 3);
    const img = t.addImage(item(1), ['edge'], Buffer.from('x'), 0);
    const edge = img.taskIds[0]!;
    const expired = { name: 'LeaseExpiredError', message: 'lease on slave s ran out after 4000 ms', retryable: true };
    for (let i = 0; i < 3; i++) {
      t.lease([edge], 's', i, lease);
      expect(t.fail(edge, 1, 's', expired, false)).to.equal(i < 2 ? 'retry' : 'failed');
    }
    const outcome = outcomeOf(t.image(img.imageId)!, 'edge');
    expect(outcome?.ok === false && outcome.error.retryable, 'a resume runs it again').to.equal(true);
  });

  it('does not count give-backs by slaves that never answered anything (peers that READY and leave)', () => {
    const t = new TaskTable(3, false, 5);
    const edge = t.addImage(item(1), ['edge'], Buffer.from('x'), 0).taskIds[0]!;
    const left = { name: 'SlaveLostError', message: 'slave left', retryable: true };
    for (let i = 0; i < 20; i++) {
      t.lease([edge], `peer${i}`, i, lease);
      expect(t.fail(edge, 1, `peer${i}`, left, false, false), `give-back ${i + 1}`).to.equal('retry');
    }
    expect(t.task(edge)!.releases).to.equal(0);
    expect(t.task(edge)!.attemptsMade).to.equal(0);
  });

  it('counts the encoded bytes of the images it holds until each leaves the table', () => {
    const t = new TaskTable(3);
    const a = t.addImage(item(1), ['edge'], Buffer.alloc(1000), 0);
    t.addImage(item(2), ['edge'], Buffer.alloc(500), 0);
    t.addImage(item(3), ['edge'], undefined, 0, retryable); // unreadable: no bytes
    expect(t.bytesHeld).to.equal(1500);
    t.lease([a.taskIds[0]!], 's1', 0, lease);
    t.complete(edgeResult(a.taskIds[0]!), 's1');
    expect(t.bytesHeld, 'still held until taken out').to.equal(1500);
    t.takeCompleted();
    expect(t.bytesHeld).to.equal(500);
  });

  it('drops a duplicate or late result and keeps the first', () => {
    const t = new TaskTable(3);
    const img = t.addImage(item(1), ['edge', 'corner'], Buffer.from('x'), 0);
    const edge = img.taskIds[0]!;
    t.lease([edge], 's1', 0, lease);
    expect(t.complete(edgeResult(edge), 's1')).to.equal('accepted');
    expect(t.complete(edgeResult(edge), 's2')).to.equal('duplicate');
    const outcome = outcomeOf(t.image(img.imageId)!, 'edge');
    expect(outcome?.ok && outcome.slaveId).to.equal('s1');
  });

  it('calls a result for an id it never issued unknown, and one for a finished image duplicate', () => {
    const t = new TaskTable(3);
    const img = t.addImage(item(1), ['edge'], Buffer.from('x'), 0);
    const edge = img.taskIds[0]!;
    expect(t.complete(edgeResult(999), 's1')).to.equal('unknown');
    t.lease([edge], 's1', 0, lease);
    t.complete(edgeResult(edge), 's1');
    t.takeCompleted();
    expect(t.complete(edgeResult(edge), 's1')).to.equal('duplicate');
  });

  it('accepts a late result from a slave whose lease was taken away', () => {
    const t = new TaskTable(3);
    const img = t.addImage(item(1), ['edge'], Buffer.from('x'), 0);
    const edge = img.taskIds[0]!;
    t.lease([edge], 's1', 0, lease);
    expect(t.fail(edge, 1, 's1', retryable)).to.equal('retry');
    t.lease([edge], 's2', 10, lease);
    expect(t.complete(edgeResult(edge, 1), 's1')).to.equal('accepted');
    expect(t.complete(edgeResult(edge, 2), 's2')).to.equal('duplicate');
  });

  it('retries a retryable failure until maxAttempts, then fails the task with its last error', () => {
    const t = new TaskTable(2);
    const img = t.addImage(item(1), ['edge'], Buffer.from('x'), 0);
    const edge = img.taskIds[0]!;
    t.lease([edge], 's1', 0, lease);
    expect(t.fail(edge, 1, 's1', retryable)).to.equal('retry');
    expect(t.pendingCount).to.equal(1);
    t.lease([edge], 's2', 0, lease);
    expect(t.task(edge)!.attemptsMade).to.equal(2);
    expect(t.fail(edge, 2, 's2', retryable)).to.equal('failed');
    const [done] = t.takeCompleted();
    const o = outcomeOf(done!, 'edge');
    expect(o?.ok).to.equal(false);
    expect(o?.ok === false && o.error.message).to.equal('boom');
    expect(o?.attempts).to.equal(2);
  });

  it('gives the kinds named at addImage one attempt and the others maxAttempts', () => {
    const t = new TaskTable(3);
    const img = t.addImage(item(1), ['edge', 'corner'], Buffer.from('x'), 0, undefined, ['edge']);
    const [edge, corner] = img.taskIds as [number, number];
    t.lease([edge, corner], 's1', 0, lease);
    const timeout = { name: 'TaskTimeoutError', message: 'task timeout of 1500 ms', retryable: true };
    expect(t.fail(edge, 1, 's1', timeout)).to.equal('failed');
    expect(t.fail(corner, 1, 's1', timeout)).to.equal('retry');
    const o = outcomeOf(t.image(img.imageId)!, 'edge');
    expect(o?.ok === false && o.attempts).to.equal(1);
    // A backup copy on an idle slave may still rescue a one-attempt task whose attempt hangs
    // on another; when the attempt fails, the copy is the task's last.
    const other = t.addImage(item(2), ['edge'], Buffer.from('x'), 0, undefined, ['edge']);
    const capped = other.taskIds[0]!;
    t.lease([capped], 's1', 1, lease);
    expect(t.backupCandidates('s2').map((c) => c.taskId)).to.deep.equal([capped]);
    t.leaseBackup([capped], 's2', 2, lease);
    expect(t.fail(capped, 1, 's1', { name: 'LeaseExpiredError', message: 'lease ran out', retryable: true })).to.equal('retry');
    expect(t.fail(capped, 2, 's2', timeout)).to.equal('failed');
  });

  it('fails a non-retryable error at once', () => {
    const t = new TaskTable(3);
    const img = t.addImage(item(1), ['edge'], Buffer.from('x'), 0);
    t.lease(img.taskIds, 's1', 0, lease);
    expect(t.fail(img.taskIds[0]!, 1, 's1', { name: 'DecodeError', message: 'corrupt', retryable: false })).to.equal('failed');
  });

  it('ignores a FAIL for an attempt that is no longer current', () => {
    const t = new TaskTable(3);
    const img = t.addImage(item(1), ['edge'], Buffer.from('x'), 0);
    const edge = img.taskIds[0]!;
    t.lease([edge], 's1', 0, lease);
    t.fail(edge, 1, 's1', retryable);
    t.lease([edge], 's2', 0, lease);
    expect(t.fail(edge, 1, 's1', retryable)).to.equal('duplicate');
    expect(t.task(edge)!.state).to.equal('leased');
  });

  it('completes an unreadable image at once with the error for every kind', () => {
    const t = new TaskTable(3);
    t.addImage(item(1), ['edge', 'face'], undefined, 0, { name: 'InputError', message: 'empty', retryable: false });
    expect(t.pendingCount).to.equal(0);
    const [done] = t.takeCompleted();
    expect(done!.outcomes.every((o) => o?.ok === false)).to.equal(true);
  });

  it('lists expired leases and a slave\'s leases', () => {
    const t = new TaskTable(3);
    const img = t.addImage(item(1), ['edge', 'corner'], Buffer.from('x'), 0);
    t.lease([img.taskIds[0]!], 's1', 0, () => 100);
    t.lease([img.taskIds[1]!], 's2', 0, () => 500);
    const noProgress = (): undefined => undefined;
    expect(t.expiredLeases(99, noProgress, () => 100)).to.have.length(0);
    expect(t.expiredLeases(100, noProgress, () => 100).map((x) => x.taskId)).to.deep.equal([img.taskIds[0]]);
    expect(t.leasesOf('s2').map((x) => x.taskId)).to.deep.equal([img.taskIds[1]]);
  });

  it('renews a queued task\'s lease while its slave shows progress; a started task\'s lease runs from its start', () => {
    const t = new TaskTable(3);
    const img = t.addImage(item(1), ['edge', 'corner'], Buffer.from('x'), 0);
    const [queued, running] = [img.taskIds[0]!, img.taskIds[1]!];
    const lease = (): number => 100;
    t.lease([queued, running], 's1', 0, lease);
    let progress: number | undefined = 80;
    const lastProgress = (id: string): number | undefined => (id === 's1' ? progress : undefined);
    // Started at 90: its lease now runs out at 190, not 100.
    expect(t.started(running, 1, 's1', 90, lease)).to.equal(true);
    expect(t.started(running, 1, 's1', 150, lease), 'a repeated report does not renew').to.equal(false);
    expect(t.started(running, 2, 's1', 95, lease), 'another attempt').to.equal(false);
    expect(t.started(queued, 1, 's2', 95, lease), 'another slave').to.equal(false);
    // At 120 the queued task's lease (100) has run out, but progress at 80 renews it to 180.
    expect(t.expiredLeases(120, lastProgress, lease)).to.have.length(0);
    expect(t.task(queued)!.deadlineMs).to.equal(180);
    progress = 170;
    expect(t.expiredLeases(185, lastProgress, lease)).to.have.length(0);
    // The started task expires on its own lease whatever the progress.
    expect(t.expiredLeases(190, lastProgress, lease).map((x) => x.taskId)).to.deep.equal([running]);
    // No progress since 170: the queued one runs out at 270.
    expect(t.expiredLeases(269, lastProgress, lease).map((x) => x.taskId)).to.deep.equal([running]);
    expect(t.expiredLeases(270, lastProgress, lease).map((x) => x.taskId)).to.deep.equal([queued, running]);
  });

  it('keeps a queued task\'s lease while its slave runs a started task within that task\'s lease (busy, not hung)', () => {
    const t = new TaskTable(3);
    const img = t.addImage(item(1), ['object', 'edge'], Buffer.from('x'), 0);
    const [object, edge] = [img.taskIds[0]!, img.taskIds[1]!];
    const lease = (kind: string): number => (kind === 'object' ? 300 : 100);
    t.lease([object, edge], 's1', 0, lease);
    const noProgress = (): undefined => undefined;
    expect(t.started(object, 1, 's1', 10, lease)).to.equal(true);
    // The edge task waits behind the object task (lease until 310): no progress, but not hung.
    expect(t.expiredLeases(100, noProgress, lease)).to.have.length(0);
    expect(t.expiredLeases(309, noProgress, lease)).to.have.length(0);
    // The object task's lease runs out: the slave looks hung, and both are taken back.
    expect(t.expiredLeases(310, noProgress, lease).map((x) => x.taskId).sort()).to.deep.equal([object, edge].sort());
  });

  it('lists the tasks of an image queued on a slave, not those started, elsewhere or of other images', () => {
    const t = new TaskTable(3);
    const img = t.addImage(item(1), ['object', 'face', 'edge', 'corner'], Buffer.from('x'), 0);
    const other = t.addImage(item(2), ['edge'], Buffer.from('y'), 0);
    const [hung, queued, elsewhere, done] = img.taskIds as [number, number, number, number];
    const lease = (): number => 100;
    t.lease([hung, queued, done, other.taskIds[0]!], 's1', 0, lease);
    t.lease([elsewhere], 's2', 0, lease);
    t.started(hung, 1, 's1', 10, lease);
    expect(t.complete({ taskId: done, attempt: 1, kind: 'corner', computeMs: 1, width: 1, height: 1, value: { count: 0, points: [] } }, 's1')).to.equal('accepted');
    expect(t.queuedBehind('s1', img.imageId).map((x) => x.taskId)).to.deep.equal([queued]);
    // Given back, it is queued nowhere: not listed again.
    expect(t.fail(queued, 1, 's1', retryable, false)).to.equal('retry');
    expect(t.task(queued)!.attemptsMade, 'a give-back is no attempt').to.equal(0);
    expect(t.queuedBehind('s1', img.imageId)).to.deep.equal([]);
    expect(t.queuedBehind('s1', 999)).to.deep.equal([]);
  });

  it('a backup copy reported started keeps its start when it takes over the lease', () => {
    const t = new TaskTable(3);
    const img = t.addImage(item(1), ['edge'], Buffer.from('x'), 0);
    const id = img.taskIds[0]!;
    const lease = (): number => 100;
    t.lease([id], 's1', 0, lease);
    t.leaseBackup([id], 's2', 10, lease);
    expect(t.started(id, 2, 's2', 50, lease)).to.equal(true);
    expect(t.fail(id, 1, 's1', retryable)).to.equal('retry');
    expect(t.task(id)!.slaveId).to.equal('s2');
    expect(t.task(id)!.startedAtMs).to.equal(50);
    expect(t.task(id)!.deadlineMs).to.equal(150);
    // A new lease forgets the start.
    t.fail(id, 2, 's2', retryable);
    t.lease([id], 's3', 200, lease);
    expect(t.task(id)!.startedAtMs).to.equal(undefined);
  });

  it('puts a retried task at the head of the queue', () => {
    const t = new TaskTable(3);
    const a = t.addImage(item(1), ['edge'], Buffer.from('x'), 0);
    t.addImage(item(2), ['edge'], Buffer.from('x'), 0);
    t.lease(a.taskIds, 's1', 0, lease);
    t.fail(a.taskIds[0]!, 1, 's1', retryable);
    expect(t.peekPending(10)[0]!.taskId).to.equal(a.taskIds[0]);
  });

  it('takes leased tasks out of the queue wherever they are in it, each task queued once', () => {
    const t = new TaskTable(3);
    const images = [1, 2, 3, 4].map((n) => t.addImage(item(n), ['edge', 'corner'], Buffer.from('x'), 0));
    const ids = (): number[] => t.peekPending(20).map((x) => x.taskId);
    const [a, b, c, d] = images.map((i) => i.taskIds);
    // From the middle and the end, then from the head.
    t.lease([...b!, d![1]!], 's1', 0, lease);
    expect(ids()).to.deep.equal([...a!, ...c!, d![0]]);
    t.lease(a!, 's1', 0, lease);
    expect(ids()).to.deep.equal([...c!, d![0]]);
    expect(t.pendingCount).to.equal(3);
    // Given back and leased again: queued once each time.
    t.fail(b![1]!, 1, 's1', retryable);
    expect(ids()).to.deep.equal([b![1], ...c!, d![0]]);
    t.lease([c![1]!], 's2', 0, lease);
    expect(ids()).to.deep.equal([b![1], c![0], d![0]]);
    t.lease([b![1]!, c![0]!, d![0]!], 's2', 0, lease);
    expect(ids()).to.deep.equal([]);
    expect(t.pendingCount).to.equal(0);
  });

  it('takes a queued task out of the queue when a late answer completes it, or it fails for good', () => {
    const t = new TaskTable(3);
    const [a, b] = [1, 2].map((n) => t.addImage(item(n), ['edge', 'corner'], Buffer.from('x'), 0).taskIds);
    const ids = (): number[] => t.peekPending(20).map((x) => x.taskId);
    // a[0] is leased and given back: queued again at the front, while s1's answer is on its way.
    t.lease([a![0]!], 's1', 0, lease);
    t.fail(a![0]!, 1, 's1', retryable);
    expect(ids()).to.deep.equal([a![0], a![1], ...b!]);
    // The late answer of a task at the head, then one further back.
    expect(t.complete(edgeResult(a![0]!), 's1')).to.equal('accepted');
    expect(ids()).to.deep.equal([a![1], ...b!]);
    expect(t.pendingCount).to.equal(3);
    t.lease([b![0]!], 's1', 0, lease);
    t.fail(b![0]!, 1, 's1', retryable);
    t.lease([a![1]!], 's1', 0, lease);
    t.fail(a![1]!, 1, 's1', retryable);
    expect(ids()).to.deep.equal([a![1], b![0], b![1]]);
    expect(t.complete(edgeResult(b![0]!), 's1')).to.equal('accepted');
    expect(ids()).to.deep.equal([a![1], b![1]]);
    expect(t.pendingCount).to.equal(2);
    expect(t.failPending(b![1]!, retryable)).to.equal('failed');
    expect(ids()).to.deep.equal([a![1]]);
    expect(t.pendingCount).to.equal(1);
  });
});

describe('TaskTable backup copies (MapReduce §3.6)', () => {
  const fatal = { name: 'DecodeError', message: 'not an image', retryable: false };
  function leasedEdge(maxAttempts = 3): { t: TaskTable; id: number } {
    const t = new TaskTable(maxAttempts);
    const img = t.addImage(item(1), ['edge'], Buffer.from('x'), 0);
    t.lease(img.taskIds, 'a', 0, lease);
    return { t, id: img.taskIds[0]! };
  }

  it('offers leased tasks newest lease first, never to a slave they were sent to, once each, while attempts are left', () => {
    const t = new TaskTable(3);
    const older = t.addImage(item(1), ['edge'], Buffer.from('x'), 0);
    const newer = t.addImage(item(2), ['edge'], Buffer.from('x'), 0);
    t.lease(older.taskIds, 'a', 10, lease);
    t.lease(newer.taskIds, 'a', 20, lease);
    expect(t.backupCandidates('b').map((c) => c.taskId)).to.deep.equal([newer.taskIds[0], older.taskIds[0]]);
    expect(t.backupCandidates('a'), 'the holder').to.deep.equal([]);
    t.leaseBackup(newer.taskIds, 'b', 30, lease);
    expect(t.backupCandidates('c').map((c) => c.taskId), 'one backup per task').to.deep.equal([older.taskIds[0]]);
    expect(() => {
      t.leaseBackup(newer.taskIds, 'c', 30, lease);
    }).to.throw(/cannot be backed up/);
    const last = leasedEdge(1);
    expect(last.t.backupCandidates('b'), 'no attempt left').to.deep.equal([]);
  });

  it('moves a backup held by a slave that may lose it (one that answered nothing) to another, last among the candidates', () => {
    const t = new TaskTable(3);
    const held = t.addImage(item(1), ['edge'], Buffer.from('x'), 0);
    const free = t.addImage(item(2), ['edge'], Buffer.from('x'), 0);
    t.lease(held.taskIds, 'a', 10, lease);
    t.lease(free.taskIds, 'a', 5, lease);
    t.leaseBackup(held.taskIds, 'rogue', 20, lease);
    const silent = (holder: string): boolean => holder === 'rogue';
    expect(t.backupCandidates('c', silent).map((c) => c.taskId), 'without a backup first').to.deep.equal([free.taskIds[0], held.taskIds[0]]);
    t.leaseBackup(held.taskIds, 'c', 30, lease, silent);
    expect(t.backupCandidates('d', silent).map((c) => c.taskId), 'a backup on a slave that may keep it stays').to.deep.equal([free.taskIds[0]]);
    expect(t.task(held.taskIds[0]!)!.backup).to.include({ slaveId: 'c', attempt: 2 });
  });

  it('takes the first result, from the backup or the primary; the other is a duplicate', () => {
    const { t, id } = leasedEdge();
    t.leaseBackup([id], 'b', 5, lease);
    expect(t.task(id)!.backup?.attempt).to.equal(2);
    expect(t.complete(edgeResult(id, 2), 'b')).to.equal('accepted');
    expect(t.complete(edgeResult(id, 1), 'a')).to.equal('duplicate');
    const [image] = t.takeCompleted();
    expect(image!.outcomes[0]).to.include({ ok: true, slaveId: 'b', attempts: 2 });
  });

  it('hands the lease to the backup when the primary fails or its lease runs out, without requeueing', () => {
    const { t, id } = leasedEdge();
    t.leaseBackup([id], 'b', 5, () => 700);
    expect(t.fail(id, 1, 'a', retryable)).to.equal('retry');
    expect(t.pendingCount).to.equal(0);
    expect(t.task(id)).to.include({ state: 'leased', slaveId: 'b', attemptsMade: 2, deadlineMs: 705, backup: undefined });
    expect(t.leasesOf('b').map((x) => x.taskId)).to.deep.equal([id]);
    expect(t.fail(id, 2, 'b', retryable), 'the former backup now retries as the primary').to.equal('retry');
    expect(t.pendingCount).to.equal(1);
  });

  it('drops a backup that fails retryably, or whose slave is lost; the primary carries on', () => {
    const { t, id } = leasedEdge();
    t.leaseBackup([id], 'b', 5, lease);
    expect(t.fail(id, 2, 'b', retryable)).to.equal('backup-dropped');
    expect(t.task(id)).to.include({ state: 'leased', slaveId: 'a', attemptsMade: 1, backup: undefined });
    const other = leasedEdge();
    other.t.leaseBackup([other.id], 'b', 5, lease);
    other.t.dropBackupsOf('b');
    expect(other.t.task(other.id)!.backup).to.equal(undefined);
    expect(other.t.fail(other.id, 1, 'a', retryable), 'no backup to hand over to: requeued').to.equal('retry');
    expect(other.t.pendingCount).to.equal(1);
  });

  it('a lost primary whose backup takes over gives its attempt back: lost holders of backups never use up --max-attempts', () => {
    // A hostile peer per step takes a backup and is lost, then the holder before it; one
    // worker crash on the real slave then failed the task for good (attempts 3 of 3).
    const lost = { name: 'SlaveLostError', message: 'lost', retryable: true };
    const { t, id } = leasedEdge(3);
    let primary = 'a';
    for (let i = 0; i < 3; i++) {
      const peer = `peer${i}`;
      t.leaseBackup([id], peer, i, lease);
      expect(t.fail(id, t.task(id)!.attemptsMade, primary, lost, false), `${primary} lost`).to.equal('retry');
      expect(t.task(id)).to.include({ state: 'leased', slaveId: peer });
      expect(attemptsCounted(t.task(id)!), 'only the backup\'s run counts').to.equal(1);
      primary = peer;
    }
    expect(t.fail(id, t.task(id)!.attemptsMade, primary, lost, false, false)).to.equal('retry');
    expect(attemptsCounted(t.task(id)!)).to.equal(0);
    t.lease([id], 'real', 10, lease);
    const crash = { name: 'WorkerCrashError', message: 'worker died', retryable: true };
    expect(t.fail(id, t.task(id)!.attemptsMade, 'real', crash), 'one crash with attempts left').to.equal('retry');
    t.lease([id], 'real', 11, lease);
    expect(t.complete(edgeResult(id, t.task(id)!.attemptsMade), 'real')).to.equal('accepted');
    const [image] = t.takeCompleted();
    expect(image!.outcomes[0]).to.include({ ok: true, slaveId: 'real', attempts: 2 });
  });

  it('records a non-retryable failure of the backup as final, as it would the primary\'s', () => {
    const { t, id } = leasedEdge();
    t.leaseBackup([id], 'b', 5, lease);
    expect(t.fail(id, 2, 'b', fatal)).to.equal('failed');
    expect(t.complete(edgeResult(id, 1), 'a')).to.equal('duplicate');
    const [image] = t.takeCompleted();
    expect(image!.outcomes[0]).to.deep.include({ ok: false, slaveId: 'b', attempts: 2, error: fatal });
  });
});
