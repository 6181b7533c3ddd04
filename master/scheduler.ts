import { TASK_MESSAGE_BYTES } from '../proto/schema.js';
import { imageHeader, type TaskEntry, type TaskTable } from './task-table.js';

const NO_SLAVES: ReadonlySet<string> = new Set();
const NO_REFUSALS: readonly string[] = [];

/** What the scheduler needs to know of one slave. */
export interface SlaveCredit {
  slaveId: string;
  /** Tasks the slave can take now: capacity + prefetch - tasks it holds (ZeroMQ Guide ch.7 credit). */
  credit: number;
  /** Tasks the slave holds now. */
  inFlight: number;
  /** Largest image it accepts in a message (its READY `maxMessageBytes`), bytes; undefined: no limit known. */
  maxImageBytes?: number | undefined;
  /** Largest image it decodes (its READY `maxImagePixels`), px; undefined: no limit known. */
  maxImagePixels?: number | undefined;
  /** It has answered a task in its current session (`hasAnswered`): it comes first ({@link planDispatch} rule 4). */
  answered?: boolean;
  /**
   * Image bytes it may be sent before it says the last ones arrived ({@link IN_FLIGHT_BYTES}
   * less those on their way), bytes; an image is sent while this is above 0, so one larger
   * than it goes alone. Undefined: no limit (a slave that sends no receipts).
   */
  byteCredit?: number | undefined;
}

/** A slave's credit and its number of workers, for {@link planBackups}. */
export interface SlaveSlots extends SlaveCredit {
  /** Tasks it runs at once (its workers). */
  capacity: number;
}

/** Tasks to send to one slave in one TASK message; an image's tasks are next to each other (the master places each image's bytes once by that). */
export interface Assignment {
  slaveId: string;
  tasks: TaskEntry[];
}

/**
 * Plans which pending tasks go to which slave. Pure.
 *
 * Rules, in order:
 * 1. Credit-based flow control: a slave never gets more tasks than its credit, and gets all
 *    of it that pending work fills, in as many assignments (messages) as the limits need.
 * 2. The pending tasks of one image go to one slave together, so the image crosses the
 *    wire once and is decoded once; a group is split only for a slave that holds nothing
 *    (else a slave with less credit than an image's task count could starve).
 * 3. A retried task goes only to a slave that has not tried it yet, while such a slave is
 *    connected (it waits for that slave's credit); once every slave has tried it, any.
 * 4. Among eligible slaves, one that has answered a task in its session comes first, then
 *    the one with most credit (spreads work evenly). Without the first rule, peers that READY
 *    again and again and never answer (16 tasks of credit each while unproven) took the
 *    images first from a real slave with 9, over and over: a 13.5 s batch took 54 s.
 * 5. An image goes to no slave whose `maxImageBytes` it exceeds: sent, ZeroMQ would drop
 *    that slave's connection. It waits for one that takes it ({@link unplaceable}).
 * 6. Nor to a slave that refused it as over its own limits (`refusedBy`), nor to one whose
 *    announced `maxImagePixels` its header exceeds: it waits for one that takes it
 *    ({@link unplaceable} once no connected slave does). Sent, a slave refused it, its credit
 *    came back at once, and as the slave with most credit it drew every new image (QA).
 * 7. A slave gets images while its `byteCredit` (bytes it may have on their way) is above 0,
 *    and a message takes images up to {@link TASK_MESSAGE_BYTES} (one larger goes alone):
 *    the master's heartbeats queue behind no more than that over a slow link.
 *
 * @param maxTasksPerMessage - most tasks in one assignment (protocol limit)
 * @param maxImagesPerMessage - most distinct images in one assignment (protocol limit on parts)
 * @returns assignments in the order to send them; a slave may have several
 */
export function planDispatch(table: TaskTable, slaves: readonly SlaveCredit[], maxTasksPerMessage: number, maxImagesPerMessage = Infinity): Assignment[] {
  const state = slaves.filter(hasRoom).map((s) => ({ ...s }));
  if (state.length === 0) return [];
  const totalCredit = state.reduce((n, s) => n + s.credit, 0);
  // 64 tasks past the credit, so that groups no slave can take now (a retry waiting for a
  // fresh slave, an image too large) do not use up the whole look-ahead.
  const pending = table.peekPending(totalCredit + 64);
  // Every assignment in order, and each slave's open one (the message being filled). A
  // slave whose open message is full gets another: credit is the only limit on the tasks
  // in flight. With one message per slave per plan, credit beyond one message lay unused
  // and master and slave took turns (dispatch bench: one batch of 1,024 no-op tasks in
  // flight of 2,049 credit, each process idle while the other worked).
  const out: Assignment[] = [];
  /** Each slave's message being filled, with the images and image bytes in it. */
  const open = new Map<string, { a: Assignment; images: number; bytes: number }>();
  // Headers are read only when a slave has a pixel limit (every slave of this version does).
  const pixelLimited = state.some((s) => s.maxImagePixels !== undefined);
  for (const group of groupByImage(pending)) {
    // No closure here: tsx names every closure it creates (keepNames), which cost ~7% of
    // the master's CPU in the dispatch bench when this loop made one per image.
    const size = imageSize(table, group[0]?.imageId);
    const pixels = pixelLimited ? imagePixels(table, group[0]?.imageId) : undefined;
    // A retried task waits for a slave that has not tried it, as long as one is connected.
    // (First attempts, the common case, allocate nothing here.)
    const tried = group.some((t) => t.triedBy.length > 0) ? new Set(group.flatMap((t) => t.triedBy)) : NO_SLAVES;
    const freshExists = tried.size > 0 && slaves.some((s) => !tried.has(s.slaveId));
    const refused = group[0]?.refusedBy ?? NO_REFUSALS;
    let best: (typeof state)[number] | undefined;
    for (const s of state) {
      if (s.credit < group.length || group.length > maxTasksPerMessage || !hasRoom(s) || !takesImage(s, size, pixels) || refused.includes(s.slaveId)) continue;
      if (freshExists && tried.has(s.slaveId)) continue;
      if (best === undefined || comesBefore(s, best)) best = s;
    }
    let take = group;
    if (best === undefined && freshExists) continue;
    if (best === undefined) {
      // No slave has room for the whole image: split it only onto an idle slave.
      best = state.find((s) => s.inFlight === 0 && hasRoom(s) && !open.has(s.slaveId) && takesImage(s, size, pixels) && !refused.includes(s.slaveId));
      if (best === undefined) continue;
      take = group.slice(0, Math.min(best.credit, maxTasksPerMessage));
    }
    let m = open.get(best.slaveId);
    if (m === undefined || m.a.tasks.length + take.length > maxTasksPerMessage || m.images >= maxImagesPerMessage || (m.bytes > 0 && m.bytes + size > TASK_MESSAGE_BYTES)) {
      m = { a: { slaveId: best.slaveId, tasks: [] }, images: 0, bytes: 0 };
      out.push(m.a);
      open.set(best.slaveId, m);
    }
    m.a.tasks.push(...take);
    m.images++;
    m.bytes += size;
    best.credit -= take.length;
    best.inFlight += take.length;
    if (best.byteCredit !== undefined) best.byteCredit -= size;
    if (!state.some(hasRoom)) break;
  }
  return out;
}

/** Whether slave `a` gets an image before `b` ({@link planDispatch} rule 4). */
function comesBefore(a: SlaveCredit, b: SlaveCredit): boolean {
  const aAnswered = a.answered === true;
  const bAnswered = b.answered === true;
  return aAnswered !== bAnswered ? aAnswered : a.credit > b.credit;
}

/**
 * Plans backup copies of in-flight tasks, for the end of a batch: call it only when no
 * task is pending and no input is left. Pure. After Google's MapReduce (Dean & Ghemawat,
 * OSDI 2004), section 3.6, "Backup Tasks": near the end, idle machines re-run the tasks
 * still in progress elsewhere and the first copy to finish wins, so that one slow, hung
 * or overloaded slave does not hold up the batch.
 *
 * Rules:
 * 1. Only a slave with a free worker (fewer tasks than workers) gets backups, one image
 *    per free worker, within its credit; it asks again as it frees up.
 * 2. Candidates come from {@link TaskTable.backupCandidates}: newest lease first, one
 *    backup per task (one held by a slave for which `replaceable` is true may move),
 *    never on a slave the task was sent to, only with an attempt left.
 * 3. An image's candidate tasks go together (one transfer, one decode); a group larger
 *    than the slave's credit is cut to fit.
 * 4. No image goes to a slave whose `maxImageBytes` it exceeds ({@link planDispatch} rule 5).
 *
 * @param maxTasksPerMessage - most tasks in one assignment (protocol limit)
 * @param maxImagesPerMessage - most distinct images in one assignment (protocol limit on parts)
 */
export function planBackups(table: TaskTable, slaves: readonly SlaveSlots[], maxTasksPerMessage: number, maxImagesPerMessage = Infinity, replaceable?: (holder: string) => boolean): Assignment[] {
  const out: Assignment[] = [];
  const planned = new Set<number>();
  for (const s of slaves) {
    const freeWorkers = s.capacity - s.inFlight;
    const room = Math.min(s.credit, maxTasksPerMessage);
    if (freeWorkers <= 0 || room <= 0 || !hasRoom(s)) continue;
    const groups = new Map<number, TaskEntry[]>();
    for (const t of table.backupCandidates(s.slaveId, replaceable)) {
      if (planned.has(t.taskId) || !takesImage(s, imageSize(table, t.imageId), s.maxImagePixels === undefined ? undefined : imagePixels(table, t.imageId))) continue;
      const g = groups.get(t.imageId);
      if (g) g.push(t);
      else groups.set(t.imageId, [t]);
    }
    const tasks: TaskEntry[] = [];
    let images = 0;
    for (const group of groups.values()) {
      if (images >= Math.min(freeWorkers, maxImagesPerMessage)) break;
      const take = group.slice(0, room - tasks.length);
      if (take.length === 0) break;
      tasks.push(...take);
      images++;
    }
    if (tasks.length === 0) continue;
    for (const t of tasks) planned.add(t.taskId);
    out.push({ slaveId: s.slaveId, tasks });
  }
  return out;
}

/**
 * Pending tasks grouped by image, in queue order. New images queue their tasks together
 * and in image order, so the groups are the runs of equal `imageId`: no map (whose growth
 * cost the dispatch bench ~100 bytes of garbage a task). A retried task is queued at the
 * front, out of order; then a map brings an image's tasks together.
 */
export function groupByImage(pending: readonly TaskEntry[]): TaskEntry[][] {
  const groups: TaskEntry[][] = [];
  let last: TaskEntry[] | undefined;
  let lastImageId = -Infinity;
  for (const t of pending) {
    if (t.imageId === lastImageId && last !== undefined) last.push(t);
    else if (t.imageId > lastImageId) {
      last = [t];
      lastImageId = t.imageId;
      groups.push(last);
    } else {
      const byImage = new Map<number, TaskEntry[]>();
      for (const u of pending) {
        const g = byImage.get(u.imageId);
        if (g) g.push(u);
        else byImage.set(u.imageId, [u]);
      }
      return [...byImage.values()];
    }
  }
  return groups;
}

/** Whether `slave` has credit for a task and, when it sends receipts, room for more bytes on the way ({@link planDispatch} rule 7). */
function hasRoom(slave: SlaveCredit): boolean {
  return slave.credit > 0 && (slave.byteCredit === undefined || slave.byteCredit > 0);
}

/** Whether `slave` accepts an image of `size` bytes in a message (rule 5 of {@link planDispatch}) and of `pixels` px (rule 6). */
function takesImage(slave: SlaveCredit, size: number, pixels: number | undefined): boolean {
  return (slave.maxImageBytes === undefined || size <= slave.maxImageBytes) && takesPixels(slave, pixels);
}

/** Whether `slave`'s announced pixel limit admits an image of `pixels` px (rule 6); an unknown size or limit does. */
function takesPixels(slave: SlaveCredit, pixels: number | undefined): boolean {
  return slave.maxImagePixels === undefined || pixels === undefined || pixels <= slave.maxImagePixels;
}

/** Width x height of an image from its header, px (read once: {@link imageHeader}); undefined when unknown. */
function imagePixels(table: TaskTable, imageId: number | undefined): number | undefined {
  const image = imageId === undefined ? undefined : table.image(imageId);
  const header = image === undefined ? undefined : imageHeader(image);
  return header === undefined ? undefined : header.width * header.height;
}

/** The encoded size of an image, bytes (0 when its bytes are gone or there is none). */
function imageSize(table: TaskTable, imageId: number | undefined): number {
  return imageId === undefined ? 0 : (table.image(imageId)?.bytes?.length ?? 0);
}

/**
 * Pending tasks none of `slaves` can take: their image is larger than every one of them
 * accepts in a message (rule 5 of {@link planDispatch}), or every one of them refused it or
 * announced a pixel limit below it (rule 6). Pure but for reading headers once.
 */
export function unplaceable(table: TaskTable, slaves: readonly SlaveCredit[]): TaskEntry[] {
  if (slaves.length === 0) return [];
  const largest = slaves.some((s) => s.maxImageBytes === undefined) ? Infinity : Math.max(...slaves.map((s) => s.maxImageBytes ?? 0));
  return table.peekPending(table.pendingCount).filter((t) => imageSize(table, t.imageId) > largest || refusedByAll(t, slaves, table));
}

/**
 * Whether every one of `slaves` refused the task's image, or announced a pixel limit its
 * header exceeds (rule 6 of {@link planDispatch}); without `table`, refusals only.
 */
export function refusedByAll(t: TaskEntry, slaves: readonly SlaveCredit[], table?: TaskTable): boolean {
  if (slaves.length === 0) return false;
  const refused = t.refusedBy ?? NO_REFUSALS;
  const limited = table !== undefined && slaves.some((s) => s.maxImagePixels !== undefined);
  const pixels = limited ? imagePixels(table, t.imageId) : undefined;
  return slaves.every((s) => refused.includes(s.slaveId) || !takesPixels(s, pixels));
}
