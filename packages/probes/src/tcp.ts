// Owns: the plain `tcp` probe — can the worker resolve the host and open a TCP connection to the port, and with
// ssl_link, complete a TLS handshake there (the certificate verified and reported)? Must not: speak anything above TLS.

import { dialTcp, resolveTarget } from './dial.js';
import { failureResult, successResult } from './probe-result.js';
import { plannedStages } from './stage-recorder.js';
import { singleEndpoint } from './target-endpoint.js';
import { upgradeToTls } from './tls.js';
import type { Probe, TlsReport } from './types.js';

export const tcpProbe: Probe = async (target, ctx) => {
  ctx.stages.plan(plannedStages({ tls: Boolean(target.tls), auth: false, probe: false }));
  const { host, port } = singleEndpoint(target);
  let address: string | undefined;
  try {
    const { addresses } = await resolveTarget(host, ctx);
    const dialed = await dialTcp(addresses, port, ctx);
    address = dialed.address;
    let tls: TlsReport | undefined;
    let warnings: string[] = [];
    if (target.tls) {
      ({ report: tls, warnings } = await upgradeToTls(dialed.socket, host, target.tls, ctx));
    } else {
      dialed.socket.destroy();
    }
    return successResult({ address, tls, warnings });
  } catch (err) {
    return failureResult(err, ctx, { address });
  }
};
