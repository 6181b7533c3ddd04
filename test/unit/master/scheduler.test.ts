import { expect } from 'chai';
import { groupByImage, planBackups, planDispatch, refusedByAll, unplaceable } from '../../../master/scheduler.js';
import { TaskTable } from '../../../master/task-table.js';
import type { IngestItem } from '../../../master/ingest/item.js';
import { TASK_MESSAGE_BYTES } from '../../../proto/schema.js';
import type { TaskKind } from '../../../proto/task-kinds.js';

const KINDS: TaskKind[] = ['object', 'face', 'edge', 'corner'];
const item = (n: number): IngestItem => ({ key: `i${n}`, source: `i${n}`, load: () => Promise.resolve(Buffer.from('x')) });

function tableWith(images: number): TaskTable {
  const t = new TaskTable(3);
  for (let i = 0; i < images; i++) t.addImage(item(i), KINDS, Buffer.from('x'), 0);
  return t;
}

describe('planDispatch', () => {
  it('gives an image to no slave whose --max-message-bytes it exceeds; with none that takes it, it waits and is unplaceable', () => {
    const t = new TaskTable(3);
    const big = t.addImage(item(0), ['edge'], Buffer.alloc(3_000_000), 0);
    const small = t.addImage(item(1), ['edge'], Buffer.alloc(1000), 0);
    const limited = { slaveId: 'pi', credit: 8, inFlight: 0, maxImageBytes: 1_048_576 };
    const plan = planDispatch(t, [limited, { slaveId: 'pc', credit: 1, inFlight: 0 }], 4096);
    expect(plan.map((p) => [p.slaveId, p.tasks.map((x) => x.imageId)]).sort()).to.deep.equal([['pc', [big.imageId]], ['pi', [small.imageId]]]);
    // Only the limited slave connected (the other joins some ms later): the big image waits.
    const alone = planDispatch(t, [limited], 4096);
    expect(alone.flatMap((p) => p.tasks.map((x) => x.imageId))).to.deep.equal([small.imageId]);
    expect(unplaceable(t, [limited]).map((x) => x.imageId)).to.deep.equal([big.imageId]);
    expect(unplaceable(t, [limited, { slaveId: 'pc', credit: 0, inFlight: 0 }]), 'a slave with no known limit may take it').to.deep.equal([]);
  });

  it('puts images in a message up to TASK_MESSAGE_BYTES (a larger one alone), and gives a slave images only while its byteCredit is above 0', () => {
    const t = new TaskTable(3);
    const sizes = [600_000, 600_000, 3_000_000, 100_000, 100_000, 100_000];
    for (const [i, n] of sizes.entries()) t.addImage(item(i), ['edge'], Buffer.alloc(n), 0);
    const perMessage = (plan: ReturnType<typeof planDispatch>): number[][] => plan.map((p) => p.tasks.map((x) => x.imageId));
    // No receipts: the whole credit, cut into messages of at most 1 MiB of images.
    expect(perMessage(planDispatch(t, [{ slaveId: 'a', credit: 6, inFlight: 0 }], 4096))).to.deep.equal([[0], [1], [2], [3, 4, 5]]);
    expect(TASK_MESSAGE_BYTES).to.equal(1024 * 1024);
    // 1.2 MB of room: the first image fits, the second goes too (room was left), the rest waits.
    expect(perMessage(planDispatch(t, [{ slaveId: 'a', credit: 6, inFlight: 0, byteCredit: 1_200_000 }], 4096))).to.deep.equal([[0], [1]]);
    // Room for 1 byte: one image, however large; none with no room at all.
    expect(perMessage(planDispatch(t, [{ slaveId: 'a', credit: 6, inFlight: 0, byteCredit: 1 }], 4096))).to.deep.equal([[0]]);
    expect(planDispatch(t, [{ slaveId: 'a', credit: 6, inFlight: 0, byteCredit: 0 }], 4096)).to.deep.equal([]);
    // A slave with no room leaves the images to one that has it.
    expect(perMessage(planDispatch(t, [{ slaveId: 'full', credit: 6, inFlight: 1, byteCredit: 0 }, { slaveId: 'b', credit: 1, inFlight: 0 }], 4096))).to.deep.equal([[0]]);
  });

  it('never gives a slave more tasks than its credit', () => {
    const t = tableWith(10);
    const plan = planDispatch(t, [{ slaveId: 'a', credit: 9, inFlight: 0 }, { slaveId: 'b', credit: 4, inFlight: 3 }], 4096);
    const byId = Object.fromEntries(plan.map((p) => [p.slaveId, p.tasks.length]));
    expect(byId['a']).to.be.at.most(9);
    expect(byId['b'] ?? 0).to.be.at.most(4);
  });

  it('gives images first to a slave that has answered, then by most credit: peers that never answer get what is left', () => {
    const t = tableWith(5);
    const plan = planDispatch(t, [{ slaveId: 'peer', credit: 16, inFlight: 0 }, { slaveId: 'real', credit: 9, inFlight: 0, answered: true }], 4096);
    // 'real' takes two images (8 of its 9), the peer the other three (12 of 16).
    const byId = Object.fromEntries(plan.map((p) => [p.slaveId, p.tasks.map((x) => x.imageId)]));
    expect(byId['real']).to.deep.equal([0, 0, 0, 0, 1, 1, 1, 1]);
    expect(byId['peer']).to.deep.equal([2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4]);
    const even = planDispatch(tableWith(2), [{ slaveId: 'a', credit: 9, inFlight: 0, answered: true }, { slaveId: 'b', credit: 12, inFlight: 0, answered: true }], 4096);
    expect(even.map((p) => p.slaveId), 'among answered slaves, most credit first').to.deep.equal(['b', 'a']);
  });

  it('keeps the tasks of one image together', () => {
    const t = tableWith(4);
    const plan = planDispatch(t, [{ slaveId: 'a', credit: 10, inFlight: 0 }, { slaveId: 'b', credit: 10, inFlight: 0 }], 4096);
    for (const p of plan) {
      const counts = new Map<number, number>();
      for (const task of p.tasks) counts.set(task.imageId, (counts.get(task.imageId) ?? 0) + 1);
      for (const c of counts.values()) expect(c).to.equal(4);
    }
    expect(plan.reduce((n, p) => n + p.tasks.length, 0)).to.equal(16);
  });

  it('keeps an image\'s tasks together and adjacent when a retried task is queued ahead of its image', () => {
    const t = tableWith(2);
    const [first, second] = [t.image(0)!, t.image(1)!];
    // One task of the second image is leased and fails: it is queued again at the front,
    // ahead of the first image's tasks and apart from its own image's other three.
    t.lease([second.taskIds[0]!], 'a', 0, () => 1000);
    t.fail(second.taskIds[0]!, 1, 'a', { name: 'E', message: 'x', retryable: true });
    expect(t.peekPending(8).map((x) => x.imageId)).to.deep.equal([1, 0, 0, 0, 0, 1, 1, 1]);
    const plan = planDispatch(t, [{ slaveId: 'b', credit: 16, inFlight: 0 }], 4096);
    expect(plan[0]!.tasks.map((x) => x.taskId)).to.deep.equal([...second.taskIds, ...first.taskIds]);
  });

  it('splits an image only onto an idle slave with too little credit', () => {
    const t = tableWith(1);
    expect(planDispatch(t, [{ slaveId: 'a', credit: 2, inFlight: 3 }], 4096)).to.deep.equal([]);
    const plan = planDispatch(t, [{ slaveId: 'a', credit: 2, inFlight: 0 }], 4096);
    expect(plan[0]!.tasks).to.have.length(2);
  });

  it('gives nothing when no slave has credit', () => {
    expect(planDispatch(tableWith(3), [{ slaveId: 'a', credit: 0, inFlight: 8 }], 4096)).to.deep.equal([]);
  });

  it('sends a retried task to a slave that has not tried it', () => {
    const t = new TaskTable(3);
    const img = t.addImage(item(0), ['edge'], Buffer.from('x'), 0);
    t.lease(img.taskIds, 'a', 0, () => 1000);
    t.fail(img.taskIds[0]!, 1, 'a', { name: 'E', message: 'x', retryable: true });
    const plan = planDispatch(t, [{ slaveId: 'a', credit: 50, inFlight: 0 }, { slaveId: 'b', credit: 5, inFlight: 0 }], 4096);
    expect(plan).to.have.length(1);
    expect(plan[0]!.slaveId).to.equal('b');
  });

  it('spreads images over slaves by credit', () => {
    const t = tableWith(4);
    const plan = planDispatch(t, [{ slaveId: 'a', credit: 8, inFlight: 0 }, { slaveId: 'b', credit: 8, inFlight: 0 }], 4096);
    expect(plan.map((p) => p.tasks.length).sort()).to.deep.equal([8, 8]);
  });
});

describe('groupByImage', () => {
  it('groups tasks by image in queue order, whether or not an image\'s tasks are adjacent', () => {
    const t = tableWith(3);
    const ids = (groups: { taskId: number }[][]): number[][] => groups.map((g) => g.map((x) => x.taskId));
    const all = t.peekPending(12);
    expect(ids(groupByImage(all))).to.deep.equal([0, 1, 2].map((i) => t.image(i)!.taskIds));
    // Out of order: image 2's first task, then images 0 and 1, then the rest of image 2.
    const [a, ...rest] = all.slice(8);
    expect(ids(groupByImage([a!, ...all.slice(0, 8), ...rest]))).to.deep.equal([2, 0, 1].map((i) => t.image(i)!.taskIds));
    expect(groupByImage([])).to.deep.equal([]);
  });
});

describe('planDispatch retries', () => {
  it('holds a retried task back from the slave that failed it while another slave is connected', () => {
    const t = new TaskTable(3);
    const img = t.addImage(item(0), ['edge'], Buffer.from('x'), 0);
    t.lease(img.taskIds, 'a', 0, () => 1000);
    t.fail(img.taskIds[0]!, 1, 'a', { name: 'E', message: 'x', retryable: true });
    expect(planDispatch(t, [{ slaveId: 'a', credit: 50, inFlight: 0 }, { slaveId: 'b', credit: 0, inFlight: 5 }], 4096)).to.deep.equal([]);
    const alone = planDispatch(t, [{ slaveId: 'a', credit: 50, inFlight: 0 }], 4096);
    expect(alone[0]?.slaveId).to.equal('a');
  });
});

describe('planDispatch refusals (a slave\'s own --max-image-pixels)', () => {
  it('never sends an image back to a slave that refused it, even when every slave has tried it; refused by all connected, it is unplaceable', () => {
    const t = new TaskTable(3);
    const img = t.addImage(item(0), ['edge'], Buffer.from('x'), 0);
    const id = img.taskIds[0]!;
    t.lease([id], 'pi', 0, () => 1000);
    t.markRefused(id, 'pi');
    const refusal = { name: 'ImageTooLargeError', message: 'over 100000 px', retryable: true };
    expect(t.fail(id, 1, 'pi', refusal, false)).to.equal('retry');
    const pi = { slaveId: 'pi', credit: 50, inFlight: 0 };
    expect(planDispatch(t, [pi], 4096), 'alone, the refusing slave gets it no more').to.deep.equal([]);
    expect(unplaceable(t, [pi]).map((x) => x.taskId)).to.deep.equal([id]);
    const pc = { slaveId: 'pc', credit: 5, inFlight: 0 };
    expect(unplaceable(t, [pi, pc])).to.deep.equal([]);
    const plan = planDispatch(t, [pi, pc], 4096);
    expect(plan.map((p) => [p.slaveId, p.tasks.map((x) => x.taskId)])).to.deep.equal([['pc', [id]]]);
    expect(plan[0]?.tasks[0]?.attemptsMade, 'the refusal used no attempt').to.equal(0);
    // Restarted (a new session, perhaps without its limit): offered the image again.
    t.clearRefusalsBy('pi');
    expect(planDispatch(t, [pi], 4096).map((p) => p.slaveId)).to.deep.equal(['pi']);
  });
  it('offers no image to a slave whose announced pixel limit its header exceeds: it waits for one that takes it, and no connected slave taking it makes it unplaceable', () => {
    /** A PNG's signature and IHDR: all the header reader needs for its size. */
    const png = (width: number, height: number): Buffer => {
      const b = Buffer.alloc(33);
      b.writeUInt32BE(0x89504e47, 0);
      b.writeUInt32BE(0x0d0a1a0a, 4);
      b.writeUInt32BE(13, 8);
      b.write('IHDR', 12, 'latin1');
      b.writeUInt32BE(width, 16);
      b.writeUInt32BE(height, 20);
      return b;
    };
    const t = new TaskTable(3);
    const big = t.addImage(item(0), ['edge', 'corner'], png(400, 300), 0);
    const pi = { slaveId: 'pi', credit: 50, inFlight: 0, maxImagePixels: 100_000 };
    // A refusing slave's credit came back at once, so as the one with most credit it drew
    // every new image ahead of the slaves that could run it (QA).
    expect(planDispatch(t, [pi], 4096), '120,000 px over its 100,000').to.deep.equal([]);
    expect(unplaceable(t, [pi]).map((x) => x.taskId)).to.deep.equal(big.taskIds);
    expect(refusedByAll(t.peekPending(1)[0]!, [pi], t)).to.equal(true);
    expect(refusedByAll(t.peekPending(1)[0]!, [pi]), 'without the table: refusals only').to.equal(false);
    // A slave with less credit than the image's tasks still gets it, split, while idle.
    const pc = { slaveId: 'pc', credit: 1, inFlight: 0, maxImagePixels: 50_000_000 };
    expect(unplaceable(t, [pi, pc])).to.deep.equal([]);
    expect(planDispatch(t, [pi, pc], 4096).map((p) => [p.slaveId, p.tasks.length])).to.deep.equal([['pc', 1]]);
    // Exactly at the limit is taken; a header that cannot be read is left to the slave.
    expect(planDispatch(t, [{ ...pi, maxImagePixels: 120_000 }], 4096).map((p) => p.slaveId)).to.deep.equal(['pi']);
    const unknown = new TaskTable(3);
    unknown.addImage(item(1), ['edge'], Buffer.from('x'), 0);
    expect(planDispatch(unknown, [{ ...pi, maxImagePixels: 1 }], 4096).map((p) => p.slaveId)).to.deep.equal(['pi']);
  });
});

describe('planDispatch message limits', () => {
  it('puts no more distinct images in one assignment than a message may carry', () => {
    const t = new TaskTable(3);
    for (let i = 0; i < 10; i++) t.addImage(item(i), ['noop'], Buffer.from('x'), 0);
    const plan = planDispatch(t, [{ slaveId: 'a', credit: 100, inFlight: 0 }], 4096, 4);
    expect(plan.map((p) => p.tasks.length)).to.deep.equal([4, 4, 2]);
    expect(plan.flatMap((p) => p.tasks.map((x) => x.imageId))).to.deep.equal([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('fills a slave\'s whole credit, in further messages when one cannot carry it', () => {
    // One message per slave per plan left credit beyond a message unused: only one batch
    // in flight, and master and slave took turns instead of overlapping.
    const t = new TaskTable(3);
    for (let i = 0; i < 3000; i++) t.addImage(item(i), ['noop'], Buffer.from('x'), 0);
    const plan = planDispatch(t, [{ slaveId: 'a', credit: 2049, inFlight: 0 }, { slaveId: 'b', credit: 5, inFlight: 0 }], 4096, 1024);
    const sizes = (slaveId: string): number[] => plan.filter((p) => p.slaveId === slaveId).map((p) => p.tasks.length);
    expect(sizes('a')).to.deep.equal([1024, 1024, 1]);
    expect(sizes('b')).to.deep.equal([5]);
    // Tasks per message are limited too: 5 kinds an image, at most 12 tasks a message.
    const five = new TaskTable(3);
    for (let i = 0; i < 5; i++) five.addImage(item(i), ['object', 'face', 'edge', 'corner', 'noop'], Buffer.from('x'), 0);
    expect(planDispatch(five, [{ slaveId: 'a', credit: 100, inFlight: 0 }], 12).map((p) => p.tasks.length)).to.deep.equal([10, 10, 5]);
  });
});

describe('planBackups (end of batch, MapReduce §3.6)', () => {
  /** Three images leased to 'a' at times 0, 1 and 2 (image 2 is the newest). */
  function tail(): TaskTable {
    const t = tableWith(3);
    for (let i = 0; i < 3; i++) t.lease(t.peekPending(4).map((x) => x.taskId), 'a', i, () => 1000);
    return t;
  }

  it('gives a slave with a free worker one whole image per free worker, newest lease first', () => {
    const t = tail();
    const plan = planBackups(t, [{ slaveId: 'a', credit: 0, inFlight: 12, capacity: 1 }, { slaveId: 'b', credit: 9, inFlight: 0, capacity: 1 }], 4096);
    expect(plan).to.have.length(1);
    expect(plan[0]!.slaveId).to.equal('b');
    expect(plan[0]!.tasks.map((x) => x.imageId)).to.deep.equal([2, 2, 2, 2]);
    const two = planBackups(t, [{ slaveId: 'b', credit: 18, inFlight: 0, capacity: 2 }], 4096);
    expect(two[0]!.tasks.map((x) => x.imageId)).to.deep.equal([2, 2, 2, 2, 1, 1, 1, 1]);
  });

  it('sends no backup copy of an image larger than the slave accepts in a message', () => {
    // tableWith's images are 1 byte each.
    expect(planBackups(tail(), [{ slaveId: 'b', credit: 9, inFlight: 0, capacity: 1, maxImageBytes: 0 }], 4096)).to.deep.equal([]);
    expect(planBackups(tail(), [{ slaveId: 'b', credit: 9, inFlight: 0, capacity: 1, maxImageBytes: 1 }], 4096)).to.have.length(1);
  });

  it('gives nothing to a slave whose workers are all busy, or to the holder itself', () => {
    const t = tail();
    expect(planBackups(t, [{ slaveId: 'b', credit: 8, inFlight: 1, capacity: 1 }], 4096)).to.deep.equal([]);
    expect(planBackups(t, [{ slaveId: 'a', credit: 9, inFlight: 0, capacity: 1 }], 4096)).to.deep.equal([]);
  });

  it('never plans two backups of one task, and cuts an image to the credit left', () => {
    const t = tail();
    const plan = planBackups(t, [{ slaveId: 'b', credit: 9, inFlight: 0, capacity: 1 }, { slaveId: 'c', credit: 2, inFlight: 0, capacity: 1 }], 4096);
    expect(plan.map((p) => [p.slaveId, p.tasks.map((x) => x.imageId)])).to.deep.equal([
      ['b', [2, 2, 2, 2]],
      ['c', [1, 1]],
    ]);
  });
});
