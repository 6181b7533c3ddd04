import { expect } from 'chai';
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { curveKeyPair } from 'zeromq';
import { KeyFileError } from '../../../shared/errors.js';
import { runKeygen } from '../../../shared/keygen-cli.js';
import { isZ85Key, publicKeyOf, readAllowList, readPublicKeyFile, readSecretKeyFile, writeKeyPair, z85Decode, z85Encode } from '../../../shared/keys.js';
import { tempDir } from '../../helpers/fixtures.js';

describe('CURVE key files', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => {
    tmp = tempDir();
  });
  afterEach(() => {
    tmp.cleanup();
  });

  it('encodes and decodes Z85 (RFC 32 test vector)', () => {
    const bytes = Buffer.from([0x86, 0x4f, 0xd2, 0x6f, 0xb5, 0x59, 0xf7, 0x5b]);
    expect(z85Encode(bytes)).to.equal('HelloWorld');
    expect(z85Decode('HelloWorld')).to.deep.equal(bytes);
    expect(() => z85Decode('Hello Worl')).to.throw(RangeError);
    expect(() => z85Decode('%%%%%')).to.throw(RangeError, /overflows/);
  });

  it('derives the public key libzmq made from the secret key', () => {
    for (let i = 0; i < 5; i++) {
      const pair = curveKeyPair();
      expect(isZ85Key(pair.publicKey)).to.equal(true);
      expect(publicKeyOf(pair.secretKey)).to.equal(pair.publicKey);
    }
  });

  it('writes NAME.key (0600) and NAME.pub, refuses to overwrite unless forced', () => {
    const base = join(tmp.dir, 'pi-1');
    const pair = writeKeyPair(base, false);
    expect(statSync(`${base}.key`).mode & 0o777).to.equal(0o600);
    const read = readSecretKeyFile(`${base}.key`);
    expect(read).to.deep.equal({ secretKey: pair.secretKey, publicKey: pair.publicKey, exposed: false });
    expect(readPublicKeyFile(`${base}.pub`)).to.equal(pair.publicKey);
    expect(() => writeKeyPair(base, false)).to.throw(KeyFileError, /already exists; pass --force/);
    const again = writeKeyPair(base, true);
    expect([pair.replaced, again.replaced]).to.deep.equal([false, true]);
    expect(again.publicKey).to.not.equal(pair.publicKey);
    expect(readPublicKeyFile(`${base}.pub`)).to.equal(again.publicKey);
    // keygen says so, and what it means for the peers.
    let said = '';
    const out = new Writable({
      write: (chunk: Buffer, _encoding, done) => {
        said += chunk.toString();
        done();
      },
    });
    expect(runKeygen('slave', { command: 'keygen', name: base, force: true }, out)).to.equal(0);
    const lines = said.split('\n');
    expect(lines[0]).to.equal(`replaced the key pair in ${base}.key (secret, mode 0600) and ${base}.pub`);
    expect(lines[2]).to.equal(`the old key pair no longer works: give ${base}.pub again to every peer that held the old one`);
  });

  it('refuses a public key file given as a secret key, and a secret key file given as a public key or allow-list', () => {
    const base = join(tmp.dir, 'm');
    writeKeyPair(base, false);
    expect(() => readSecretKeyFile(`${base}.pub`)).to.throw(KeyFileError, /m\.pub is a CurveZMQ public key file \(its header says so\), not a secret key: give the NAME\.key file/);
    expect(() => readPublicKeyFile(`${base}.key`)).to.throw(KeyFileError, /m\.key is a CurveZMQ secret key file .*not a public key: give the NAME\.pub file/);
    expect(() => readAllowList(`${base}.key`)).to.throw(KeyFileError, /secret key file .*not public keys for an allow-list/);
  });

  it('reads an allow-list file with comments, or a folder of .pub files', () => {
    const [a, b] = [curveKeyPair().publicKey, curveKeyPair().publicKey];
    const file = join(tmp.dir, 'allowed.txt');
    writeFileSync(file, `# slaves of site 1\n\n${a}\n  ${b}   # the pi in the hall\n`);
    const list = readAllowList(file);
    expect([...list.keys.keys()]).to.deep.equal([a, b]);
    expect(list.keys.get(b)).to.equal(`${file}:4`);

    const dir = join(tmp.dir, 'slaves');
    mkdirSync(dir);
    writeFileSync(join(dir, 'pi-1.pub'), `# pi-1\n${a}\n`);
    writeFileSync(join(dir, 'pi-2.pub'), `${b}\n`);
    writeFileSync(join(dir, 'notes.txt'), 'not a key');
    expect(readAllowList(dir).keys.get(a)).to.equal(join(dir, 'pi-1.pub'));
    expect(readAllowList(dir).keys.size).to.equal(2);
  });

  it('names the file and line of a bad key, and refuses an empty allow-list', () => {
    const file = join(tmp.dir, 'allowed.txt');
    writeFileSync(file, `${curveKeyPair().publicKey}\nnot-a-key\n`);
    expect(() => readAllowList(file)).to.throw(KeyFileError, /allowed\.txt:2: not a Z85 CURVE key/);
    writeFileSync(file, '# nobody yet\n');
    expect(() => readAllowList(file)).to.throw(KeyFileError, /holds no public keys/);
    expect(() => readAllowList(join(tmp.dir, 'missing'))).to.throw(KeyFileError, /ENOENT/);
    const two = join(tmp.dir, 'two.pub');
    writeFileSync(two, `${curveKeyPair().publicKey}\n${curveKeyPair().publicKey}\n`);
    expect(() => readPublicKeyFile(two)).to.throw(KeyFileError, /holds 2 keys/);
  });
});
