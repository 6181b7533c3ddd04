import { z } from 'zod/v4';
import { MIN_MAX_MESSAGE_BYTES } from '../shared/limits.js';
import { MAX_HEARTBEAT_INTERVAL_MS } from '../shared/liveness.js';
import { FREE_OF_CONTROL_CHARS } from '../shared/peer-text.js';
import { Command } from './commands.js';
import { DetectorConfigSchema } from './detector-config.js';
import { TASK_KINDS } from './task-kinds.js';
import { PROTOCOL_VERSION } from './version.js';

/**
 * One zod schema per message; the TypeScript types in `messages.ts` are inferred from
 * these, so the two cannot drift apart. Every bound here is a defence against hostile
 * or broken peers: strings, arrays and numbers are all limited.
 */

/** Most tasks one TASK/RESULT/FAIL message may carry. */
export const MAX_TASKS_PER_MESSAGE = 4096;
/** Most image parts one TASK may carry. */
export const MAX_PARTS_PER_MESSAGE = 1024;
/**
 * Images up to this size, bytes, travel together in one part of a TASK (with `offset` and
 * `length` in their task specs) instead of a part each: every ZeroMQ part costs both ends
 * about a microsecond (measured on loopback: a 1,001-part message took ~550 µs of CPU to
 * send and receive, one part of the same bytes ~3 µs), more than copying a few KiB.
 * Real CCTV frames (50-150 KiB) still go as one part each, without a copy.
 */
export const SMALL_IMAGE_BYTES = 4096;
/** Largest part of small images the master builds, bytes. */
export const MAX_BUNDLE_BYTES = 1024 * 1024;
/**
 * Image bytes a TASK message holds before the master starts another, bytes (a larger image
 * goes alone). With the whole credit in one message, 6 images of 6 MB made one 35 MB
 * message: over a 4 Mbit/s link the master's heartbeats waited behind it longer than a
 * slave's longest silence window (48 s), and no image was ever done (QA).
 */
export const TASK_MESSAGE_BYTES = 1024 * 1024;
/**
 * Image bytes the master keeps on their way to a slave that sends receipts (READY
 * `receipts`): sent, and not yet said received (HEARTBEAT `received`). It sends the next
 * TASK message only below this (always at least one), so its heartbeats never queue behind
 * more than this and one message; on a 1 Gbit/s LAN this is ~17 ms of transfer.
 */
export const IN_FLIGHT_BYTES = 2 * 1024 * 1024;
/**
 * Image bytes after which a slave says `received`, bytes: half of {@link IN_FLIGHT_BYTES},
 * so the master hears it while the other half still crosses (the link stays busy), and a
 * master waiting with {@link IN_FLIGHT_BYTES} unconfirmed always gets it. Each receipt is a
 * message: at an eighth, CCTV frames on loopback cost a message every 2-3 images.
 */
export const RECEIPT_BYTES = IN_FLIGHT_BYTES / 2;

const Id = z.int().min(0).max(Number.MAX_SAFE_INTEGER);
const Name = z.string().min(1).max(128);
/**
 * Text a peer chooses that the master prints in its log, progress and report (slave id,
 * host facts): no control or format characters, so a peer cannot forge log lines with a
 * newline or drive the terminal with ANSI escapes (a tester did both through READY).
 */
const printable = (max: number, min = 0) => z.string().min(min).max(max).regex(FREE_OF_CONTROL_CHARS, 'control or format characters');
const Kind = z.enum(TASK_KINDS);
const Attempt = z.int().min(1).max(1000);
/** A duration, ms: 0 to 24 h. */
const Ms = z.number().min(0).max(86_400_000);
/** A coordinate or length, px, within ±10^6. */
const Px = z.number().min(-1e6).max(1e6);

/** Axis-aligned box in px, top-left origin. */
export const BoundingBoxSchema = z.object({ x: Px, y: Px, width: Px, height: Px });
/** A box with the detector's confidence. */
export const ScoredBoxSchema = BoundingBoxSchema.extend({ score: z.number().min(-1e6).max(1e6) });
/** A point in px. */
export const PointSchema = z.object({ x: Px, y: Px });

/** Value of an `object` task: people boxes with HOG SVM scores. */
export const ObjectValueSchema = z.object({ count: Id, boxes: z.array(ScoredBoxSchema).max(100000) });
/** Value of a `face` task: face boxes. */
export const FaceValueSchema = z.object({ count: Id, boxes: z.array(BoundingBoxSchema).max(100000) });
/** Value of an `edge` task: edge pixel count and density (edge pixels / all pixels, 0..1). */
export const EdgeValueSchema = z.object({ edgePixels: Id, density: z.number().min(0).max(1) });
/** Value of a `corner` task: corner points. */
export const CornerValueSchema = z.object({ count: Id, points: z.array(PointSchema).max(100000) });
/** Value of a `noop` task. */
export const NoopValueSchema = z.object({});

/** A completed task's value, tagged by kind. */
export const TaskValueSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('object'), value: ObjectValueSchema }),
  z.object({ kind: z.literal('face'), value: FaceValueSchema }),
  z.object({ kind: z.literal('edge'), value: EdgeValueSchema }),
  z.object({ kind: z.literal('corner'), value: CornerValueSchema }),
  z.object({ kind: z.literal('noop'), value: NoopValueSchema }),
]);

/** Error as carried by FAIL (see `shared/errors.ts` `WireError`). */
export const WireErrorSchema = z.object({
  name: Name,
  message: z.string().max(4096),
  retryable: z.boolean(),
});

const Version = z.literal(PROTOCOL_VERSION);

/**
 * The sender's heartbeat interval (its `--heartbeat-interval`), ms: the receiver judges
 * the sender's silence by this when it is longer than its own (`shared/liveness.ts`).
 * Absent: the receiver's own interval.
 */
const HeartbeatIntervalMs = z.int().min(1).max(MAX_HEARTBEAT_INTERVAL_MS).optional();

/** READY: slave -> master, first message of a session and after every reconnect. */
export const ReadySchema = z.object({
  v: Version,
  cmd: z.literal(Command.Ready),
  /** Stable id of the slave process, also its ZeroMQ routing id. */
  slaveId: printable(128, 1),
  /** Execution slots (tasks run at once). */
  capacity: z.int().min(1).max(1024),
  /** Extra tasks the slave accepts queued beyond its slots. */
  prefetch: z.int().min(0).max(4096),
  /** Task kinds this slave can run. */
  kinds: z.array(Kind).min(1).max(TASK_KINDS.length),
  /**
   * Largest message part this slave accepts (its `--max-message-bytes`, ZMQ_MAXMSGSIZE),
   * bytes. ZeroMQ drops the connection of a larger one, so the master sends no image over
   * it to this slave. Absent: no limit known.
   */
  maxMessageBytes: z.int().min(MIN_MAX_MESSAGE_BYTES).max(2 ** 31 - 1).optional(),
  /**
   * Largest image this slave decodes (its `--max-image-pixels`), px. The master sends it no
   * image whose header gives more: refused, such an image crossed the wire for nothing, and
   * a refusing slave, with its credit always free, drew every new image ahead of the slaves
   * that could run it (QA). Absent: no limit known (the slave still refuses over its own).
   */
  maxImagePixels: z.int().min(1).max(2 ** 31 - 1).optional(),
  heartbeatIntervalMs: HeartbeatIntervalMs,
  /**
   * True: this slave says in its HEARTBEATs how many TASK messages it has received
   * (`received`), so the master keeps at most {@link IN_FLIGHT_BYTES} of images on their
   * way to it. Absent: an older slave; the master sends it its whole credit at once.
   */
  receipts: z.literal(true).optional(),
  /** Facts about the slave's host, for reports. */
  host: z.object({
    hostname: printable(256),
    pid: Id,
    platform: printable(64),
    arch: printable(64),
    cpus: z.int().min(0).max(4096),
    opencv: printable(64),
  }),
});

/** One task inside a TASK message; `part` indexes the image parts that follow the header. */
export const TaskSpecSchema = z.object({
  taskId: Id,
  kind: Kind,
  attempt: Attempt,
  /** Index of the image part (after the header part) this task works on. */
  part: z.int().min(0).max(MAX_PARTS_PER_MESSAGE - 1),
  /** Image id; tasks with the same id share one decode on the slave. */
  imageId: Id,
  /**
   * Where the image lies in its part, bytes, when several small images share one part
   * (see {@link SMALL_IMAGE_BYTES}); both absent: the image is the whole part.
   */
  offset: z.int().min(0).max(MAX_BUNDLE_BYTES).optional(),
  length: z.int().min(0).max(MAX_BUNDLE_BYTES).optional(),
});

/** TASK: master -> slave, one or more tasks and the encoded images they need (each once). */
export const TaskSchema = z.object({
  v: Version,
  cmd: z.literal(Command.Task),
  tasks: z.array(TaskSpecSchema).min(1).max(MAX_TASKS_PER_MESSAGE),
  config: DetectorConfigSchema,
});

/** Fields every completed task carries. */
const ResultBase = {
  taskId: Id,
  attempt: Attempt,
  /** CPU time of this task on the slave's worker, ms (decode included when it did the decode; CPU, not wall, time: see slave/pool/child-main.ts). */
  computeMs: Ms,
  /** Image size, px. */
  width: z.int().min(0).max(1_000_000),
  height: z.int().min(0).max(1_000_000),
};

/**
 * One completed task, discriminated on `kind` (a union of whole objects rather than an
 * intersection: zod's intersection merge cost ~1 us a result, measured in `npm run bench`).
 */
export const TaskResultSchema = z.discriminatedUnion('kind', [
  z.object({ ...ResultBase, kind: z.literal('object'), value: ObjectValueSchema }),
  z.object({ ...ResultBase, kind: z.literal('face'), value: FaceValueSchema }),
  z.object({ ...ResultBase, kind: z.literal('edge'), value: EdgeValueSchema }),
  z.object({ ...ResultBase, kind: z.literal('corner'), value: CornerValueSchema }),
  z.object({ ...ResultBase, kind: z.literal('noop'), value: NoopValueSchema }),
]);

/** RESULT: slave -> master, one or more completed tasks. */
export const ResultSchema = z.object({
  v: Version,
  cmd: z.literal(Command.Result),
  results: z.array(TaskResultSchema).min(1).max(MAX_TASKS_PER_MESSAGE),
});

/** One failed task. */
export const TaskFailureSchema = z.object({
  taskId: Id,
  attempt: Attempt,
  kind: Kind,
  computeMs: Ms,
  error: WireErrorSchema,
});

/** FAIL: slave -> master, one or more failed tasks. */
export const FailSchema = z.object({
  v: Version,
  cmd: z.literal(Command.Fail),
  failures: z.array(TaskFailureSchema).min(1).max(MAX_TASKS_PER_MESSAGE),
});

/** A task that has started on one of the slave's workers. */
export const TaskStartSchema = z.object({ taskId: Id, attempt: Attempt });

/**
 * HEARTBEAT: both ways, ZeroMQ Guide ch.4 (Paranoid Pirate). From a slave, `running` lists
 * the tasks that started on its workers since its last report (at most one report per
 * heartbeat interval, only of tasks still running then): the master times their leases
 * from there, not from when they were sent (PROTOCOL.md, "Leases").
 */
export const HeartbeatSchema = z.object({
  v: Version,
  cmd: z.literal(Command.Heartbeat),
  running: z.array(TaskStartSchema).max(MAX_TASKS_PER_MESSAGE).optional(),
  /** From a slave that announced `receipts`: TASK messages it has received in this session (since its READY), a running count. */
  received: z.int().min(0).max(2 ** 53 - 1).optional(),
  heartbeatIntervalMs: HeartbeatIntervalMs,
  /**
   * From the master, in the HEARTBEAT that answers a READY: true when the master heard the
   * slave all along (its earlier session was still open, or ended only because the slave
   * closed its connection), so the slave took a live master for dead and its silence
   * window was too short for its link; absent when the master had taken the slave for
   * dead too (a link down both ways) or never knew it.
   */
  heardAllAlong: z.literal(true).optional(),
});

/**
 * DISCONNECT: both ways; `reason` is shown to the user. From a slave, `draining: true`
 * means "send me nothing more; I am finishing the tasks I hold", and a later DISCONNECT
 * without it means "gone now".
 */
export const DisconnectSchema = z.object({
  v: Version,
  cmd: z.literal(Command.Disconnect),
  reason: z.string().max(1024),
  draining: z.boolean().optional(),
});

/** Any message, discriminated on `cmd`. */
export const MessageSchema = z.discriminatedUnion('cmd', [
  ReadySchema,
  TaskSchema,
  ResultSchema,
  FailSchema,
  HeartbeatSchema,
  DisconnectSchema,
]);
