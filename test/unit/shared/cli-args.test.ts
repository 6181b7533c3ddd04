import { expect } from 'chai';
import { join } from 'node:path';
import { numberValue, unknownOptionHint, invokedAs } from '../../../shared/cli-args.js';

const TABLE = {
  every: { type: 'number' },
  'backup-tasks': { type: 'boolean' },
  'max-attempts': { type: 'number' },
  'local-slaves': { type: 'number' },
  overwrite: { type: 'boolean' },
} as const;

describe('unknownOptionHint', () => {
  it('suggests the nearest option for a mistyped one', () => {
    expect(unknownOptionHint('unknown option --evry', ['run', 'x.jpg', '--evry', '3'], TABLE)).to.equal('unknown option --evry (did you mean --every?)');
    expect(unknownOptionHint('unknown option --local-slave', ['run', '--local-slave=2'], TABLE)).to.equal('unknown option --local-slave (did you mean --local-slaves?)');
  });

  it('points an option typed in capitals at its lower-case name', () => {
    expect(unknownOptionHint('unknown option --max-Attempts', ['--max-Attempts', '2'], TABLE)).to.equal('unknown option --max-Attempts (did you mean --max-attempts?)');
  });

  it('names a negated flag as typed, not as yargs reports it, and suggests a negatable one', () => {
    // yargs strips the --no- of an unknown negated flag.
    expect(unknownOptionHint('unknown option --backup-task', ['run', 'x.jpg', '--no-backup-task'], TABLE)).to.equal('unknown option --no-backup-task (did you mean --no-backup-tasks?)');
    expect(unknownOptionHint('unknown option --overwrit', ['--no-overwrit=true'], TABLE)).to.equal('unknown option --no-overwrit (did you mean --no-overwrite?)');
    // Only booleans take --no-: --no-evry is not pointed at --no-every.
    expect(unknownOptionHint('unknown option --evry', ['--no-evry'], TABLE)).to.equal('unknown option --no-evry');
  });

  it('suggests nothing when no option is near, and leaves other messages alone', () => {
    expect(unknownOptionHint('unknown option --bogus', ['--bogus'], TABLE)).to.equal('unknown option --bogus');
    expect(unknownOptionHint('unknown option --x', ['-x'], TABLE)).to.equal('unknown option --x');
    expect(unknownOptionHint('unknown options: d, a, s', ['-das'], TABLE)).to.equal('unknown options: d, a, s');
    expect(unknownOptionHint('--every needs a value', ['--every'], TABLE)).to.equal('--every needs a value');
    // A word after -- is an input, not the flag.
    expect(unknownOptionHint('unknown option --backup-task', ['--backup-task', '--', '--no-backup-task'], TABLE)).to.equal('unknown option --backup-task (did you mean --backup-tasks?)');
  });

  it('knows --help and --version', () => {
    expect(unknownOptionHint('unknown option --hel', ['--hel'], TABLE)).to.equal('unknown option --hel (did you mean --help?)');
    expect(unknownOptionHint('unknown option --versio', ['--versio'], TABLE)).to.equal('unknown option --versio (did you mean --version?)');
  });
});

describe('numberValue', () => {
  it('refuses --no-NAME for a number option by name', () => {
    expect(() => numberValue('every', false)).to.throw('--every takes a number (--no-every is not an option)');
    expect(numberValue('every', '5')).to.equal(5);
    expect(() => numberValue('every', '5x')).to.throw('--every must be a number, got "5x"');
  });
});

describe('invokedAs', () => {
  it('names a command run by its script as `node PATH`, relative to here when inside it, quoted when a shell would split it', () => {
    expect(invokedAs('master', join(process.cwd(), 'bin', 'master.js'))).to.equal('node bin/master.js');
    expect(invokedAs('slave', '/opt/my dir/bin/slave.js')).to.equal("node '/opt/my dir/bin/slave.js'");
    expect(invokedAs('slave', "/opt/it's/slave.js")).to.equal("node '/opt/it'\\''s/slave.js'");
    expect(invokedAs('master', '/usr/local/bin/master'), 'an installed bin').to.equal('master');
  });
});
