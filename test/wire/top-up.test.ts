import { describe, expect, it } from 'vitest';
import { TOP_UP_WINDOW_MS, TopUpMeter } from '../../src/wire/top-up.ts';

const KiB = 1024;
const BLOCK = 16 * KiB;

describe('TopUpMeter (storageControl.topUpRate)', () => {
  it('lets the edge send a leecher the whole top-up rate while nothing comes from elsewhere', () => {
    const meter = new TopUpMeter(256 * KiB); // 512 KiB per 2 s window: 32 blocks
    let admitted = 0;
    while (meter.admit(1000, BLOCK, admitted * BLOCK)) admitted++;
    expect(admitted).toBe(32);
  });

  it('gives the leecher only what its other peers do not: pieces it completed beyond what the edge sent', () => {
    const meter = new TopUpMeter(256 * KiB);
    // The edge sent 64 KiB; the leecher announced 320 KiB of pieces in the window: 256 KiB came from others.
    meter.sent(1000, 64 * KiB);
    meter.completed(1100, 320 * KiB);
    expect(meter.othersRate(1200)).toBe(128 * KiB);
    expect(meter.allowance(1200)).toBe(128 * KiB);
    // 256 KiB per window allowed, 64 KiB sent: 12 more blocks.
    let admitted = 0;
    while (meter.admit(1200, BLOCK, admitted * BLOCK)) admitted++;
    expect(admitted).toBe(12);
  });

  it('refuses everything while others give the full rate, and serves again once they stop', () => {
    const meter = new TopUpMeter(256 * KiB);
    meter.completed(1000, 512 * KiB);
    expect(meter.allowance(1000)).toBe(0);
    expect(meter.admit(1000, BLOCK, 0)).toBe(false);
    // The window passes with nothing more from others.
    expect(meter.admit(1000 + TOP_UP_WINDOW_MS + 1, BLOCK, 0)).toBe(true);
  });

  it('forgets what fell out of the window, slot by slot', () => {
    const meter = new TopUpMeter(1024 * KiB);
    meter.completed(0, 400 * KiB);
    meter.completed(1500, 400 * KiB);
    expect(meter.othersRate(1600)).toBe(400 * KiB);
    expect(meter.othersRate(2100)).toBe(200 * KiB); // the first 400 KiB are older than the window
  });
});
