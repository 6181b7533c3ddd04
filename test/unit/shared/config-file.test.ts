import { expect } from 'chai';
import { buildMasterArgs, type MasterArgs } from '../../../master/args.js';
import { buildSlaveArgs } from '../../../slave/args.js';
import { checkConfig, findConfigPath, loadConfig } from '../../../shared/config-file.js';
import { InvalidArgumentError } from '../../../shared/errors.js';
import { useTempDir } from '../../helpers/fixtures.js';

const RULES = {
  command: 'tool',
  options: { every: { type: 'number' }, tasks: { type: 'string' }, out: { type: 'string', alias: 'o' }, resume: { type: 'boolean' }, progress: { choices: ['a', 'b'] }, config: { type: 'string' } },
  lists: ['tasks'],
};

describe('config files', () => {
  const tmp = useTempDir();
  const file = tmp.file;

  it('finds --config FILE and --config=FILE, the last one winning, not after --', () => {
    expect(findConfigPath(['run', 'x', '--config', 'a.yaml'])).to.equal('a.yaml');
    expect(findConfigPath(['--config=a.yaml', '--config', 'b.json'])).to.equal('b.json');
    expect(findConfigPath(['run', '--', '--config', 'a.yaml'])).to.equal(undefined);
    expect(findConfigPath(['--configs', 'a'])).to.equal(undefined);
    // No value (last word, or another flag next): left to yargs, which says --config needs one.
    expect(findConfigPath(['run', 'x', '--config'])).to.equal(undefined);
    expect(findConfigPath(['run', '--config', '--every', '3'])).to.equal(undefined);
    expect(() => loadConfig(['--config', ''], RULES)).to.throw(InvalidArgumentError, '--config must name a file, got ""');
  });

  it('checks keys and types, and turns lists into flag text', () => {
    expect(checkConfig({ every: 3, tasks: ['face', 'edge'], out: 42, resume: true, progress: 'b' }, 'f', RULES)).to.deep.equal({ every: 3, tasks: 'face,edge', out: '42', resume: true, progress: 'b' });
    const bad = (raw: Record<string, unknown>): string => {
      try {
        checkConfig(raw, 'f.yaml', RULES);
      } catch (err) {
        expect(err).to.be.instanceOf(InvalidArgumentError);
        return (err as Error).message;
      }
      throw new Error('accepted');
    };
    expect(bad({ every: '3' })).to.equal('--every must be a number, written without quotes, got "3" (set in config file f.yaml)');
    expect(bad({ every: 'three' })).to.equal('--every must be a number, got "three" (set in config file f.yaml)');
    expect(bad({ resume: 'true' })).to.equal('--resume must be true or false, written without quotes, got "true" (set in config file f.yaml)');
    expect(bad({ resume: 'yes' })).to.equal('--resume must be true or false, got "yes" (set in config file f.yaml)');
    expect(bad({ progress: 'c' })).to.equal('--progress must be one of a, b, got "c" (set in config file f.yaml)');
    expect(bad({ out: ['a', 'b'] })).to.equal('--out must be a string, got ["a","b"] (set in config file f.yaml)');
    expect(bad({ tasks: { a: [1] } })).to.match(/^--tasks must be a string, a list or a mapping/);
    expect(bad({ o: 'x' })).to.match(/unknown setting "o" \(settings are the long option names of `tool --help`: every, tasks, out, resume, progress\)/);
    expect(bad({ config: 'x' })).to.match(/cannot name another one/);
  });

  it('reads YAML (lists, mappings) and JSON, with or without a byte-order mark; an empty file is no settings', () => {
    expect(loadConfig(['--config', file('a.yml', 'every: 4\ntasks:\n  - face\n')], RULES)?.values).to.deep.equal({ every: 4, tasks: 'face' });
    expect(loadConfig(['--config', file('a.json', '{"every": 4}')], RULES)?.values).to.deep.equal({ every: 4 });
    expect(loadConfig(['--config', file('bom.json', '\uFEFF{"every": 5}')], RULES)?.values).to.deep.equal({ every: 5 });
    expect(loadConfig(['--config', file('bom.yaml', '\uFEFFevery: 6\n')], RULES)?.values).to.deep.equal({ every: 6 });
    expect(loadConfig(['--config', file('empty.yaml', '')], RULES)?.values).to.deep.equal({});
    expect(loadConfig(['--config', file('empty.json', ' \n')], RULES)?.values).to.deep.equal({});
    expect(loadConfig(['run'], RULES)).to.equal(undefined);
  });

  it('sets every master run option from the file, flags winning', async () => {
    const cfg = file('master.yaml', [
      'every: 10',
      'local-slaves: 2',
      'tasks: [face, edge]',
      'lease: {face: 9000, edge: 5000}',
      'out: from-file.jsonl',
      'progress: none',
      'resume: true',
      'metrics-port: 0',
      'metrics-host: 0.0.0.0',
      'metrics-linger: 15000',
      'log-level: debug',
      '',
    ].join('\n'));
    const a = (await buildMasterArgs(['run', 'samples', '--config', cfg])) as MasterArgs;
    expect(a.options).to.include({ every: 10, localSlaves: 2, out: 'from-file.jsonl', reportFile: 'from-file.jsonl.report.json', progress: 'none', resume: true, metricsPort: 0, metricsHost: '0.0.0.0', metricsLingerMs: 15000 });
    expect(a.options.kinds).to.deep.equal(['face', 'edge']);
    expect(a.options.leaseMs).to.include({ face: 9000, edge: 5000, object: 120_000 });
    expect(a.logLevel).to.equal('debug');
    const b = (await buildMasterArgs(['run', 'samples', '--config', cfg, '--every', '3', '-o', 'flag.jsonl', '--no-resume', '--tasks', 'object', '--metrics-port', '9999'])) as MasterArgs;
    expect(b.options).to.include({ every: 3, out: 'flag.jsonl', resume: false, localSlaves: 2, metricsPort: 9999 });
    expect(b.options.kinds).to.deep.equal(['object']);    // A flag that rules out a setting of the file wins over it too.
    const c = (await buildMasterArgs(['run', 'samples', '--config', cfg, '--overwrite'])) as MasterArgs;
    expect(c.options).to.include({ overwrite: true, resume: false });
    const over = file('over.yaml', 'overwrite: true\n');
    expect(((await buildMasterArgs(['run', 'samples', '--config', over, '--resume'])) as MasterArgs).options).to.include({ overwrite: false, resume: true });
    expect(((await buildMasterArgs(['run', 'samples', '--config', over, '--no-resume'])) as MasterArgs).options, '--no-resume rules nothing out').to.include({ overwrite: true, resume: false });
    await expect(buildMasterArgs(['run', 'samples', '--config', cfg, '--overwrite', '--resume'])).to.be.rejectedWith(InvalidArgumentError, /--resume and --overwrite cannot be used together/);
  });

  it('blames a bad value on the file only when the file set it', async () => {
    const cfg = file('master.json', JSON.stringify({ 'jpeg-quality': 500, out: 'x.jsonl' }));
    await expect(buildMasterArgs(['run', 'samples', '--config', cfg])).to.be.rejectedWith(InvalidArgumentError, `--jpeg-quality must be an integer from 1 to 100, got 500 (set in config file ${cfg})`);
    const ok = file('ok.json', JSON.stringify({ out: 'x.jsonl' }));
    const err = await buildMasterArgs(['run', 'samples', '--config', ok, '--jpeg-quality', '0']).catch((e: unknown) => e as Error);
    expect((err as Error).message).to.equal('--jpeg-quality must be an integer from 1 to 100, got 0');
  });

  it('sets slave options from the file, flags winning', async () => {
    const cfg = file('slave.yaml', 'connect: tcp://10.0.0.5:5570\nthreads: 3\nslave-id: pi-7\nmetrics-port: 9465\nmetrics-host: "::"\ndrain-timeout: 0\nmemory-budget: 600\n');
    const a = await buildSlaveArgs(['--config', cfg]);
    expect(a.options).to.include({ connect: 'tcp://10.0.0.5:5570', threads: 3, prefetch: 24, slaveId: 'pi-7', metricsPort: 9465, metricsHost: '::', drainTimeoutMs: 0, memoryBudgetMb: 600 });
    const b = await buildSlaveArgs(['--config', cfg, '--threads', '1', '--metrics-port', '0', '--memory-budget', '0']);
    expect(b.options).to.include({ threads: 1, prefetch: 8, metricsPort: 0, slaveId: 'pi-7', memoryBudgetMb: 0 });
    expect((await buildSlaveArgs([])).options.memoryBudgetMb).to.equal(undefined);
    // `--threads auto` (the systemd unit always passes --threads): the file's count, else the default.
    expect((await buildSlaveArgs(['--config', cfg, '--threads', 'auto'])).options).to.include({ threads: 3, prefetch: 24 });
    const defaults = await buildSlaveArgs([]);
    expect((await buildSlaveArgs(['--threads', 'AUTO'])).options).to.include({ threads: defaults.options.threads, prefetch: defaults.options.prefetch });
    // The file takes what the flag takes (a slave.yaml beside CCTV_THREADS=auto), and a flag overrides it.
    const auto = file('auto.yaml', 'threads: Auto\n');
    expect((await buildSlaveArgs(['--config', auto])).options.threads).to.equal(defaults.options.threads);
    expect((await buildSlaveArgs(['--config', auto, '--threads', '1'])).options.threads).to.equal(1);
    expect((await buildSlaveArgs(['--config', auto, '--threads', 'auto'])).options.threads).to.equal(defaults.options.threads);
    await expect(buildSlaveArgs(['--config', file('bad-auto.yaml', 'threads: many\n')])).to.be.rejectedWith(InvalidArgumentError, /--threads must be a number or auto, got "many" \(set in config file/);
    await expect(buildSlaveArgs(['--memory-budget', '-5'])).to.be.rejectedWith(InvalidArgumentError, /--memory-budget must be an integer from 0/);
    const bad = file('bad.yaml', 'metrics-host: "not a host"\n');
    await expect(buildSlaveArgs(['--config', bad])).to.be.rejectedWith(InvalidArgumentError, /--metrics-host must be an IP address or host name/);
  });
});
