// Owns: tests of the CIDR parser and the allow/deny decisions.
// Must not: open sockets; the policy is pure.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NetworkPolicy, normalizeAddress, parseCidrList } from '../src/network-policy.js';

describe('parseCidrList', () => {
  it('accepts comma/space separated IPv4 and IPv6 ranges and bare addresses', () => {
    assert.deepEqual(parseCidrList(' 10.0.0.0/8, 192.168.1.7 ,fd00::/8\n::1'), ['10.0.0.0/8', '192.168.1.7/32', 'fd00::/8', '::1/128']);
    assert.deepEqual(parseCidrList(''), []);
    assert.deepEqual(parseCidrList(' , '), []);
  });

  it('writes an IPv4-mapped IPv6 range as the IPv4 range it means', () => {
    assert.deepEqual(parseCidrList('::ffff:169.254.0.0/112'), ['169.254.0.0/16']);
  });

  const bad: [string, RegExp][] = [
    ['10.0.0.0/33', /invalid CIDR "10\.0\.0\.0\/33": prefix must be a number from 0 to 32/],
    ['fd00::/129', /invalid CIDR "fd00::\/129": prefix must be a number from 0 to 128/],
    ['10.0.0.0/-1', /invalid CIDR "10\.0\.0\.0\/-1"/],
    ['10.0.0.0/', /invalid CIDR "10\.0\.0\.0\/"/],
    ['10.0.0/8', /invalid CIDR "10\.0\.0\/8": "10\.0\.0" is not an IPv4 or IPv6 address/],
    ['example.com', /invalid CIDR "example\.com"/],
    ['10.0.0.0/8/8', /more than one "\/"/],
    ['fe80::1%eth0/64', /invalid CIDR "fe80::1%eth0\/64"/],
    ['::ffff:10.0.0.0/8', /IPv4-mapped range needs a prefix of at least 96/],
  ];
  for (const [input, message] of bad) {
    it(`rejects ${JSON.stringify(input)} naming the entry`, () => {
      assert.throws(() => parseCidrList(`192.168.0.0/16, ${input}`), message);
    });
  }
});

describe('NetworkPolicy', () => {
  const defaults = new NetworkPolicy();

  it('denies link-local, metadata, multicast, broadcast and unspecified addresses by default', () => {
    for (const address of ['169.254.169.254', '100.100.100.200', '0.0.0.0', '224.0.0.1', '255.255.255.255', '::', 'fe80::1', 'ff02::1', 'fd00:ec2::254']) {
      assert.equal(defaults.isAllowed(address), false, address);
    }
  });

  it('allows loopback and private ranges by default', () => {
    for (const address of ['127.0.0.1', '::1', '10.1.2.3', '172.16.0.1', '192.168.1.1', 'fd12::1', '8.8.8.8']) {
      assert.equal(defaults.isAllowed(address), true, address);
    }
  });

  it('judges IPv4-mapped IPv6 addresses as the IPv4 address they are', () => {
    assert.equal(defaults.isAllowed('::ffff:169.254.169.254'), false);
    assert.equal(defaults.isAllowed('::ffff:a9fe:a9fe'), false);
    assert.equal(defaults.isAllowed('0:0:0:0:0:ffff:a9fe:a9fe'), false);
    assert.equal(defaults.isAllowed('[::ffff:127.0.0.1]'), true);
    assert.deepEqual(normalizeAddress('::FFFF:7f00:1'), { address: '127.0.0.1', family: 4 });
  });

  it('names the range that denied an address', () => {
    assert.deepEqual(defaults.check('169.254.169.254'), { allowed: false, reason: '169.254.169.254 is in the denied range 169.254.0.0/16' });
  });

  it('requires membership of the allow list when one is given, and deny wins over allow', () => {
    const policy = new NetworkPolicy({ allow: ['10.0.0.0/8', '::1'], deny: ['10.9.0.0/16'] });
    assert.equal(policy.isAllowed('10.1.2.3'), true);
    assert.equal(policy.isAllowed('::1'), true);
    assert.deepEqual(policy.check('127.0.0.1'), { allowed: false, reason: '127.0.0.1 is not in any allowed range' });
    assert.equal(policy.isAllowed('10.9.1.1'), false);
    assert.equal(new NetworkPolicy({ allow: ['0.0.0.0/0'] }).isAllowed('169.254.169.254'), false);
  });

  it('adds operator deny ranges to the built-in list unless told otherwise', () => {
    assert.equal(new NetworkPolicy({ deny: ['127.0.0.0/8'] }).isAllowed('169.254.169.254'), false);
    assert.equal(new NetworkPolicy({ deny: ['127.0.0.0/8'] }).isAllowed('127.0.0.1'), false);
    assert.equal(new NetworkPolicy({ defaultDeny: false }).isAllowed('169.254.169.254'), true);
  });

  it('denies loopback to tenants, in every spelling, unless the allow list takes it in', () => {
    const tenant = new NetworkPolicy({ denyLoopback: true });
    for (const address of ['127.0.0.1', '127.255.255.254', '::1', '::ffff:127.0.0.1', '[::ffff:7f00:1]', '0:0:0:0:0:0:0:1']) {
      assert.equal(tenant.isAllowed(address), false, address);
    }
    assert.deepEqual(tenant.check('127.0.0.2'), {
      allowed: false,
      reason: '127.0.0.2 is in the denied range 127.0.0.0/8 (loopback: this deployment has tokens, so only CONNCHECK_TARGET_ALLOW can open it)',
    });
    assert.equal(tenant.isAllowed('10.1.2.3'), true);
    const opened = new NetworkPolicy({ denyLoopback: true, allow: ['127.0.0.1/32', '10.0.0.0/8'] });
    assert.equal(opened.isAllowed('127.0.0.1'), true);
    assert.equal(opened.isAllowed('127.0.0.2'), false, 'only what the allow list names');
    // An operator's own loopback deny says nothing about tokens.
    assert.deepEqual(new NetworkPolicy({ deny: ['127.0.0.0/8'] }).check('127.0.0.1'), {
      allowed: false,
      reason: '127.0.0.1 is in the denied range 127.0.0.0/8',
    });
  });

  it('denies an endpoint by address and port, whatever the ranges say', () => {
    const policy = new NetworkPolicy({ denyEndpoints: [{ address: '127.0.0.1', port: 6379, what: "this service's own Redis" }] });
    assert.deepEqual(policy.checkEndpoint('127.0.0.1', 6379), { allowed: false, reason: "127.0.0.1:6379 is this service's own Redis" });
    assert.deepEqual(policy.checkEndpoint('::ffff:127.0.0.1', 6379), { allowed: false, reason: "127.0.0.1:6379 is this service's own Redis" });
    assert.deepEqual(policy.checkEndpoint('127.0.0.1', 6380), { allowed: true });
    assert.equal(policy.checkEndpoint('169.254.169.254', 80).allowed, false);
  });

  it('refuses anything that is not an IP address', () => {
    assert.equal(defaults.isAllowed('localhost'), false);
  });
});
