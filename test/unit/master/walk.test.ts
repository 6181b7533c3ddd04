import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { walkMedia } from '../../../master/ingest/walk.js';
import { SAMPLE_FACES, useTempDir } from '../../helpers/fixtures.js';

describe('walkMedia', () => {
  const tmp = useTempDir();

  it('walks depth first in listing order, down a tree 2,000 folders deep (a yield* per level overflowed the stack there)', async () => {
    const root = join(tmp.dir, 'root');
    const deep = join(root, ...Array<string>(2000).fill('d'));
    mkdirSync(deep, { recursive: true });
    copyFileSync(join(SAMPLE_FACES, '2008_001009.jpg'), join(deep, 'bottom.jpg'));
    writeFileSync(join(root, 'top.jpg'), 'x');
    mkdirSync(join(root, 'd', 'e'));
    writeFileSync(join(root, 'd', 'e', 'side.jpg'), 'x');
    const found: string[] = [];
    try {
      for await (const entry of walkMedia(root)) found.push(entry.error ?? entry.path.slice(root.length + 1));
    } finally {
      // rmSync's own recursion overflows the stack in this tree too.
      execFileSync('rm', ['-rf', root]);
    }
    expect(found).to.have.length(3);
    expect(found[0]).to.equal('top.jpg');
    // Both under d/: each folder's files come before its subfolders', in either listing order.
    expect(found.slice(1).map((p) => p.split('/').pop()).sort()).to.deep.equal(['bottom.jpg', 'side.jpg']);
    expect(found.find((p) => p.endsWith('bottom.jpg'))?.split('/')).to.have.length(2001);
  });
});
