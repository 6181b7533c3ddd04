import { createServer, type Server } from 'node:http';
import { isIP } from 'node:net';
import { collectDefaultMetrics, type Registry } from 'prom-client';
import type { Logger } from './logger.js';

/** Default address of the `/metrics` endpoints: loopback only. */
export const DEFAULT_METRICS_HOST = '127.0.0.1';
/** Default metrics port of the master (the port OpenTelemetry's Prometheus exporter uses). */
export const DEFAULT_MASTER_METRICS_PORT = 9464;
/** Port suggested for slaves (`--metrics-port 9465`); a slave serves no metrics by default. */
export const SUGGESTED_SLAVE_METRICS_PORT = 9465;

/** Buckets of task compute time, s: an edge task on a PC (1 ms) to a HOG pass on a Pi (several s). */
export const COMPUTE_BUCKETS_S = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Interval of the event-loop lag samples behind `cctv_nodejs_eventloop_lag_*`, ms. */
export const EVENT_LOOP_SAMPLE_MS = 100;

/**
 * Registers prom-client's process metrics (CPU, memory, GC, event-loop lag) in `registry`
 * with the `cctv_` prefix. The event-loop lag is sampled every {@link EVENT_LOOP_SAMPLE_MS},
 * not prom-client's 10 ms: that timer woke the process 100 times a second, each wake-up
 * taken from a worker on a busy machine (master epoll wake-ups 250/s -> 77/s under load).
 */
export function collectProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry, prefix: 'cctv_', eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
}

/** Options of {@link startMetricsServer}. */
export interface MetricsServerOptions {
  /** TCP port; 0 turns the endpoint off. */
  port: number;
  /** Address to listen on (an IP address or a host name). */
  host: string;
  /** The process's own registry (never prom-client's global one). */
  registry: Registry;
  logger: Logger;
}

/** A running `/metrics` endpoint. */
export interface MetricsServer {
  /** The URL scrapers use, e.g. `http://127.0.0.1:9464/metrics`. */
  readonly url: string;
  /** Stops listening and closes open connections. */
  close(): Promise<void>;
}

/**
 * Serves `registry` in the Prometheus text format at `GET /metrics` (node:http; other paths
 * answer 404, other methods 405). Metrics are auxiliary: when the port cannot be bound
 * (in use, no permission, address not local) this logs a warning and resolves
 * `undefined`, and the process runs on without metrics.
 *
 * @returns the server, or `undefined` when `port` is 0 or listening failed
 */
export async function startMetricsServer(o: MetricsServerOptions): Promise<MetricsServer | undefined> {
  if (o.port === 0) return undefined;
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found: metrics are at /metrics\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    o.registry.metrics().then(
      (text) => {
        res.writeHead(200, { 'content-type': o.registry.contentType }).end(req.method === 'HEAD' ? undefined : text);
      },
      (err: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`collecting metrics failed: ${(err as Error).message}\n`);
      },
    );
  });
  const hostText = isIP(o.host) === 6 ? `[${o.host}]` : o.host;
  try {
    await listen(server, o.port, o.host);
  } catch (err) {
    o.logger.warn(`cannot serve metrics on ${hostText}:${o.port} (${(err as Error).message}); running without metrics`);
    return undefined;
  }
  const addr = server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : o.port;
  const url = `http://${hostText}:${port}/metrics`;
  o.logger.info(`serving metrics at ${url}`);
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
      }),
  };
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/**
 * Checks a `--metrics-host` value: an IP address or a DNS host name.
 *
 * @returns an error text for {@link InvalidArgumentError.format}, or `undefined` when valid
 */
export function metricsHostProblem(host: string): string | undefined {
  if (isIP(host) !== 0 || /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/.test(host)) return undefined;
  return `must be an IP address or host name (e.g. 127.0.0.1, 0.0.0.0, ::), got ${JSON.stringify(host)}`;
}
