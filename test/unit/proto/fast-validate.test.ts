import { expect } from 'chai';
import { Packr } from 'msgpackr';
import { decode } from '../../../proto/codec.js';
import { fastValidate } from '../../../proto/fast-validate.js';
import { MessageSchema } from '../../../proto/schema.js';
import { PROTOCOL_VERSION } from '../../../proto/version.js';
import { Fuzzer } from '../../helpers/fuzz.js';
import { SAMPLE_MESSAGES } from '../../helpers/messages.js';

// The codec's own settings, so the validators see what they see in production.
const pack = new Packr({ useRecords: false, mapsAsObjects: true });
const unpack = new Packr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' });
const wire = (o: unknown): Record<string, unknown> => unpack.unpack(pack.pack(o)) as Record<string, unknown>;

// The shared samples of the per-task commands (RESULT has every task kind), as decoded.
const valid = SAMPLE_MESSAGES.filter((m) => ['TASK', 'RESULT', 'FAIL', 'HEARTBEAT'].includes(m.name)).map((m) => ({ v: PROTOCOL_VERSION, ...m.msg }));

describe('proto fast-validate (compiled TASK / RESULT / FAIL / HEARTBEAT validators)', () => {
  it('accepts what zod accepts and returns the same object, unknown keys removed at every depth', () => {
    for (const m of valid) {
      const withExtras = wire({ ...m, extra: 1 });
      for (const list of [withExtras['tasks'], withExtras['results'], withExtras['failures']]) {
        if (Array.isArray(list)) {
          for (const entry of list as Record<string, unknown>[]) {
            entry['junk'] = 'x';
            const value = entry['value'] as Record<string, unknown> | undefined;
            if (value !== undefined) value['evil'] = { nested: true };
          }
        }
      }
      const config = withExtras['config'] as Record<string, Record<string, unknown>> | undefined;
      if (config !== undefined) {
        config['junk'] = { a: 1 };
        (config['edge'] as Record<string, unknown>)['evil'] = 'x';
      }
      const zod = MessageSchema.safeParse(structuredClone(withExtras));
      expect(zod.success).to.equal(true);
      const fast = fastValidate(withExtras);
      expect(fast, m.cmd).to.not.equal(undefined);
      expect(fast).to.deep.equal(zod.data);
      expect(fast).to.deep.equal(wire(m));
    }
  });

  it('leaves other commands to zod', () => {
    expect(fastValidate(wire({ v: PROTOCOL_VERSION, cmd: 'DISCONNECT', reason: 'bye' }))).to.equal(undefined);
    expect(fastValidate(wire({ v: PROTOCOL_VERSION, cmd: 'NOPE' }))).to.equal(undefined);
  });

  it('on 6,000 mutated messages accepts only what zod accepts, as the same object, and decodes exactly as zod alone', () => {
    const fuzz = new Fuzzer(Number(process.env['CCTV_FUZZ_SEED'] ?? 20261121));
    let accepted = 0;
    let leftToZod = 0;
    for (let i = 0; i < 6000; i++) {
      const m = wire(fuzz.mutate(fuzz.pick(valid) as never));
      const what = `case ${i}: ${JSON.stringify(m).slice(0, 300)}`;
      const zod = MessageSchema.safeParse(structuredClone(m));
      const fast = fastValidate(structuredClone(m));
      if (fast !== undefined) {
        accepted++;
        expect(zod.success, what).to.equal(true);
        expect(fast, what).to.deep.equal(zod.data);
      } else if (zod.success) leftToZod++;
      // decode() = the compiled path, else zod: the same outcome as zod alone (and, for a
      // TASK, the check of its image parts: here one part of 5 bytes).
      const d = decode([pack.pack(m), ...(m['cmd'] === 'TASK' ? [Buffer.alloc(5)] : [])]);
      const partsOk = !zod.success || zod.data.cmd !== 'TASK' || zod.data.tasks.every((t) => t.part === 0 && (t.offset === undefined) === (t.length === undefined) && (t.offset ?? 0) + (t.length ?? 0) <= 5);
      expect(d.ok, what).to.equal(zod.success && partsOk);
      if (d.ok && zod.success) expect(d.message, what).to.deep.equal(zod.data);
    }
    // Some mutations stay valid (a number replaced by another in range); most do not. Only
    // non-plain objects (a Buffer where zod takes any object) are left to zod when valid.
    expect(accepted).to.be.within(1, 3000);
    expect(leftToZod).to.be.below(accepted);
  });
});
