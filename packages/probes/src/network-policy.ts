// Owns: which IP addresses a probe may connect to (allow/deny CIDR lists) and the parser for those lists.
// Must not: resolve names or open sockets (dial.ts does, and asks this module about every address it resolved).

import { BlockList, isIP } from 'node:net';

export type IpFamily = 4 | 6;

export interface NormalizedAddress {
  address: string;
  family: IpFamily;
}

export interface NetworkPolicyOptions {
  /** CIDRs a target address must be in. Empty or absent: every address not denied is allowed. */
  allow?: readonly string[] | undefined;
  /** CIDRs no target address may be in; added to the built-in list unless `defaultDeny` is false. Deny wins over allow. */
  deny?: readonly string[] | undefined;
  /**
   * Keep `NetworkPolicy.DEFAULT_DENY` in force. An operator who lists their own deny ranges still wants the
   * metadata endpoints blocked, so the lists add up; turning the built-in list off has to be explicit.
   * @defaultValue true
   */
  defaultDeny?: boolean | undefined;
  /**
   * Deny loopback (127.0.0.0/8, ::1): what a tenant must not reach on the worker's own host. An allow list that takes
   * in any loopback address opens it again. @defaultValue false
   */
  denyLoopback?: boolean | undefined;
  /** Address and port pairs no check may connect to, whatever the ranges say (the service's own Redis). */
  denyEndpoints?: readonly DeniedEndpoint[] | undefined;
}

export interface DeniedEndpoint {
  address: string;
  port: number;
  /** What it is, for the message (e.g. "this service's own Redis"). */
  what: string;
}

export type PolicyDecision = { allowed: true } | { allowed: false; reason: string };

interface Rule {
  cidr: string;
  list: BlockList;
  /** Said after the range in a refusal. */
  note?: string;
}

/**
 * Allow/deny decisions for target addresses. A connectivity checker is an SSRF tool by construction, so the
 * defaults deny what is never a database (link-local incl. cloud metadata, multicast, broadcast, "this host")
 * and allow loopback and private ranges, which operators narrow with an allow list.
 */
export class NetworkPolicy {
  static readonly DEFAULT_DENY: readonly string[] = Object.freeze([
    '0.0.0.0/8', // "this network": connecting to 0.0.0.0 reaches the worker itself on Linux
    '169.254.0.0/16', // link-local, including 169.254.169.254 (AWS, GCP, Azure, OCI metadata)
    '100.100.100.200/32', // Alibaba Cloud metadata, outside link-local
    '224.0.0.0/4', // multicast
    '255.255.255.255/32', // broadcast
    '::/128', // unspecified
    'fe80::/10', // link-local
    'fd00:ec2::254/128', // AWS metadata over IPv6, inside the otherwise private fc00::/7
    'ff00::/8', // multicast
  ]);

  private readonly allowRules: Rule[];
  private readonly denyRules: Rule[];
  /** All rules of a kind in one list: one lookup per address on the hot path; the per-rule lists only name the range. */
  private readonly allowAll: BlockList;
  private readonly denyAll: BlockList;
  private readonly decisions = new Map<string, PolicyDecision>();

  /** Loopback, denied to tenants unless an allow list opens it. */
  static readonly LOOPBACK: readonly string[] = Object.freeze(['127.0.0.0/8', '::1/128']);

  private readonly deniedEndpoints: Map<string, string>;

  constructor(options: NetworkPolicyOptions = {}) {
    this.allowRules = (options.allow ?? []).map((cidr) => toRule(cidr));
    this.allowAll = combine(this.allowRules);
    const opensLoopback = this.allowAll.check('127.0.0.1', 'ipv4') || this.allowAll.check('::1', 'ipv6');
    const loopbackNote = ' (loopback: this deployment has tokens, so only CONNCHECK_TARGET_ALLOW can open it)';
    this.denyRules = [
      ...(options.defaultDeny === false ? [] : NetworkPolicy.DEFAULT_DENY).map((cidr) => toRule(cidr)),
      ...(options.denyLoopback && !opensLoopback ? NetworkPolicy.LOOPBACK : []).map((cidr) => toRule(cidr, loopbackNote)),
      ...(options.deny ?? []).map((cidr) => toRule(cidr)),
    ];
    this.denyAll = combine(this.denyRules);
    this.deniedEndpoints = new Map(
      (options.denyEndpoints ?? []).flatMap(({ address, port, what }) => {
        const normalized = normalizeAddress(address);
        return normalized ? [[`${normalized.address}|${port}`, what] as const] : [];
      }),
    );
  }

  /** Decides for one address and the port to connect to: the address's ranges, then the endpoints denied by name. */
  checkEndpoint(address: string, port: number): PolicyDecision {
    const decision = this.check(address);
    if (!decision.allowed || this.deniedEndpoints.size === 0) return decision;
    const normalized = normalizeAddress(address);
    const what = normalized && this.deniedEndpoints.get(`${normalized.address}|${port}`);
    return what ? { allowed: false, reason: `${normalized.address}:${port} is ${what}` } : decision;
  }

  /** Decides for one address. Anything that is not an IP address is refused: the policy only judges resolved addresses. */
  check(address: string): PolicyDecision {
    // A batch often holds many items for the same few addresses; the rules never change, so decisions are kept.
    let decision = this.decisions.get(address);
    if (!decision) {
      if (this.decisions.size >= 4096) this.decisions.clear();
      decision = this.decide(address);
      this.decisions.set(address, decision);
    }
    return decision;
  }

  private decide(address: string): PolicyDecision {
    const normalized = normalizeAddress(address);
    if (!normalized) return { allowed: false, reason: `${address} is not an IP address` };
    const type = normalized.family === 4 ? 'ipv4' : 'ipv6';
    if (this.denyAll.check(normalized.address, type)) {
      const denied = this.denyRules.find((rule) => rule.list.check(normalized.address, type));
      return { allowed: false, reason: `${normalized.address} is in the denied range ${denied?.cidr ?? '(deny list)'}${denied?.note ?? ''}` };
    }
    if (this.allowRules.length > 0 && !this.allowAll.check(normalized.address, type)) {
      return { allowed: false, reason: `${normalized.address} is not in any allowed range` };
    }
    return { allowed: true };
  }

  isAllowed(address: string): boolean {
    return this.check(address).allowed;
  }
}

/**
 * Parses a comma- (or whitespace-) separated CIDR list such as `CONNCHECK_TARGET_DENY`. A bare address is a
 * single-host range. Returns canonical `address/prefix` strings; throws an Error naming the first bad entry.
 */
export function parseCidrList(text: string): string[] {
  return text
    .split(/[\s,]+/)
    .filter((entry) => entry !== '')
    .map(parseCidr);
}

function parseCidr(entry: string): string {
  const parts = entry.split('/');
  if (parts.length > 2) throw new Error(`invalid CIDR "${entry}": more than one "/"`);
  const [rawAddress = '', rawPrefix] = parts;
  const normalized = normalizeAddress(rawAddress);
  if (!normalized || rawAddress.includes('%')) {
    throw new Error(`invalid CIDR "${entry}": "${rawAddress}" is not an IPv4 or IPv6 address`);
  }
  const max = isIP(rawAddress) === 4 ? 32 : 128;
  let prefix = max;
  if (rawPrefix !== undefined) {
    if (!/^\d{1,3}$/.test(rawPrefix) || Number(rawPrefix) > max) {
      throw new Error(`invalid CIDR "${entry}": prefix must be a number from 0 to ${max}`);
    }
    prefix = Number(rawPrefix);
  }
  // An IPv4-mapped range (::ffff:a.b.c.d/n) is written as the IPv4 range it means, because addresses are
  // checked in their IPv4 form.
  if (max === 128 && normalized.family === 4) {
    if (prefix < 96) throw new Error(`invalid CIDR "${entry}": an IPv4-mapped range needs a prefix of at least 96`);
    prefix -= 96;
  }
  return `${normalized.address}/${prefix}`;
}

function combine(rules: Rule[]): BlockList {
  const all = new BlockList();
  for (const { cidr } of rules) {
    const [address = '', prefix = ''] = cidr.split('/');
    all.addSubnet(address, Number(prefix), isIP(address) === 4 ? 'ipv4' : 'ipv6');
  }
  return all;
}

function toRule(cidr: string, note?: string): Rule {
  const canonical = parseCidr(cidr);
  const [address = '', prefix = ''] = canonical.split('/');
  const list = new BlockList();
  list.addSubnet(address, Number(prefix), isIP(address) === 4 ? 'ipv4' : 'ipv6');
  return { cidr: canonical, list, ...(note !== undefined && { note }) };
}

/**
 * The form an address is judged and dialed in: IPv4-mapped IPv6 (`::ffff:169.254.169.254`, also in hex)
 * becomes plain IPv4, so a mapped address cannot slip past an IPv4 rule; an IPv6 zone (`%eth0`) is dropped.
 * Returns undefined for anything that is not an IP address.
 */
export function normalizeAddress(address: string): NormalizedAddress | undefined {
  const unbracketed = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  const withoutZone = unbracketed.split('%')[0] ?? '';
  const family = isIP(withoutZone);
  if (family === 4) return { address: withoutZone, family: 4 };
  if (family !== 6) return undefined;
  const hextets = expandIpv6(withoutZone);
  if (hextets && hextets.slice(0, 5).every((h) => h === 0) && hextets[5] === 0xffff) {
    const hi = hextets[6] ?? 0;
    const lo = hextets[7] ?? 0;
    return { address: `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`, family: 4 };
  }
  return { address: withoutZone.toLowerCase(), family: 6 };
}

/** Eight 16-bit groups of a textual IPv6 address already accepted by `isIP`. */
function expandIpv6(address: string): number[] | undefined {
  let text = address.toLowerCase();
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':');
  const missing = 8 - headGroups.length - tailGroups.length;
  if (tail === undefined ? missing !== 0 : missing < 0) return undefined;
  const groups = [...headGroups, ...Array<string>(tail === undefined ? 0 : missing).fill('0'), ...tailGroups];
  return groups.map((group) => Number.parseInt(group, 16));
}
