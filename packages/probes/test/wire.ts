// Owns: byte builders for the fake MySQL and PostgreSQL servers in the tests (the server side of each protocol).
// Must not: reuse driver code; the point is to check the drivers against bytes written independently.

/** MySQL client/server capability flags used by the fake server. */
export const CLIENT = {
  LONG_PASSWORD: 0x1,
  CONNECT_WITH_DB: 0x8,
  LOCAL_FILES: 0x80,
  PROTOCOL_41: 0x200,
  TRANSACTIONS: 0x2000,
  SECURE_CONNECTION: 0x8000,
  MULTI_STATEMENTS: 0x10000,
  PLUGIN_AUTH: 0x80000,
} as const;

export function mysqlPacket(sequenceId: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(4);
  header.writeUIntLE(payload.length, 0, 3);
  header[3] = sequenceId;
  return Buffer.concat([header, payload]);
}

/** A protocol-10 handshake that offers everything, LOCAL_FILES included, with mysql_native_password. */
export function mysqlGreeting(serverVersion = '8.0.36-fake'): Buffer {
  const caps = Object.values(CLIENT).reduce((a, b) => a | b, 0);
  const fixed = Buffer.alloc(4 + 8 + 1 + 2 + 1 + 2 + 2 + 1 + 10);
  let o = 0;
  o = fixed.writeUInt32LE(7, o); // connection id
  o += Buffer.from('abcdefgh').copy(fixed, o); // scramble, part 1
  o = fixed.writeUInt8(0, o);
  o = fixed.writeUInt16LE(caps & 0xffff, o);
  o = fixed.writeUInt8(0x21, o); // utf8_general_ci
  o = fixed.writeUInt16LE(0x0002, o); // autocommit
  o = fixed.writeUInt16LE(caps >>> 16, o);
  fixed.writeUInt8(21, o); // auth data length; 10 reserved zero bytes follow
  return mysqlPacket(
    0,
    Buffer.concat([Buffer.from([0x0a]), Buffer.from(`${serverVersion}\0`, 'latin1'), fixed, Buffer.from('ijklmnopqrst\0mysql_native_password\0', 'latin1')]),
  );
}

export function mysqlOk(sequenceId: number): Buffer {
  return mysqlPacket(sequenceId, Buffer.from([0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00]));
}

/** An ERR packet; without `sqlState` it has the pre-handshake shape a server sends instead of a greeting. */
export function mysqlError(sequenceId: number, errno: number, message: string, sqlState?: string): Buffer {
  const head = Buffer.alloc(3);
  head[0] = 0xff;
  head.writeUInt16LE(errno, 1);
  const state = sqlState ? Buffer.from(`#${sqlState}`, 'latin1') : Buffer.alloc(0);
  return mysqlPacket(sequenceId, Buffer.concat([head, state, Buffer.from(message, 'utf8')]));
}

/** Splits a byte stream into MySQL packets (header included), however it was chunked. */
export function mysqlPackets(bytes: Buffer): Buffer[] {
  const packets: Buffer[] = [];
  let offset = 0;
  while (offset + 4 <= bytes.length) {
    const length = bytes.readUIntLE(offset, 3);
    packets.push(bytes.subarray(offset, offset + 4 + length));
    offset += 4 + length;
  }
  return packets;
}

export function pgMessage(type: string, body: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.write(type, 0, 'latin1');
  header.writeUInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}

export function pgAuth(request: number, extra: Buffer = Buffer.alloc(0)): Buffer {
  const code = Buffer.alloc(4);
  code.writeUInt32BE(request);
  return pgMessage('R', Buffer.concat([code, extra]));
}

/** AuthenticationSASL offering `mechanisms`. */
export function pgSasl(...mechanisms: string[]): Buffer {
  return pgAuth(10, Buffer.from(`${mechanisms.map((m) => `${m}\0`).join('')}\0`, 'latin1'));
}

/** An ErrorResponse with the fields the probe reads: severity, SQLSTATE, message and routine. */
export function pgError(sqlstate: string, message: string, routine: string): Buffer {
  const fields = [`SFATAL`, `VFATAL`, `C${sqlstate}`, `M${message}`, `R${routine}`].map((f) => `${f}\0`).join('');
  return pgMessage('E', Buffer.from(`${fields}\0`, 'utf8'));
}

export function pgParameter(name: string, value: string): Buffer {
  return pgMessage('S', Buffer.from(`${name}\0${value}\0`, 'utf8'));
}

export function pgReady(): Buffer {
  return pgMessage('Z', Buffer.from('I', 'latin1'));
}

/** The complete answer to a simple query returning one int4 row with the value 1. */
export function pgSelectOne(): Buffer {
  const name = Buffer.from('?column?\0', 'latin1');
  const field = Buffer.alloc(18);
  field.writeUInt32BE(0, 0); // table oid
  field.writeUInt16BE(0, 4); // column number
  field.writeUInt32BE(23, 6); // int4
  field.writeInt16BE(4, 10); // size
  field.writeInt32BE(-1, 12); // type modifier
  field.writeInt16BE(0, 16); // text format
  const count = Buffer.from([0, 1]);
  const row = Buffer.concat([Buffer.from([0, 1, 0, 0, 0, 1]), Buffer.from('1', 'latin1')]);
  return Buffer.concat([
    pgMessage('T', Buffer.concat([count, name, field])),
    pgMessage('D', row),
    pgMessage('C', Buffer.from('SELECT 1\0', 'latin1')),
    pgReady(),
  ]);
}
