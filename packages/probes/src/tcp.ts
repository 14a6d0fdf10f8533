// Owns: the plain `tcp` probe — can the worker resolve the host and open a TCP connection to the port?
// Must not: send or read any byte; a listener is all it checks for.

import { dialTcp, resolveTarget } from './dial.js';
import { failureResult } from './probe-failure.js';
import { singleEndpoint } from './target-endpoint.js';
import type { Probe } from './types.js';

export const tcpProbe: Probe = async (target, ctx) => {
  ctx.stages.plan(['dns', 'tcp']);
  const { host, port } = singleEndpoint(target);
  try {
    const { addresses } = await resolveTarget(host, ctx);
    const { socket, address } = await dialTcp(addresses, port, ctx);
    socket.destroy();
    return { success: true, address, stages: ctx.stages.finish() };
  } catch (err) {
    return failureResult(err, ctx);
  }
};
