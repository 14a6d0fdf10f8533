// Redis: redis-server (Debian package redis-server), no password, no persistence.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { HOST, mustWhich, spawnServer, waitReady, which } from './common.mjs';

export const redis = {
  name: 'redis',
  missing: () => (which('redis-server') ? [] : ['redis-server']),

  async start(ctx, port) {
    const dir = path.join(ctx.dir, 'redis');
    fs.mkdirSync(dir, { mode: 0o700 });
    const proc = spawnServer(ctx, 'redis', mustWhich('redis-server'), [
      '--port',
      String(port),
      '--bind',
      HOST,
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
      '--daemonize',
      'no',
      '--logfile',
      '',
    ]);
    await waitReady(ctx, proc, 'PING', () => redisPing(port));
    return { url: `redis://${HOST}:${port}`, host: HOST, port };
  },
};

/** true when the server on `port` answers PING with +PONG (speaks RESP directly; no redis-cli needed). */
function redisPing(port) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: HOST, port });
    let data = '';
    socket.setTimeout(1000, () => {
      socket.destroy();
      reject(new Error('PING timed out'));
    });
    socket.once('error', (err) => reject(err));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.setEncoding('utf8').on('data', (chunk) => {
      data += chunk;
      if (!data.includes('\r\n')) return;
      socket.destroy();
      if (data.startsWith('+PONG')) resolve(true);
      else reject(new Error(`PING answered ${data.trim()}`));
    });
  });
}
