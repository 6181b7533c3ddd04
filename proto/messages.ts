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
/** Box plus detector score. */
export type ScoredBox = z.infer<typeof ScoredBoxSchema>;
/** Point, px. */
export type Point = z.infer<typeof PointSchema>;
/** A task's value tagged by kind. */
export type TaskValue = z.infer<typeof TaskValueSchema>;
/** READY message. */
export type ReadyMessage = z.infer<typeof ReadySchema>;
/** One task in a TASK message. */
export type TaskSpec = z.infer<typeof TaskSpecSchema>;
/** TASK message header (image parts travel as separate ZeroMQ parts). */
export type TaskMessage = z.infer<typeof TaskSchema>;
/** One completed task. */
export type TaskResult = z.infer<typeof TaskResultSchema>;
/** RESULT message. */
export type ResultMessage = z.infer<typeof ResultSchema>;
/** One failed task. */
export type TaskFailure = z.infer<typeof TaskFailureSchema>;
/** FAIL message. */
export type FailMessage = z.infer<typeof FailSchema>;
/** A task reported started on a slave's worker (HEARTBEAT `running`). */
export type TaskStart = z.infer<typeof TaskStartSchema>;
/** HEARTBEAT message. */
export type HeartbeatMessage = z.infer<typeof HeartbeatSchema>;
/** DISCONNECT message. */
export type DisconnectMessage = z.infer<typeof DisconnectSchema>;
/** Any protocol message, discriminated on `cmd`. */
export type Message = z.infer<typeof MessageSchema>;
/** A message without its version field, as callers build it; the codec adds `v`. */
export type OutgoingMessage = Message extends infer M ? (M extends { v: number } ? Omit<M, 'v'> : never) : never;
