import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { Dealer } from 'zeromq';
import { Command } from '../proto/commands.js';
import { decode, encode } from '../proto/codec.js';
import type { Message, OutgoingMessage } from '../proto/messages.js';
import { describeHandshakeFailure } from '../proto/zap.js';
import type { Clock } from '../shared/clock.js';
import { Liveness } from '../shared/liveness.js';
import type { Logger } from '../shared/logger.js';
import { SendQueue } from '../shared/send-queue.js';
import type { ProtocolError } from '../shared/errors.js';

/** First reconnect delay, ms. ZeroMQ Guide ch.4 (Paranoid Pirate): `INTERVAL_INIT 1000`. */
export const DEFAULT_RECONNECT_INITIAL_MS = 1000;
/** Largest reconnect delay, ms. ZeroMQ Guide ch.4 (Paranoid Pirate): `INTERVAL_MAX 32000`. */
export const DEFAULT_RECONNECT_MAX_MS = 32000;

/** How long a slave waits for a first answer before it says it has none, ms. */
const NO_ANSWER_WARN_MS = 10_000;

/**
 * Most times the master's silence window may grow ({@link Connection}'s patience): 16 x 3 s
 * = 48 s at the defaults. A link that needs longer for what it is sent is a misconfiguration
 * (`--max-message-bytes`, `--prefetch`).
 */
export const MAX_PATIENCE = 16;

/** CURVE client keys of a {@link Connection} (RFC 26), Z85 text. */
export interface ConnectionCurve {
  /** This slave's secret key. */
  secretKey: string;
  /** This slave's public key (on the master's allow-list). */
  publicKey: string;
  /** The master's public key. */
  serverKey: string;
}

/** Options of {@link Connection}. */
export interface ConnectionOptions {
  /** Master endpoint, e.g. `tcp://10.0.0.5:5570`. */
  endpoint: string;
  /** Routing id announced to the master. */
  slaveId: string;
  heartbeatIntervalMs: number;
  /** Missed heartbeats before the master is taken for gone (before {@link Connection.patience} grows it). */
  heartbeatLiveness: number;
  /** First delay before a new socket, ms; doubled after each reconnect up to `reconnectMaxMs`, reset once the master answers. */
  reconnectInitialMs: number;
  reconnectMaxMs: number;
  /** Largest message part accepted from the master, bytes (ZMQ_MAXMSGSIZE). */
  maxMessageBytes: number;
  /** With CURVE: the socket is a CURVE client that checks the master's key. */
  curve?: ConnectionCurve | undefined;
  clock: Clock;
  logger: Logger;
  /** Called on every new session (first connect and each reconnect): send READY here. */
  onSession: () => void;
  /** Called with every valid message from the master. */
  onMessage: (message: Message, payload: Buffer[]) => void;
  /** Called with every message dropped as malformed. */
  onRejected: (error: ProtocolError) => void;
}

/**
 * The slave's side of the wire: one DEALER connected to the master's ROUTER, with
 * Paranoid Pirate heartbeating (ZeroMQ Guide ch.4): a HEARTBEAT every interval, and when
 * the master has been silent for `interval x liveness` the socket is closed and a new one
 * connected after an exponential back-off, which then re-announces itself via `onSession`.
 * A slave started before its master simply keeps doing this until the master answers.
 * All sends go through one {@link SendQueue}. With `curve` the socket is a CURVE client;
 * failed handshakes (key refused, no CURVE, wrong master key) are logged from the socket's
 * event observer, since they otherwise look like a silent master.
 */
export class Connection {
  private socket: Dealer | undefined;
  private queue: SendQueue<Buffer[]> | undefined;
  private liveness: Liveness;
  private timer: NodeJS.Timeout | undefined;
  private reconnectDelayMs: number;
  private closed = false;
  private lastSentMs = 0;
  /** Whether the master has answered on the current socket. */
  private connected = false;
  /** Messages dropped because the send queue was full. */
  droppedSends = 0;
  /** The last master said DISCONNECT and none has answered since: waiting is expected. */
  private masterSaidBye = false;
  /** The "no answer from a master" warning was given since the last answer. */
  private silenceReported = false;
  /** Failed CURVE handshakes seen. */
  handshakeFailures = 0;
  /**
   * What the master's silence window is multiplied by: doubled each time the slave took a
   * live master for dead. ZeroMQ hands over a message only once all of it has arrived, and
   * the master's heartbeats queue behind its TASK messages in the one TCP stream: over a
   * slow link a message of large images takes longer than `interval x liveness`, the slave
   * gave up on the master mid-transfer, reconnected, was sent the same images again, and
   * never finished a task (a tester's 1.5 MB/s link and 5.6 MB messages: 168 retries, no
   * image done in 90 s).
   */
  patience = 1;
  /** The socket was replaced because the master fell silent on it, after this long a silence, ms. */
  private silenceReconnect: { silentMs: number } | undefined;
  /** The current socket's ZeroMQ handshake with the master succeeded (and it has not disconnected since). */
  private linked = false;
  /** When the current socket's last handshake with the master succeeded, ms ({@link ConnectionOptions.clock}). */
  private linkedAtMs = -Infinity;
  /** The connection dropped (ZeroMQ 'disconnect') since the master was last heard: a master that went away, not a slow one. */
  private droppedSinceHeard = false;
  /** The master's announced heartbeat interval, ms, kept for each new {@link Liveness}. */
  private peerIntervalMs: number | undefined;
  /** When a master at the endpoint was last heard, ms ({@link ConnectionOptions.clock}); undefined before the first. */
  private lastHeardAtMs: number | undefined;
  /** When {@link tick} last ran, ms: a long gap means this process was stopped or blocked, not the master silent. */
  private lastTickMs: number | undefined;
  private handshakeLogAtMs = -Infinity;

  constructor(private readonly options: ConnectionOptions) {
    this.liveness = new Liveness(options.heartbeatIntervalMs, options.heartbeatLiveness, options.clock);
    this.reconnectDelayMs = options.reconnectInitialMs;
  }

  /** Opens the first socket; checks liveness and heartbeats four times a heartbeat interval (at least 10 ms apart). */
  start(): void {
    this.open();
    this.timer = setInterval(() => {
      this.tick();
    }, Math.max(10, Math.floor(this.options.heartbeatIntervalMs / 4)));
  }

  /**
   * Time since the current socket's last successful handshake with the master, ms
   * (Infinity before one): what was queued before it went out only then, all at once.
   */
  msSinceLinked(): number {
    return this.options.clock.now() - this.linkedAtMs;
  }

  /** Queues one message to the master; false when it could not be queued. */
  send(message: OutgoingMessage, payload: readonly Buffer[] = []): boolean {
    if (this.queue === undefined) return false;
    this.lastSentMs = this.options.clock.now();
    const ok = this.queue.push(encode(message, payload));
    if (!ok) this.droppedSends++;
    return ok;
  }

  /**
   * The master said DISCONNECT (its batch is over, or it stopped): reconnect at once and
   * wait for the next master quietly, instead of warning that this one fell silent.
   */
  masterLeft(): void {
    if (this.closed) return;
    this.masterSaidBye = true;
    this.reconnect('master said DISCONNECT');
  }

  /** Whether the master has been heard since the socket was (re)opened. */
  get isConnected(): boolean {
    return this.connected;
  }

  /** Waits (at most `drainTimeoutMs`) until queued messages are handed to the socket, then closes it. */
  async close(drainTimeoutMs = 2000): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    const q = this.queue;
    if (q) await Promise.race([q.drain(), new Promise((r) => setTimeout(r, drainTimeoutMs))]);
    this.socket?.close();
    this.socket = undefined;
  }

  private open(): void {
    const { options } = this;
    const socket = new Dealer({
      routingId: options.slaveId,
      // 500 ms for a last DISCONNECT to leave on close (a reconnect sets it to 0).
      linger: 500,
      // Lets a host name resolve to an IPv6 address too; IPv4 works either way.
      ipv6: true,
      maxMessageSize: options.maxMessageBytes,
      sendHighWaterMark: 1000,
      receiveHighWaterMark: 1000,
      // A send blocked for a whole silence window fails rather than hold the queue.
      sendTimeout: options.heartbeatIntervalMs * options.heartbeatLiveness,
      // libzmq's own TCP retries on this socket: 0.1 s, doubling to 2 s. The back-off between
      // sockets (reconnectInitialMs..reconnectMaxMs) is this class's.
      reconnectInterval: 100,
      reconnectMaxInterval: 2000,
      // A connect whose SYN went into a dead link is retried by the kernel 1, 3, 7, 15 s
      // later: after a cut the slave rejoined up to 8 s after the link was back (QA). Cut
      // short, libzmq tries again within its interval above.
      connectTimeout: options.heartbeatIntervalMs * options.heartbeatLiveness,
      ...(options.curve === undefined
        ? {}
        : { curveSecretKey: options.curve.secretKey, curvePublicKey: options.curve.publicKey, curveServerKey: options.curve.serverKey }),
    });
    void this.watchHandshakes(socket);
    socket.connect(options.endpoint);
    this.socket = socket;
    this.connected = false;
    this.queue = new SendQueue<Buffer[]>(
      (parts) => socket.send(parts),
      (_parts, err) => {
        options.logger.debug({ err: (err as Error).message }, 'send to master failed');
      },
      10_000,
    );
    this.liveness = this.newLiveness();
    this.linked = false;
    this.linkedAtMs = -Infinity;
    void this.receiveLoop(socket);
    options.onSession();
  }

  private async receiveLoop(socket: Dealer): Promise<void> {
    try {
      for await (const parts of socket) {
        if (socket !== this.socket) return;
        this.liveness.heard();
        this.lastHeardAtMs = this.options.clock.now();
        this.droppedSinceHeard = false;
        if (!this.connected) {
          this.connected = true;
          this.silenceReported = false;
          this.masterSaidBye = false;
          this.reconnectDelayMs = this.options.reconnectInitialMs;
          this.options.logger.info(`connected to master at ${this.options.endpoint}`);
        }
        const decoded = decode(parts);
        if (this.silenceReconnect !== undefined) this.judgeSilence(decoded.ok ? decoded.message : undefined);
        if (!decoded.ok) {
          this.options.onRejected(decoded.error);
          continue;
        }
        if (decoded.message.cmd === Command.Heartbeat && decoded.message.heartbeatIntervalMs !== undefined) {
          this.peerIntervalMs = decoded.message.heartbeatIntervalMs;
          this.liveness.peerInterval(decoded.message.heartbeatIntervalMs);
        }
        this.options.onMessage(decoded.message, decoded.payload);
      }
    } catch (err) {
      if (!this.closed && socket === this.socket) {
        this.options.logger.warn({ err: (err as Error).message }, 'receive from master failed');
      }
    }
  }

  /**
   * Called on the first message of a new socket that replaced one given up for the master's
   * silence. A master that heard this slave all along (`heardAllAlong` in the HEARTBEAT
   * answering its READY) was alive, and its messages were only slow to arrive: the silence window doubles (up to
   * {@link MAX_PATIENCE} times). A master that had taken the slave for dead (a link down
   * both ways, a Wi-Fi drop) or restarted says nothing of the kind: the window stays (it
   * grew after every Wi-Fi drop, and the slave then sat on a dead connection for up to
   * 48 s before rejoining, QA).
   *
   * @param message - the first message (undefined when it was malformed)
   */
  private judgeSilence(message: Message | undefined): void {
    const was = this.silenceReconnect;
    this.silenceReconnect = undefined;
    if (was === undefined || message?.cmd !== Command.Heartbeat || message.heardAllAlong !== true || this.patience >= MAX_PATIENCE) return;
    this.patience = Math.min(MAX_PATIENCE, this.patience * 2);
    this.liveness = this.newLiveness();
    this.options.logger.warn(
      `the master answered on a new connection after ${was.silentMs} ms of silence on the old one: it was alive, and its messages were slow to arrive (large images over a slow or congested link?); waiting up to ${this.windowMs()} ms for it from now on (--heartbeat-liveness sets the start)`,
    );
  }

  /** The master's silence window, ms: interval x liveness x patience (the master's interval when it announced a longer one). */
  private windowMs(): number {
    return this.liveness.judgedIntervalMs * this.options.heartbeatLiveness * this.patience;
  }

  private newLiveness(): Liveness {
    const liveness = new Liveness(this.options.heartbeatIntervalMs, this.options.heartbeatLiveness * this.patience, this.options.clock);
    if (this.peerIntervalMs !== undefined) liveness.peerInterval(this.peerIntervalMs);
    return liveness;
  }

  /** Logs failed handshakes on `socket`, and retries on a new socket after the back-off. */
  private async watchHandshakes(socket: Dealer): Promise<void> {
    const at = this.options.endpoint;
    try {
      for await (const event of socket.events) {
        if (socket !== this.socket) return;
        if (event.type === 'handshake' || event.type === 'disconnect') {
          this.linked = event.type === 'handshake';
          if (this.linked) this.linkedAtMs = this.options.clock.now();
          if (event.type === 'disconnect') this.droppedSinceHeard = true;
          continue;
        }
        let message: string | undefined;
        if (event.type === 'handshake:error:auth') {
          const key = this.options.curve?.publicKey;
          message = `the master at ${at} refused this slave (ZAP status ${event.error.status})${key === undefined ? '' : `: add this slave's public key ${key} to the master's --allow-keys`}`;
        } else if (event.type === 'handshake:error:protocol') {
          message = `handshake with the master at ${at} failed: ${describeHandshakeFailure(event.error.code, 'client')}`;
        } else if (event.type === 'handshake:error:other') {
          // Without keys this is a CURVE master that saw the mismatch first and hung up, or
          // no ZeroMQ peer at all (an HTTP server answers its greeting and closes); ignored,
          // libzmq retried every 100 ms until a protocol error came through.
          message = this.options.curve === undefined
            ? `the peer at ${at} hung up during the handshake (${event.error.message}): if it is the master and runs with CURVE keys, give this slave --curve-secret-key and --master-public-key; otherwise check that ${at} is the master's address and port (another program may listen there)`
            : `CURVE handshake with the master at ${at} failed (${event.error.message}): is --master-public-key this master's public key, does the master run with --curve-secret-key, and is ${at} the master's address and port?`;
        }
        if (message === undefined) continue;
        this.handshakeFailures++;
        // The master did answer, with a refusal (logged here): not the "no answer" case.
        this.silenceReported = true;
        const now = this.options.clock.now();
        if (now - this.handshakeLogAtMs >= 10_000) {
          this.handshakeLogAtMs = now;
          this.options.logger.error(`${message} (${this.handshakeFailures} failed handshake(s))`);
        }
        // After a protocol or CURVE failure libzmq reconnects on its own every 100 ms,
        // back-off or not (each attempt is a new connecter): a slave holding the wrong
        // master key made ten handshakes a second. After a ZAP refusal it does not retry at
        // all, and the slave waited for its 32 s backstop: a key added to the allow-list
        // took that long to be used. Retry on our own back-off in both cases.
        if (socket === this.socket) {
          this.reconnect('handshake failed');
          return;
        }
      }
    } catch {
      // The socket was closed: its observer ends with it.
    }
  }

  /**
   * Warns that no master answered at the endpoint for `silentMs`; when its host is a name
   * that does not resolve, says that instead (ZeroMQ retries such a name in silence: a
   * mistyped `--connect tcp://pi-mastr:5570` read as a master not running).
   */
  private async warnNoAnswer(silentMs: number): Promise<void> {
    const { endpoint, logger } = this.options;
    const prefix = `no answer from a master at ${endpoint} for ${Math.round(silentMs / 1000)} s`;
    const host = /^tcp:\/\/(?:\[([^\]]+)\]|([^:/]+)):/.exec(endpoint);
    const name = host?.[2];
    if (name !== undefined && isIP(name) === 0) {
      const failure = await lookup(name).then(
        () => undefined,
        (err: unknown) => (err as NodeJS.ErrnoException).code ?? (err as Error).message,
      );
      if (failure !== undefined) {
        logger.warn(`${prefix}: its host name ${name} does not resolve (${failure}): is it spelt right, and is the name known on this machine (DNS, /etc/hosts)? (still trying)`);
        return;
      }
    }
    if (this.lastHeardAtMs !== undefined) {
      // It was there: the advice for a slave pointed at the wrong port would mislead.
      const agoS = Math.round((this.options.clock.now() - this.lastHeardAtMs) / 1000);
      logger.warn(`${prefix} (it was last heard ${agoS} s ago): it may have stopped, or the network between may be down (still trying)`);
      return;
    }
    logger.warn(`${prefix}: is the master running, and is this its --bind address? (still trying)`);
  }

  private tick(): void {
    if (this.closed) return;
    const now = this.options.clock.now();
    const stalled = this.lastTickMs !== undefined && now - this.lastTickMs > 2 * this.options.heartbeatIntervalMs;
    this.lastTickMs = now;
    if (stalled && this.connected) {
      // This process was stopped (SIGSTOP) or its event loop blocked: nothing could be heard
      // meanwhile, so the master's silence counts from now (what it sent is read next).
      this.liveness.heard();
      return;
    }
    if (!this.connected) {
      // Never heard on this socket: READY waits in its queue and ZeroMQ keeps retrying the
      // TCP connection, so a slave started before its master is served the moment the
      // master binds. Tear down only as a backstop, and queue no heartbeats meanwhile.
      const backstopMs = Math.max(this.options.reconnectMaxMs, this.options.heartbeatIntervalMs * this.options.heartbeatLiveness);
      const silentMs = this.liveness.silentForMs();
      if (!this.silenceReported && silentMs >= NO_ANSWER_WARN_MS) {
        // Without this a slave pointed at the wrong port, or at something that is not a
        // master, said nothing at all for the whole back-off.
        this.silenceReported = true;
        if (this.masterSaidBye) this.options.logger.info(`waiting for a master at ${this.options.endpoint} (the last one said DISCONNECT)`);
        else void this.warnNoAnswer(silentMs);
      }
      // No back-off here: libzmq itself retries the TCP connection every 0.1-2 s on the
      // open socket; a growing delay only left the slave without a socket for up to 32 s
      // at a time, and a master started after a long wait waited that long for it.
      if (silentMs >= backstopMs) {
        this.reconnect('no answer on this socket', true);
        return;
      }
      // A master is there (its ZeroMQ answered): beat, so that it does not take this slave
      // for dead while its first reply waits behind the old connection's bytes in a slow
      // link's queue (it did, and dropped the new session too).
      if (this.linked && now - this.lastSentMs >= this.options.heartbeatIntervalMs) {
        this.send({ cmd: Command.Heartbeat, heartbeatIntervalMs: this.options.heartbeatIntervalMs });
      }
      return;
    }
    if (this.liveness.isDead()) {
      // Only a silence on a connection that stayed up can be a slow link: a master that died
      // or restarted closed it (a tester's master killed four times grew the window to 12 s).
      this.silenceReconnect = this.droppedSinceHeard ? undefined : { silentMs: Math.round(this.liveness.silentForMs()) };
      this.reconnect();
      return;
    }
    if (now - this.lastSentMs >= this.options.heartbeatIntervalMs) {
      this.send({ cmd: Command.Heartbeat, heartbeatIntervalMs: this.options.heartbeatIntervalMs });
    }
  }

  /**
   * Closes the socket and opens a new one after the current back-off delay (doubled each
   * time, up to `reconnectMaxMs`), or with `quick` after the first delay, leaving the
   * back-off as it is.
   */
  private reconnect(why?: string, quick = false): void {
    const delay = quick ? this.options.reconnectInitialMs : this.reconnectDelayMs;
    const silentMs = Math.round(this.liveness.silentForMs());
    const was = why ?? `${this.connected ? 'master silent' : 'no answer from master'} for ${silentMs} ms`;
    const log = why === undefined ? this.options.logger.warn.bind(this.options.logger) : this.options.logger.debug.bind(this.options.logger);
    log(`${was} at ${this.options.endpoint}; reconnecting in ${delay} ms`);
    // Said on a connection that stayed up, so that a master that still hears this slave
    // knows the slave let go of it (the master heard it to the end): without it, the master
    // took the slave for dead by its silence during the back-off (its SYN-ACK waits behind
    // the old connection's bytes on a slow link) and never said `heardAllAlong`, and the
    // slave's window never grew (CI: 30 sessions in 90 s, no image done).
    const farewell = why === undefined && this.connected && !this.droppedSinceHeard ? `master silent for ${silentMs} ms; reconnecting` : undefined;
    if (this.socket && this.queue) retire(this.socket, this.queue, farewell, this.options.heartbeatIntervalMs);
    this.socket = undefined;
    this.queue = undefined;
    this.connected = false;
    if (!quick) this.reconnectDelayMs = Math.min(this.reconnectDelayMs * 2, this.options.reconnectMaxMs);
    // Keep the liveness timer from firing again while we wait.
    this.liveness = new Liveness(delay + this.options.heartbeatIntervalMs * this.options.heartbeatLiveness, 1, this.options.clock);
    setTimeout(() => {
      if (!this.closed) this.open();
    }, delay).unref();
  }
}

/** Longest the old socket waits to send its DISCONNECT when the slave takes the master for dead, ms. */
const FAREWELL_MAX_MS = 500;

/**
 * Closes a socket given up on. Nothing queued on it is wanted (the next session sends READY
 * again): with `farewell`, only a DISCONNECT with that reason goes out first, waiting at most
 * `min(intervalMs, FAREWELL_MAX_MS)` for the send in progress and as long for libzmq to pass
 * it on (its linger); otherwise at once, linger 0 (with a linger libzmq goes on reconnecting
 * a closed socket every 100 ms until the linger ends). Never throws.
 */
function retire(socket: Dealer, queue: SendQueue<Buffer[]>, farewell: string | undefined, intervalMs: number): void {
  queue.close();
  if (farewell === undefined) {
    socket.linger = 0;
    socket.close();
    return;
  }
  const waitMs = Math.min(intervalMs, FAREWELL_MAX_MS);
  socket.linger = waitMs;
  const timeout = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, waitMs).unref());
  void (async () => {
    try {
      await Promise.race([queue.drain(), timeout()]);
      await Promise.race([socket.send(encode({ cmd: Command.Disconnect, reason: farewell })), timeout()]);
    } catch {
      // Busy or failed: the master judges the silence by itself.
    }
    socket.close();
  })();
}
