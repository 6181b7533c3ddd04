import { createServer } from 'node:net';

/**
 * A free TCP port on 127.0.0.1 (zeromq.js `test/unit/helpers.ts` `uniqAddress` idea:
 * every test its own address). The port is released before returning, so a tiny race
 * remains; tests bind it at once.
 */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => {
        resolve(port);
      });
    });
  });
}

/** A fresh loopback TCP endpoint. */
export async function loopbackEndpoint(): Promise<string> {
  return `tcp://127.0.0.1:${await freePort()}`;
}
