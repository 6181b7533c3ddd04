import { expect } from 'chai';
import { peerIdOf, peerName, routingIdOf } from '../../../master/router.js';

describe("unit: a ROUTER peer's id as the master keys and names it", () => {
  it("keeps a slave's own id as its text, and ZeroMQ's generated id (a zero byte first) as the same bytes again", () => {
    expect(peerIdOf(Buffer.from('pi-garage'))).to.equal('pi-garage');
    expect(routingIdOf('pi-garage')).to.equal('pi-garage');
    const generated = Buffer.from([0x00, 0x6b, 0xef, 0x45, 0x67]);
    const key = peerIdOf(generated);
    expect(key).to.equal('\u00006bef4567');
    expect(routingIdOf(key)).to.deep.equal(generated);
  });

  it('names a connection without a slave id for what it is, not as the UTF-8 of its bytes', () => {
    expect(peerName('pi-garage')).to.equal('"pi-garage"');
    expect(peerName(peerIdOf(Buffer.from([0x00, 0x6b, 0xef, 0x45, 0x67])))).to.equal("a connection without a slave id (ZeroMQ id 0x006bef4567: a slave's replaced connection, or not a slave)");
    // Random bytes on the port, as a ZMTP identity: named as such, not as a long "slave id" of noise.
    const noise = peerName(peerIdOf(Buffer.from([0xb2, 0x1f, 0xe9, 0x6b, 0x43, 0xff, 0x80, 0x27, 0x44, 0x78, 0x08])));
    expect(noise).to.match(/^a connection whose id is not text \(".{1,40}"\.\.\.: not a slave, whose ids are text\)$/);
    expect(noise).not.to.match(/\p{Cc}/u);
  });
});
