import { expect } from 'chai';
import { MASTER_EXIT } from '../../master/master.js';
import { startMaster, startSlave, waitExit } from '../helpers/processes.js';

async function run(start: typeof startMaster, args: string[]): Promise<{ code: number | string; out: string; err: string }> {
  const p = start(args);
  const code = await waitExit(p, 30_000);
  return { code, out: p.stdout(), err: p.stderr() };
}

describe('command-line interface', function () {
  this.timeout(60_000);

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
    expect(err).to.match(/Unknown argument: evry/);
    expect(err).to.match(/master run --help/);
  });

  it('refuses an out-of-range value, naming the flag and the range', async () => {
    const { code, err } = await run(startMaster, ['run', 'samples', '--every', '0']);
    expect(code).to.equal(MASTER_EXIT.usage);
    expect(err).to.match(/--every must be an integer from 1 to 1000000, got 0/);
    const s = await run(startSlave, ['--threads', '0']);
    expect(s.code).to.equal(2);
    expect(s.err).to.match(/--threads must be an integer from 1 to 256/);
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
