import { expect } from 'chai';
import { spawn } from 'node:child_process';
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
    try {
      const out = join(tmp.dir, 'lc.jsonl');
      const before = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
      const proc = spawn('bash', [join(ROOT, 'deploy/local-cluster.sh'), '--slaves', '2', '--threads', '1', '--timeout', '150', '--', SAMPLE_FACES, '--out', out, '--overwrite', '--progress', 'none'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      let err = '';
      proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
      proc.stdout.resume();
      const code = await new Promise<number | null>((resolve) => proc.on('exit', (c) => {
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
      tmp.cleanup();
    }
  });
});
