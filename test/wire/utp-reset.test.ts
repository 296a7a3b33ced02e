import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { createPeerWireServer, type PeerWireServer } from '../../src/wire/index.ts';
import { resetForSyn } from '../../src/wire/utp-reset.ts';
import { MemoryStore, pieceCacheOf } from './helpers.ts';

/** A uTP header (BEP 29): type and version, extension, connection id, timestamps, window, seq_nr, ack_nr. */
function utpPacket(type: number, connectionId: number, seqNr: number, extra = 0): Buffer {
  const packet = Buffer.alloc(20 + extra);
  packet[0] = (type << 4) | 1;
  packet.writeUInt16BE(connectionId, 2);
  packet.writeUInt32BE(123_456, 4);
  packet.writeUInt32BE(1_048_576, 12);
  packet.writeUInt16BE(seqNr, 16);
  return packet;
}

const servers: PeerWireServer[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close(0);
});

describe('uTP resets', () => {
  it('answers a SYN with a 20-byte ST_RESET for its connection, acknowledging its sequence number', () => {
    const reset = resetForSyn(utpPacket(4, 0xbeef, 777))!;
    expect(reset.length).toBe(20);
    expect(reset[0]).toBe((3 << 4) | 1);
    expect(reset.readUInt16BE(2)).toBe(0xbeef);
    expect(reset.readUInt16BE(18)).toBe(777);
  });

  it('answers nothing else: data, state, FIN, reset, another version, a short datagram', () => {
    for (const type of [0, 1, 2, 3]) expect(resetForSyn(utpPacket(type, 1, 1))).toBeNull();
    const otherVersion = utpPacket(4, 1, 1);
    otherVersion[0] = (4 << 4) | 2;
    expect(resetForSyn(otherVersion)).toBeNull();
    expect(resetForSyn(utpPacket(4, 1, 1).subarray(0, 19))).toBeNull();
    expect(resetForSyn(Buffer.from('d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe'))).toBeNull();
  });

  it('resets a uTP connection attempt on the peer port, so the client goes to TCP at once', async () => {
    const store = new MemoryStore();
    const server = createPeerWireServer({ store, cache: pieceCacheOf(store), port: 0, host: '127.0.0.1' });
    servers.push(server);
    const { port } = await server.listen();
    const client = createSocket('udp4');
    await new Promise<void>((resolve) => client.bind(0, '127.0.0.1', resolve));
    try {
      const answered = once(client, 'message');
      client.send(utpPacket(4, 4242, 99), port, '127.0.0.1');
      const [reset] = (await answered) as [Buffer];
      expect(reset.length).toBe(20);
      expect(reset[0]! >> 4).toBe(3);
      expect(reset.readUInt16BE(2)).toBe(4242);
      expect(server.stats().utpResets).toBe(1);
    } finally {
      client.close();
    }
  });
});
