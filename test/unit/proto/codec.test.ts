import { expect } from 'chai';
import { Packr } from 'msgpackr';
import { decode, encode, MAX_VALUES_FOR_ZOD } from '../../../proto/codec.js';
import { DEFAULT_DETECTOR_CONFIG } from '../../../proto/detector-config.js';
import { PROTOCOL_VERSION } from '../../../proto/version.js';
import { ProtocolVersionError } from '../../../shared/errors.js';
import { SAMPLE_HOST, SAMPLE_MESSAGES } from '../../helpers/messages.js';

const raw = new Packr({ useRecords: false });
const host = SAMPLE_HOST;

const samples = SAMPLE_MESSAGES;

describe('proto codec', () => {
  for (const { name, msg, payload } of samples) {
    it(`round-trips ${name}`, () => {
      const parts = encode(msg, payload);
      const d = decode(parts);
      expect(d.ok, d.ok ? '' : d.error.message).to.equal(true);
      if (!d.ok) return;
      expect(d.message).to.deep.equal({ v: PROTOCOL_VERSION, ...msg });
      expect(d.payload).to.deep.equal(payload ?? []);
    });
  }

  it('keeps image bytes out of the header part', () => {
    const bytes = Buffer.alloc(100_000, 7);
    const [header, image] = encode(samples[1]!.msg, [bytes]);
    expect(header!.length).to.be.below(2000);
    expect(image).to.equal(bytes);
  });

  const reject = (parts: Buffer[], reason: string, maxHeader?: number): void => {
    const d = decode(parts, maxHeader);
    expect(d.ok).to.equal(false);
    if (!d.ok) expect(d.error.reason).to.equal(reason);
  };

  it('rejects an empty message', () => {
    reject([], 'empty');
    reject([Buffer.alloc(0)], 'empty');
  });
  it('rejects bytes that are not msgpack', () => {
    reject([Buffer.from([0xc1, 0xc1, 0xc1])], 'bad_msgpack');
  });
  it('rejects truncated msgpack', () => {
    const full = encode({ cmd: 'DISCONNECT', reason: 'a long enough reason' })[0]!;
    reject([full.subarray(0, full.length - 5)], 'bad_msgpack');
  });
  it('rejects a header that is not a map', () => {
    reject([raw.pack([1, 2, 3])], 'bad_header');
    reject([raw.pack('READY')], 'bad_header');
  });
  it('rejects another protocol version with a clear error', () => {
    const d = decode([raw.pack({ v: PROTOCOL_VERSION + 1, cmd: 'HEARTBEAT' })]);
    expect(d.ok).to.equal(false);
    if (d.ok) return;
    expect(d.error).to.be.instanceOf(ProtocolVersionError);
    expect(d.error.message).to.include(`protocol version mismatch: this process speaks version ${PROTOCOL_VERSION}, the peer sent ${PROTOCOL_VERSION + 1}`);
  });
  it('quotes at most 40 characters of a wrong version in its error (a 7 MiB one went whole into the log and the reply)', () => {
    const d = decode([raw.pack({ v: 'x'.repeat(7 * 1024 * 1024), cmd: 'HEARTBEAT' })]);
    expect(d.ok).to.equal(false);
    if (!d.ok) {
      expect(d.error.reason).to.equal('version_mismatch');
      expect(d.error.message.length).to.be.below(200);
    }
  });
  it('rejects a header without a version', () => {
    reject([raw.pack({ cmd: 'HEARTBEAT' })], 'version_mismatch');
  });
  it('rejects an unknown command', () => {
    reject([raw.pack({ v: PROTOCOL_VERSION, cmd: 'STEAL' })], 'invalid');
  });
  it('rejects wrong field types and absurd values', () => {
    reject([raw.pack({ v: PROTOCOL_VERSION, cmd: 'READY', slaveId: 5, capacity: 1, prefetch: 0, kinds: ['edge'], host })], 'invalid');
    reject([raw.pack({ v: PROTOCOL_VERSION, cmd: 'READY', slaveId: 'a', capacity: 1e9, prefetch: 0, kinds: ['edge'], host })], 'invalid');
    reject([raw.pack({ v: PROTOCOL_VERSION, cmd: 'READY', slaveId: 'a', capacity: 1, prefetch: 0, kinds: ['teleport'], host })], 'invalid');
    reject([raw.pack({ v: PROTOCOL_VERSION, cmd: 'FAIL', failures: [{ taskId: -1, attempt: 1, kind: 'edge', computeMs: 0, error: { name: 'E', message: '', retryable: true } }] })], 'invalid');
    reject([raw.pack({ v: PROTOCOL_VERSION, cmd: 'RESULT', results: [{ taskId: 1, attempt: 1, computeMs: 1, width: 1, height: 1, kind: 'edge', value: { edgePixels: 1, density: 7 } }] })], 'invalid');
  });
  it('rejects a READY whose slave id or host facts hold control characters (forged log lines, ANSI escapes)', () => {
    const ready = (slaveId: string, hostname: string): Buffer[] => [raw.pack({ v: PROTOCOL_VERSION, cmd: 'READY', slaveId, capacity: 1, prefetch: 0, kinds: ['edge'], host: { ...host, hostname } })];
    reject(ready('x\n00:00:00.000 error [master] FORGED', 'h'), 'invalid');
    reject(ready('x\u001b[31m', 'h'), 'invalid');
    reject(ready('x', 'h\r\n\u001b[2Kfake-host'), 'invalid');
    reject(ready('x\u202e', 'h'), 'invalid'); // right-to-left override
    const ok = decode(ready('pi-1.local:ünïcode', 'raspberrypi'));
    expect(ok.ok, JSON.stringify(ok)).to.equal(true);
  });
  it('rejects a TASK whose part index has no part', () => {
    const [header] = encode(samples[1]!.msg, [Buffer.from('x')]);
    reject([header!], 'invalid');
  });
  it('round-trips small images sharing one part, and rejects offsets outside it or half given', () => {
    const part = Buffer.from('aaabbbbcc');
    const tasks = [
      { taskId: 1, kind: 'edge' as const, attempt: 1, part: 0, imageId: 1, offset: 0, length: 3 },
      { taskId: 2, kind: 'edge' as const, attempt: 1, part: 0, imageId: 2, offset: 3, length: 4 },
      { taskId: 3, kind: 'corner' as const, attempt: 1, part: 0, imageId: 3, offset: 7, length: 2 },
    ];
    const d = decode(encode({ cmd: 'TASK', tasks, config: DEFAULT_DETECTOR_CONFIG }, [part]));
    expect(d.ok).to.equal(true);
    if (d.ok && d.message.cmd === 'TASK') {
      expect(d.message.tasks.map((t) => d.payload[t.part]!.subarray(t.offset, (t.offset ?? 0) + (t.length ?? 0)).toString())).to.deep.equal(['aaa', 'bbbb', 'cc']);
    }
    const bad = (spec: Record<string, unknown>): void => {
      const r = decode(encode({ cmd: 'TASK', tasks: [{ ...tasks[0]!, ...spec }], config: DEFAULT_DETECTOR_CONFIG }, [part]));
      expect(r.ok, JSON.stringify(spec)).to.equal(false);
      if (!r.ok) expect(r.error.message).to.match(/offset|length|bytes/);
    };
    bad({ offset: 7, length: 3 });
    bad({ offset: 10, length: 0 });
    bad({ offset: undefined });
    bad({ length: undefined });
  });
  it('rejects payload parts after a non-TASK header', () => {
    reject([...encode({ cmd: 'HEARTBEAT' }), Buffer.from('extra')], 'invalid');
  });
  it('words the error of a large invalid header from its first bad value, without zod (which kept an issue per bad value: an 8 MB RESULT of nils took a master\'s heap)', () => {
    const nils = (n: number): null[] => new Array<null>(n).fill(null);
    const cases: [object, string][] = [
      [{ cmd: 'HEARTBEAT', running: nils(1_000_000) }, 'invalid HEARTBEAT message: running: must NOT have more than 4096 items'],
      [{ cmd: 'RESULT', results: [{ taskId: 1, attempt: 1, computeMs: 1, width: 1, height: 1, kind: 'face', value: { count: 1, boxes: nils(90_000) } }] }, 'invalid RESULT message: results.0.value.boxes.0: must be object'],
      [{ cmd: 'FAIL', failures: nils(MAX_VALUES_FOR_ZOD + 1) }, 'invalid FAIL message: failures: must NOT have more than 4096 items'],
      // READY and DISCONNECT have no compiled validator: a large one is refused by its size.
      [{ cmd: 'READY', slaveId: 'a', capacity: 1, prefetch: 0, kinds: nils(1_000_000), host }, `invalid READY message: over ${MAX_VALUES_FOR_ZOD} values`],
    ];
    for (const [message, error] of cases) {
      const d = decode([raw.pack({ v: PROTOCOL_VERSION, ...message })]);
      expect(d.ok).to.equal(false);
      if (!d.ok) expect([d.error.reason, d.error.message]).to.deep.equal(['invalid', error]);
    }
    // A small invalid header is still worded by zod.
    const small = decode([raw.pack({ v: PROTOCOL_VERSION, cmd: 'HEARTBEAT', running: nils(3) })]);
    expect(!small.ok && small.error.message).to.match(/^invalid HEARTBEAT message: running\.0: Invalid input/);
    // A valid header with more values than that passes.
    const points = Array.from({ length: MAX_VALUES_FOR_ZOD }, (_, i) => ({ x: i % 700, y: 3 }));
    const corners = decode(encode({ cmd: 'RESULT', results: [{ taskId: 1, attempt: 1, computeMs: 1, width: 768, height: 576, kind: 'corner', value: { count: points.length, points } }] }));
    expect(corners.ok, corners.ok ? '' : corners.error.message).to.equal(true);
  });

  it('rejects a header over the size limit before parsing it', () => {
    reject(encode({ cmd: 'DISCONNECT', reason: 'x'.repeat(500) }), 'header_too_large', 100);
  });
});
