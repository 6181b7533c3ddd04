import { expect } from 'chai';
import { WORKER_MMAP_THRESHOLD_BYTES, WORKER_TRIM_THRESHOLD_BYTES, workerEnv } from '../../../slave/pool/worker-env.js';

describe('unit: worker process environment', () => {
  it("fixes glibc malloc's mmap and trim thresholds at 32 and 64 MiB, keeping the rest of the environment", () => {
    const base = { PATH: '/usr/bin', CCTV_TEST_FAULT: 'x' };
    const env = workerEnv(base);
    expect(env).to.deep.equal({ ...base, MALLOC_MMAP_THRESHOLD_: String(32 * 1024 * 1024), MALLOC_TRIM_THRESHOLD_: String(64 * 1024 * 1024) });
    expect(WORKER_TRIM_THRESHOLD_BYTES).to.equal(2 * WORKER_MMAP_THRESHOLD_BYTES);
    expect(base, 'the slave\'s own environment is not changed').to.not.have.property('MALLOC_MMAP_THRESHOLD_');
  });

  it('leaves both thresholds to the user who sets either: one set alone turns off the dynamic rule of both', () => {
    expect(workerEnv({ MALLOC_MMAP_THRESHOLD_: '131072' })).to.deep.equal({ MALLOC_MMAP_THRESHOLD_: '131072' });
    expect(workerEnv({ MALLOC_TRIM_THRESHOLD_: '1' })).to.deep.equal({ MALLOC_TRIM_THRESHOLD_: '1' });
  });
});
