import { expect } from 'chai';
import { join } from 'node:path';
import { MASTER_EXIT } from '../../master/master.js';
import { useTempDir } from '../helpers/fixtures.js';
import { startMaster, startSlave, waitExit } from '../helpers/processes.js';

async function run(start: typeof startMaster, args: string[]): Promise<{ code: number | string; err: string }> {
  const p = start(args);
  const code = await waitExit(p, 30_000);
  return { code, err: p.stderr() };
}

describe('--config files on the command line', function () {
  this.timeout(60_000);
  const tmp = useTempDir();
  const file = tmp.file;

  it('both --help list --config and the metrics options', async () => {
    const m = startMaster(['run', '--help']);
    expect(await waitExit(m, 30_000)).to.equal(0);
    for (const flag of ['--config', '--metrics-port', '--metrics-host', '--metrics-linger']) expect(m.stdout(), flag).to.include(flag);
    const s = startSlave(['--help']);
    expect(await waitExit(s, 30_000)).to.equal(0);
    for (const flag of ['--config', '--metrics-port', '--metrics-host']) expect(s.stdout(), flag).to.include(flag);
  });

  it('refuses a bad value in the file, naming the setting, its range and the file', async () => {
    const cfg = file('master.yaml', 'every: 0\nmetrics-port: 0\n');
    const m = await run(startMaster, ['run', 'samples', '--config', cfg]);
    expect(m.code).to.equal(MASTER_EXIT.usage);
    expect(m.err).to.include(`--every must be an integer from 1 to 1000000, got 0 (set in config file ${cfg})`);
    const scfg = file('slave.json', JSON.stringify({ threads: 0 }));
    const s = await run(startSlave, ['--config', scfg]);
    expect(s.code).to.equal(2);
    expect(s.err).to.include(`--threads must be an integer from 1 to 256, got 0 (set in config file ${scfg})`);
    const port = file('slave-port.yaml', 'metrics-port: 70000\n');
    const p = await run(startSlave, ['--config', port]);
    expect(p.code).to.equal(2);
    expect(p.err).to.include('--metrics-port must be an integer from 0 to 65535, got 70000');
  });

  it("writes a usage error as one JSON record when the file says log-json: true (and as text with --no-log-json)", async () => {
    const cfg = file('json.yaml', 'log-json: true\nevery: 0\nmetrics-port: 0\n');
    const m = await run(startMaster, ['run', 'samples', '--config', cfg]);
    expect(m.code).to.equal(MASTER_EXIT.usage);
    const lines = m.err.trim().split('\n');
    expect(lines, m.err).to.have.length(1);
    const record = JSON.parse(lines[0] ?? '') as { level: number; name: string; msg: string };
    expect([record.level, record.name]).to.deep.equal([50, 'master']);
    expect(record.msg).to.include(`--every must be an integer from 1 to 1000000, got 0 (set in config file ${cfg})`);
    const text = await run(startMaster, ['run', 'samples', '--config', cfg, '--no-log-json']);
    expect(text.err).to.match(/^master: --every must be/);
    const scfg = file('slave-json.yaml', 'log-json: true\nthreads: 0\n');
    const sl = await run(startSlave, ['--config', scfg]);
    expect(sl.code).to.equal(2);
    expect((JSON.parse(sl.err.trim()) as { msg: string }).msg).to.include('--threads must be an integer from 1 to 256, got 0');
  });

  it('refuses a value of the wrong type or outside the choices', async () => {
    const cfg = file('master.yaml', 'every: ten\n');
    const m = await run(startMaster, ['run', 'samples', '--config', cfg]);
    expect(m.code).to.equal(MASTER_EXIT.usage);
    expect(m.err).to.include(`--every must be a number, got "ten" (set in config file ${cfg})`);
    const choice = file('choice.json', '{"progress": "fancy"}');
    const c = await run(startMaster, ['run', 'samples', '--config', choice]);
    expect(c.code).to.equal(MASTER_EXIT.usage);
    expect(c.err).to.include('--progress must be one of auto, bar, plain, none, got "fancy"');
    const bool = file('slave.yaml', 'log-json: yes\n');
    const b = await run(startSlave, ['--config', bool]);
    expect(b.code).to.equal(2);
    expect(b.err).to.include('--log-json must be true or false, got "yes"');
  });

  it('refuses an unknown key, a hidden option and a file that is not a mapping', async () => {
    const cfg = file('master.json', '{"evry": 3}');
    const m = await run(startMaster, ['run', 'samples', '--config', cfg]);
    expect(m.code).to.equal(MASTER_EXIT.usage);
    expect(m.err).to.match(/unknown setting "evry" \(did you mean "every"\?\) \(settings are the long option names of `master run --help`: tasks, out, .*every/);
    const hidden = file('slave.json', '{"exit-with-parent": true}');
    const s = await run(startSlave, ['--config', hidden]);
    expect(s.code).to.equal(2);
    expect(s.err).to.include('unknown setting "exit-with-parent"');
    const alias = file('alias.json', '{"o": "x.jsonl"}');
    expect((await run(startMaster, ['run', 'samples', '--config', alias])).err).to.include('unknown setting "o"');
    const list = file('list.yaml', '- every\n- 3\n');
    const l = await run(startMaster, ['run', 'samples', '--config', list]);
    expect(l.code).to.equal(MASTER_EXIT.usage);
    expect(l.err).to.include('must hold a mapping of settings');
    const broken = file('broken.json', '{"every": 3');
    expect((await run(startMaster, ['run', 'samples', '--config', broken])).err).to.include(`config file ${broken} is not valid JSON`);
    expect((await run(startSlave, ['--config', join(tmp.dir, 'none.yaml')])).err).to.include('cannot read config file');
  });

  it('lets a flag override the file (the bad value in the file is never used)', async () => {
    const cfg = file('master.yaml', 'every: 0\nmetrics-port: 0\nprogress: none\n');
    // With --every on the command line the options are valid; the run stops at the missing input.
    const m = await run(startMaster, ['run', 'no/such/folder', '--config', cfg, '--every', '3']);
    expect(m.code).to.equal(MASTER_EXIT.usage);
    expect(m.err).to.match(/input not found: no\/such\/folder/);
    expect(m.err).to.not.include('--every');
    // A flag's own bad value is not blamed on the file.
    const f = await run(startMaster, ['run', 'samples', '--config', cfg, '--every', '-1']);
    expect(f.err).to.include('--every must be an integer from 1 to 1000000, got -1');
    expect(f.err).to.not.include('set in config file');
  });
});
