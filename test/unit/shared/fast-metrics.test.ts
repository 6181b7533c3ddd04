import { expect } from 'chai';
import { Counter, Histogram, Registry } from 'prom-client';
import { FastCounter, FastHistogram } from '../../../shared/fast-metrics.js';

const BUCKETS = [0.001, 0.01, 0.1, 1, 10];
// Bucket edges (le is inclusive), values between, beyond the last bound, and zero.
const VALUES = [0, 0.001, 0.0011, 0.01, 0.05, 0.1, 0.5, 1, 3, 10, 11, 1e6];

describe('fast metrics: prom-client exposition for per-task series', () => {
  it('a FastHistogram exports exactly what a prom-client Histogram exports for the same observations', async () => {
    const fast = new Registry();
    const ref = new Registry();
    const f = new FastHistogram({ name: 'x_seconds', help: 'h', labelName: 'kind', buckets: BUCKETS, registers: [fast] });
    const r = new Histogram({ name: 'x_seconds', help: 'h', labelNames: ['kind'], buckets: BUCKETS, registers: [ref] });
    const fo = f.child('object');
    const fe = f.child('edge');
    r.zero({ kind: 'object' });
    r.zero({ kind: 'edge' });
    for (const v of VALUES) {
      fo.observe(v);
      r.observe({ kind: 'object' }, v);
    }
    fe.observe(0.02);
    r.observe({ kind: 'edge' }, 0.02);
    expect(await fast.metrics()).to.equal(await ref.metrics());
    expect(await fast.metrics()).to.include('x_seconds_bucket{le="0.01",kind="object"} 4');
  });

  it('a FastHistogram series exists at 0 before its first observation, and ignores non-finite values', async () => {
    const reg = new Registry();
    const f = new FastHistogram({ name: 'y_seconds', help: 'h', labelName: 'kind', buckets: BUCKETS, registers: [reg] });
    f.child('face').observe(Number.NaN);
    const text = await reg.metrics();
    expect(text).to.include('y_seconds_count{kind="face"} 0');
    expect(text).to.include('y_seconds_bucket{le="+Inf",kind="face"} 0');
  });

  it('a FastCounter exports what a prom-client Counter exports; negative increments are ignored', async () => {
    const fast = new Registry();
    const ref = new Registry();
    const f = new FastCounter({ name: 'z_total', help: 'h', labelNames: ['kind', 'outcome'], registers: [fast] });
    const r = new Counter({ name: 'z_total', help: 'h', labelNames: ['kind', 'outcome'], registers: [ref] });
    const a = f.child('object', 'done');
    const b = f.child('object', 'failed');
    r.labels('object', 'done').inc(0);
    r.labels('object', 'failed').inc(0);
    for (let i = 0; i < 5; i++) {
      a.inc();
      r.labels('object', 'done').inc();
    }
    b.inc(2);
    r.labels('object', 'failed').inc(2);
    a.inc(-3);
    expect(await fast.metrics()).to.equal(await ref.metrics());
    expect(await fast.metrics()).to.include('z_total{kind="object",outcome="done"} 5');
  });
});
