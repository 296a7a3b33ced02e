// Seeded random UDP datagrams (BEP 15) against the tracker's UDP endpoint: it never throws, and a datagram
// without a valid connection id never gets more bytes back than it carried (a spoofed source must not turn
// the tracker into an amplifier; a bad connection id was once answered with 3.4x the bytes received).
import { describe, expect, it } from 'vitest';
import { connectRequest, UDP_PROTOCOL_ID, UdpAction } from '../../src/tracker/protocol/udp.ts';
import { TrackerCore } from '../../src/tracker/server/core.ts';

/** xorshift32: the same datagrams on every run, so a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 2 ** 32;
  };
}

const CLIENT_IP = '192.0.2.10';
const CLIENT_PORT = 40_000;

describe('UDP endpoint under random datagrams', () => {
  it('answers a bad connection id with no more bytes than it received', async () => {
    const core = new TrackerCore({});
    const packet = Buffer.alloc(16);
    packet.writeUInt32BE(UdpAction.announce, 8); // 16 bytes: a header and a wrong connection id
    const answer = await core.udp.handle(packet, CLIENT_IP, CLIENT_PORT);
    expect(answer!.readUInt32BE(0)).toBe(UdpAction.error);
    expect(answer!.length).toBeLessThanOrEqual(packet.length);
    const badProtocol = connectRequest(7);
    badProtocol.writeUInt32BE(0, 0);
    const refused = await core.udp.handle(badProtocol, CLIENT_IP, CLIENT_PORT);
    expect(refused!.length).toBeLessThanOrEqual(badProtocol.length);
  });

  it('never throws and never amplifies, over 20,000 seeded datagrams', async () => {
    const core = new TrackerCore({});
    const next = random(0x5eed_0001);
    const connect = await core.udp.handle(connectRequest(1), CLIENT_IP, CLIENT_PORT);
    const connectionId = connect!.subarray(8, 16);
    const counts = { none: 0, error: 0, ok: 0 };
    for (let i = 0; i < 20_000; i++) {
      const length = Math.floor(next() * 220);
      const packet = Buffer.alloc(length);
      for (let at = 0; at < length; at++) packet[at] = Math.floor(next() * 256);
      const shape = next();
      let validId = false;
      if (length >= 16 && shape < 0.3) {
        connectionId.copy(packet, 0); // a real client's id, then garbage
        validId = true;
        packet.writeUInt32BE(next() < 0.5 ? UdpAction.announce : UdpAction.scrape, 8);
      } else if (length >= 16 && shape < 0.4) {
        packet.writeBigUInt64BE(UDP_PROTOCOL_ID, 0);
        packet.writeUInt32BE(UdpAction.connect, 8);
      }
      const answer = await core.udp.handle(packet, CLIENT_IP, CLIENT_PORT);
      if (answer === undefined) {
        counts.none++;
        continue;
      }
      const action = answer.readUInt32BE(0);
      expect([UdpAction.connect, UdpAction.announce, UdpAction.scrape, UdpAction.error]).toContain(action);
      if (action === UdpAction.error) counts.error++;
      else counts.ok++;
      if (!validId) expect(answer.length, `datagram ${i}`).toBeLessThanOrEqual(packet.length);
    }
    // The shapes above reach every branch: short datagrams, errors, and accepted connects/announces.
    expect(counts.none).toBeGreaterThan(0);
    expect(counts.error).toBeGreaterThan(0);
    expect(counts.ok).toBeGreaterThan(0);
  });
});
