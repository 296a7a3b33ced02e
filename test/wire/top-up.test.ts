import { describe, expect, it } from 'vitest';
import { TOP_UP_WINDOW_MS, TopUpLedger, TopUpMeter } from '../../src/wire/top-up.ts';

const KiB = 1024;
const BLOCK = 16 * KiB;

/** Blocks the meter lets out at `now`, each counted as sent. */
function sendable(meter: TopUpMeter, now: number): number {
  let sent = 0;
  while (meter.maySend(now, BLOCK)) {
    meter.sent(now, BLOCK);
    sent++;
  }
  return sent;
}

describe('TopUpMeter (storageControl.topUpRate)', () => {
  it('lets the edge send a leecher the whole top-up rate while nothing comes from elsewhere', () => {
    const meter = new TopUpMeter(256 * KiB); // 512 KiB per 2 s window: 32 blocks
    expect(sendable(meter, 1000)).toBe(32);
  });

  it('gives the leecher only what its other peers do not: pieces it completed beyond what the edge sent', () => {
    const meter = new TopUpMeter(256 * KiB);
    // The edge sent 64 KiB; the leecher announced 320 KiB of pieces in the window: 256 KiB came from others.
    meter.sent(1000, 64 * KiB);
    meter.completed(1100, 320 * KiB);
    expect(meter.othersRate(1200)).toBe(128 * KiB);
    expect(meter.allowance(1200)).toBe(128 * KiB);
    // 256 KiB per window allowed, 64 KiB sent: 12 more blocks (each sent lowers what came from others).
    expect(sendable(meter, 1200)).toBeGreaterThanOrEqual(12);
  });

  it('sends nothing while others give the full rate, and sends again once they stop', () => {
    const meter = new TopUpMeter(256 * KiB);
    meter.completed(1000, 512 * KiB);
    expect(meter.allowance(1000)).toBe(0);
    expect(meter.maySend(1000, BLOCK)).toBe(false);
    // The window passes with nothing more from others.
    expect(meter.maySend(1000 + TOP_UP_WINDOW_MS + 1, BLOCK)).toBe(true);
  });

  it('forgets what fell out of the window, slot by slot', () => {
    const meter = new TopUpMeter(1024 * KiB);
    meter.completed(0, 400 * KiB);
    meter.completed(1500, 400 * KiB);
    expect(meter.othersRate(1600)).toBe(400 * KiB);
    expect(meter.othersRate(2100)).toBe(200 * KiB); // the first 400 KiB are older than the window
  });
});

describe('TopUpLedger (top-up over HTTP, by client address and object)', () => {
  const A = 'a'.repeat(40);
  const B = 'b'.repeat(40);

  /** Chunks of `size` the ledger lets out to (address, object) at the clock's time, each counted as sent. */
  function chunks(ledger: TopUpLedger, address: string, infoHash: string, size = BLOCK): number {
    let sent = 0;
    while (ledger.maySend(address, infoHash, size) && sent < 1000) {
      ledger.sent(address, infoHash, size);
      sent++;
    }
    return sent;
  }

  it('gives an address the wire never saw the whole top-up rate, per object', () => {
    let now = 1000;
    const ledger = new TopUpLedger(256 * KiB, () => now);
    expect(chunks(ledger, '192.0.2.1', A)).toBe(32);
    expect(chunks(ledger, '192.0.2.1', B)).toBe(32); // another object: its own rate
    expect(chunks(ledger, '192.0.2.2', A)).toBe(32); // another address: its own rate
    now += TOP_UP_WINDOW_MS + 1;
    expect(chunks(ledger, '192.0.2.1', A)).toBe(32);
  });

  it('does not pace an object storage control says this edge is the only source of, until told again', () => {
    const now = 1000;
    const ledger = new TopUpLedger(256 * KiB, () => now);
    ledger.setPaced(A, false);
    expect(ledger.paces(A)).toBe(false);
    expect(chunks(ledger, '192.0.2.1', A)).toBe(1000); // as many as asked: no pacing
    expect(chunks(ledger, '192.0.2.1', B)).toBe(32); // another object: paced
    ledger.setPaced(A, true);
    expect(chunks(ledger, '192.0.2.2', A)).toBe(32);
  });

  it("counts the wire's HAVEs and the bytes sent over both: others' bytes lower what HTTP may send", () => {
    const now = 1000;
    const ledger = new TopUpLedger(256 * KiB, () => now);
    const detach = ledger.attach('192.0.2.1', A);
    // The wire sent 64 KiB; the leecher announced 320 KiB: 256 KiB (128 KiB/s) came from its peers.
    ledger.sent('192.0.2.1', A, 64 * KiB);
    ledger.completed('192.0.2.1', A, 320 * KiB);
    expect(ledger.othersRate('192.0.2.1', A)).toBe(128 * KiB);
    expect(chunks(ledger, '192.0.2.1', A)).toBeGreaterThanOrEqual(12);
    expect(chunks(ledger, '192.0.2.1', A)).toBe(0);
    // Peers giving the whole rate: nothing at all.
    ledger.completed('192.0.2.1', A, 2048 * KiB);
    expect(ledger.maySend('192.0.2.1', A, BLOCK)).toBe(false);
    detach();
  });

  it('gives an address the rate once per leecher the wire sees there, and knows ::ffff:-mapped IPv4', () => {
    const now = 1000;
    const ledger = new TopUpLedger(256 * KiB, () => now);
    const detach = [ledger.attach('198.51.100.7', A), ledger.attach('198.51.100.7', A)];
    expect(chunks(ledger, '::ffff:198.51.100.7', A)).toBe(64);
    for (const d of detach) d();
  });

  it('lets one chunk larger than a window go when nothing else was sent, so a low rate still moves', () => {
    let now = 1000;
    const ledger = new TopUpLedger(16 * KiB, () => now); // 32 KiB per window
    expect(ledger.maySend('192.0.2.1', A, 64 * KiB)).toBe(true);
    ledger.sent('192.0.2.1', A, 64 * KiB);
    expect(ledger.maySend('192.0.2.1', A, 64 * KiB)).toBe(false);
    now += TOP_UP_WINDOW_MS + 1;
    expect(ledger.maySend('192.0.2.1', A, 64 * KiB)).toBe(true);
  });

  it('forgets addresses with no connection and nothing in the window', () => {
    let now = 1000;
    const ledger = new TopUpLedger(256 * KiB, () => now);
    ledger.sent('192.0.2.1', A, BLOCK);
    const detach = ledger.attach('192.0.2.2', A);
    now += 2 * TOP_UP_WINDOW_MS + 1;
    ledger.sent('192.0.2.3', A, BLOCK); // a new entry sweeps the old ones
    expect(ledger.size).toBe(2); // 192.0.2.2 (connected) and 192.0.2.3
    detach();
  });
});
