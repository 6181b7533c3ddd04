import { expect } from 'chai';
import { SlaveRegistry, unprovenCredit } from '../../../master/slave-registry.js';
import type { ReadyMessage } from '../../../proto/messages.js';
import { IN_FLIGHT_BYTES } from '../../../proto/schema.js';
import type { TaskKind } from '../../../proto/task-kinds.js';
import { ManualClock } from '../../../shared/clock.js';
import { SAMPLE_HOST } from '../../helpers/messages.js';

const KINDS: TaskKind[] = ['object', 'face', 'edge', 'corner'];
const ready = (slaveId: string, capacity: number, prefetch: number): ReadyMessage => ({ cmd: 'READY', slaveId, capacity, prefetch, kinds: KINDS, host: SAMPLE_HOST }) as ReadyMessage;

describe('SlaveRegistry', () => {
  it('gives a slave that has answered nothing yet at most 16 tasks, then the credit it announced (slow start)', () => {
    const r = new SlaveRegistry(new ManualClock(), 1000, 3);
    r.add(ready('greedy', 1024, 4096));
    r.add(ready('small', 2, 2));
    const credit = (id: string): number | undefined => r.credits(KINDS).find((s) => s.slaveId === id)?.credit;
    expect(unprovenCredit(KINDS.length)).to.equal(16);
    expect(credit('greedy'), 'announced 5,120, unproven').to.equal(16);
    expect(credit('small'), 'announced less than the limit').to.equal(4);
    r.recordDone('greedy', 5);
    expect(credit('greedy'), 'after its first answer').to.equal(5120);
    // A new session (READY again) starts unproven again.
    r.add(ready('greedy', 1024, 4096));
    expect(credit('greedy')).to.equal(16);
  });
});

describe('SlaveRegistry receipts (bytes on their way to a slave)', () => {
  it('counts the image bytes of TASK messages not yet said received against IN_FLIGHT_BYTES, for a slave that sends receipts only', () => {
    const r = new SlaveRegistry(new ManualClock(), 1000, 3);
    const pi = r.add({ ...ready('pi', 1, 8), receipts: true });
    const old = r.add(ready('old', 1, 8));
    const byteCredit = (id: string): number | undefined => r.credits(KINDS).find((s) => s.slaveId === id)?.byteCredit;
    expect(byteCredit('pi'), 'nothing on its way').to.equal(IN_FLIGHT_BYTES);
    SlaveRegistry.sentTaskMessage(pi, 1_500_000);
    SlaveRegistry.sentTaskMessage(pi, 600_000);
    expect(byteCredit('pi')).to.equal(IN_FLIGHT_BYTES - 2_100_000);
    expect(SlaveRegistry.received(pi, 1), 'the first message arrived').to.equal(true);
    expect(byteCredit('pi')).to.equal(IN_FLIGHT_BYTES - 600_000);
    expect(SlaveRegistry.received(pi, 1), 'said again: nothing new').to.equal(false);
    expect(SlaveRegistry.received(pi, 5), 'more than was sent (a stale count) frees what there is').to.equal(true);
    expect(byteCredit('pi')).to.equal(IN_FLIGHT_BYTES);
    SlaveRegistry.sentTaskMessage(old, 50_000_000);
    expect(byteCredit('old'), 'an older slave sends no receipts: no limit').to.equal(undefined);
    // A new session starts with nothing on its way.
    SlaveRegistry.sentTaskMessage(pi, 3_000_000);
    r.add({ ...ready('pi', 1, 8), receipts: true });
    expect(byteCredit('pi')).to.equal(IN_FLIGHT_BYTES);
  });
});

describe('SlaveRegistry worker time (utilization, parallel efficiency)', () => {
  it('counts each slave\'s threads only while it was connected, over all its sessions', () => {
    const clock = new ManualClock(0);
    const r = new SlaveRegistry(clock, 1000, 3);
    r.add(ready('early', 2, 2));
    clock.advance(6_000);
    // Killed after 6 s, restarted under the same id 1 s later, there until the end (t = 10 s).
    r.remove('early');
    clock.advance(1_000);
    r.add(ready('early', 2, 2));
    clock.advance(1_000);
    r.add(ready('late', 4, 4));
    clock.advance(2_000);
    r.recordDone('late', 7_000);
    const totals = new Map(r.allTotals(clock.now()).map((t) => [t.slaveId, t]));
    // Was threads x the whole wall time for each: 2 x 10 s and 4 x 10 s.
    expect(totals.get('early')?.workerMs).to.equal(2 * 6_000 + 2 * 3_000);
    expect(totals.get('late')?.workerMs).to.equal(4 * 2_000);
    // Reading the totals closes nothing: the open sessions go on.
    clock.advance(1_000);
    expect(r.allTotals(clock.now()).find((t) => t.slaveId === 'late')?.workerMs).to.equal(4 * 3_000);
  });
});
