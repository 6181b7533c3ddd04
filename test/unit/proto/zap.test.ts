import { expect } from 'chai';
import { curveKeyPair } from 'zeromq';
import { decideZap, ZAP_DOMAIN, ZAP_VERSION } from '../../../proto/zap.js';
import { z85Decode, type AllowList } from '../../../shared/keys.js';

const allowed = curveKeyPair().publicKey;
const list: AllowList = { keys: new Map([[allowed, 'slaves/pi-1.pub']]), source: 'slaves' };
const request = (mechanism: string, credentials: Buffer[], domain = ZAP_DOMAIN, version = ZAP_VERSION): Buffer[] => [
  ...[version, '42', domain, '10.0.0.7', '', mechanism].map((s): Buffer => Buffer.from(s)),
  ...credentials,
];

describe('ZAP handler decisions (RFC 27)', () => {
  it('admits an allow-listed CURVE key and echoes the request id', () => {
    const { reply, decision } = decideZap(request('CURVE', [z85Decode(allowed)]), list);
    expect(decision).to.include({ admitted: true, status: '200', publicKey: allowed, address: '10.0.0.7', source: 'slaves/pi-1.pub' });
    expect(reply.map((b) => b.toString())).to.deep.equal(['1.0', '42', '200', 'OK', 'slaves/pi-1.pub', '']);
  });

  it('refuses a key not on the list, another mechanism, another domain, a bad request', () => {
    const other = curveKeyPair().publicKey;
    const refused = decideZap(request('CURVE', [z85Decode(other)]), list);
    expect(refused.decision).to.include({ admitted: false, status: '400', publicKey: other, reason: 'public key is not on the allow-list' });
    expect(refused.reply[2]!.toString()).to.equal('400');
    expect(decideZap(request('NULL', []), list).decision.admitted).to.equal(false);
    expect(decideZap(request('PLAIN', [Buffer.from('u'), Buffer.from('p')]), list).decision.admitted).to.equal(false);
    expect(decideZap(request('CURVE', [z85Decode(allowed)], 'other'), list).decision.reason).to.match(/unknown ZAP domain/);
    expect(decideZap(request('CURVE', [z85Decode(allowed)], ZAP_DOMAIN, '2.0'), list).decision.status).to.equal('500');
    expect(decideZap([], list).decision.status).to.equal('500');
    expect(decideZap(request('CURVE', [Buffer.alloc(31)]), list).decision.admitted).to.equal(false);
  });
});
