import { expect } from 'chai';
import { bindFailureHint, connectProblem, endpointProblem, wantsIpv6 } from '../../../shared/endpoint.js';

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

describe('bindFailureHint', () => {
  it('says what to do for each way a tcp bind fails', () => {
    expect(bindFailureHint('tcp://127.0.0.1:5599', 'EADDRINUSE', 5602)).to.equal('another process (a master?) listens on port 5599; stop it, or give another port, e.g. --bind tcp://127.0.0.1:5602 (free now), or tcp://127.0.0.1:* for any free one');
    // No port found free: no example, rather than one unchecked.
    expect(bindFailureHint('tcp://0.0.0.0:5570', 'EADDRINUSE')).to.equal('another process (a master?) listens on port 5570; stop it, or give another port, or tcp://0.0.0.0:* for any free one');
    expect(bindFailureHint('tcp://10.9.9.9:5570', 'EADDRNOTAVAIL')).to.match(/^10\.9\.9\.9 is not an address of this machine; .* or tcp:\/\/0\.0\.0\.0:5570 for all of them$/);
    expect(bindFailureHint('tcp://cam-host:5570', 'ENODEV')).to.match(/^cam-host is neither an address nor a network interface of this machine; --bind takes an IP address/);
    expect(bindFailureHint('tcp://cam-host:5570', 'EAGAIN')).to.match(/^cam-host is neither/);
    expect(bindFailureHint('tcp://[::1]:80', 'EACCES')).to.equal('ports below 1024 need root; give a port from 1024 up, e.g. tcp://[::1]:5570');
  });

  it('adds nothing for an ipc endpoint or an error it does not know', () => {
    expect(bindFailureHint('ipc:///tmp/m.sock', 'EADDRINUSE')).to.equal(undefined);
    expect(bindFailureHint('tcp://127.0.0.1:5570', 'EMFILE')).to.equal(undefined);
    expect(bindFailureHint('tcp://127.0.0.1:5570', undefined)).to.equal(undefined);
  });
});

describe('connectProblem', () => {
  it('refuses * (only a bind takes it) besides what endpointProblem refuses', () => {
    expect(connectProblem('tcp://*:5570')).to.match(/^takes the master's address and port, e\.g\. tcp:\/\/192\.168\.1\.10:5570; \* is for the master's --bind, got "tcp:\/\/\*:5570"$/);
    expect(connectProblem('tcp://10.0.0.5:*')).to.match(/\* is for the master's --bind/);
    expect(connectProblem('tcp://10.0.0.5:5570')).to.equal(undefined);
    expect(connectProblem('ipc:///tmp/m.sock')).to.equal(undefined);
    expect(connectProblem('inproc://x')).to.equal(endpointProblem('inproc://x'));
  });
});
