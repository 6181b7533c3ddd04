// Registered once for every test file (BullMQ `mocha.setup.ts` style).
import * as chai from 'chai';
import chaiAsPromised from 'chai-as-promised';
import { killAllTracked } from './processes.js';

chai.use(chaiAsPromised);

/** Root hooks: every child a test spawned is ended, also when the test failed. */
export const mochaHooks = {
  async afterEach(): Promise<void> {
    await killAllTracked();
  },
};
