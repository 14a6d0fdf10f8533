// Owns: the network policies a worker checks targets with, built from config (the operator's ranges, tenants' loopback,
// the service's own Redis). Must not: check anything itself (the probes and the webhook sender do).

import { promises as dns } from 'node:dns';
import { type Config, ConfigError } from '@conncheck/core';
import { NetworkPolicy, parseCidrList } from '@conncheck/probes';

/** The two policies a worker checks with: for a tenant's items (tokens configured) and for open mode's. */
export interface WorkerPolicies {
  /** Loopback denied unless CONNCHECK_TARGET_ALLOW opens it. */
  tenant: NetworkPolicy;
  open: NetworkPolicy;
}

/**
 * Builds the network policies from config; a bad CIDR is a ConfigError naming the variable. Both deny the service's
 * own Redis (every address its host resolves to, at its port): no check may talk to the task store.
 */
export async function policiesFromConfig(config: Config): Promise<WorkerPolicies> {
  const parse = (variable: string, text: string | undefined) => {
    if (text === undefined) return undefined;
    try {
      return parseCidrList(text);
    } catch (err) {
      throw new ConfigError(variable, (err as Error).message);
    }
  };
  const allow = parse('CONNCHECK_TARGET_ALLOW', config.targetAllow);
  const deny = parse('CONNCHECK_TARGET_DENY', config.targetDeny);
  const redis = new URL(config.redisUrl);
  const port = Number(redis.port || 6379);
  const host = redis.hostname.replace(/^\[|\]$/g, '');
  const addresses = await dns.lookup(host, { all: true, verbatim: true }).catch(() => [{ address: host }]);
  const denyEndpoints = addresses.map(({ address }) => ({ address, port, what: "this service's own Redis" }));
  return {
    tenant: new NetworkPolicy({ allow, deny, denyLoopback: true, denyEndpoints }),
    open: new NetworkPolicy({ allow, deny, denyEndpoints }),
  };
}
