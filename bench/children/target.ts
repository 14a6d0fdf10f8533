// A TCP target in its own process, as a real server is: `accept` accepts and closes (a reachable port), `silent`
// accepts and never answers (a probe waits for its deadline). In the bench's process its accept loop would wait on
// the bench's event loop, the accept queue would overflow and dropped SYNs would cost a 1 s retransmit.

import { createServer, type Socket } from 'node:net';
import { report } from '../lib/child.js';

const mode = process.argv[2] ?? 'accept';
const open = new Set<Socket>();
const server = createServer((socket) => {
  socket.on('error', () => undefined);
  if (mode === 'accept') {
    socket.end();
    return;
  }
  open.add(socket);
  socket.on('close', () => open.delete(socket));
});
server.maxConnections = 50_000;
server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => {
  const address = server.address();
  report({ port: typeof address === 'object' && address ? address.port : 0 });
});
