// Owns: picking the single endpoint of a target for the probes that connect to one host:port.
// Must not: validate user input (the API does); a target without an endpoint here is a bug upstream.

import type { Endpoint, ProbeTarget } from './types.js';

export function singleEndpoint(target: ProbeTarget): Endpoint {
  const [endpoint] = target.endpoints;
  if (!endpoint) throw new Error(`${target.dbType} target without an endpoint`);
  if (!Number.isInteger(endpoint.port) || endpoint.port < 1 || endpoint.port > 65535) {
    throw new Error(`${target.dbType} target with invalid port ${endpoint.port}`);
  }
  return endpoint;
}
