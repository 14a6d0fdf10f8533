// Owns: the small HTTP endpoint of a separate worker process: GET /metrics (Prometheus) and GET /healthz.
// Must not: serve anything else; the API is the only public surface.

import { type Server, createServer } from 'node:http';
import client from 'prom-client';

export async function startMetricsServer(host: string, port: number): Promise<Server> {
  client.collectDefaultMetrics({ prefix: 'conncheck_' });
  const server = createServer((request, response) => {
    const path = (request.url ?? '').split('?')[0];
    if (request.method === 'GET' && path === '/metrics') {
      client.register.metrics().then(
        (body) => response.writeHead(200, { 'content-type': client.register.contentType }).end(body),
        () => response.writeHead(500).end(),
      );
    } else if (request.method === 'GET' && path === '/healthz') {
      response.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    } else {
      response.writeHead(404, { 'content-type': 'application/json' }).end('{"error_code":"CC.ROUTE_NOT_FOUND","error_msg":"only /metrics and /healthz"}');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  return server;
}
