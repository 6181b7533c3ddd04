import { createServer, isIP } from 'node:net';
/**
 * ZeroMQ endpoints as the command lines take them: `tcp://HOST:PORT` (HOST a name, an IPv4
 * address, `[IPv6]` or `*` to bind every interface; PORT 1-65535, or `*` for any free one
 * when binding) or `ipc://PATH` (a Unix socket, for slaves on the same machine).
 * `inproc://` is refused: it reaches only sockets in the same process, and every slave is a
 * process of its own (the master waited for slaves forever).
 */

/** Why `endpoint` is not one (a message for `--bind`/`--connect`), or undefined when it is. */
export function endpointProblem(endpoint: string): string | undefined {
  if (endpoint.startsWith('inproc://')) return `inproc:// reaches only the same process, and slaves run in their own: use tcp://HOST:PORT or ipc://PATH, got ${JSON.stringify(endpoint)}`;
  if (!/^(tcp|ipc):\/\/.+/.test(endpoint)) return `must be an endpoint like tcp://127.0.0.1:5570, got ${JSON.stringify(endpoint)}`;
  if (!endpoint.startsWith('tcp://')) return undefined;
  const m = /^tcp:\/\/(\[[0-9a-fA-F:.]+\]|[^:[\]/]+):(\d+|\*)$/.exec(endpoint);
  if (m === null) return `must be tcp://HOST:PORT (an IPv6 address in brackets: tcp://[::1]:5570), got ${JSON.stringify(endpoint)}`;
  const port = m[2] === '*' ? 1 : Number(m[2]);
  // ZeroMQ takes a port number modulo 65536 without a word (99999 listened on 34463).
  if (port < 1 || port > 65_535) return `port must be from 1 to 65535, got ${m[2] ?? ''}`;
  return undefined;
}

/**
 * Why `endpoint` cannot be connected to (a message for `--connect`), or undefined when it
 * can: {@link endpointProblem}, and `*` (every interface, or any port), which only a bind
 * takes; ZeroMQ's connect failed on it with a bare "Invalid argument" after the workers
 * had started.
 */
export function connectProblem(endpoint: string): string | undefined {
  const problem = endpointProblem(endpoint);
  if (problem !== undefined) return problem;
  if (/^tcp:\/\/(\*:|.*:\*$)/.test(endpoint)) return `takes the master's address and port, e.g. tcp://192.168.1.10:5570; * is for the master's --bind, got ${JSON.stringify(endpoint)}`;
  return undefined;
}

/** Whether a tcp endpoint names an IPv6 address or every interface (`*`): its socket needs ZMQ_IPV6. */
export function wantsIpv6(endpoint: string): boolean {
  return /^tcp:\/\/(\[|\*:)/.test(endpoint);
}

/**
 * What to do about a `--bind` that failed, by the error's code (ZeroMQ passes the socket
 * call's errno), or undefined when there is nothing to add. For tcp endpoints only: an
 * ipc:// path in use is worded where it is probed (master/router.ts).
 * - EADDRINUSE: another process listens on the port;
 * - EADDRNOTAVAIL: HOST is an address, but not one of this machine's;
 * - ENODEV, EAGAIN (zeromq.js's word for the same once its socket has options set): HOST is
 *   neither an address nor an interface of this machine; ZeroMQ's bind takes an address,
 *   an interface name (eth0) or `*`, and resolves no host names but localhost;
 * - EACCES: ports below 1024 need root.
 *
 * @param freePort - a port found free on HOST ({@link freePortAfter}), given as the example
 *   for EADDRINUSE: port + 1 was named unchecked, and was the first master's metrics port (QA)
 */
export function bindFailureHint(endpoint: string, code: string | undefined, freePort?: number): string | undefined {
  const m = /^tcp:\/\/(.+):(\d+|\*)$/.exec(endpoint);
  if (m === null) return undefined;
  const host = m[1] ?? '';
  const port = m[2] ?? '';
  switch (code ?? '') {
    case 'EADDRINUSE': {
      const example = freePort === undefined ? '' : `, e.g. --bind tcp://${host}:${freePort} (free now)`;
      return `another process (a master?) listens on port ${port}; stop it, or give another port${example}, or tcp://${host}:* for any free one`;
    }
    case 'EADDRNOTAVAIL':
      return `${host} is not an address of this machine; give one of its addresses (\`ip -brief address\`), or tcp://0.0.0.0:${port} for all of them`;
    case 'ENODEV':
    case 'EAGAIN':
      return `${host} is neither an address nor a network interface of this machine; --bind takes an IP address, an interface name such as eth0, or * (every interface), not a host name`;
    case 'EACCES':
      return `ports below 1024 need root; give a port from 1024 up, e.g. tcp://${host}:5570`;
    default:
      return undefined;
  }
}

/**
 * The first port after `port` (at most `tries` of them, up to 65535) that a TCP listener can
 * take on the host of a `tcp://HOST:PORT` bind (`*` every interface, `[::1]` IPv6), checked
 * by listening on it and closing at once; undefined when none is, or HOST is not an address
 * (an interface name such as eth0).
 */
export async function freePortAfter(endpoint: string, tries = 20): Promise<number | undefined> {
  const m = /^tcp:\/\/(.+):(\d+)$/.exec(endpoint);
  if (m === null) return undefined;
  const raw = m[1] ?? '';
  const host = raw === '*' ? undefined : raw.replace(/^\[(.*)\]$/, '$1');
  if (host !== undefined && isIP(host) === 0 && host !== 'localhost') return undefined;
  for (let port = Number(m[2]) + 1; port <= Math.min(65_535, Number(m[2]) + tries); port++) {
    const code = await new Promise<string | undefined>((resolve) => {
      const server = createServer();
      server.once('error', (err: NodeJS.ErrnoException) => {
        resolve(err.code ?? 'error');
      });
      server.listen({ port, host, exclusive: true }, () => {
        server.close(() => {
          resolve(undefined);
        });
      });
    });
    if (code === undefined) return port;
    if (code !== 'EADDRINUSE') return undefined;
  }
  return undefined;
}
