import { expect } from 'chai';
import { closeSync, constants as fsConstants, copyFileSync, createReadStream, existsSync, linkSync, lstatSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:net';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { MASTER_EXIT } from '../../master/master.js';
import { SAMPLE_FACES, SAMPLE_VIDEO, readReport, readResults, useTempDir } from '../helpers/fixtures.js';
import { freePort } from '../helpers/ports.js';
import { MASTER_BIN, SLAVE_BIN, startMaster, startSlave, waitExit, waitFor } from '../helpers/processes.js';

/** One small image: a run with `--tasks edge` on it takes a few seconds, most of it the local slave starting. */
const IMAGE = join(SAMPLE_FACES, '2008_001009.jpg');
/** Flags of every test run: no progress bar, no metrics port, any free port. */
const QUIET = ['--progress', 'none', '--metrics-port', '0', '--bind', 'tcp://127.0.0.1:*'];

async function run(start: typeof startMaster, args: string[]): Promise<{ code: number | string; out: string; err: string }> {
  const p = start(args);
  const code = await waitExit(p, 30_000);
  return { code, out: p.stdout(), err: p.stderr() };
}

describe('command-line interface', function () {
  this.timeout(60_000);
  const tmp = useTempDir();

  it('master run --help documents every flag', async () => {
    const { code, out } = await run(startMaster, ['run', '--help']);
    expect(code).to.equal(0);
    for (const flag of ['--tasks', '--out', '--report', '--resume', '--overwrite', '--every', '--frame-format', '--jpeg-quality', '--bind', '--allow-insecure', '--curve-secret-key', '--allow-keys', '--local-slaves', '--local-threads', '--max-attempts', '--lease', '--heartbeat-interval', '--heartbeat-liveness', '--window', '--max-image-bytes', '--max-message-bytes', '--progress', '--log-level', '--log-json']) {
      expect(out, flag).to.include(flag);
    }
  });

  it('master and its local slave run compiled from the sources, without tsx (bin/compiled-entry.mjs)', async () => {
    const { code, err } = await run(startMaster, ['run', IMAGE, '--tasks', 'edge', '--out', join(tmp.dir, 'c.jsonl'), '--log-level', 'debug', '--local-threads', '1', ...QUIET]);
    expect(code).to.equal(0);
    // Each logs the module it runs: the compiled one, not the .ts source.
    expect(err).to.match(/\[master\] running \S*\/node_modules\/\.cache\/cctv-cluster\/master-cli-[0-9a-f]{16}\.mjs\n/);
    expect(err).to.match(/\[slave\] running \S*\/node_modules\/\.cache\/cctv-cluster\/slave-cli-[0-9a-f]{16}\.mjs\n/);
  });

  it('a limit of 64 open files (`ulimit -n 64`): master and slave exit 1 naming the limit and how to raise it, not with a loader stack trace', () => {
    for (const bin of [MASTER_BIN, SLAVE_BIN]) {
      // The limit holds in the shell and its child only; the shell prints the exit status and exits 0.
      const out = execFileSync('sh', ['-c', 'ulimit -n 64 && "$0" "$@" 2>&1; echo "exit $?"', process.execPath, bin, '--help'], { encoding: 'utf8', timeout: 30_000 });
      expect(out, bin).to.match(/^\S+\.js: cannot load its modules: too many open files \(EMFILE\): this process may open 64 files at once \(`ulimit -n`\); raise it to at least 128, e.g. `ulimit -n 1024`, and start again\nexit 1\n$/);
    }
  });

  it('slave --help documents every flag', async () => {
    const { code, out } = await run(startSlave, ['--help']);
    expect(code).to.equal(0);
    for (const flag of ['--connect', '--threads', '--prefetch', '--slave-id', '--heartbeat-interval', '--heartbeat-liveness', '--reconnect-max', '--task-timeout', '--max-image-pixels', '--memory-budget', '--max-image-bytes', '--max-message-bytes', '--curve-secret-key', '--master-public-key', '--drain-timeout', '--log-level', '--log-json']) {
      expect(out, flag).to.include(flag);
    }
  });

  it('counts the cores it may run on for its default workers: one under `taskset -c 0` (a CPU affinity mask, as a cpuset gives)', () => {
    const help = execFileSync('taskset', ['-c', '0', process.execPath, SLAVE_BIN, '--help'], { encoding: 'utf8', timeout: 30_000 });
    expect(help).to.match(/--threads .*fewer where memory is short: ~\d+ MiB each; 1 here\)/);
  });

  it('keygen --help explains the roles of the keys, on both command lines', async () => {
    for (const start of [startMaster, startSlave]) {
      const { code, out } = await run(start, ['keygen', '--help']);
      expect(code).to.equal(0);
      expect(out).to.include('--force');
      expect(out).to.match(/copy master\.pub to every slave/);
      expect(out).to.match(/each slave's \.pub into one folder/);
      // Both commands as a checkout runs them (a bare `master` is no command there).
      expect(out).to.include('1. on the master:     node bin/master.js keygen master');
      expect(out).to.include('2. on each slave:     node bin/slave.js keygen pi-1');
    }
  });

  it('keygen creates a missing folder for the keys (mode 0700), as in `keygen keys/master` on a fresh checkout', async () => {
    const fresh = join(tmp.dir, 'fresh');
    mkdirSync(fresh);
    const m = await run((a) => startMaster(a, { cwd: fresh }), ['keygen', 'keys/master']);
    expect(m.code, m.err).to.equal(0);
    const s = await run((a) => startSlave(a, { cwd: fresh }), ['keygen', 'keys/slaves/pi-1']);
    expect(s.code, s.err).to.equal(0);
    for (const f of ['keys/master.key', 'keys/master.pub', 'keys/slaves/pi-1.key', 'keys/slaves/pi-1.pub']) expect(existsSync(join(fresh, f)), f).to.equal(true);
    expect(statSync(join(fresh, 'keys')).mode & 0o777).to.equal(0o700);
    expect(statSync(join(fresh, 'keys/master.key')).mode & 0o777).to.equal(0o600);
  });

  it('refuses half a CURVE configuration', async () => {
    const m = await run(startMaster, ['run', 'samples', '--curve-secret-key', 'master.key']);
    expect(m.code).to.equal(MASTER_EXIT.usage);
    expect(m.err).to.match(/^master: --curve-secret-key needs --allow-keys too \(/m);
    const s = await run(startSlave, ['--master-public-key', 'master.pub']);
    expect(s.code).to.equal(2);
    expect(s.err).to.match(/^slave: --master-public-key needs --curve-secret-key too \(/m);
    const k = await run(startSlave, ['--curve-secret-key', 'no/such.key', '--master-public-key', 'master.pub']);
    expect(k.code).to.equal(2);
    expect(k.err).to.match(/cannot read secret key no\/such\.key: ENOENT/);
  });

  it('refuses a mistyped flag, naming the nearest option and a negated flag as typed', async () => {
    const { code, err } = await run(startMaster, ['run', 'x.jpg', '--evry', '3']);
    expect(code).to.equal(MASTER_EXIT.usage);
    expect(err).to.match(/^master: unknown option --evry \(did you mean --every\?\)$/m);
    expect(err).to.match(/Run `node bin\/master\.js run --help` for the options/);
    // yargs named it --backup-task.
    const neg = await run(startMaster, ['run', 'x.jpg', '--no-backup-task']);
    expect(neg.code).to.equal(MASTER_EXIT.usage);
    expect(neg.err).to.match(/^master: unknown option --no-backup-task \(did you mean --no-backup-tasks\?\)$/m);
    // A wildcard copied from the master's --bind: refused up front (it was "fatal Invalid argument", exit 1).
    const star = await run(startSlave, ['--connect', 'tcp://*:5570']);
    expect(star.code).to.equal(2);
    expect(star.err).to.match(/^slave: --connect takes the master's address and port, e\.g\. tcp:\/\/192\.168\.1\.10:5570; \* is for the master's --bind/m);
    const s = await run(startSlave, ['--conect', 'tcp://127.0.0.1:1']);
    expect(s.code).to.equal(2);
    expect(s.err).to.match(/^slave: unknown option --conect \(did you mean --connect\?\)$/m);
    const num = await run(startMaster, ['run', 'x.jpg', '--no-every']);
    expect(num.err).to.match(/^master: --every takes a number \(--no-every is not an option\)$/m);
  });

  it('names an unknown option first, even when it swallowed the input after it, and an unknown command as such', async () => {
    const o = await run(startMaster, ['run', '--bogus', IMAGE, ...QUIET]);
    expect(o.code).to.equal(MASTER_EXIT.usage);
    expect(o.err).to.match(/^master: unknown option --bogus\n/);
    const c = await run(startMaster, ['bogus', '--out', 'x.jsonl', ...QUIET]);
    expect(c.code).to.equal(MASTER_EXIT.usage);
    expect(c.err).to.match(/^master: unknown command bogus; commands: run, keygen\n/);
    expect(c.err).to.not.match(/progress|metrics|bind/);
    const s = await run(startSlave, ['--bogus']);
    expect(s.code).to.equal(2);
    expect(s.err).to.match(/^slave: unknown option --bogus\n/);
    const w = await run(startSlave, ['bogus']);
    expect(w.code).to.equal(2);
    expect(w.err).to.match(/^slave: unexpected argument "bogus": slave takes only options/);
    // Named as typed, not also as camelCase ("Unknown arguments: key-size, keySize").
    const k = await run(startSlave, ['keygen', join(tmp.dir, 'k'), '--key-size', '256']);
    expect(k.code).to.equal(2);
    expect(k.err).to.match(/^slave: unknown option --key-size\n/);
    // The logging options, as `master keygen` takes them.
    expect((await run(startSlave, ['keygen', join(tmp.dir, 'k'), '--log-level', 'warn', '--log-json'])).code).to.equal(0);
    const mk = await run(startMaster, ['run', IMAGE, '--max-Attempts', '2', ...QUIET]);
    expect(mk.err).to.match(/^master: unknown option --max-Attempts \(did you mean --max-attempts\?\)\n/);
    const short = await run(startMaster, ['run', IMAGE, '-x', ...QUIET]);
    expect(short.err).to.match(/^master: unknown option -x\n/);
    // A file named like an option gets a hint; a mistyped command points at the top help.
    copyFileSync(IMAGE, join(tmp.dir, '-dash.jpg'));
    const dashed = await run((a) => startMaster(a, { cwd: tmp.dir }), ['run', '-dash.jpg', ...QUIET]);
    expect(dashed.err).to.match(/^master: unknown options: d, a, s\n\("-dash\.jpg" is a file: put `--` before file names that begin with -, e\.g\. `node \/\S+\/bin\/master\.js run -- -dash\.jpg`\)\nRun `node \/\S+\/bin\/master\.js run --help`/);
    // Only the mistyped word is named (it was "unknown commands: runn, x"), and a command in
    // capitals is pointed at its lower-case name.
    const typo = await run(startMaster, ['runn', 'x']);
    // The pointer to the help names the command as it was typed: a bare `master` is no command on a checkout.
    expect(typo.err).to.match(/^master: unknown command runn; commands: run, keygen\nRun `node bin\/master\.js --help` for the options\.\n/);
    const upper = await run(startMaster, ['RUN', 'x.jpg']);
    expect(upper.code).to.equal(MASTER_EXIT.usage);
    expect(upper.err).to.match(/^master: unknown command RUN; commands: run, keygen \(lower case: `master run`\)\n/);
    const kg = await run(startMaster, ['keygen', '--bogus']);
    expect(kg.err).to.match(/^master: unknown option --bogus\nRun `node bin\/master\.js keygen --help` for the options\.\n/);
    // A second NAME is named as such (it was "unknown command b"), and no key pair is written.
    for (const start of [startMaster, startSlave]) {
      const two = await run(start, ['keygen', join(tmp.dir, 'a'), join(tmp.dir, 'b')]);
      expect(two.code).to.equal(2);
      expect(two.err).to.match(/^(master|slave): keygen writes one key pair: give one NAME, not also \S+\/b\n/);
      expect(existsSync(join(tmp.dir, 'a.key'))).to.equal(false);
    }
  });

  it('an option given twice takes its last value, on both command lines, without a crash', async () => {
    // The last value is the bad one, so each run stops at its check, naming it (not "5,0" or a TypeError).
    const cases: [typeof startMaster, string[], RegExp][] = [
      [startMaster, ['--every', '5', '--every', '0'], /^master: --every must be an integer from 1 to 1000000, got 0$/m],
      [startMaster, ['--tasks', 'edge', '--tasks', 'bogus'], /^master: --tasks has unknown kind "bogus"/m],
      [startMaster, ['--annotate', 'a', '--annotate', ' '], /^master: --annotate must name a folder$/m],
      [startMaster, ['--out', 'a.jsonl', '--out', ''], /^master: --out must name a file, got ""$/m],
      [startMaster, ['--log-level', 'warn', '--log-level', 'loud'], /^master: Invalid values:\n\s+Argument: log-level, Given: "loud"/m],
      [startSlave, ['--connect', 'tcp://127.0.0.1:5570', '--connect', 'nowhere'], /^slave: --connect must be an endpoint like tcp:\/\/127\.0\.0\.1:5570, got "nowhere"$/m],
      [startSlave, ['--log-level', 'warn', '--log-level', 'loud'], /^slave: Invalid values:\n\s+Argument: log-level, Given: "loud"/m],
    ];
    for (const [start, flags, message] of cases) {
      // OUT in the temporary folder, in case a check fails and the batch runs.
      const r = await run(start, start === startMaster ? ['run', IMAGE, ...QUIET, '--out', join(tmp.dir, 'x.jsonl'), ...flags] : flags);
      expect(r.code, flags.join(' ')).to.equal(2);
      expect(r.err, flags.join(' ')).to.match(message);
      expect(r.err, flags.join(' ')).to.not.match(/TypeError|\n\s+at /);
    }
    // And a run takes the last of each.
    const [first, out, report] = [join(tmp.dir, 'first.jsonl'), join(tmp.dir, 'last.jsonl'), join(tmp.dir, 'last-report.json')];
    const r = await run(startMaster, ['run', IMAGE, ...QUIET, '--tasks', 'corner', '--tasks', 'edge', '--out', first, '--out', out, '--report', join(tmp.dir, 'r1.json'), '--report', report, '--every', '5', '--every', '6', '--log-level', 'warn', '--log-level', 'info', '--local-threads', '1']);
    expect(r.code, r.err).to.equal(0);
    expect(readResults(out).header['settings']).to.include({ every: 6 }).and.to.have.deep.property('tasks', ['edge']);
    expect(readResults(out).records).to.have.length(1);
    expect(readReport(report).images).to.equal(1);
    expect(existsSync(first) || existsSync(join(tmp.dir, 'r1.json'))).to.equal(false);
    expect(r.err).to.match(/info +\[master\] listening/);
  });

  it('refuses an option given without its value (last word, or followed by another flag)', async () => {
    for (const flag of ['--local-threads', '--tasks', '--every', '--max-attempts', '--config', '--bind', '--out', '--progress']) {
      const r = await run(startMaster, ['run', IMAGE, '--progress', 'none', '--metrics-port', '0', '--out', join(tmp.dir, 'x.jsonl'), flag]);
      expect(r.code, flag).to.equal(MASTER_EXIT.usage);
      expect(r.err, flag).to.match(new RegExp(`^master: ${flag} needs a value\n`));
    }
    const f = await run(startMaster, ['run', IMAGE, '--out', join(tmp.dir, 'x.jsonl'), '--tasks', '--every', '3']);
    expect(f.code).to.equal(MASTER_EXIT.usage);
    expect(f.err).to.match(/^master: --tasks needs a value\n/);
    for (const args of [['--connect'], ['--connect', 'tcp://127.0.0.1:5570', '--connect'], ['--threads', '--connect', 'tcp://127.0.0.1:5570']]) {
      const s = await run(startSlave, args);
      expect(s.code, args.join(' ')).to.equal(2);
      expect(s.err, args.join(' ')).to.match(new RegExp(`^slave: ${args.at(-1) === '--connect' ? '--connect' : '--threads'} needs a value\n`));
    }
  });

  it('refuses a numeric option whose value is empty or not a plain number, quoting it', async () => {
    const cases: [string[], RegExp][] = [
      [['--every='], /^master: --every needs a value\n/],
      [['--max-image-bytes', '16MiB'], /^master: --max-image-bytes must be a number, got "16MiB"\n/],
      [['--window', '0x10'], /^master: --window must be a number, got "0x10"\n/],
      [['--every', '2', '--every', 'three'], /^master: --every must be a number, got "three"\n/],
    ];
    for (const [args, message] of cases) {
      const r = await run(startMaster, ['run', IMAGE, ...QUIET, '--out', join(tmp.dir, 'n.jsonl'), ...args]);
      expect(r.code, args.join(' ')).to.equal(MASTER_EXIT.usage);
      expect(r.err, args.join(' ')).to.match(message);
    }
    const s = await run(startSlave, ['--threads', '2x']);
    expect(s.code).to.equal(2);
    expect(s.err).to.match(/^slave: --threads must be a number or auto, got "2x"\n/);
    // A plain number in any decimal spelling still works, the last one counting.
    const out = join(tmp.dir, 'n.jsonl');
    const ok = await run(startMaster, ['run', IMAGE, '--tasks', 'edge', '--local-threads', '1', ...QUIET, '--out', out, '--overwrite', '--max-image-bytes', '1e7', '--every', 'x', '--every', '3']);
    expect(ok.code, ok.err).to.equal(0);
    expect(readResults(out).header['settings']).to.include({ every: 3 });
  });

  it('refuses a boolean option given a value other than true or false, which yargs would read as false', async () => {
    const cases: [string[], RegExp][] = [
      [['--backup-tasks=yes'], /^master: --backup-tasks takes true or false, got "yes"\n/],
      [['--overwrite=1'], /^master: --overwrite takes true or false, got "1"\n/],
      [['--log-json=TRUE'], /--log-json takes true or false, got "TRUE"/],
    ];
    for (const [args, message] of cases) {
      const r = await run(startMaster, ['run', IMAGE, ...QUIET, '--out', join(tmp.dir, 'b.jsonl'), ...args]);
      expect(r.code, args.join(' ')).to.equal(MASTER_EXIT.usage);
      expect(r.err, args.join(' ')).to.match(message);
      expect(existsSync(join(tmp.dir, 'b.jsonl')), args.join(' ')).to.equal(false);
    }
    const s = await run(startSlave, ['--log-json=on']);
    expect(s.code).to.equal(2);
    expect(s.err).to.match(/--log-json takes true or false, got "on"/);
    const k = await run(startSlave, ['keygen', join(tmp.dir, 'k'), '--force=yes']);
    expect(k.code).to.equal(2);
    expect(k.err).to.match(/^slave: --force takes true or false, got "yes"\n/);
    expect(existsSync(join(tmp.dir, 'k.key'))).to.equal(false);
    // true and false themselves still work; a word after -- is an input, not a value.
    const out = join(tmp.dir, 'b.jsonl');
    const ok = await run(startMaster, ['run', '--tasks', 'edge', '--local-threads', '1', ...QUIET, '--out', out, '--backup-tasks=false', '--overwrite=true', '--', IMAGE]);
    expect(ok.code, ok.err).to.equal(0);
    expect(readResults(out).records).to.have.length(1);
  });

  it('takes every word after -- as an input, even one that starts with a dash', async () => {
    const odd = join(tmp.dir, '-w.jpg');
    copyFileSync(IMAGE, odd);
    const out = join(tmp.dir, 'dash.jsonl');
    const r = await run(startMaster, ['run', '--tasks', 'edge', '--out', out, '--local-threads', '1', ...QUIET, '--', odd]);
    expect(r.code, r.err).to.equal(0);
    expect(readResults(out).records.map((x) => x.source)).to.deep.equal([odd]);
    // Also after inputs given before it; a flag after -- is an input too (here: not found).
    const m = await run(startMaster, ['run', IMAGE, '--tasks', 'edge', ...QUIET, '--', '--every']);
    expect(m.code).to.equal(MASTER_EXIT.usage);
    expect(m.err).to.match(/input not found: --every/);
  });

  it('refuses a bad --out, --report or --annotate path up front, naming the option and the problem', async () => {
    const dir = join(tmp.dir, 'a-dir');
    mkdirSync(dir);
    const file = tmp.file('a-file.jpg', 'not an image');
    const cases: [string[], RegExp][] = [
      [['--out', ''], /^master: --out must name a file, got ""$/m],
      [['--out', join(tmp.dir, 'no/such/dir/c.jsonl')], /^master: --out \S+c\.jsonl: directory \S+no\/such\/dir does not exist$/m],
      [['--out', dir, '--overwrite'], /^master: --out \S+a-dir is a directory; give a file name$/m],
      [['--annotate', file], /^master: --annotate \S+a-file\.jpg is a file, not a folder$/m],
      [['--annotate', join(file, 'sub')], /^master: --annotate \S+sub cannot be created: \S+a-file\.jpg is a file, not a folder$/m],
      // The default report's path was looked at first, and ENOTDIR ended the master with a stack trace.
      [['--out', join(file, 'r.jsonl')], /^master: --out \S+r\.jsonl: \S+a-file\.jpg is a file, not a directory$/m],
      [['--report', ''], /^master: --report must name a file, got ""$/m],
      [['--report', dir], /^master: --report \S+a-dir is a directory; give a file name$/m],
      [['--report', 'no-such-dir/'], /^master: --report no-such-dir\/ ends in \/, which names a folder; give a file name$/m],
      // The JSON went into hb.report.html and the page into hb.report.html.html.
      [['--report', join(tmp.dir, 'hb.report.html')], /^master: --report \S+hb\.report\.html: --report names the JSON report, and its HTML copy is written beside it \(X\.json gives X\.html\); give a name ending in \.json$/m],
      // Node's recursive mkdir loops forever on this one (the kernel says ENOENT under /proc).
      [['--annotate', '/proc/cctv-x/y'], /^master: --annotate cannot create the folder \/proc\/cctv-x\/y: ENOENT$/m],
      // Its folder exists, and the file cannot be made there: was a fatal error with exit 1.
      [['--out', '/proc/cctv-x.jsonl'], /^master: --out \/proc\/cctv-x\.jsonl cannot be written \(ENOENT\): give a file in a folder you can write to$/m],
      // Was found only when the report was written, after the whole batch (root passes access(2) here).
      [['--report', '/proc/cctv-x.json'], /^master: --report \/proc\/cctv-x\.json cannot be written \(ENOENT\): give a file in a folder you can write to$/m],
    ];
    for (const [flags, message] of cases) {
      const r = await run(startMaster, ['run', IMAGE, '--tasks', 'edge', '--out', join(tmp.dir, 'ok.jsonl'), ...QUIET, ...flags]);
      expect(r.code, flags.join(' ')).to.equal(MASTER_EXIT.usage);
      expect(r.err, flags.join(' ')).to.match(message);
      // Refused before any work: no listening socket, no results file.
      expect(r.err, flags.join(' ')).to.not.match(/listening|fatal/);
    }
    expect(existsSync(join(tmp.dir, 'ok.jsonl'))).to.equal(false);
  });

  it('writes the results into a named pipe as its reader takes them, and a Ctrl-C while it waits for a reader ends it', async () => {
    const fifo = join(tmp.dir, 'results.fifo');
    execFileSync('mkfifo', [fifo]);
    // A reader first: the master opened the pipe to read it, both waited for a writer, and
    // only SIGKILL ended it.
    let read = '';
    const reader = createReadStream(fifo, { encoding: 'utf8' });
    const reading = { open: false };
    reader.on('open', () => (reading.open = true));
    reader.on('data', (d) => (read += String(d)));
    const ended = new Promise<void>((r) => reader.on('close', () => { r(); }));
    const args = ['run', IMAGE, '--tasks', 'edge', '--local-threads', '1', '--report', join(tmp.dir, 'fifo-report.json'), ...QUIET];
    try {
      const r = await run(startMaster, [...args, '--out', fifo]);
      expect(r.code, r.err).to.equal(0);
    } finally {
      // Had the master never opened the pipe, the reader's open would hold a thread of this
      // process for good (mocha runs without --exit): a writer's open and close releases it.
      if (!reading.open) closeSync(openSync(fifo, fsConstants.O_WRONLY | fsConstants.O_NONBLOCK));
    }
    await ended;
    const lines = read.trim().split('\n').map((l) => JSON.parse(l) as { type: string });
    expect(lines.map((l) => l.type)).to.deep.equal(['batch', 'image']);
    // No reader: it waits for one, and SIGINT ends the wait.
    const m = startMaster([...args, '--out', fifo, '--overwrite', '--log-level', 'info']);
    await waitFor(() => m.stderr().includes('waiting for a reader of the named pipe'), 30_000, 'the master to wait for a reader of the pipe');
    m.proc.kill('SIGINT');
    expect(await waitExit(m, 30_000), m.stderr()).to.equal(MASTER_EXIT.interrupted);
    expect(m.stderr()).to.match(/stopped before the results file \S+results\.fifo was open; nothing was written/);
  });

  it('refuses a --report that would overwrite the results or a file that is not a report', async () => {
    const out = join(tmp.dir, 'rp.jsonl');
    const same = await run(startMaster, ['run', IMAGE, '--tasks', 'edge', '--out', out, '--report', `${tmp.dir}/./rp.jsonl`, ...QUIET]);
    expect(same.code).to.equal(MASTER_EXIT.usage);
    expect(same.err).to.match(/^master: --report \S+rp\.jsonl is the results file \(--out\)/m);
    const html = await run(startMaster, ['run', IMAGE, '--tasks', 'edge', '--out', join(tmp.dir, 'r.html'), '--report', join(tmp.dir, 'r.json'), ...QUIET]);
    expect(html.code).to.equal(MASTER_EXIT.usage);
    expect(html.err).to.match(/would write its HTML copy over the results file/);
    const ann = await run(startMaster, ['run', IMAGE, '--tasks', 'edge', '--out', out, '--annotate', join(tmp.dir, 'ann'), '--report', join(tmp.dir, 'ann'), ...QUIET]);
    expect(ann.code).to.equal(MASTER_EXIT.usage);
    expect(ann.err).to.match(/^master: --report \S+ann is the --annotate folder/m);
    const photo = tmp.file('existing.txt', 'a photo');
    const other = await run(startMaster, ['run', IMAGE, '--tasks', 'edge', '--out', out, '--report', photo, ...QUIET]);
    expect(other.code).to.equal(MASTER_EXIT.usage);
    expect(other.err).to.match(/^master: --report \S+existing\.txt already exists and is not a cctv-cluster report: give another name, or pass --overwrite to replace it$/m);
    expect(readFileSync(photo, 'utf8')).to.equal('a photo');
    expect(existsSync(`${photo}.html`)).to.equal(false);
    expect(existsSync(out)).to.equal(false);
  });

  it('replaces its own report (OUT.report.json) on --overwrite, and keeps it on a --resume with nothing left to do', async () => {
    const out = join(tmp.dir, 'again.jsonl');
    const args = ['run', IMAGE, '--tasks', 'edge', '--out', out, '--local-threads', '1', ...QUIET];
    expect((await run(startMaster, args)).code).to.equal(0);
    const before = statSync(`${out}.report.json`).mtimeMs;
    const o = await run(startMaster, [...args, '--overwrite']);
    expect(o.code, o.err).to.equal(0);
    expect(statSync(`${out}.report.json`).mtimeMs).to.be.above(before);
    // A resume with nothing left to do keeps the report of the run that did the work.
    const kept = statSync(`${out}.report.json`).mtimeMs;
    const r = await run(startMaster, [...args, '--resume']);
    expect(r.code, r.err).to.equal(0);
    expect(r.err).to.match(/no image finished in this run: the report of the earlier run, \S+again\.jsonl\.report\.json, is kept/);
    expect(statSync(`${out}.report.json`).mtimeMs).to.equal(kept);
    expect(readReport(`${out}.report.json`).images).to.equal(1);
    // One of its reports cut short (a full disk or a kill while an older release wrote it)
    // is still its own: a --resume once refused it, advising --overwrite, which wipes the results.
    writeFileSync(`${out}.report.json`, readFileSync(`${out}.report.json`, 'utf8').slice(0, 120));
    const cut = await run(startMaster, [...args, '--resume']);
    expect(cut.code, cut.err).to.equal(0);
    const replaced = await run(startMaster, [...args, '--overwrite']);
    expect(replaced.code, replaced.err).to.equal(0);
    expect(readReport(`${out}.report.json`).images).to.equal(1);
    expect(readdirSync(tmp.dir).filter((f) => f.endsWith('.tmp'))).to.deep.equal([]);
  });

  it('--resume runs again the images recorded as failed for causes that may pass (a worker killed), not those that would fail again, and leaves one record each', async () => {
    const photos = join(tmp.dir, 'again');
    mkdirSync(photos);
    for (const name of ['a', 'b', 'c', 'd']) copyFileSync(IMAGE, join(photos, `${name}.jpg`));
    const out = join(tmp.dir, 'again.jsonl');
    const args = ['run', photos, '--tasks', 'edge,corner', '--out', out, '--local-threads', '1', ...QUIET];
    expect((await run(startMaster, args)).code).to.equal(0);
    // As a batch whose worker was killed three times on b, whose c is corrupt, and whose d
    // failed before failures carried `retryable` (a lease run out, judged by its name).
    const lines = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const corners = (lines.find((r) => String(r['source']).endsWith('b.jpg'))?.['corner'] as { count: number } | undefined)?.count;
    expect(corners).to.be.a('number');
    for (const r of lines) {
      const name = String(r['source']).split('/').pop();
      if (name === 'b.jpg') Object.assign(r, { ok: false, corner: { error: { name: 'WorkerCrashError', message: 'worker process died (signal SIGKILL) while running this task', retryable: true }, attempts: 3 } });
      if (name === 'c.jpg') Object.assign(r, { ok: false, edge: { error: { name: 'DecodeError', message: 'JPEG is corrupt or truncated', retryable: false }, attempts: 1 } });
      if (name === 'd.jpg') Object.assign(r, { ok: false, edge: { error: { name: 'LeaseExpiredError', message: 'lease ran out' }, attempts: 3 } });
    }
    writeFileSync(out, `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
    const again = await run(startMaster, [...args, '--resume', '--log-level', 'info']);
    expect(again.code, again.err).to.equal(MASTER_EXIT.someFailed);
    expect(again.err).to.match(/resuming \S+again\.jsonl: 2 image\(s\) recorded as failed for causes that may pass .* run again/);
    expect(again.err).to.match(/again\.jsonl: 2 earlier record\(s\) of images run again were replaced by their new ones/);
    const after = readResults(out).records;
    expect(after.map((r) => `${r.source.split('/').pop()} ${String(r.ok)}`).sort()).to.deep.equal(['a.jpg true', 'b.jpg true', 'c.jpg false', 'd.jpg true']);
    const b = after.find((r) => r.source.endsWith('b.jpg')) as Record<string, unknown> | undefined;
    expect(b?.['corner']).to.deep.include({ count: corners });
    // An image to run again that this resume does not read (its input not named) stays
    // failed in the file, and so the exit status says 3, not 0.
    const marked = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const r of marked) if (String(r['source']).endsWith('a.jpg')) Object.assign(r, { ok: false, edge: { error: { name: 'WorkerCrashError', message: 'x', retryable: true }, attempts: 3 } });
    writeFileSync(out, `${marked.map((l) => JSON.stringify(l)).join('\n')}\n`);
    const partial = await run(startMaster, ['run', join(photos, 'b.jpg'), ...args.slice(2), '--resume']);
    expect(partial.code, partial.err).to.equal(MASTER_EXIT.someFailed);
    expect(readResults(out).records.filter((r) => !r.ok)).to.have.length(2);
    const whole = await run(startMaster, [...args, '--resume']);
    expect(whole.code, whole.err).to.equal(MASTER_EXIT.someFailed);
    expect(readResults(out).records.map((r) => `${r.source.split('/').pop()} ${String(r.ok)}`).sort()).to.deep.equal(['a.jpg true', 'b.jpg true', 'c.jpg false', 'd.jpg true']);
    // A report that says the batch was interrupted (its master killed before writing the
    // last one) is replaced once a resume finds the batch finished.
    writeFileSync(`${out}.report.json`, JSON.stringify({ ...readReport(`${out}.report.json`), interrupted: true }, null, 2));
    const done = await run(startMaster, [...args, '--resume']);
    expect(done.code, done.err).to.equal(MASTER_EXIT.someFailed);
    expect(readReport(`${out}.report.json`).interrupted).to.equal(false);
  });

  it('--resume skips the images already done however the inputs are named, from any directory', async () => {
    const archive = join(tmp.dir, 'archive');
    mkdirSync(join(archive, 'cam1'), { recursive: true });
    copyFileSync(IMAGE, join(archive, 'cam1', 'a.jpg'));
    copyFileSync(IMAGE, join(archive, 'cam1', 'b.jpg'));
    const out = join(tmp.dir, 'where.jsonl');
    const flags = ['--tasks', 'edge', '--out', out, '--local-threads', '1', ...QUIET];
    // Started in the archive with a relative path, for one image of the two...
    const first = await run((a) => startMaster(a, { cwd: archive }), ['run', 'cam1/a.jpg', ...flags]);
    expect(first.code, first.err).to.equal(0);
    // ...resumed elsewhere, naming the folder by its absolute path: only b.jpg is new, and it
    // is recorded by its absolute path (the file's relative paths belong to the archive).
    const second = await run((a) => startMaster(a, { cwd: tmp.dir }), ['run', join(archive, 'cam1'), ...flags, '--resume']);
    expect(second.code, second.err).to.equal(0);
    expect(readResults(out).records.map((r) => r.source)).to.deep.equal(['cam1/a.jpg', join(archive, 'cam1', 'b.jpg')]);
    expect(readReport(`${out}.report.json`).imagesResumed).to.equal(1);
    // Back in the archive, relative again: nothing left to do.
    const third = await run((a) => startMaster(a, { cwd: archive }), ['run', 'cam1', ...flags, '--resume']);
    expect(third.code, third.err).to.equal(0);
    expect(readResults(out).records).to.have.length(2);
    expect(readReport(`${out}.report.json`).imagesResumed, 'the second run\'s report, kept').to.equal(1);
    expect(third.err, 'cam1 covers cam1/a.jpg').to.not.include('does not name');
    // Resumed without one of the batch's inputs: said, not passed over in silence.
    const other = join(tmp.dir, 'other.jpg');
    copyFileSync(IMAGE, other);
    const fourth = await run((a) => startMaster(a, { cwd: archive }), ['run', other, ...flags, '--resume']);
    expect(fourth.code, fourth.err).to.equal(0);
    expect(fourth.err).to.match(/was started with input\(s\) this run does not name: \S+cam1\/a\.jpg; images of theirs not yet done stay undone/);
  });

  it("--log-json: every line on stderr is a JSON object, the local slave's and its workers' included (libjpeg warns about a corrupt JPEG)", async () => {
    const bytes = readFileSync(IMAGE);
    const corrupt = join(tmp.dir, 'cut.jpg');
    writeFileSync(corrupt, Buffer.concat([bytes.subarray(0, 30_000), Buffer.from([0xff, 0xd9])]));
    const out = join(tmp.dir, 'json.jsonl');
    const r = await run(startMaster, ['run', IMAGE, corrupt, '--tasks', 'edge', '--out', out, '--local-threads', '1', '--log-json', '--log-level', 'info', ...QUIET]);
    expect(r.code, r.err).to.equal(0);
    const lines = r.err.split('\n').filter((l) => l.trim() !== '');
    const notJson = lines.filter((l) => {
      try {
        return typeof JSON.parse(l) !== 'object';
      } catch {
        return true;
      }
    });
    expect(notJson, r.err).to.deep.equal([]);
    const messages = lines.map((l) => (JSON.parse(l) as { msg: string }).msg);
    expect(messages.some((m) => m.includes('Corrupt JPEG data')), r.err).to.equal(true);
  });

  it('under --log-json, writes its closing lines as JSON too; a usage error opens no metrics port', async () => {
    const jsonOnly = (err: string): { msg: string }[] =>
      err
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => {
          try {
            return JSON.parse(l) as { msg: string };
          } catch {
            throw new Error(`not a JSON line: ${l}`);
          }
        });
    const port = await freePort();
    const bad = await run(startMaster, ['run', IMAGE, 'no/such.jpg', '--log-json', '--progress', 'none', '--metrics-port', String(port), '--out', join(tmp.dir, 'j.jsonl')]);
    expect(bad.code).to.equal(MASTER_EXIT.usage);
    const badLines = jsonOnly(bad.err).map((l) => l.msg);
    expect(badLines).to.deep.equal(['input not found: no/such.jpg']);
    // Errors in the arguments themselves too, on both command lines.
    const parse = await run(startMaster, ['run', IMAGE, '--every', '0', '--log-json']);
    expect(parse.code).to.equal(MASTER_EXIT.usage);
    expect(jsonOnly(parse.err).map((l) => l.msg)).to.deep.equal(['--every must be an integer from 1 to 1000000, got 0']);
    const slave = await run(startSlave, ['--log-json', '--bogus']);
    expect(slave.code).to.equal(2);
    expect(jsonOnly(slave.err).map((l) => l.msg)).to.deep.equal(['unknown option --bogus']);
    // Interrupted while waiting for a slave: the "interrupted; --resume" line is a record too.
    const m = startMaster(['run', IMAGE, '--tasks', 'edge', '--out', join(tmp.dir, 'j.jsonl'), '--local-slaves', '0', '--log-json', '--progress', 'plain', '--metrics-port', '0', '--bind', 'tcp://127.0.0.1:*']);
    await waitFor(() => /waiting for slaves/.test(m.stderr()) && /progress: /.test(m.stderr()), 30_000, 'the master to wait for slaves');
    m.proc.kill('SIGINT');
    expect(await waitExit(m, 30_000)).to.equal(MASTER_EXIT.interrupted);
    const messages = jsonOnly(m.stderr()).map((l) => l.msg);
    expect(messages).to.include('interrupted; run the same command with --resume to finish the batch');
    expect(messages.some((msg) => msg.startsWith('progress: 0/1 images')), 'the plain progress line is a record too').to.equal(true);
    // With --overwrite, "the same command with --resume" would be refused (the two do not go together).
    const o = startMaster(['run', IMAGE, '--tasks', 'edge', '--out', join(tmp.dir, 'j.jsonl'), '--overwrite', '--local-slaves', '0', '--log-json', '--progress', 'none', '--metrics-port', '0', '--bind', 'tcp://127.0.0.1:*']);
    await waitFor(() => /waiting for slaves/.test(o.stderr()), 30_000, 'the master to wait for slaves');
    o.proc.kill('SIGINT');
    expect(await waitExit(o, 30_000)).to.equal(MASTER_EXIT.interrupted);
    expect(jsonOnly(o.stderr()).map((l) => l.msg)).to.include('interrupted; run the same command with --resume in place of --overwrite to finish the batch');
  });

  it('under --log-json on a terminal, the default progress is log records, not a bar; --progress bar with --log-json is refused', async () => {
    // stderr on a pseudo-terminal (util-linux script), as under `docker run -t`; stdout (the summary) to a file.
    const out = join(tmp.dir, 'tty.jsonl');
    const cmd = `${JSON.stringify(process.execPath)} ${JSON.stringify(MASTER_BIN)} run ${JSON.stringify(IMAGE)} --tasks edge --out ${JSON.stringify(out)} --local-threads 1 --log-json --metrics-port 0 --bind 'tcp://127.0.0.1:*' > ${JSON.stringify(join(tmp.dir, 'summary.txt'))}`;
    const tty = execFileSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8', timeout: 120_000 });
    const lines = tty.split(/\r?\n/).filter((l) => l.trim() !== '');
    expect(lines.length).to.be.above(2);
    for (const line of lines) expect(() => JSON.parse(line) as unknown, `not a JSON record: ${JSON.stringify(line)}`).to.not.throw();
    expect(readResults(out).records).to.have.length(1);
    const bar = await run(startMaster, ['run', IMAGE, '--log-json', '--progress', 'bar']);
    expect(bar.code).to.equal(MASTER_EXIT.usage);
    expect(bar.err).to.match(/"msg":"--progress bar draws on stderr, where --log-json writes only JSON records: use --progress plain/);
  });

  it('--report through a link to standard output, redirected to a file: the link stays, the file holds the report, the summary goes to stderr', () => {
    // Before, the link (like /dev/stdout itself, as root) was removed as "the earlier
    // batch's report" and replaced by a regular file, and the redirected file got the summary.
    const link = join(tmp.dir, 'to-stdout.json');
    symlinkSync('/proc/self/fd/1', link);
    const file = join(tmp.dir, 'redirected.txt');
    const cmd = `${JSON.stringify(process.execPath)} ${JSON.stringify(MASTER_BIN)} run ${JSON.stringify(IMAGE)} --tasks edge --out ${JSON.stringify(join(tmp.dir, 'link.jsonl'))} --report ${JSON.stringify(link)} --local-threads 1 --progress none --metrics-port 0 --bind 'tcp://127.0.0.1:*'`;
    // stderr to the pipe read here, stdout to the file.
    const stderr = execFileSync('/bin/sh', ['-c', `${cmd} 2>&1 >${JSON.stringify(file)}`], { encoding: 'utf8', timeout: 120_000 });
    expect(lstatSync(link).isSymbolicLink(), 'the link is still a link').to.equal(true);
    expect((JSON.parse(readFileSync(file, 'utf8')) as { images: number }).images).to.equal(1);
    expect(stderr).to.match(/Batch finished: 1 image, 1 task in /);
  });

  it('names the key flags in its hint for slaves when CURVE is on, and this host for a wildcard address', async () => {
    const keys = join(tmp.dir, 'keys');
    mkdirSync(join(keys, 'slaves'), { recursive: true });
    expect((await run(startMaster, ['keygen', join(keys, 'boss')])).code).to.equal(0);
    expect((await run(startSlave, ['keygen', join(keys, 'slaves', 'pi')])).code).to.equal(0);
    const m = startMaster(['run', IMAGE, '--out', join(tmp.dir, 'k.jsonl'), '--local-slaves', '0', '--progress', 'none', '--metrics-port', '0', '--bind', 'tcp://0.0.0.0:*', '--curve-secret-key', join(keys, 'boss.key'), '--allow-keys', join(keys, 'slaves')]);
    await waitFor(() => /waiting for slaves/.test(m.stderr()), 30_000, 'the master to wait for slaves');
    expect(m.stderr()).to.match(new RegExp(`waiting for slaves: start \`node bin/slave\\.js --connect tcp://${hostname()}:\\d+ --curve-secret-key SLAVE\\.key --master-public-key boss\\.pub\` on each machine`));
    m.proc.kill('SIGTERM');
    expect(await waitExit(m, 30_000)).to.equal(MASTER_EXIT.interrupted);
  });

  it('warns that --local-threads has no effect without local slaves, and of a lease or --task-timeout shorter than a task can take', async () => {
    // Started from another folder: the hint names this checkout's bin/slave.js by its absolute path.
    const m = startMaster(['run', IMAGE, '--tasks', 'edge,face', '--out', join(tmp.dir, 'w.jsonl'), '--local-slaves', '0', '--local-threads', '4', '--lease', 'face=100', ...QUIET], { cwd: tmp.dir });
    await waitFor(() => /waiting for slaves/.test(m.stderr()), 30_000, 'the master to wait for slaves');
    expect(m.stderr()).to.include(`waiting for slaves: start \`node ${resolve('bin/slave.js')} --connect tcp://127.0.0.1:`);
    expect(m.stderr()).to.match(/warn +\[master\] --local-threads 4 has no effect with --local-slaves 0/);
    expect(m.stderr()).to.match(/warn +\[master\] --lease face=100 ms is shorter than such a task can take/);
    expect(m.stderr(), 'edge keeps its default lease').to.not.match(/edge=/);
    // The slave's counterpart: every task longer than 100 ms would be killed with its worker.
    const endpoint = /--connect (tcp:\/\/127\.0\.0\.1:\d+)/.exec(m.stderr())?.[1] ?? '';
    const s = startSlave(['--connect', endpoint, '--threads', '1', '--task-timeout', '100']);
    await waitFor(() => /warn +\[slave\] --task-timeout 100 ms is shorter than a task can take/.test(s.stderr()), 30_000, 'the slave to warn');
    s.proc.kill('SIGTERM');
    expect(await waitExit(s, 30_000)).to.equal(0);
    m.proc.kill('SIGTERM');
    expect(await waitExit(m, 30_000)).to.equal(MASTER_EXIT.interrupted);
  });

  it('refuses an out-of-range value, naming the flag and the range', async () => {
    const { code, err } = await run(startMaster, ['run', 'samples', '--every', '0']);
    expect(code).to.equal(MASTER_EXIT.usage);
    expect(err).to.match(/--every must be an integer from 1 to 1000000, got 0/);
    const s = await run(startSlave, ['--threads', '0']);
    expect(s.code).to.equal(2);
    expect(s.err).to.match(/--threads must be an integer from 1 to 256/);
    // Liveness 1: one late heartbeat lost a live slave; at 100 ms the batch never ended.
    const lone = await run(startMaster, ['run', 'samples', '--heartbeat-liveness', '1']);
    expect(lone.code).to.equal(MASTER_EXIT.usage);
    expect(lone.err).to.match(/--heartbeat-liveness must be an integer from 2 to 100, got 1/);
    const tight = await run(startMaster, ['run', IMAGE, '--tasks', 'edge', '--out', join(tmp.dir, 'tight.jsonl'), '--local-threads', '1', '--heartbeat-interval', '100', '--heartbeat-liveness', '2', ...QUIET]);
    expect(tight.err).to.match(/warn +\[master\] --heartbeat-interval 100 x --heartbeat-liveness 2 = 200 ms of silence declares a peer dead/);
    // It connected as slave "false" and died on a TypeError.
    const negated = await run(startSlave, ['--no-slave-id']);
    expect(negated.code).to.equal(2);
    expect(negated.err).to.match(/^slave: --slave-id takes a value \(--no-slave-id is not an option\)$/m);
  });

  it('serves its local slave over IPv6 loopback (tcp://[::1]), and refuses a port out of range', async () => {
    const out = join(tmp.dir, 'v6.jsonl');
    const r = await run(startMaster, ['run', IMAGE, '--tasks', 'edge', '--out', out, '--local-threads', '1', '--progress', 'none', '--metrics-port', '0', '--bind', 'tcp://[::1]:*']);
    expect(r.code, r.err).to.equal(0);
    expect(r.err).to.match(/listening on tcp:\/\/\[::1\]:\d+/);
    expect(readResults(out).records).to.have.length(1);
    const bad = await run(startMaster, ['run', IMAGE, '--bind', 'tcp://127.0.0.1:99999']);
    expect(bad.code).to.equal(MASTER_EXIT.usage);
    expect(bad.err).to.match(/^master: --bind port must be from 1 to 65535, got 99999$/m);
  });

  it('refuses outputs that would overwrite or feed back into the inputs: --annotate in, on or around an input, --out/--report named like media', async () => {
    const inputs = join(tmp.dir, 'cams');
    mkdirSync(join(inputs, 'cam1'), { recursive: true });
    const photo = join(inputs, 'cam1', 'a.jpg');
    copyFileSync(IMAGE, photo);
    const original = readFileSync(photo);
    const out = join(tmp.dir, 'io.jsonl');
    const cases: [string[], RegExp][] = [
      [[inputs, '--annotate', inputs], /^master: --annotate \S+cams is the input \S+cams: annotated copies would overwrite the images or be read as new inputs/m],
      [[inputs, '--annotate', join(inputs, 'ann')], /^master: --annotate \S+ann lies inside the input \S+cams:/m],
      [[photo, '--annotate', join(inputs, 'cam1')], /^master: --annotate \S+cam1 holds the input \S+a\.jpg:/m],
      [[`${inputs}/**/*.jpg`, '--annotate', join(inputs, 'x')], /^master: --annotate \S+x lies inside the input \S+\*\.jpg:/m],
      [[inputs, '--out', photo, '--overwrite'], /^master: --out \S+a\.jpg has an image or video extension; name the results file e\.g\. results\.jsonl$/m],
      [[photo, '--report', photo, '--overwrite'], /^master: --report \S+a\.jpg has an image or video extension/m],
      [[join(inputs, 'cam1', 'notes.txt'), '--out', join(inputs, 'cam1', 'notes.txt'), '--overwrite'], /^master: --out \S+notes\.txt is an input \(\S+notes\.txt\): give another name$/m],
    ];
    writeFileSync(join(inputs, 'cam1', 'notes.txt'), 'not media');
    // Through links: a symbolic link to the input folder, and a symbolic and a hard link to an input file.
    symlinkSync(inputs, join(tmp.dir, 'cams-link'));
    symlinkSync(photo, join(tmp.dir, 'photo-link'));
    linkSync(photo, join(tmp.dir, 'photo-hard'));
    cases.push(
      [[inputs, '--annotate', join(tmp.dir, 'cams-link')], /^master: --annotate \S+cams-link is the input \S+cams:/m],
      [[join(tmp.dir, 'cams-link'), '--annotate', join(inputs, 'x')], /^master: --annotate \S+x lies inside the input \S+cams-link:/m],
      [[photo, '--out', join(tmp.dir, 'photo-link'), '--overwrite'], /^master: --out \S+photo-link is an input \(\S+a\.jpg\): give another name$/m],
      [[photo, '--out', join(tmp.dir, 'photo-hard'), '--overwrite'], /^master: --out \S+photo-hard is an input \(\S+a\.jpg\): give another name$/m],
      [[photo, '--report', join(tmp.dir, 'photo-hard'), '--overwrite'], /^master: --report \S+photo-hard is an input \(\S+a\.jpg\): give another name$/m],
    );
    for (const [args, message] of cases) {
      const r = await run(startMaster, ['run', ...args, '--tasks', 'edge', ...QUIET, ...(args.includes('--out') ? [] : ['--out', out])]);
      expect(r.code, args.join(' ')).to.equal(MASTER_EXIT.usage);
      expect(r.err, args.join(' ')).to.match(message);
    }
    expect(readFileSync(photo).equals(original), 'the input image is untouched').to.equal(true);
    expect(readFileSync(join(inputs, 'cam1', 'notes.txt'), 'utf8')).to.equal('not media');
  });

  it('SIGUSR1 opens no Node inspector in the master or the slave (any local user could run code through it): it is logged and ignored', async () => {
    const port = await freePort();
    const master = startMaster(['run', IMAGE, '--tasks', 'edge', '--local-slaves', '0', '--out', join(tmp.dir, 'usr1.jsonl'), '--progress', 'none', '--metrics-port', '0', '--bind', `tcp://127.0.0.1:${port}`]);
    await waitFor(() => master.stderr().includes('waiting for slaves'), 30_000, 'the master to wait for slaves');
    // A slave with no master there yet: it keeps trying to connect.
    const slave = startSlave(['--connect', `tcp://127.0.0.1:${await freePort()}`, '--threads', '1', '--metrics-port', '0']);
    await waitFor(() => slave.stderr().includes('connecting to'), 30_000, 'the slave to start');
    for (const p of [master, slave]) {
      p.proc.kill('SIGUSR1');
      await waitFor(() => p.stderr().includes('SIGUSR1 ignored: the Node inspector is not opened on a signal'), 10_000, 'the SIGUSR1 line');
      expect(p.stderr()).to.not.include('Debugger listening');
      expect(p.proc.exitCode, 'still running').to.equal(null);
    }
    master.proc.kill('SIGINT');
    slave.proc.kill('SIGINT');
    expect(await waitExit(master, 30_000)).to.equal(MASTER_EXIT.interrupted);
    expect(await waitExit(slave, 30_000)).to.equal(0);
  });

  it('a port already in use: exit 1, a free port as the example (not port + 1 unchecked), and no results file left behind, so the same command works once the port is free', async () => {
    const port = await freePort();
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(port, '127.0.0.1', resolve));
    // The next port is taken too (the QA case: the first master's metrics port); if another
    // process holds it already, it is taken all the same.
    const next = createServer();
    await new Promise<void>((resolve) => {
      next.once('error', () => {
        resolve();
      });
      next.listen(port + 1, '127.0.0.1', resolve);
    });
    const out = join(tmp.dir, 'busy.jsonl');
    const args = ['run', IMAGE, '--tasks', 'edge', '--out', out, '--local-threads', '1', '--progress', 'none', '--metrics-port', '0', '--bind', `tcp://127.0.0.1:${port}`];
    try {
      const busy = await run(startMaster, args);
      expect(busy.code).to.equal(MASTER_EXIT.fatal);
      expect(busy.err).to.match(/cannot listen on tcp:\/\/127\.0\.0\.1:(\d+): Address already in use: another process \(a master\?\) listens on port \1; stop it, or give another port/);
      const example = /e\.g\. --bind tcp:\/\/127\.0\.0\.1:(\d+) \(free now\)/.exec(busy.err);
      expect(example, busy.err).to.not.equal(null);
      expect(Number(example?.[1]), 'a port found free, past the two taken').to.be.within(port + 2, port + 20);
      expect(existsSync(out), 'results file').to.equal(false);
    } finally {
      await new Promise((resolve) => holder.close(resolve));
      if (next.listening) await new Promise((resolve) => next.close(resolve));
    }
    const again = await run(startMaster, args);
    expect(again.code, again.err).to.equal(0);
    expect(readResults(out).records).to.have.length(1);
  });

  it('an ipc:// path a live master listens on: the second master exits 1 (it took the socket over), a dead one\'s file is reused, and the file goes at exit', async () => {
    const sock = join(tmp.dir, 'm.sock');
    const bind = `ipc://${sock}`;
    const first = startMaster(['run', IMAGE, '--tasks', 'edge', '--out', join(tmp.dir, 'first.jsonl'), '--local-slaves', '0', '--progress', 'none', '--metrics-port', '0', '--bind', bind]);
    try {
      await waitFor(() => first.stderr().includes('listening on'), 30_000, 'the first master to listen');
      const second = await run(startMaster, ['run', IMAGE, '--tasks', 'edge', '--out', join(tmp.dir, 'second.jsonl'), '--local-threads', '1', '--progress', 'none', '--metrics-port', '0', '--bind', bind]);
      expect(second.code, second.err).to.equal(MASTER_EXIT.fatal);
      expect(second.err).to.match(/cannot listen on ipc:\/\/\S+m\.sock: Address already in use: another process \(a master\?\) listens on/);
      // The first still has its endpoint: a slave reaches it and the batch completes.
      startSlave(['--connect', bind, '--threads', '1', '--log-level', 'warn']);
      expect(await waitExit(first, 60_000), first.stderr()).to.equal(0);
    } finally {
      first.proc.kill('SIGKILL');
    }
    expect(existsSync(sock), 'the socket file is removed at exit').to.equal(false);
    // A file left by a master killed with SIGKILL does not stop the next one.
    const killed = startMaster(['run', IMAGE, '--tasks', 'edge', '--out', join(tmp.dir, 'killed.jsonl'), '--local-slaves', '0', '--progress', 'none', '--metrics-port', '0', '--bind', bind]);
    await waitFor(() => killed.stderr().includes('listening on'), 30_000, 'a master to listen');
    killed.proc.kill('SIGKILL');
    await waitExit(killed, 10_000);
    expect(existsSync(sock), 'left by SIGKILL').to.equal(true);
    const next = await run(startMaster, ['run', IMAGE, '--tasks', 'edge', '--out', join(tmp.dir, 'next.jsonl'), '--local-threads', '1', '--progress', 'none', '--metrics-port', '0', '--bind', bind]);
    expect(next.code, next.err).to.equal(0);
  });

  it('draws the bar asked for by --progress bar also when stderr is a pipe', async () => {
    // cli-progress draws nothing off a terminal unless told to: the user saw no progress.
    const r = await run(startMaster, ['run', SAMPLE_FACES, '--tasks', 'edge', '--out', join(tmp.dir, 'bar.jsonl'), '--local-threads', '1', '--progress', 'bar', '--metrics-port', '0', '--bind', 'tcp://127.0.0.1:*']);
    expect(r.code, r.err).to.equal(0);
    expect(r.err).to.match(/ 3\/3 images \| [\d.]+ img\/s \| ETA/);
  });

  it('ends the bar at the images seen when a truncated video announced more frames than it has', async () => {
    const video = readFileSync(SAMPLE_VIDEO);
    const cut = join(tmp.dir, 'cut.avi');
    writeFileSync(cut, video.subarray(0, video.length >> 1));
    // Face tasks make the batch last seconds: the count (a video reader's, ~0.4 s) comes
    // long before the bar's next frame (every 2 s into a pipe) and the batch's end.
    const r = await run(startMaster, ['run', cut, '--every', '3', '--tasks', 'edge,face', '--out', join(tmp.dir, 'cut.jsonl'), '--local-threads', '1', '--progress', 'bar', '--metrics-port', '0', '--bind', 'tcp://127.0.0.1:*']);
    expect(r.code, r.err).to.equal(MASTER_EXIT.someFailed);
    const shown = [...r.err.matchAll(/ (\d+)\/(\d+|\?) images \|/g)].map((m) => [m[1], m[2]]);
    const records = readResults(join(tmp.dir, 'cut.jsonl')).records.length;
    // The count made in advance believed the header's frame count.
    expect(shown.some(([, total]) => Number(total) > records), r.err).to.equal(true);
    expect(shown.at(-1), r.err).to.deep.equal([String(records), String(records)]);
  });

  it('goes on when the reader of its stderr goes away (`2>&1 | head -1`): the batch completes, exit 0', async () => {
    const out = join(tmp.dir, 'epipe.jsonl');
    const m = startMaster(['run', SAMPLE_FACES, '--tasks', 'edge', '--out', out, '--local-threads', '1', '--progress', 'plain', '--metrics-port', '0', '--bind', 'tcp://127.0.0.1:*']);
    await waitFor(() => m.stderr().includes('listening on'), 30_000, 'the master to listen');
    m.proc.stderr?.destroy();
    expect(await waitExit(m, 60_000)).to.equal(0);
    expect(readResults(out).records).to.have.length(3);
  });

  it('refuses an empty INPUT (an unset shell variable), a lone -, an empty --lease, one with two = signs and one out of range or not a number; keygen refuses a NAME that is no file name', async () => {
    const cases: [string[], RegExp][] = [
      [['run', ''], /^master: INPUT is an empty word \(an unset shell variable\?\)/m],
      [['run', IMAGE, ''], /^master: INPUT is an empty word/m],
      [['run', '-'], /^master: INPUT "-" \(standard input\) is not supported/m],
      [['run', IMAGE, '-o', '-'], /^master: --out "-" is not supported: give a file, or \/dev\/stdout for standard output/m],
      [['run', IMAGE, '--lease', ''], /^master: --lease must name at least one kind=ms entry/m],
      // Was read as face=100.
      [['run', IMAGE, '--lease', 'face=100=5'], /^master: --lease entries look like object=120000, got "face=100=5"$/m],
      // A number as every option takes one (1e5 was refused as not an entry), and a range error for a negative one.
      [['run', IMAGE, '--lease', 'face=1e9'], /^master: --lease \(face\) must be an integer from 100 to 86400000, got 1000000000$/m],
      [['run', IMAGE, '--lease', 'face=-5'], /^master: --lease \(face\) must be an integer from 100 to 86400000, got -5$/m],
      [['run', IMAGE, '--lease', 'face=soon'], /^master: --lease face must be a number of ms, e\.g\. face=120000, got "soon"$/m],
      // An ANSI escape in a name reached the terminal raw (and turned it red).
      [['run', '\u001b[31mRED.jpg'], /^master: input not found: \\u001b\[31mRED\.jpg$/m],
      // A string option negated: was a TypeError and exit 1.
      [['run', IMAGE, '--no-tasks'], /^master: --tasks takes a value \(--no-tasks is not an option\)$/m],
      [['keygen', ''], /^master keygen: NAME must end in a file name, e.g. keys\/pi-1 .*got ""$/m],
      [['keygen', `${tmp.dir}/`], /^master keygen: NAME must end in a file name/m],
    ];
    for (const [args, message] of cases) {
      const r = await run(startMaster, [...args, ...(args[0] === 'run' ? ['--out', join(tmp.dir, 'never.jsonl'), ...QUIET] : [])]);
      expect(r.code, args.join(' ')).to.equal(MASTER_EXIT.usage);
      expect(r.err, args.join(' ')).to.match(message);
      expect(r.err, args.join(' ')).to.not.match(/TypeError|^\s+at /m);
      expect(r.err, args.join(' ')).to.not.include('\u001b');
    }
    expect(existsSync(join(tmp.dir, 'never.jsonl'))).to.equal(false);
    expect(existsSync(join(tmp.dir, '.key')) || existsSync('.key'), 'no hidden key file').to.equal(false);
    // NAME given with its extension: the pair it names, not pi-9.key.key.
    expect((await run(startMaster, ['keygen', join(tmp.dir, 'pi-9.key')])).code).to.equal(0);
    expect([existsSync(join(tmp.dir, 'pi-9.key')), existsSync(join(tmp.dir, 'pi-9.pub')), existsSync(join(tmp.dir, 'pi-9.key.key'))]).to.deep.equal([true, true, false]);
    // A device as the results file: nothing to sync (fdatasync said EINVAL: a fatal error), and
    // the report goes to the current folder, not into /dev.
    const devnull = await run((a) => startMaster(a, { cwd: tmp.dir }), ['run', IMAGE, '--tasks', 'edge', '--out', '/dev/null', '--local-threads', '1', ...QUIET]);
    expect(devnull.code, devnull.err).to.equal(0);
    expect(existsSync(join(tmp.dir, 'cctv-report.json'))).to.equal(true);
    expect(existsSync('/dev/null.report.json')).to.equal(false);
    // Standard output redirected to a file as OUT: valid JSONL (the summary went into it, over
    // its first records), and no report beside /dev/stdout; --report /dev/null, no /dev/null.html.
    const redirected = join(tmp.dir, 'stdout.jsonl');
    const fd = openSync(redirected, 'w');
    try {
      const m = startMaster(['run', IMAGE, '--tasks', 'edge', '--out', '/dev/stdout', '--report', '/dev/null', '--local-threads', '1', ...QUIET], { cwd: tmp.dir, stdio: ['ignore', fd, 'pipe'] });
      expect(await waitExit(m, 60_000), m.stderr()).to.equal(0);
      expect(m.stderr()).to.match(/^Batch finished: 1 image, /m);
    } finally {
      closeSync(fd);
    }
    const lines = readFileSync(redirected, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { type: string }).type);
    expect(lines).to.deep.equal(['batch', 'image']);
    expect(existsSync('/dev/stdout.report.json') || existsSync('/dev/null.html')).to.equal(false);
    // A --resume of a file that is not there is a new batch, said as much (a mistyped name went unnoticed).
    const fresh = await run(startMaster, ['run', IMAGE, '--tasks', 'edge', '--out', join(tmp.dir, 'fresh.jsonl'), '--local-threads', '1', '--resume', ...QUIET]);
    expect(fresh.code, fresh.err).to.equal(0);
    expect(fresh.err).to.match(/--resume: \S+fresh\.jsonl does not exist yet \(or is empty\), so there is nothing to resume: starting a new batch there/);
  });

  it('stops cleanly, exit 1, when the reader of a piped --out goes away (EPIPE), and the report says the batch stopped', async () => {
    // `--out /dev/stdout | head -1` in a shell; a named pipe here (a child's piped stdout is a socket).
    const fifo = join(tmp.dir, 'head.fifo');
    execFileSync('mkfifo', [fifo]);
    const report = join(tmp.dir, 'epipe.json');
    const m = startMaster(['run', SAMPLE_VIDEO, '--every', '10', '--tasks', 'edge', '--out', fifo, '--report', report, '--local-threads', '1', ...QUIET]);
    let read = '';
    const reader = createReadStream(fifo, { encoding: 'utf8' });
    const reading = { open: false };
    reader.on('open', () => (reading.open = true));
    reader.on('data', (d) => {
      read += String(d);
      // The reader takes the header line and closes the pipe.
      if (read.includes('\n')) reader.destroy();
    });
    try {
      expect(await waitExit(m, 90_000), m.stderr()).to.equal(MASTER_EXIT.fatal);
    } finally {
      if (!reading.open) closeSync(openSync(fifo, fsConstants.O_WRONLY | fsConstants.O_NONBLOCK));
      reader.destroy();
    }
    expect(m.stderr()).to.match(/cannot write results to \S+head\.fifo \(EPIPE: the reader of the pipe went away\); stopping the batch$/m);
    expect(m.stdout()).to.match(/^Batch stopped \(the results file could not be written\): /m);
    expect(m.stderr(), 'no stack trace').to.not.match(/^\s+at /m);
    const r = readReport(report);
    expect({ interrupted: r.interrupted, stoppedBy: r.stoppedBy }).to.deep.equal({ interrupted: true, stoppedBy: 'results-write-error' });
    // Only what reached the pipe counts, in the rate too (it said "0 images ... 3.44 images/s").
    expect(r.imagesPerSecond).to.be.closeTo((r.images * 1000) / r.processingMs, 0.01);
  });

  it('stops, exit 1, when the results file is deleted under the batch, instead of finishing into no file', async () => {
    const photos = join(tmp.dir, 'photos');
    mkdirSync(photos);
    for (let i = 0; i < 40; i++) copyFileSync(IMAGE, join(photos, `p${i}.jpg`));
    const out = join(tmp.dir, 'gone.jsonl');
    const report = join(tmp.dir, 'gone.json');
    const m = startMaster(['run', photos, '--tasks', 'face,object', '--out', out, '--report', report, '--local-threads', '1', ...QUIET]);
    await waitFor(() => existsSync(out) && readFileSync(out, 'utf8').split('\n').length > 2, 60_000, 'a first record');
    rmSync(out);
    expect(await waitExit(m, 90_000), m.stderr()).to.equal(MASTER_EXIT.fatal);
    expect(m.stderr()).to.match(/cannot write results to \S+gone\.jsonl \(ENOENT: it was deleted, or its folder, while the batch wrote it\); stopping the batch$/m);
    const r = readReport(report);
    expect({ interrupted: r.interrupted, stoppedBy: r.stoppedBy, images: r.images }).to.deep.equal({ interrupted: true, stoppedBy: 'results-write-error', images: 0 });
  });

  it('on a full disk, says it cannot write the lock file beside the results (exit 1) and leaves no empty lock', function () {
    // A 64 KiB tmpfs, filled, in a mount namespace of its own (unshare: root only), so nothing outside sees it.
    if (process.getuid?.() !== 0) this.skip();
    const dir = join(tmp.dir, 'full');
    mkdirSync(dir);
    const script = `mount -t tmpfs -o size=64k tmpfs "$1" && (dd if=/dev/zero of="$1/fill" bs=4k count=64 2>/dev/null; true) && cd "$1" && "$2" "$3" run "$4" --tasks edge --out r.jsonl --metrics-port 0 --progress none 2>&1; echo "rc=$?"; ls "$1"`;
    const out = execFileSync('unshare', ['-m', 'sh', '-c', script, 'sh', dir, process.execPath, MASTER_BIN, IMAGE], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(out).to.match(/cannot write the lock file r\.jsonl\.lock, beside the results file: ENOSPC \(the disk is full\)$/m);
    expect(out).to.match(/^rc=1$/m);
    expect(out.trim().split('\n').slice(-1)).to.deep.equal(['fill']);
  });

  it('refuses a missing input before starting', async () => {
    const { code, err } = await run(startMaster, ['run', 'no/such/folder', '--progress', 'none']);
    expect(code).to.equal(MASTER_EXIT.usage);
    expect(err).to.match(/input not found: no\/such\/folder/);
  });

  it('refuses to listen on the network without encryption unless told to', async () => {
    const { code, err } = await run(startMaster, ['run', 'samples', '--bind', 'tcp://0.0.0.0:5599']);
    expect(code).to.equal(MASTER_EXIT.usage);
    expect(err).to.match(/--allow-insecure/);
    // With it, the master says what the risk is (here it then stops at the missing input).
    const told = await run(startMaster, ['run', 'no/such/folder', '--bind', 'tcp://0.0.0.0:5599', '--allow-insecure', '--progress', 'none']);
    expect(told.err).to.match(/without encryption or authentication; anyone who can reach it can take tasks, read the images in them and send forged results/);
  });
});
