/**
 * Error classes shared by master and slave, after nats `core/src/errors.ts`
 * (named subclasses with `ErrorOptions`) plus two ideas from moleculer `src/errors.js`:
 * a `retryable` flag (the master reassigns only retryable failures) and a plain wire
 * form rebuilt by name on the other side ({@link toWireError}, {@link fromWireError}).
 */

/** Plain, serializable form of an error as it crosses the wire in FAIL messages. */
export interface WireError {
  /** Class name, e.g. `DecodeError`. */
  name: string;
  /** Human-readable message. */
  message: string;
  /** Whether another attempt (possibly on another slave) may succeed. */
  retryable: boolean;
}

/** Base class: every project error says whether retrying can help. */
export class ClusterError extends Error {
  /** Whether another attempt may succeed. */
  readonly retryable: boolean;
  constructor(message: string, retryable: boolean, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ClusterError';
    this.retryable = retryable;
  }
}

/** A received message is malformed, oversized or fails validation. Never retryable. */
export class ProtocolError extends ClusterError {
  /** Short machine-readable reason used as a metrics label, e.g. `bad_header`. */
  readonly reason: string;
  constructor(reason: string, message: string, options?: ErrorOptions) {
    super(message, false, options);
    this.name = 'ProtocolError';
    this.reason = reason;
  }
}

/** A value a peer sent, for a message: JSON, at most 40 characters (`typeof` when it has no JSON form, e.g. a BigInt). */
function peerValueText(value: unknown): string {
  try {
    return (JSON.stringify(value) as string | undefined)?.slice(0, 40) ?? typeof value;
  } catch {
    return typeof value;
  }
}

/** Peer speaks another protocol version (moleculer `ProtocolVersionMismatchError`). */
export class ProtocolVersionError extends ProtocolError {
  /** Version the peer announced, or `undefined` when it sent none. */
  readonly peerVersion: unknown;
  constructor(ourVersion: number, peerVersion: unknown) {
    super(
      'version_mismatch',
      // At most 40 characters of what the peer sent: a 7 MiB `v` went whole into the log and the reply.
      `protocol version mismatch: this process speaks version ${ourVersion}, the peer sent ${peerVersion === undefined ? 'none' : peerValueText(peerVersion)}; run the same cctv-cluster release on master and slaves`,
    );
    this.name = 'ProtocolVersionError';
    this.peerVersion = peerVersion;
  }
}

/** Image bytes could not be decoded (corrupt, truncated, empty or not an image). Not retryable. */
export class DecodeError extends ClusterError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, false, options);
    this.name = 'DecodeError';
  }
}

/**
 * An image is over one of this slave's own limits (`--max-image-pixels`, `--max-image-bytes`
 * of the slave). Retryable: slaves may have other limits (a Raspberry Pi's below a PC's),
 * and the master sends a retried task to a slave that has not tried it when there is one;
 * over every slave's limit, it fails after `--max-attempts`.
 */
export class ImageTooLargeError extends ClusterError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, true, options);
    this.name = 'ImageTooLargeError';
  }
}

/**
 * An input file or video could not be read on the master. It fails its image at once (no
 * slave can help); `retryable` marks a cause that may pass (a full file table, an I/O
 * error, a video reader killed), so that a `--resume` runs the image again.
 */
export class InputError extends ClusterError {
  constructor(message: string, options?: ErrorOptions & { retryable?: boolean }) {
    super(message, options?.retryable === true, options);
    this.name = 'InputError';
  }
}

/** A detector threw while running a task. Retryable: another slave may succeed. */
export class DetectorError extends ClusterError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, true, options);
    this.name = 'DetectorError';
  }
}

/**
 * A lease ran out; the task may run elsewhere. The master records this name as a plain
 * {@link WireError} (as it does `SlaveLostError` for a slave that died); nothing throws the
 * class today.
 */
export class LeaseExpiredError extends ClusterError {
  constructor(message: string) {
    super(message, true);
    this.name = 'LeaseExpiredError';
  }
}

/** An option or flag has an invalid value; the message names it (piscina style). */
export class InvalidArgumentError extends ClusterError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, false, options);
    this.name = 'InvalidArgumentError';
  }

  /** Builds the error for one option, e.g. `format('threads', 'must be a positive integer')`. */
  static format(property: string, message: string): InvalidArgumentError {
    return new InvalidArgumentError(`${property} ${message}`);
  }
}

/** A CURVE key file or allow-list is missing, unreadable or malformed; the message names the file. */
export class KeyFileError extends InvalidArgumentError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'KeyFileError';
  }
}

/** Converts any thrown value to its wire form; unknown errors count as retryable. */
export function toWireError(err: unknown): WireError {
  if (err instanceof ClusterError) {
    return { name: err.name, message: err.message, retryable: err.retryable };
  }
  if (err instanceof Error) {
    return { name: err.name, message: err.message, retryable: true };
  }
  return { name: 'Error', message: String(err), retryable: true };
}

/** Rebuilds a {@link ClusterError} from its wire form; the name is kept as given. */
export function fromWireError(wire: WireError): ClusterError {
  const err = new ClusterError(wire.message, wire.retryable);
  err.name = wire.name;
  return err;
}

/** The message of any thrown value (the OpenCV binding sometimes throws plain strings). */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'string') return err;
  return String(err);
}

/**
 * Checks an option's value is an integer in `[min, max]`.
 *
 * @throws {@link InvalidArgumentError} `NAME must be an integer from MIN to MAX, got V`
 */
export function requireInteger(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) throw InvalidArgumentError.format(name, `must be an integer from ${min} to ${max}, got ${value}`);
}
