import { Packr } from 'msgpackr';
import { ProtocolError, ProtocolVersionError } from '../shared/errors.js';
import { fastValidate, fastValidationError } from './fast-validate.js';
import type { Message, OutgoingMessage } from './messages.js';
import { msgpackShapeError } from './msgpack-shape.js';
import { MessageSchema } from './schema.js';
import { PROTOCOL_VERSION } from './version.js';

/**
 * Wire format: part 0 is a msgpack header `{v, cmd, ...}`; image bytes travel as raw
 * parts after it (never inside msgpack), so the slave reads them without a copy.
 * On a ROUTER the routing-id part comes first and is stripped before {@link decode}.
 */

// Plain maps and arrays only: no msgpackr records/structures, so any msgpack peer can talk.
const packr = new Packr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' });

/** Default largest header part accepted, bytes (RESULTs with many corner points are the biggest). */
export const DEFAULT_MAX_HEADER_BYTES = 8 * 1024 * 1024;

/**
 * Largest header accepted from a peer that has not joined (sent READY), bytes: READY,
 * HEARTBEAT and DISCONNECT, all it may send, take under 1 KiB (a READY with a 255-byte id
 * and every task kind ~600 bytes).
 */
export const MAX_JOIN_HEADER_BYTES = 64 * 1024;

/**
 * Most values (array elements and map entries, nested ones included) in a header that the
 * compiled validator refused for zod to word the error: 1-2 ms at worst. A valid TASK,
 * RESULT, FAIL or HEARTBEAT passes the compiled validator whatever its size; a valid READY
 * or DISCONNECT (zod only) holds under 100.
 */
export const MAX_VALUES_FOR_ZOD = 10_000;

/** A message that passed validation, with the raw parts that followed its header. */
export interface Decoded {
  ok: true;
  message: Message;
  /** Raw payload parts after the header (image bytes for TASK), zero-copy views. */
  payload: Buffer[];
}

/** A message that failed decoding or validation. */
export interface Rejected {
  ok: false;
  error: ProtocolError;
}

/**
 * Encodes one message as ZeroMQ parts: `[header, ...payload]`. Adds the protocol version.
 *
 * @param message - the message without `v`
 * @param payload - raw parts appended after the header (image bytes)
 */
export function encode(message: OutgoingMessage, payload: readonly Buffer[] = []): Buffer[] {
  const header = packr.pack({ v: PROTOCOL_VERSION, ...message });
  return [header, ...payload];
}

/**
 * Decodes and validates one message. Never throws: a malformed, oversized, wrongly
 * versioned or invalid message comes back as a {@link ProtocolError}, checked in this
 * order: part count, header size, msgpack (its shape first: {@link msgpackShapeError}),
 * version, schema, TASK part indexes.
 *
 * @param parts - the message parts, routing id already removed
 * @param maxHeaderBytes - largest accepted header part, bytes
 */
export function decode(parts: readonly Buffer[], maxHeaderBytes = DEFAULT_MAX_HEADER_BYTES): Decoded | Rejected {
  const [header, ...payload] = parts;
  if (header === undefined || header.length === 0) {
    return reject('empty', 'message has no header part');
  }
  if (header.length > maxHeaderBytes) {
    return reject('header_too_large', `header of ${header.length} bytes exceeds the limit of ${maxHeaderBytes} bytes`);
  }
  // Checked first: msgpackr allocates what array headers declare before reading them.
  const shapeError = msgpackShapeError(header);
  if (shapeError !== undefined) return reject('bad_msgpack', `header is not valid msgpack: ${shapeError}`);
  let raw: unknown;
  try {
    raw = packr.unpack(header);
  } catch (err) {
    return reject('bad_msgpack', `header is not valid msgpack: ${(err as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return reject('bad_header', 'header is not a msgpack map');
  }
  const version = (raw as { v?: unknown }).v;
  if (version !== PROTOCOL_VERSION) {
    return { ok: false, error: new ProtocolVersionError(PROTOCOL_VERSION, version) };
  }
  // The per-task messages take the compiled path; zod decides the rest and words every error.
  let message = fastValidate(raw);
  if (message === undefined) {
    // zod checks every value and keeps an issue object for each bad one, past any array's
    // max: one 1 MB header of a million nils took 2.5 s and 1.6 GB, and an 8 MB one took a
    // master's heap (sent by a peer that never said READY). A header that large is worded
    // by the compiled validator, which stops at its first error.
    if (hasMoreValues(raw, MAX_VALUES_FOR_ZOD)) {
      return reject('invalid', `invalid ${describeCmd(raw)} message: ${fastValidationError(raw) ?? `over ${MAX_VALUES_FOR_ZOD} values`}`);
    }
    const parsed = MessageSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue?.path.join('.') ?? '';
      return reject('invalid', `invalid ${describeCmd(raw)} message: ${where ? `${where}: ` : ''}${issue?.message ?? 'invalid'}`);
    }
    message = parsed.data;
  }
  if (message.cmd === 'TASK') {
    for (const task of message.tasks) {
      const part = payload[task.part];
      if (part === undefined) {
        return reject('invalid', `invalid TASK message: task ${task.taskId} refers to part ${task.part} of ${payload.length}`);
      }
      if ((task.offset === undefined) !== (task.length === undefined)) {
        return reject('invalid', `invalid TASK message: task ${task.taskId} has only one of offset and length`);
      }
      if (task.offset !== undefined && task.length !== undefined && task.offset + task.length > part.length) {
        return reject('invalid', `invalid TASK message: task ${task.taskId} refers to bytes ${task.offset}..${task.offset + task.length} of a ${part.length}-byte part`);
      }
    }
  } else if (payload.length > 0) {
    return reject('invalid', `unexpected ${payload.length} payload part(s) after a ${message.cmd} header`);
  }
  return { ok: true, message, payload };
}

/** Whether `value` holds more than `limit` values (array elements and map entries, at any depth); stops counting past `limit`. */
function hasMoreValues(value: object, limit: number): boolean {
  let count = 0;
  const stack: object[] = [value];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const children: unknown[] = Array.isArray(next) ? next : Object.values(next);
    count += children.length;
    if (count > limit) return true;
    // A msgpack bin value (a Buffer) is one value, not one per byte.
    for (const child of children) if (typeof child === 'object' && child !== null && !ArrayBuffer.isView(child)) stack.push(child);
  }
  return false;
}

function describeCmd(raw: object): string {
  const cmd = (raw as { cmd?: unknown }).cmd;
  return typeof cmd === 'string' ? cmd.slice(0, 32) : 'unknown';
}

function reject(reason: string, message: string): Rejected {
  return { ok: false, error: new ProtocolError(reason, message) };
}
