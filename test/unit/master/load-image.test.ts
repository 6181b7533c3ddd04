import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadImageFile } from '../../../master/ingest/expand.js';
import { InputError } from '../../../shared/errors.js';
import { SAMPLE_FACES, useTempDir } from '../../helpers/fixtures.js';

const IMAGE = join(SAMPLE_FACES, '2008_001009.jpg');

/** This process's open-files limit, soft and hard (`/proc/self/limits`). */
function fileLimits(): { soft: string; hard: string } {
  const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files')) ?? '';
  const [soft = 'unlimited', hard = 'unlimited'] = line.replace('Max open files', '').trim().split(/\s+/);
  return { soft, hard };
}

describe('loadImageFile', () => {
  const tmp = useTempDir();

  it('fails an image whose cause may pass (a file gone, as from a disk unplugged) as retryable, and one that would fail again as not', async () => {
    const gone = await loadImageFile(join(tmp.dir, 'gone.jpg'), 1 << 20).then(() => undefined, (err: unknown) => err);
    expect(gone).to.be.instanceOf(InputError);
    expect(gone).to.include({ retryable: true });
    expect((gone as Error).message).to.match(/cannot read \S+gone\.jpg: ENOENT/);
    const empty = await loadImageFile(tmp.file('empty.jpg', ''), 1 << 20).then(() => undefined, (err: unknown) => err);
    expect(empty).to.be.instanceOf(InputError);
    expect(empty).to.include({ retryable: false, message: 'image file is empty (0 bytes)' });
  });

  it('waits out a full file table (EMFILE) and reads the file once descriptors are free again', async () => {
    // prlimit(1) on this process: the soft limit set just above the descriptors it holds.
    const before = fileLimits();
    const open = readdirSync('/proc/self/fd').length;
    execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${open + 32}:${before.hard}`]);
    const held: number[] = [];
    try {
      for (;;) {
        try {
          held.push(openSync('/dev/null', 'r'));
        } catch {
          break;
        }
        if (held.length > 256) throw new Error(`prlimit did not lower this process's open-files limit (${held.length} opened)`);
      }
      // Freed 300 ms on: the read waits (50, then 200, then 500 ms) rather than failing the image.
      const freeing = setTimeout(() => {
        for (const fd of held.splice(0)) closeSync(fd);
      }, 300);
      const bytes = await loadImageFile(IMAGE, 1 << 24).finally(() => {
        clearTimeout(freeing);
      });
      expect(bytes.equals(readFileSync(IMAGE))).to.equal(true);
    } finally {
      for (const fd of held) closeSync(fd);
      execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${before.soft}:${before.hard}`]);
    }
  });
});
