import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { SAMPLE_FACES, readReport, readResults, tempDir } from '../helpers/fixtures.js';
import { ROOT } from '../helpers/processes.js';

/** Whether this process may create network namespaces (root, and a kernel that allows it). */
function netnsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  const probe = `cctvprobe${process.pid % 100000}`;
  try {
    execFileSync('ip', ['netns', 'add', probe], { stdio: 'pipe' });
    execFileSync('ip', ['netns', 'delete', probe], { stdio: 'pipe' });
    return undefined;
  } catch (err) {
    return `the kernel refused network namespaces: ${(err as { stderr?: Buffer }).stderr?.toString().trim() ?? ''}`;
  }
}

describe('deploy/local-cluster.sh: a master and slaves on their own network addresses', function () {
  this.timeout(180_000);

  it('processes a batch across network namespaces and removes everything it created', async function () {
    const why = netnsUnavailable();
    if (why !== undefined) {
      process.stdout.write(`      skipped: ${why}\n`);
      this.skip();
    }
    const tmp = tempDir();
    let proc: ChildProcess | undefined;
    try {
      const out = join(tmp.dir, 'lc.jsonl');
      const before = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
      const child = spawn('bash', [join(ROOT, 'deploy/local-cluster.sh'), '--slaves', '2', '--threads', '1', '--timeout', '150', '--', SAMPLE_FACES, '--out', out, '--overwrite', '--progress', 'none'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      proc = child;
      let err = '';
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.stdout.resume();
      const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => {
        resolve(c);
      }));
      expect(code, err.slice(-3000)).to.equal(0);
      const records = readResults(out).records;
      expect(records).to.have.length(3);
      expect(records.every((r) => r.ok)).to.equal(true);
      const report = readReport(`${out}.report.json`);
      expect(report.slaves.reduce((n, s) => n + s.tasks, 0)).to.equal(12);
      expect(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })).to.equal(before);
    } finally {
      // The script tears its namespaces down on SIGTERM; a test that failed waiting must not leave it running.
      if (proc !== undefined && proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      tmp.cleanup();
    }
  });
});
