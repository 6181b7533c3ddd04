import { expect } from 'chai';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SAMPLE_FACES, useTempDir } from '../helpers/fixtures.js';
import { loopbackEndpoint } from '../helpers/ports.js';
import { startMaster, startSlave, waitExit, waitFor, type Tracked } from '../helpers/processes.js';

const IMAGE = join(SAMPLE_FACES, '2008_001009.jpg');

/**
 * A master and a slave given different --heartbeat-intervals. The slave's one task hangs
 * (test fault), so between heartbeats neither side has anything else to say: the side with
 * the shorter window declared the other dead between two of its heartbeats, over and over.
 */
describe('faults: master and slave with different heartbeat intervals', function () {
  this.timeout(60_000);
  const tmp = useTempDir();
  const started: Tracked[] = [];
  afterEach(async () => {
    for (const p of started.splice(0)) {
      p.proc.kill('SIGKILL');
      await waitExit(p, 20_000).catch(() => undefined);
    }
  });

  async function pair(masterMs: number, slaveMs: number): Promise<{ master: Tracked; slave: Tracked }> {
    const endpoint = await loopbackEndpoint();
    const master = startMaster(['run', IMAGE, '--tasks', 'edge', '--bind', endpoint, '--local-slaves', '0', '--out', join(tmp.dir, 'hb.jsonl'), '--progress', 'none', '--metrics-port', '0', '--heartbeat-interval', String(masterMs), '--heartbeat-liveness', '3']);
    started.push(master);
    const slave = startSlave(['--connect', endpoint, '--threads', '1', '--slave-id', 'slow-beat', '--metrics-port', '0', '--heartbeat-interval', String(slaveMs), '--heartbeat-liveness', '3'], { env: { ...process.env, CCTV_TEST_FAULT: 'hang:edge:0' } });
    started.push(slave);
    await waitFor(() => /slave slow-beat joined/.test(master.stderr()), 30_000, 'the slave to join');
    return { master, slave };
  }

  it('a slave beating slower than the master expects is judged by its own interval: never lost', async () => {
    const { master } = await pair(250, 1000);
    expect(master.stderr()).to.match(/slave slow-beat heartbeats every 1000 ms, this master every 250 ms: its silence is judged by its interval \(1000 ms x 3\)/);
    // Four of the slave's heartbeats; the master alone would have declared it dead after 750 ms of silence.
    await sleep(4000);
    expect(master.stderr()).to.not.match(/slow-beat lost|no heartbeat for/);
    expect(master.stderr().match(/slave slow-beat joined/g)).to.have.length(1);
  });

  it('a master beating slower than the slave expects is judged by its interval: the slave does not reconnect', async () => {
    const { master, slave } = await pair(1000, 250);
    await sleep(4000);
    expect(slave.stderr()).to.not.match(/master silent|reconnect/i);
    expect(master.stderr().match(/slave slow-beat joined/g)).to.have.length(1);
  });
});
