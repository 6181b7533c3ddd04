import { expect } from 'chai';
import { SlaveRegistry, unprovenCredit } from '../../../master/slave-registry.js';
import type { ReadyMessage } from '../../../proto/messages.js';
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
