import { describe, expect, it } from 'vitest';
import { AllowList } from '../../src/peer-auth/index.ts';

const HASH = 'a'.repeat(40);
const OTHER = 'b'.repeat(40);

describe('allow-list', () => {
  it('names the subscriber of (address, info hash) until its TTL runs out; renewals extend it', () => {
    let now = 1_000_000;
    const list = new AllowList(60_000, () => now);
    list.grant('192.0.2.7', HASH, 'sip:alice@ims.example');
    expect(list.lookup('192.0.2.7', HASH)).toBe('sip:alice@ims.example');
    expect(list.lookup('::ffff:192.0.2.7', HASH)).toBe('sip:alice@ims.example');
    expect(list.lookup('192.0.2.7', OTHER)).toBeUndefined();
    expect(list.lookup('192.0.2.8', HASH)).toBeUndefined();
    now += 59_999;
    expect(list.lookup('192.0.2.7', HASH)).toBe('sip:alice@ims.example');
    const version = list.version;
    list.grant('192.0.2.7', HASH, 'sip:alice@ims.example');
    expect(list.version).toBe(version); // a renewal is not news
    now += 59_999;
    expect(list.lookup('192.0.2.7', HASH)).toBe('sip:alice@ims.example');
    now += 1;
    expect(list.lookup('192.0.2.7', HASH)).toBeUndefined();
    expect(list.size).toBe(1);
    expect(list.prune()).toBe(1);
    expect(list.size).toBe(0);
    expect(list.snapshot().entries).toEqual([]);
  });

  it('hands its entries to a copy, which answers alike', () => {
    const now = 5_000;
    const tracker = new AllowList(1000, () => now);
    tracker.grant('2001:DB8::1', HASH, 'sip:bob@ims.example');
    tracker.grant('198.51.100.1', OTHER, 'tel:+15551234');
    const copy = new AllowList(1, () => now);
    copy.replace(tracker.snapshot());
    expect(copy.version).toBe(tracker.version);
    expect(copy.size).toBe(2);
    expect(copy.lookup('2001:db8::1', HASH)).toBe('sip:bob@ims.example');
    expect(copy.lookup('198.51.100.1', OTHER)).toBe('tel:+15551234');
  });

  it('wakes a long poll when an entry is added, not before', async () => {
    const list = new AllowList(60_000);
    let woken = false;
    const waiting = list.wait(list.version, 10_000).then(() => {
      woken = true;
    });
    await Promise.resolve();
    expect(woken).toBe(false);
    list.grant('192.0.2.9', HASH, 'sip:carol@ims.example');
    await waiting;
    expect(woken).toBe(true);
    await list.wait(list.version - 1, 10_000); // behind already: at once
  });
});
