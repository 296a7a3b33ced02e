import { describe, expect, it } from 'vitest';
import { TOP_UP_WINDOW_MS, TopUpMeter } from '../../src/wire/top-up.ts';

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
