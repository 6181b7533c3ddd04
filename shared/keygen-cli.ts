import type { Argv, Options } from 'yargs';
import { invokedAs } from './cli-args.js';
import { KeyFileError } from './errors.js';
import { writeKeyPair } from './keys.js';

/**
 * `master keygen` and `slave keygen`: one implementation both command lines offer.
 * Writes a CurveZMQ key pair (RFC 26) as Z85 text files `NAME.key` and `NAME.pub`.
 */

/** Which command line is asking: it sets the default key name. */
export type KeygenTool = 'master' | 'slave';

/** A parsed `keygen` command. */
export interface KeygenArgs {
  command: 'keygen';
  /** Path of the key pair without extension, e.g. `keys/pi-1`. */
  name: string;
  /** Replace existing files. */
  force: boolean;
}

/**
 * The roles of the keys, shown by `keygen --help`, with both commands named as this one was
 * started ({@link invokedAs}: `node bin/master.js` on a checkout).
 */
export function keygenHelp(): string {
  const script = process.argv[1];
  const as = (tool: KeygenTool): string => invokedAs(tool, script?.replace(/(master|slave)\.js$/, `${tool}.js`));
  const [master, slave] = [as('master'), as('slave')];
  return [
    'CurveZMQ keys encrypt all master-slave traffic and decide which slaves may connect:',
    `  1. on the master:     ${master} keygen master      -> master.key (secret, mode 0600), master.pub`,
    `  2. on each slave:     ${slave} keygen pi-1         -> pi-1.key (secret, mode 0600), pi-1.pub`,
    '  3. copy master.pub to every slave; copy each slave\'s .pub into one folder (or one file,',
    '     a key a line) on the master: that is the master\'s allow-list.',
    `  4. ${master} run INPUT --curve-secret-key master.key --allow-keys slaves/ --bind tcp://0.0.0.0:5570`,
    `     ${slave} --connect tcp://MASTER:5570 --curve-secret-key pi-1.key --master-public-key master.pub`,
    'A .key file never leaves its machine; a .pub file is safe to copy.',
  ].join('\n');
}

/** The options of `keygen` (besides its NAME), for yargs and for the checks on what was typed. */
export const KEYGEN_OPTIONS = {
  force: { type: 'boolean', default: false, description: 'replace existing key files (the old keys stop working)' },
} as const satisfies Record<string, Options>;

/**
 * Adds the `keygen` positional and options to a yargs command.
 *
 * @param tool - which command line: sets the default NAME (`master`, or `slave`)
 */
export function keygenOptions<T>(y: Argv<T>, tool: KeygenTool) {
  return y
    .positional('name', { type: 'string', default: tool, description: 'path of the key pair without extension: writes NAME.key and NAME.pub' })
    .options(KEYGEN_OPTIONS)
    // Strict about options only: yargs' strict mode called a second NAME an unknown command.
    .strict(false)
    .strictCommands(false)
    .strictOptions(true)
    .check((a) => {
      const extra = a._.slice(1);
      if (extra.length > 0) throw new Error(`keygen writes one key pair: give one NAME, not also ${extra.map(String).join(' ')}`);
      return true;
    })
    .example(`$0 keygen ${tool === 'master' ? 'master' : 'pi-1'}`, tool === 'master' ? 'the master key pair (master.pub goes to every slave)' : 'this slave\'s key pair (pi-1.pub goes into the master\'s allow-list)')
    .epilog(keygenHelp());
}

/**
 * Writes the key pair and prints what to do with it.
 *
 * @returns exit code: 0 written, 2 refused (file exists without --force, or not writable)
 * @throws any error of {@link writeKeyPair} that is not a {@link KeyFileError}
 */
export function runKeygen(tool: KeygenTool, args: KeygenArgs, out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): number {
  try {
    const pair = writeKeyPair(args.name, args.force);
    const next = tool === 'master'
      ? `copy ${pair.publicFile} to every slave (slave --master-public-key ${pair.publicFile});\nstart the master with --curve-secret-key ${pair.secretFile} --allow-keys DIR_OR_FILE_OF_SLAVE_KEYS`
      : `copy ${pair.publicFile} into the master's --allow-keys folder (or add its key line to the allow-list file);\nstart this slave with --curve-secret-key ${pair.secretFile} --master-public-key master.pub`;
    const how = pair.replaced ? 'replaced the key pair in' : 'wrote';
    const old = pair.replaced ? `\nthe old key pair no longer works: give ${pair.publicFile} again to every peer that held the old one` : '';
    out.write(`${how} ${pair.secretFile} (secret, mode 0600) and ${pair.publicFile}\npublic key: ${pair.publicKey}${old}\n${next}\n`);
    return 0;
  } catch (e) {
    if (e instanceof KeyFileError) {
      err.write(`${tool} keygen: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
}
