import { rmSync } from 'node:fs';
import { connect } from 'node:net';
import { wantsIpv6 } from '../shared/endpoint.js';
import { Router } from 'zeromq';
import { decode, encode, MAX_JOIN_HEADER_BYTES } from '../proto/codec.js';
import type { Message, OutgoingMessage } from '../proto/messages.js';
import { describeHandshakeFailure, ZAP_DOMAIN, ZapHandler } from '../proto/zap.js';
import type { ProtocolError } from '../shared/errors.js';
import type { AllowList } from '../shared/keys.js';
import type { Logger } from '../shared/logger.js';
import { SendQueue } from '../shared/send-queue.js';
import { printable } from '../shared/peer-text.js';

/** A peer refused during the CURVE handshake (see {@link RouterOptions.onRefused}). */
export interface Refusal {
  /** The peer's Z85 public key, when its handshake got as far as ZAP. */
  publicKey: string | undefined;
  /** The peer's IP address, when ZAP reported it. */
  address: string | undefined;
  /** Why, in words for the log (from ZAP, or from the handshake error's code). */
  reason: string;
}

/** CURVE server settings of {@link MasterRouter}. */
export interface RouterCurve {
  /** The master's Z85 secret key. */
  secretKey: string;
  /** Slave public keys admitted by the ZAP handler. */
  allowList: AllowList;
}

/** Options of {@link MasterRouter}. */
export interface RouterOptions {
  /** Endpoint to bind, e.g. `tcp://127.0.0.1:5570` (`*` as port picks a free one). */
  bind: string;
  /** Largest message part accepted, bytes (ZMQ_MAXMSGSIZE); a larger one drops the connection. */
  maxMessageBytes: number;
  /** Largest header part accepted, bytes. */
  maxHeaderBytes: number;
  /**
   * Whether this peer has joined (sent READY) in this batch: one that has not may send only
   * READY, HEARTBEAT or DISCONNECT, so its headers over {@link MAX_JOIN_HEADER_BYTES} are
   * dropped unread. Without it, every peer gets `maxHeaderBytes`.
   */
  hasJoined?: (slaveId: string) => boolean;
  /** A send blocked longer than this fails (peer not reading), ms. */
  sendTimeoutMs: number;
  logger: Logger;
  /** Every valid message, with the sender's routing id and its size on the wire (all parts, routing id included), bytes. */
  onMessage: (slaveId: string, message: Message, payload: Buffer[], sizeBytes: number) => void;
  /** Every message dropped as malformed; `slaveId` is the sender's routing id as text. */
  onRejected: (slaveId: string, error: ProtocolError) => void;
  /** A send to a slave failed (gone: EHOSTUNREACH, or stuck: EAGAIN). */
  onSendFailed: (slaveId: string, err: unknown) => void;
  /** With CURVE: the socket is a CURVE server and admits only allow-listed slaves. */
  curve?: RouterCurve | undefined;
  /** With CURVE: a peer was refused (not allow-listed, no CURVE, wrong master key). */
  onRefused?: (refusal: Refusal) => void;
}

/**
 * The master's only socket: a ROUTER that slaves' DEALERs connect to. `mandatory` is set
 * so a send to a vanished slave fails with EHOSTUNREACH instead of being dropped silently
 * (zeromq.js `test/unit/socket-router-dealer-test.ts`), with a `sendTimeout` so a send
 * never blocks forever. All sends go through one {@link SendQueue} (zeromq.js 6 allows
 * one pending send per socket).
 *
 * With `curve` set the ROUTER is a CURVE server (RFC 26) and owns a {@link ZapHandler}
 * (RFC 27) that admits only allow-listed slave keys; `zapEnforceDomain` makes libzmq refuse
 * every peer if that handler is missing. Handshake failures are read from the socket's
 * event observer and reported through `onRefused`.
 */
export class MasterRouter {
  private readonly socket: Router;
  private readonly queue: SendQueue<{ slaveId: string; parts: Buffer[] }>;
  private readonly zap: ZapHandler | undefined;
  private closed = false;
  /** The socket file this master bound (`ipc://PATH`), removed on close. */
  private boundIpcPath: string | undefined;
  /** Bytes sent, all parts counted. */
  bytesSent = 0;
  /** Bytes received, all parts counted. */
  bytesReceived = 0;
  /** Messages queued for sending (heartbeats included). */
  messagesSent = 0;
  /** Messages received, valid or not. */
  messagesReceived = 0;

  constructor(private readonly options: RouterOptions) {
    this.socket = new Router({
      mandatory: true,
      // A slave that reconnects after a network cut keeps its routing id; its new
      // connection must take over from the dead one, not be refused as a duplicate.
      handover: true,
      linger: 0,
      // Without it libzmq refuses tcp://[::1]:PORT ("No such device").
      ipv6: wantsIpv6(options.bind),
      maxMessageSize: options.maxMessageBytes,
      sendTimeout: options.sendTimeoutMs,
      // Per peer: a send blocks (and then times out) only on a peer 1,000 messages behind,
      // which credit never lets a slave be.
      sendHighWaterMark: 1000,
      // Per peer: a flooding peer is held back by TCP, not buffered here (a slave sends far fewer).
      receiveHighWaterMark: 1000,
      ...(options.curve === undefined
        ? {}
        : { curveServer: true, curveSecretKey: options.curve.secretKey, zapDomain: ZAP_DOMAIN, zapEnforceDomain: true }),
    });
    if (options.curve !== undefined) {
      this.zap = new ZapHandler({
        allowList: options.curve.allowList,
        domain: ZAP_DOMAIN,
        logger: options.logger,
        onDecision: (d) => {
          if (d.admitted) options.logger.debug(`admitted slave key ${d.publicKey ?? '?'} (${d.source ?? '?'}) from ${d.address}`);
          else options.onRefused?.({ publicKey: d.publicKey, address: d.address, reason: d.reason });
        },
      });
    }
    this.queue = new SendQueue(
      async ({ slaveId, parts }) => {
        await this.socket.send([routingIdOf(slaveId), ...parts]);
      },
      ({ slaveId }, err) => {
        this.options.onSendFailed(slaveId, err);
      },
    );
  }

  /**
   * Binds the socket and starts receiving.
   *
   * @returns the endpoint actually bound (with the real port when `*` was asked)
   * @throws Error when the address is in use or invalid
   */
  async bind(): Promise<string> {
    // The ZAP handler answers before any peer can finish a handshake.
    if (this.zap !== undefined) await this.zap.start();
    // Also without CURVE: a slave with keys is refused then, and was not logged at all.
    void this.watchHandshakes();
    try {
      await refuseIpcInUse(this.options.bind);
      await this.socket.bind(this.options.bind);
    } catch (err) {
      this.zap?.close();
      throw err;
    }
    this.boundIpcPath = ipcPath(this.options.bind);
    void this.receiveLoop();
    return this.socket.lastEndpoint ?? this.options.bind;
  }

  /** Queues a message to one slave; false when the send queue is full. */
  send(slaveId: string, message: OutgoingMessage, payload: readonly Buffer[] = []): boolean {
    const parts = encode(message, payload);
    for (const p of parts) this.bytesSent += p.length;
    this.messagesSent++;
    return this.queue.push({ slaveId, parts });
  }

  /** Messages waiting to be sent. */
  get queuedSends(): number {
    return this.queue.length;
  }

  /** Waits (at most `timeoutMs`) for queued sends, then closes the socket. */
  async close(timeoutMs = 1000): Promise<void> {
    await Promise.race([this.queue.drain(), new Promise((r) => setTimeout(r, timeoutMs))]);
    this.closed = true;
    this.queue.close();
    this.socket.close();
    this.zap?.close();
    // libzmq leaves the socket file behind; the next master's probe would find it dead anyway.
    if (this.boundIpcPath !== undefined) rmSync(this.boundIpcPath, { force: true });
  }

  /**
   * Reports handshakes refused before ZAP (ZAP refusals are reported by the handler); on a
   * master without CURVE, only peers that use CURVE.
   */
  private async watchHandshakes(): Promise<void> {
    try {
      for await (const event of this.socket.events) {
        // Without CURVE only a slave with keys is a refusal worth a word: other protocol
        // errors are garbage on the port, counted where messages are dropped.
        if (this.zap === undefined && !(event.type === 'handshake:error:protocol' && event.error.code === 'ERR_ZMTP_MECHANISM_MISMATCH')) continue;
        if (event.type === 'handshake:error:protocol') {
          this.options.onRefused?.({ publicKey: undefined, address: undefined, reason: describeHandshakeFailure(event.error.code, 'server', this.zap !== undefined) });
        } else if (event.type === 'handshake:error:other') {
          // A peer without CURVE may see the mismatch first and hang up before our side
          // reads its greeting: then all we get is this (e.g. "Broken pipe").
          this.options.onRefused?.({
            publicKey: undefined,
            address: undefined,
            reason: `the peer hung up during the CURVE handshake (${event.error.message}): a slave without --curve-secret-key, or not a slave at all`,
          });
        }
      }
    } catch (err) {
      if (!this.closed) this.options.logger.warn({ err: (err as Error).message }, 'socket event monitor stopped');
    }
  }

  private async receiveLoop(): Promise<void> {
    try {
      for await (const [id, ...parts] of this.socket) {
        if (id === undefined) continue;
        this.messagesReceived++;
        let size = id.length;
        for (const p of parts) size += p.length;
        this.bytesReceived += size;
        const slaveId = peerIdOf(id);
        // Unpacking an 8 MiB header of a million nils takes 40-100 ms of this thread: a peer
        // that never joined sent hundreds, and the heartbeats and /metrics stalled (QA).
        const joined = this.options.hasJoined === undefined || this.options.hasJoined(slaveId);
        const decoded = decode(parts, joined ? this.options.maxHeaderBytes : Math.min(MAX_JOIN_HEADER_BYTES, this.options.maxHeaderBytes));
        if (!decoded.ok) {
          this.options.onRejected(slaveId, decoded.error);
          continue;
        }
        this.options.onMessage(slaveId, decoded.message, decoded.payload, size);
      }
    } catch (err) {
      if (!this.closed) this.options.logger.error({ err: (err as Error).message }, 'receive loop stopped');
    }
  }
}

/** The file of an `ipc://PATH` endpoint; undefined for other transports and Linux's abstract names (`ipc://@name`). */
function ipcPath(endpoint: string): string | undefined {
  if (!endpoint.startsWith('ipc://')) return undefined;
  const path = endpoint.slice('ipc://'.length);
  return path.startsWith('@') ? undefined : path;
}

/**
 * Refuses an `ipc://PATH` that a live process listens on: libzmq's bind replaces the socket
 * file, so a second master on the same path took it over without a word and the first
 * lost its slaves for good (TCP says "Address already in use"). A file nobody listens on
 * (left by a master that died) is fine.
 *
 * @throws Error "Address already in use" when a connect to PATH succeeds
 */
async function refuseIpcInUse(endpoint: string): Promise<void> {
  const path = ipcPath(endpoint);
  if (path === undefined) return;
  const listening = await new Promise<boolean>((resolve) => {
    const probe = connect({ path });
    const done = (answer: boolean): void => {
      probe.destroy();
      resolve(answer);
    };
    probe.once('connect', () => {
      done(true);
    });
    probe.once('error', () => {
      done(false);
    });
    probe.setTimeout(IPC_PROBE_TIMEOUT_MS, () => {
      done(false);
    });
  });
  if (listening) throw new Error(`Address already in use: another process (a master?) listens on ${path}`);
}

/** Longest wait for a connect to an ipc:// path, ms (a live listener accepts at once). */
const IPC_PROBE_TIMEOUT_MS = 1000;

/**
 * A peer's routing id as the master's string key: a slave's own id (`--slave-id`, UTF-8),
 * or for a connection without one, `\u0000` and the hex of the rest of ZeroMQ's generated
 * id (a zero byte and four more: zmq_setsockopt(3), ZMQ_ROUTING_ID, reserves ids starting with a
 * zero byte for ZeroMQ).
 * UTF-8 text of such an id was neither readable nor the same bytes again ({@link routingIdOf}).
 */
export function peerIdOf(id: Buffer): string {
  return id[0] === 0 ? `\u0000${id.subarray(1).toString('hex')}` : id.toString('utf8');
}

/**
 * The name of a ROUTER peer for the log, from its key ({@link peerIdOf}): its slave id
 * ({@link printable}), or for a connection that has none of its own what it is. A slave's
 * connection replaced by its reconnect gets such an id for its last messages (libzmq's
 * handover renames the old pipe); they were logged as `"\u0000k\ufffdEg"`.
 */
export function peerName(peerId: string): string {
  // Bytes that are not UTF-8 came out as U+FFFD: 100 kB of noise on the port was logged as its "slave id" (QA).
  if (peerId.includes('\ufffd')) return `a connection whose id is not text (${printable(peerId, 16)}...: not a slave, whose ids are text)`;
  if (!peerId.startsWith('\u0000')) return printable(peerId);
  return `a connection without a slave id (ZeroMQ id 0x00${peerId.slice(1, 21)}: a slave's replaced connection, or not a slave)`;
}

/** The routing id bytes of a key from {@link peerIdOf}. */
export function routingIdOf(peerId: string): string | Buffer {
  return peerId.startsWith('\u0000') ? Buffer.concat([Buffer.alloc(1), Buffer.from(peerId.slice(1), 'hex')]) : peerId;
}
