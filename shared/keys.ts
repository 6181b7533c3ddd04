import { createPrivateKey, createPublicKey } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { curveKeyPair } from 'zeromq';
import { KeyFileError } from './errors.js';
import { makeDirectory } from './make-directory.js';

/**
 * CurveZMQ key files (RFC 26 keys, Z85-encoded as RFC 32 specifies): `NAME.key` holds
 * the secret key (mode 0600), `NAME.pub` the public key. Both are text: one 40-character
 * Z85 key, with `#` comment lines allowed. An allow-list is a file of public keys, one a
 * line, or a folder of `*.pub` files.
 */

/** The Z85 alphabet, ZeroMQ RFC 32. */
const Z85 = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#';
const Z85_INDEX = new Map(Array.from({ length: Z85.length }, (_, i) => [Z85.charAt(i), i]));
/** Length of a Z85-encoded 32-byte CURVE key, characters. */
export const Z85_KEY_LENGTH = 40;
/** A line holding a key: 40 Z85 characters, then nothing or whitespace and a comment. */
const KEY_LINE = /^([0-9a-zA-Z.\-:+=^!/*?&<>()[\]{}@%$#]{40})(?:\s+#.*)?$/;

/** A CURVE key pair, Z85 text. */
export interface KeyPair {
  publicKey: string;
  secretKey: string;
}

/** The public keys a master admits, with the file each came from (for logs). */
export interface AllowList {
  /** Z85 public key -> where it was read, e.g. `slaves/pi-1.pub` or `allowed.txt:3`. */
  keys: ReadonlyMap<string, string>;
  /** The file or folder it was read from. */
  source: string;
}

/**
 * Encodes bytes as Z85 (RFC 32).
 *
 * @throws RangeError when the length is not a multiple of 4
 */
export function z85Encode(bytes: Uint8Array): string {
  if (bytes.length % 4 !== 0) throw new RangeError(`Z85 encodes a multiple of 4 bytes, got ${bytes.length}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let out = '';
  for (let i = 0; i < bytes.length; i += 4) {
    let v = view.getUint32(i);
    const chunk: string[] = [];
    for (let j = 0; j < 5; j++) {
      chunk.unshift(Z85[v % 85] ?? '');
      v = Math.floor(v / 85);
    }
    out += chunk.join('');
  }
  return out;
}

/**
 * Decodes Z85 text (RFC 32).
 *
 * @throws RangeError when the length is not a multiple of 5, a character is not Z85, or a
 *   group overflows 32 bits
 */
export function z85Decode(text: string): Buffer {
  if (text.length % 5 !== 0) throw new RangeError(`Z85 text has a multiple of 5 characters, got ${text.length}`);
  const out = Buffer.alloc((text.length / 5) * 4);
  for (let i = 0; i < text.length; i += 5) {
    let v = 0;
    for (let j = 0; j < 5; j++) {
      const d = Z85_INDEX.get(text[i + j] ?? '');
      if (d === undefined) throw new RangeError(`not a Z85 character: ${JSON.stringify(text[i + j])}`);
      v = v * 85 + d;
    }
    if (v > 0xffffffff) throw new RangeError(`Z85 group ${JSON.stringify(text.slice(i, i + 5))} overflows 32 bits`);
    out.writeUInt32BE(v, (i / 5) * 4);
  }
  return out;
}

/** Whether `text` is a Z85-encoded 32-byte key. */
export function isZ85Key(text: string): boolean {
  if (!KEY_LINE.test(text) || text.length !== Z85_KEY_LENGTH) return false;
  try {
    z85Decode(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * Derives a CURVE public key from its secret key: X25519 of the secret with the base
 * point (CurveZMQ keys are Curve25519 keys, RFC 26), via node:crypto.
 *
 * @param secretKey - Z85 secret key
 * @returns the Z85 public key
 * @throws RangeError when `secretKey` is not Z85 of 32 bytes
 */
export function publicKeyOf(secretKey: string): string {
  const raw = z85Decode(secretKey);
  if (raw.length !== 32) throw new RangeError(`a CURVE secret key is 32 bytes, got ${raw.length}`);
  // PKCS#8 wrapper of a raw X25519 private key (RFC 8410).
  const der = Buffer.concat([Buffer.from('302e020100300506032b656e04220420', 'hex'), raw]);
  const jwk = createPublicKey(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })).export({ format: 'jwk' });
  return z85Encode(Buffer.from(jwk.x ?? '', 'base64url'));
}

/** Keys found in a key file's text: `[line number, key]`; comments and blank lines skipped. */
function keysIn(text: string, file: string): [number, string][] {
  const out: [number, string][] = [];
  const lines = text.split(/\r?\n/);
  for (const [i, rawLine] of lines.entries()) {
    const line = rawLine.trim();
    if (line === '') continue;
    const m = KEY_LINE.exec(line);
    const key = m?.[1];
    if (key !== undefined && isZ85Key(key)) out.push([i + 1, key]);
    else if (line.startsWith('#')) continue;
    else throw new KeyFileError(`${file}:${i + 1}: not a Z85 CURVE key (40 characters) or a # comment`);
  }
  return out;
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new KeyFileError(`cannot read ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/**
 * The kind of key a file says it holds in the header `keygen` writes (`# CurveZMQ secret
 * key of ...` / `# CurveZMQ public key of ...`), if it says.
 */
function declaredKind(text: string): 'secret key' | 'public key' | undefined {
  const m = /^#\s*CurveZMQ (secret|public) key\b/m.exec(text);
  return m === null ? undefined : m[1] === 'secret' ? 'secret key' : 'public key';
}

/** Refuses a key file whose header names the other kind: a `.pub` given as a secret key ran with a made-up key pair. */
function checkKind(text: string, path: string, what: 'secret key' | 'public key' | 'allow-list'): void {
  const kind = declaredKind(text);
  const wanted = what === 'allow-list' ? 'public key' : what;
  if (kind === undefined || kind === wanted) return;
  const hint =
    kind === 'secret key'
      ? 'give the NAME.pub file that keygen wrote beside it (a secret key never leaves its machine)'
      : 'give the NAME.key file that keygen wrote beside it';
  throw new KeyFileError(`${path} is a CurveZMQ ${kind} file (its header says so), not ${what === 'allow-list' ? 'public keys for an allow-list' : `a ${what}`}: ${hint}`);
}

function singleKey(path: string, what: 'secret key' | 'public key'): string {
  const text = readText(path, what);
  checkKind(text, path, what);
  const keys = keysIn(text, path);
  const [first, second] = keys;
  if (first === undefined) throw new KeyFileError(`${path} holds no key (expected one Z85 ${what})`);
  if (second !== undefined) throw new KeyFileError(`${path} holds ${keys.length} keys (expected one ${what})`);
  return first[1];
}

/**
 * Reads a secret key file (`NAME.key`) and derives its public key, so the `.pub` file
 * need not sit next to it.
 *
 * @returns the pair, and whether the file is readable by group or others (callers warn)
 * @throws {@link KeyFileError} when the file is missing, unreadable or holds no single key
 */
export function readSecretKeyFile(path: string): KeyPair & { exposed: boolean } {
  const secretKey = singleKey(path, 'secret key');
  let exposed = false;
  try {
    exposed = (statSync(path).mode & 0o077) !== 0;
  } catch {
    /* read above succeeded; a stat race is harmless */
  }
  return { secretKey, publicKey: publicKeyOf(secretKey), exposed };
}

/**
 * Reads a public key file (`NAME.pub`): one Z85 key, `#` comments allowed.
 *
 * @throws {@link KeyFileError} when the file is missing, unreadable or holds no single key
 */
export function readPublicKeyFile(path: string): string {
  return singleKey(path, 'public key');
}

/**
 * Reads the master's allow-list: a file with one Z85 public key a line (`#` comments and
 * trailing `# comments` allowed), or a folder whose `*.pub` files each hold one key.
 *
 * @throws {@link KeyFileError} when the path is missing, a line or file is not a key, or
 *   no key is found (a master that admits nobody is a mistake)
 */
export function readAllowList(path: string): AllowList {
  let isDir: boolean;
  try {
    isDir = statSync(path).isDirectory();
  } catch (err) {
    throw new KeyFileError(`cannot read allow-list ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const keys = new Map<string, string>();
  if (isDir) {
    const files = readdirSync(path).filter((f) => f.endsWith('.pub')).sort();
    for (const f of files) keys.set(readPublicKeyFile(join(path, f)), join(path, f));
  } else {
    const text = readText(path, 'allow-list');
    checkKind(text, path, 'allow-list');
    for (const [line, key] of keysIn(text, path)) keys.set(key, `${path}:${line}`);
  }
  if (keys.size === 0) {
    throw new KeyFileError(`allow-list ${path} holds no public keys (${isDir ? 'no *.pub files' : 'no key lines'}): no slave could connect`);
  }
  return { keys, source: path };
}

/**
 * Writes a new key pair as `BASE.key` (secret, mode 0600) and `BASE.pub` (public, 0644).
 * Keys come from libzmq's `zmq_curve_keypair` (zeromq.js `curveKeyPair`).
 *
 * @param base - path without extension, e.g. `keys/pi-1`
 * @param force - replace existing files; otherwise an existing file is an error
 * @returns the pair, its files, and whether they replaced an existing pair (with `force`)
 * @throws {@link KeyFileError} when `base` does not end in a file name (empty, a folder, a dot name), a file exists (without `force`) or cannot be written
 */
export function writeKeyPair(base: string, force: boolean): KeyPair & { secretFile: string; publicFile: string; replaced: boolean } {
  // `keygen ''` or `keygen keys/` wrote the hidden files .key and .pub.
  if (base.trim() === '' || base.endsWith('/') || basename(base).startsWith('.')) {
    throw new KeyFileError(`NAME must end in a file name, e.g. keys/pi-1 (writes keys/pi-1.key and keys/pi-1.pub), got ${JSON.stringify(base)}`);
  }
  // `keygen keys/master.key` meant keys/master, not keys/master.key.key.
  base = base.replace(/\.(key|pub)$/, '');
  const pair = curveKeyPair();
  const secretFile = `${base}.key`;
  const publicFile = `${base}.pub`;
  const name = basename(base);
  const flag = force ? 'w' : 'wx';
  const replaced = existsSync(secretFile) || existsSync(publicFile);
  if (!force) {
    for (const f of [secretFile, publicFile]) {
      if (existsSync(f)) throw new KeyFileError(`${f} already exists; pass --force to replace it (the old key stops working)`);
    }
  }
  try {
    // `keygen keys/pi-1` in a fresh checkout: create keys/ (0700: it holds a secret key).
    makeDirectory(dirname(secretFile), 0o700);
    writeFileSync(secretFile, `# CurveZMQ secret key of ${name} (cctv-cluster). Keep it on this machine only.\n${pair.secretKey}\n`, { mode: 0o600, flag });
    // An existing file keeps its mode on overwrite: tighten it explicitly.
    chmodSync(secretFile, 0o600);
    writeFileSync(publicFile, `# CurveZMQ public key of ${name} (cctv-cluster).\n${pair.publicKey}\n`, { mode: 0o644, flag });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new KeyFileError(`${(err as NodeJS.ErrnoException).path ?? base} already exists; pass --force to replace it (the old key stops working)`);
    throw new KeyFileError(`cannot write key files ${secretFile} and ${publicFile}: ${code ?? (err as Error).message}`);
  }
  return { ...pair, secretFile, publicFile, replaced };
}

/** A throw-away client key pair in a private temporary folder (for the master's local slaves). */
export interface EphemeralClientKeys {
  publicKey: string;
  /** Secret key file, mode 0600, in a 0700 folder. */
  secretKeyFile: string;
  /** File holding the server's public key. */
  serverPublicKeyFile: string;
  /** Deletes the folder. */
  cleanup: () => void;
}

/**
 * Creates a client key pair for processes this one starts, written to a fresh private
 * temporary folder together with the server's public key (so `slave` reads them as usual).
 *
 * @param serverPublicKey - Z85 public key of the server the clients connect to
 * @throws Error when the temporary folder cannot be written
 */
export function writeEphemeralClientKeys(serverPublicKey: string): EphemeralClientKeys {
  const dir = mkdtempSync(join(tmpdir(), 'cctv-keys-'));
  const pair = writeKeyPair(join(dir, 'local-slave'), false);
  const serverPublicKeyFile = join(dir, 'master.pub');
  writeFileSync(serverPublicKeyFile, `${serverPublicKey}\n`, { mode: 0o600 });
  return {
    publicKey: pair.publicKey,
    secretKeyFile: pair.secretFile,
    serverPublicKeyFile,
    cleanup: () => {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
