import { expect } from 'chai';
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MASTER_EXIT } from '../../master/master.js';
import { SAMPLE_FACES, readReport, readResults, useTempDir } from '../helpers/fixtures.js';
import { startMaster, startSlave, waitExit, waitFor } from '../helpers/processes.js';

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

  it('slave --help documents every flag', async () => {
    const { code, out } = await run(startSlave, ['--help']);
    expect(code).to.equal(0);
    for (const flag of ['--connect', '--threads', '--prefetch', '--slave-id', '--heartbeat-interval', '--heartbeat-liveness', '--reconnect-max', '--task-timeout', '--max-image-pixels', '--max-image-bytes', '--max-message-bytes', '--curve-secret-key', '--master-public-key', '--drain-timeout', '--log-level', '--log-json']) {
      expect(out, flag).to.include(flag);
    }
  });

  it('keygen --help explains the roles of the keys, on both command lines', async () => {
    for (const start of [startMaster, startSlave]) {
      const { code, out } = await run(start, ['keygen', '--help']);
      expect(code).to.equal(0);
      expect(out).to.include('--force');
      expect(out).to.match(/copy master\.pub to every slave/);
      expect(out).to.match(/each slave's \.pub into one folder/);
    }
  });

  it('refuses half a CURVE configuration', async () => {
    const m = await run(startMaster, ['run', 'samples', '--curve-secret-key', 'master.key']);
    expect(m.code).to.equal(MASTER_EXIT.usage);
    expect(m.err).to.match(/needs --curve-secret-key and --allow-keys together/);
    const s = await run(startSlave, ['--master-public-key', 'master.pub']);
    expect(s.code).to.equal(2);
    expect(s.err).to.match(/needs --curve-secret-key and --master-public-key together/);
    const k = await run(startSlave, ['--curve-secret-key', 'no/such.key', '--master-public-key', 'master.pub']);
    expect(k.code).to.equal(2);
    expect(k.err).to.match(/cannot read secret key no\/such\.key: ENOENT/);
  });

  it('refuses a mistyped flag', async () => {
    const { code, err } = await run(startMaster, ['run', 'x.jpg', '--evry', '3']);
    expect(code).to.equal(MASTER_EXIT.usage);
    expect(err).to.match(/^master: unknown option --evry$/m);
    expect(err).to.match(/master run --help/);
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
      [['--report', ''], /^master: --report must name a file, got ""$/m],
      [['--report', dir], /^master: --report \S+a-dir is a directory; give a file name$/m],
      // Node's recursive mkdir loops forever on this one (the kernel says ENOENT under /proc).
      [['--annotate', '/proc/cctv-x/y'], /^master: --annotate cannot create the folder \/proc\/cctv-x\/y: ENOENT$/m],
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
    const photo = tmp.file('existing.jpg', 'a photo');
    const other = await run(startMaster, ['run', IMAGE, '--tasks', 'edge', '--out', out, '--report', photo, ...QUIET]);
    expect(other.code).to.equal(MASTER_EXIT.usage);
    expect(other.err).to.match(/^master: --report \S+existing\.jpg already exists and is not a cctv-cluster report: give another name, or pass --overwrite to replace it$/m);
    expect(readFileSync(photo, 'utf8')).to.equal('a photo');
    expect(existsSync(`${photo}.html`)).to.equal(false);
    expect(existsSync(out)).to.equal(false);
  });

  it('replaces its own report (OUT.report.json) on --overwrite and --resume', async () => {
    const out = join(tmp.dir, 'again.jsonl');
    const args = ['run', IMAGE, '--tasks', 'edge', '--out', out, '--local-threads', '1', ...QUIET];
    expect((await run(startMaster, args)).code).to.equal(0);
    const before = statSync(`${out}.report.json`).mtimeMs;
    const o = await run(startMaster, [...args, '--overwrite']);
    expect(o.code, o.err).to.equal(0);
    expect(statSync(`${out}.report.json`).mtimeMs).to.be.above(before);
    const r = await run(startMaster, [...args, '--resume']);
    expect(r.code, r.err).to.equal(0);
    expect(readReport(`${out}.report.json`).imagesResumed).to.equal(1);
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

  it('warns that --local-threads has no effect without local slaves', async () => {
    const m = startMaster(['run', IMAGE, '--tasks', 'edge', '--out', join(tmp.dir, 'w.jsonl'), '--local-slaves', '0', '--local-threads', '4', ...QUIET]);
    await waitFor(() => /waiting for slaves/.test(m.stderr()), 30_000, 'the master to wait for slaves');
    expect(m.stderr()).to.match(/warn +\[master\] --local-threads 4 has no effect with --local-slaves 0/);
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
