import { Router } from 'zeromq';
import type { AllowList } from '../shared/keys.js';
import { z85Encode } from '../shared/keys.js';
import type { Logger } from '../shared/logger.js';

/**
 * ZAP, the ZeroMQ Authentication Protocol (RFC 27): libzmq asks a handler bound at
 * {@link ZAP_ENDPOINT} in the same context whether to admit each peer that completed the
 * CURVE handshake, passing the peer's long-term public key. The handler here admits only
 * keys on the master's allow-list. The handler socket is a ROUTER, as in zeromq.js's own
 * `test/unit/socket-zap-test.ts`: requests arrive as `[routing id, "", ...request]`.
 */

/** Where libzmq sends ZAP requests (RFC 27). */
export const ZAP_ENDPOINT = 'inproc://zeromq.zap.01';
/** The only ZAP version (RFC 27). */
export const ZAP_VERSION = '1.0';
/** ZAP domain set on the master's ROUTER; requests for another domain are refused. */
export const ZAP_DOMAIN = 'cctv-cluster';

/** What the handler decided about one peer. */
export interface ZapDecision {
  admitted: boolean;
  /** RFC 27 status code: 200 admitted, 400 refused, 500 malformed request. */
  status: '200' | '400' | '500';
  /** Human-readable reason, also sent as the ZAP status text. */
  reason: string;
  /** The peer's IP address as libzmq reports it (no port). */
  address: string;
  /** Security mechanism the peer used (`CURVE` expected). */
  mechanism: string;
  /** The peer's Z85 public key, when it used CURVE. */
  publicKey: string | undefined;
  /** Where the admitted key came from in the allow-list. */
  source: string | undefined;
}

/**
 * Decides one ZAP request (pure). Admits a CURVE peer whose public key is in `allow`
 * for `domain`; refuses everything else.
 *
 * @param request - the request frames after the routing envelope: version, request id,
 *   domain, address, identity, mechanism, credentials...
 * @returns the reply frames (version, request id, status code, status text, user id,
 *   metadata) and the decision
 */
export function decideZap(request: readonly Buffer[], allow: AllowList, domain = ZAP_DOMAIN): { reply: Buffer[]; decision: ZapDecision } {
  const [version, requestId, reqDomain, address, , mechanism, ...credentials] = request;
  // The frames come from the peer and reach the log: at most 256 characters of each.
  const text = (b: Buffer | undefined): string => (b === undefined ? '' : b.toString('latin1').slice(0, 256));
  const decision: ZapDecision = { admitted: false, status: '400', reason: '', address: text(address), mechanism: text(mechanism), publicKey: undefined, source: undefined };
  if (text(version) !== ZAP_VERSION || mechanism === undefined) {
    decision.status = '500';
    decision.reason = 'malformed ZAP request';
  } else if (decision.mechanism !== 'CURVE') {
    decision.reason = `mechanism ${decision.mechanism} is not allowed (CURVE required)`;
  } else if (text(reqDomain) !== domain) {
    decision.reason = `unknown ZAP domain ${JSON.stringify(text(reqDomain))}`;
  } else if (credentials.length !== 1 || credentials[0]?.length !== 32) {
    decision.reason = 'CURVE request without a 32-byte public key';
  } else {
    const key = z85Encode(credentials[0]);
    decision.publicKey = key;
    const source = allow.keys.get(key);
    if (source === undefined) decision.reason = 'public key is not on the allow-list';
    else {
      decision.admitted = true;
      decision.status = '200';
      decision.reason = 'OK';
      decision.source = source;
    }
  }
  const userId = decision.source === undefined ? '' : decision.source.slice(-200);
  const reply = [Buffer.from(ZAP_VERSION), requestId ?? Buffer.alloc(0), Buffer.from(decision.status), Buffer.from(decision.reason), Buffer.from(userId), Buffer.alloc(0)];
  return { reply, decision };
}

/** Options of {@link ZapHandler}. */
export interface ZapHandlerOptions {
  allowList: AllowList;
  /** ZAP domain to accept. @defaultValue {@link ZAP_DOMAIN} */
  domain?: string;
  /** Called with every decision (admitted or refused). */
  onDecision: (decision: ZapDecision) => void;
  logger: Logger;
}

/**
 * The master's ZAP handler socket (RFC 27), bound at {@link ZAP_ENDPOINT} in zeromq.js's
 * global context, the one the master's ROUTER uses. Start it before the ROUTER binds so
 * no handshake is ever decided without it (the ROUTER also sets `zapEnforceDomain`, so
 * if this handler is gone peers are refused, not admitted). Created only by `master/router.ts`.
 */
export class ZapHandler {
  private readonly socket = new Router({ linger: 0 });
  private closed = false;

  constructor(private readonly options: ZapHandlerOptions) {}

  /**
   * Binds the handler and starts answering.
   *
   * @throws Error when another ZAP handler is bound in this process (EADDRINUSE)
   */
  async start(): Promise<void> {
    await this.socket.bind(ZAP_ENDPOINT);
    void this.loop();
  }

  /** Stops answering; later handshakes are refused (the ROUTER enforces ZAP). */
  close(): void {
    this.closed = true;
    this.socket.close();
  }

  private async loop(): Promise<void> {
    try {
      for await (const [routingId, delimiter, ...request] of this.socket) {
        if (routingId === undefined || delimiter === undefined) continue;
        const { reply, decision } = decideZap(request, this.options.allowList, this.options.domain);
        await this.socket.send([routingId, delimiter, ...reply]);
        try {
          this.options.onDecision(decision);
        } catch (err) {
          this.options.logger.error({ err: (err as Error).message }, 'ZAP decision callback failed');
        }
      }
    } catch (err) {
      if (!this.closed) this.options.logger.error({ err: (err as Error).message }, 'ZAP handler stopped: every slave will be refused');
    }
  }
}

/**
 * Explains a failed CURVE handshake (a zeromq.js `handshake:error:protocol` event code)
 * in terms of this project's flags.
 *
 * @param code - e.g. `ERR_ZMTP_MECHANISM_MISMATCH`, `ERR_ZMTP_CRYPTOGRAPHIC`
 * @param side - `server`: seen by the master about a peer; `client`: seen by a slave
 * @param serverCurve - (`server`) whether the master itself runs with CURVE keys
 */
export function describeHandshakeFailure(code: string, side: 'server' | 'client', serverCurve = true): string {
  if (code === 'ERR_ZMTP_MECHANISM_MISMATCH') {
    // The event does not say which mechanism the peer asked for: a slave with keys asks for
    // CURVE, and so, by this code, does a peer sending garbage (a port scan, 64 bytes of 0xff).
    if (side === 'server' && !serverCurve) return 'the peer asks for a security mechanism and this master runs without keys: a slave started with --curve-secret-key? (start it without, or the master with --curve-secret-key and --allow-keys)';
    return side === 'server'
      ? 'the peer does not use CURVE (a slave started without --curve-secret-key and --master-public-key?)'
      : 'the master and this slave disagree on CURVE: one of them runs with keys and the other without';
  }
  if (code === 'ERR_ZMTP_CRYPTOGRAPHIC' || code === 'ERR_ZMTP_KEY_EXCHANGE') {
    return side === 'server'
      ? `the peer's CURVE handshake does not decrypt (${code}: a slave with the wrong --master-public-key?)`
      : `the CURVE handshake does not decrypt (${code}): is --master-public-key this master's public key?`;
  }
  return `CURVE handshake failed (${code})`;
}
