import { expect } from 'chai';
import { lstatSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileReplacing } from '../../../shared/write-replacing.js';
import { useTempDir } from '../../helpers/fixtures.js';

describe('writeFileReplacing', () => {
  const tmp = useTempDir();

  it('replaces a file whole, and a symbolic link instead of writing through it', () => {
    const target = join(tmp.dir, 'report.json');
    writeFileSync(target, 'old');
    writeFileReplacing(target, '{"new": true}');
    expect(readFileSync(target, 'utf8')).to.equal('{"new": true}');
    const input = join(tmp.dir, 'input.jpg');
    writeFileSync(input, 'an input image');
    const link = join(tmp.dir, 'link.jpg');
    symlinkSync(input, link);
    writeFileReplacing(link, Buffer.from('annotated'));
    expect(readFileSync(input, 'utf8')).to.equal('an input image');
    expect(lstatSync(link).isSymbolicLink()).to.equal(false);
    expect(readFileSync(link, 'utf8')).to.equal('annotated');
    expect(readdirSync(tmp.dir).sort()).to.deep.equal(['input.jpg', 'link.jpg', 'report.json']);
  });

  it('throws the error of a write that fails and leaves no temporary file', () => {
    // A folder (not empty) in the way: the rename fails after the temporary file is written.
    const folder = join(tmp.dir, 'in-the-way');
    mkdirSync(folder);
    writeFileSync(join(folder, 'x'), 'x');
    expect(() => {
      writeFileReplacing(folder, 'data');
    }).to.throw(/EISDIR|ENOTEMPTY|EEXIST/);
    expect(readdirSync(tmp.dir)).to.deep.equal(['in-the-way']);
  });
});
