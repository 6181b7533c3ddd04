import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SAMPLE_VIDEO } from '../helpers/fixtures.js';
import { ROOT, alive, descendants, startNode, survivors, waitExit, waitFor, type SeenProcess, runsEntry } from '../helpers/processes.js';

const RESULTS = join(ROOT, 'test/bench/RESULTS.md');

/** Runs `npm run bench`'s script with `args`; each case here stops at option parsing, before any work. */
function bench(args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/bench/bench.ts', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('npm run bench: command line', function () {
  this.timeout(120_000);

  it('--help prints the options and exits 0 without running anything', () => {
    const before = readFileSync(RESULTS, 'utf8');
    const { code, out } = bench(['--help']);
    expect(code).to.equal(0);
    for (const flag of ['--frames', '--rounds', '--skip', '--help']) expect(out, flag).to.include(flag);
    expect(out).to.not.include('machine:');
    expect(readFileSync(RESULTS, 'utf8')).to.equal(before);
  });

  it('refuses an unknown option and bad values with exit 2 and the reason', () => {
    const cases: [string[], string][] = [
      [['--frame', '3'], "Unknown option '--frame'"],
      [['--rounds', '0'], '--rounds must be a whole number >= 1, not "0"'],
      [['--frames', 'many'], '--frames must be a whole number >= 1, not "many"'],
      [['--skip', 'peers,pears'], '--skip takes peers, dispatch, memory, video; not pears'],
    ];
    for (const [args, reason] of cases) {
      const { code, out, err } = bench(args);
      expect(code, args.join(' ')).to.equal(2);
      expect(err, args.join(' ')).to.include(reason);
      expect(out, args.join(' ')).to.not.include('machine:');
    }
  });
});

describe('npm run bench: Ctrl-C', function () {
  this.timeout(180_000);

  it('stops the cluster it started and removes its scratch folder', async () => {
    // Tracked: the root hook ends it by PID if this test fails before its SIGINT.
    const p = startNode('test/bench/bench.ts', ['--frames', '4', '--rounds', '1', '--skip', 'peers,dispatch,memory,video'], {
      nodeArgs: ['--import', 'tsx'],
      // The bundled clip, so that a fresh checkout does not download vtest.avi for this.
      env: { ...process.env, CCTV_BENCH_VIDEO: SAMPLE_VIDEO },
    });
    let below: SeenProcess[] = [];
    try {
      // The first run of round 1 is a cluster (1 x 2): interrupt it once its workers run.
      await waitFor(() => /round 1 of 1: cluster/.test(p.stdout()), 120_000, 'the first cluster run');
      const work = /in (\S+) \(removed at the end\)/.exec(p.stdout())?.[1];
      expect(work, p.stdout()).to.match(/cctv-bench-/);
      await waitFor(() => descendants(p.pid).some((c) => runsEntry(c, 'child-main')), 60_000, "the cluster's workers");
      below = descendants(p.pid);
      p.proc.kill('SIGINT');
      expect(await waitExit(p, 30_000)).to.equal(130);
      expect(existsSync(work ?? '')).to.equal(false);
      // The master is SIGKILLed by PID; its slaves and workers leave with it (--exit-with-parent).
      expect(await survivors(below, 10_000)).to.deep.equal([]);
    } finally {
      // What outlived the bench (none unless this test failed): its masters, slaves, workers.
      for (const c of below) if (alive(c)) process.kill(c.pid, 'SIGKILL');
    }
  });
});
