// Owns: a small fake MongoDB server for the mongodb probe tests — real wire-protocol framing (OP_QUERY → OP_REPLY,
// OP_MSG → OP_MSG) with BSON from the driver's own bson, answering each command with what a test scripts.
// Must not: implement authentication or anything a test does not script; real behaviour is FerretDB's job.

import type { Socket } from 'node:net';
import { BSON, type Document } from 'mongodb';
import { fakeServer, type FakeServer } from './helpers.js';

const OP_REPLY = 1;
const OP_QUERY = 2004;
const OP_MSG = 2013;

/** Answers a command document (its first key names the command), or undefined to say nothing at all. */
export type CommandHandler = (command: Document, commandName: string) => Document | undefined;

/** The hello a standalone MongoDB 6.0 sends (wire version 17). */
export function helloReply(extra: Document = {}): Document {
  return {
    ismaster: true,
    isWritablePrimary: true,
    maxBsonObjectSize: 16 * 1024 * 1024,
    maxMessageSizeBytes: 48_000_000,
    maxWriteBatchSize: 100_000,
    localTime: new Date(),
    logicalSessionTimeoutMinutes: 30,
    connectionId: 1,
    minWireVersion: 0,
    maxWireVersion: 17,
    readOnly: false,
    ok: 1,
    ...extra,
  };
}

/** An OP_MSG hello reply's bytes (its body JSON, not BSON: enough for a header judged before the driver reads it). */
export function helloReplyBytes(): Buffer {
  const body = Buffer.from(JSON.stringify(helloReply()));
  const header = Buffer.alloc(21);
  header.writeInt32LE(21 + body.length, 0);
  header.writeInt32LE(OP_MSG, 12);
  return Buffer.concat([header, body]);
}

/** Scripted answers for a server that needs no login: hello, ping, buildInfo, listDatabases. */
export function standalone(hello: Document = {}, buildInfo: Document = { version: '6.0.5' }): CommandHandler {
  return (_command, name) => {
    switch (name.toLowerCase()) {
      case 'hello':
      case 'ismaster':
        return helloReply(hello);
      case 'ping':
        return { ok: 1 };
      case 'buildinfo':
        return { ...buildInfo, ok: 1 };
      case 'listdatabases':
        return { databases: [], totalSize: 0, ok: 1 };
      default:
        return { ok: 0, errmsg: `no such command: '${name}'`, code: 59, codeName: 'CommandNotFound' };
    }
  };
}

/** A fake server speaking the MongoDB wire protocol; `handler` sees every command of every connection. */
export function fakeMongo(handler: CommandHandler): Promise<FakeServer> {
  return fakeServer((socket) => {
    let buffered = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 16 && buffered.length >= buffered.readInt32LE(0)) {
        const length = buffered.readInt32LE(0);
        const message = buffered.subarray(0, length);
        buffered = buffered.subarray(length);
        if (!answer(socket, message, handler)) {
          socket.destroy();
          return;
        }
      }
    });
  });
}

function answer(socket: Socket, message: Buffer, handler: CommandHandler): boolean {
  const requestId = message.readInt32LE(4);
  const opCode = message.readInt32LE(12);
  let command: Document;
  if (opCode === OP_QUERY) {
    const nameEnd = message.indexOf(0, 20);
    const docStart = nameEnd + 1 + 8; // numberToSkip, numberToReturn
    command = BSON.deserialize(message.subarray(docStart, docStart + message.readInt32LE(docStart)));
  } else if (opCode === OP_MSG) {
    if (message[20] !== 0) return false; // our driver sends the body section first
    command = BSON.deserialize(message.subarray(21, 21 + message.readInt32LE(21)));
  } else {
    return false;
  }
  const name = Object.keys(command)[0] ?? '';
  const reply = handler(command, name);
  if (reply === undefined) return true;
  const body = BSON.serialize(reply);
  const header = Buffer.alloc(16);
  header.writeInt32LE(requestId + 1_000_000, 4);
  header.writeInt32LE(requestId, 8);
  let rest: Buffer;
  if (opCode === OP_QUERY) {
    header.writeInt32LE(OP_REPLY, 12);
    rest = Buffer.alloc(20); // responseFlags, cursorID, startingFrom, numberReturned
    rest.writeInt32LE(1, 16);
  } else {
    header.writeInt32LE(OP_MSG, 12);
    rest = Buffer.from([0, 0, 0, 0, 0]); // flagBits, section kind 0
  }
  header.writeInt32LE(16 + rest.length + body.length, 0);
  if (!socket.destroyed) socket.write(Buffer.concat([header, rest, body]));
  return true;
}
