import type { z } from 'zod/v4';
import type {
  BoundingBoxSchema,
  DisconnectSchema,
  FailSchema,
  HeartbeatSchema,
  MessageSchema,
  ReadySchema,
  ResultSchema,
  ScoredBoxSchema,
  TaskFailureSchema,
  TaskResultSchema,
  TaskSchema,
  TaskSpecSchema,
  TaskStartSchema,
  TaskValueSchema,
  PointSchema,
} from './schema.js';

/** Axis-aligned box, px, top-left origin. */
export type BoundingBox = z.infer<typeof BoundingBoxSchema>;
/** Box plus the detector's score (`object`: the HOG SVM's decision value, unitless, 4 decimals). */
export type ScoredBox = z.infer<typeof ScoredBoxSchema>;
/** Point, px. */
export type Point = z.infer<typeof PointSchema>;
/** A task's value tagged by kind. */
export type TaskValue = z.infer<typeof TaskValueSchema>;
/** READY, slave -> master: first message of a session; capacity, prefetch, kinds, limits (bytes), heartbeat interval (ms), host facts ({@link ReadySchema}). */
export type ReadyMessage = z.infer<typeof ReadySchema>;
/** One task in a TASK message: its image is part `part` of the payload, or `length` bytes at `offset` of it ({@link TaskSpecSchema}). */
export type TaskSpec = z.infer<typeof TaskSpecSchema>;
/** TASK, master -> slave: the header (tasks and detector config, {@link TaskSchema}); the encoded images travel as the ZeroMQ parts after it. */
export type TaskMessage = z.infer<typeof TaskSchema>;
/** One completed task: its value by kind, CPU time `computeMs` (ms) and image size (px) ({@link TaskResultSchema}). */
export type TaskResult = z.infer<typeof TaskResultSchema>;
/** RESULT, slave -> master: 1-4,096 completed tasks ({@link ResultSchema}). */
export type ResultMessage = z.infer<typeof ResultSchema>;
/** One failed task: its error `{name, message, retryable}` and CPU time `computeMs`, ms ({@link TaskFailureSchema}). */
export type TaskFailure = z.infer<typeof TaskFailureSchema>;
/** FAIL, slave -> master: 1-4,096 failed tasks ({@link FailSchema}). */
export type FailMessage = z.infer<typeof FailSchema>;
/** A task reported started on a slave's worker (HEARTBEAT `running`). */
export type TaskStart = z.infer<typeof TaskStartSchema>;
/** HEARTBEAT, both ways: optional sender's interval (ms) and, from a slave, tasks started since its last report ({@link HeartbeatSchema}). */
export type HeartbeatMessage = z.infer<typeof HeartbeatSchema>;
/** DISCONNECT, both ways: a reason shown to the user, and from a slave optionally `draining` ({@link DisconnectSchema}). */
export type DisconnectMessage = z.infer<typeof DisconnectSchema>;
/** Any protocol message, discriminated on `cmd`. */
export type Message = z.infer<typeof MessageSchema>;
/** A message without its version field, as callers build it; the codec adds `v`. */
export type OutgoingMessage = Message extends infer M ? (M extends { v: number } ? Omit<M, 'v'> : never) : never;
