import { expect } from 'chai';
import { endpointProblem, wantsIpv6 } from '../../../shared/endpoint.js';

describe('endpoints (--bind, --connect)', () => {
  it('takes tcp://HOST:PORT with a name, IPv4, [IPv6] or *, and ipc://', () => {
    for (const e of ['tcp://127.0.0.1:5570', 'tcp://master.local:1', 'tcp://[::1]:65535', 'tcp://*:5570', 'tcp://127.0.0.1:*', 'ipc:///tmp/x']) {
      expect(endpointProblem(e), e).to.equal(undefined);
    }
  });

  it('refuses a port out of range (ZeroMQ would take it modulo 65536), a missing port and other schemes', () => {
    expect(endpointProblem('tcp://127.0.0.1:99999')).to.equal('port must be from 1 to 65535, got 99999');
    expect(endpointProblem('tcp://127.0.0.1:0')).to.equal('port must be from 1 to 65535, got 0');
    expect(endpointProblem('tcp://host')).to.match(/^must be tcp:\/\/HOST:PORT/);
    expect(endpointProblem('tcp://::1:5570')).to.match(/^must be tcp:\/\/HOST:PORT \(an IPv6 address in brackets/);
    expect(endpointProblem('http://x:1')).to.match(/^must be an endpoint like/);
    // No slave process can reach it: the master waited for slaves forever.
    expect(endpointProblem('inproc://x')).to.match(/^inproc:\/\/ reaches only the same process, and slaves run in their own/);
  });

  it('asks for ZMQ_IPV6 for an IPv6 address or every interface only', () => {
    expect(wantsIpv6('tcp://[::1]:5570')).to.equal(true);
    expect(wantsIpv6('tcp://*:5570')).to.equal(true);
    expect(wantsIpv6('tcp://127.0.0.1:5570')).to.equal(false);
  });
});
