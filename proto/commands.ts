/**
 * The closed list of protocol commands (see PROTOCOL.md), as an `as const` object and a
 * derived type, after nats `core/src/parser.ts` `Kind` and the ZeroMQ Guide's
 * Paranoid Pirate / Majordomo (6/PPP, 7/MDP) command sets.
 */
export const Command = {
  /** slave -> master: I am here, with this capacity and these task kinds. */
  Ready: 'READY',
  /** master -> slave: run these tasks on these image parts. */
  Task: 'TASK',
  /** slave -> master: tasks that completed, with their values. */
  Result: 'RESULT',
  /** slave -> master: tasks that failed, with their errors. */
  Fail: 'FAIL',
  /** both ways: I am alive (ZeroMQ Guide ch.4). */
  Heartbeat: 'HEARTBEAT',
  /** both ways: I am leaving / you are not welcome; the reason says which. */
  Disconnect: 'DISCONNECT',
} as const;

/** One of the protocol's command names. */
export type Command = (typeof Command)[keyof typeof Command];

/**
 * How a DISCONNECT from the master that a slave must not answer by reconnecting begins: its
 * `--slave-id` is taken by another live slave (two slaves with one id take each other's
 * ZeroMQ connection in turn, ROUTER handover, and neither gets work done). The slave exits.
 */
export const SLAVE_ID_IN_USE = 'slave id in use';

/**
 * How a DISCONNECT from the master begins when it has no session with the slave that wrote
 * (a HEARTBEAT, RESULT or FAIL before READY): the master restarted and the slave's socket
 * reconnected to it by itself, or the master took the slave for dead. The slave drops what
 * it holds of its old session and sends READY at once, on the same socket.
 */
export const NO_SESSION = 'no session';
