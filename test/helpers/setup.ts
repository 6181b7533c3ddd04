// Registered once for every test file (BullMQ `mocha.setup.ts` style).
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as chai from 'chai';
import chaiAsPromised from 'chai-as-promised';
import { killAllTracked } from './processes.js';

chai.use(chaiAsPromised);

/**
 * TMPDIR of this run and of every process it starts, removed at its end: a master the tests
 * SIGKILL leaves its inode lock there (`cctv-cluster-DEV-INO.lock`), ~40 a run in /tmp before.
 * Mode 1777 as /tmp: a test runs a master as `nobody`.
 */
const runTmp = mkdtempSync(join(tmpdir(), 'cctv-test-'));
chmodSync(runTmp, 0o1777);
process.env['TMPDIR'] = runTmp;

/** Root hooks: every child a test spawned is ended, also when the test failed; the run's TMPDIR goes at the end. */
export const mochaHooks = {
  async afterEach(): Promise<void> {
    await killAllTracked();
  },
  afterAll(): void {
    rmSync(runTmp, { recursive: true, force: true });
  },
};
