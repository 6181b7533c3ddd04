import { execFileSync } from 'node:child_process';

/**
 * Two Linux network namespaces joined by one veth pair: a "master host" and a "slave
 * host", each with its own address, so a test can cut the link between them. Only
 * addresses inside namespaces this helper created are used (10.78.0.0/24), never the
 * host's own interfaces or routes.
 */
export interface NetnsPair {
  masterNs: string;
  slaveNs: string;
  masterIp: string;
  slaveIp: string;
  /** Takes the slave host's link down (the cable is pulled). */
  cut(): void;
  /** Brings it back up. */
  restore(): void;
  /**
   * Slows the link from the master's host to the slave's to `kbitPerS` (a token-bucket
   * queueing discipline on the master's end, `tc qdisc tbf`): a Wi-Fi or site uplink.
   */
  throttle(kbitPerS: number): void;
  /** Deletes both namespaces (and with them the veth pair). */
  destroy(): void;
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 });
}

/**
 * Creates the pair, or returns the reason it cannot (not root, or the kernel refuses
 * network namespaces), so the caller can skip with that reason.
 */
export function createNetnsPair(): NetnsPair | { unavailable: string } {
  if (process.getuid?.() !== 0) return { unavailable: 'network namespaces need root' };
  const tag = `${process.pid % 100000}`;
  const masterNs = `cctvt${tag}m`;
  const slaveNs = `cctvt${tag}s`;
  const vm = `cvm${tag}`;
  const vs = `cvs${tag}`;
  const pair: NetnsPair = {
    masterNs,
    slaveNs,
    masterIp: '10.78.0.1',
    slaveIp: '10.78.0.2',
    cut: () => {
      ip('-n', slaveNs, 'link', 'set', vs, 'down');
    },
    restore: () => {
      ip('-n', slaveNs, 'link', 'set', vs, 'up');
    },
    throttle: (kbitPerS) => {
      // Packets wait in the bucket's queue (up to 2 s of them, a generous router's buffer) rather
      // than being dropped. With 10 s, the data of connections already closed held the link so
      // long that no answer on a new one came in a slave's window (the slow-link test failed 1 run in 3-6).
      execFileSync('tc', ['-n', masterNs, 'qdisc', 'replace', 'dev', vm, 'root', 'tbf', 'rate', `${kbitPerS}kbit`, 'burst', '32kb', 'latency', '2s'], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 });
    },
    destroy: () => {
      for (const ns of [masterNs, slaveNs]) {
        try {
          ip('netns', 'delete', ns);
        } catch {
          /* already gone */
        }
      }
    },
  };
  try {
    ip('netns', 'add', masterNs);
    ip('netns', 'add', slaveNs);
    ip('link', 'add', vm, 'netns', masterNs, 'type', 'veth', 'peer', 'name', vs, 'netns', slaveNs);
    ip('-n', masterNs, 'addr', 'add', '10.78.0.1/24', 'dev', vm);
    ip('-n', slaveNs, 'addr', 'add', '10.78.0.2/24', 'dev', vs);
    for (const [ns, dev] of [[masterNs, vm], [slaveNs, vs]] as const) {
      ip('-n', ns, 'link', 'set', 'lo', 'up');
      ip('-n', ns, 'link', 'set', dev, 'up');
    }
    return pair;
  } catch (err) {
    pair.destroy();
    return { unavailable: `the kernel refused network namespaces: ${(err as { stderr?: Buffer }).stderr?.toString().trim() ?? (err as Error).message}` };
  }
}
