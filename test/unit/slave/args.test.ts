import { expect } from 'chai';
import { buildSlaveArgs } from '../../../slave/args.js';
import { InvalidArgumentError } from '../../../shared/errors.js';

describe('unit: slave command-line checks', () => {
  it('takes --heartbeat-interval from 10 ms as the master does, and no --reconnect-max below the back-off\'s first step (1000 ms)', async () => {
    await expect(buildSlaveArgs(['--heartbeat-interval', '5'])).to.be.rejectedWith(InvalidArgumentError, '--heartbeat-interval must be an integer from 10 to 600000, got 5');
    await expect(buildSlaveArgs(['--reconnect-max', '1'])).to.be.rejectedWith(InvalidArgumentError, '--reconnect-max must be an integer from 1000 to 3600000, got 1');
    expect((await buildSlaveArgs(['--heartbeat-interval', '10', '--reconnect-max', '1000'])).options).to.include({ heartbeatIntervalMs: 10, reconnectMaxMs: 1000 });
  });

  it('warns of a short silence window in the slave\'s own terms: it loses its master, not slaves', async () => {
    const a = await buildSlaveArgs(['--heartbeat-interval', '100']);
    expect(a.warnings).to.include('--heartbeat-interval 100 x --heartbeat-liveness 3 = 300 ms of silence declares a peer dead: a busy or loaded machine can miss that, dropping its tasks in hand and reconnecting to a live master (the defaults give 3000 ms)');
  });
});
