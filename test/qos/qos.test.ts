import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { burstOf, type Flow, Qos, resolveQos } from '../../src/qos/index.ts';

const HASH_A = 'a'.repeat(40);
const HASH_B = 'b'.repeat(40);
const BLOCK = 16 * 1024;
const MB = 1_000_000;

/** A sender that always has another block: sends while the flow lets it, again on each resume. */
function saturate(qos: Qos, hash: string, address = '127.0.0.1', protocol: 'wire' | 'http' = 'wire') {
  const sender = { sent: 0, flow: null as Flow | null };
  const pump = () => {
    while (sender.flow!.take(BLOCK)) sender.sent += BLOCK;
  };
  sender.flow = qos.open(protocol, hash, address, pump);
  pump();
  return sender;
}

describe('Qos', () => {
  let qos: Qos | undefined;
  beforeEach(() => {
    vi.useFakeTimers({ now: new Date(2026, 11, 4, 12, 0, 0) });
  });
  afterEach(() => {
    qos?.stop();
    vi.useRealTimers();
  });
  const make = (settings: Record<string, unknown>) => {
    qos = new Qos(resolveQos(settings), { clock: () => Date.now() });
    return qos;
  };

  it('opens no flow when no limit is set: servers send freely', () => {
    expect(make({}).open('wire', HASH_A, '127.0.0.1', () => {})).toBeNull();
    expect(qos!.active).toBe(false);
  });

  it('holds one sender to the global rate within 1 % over 10 s', () => {
    const sender = saturate(make({ rate: 5 * MB }), HASH_A);
    const start = sender.sent;
    vi.advanceTimersByTime(10_000);
    expect((sender.sent - start) / 10).toBeGreaterThan(5 * MB * 0.99);
    expect((sender.sent - start) / 10).toBeLessThan(5 * MB * 1.01);
  });

  it('shares the global rate between wire and HTTP senders and keeps each within its protocol limit', () => {
    make({ rate: 4 * MB, httpRate: 1 * MB });
    const wire = saturate(qos!, HASH_A, '127.0.0.1', 'wire');
    const http = saturate(qos!, HASH_B, '127.0.0.2', 'http');
    vi.advanceTimersByTime(10_000);
    expect(http.sent / 10).toBeLessThan(1.02 * MB);
    expect(http.sent / 10).toBeGreaterThan(0.98 * MB);
    expect((wire.sent + http.sent) / 10).toBeGreaterThan(3.96 * MB);
    expect((wire.sent + http.sent) / 10).toBeLessThan(4.1 * MB);
  });

  it('limits each client address and each object on its own', () => {
    make({ clientRate: 1 * MB, objectRate: 3 * MB });
    const one = saturate(qos!, HASH_A, '10.0.0.1');
    const two = saturate(qos!, HASH_A, '10.0.0.2');
    const three = saturate(qos!, HASH_B, '10.0.0.3');
    const four = saturate(qos!, HASH_B, '10.0.0.3');
    vi.advanceTimersByTime(10_000);
    for (const s of [one, two]) expect(Math.abs(s.sent / 10 - MB) / MB).toBeLessThan(0.02);
    // Objects: A gets 2 clients x 1 MB/s (under its 3 MB/s); B's one client address is held to 1 MB/s in all.
    expect(Math.abs((three.sent + four.sent) / 10 - MB) / MB).toBeLessThan(0.02);
  });

  it('splits a saturated global limit 3:1 between classes weighted 3:1, and gives an idle class share away', () => {
    make({ rate: 8 * MB, classes: 'gold:3,bronze:1', objectClasses: `${HASH_A}=gold,${HASH_B}=bronze` });
    const gold = saturate(qos!, HASH_A, '10.0.0.1');
    const bronze = [saturate(qos!, HASH_B, '10.0.0.2'), saturate(qos!, HASH_B, '10.0.0.3')];
    vi.advanceTimersByTime(10_000);
    const bronzeSent = bronze[0]!.sent + bronze[1]!.sent;
    expect(gold.sent / bronzeSent).toBeGreaterThan(2.7);
    expect(gold.sent / bronzeSent).toBeLessThan(3.3);
    // Gold goes quiet: bronze takes the whole rate.
    gold.flow!.close();
    const before = bronze[0]!.sent + bronze[1]!.sent;
    vi.advanceTimersByTime(10_000);
    expect((bronze[0]!.sent + bronze[1]!.sent - before) / 10).toBeGreaterThan(7.9 * MB);
    expect(qos!.status().classes.map((c) => c.name)).toEqual(['default', 'gold', 'bronze']);
  });

  it("puts a token's subscriber in its class over the object's, and others in the object's class", () => {
    make({
      rate: 8 * MB,
      classes: 'gold:3,bronze:1',
      objectClasses: `${HASH_A}=bronze`,
      subscriberClasses: 'sip:alice@ims.example.net=gold,constructor=bronze',
    });
    const pumpOf = (sender: { sent: number; flow: Flow | null }) => () => {
      while (sender.flow!.take(BLOCK)) sender.sent += BLOCK;
    };
    const alice = { sent: 0, flow: null as Flow | null };
    alice.flow = qos!.open('http', HASH_A, '10.0.0.1', pumpOf(alice), 'sip:alice@ims.example.net');
    const bob = { sent: 0, flow: null as Flow | null };
    bob.flow = qos!.open('http', HASH_A, '10.0.0.2', pumpOf(bob), 'sip:bob@ims.example.net');
    pumpOf(alice)();
    pumpOf(bob)();
    vi.advanceTimersByTime(10_000);
    expect(alice.sent / bob.sent).toBeGreaterThan(2.7);
    expect(alice.sent / bob.sent).toBeLessThan(3.3);
    expect(alice.flow!.cls.name).toBe('gold');
    expect(bob.flow!.cls.name).toBe('bronze');
    // A subscriber named like an Object.prototype member is looked up as data, nothing else.
    expect(qos!.open('http', HASH_B, '10.0.0.3', () => {}, 'toString')!.cls.name).toBe('default');
    expect(() => qos!.update({ subscriberClasses: 'sip:carol@ims.example.net=nosuch' })).toThrow(
      /subscriberClasses.*nosuch/,
    );
    expect(() => qos!.update({ subscriberClasses: 'no subscriber=gold' })).toThrow(/not a subscriber identity/);
  });

  it('splits 3:1 between senders that await their turn (HTTP bodies), whose queues empty between sends', async () => {
    make({ rate: 8 * MB, classes: 'gold:3,bronze:1', objectClasses: `${HASH_A}=gold,${HASH_B}=bronze` });
    const sent = { gold: 0, bronze: 0 };
    let stop = false;
    const send = async (hash: string, key: 'gold' | 'bronze') => {
      const flow = qos!.open('http', hash, key)!;
      while (!stop) {
        const wait = flow.whenSendable(64 * 1024);
        if (wait) await wait;
        sent[key] += 64 * 1024;
      }
    };
    void send(HASH_A, 'gold');
    void send(HASH_B, 'bronze');
    await vi.advanceTimersByTimeAsync(5000);
    stop = true;
    expect(sent.gold / sent.bronze).toBeGreaterThan(2.7);
    expect(sent.gold / sent.bronze).toBeLessThan(3.3);
    expect((sent.gold + sent.bronze) / 5).toBeLessThan(8.2 * MB);
  });

  it('charges every bucket exactly for sends that do not wait, without reading the clock', () => {
    let clockReads = 0;
    qos = new Qos(resolveQos({ rate: 100 * MB, httpRate: 100 * MB, clientRate: 100 * MB }), {
      clock: () => {
        clockReads++;
        return Date.now();
      },
    });
    const flow = qos.open('http', HASH_A, '10.0.0.1')!;
    expect(flow.buckets).toHaveLength(3);
    vi.advanceTimersByTime(1000); // the buckets fill
    expect(flow.take(BLOCK)).toBe(true); // refills them: reads the clock
    const reads = clockReads;
    for (let i = 1; i < 10; i++) expect(flow.take(BLOCK)).toBe(true);
    expect(clockReads).toBe(reads);
    for (const bucket of flow.buckets) expect(bucket.tokens).toBe(burstOf(100 * MB) - 10 * BLOCK);
    expect(qos.status().sentBytes.http).toBe(10 * BLOCK);
    expect(qos.status().classes[0]!.sentBytes).toBe(10 * BLOCK);
  });

  it('after an idle spell lets a sender run ahead by the burst, not more, though it sent without the clock', () => {
    const rate = 100 * MB;
    const sender = { sent: 0, flow: null as Flow | null };
    make({ rate });
    sender.flow = qos!.open('wire', HASH_A, '10.0.0.1', () => {});
    vi.advanceTimersByTime(1000);
    expect(sender.flow!.take(BLOCK)).toBe(true); // a refill: the bucket full, less a block
    vi.advanceTimersByTime(10_000); // idle: its last refill 10 s ago
    // Sends without the clock first (a quarter burst), then one that refills: it must not count the 10 s
    // in full, as the bucket was full all along and the first sends went now, not 10 s ago.
    while (sender.flow!.take(BLOCK)) sender.sent += BLOCK;
    // Everything after the idle spell went at one instant: the burst, and the block that took it below zero.
    expect(sender.sent).toBeGreaterThanOrEqual(burstOf(rate) - BLOCK);
    expect(sender.sent).toBeLessThanOrEqual(burstOf(rate) + BLOCK);
  });

  it('binds a limit lowered live within a second for a sender that was sending freely', () => {
    make({ rate: 1e11 });
    const sender = { sent: 0, flow: null as Flow | null };
    sender.flow = qos!.open('http', HASH_A, '10.0.0.1', () => {});
    // 16 MB/s offered: one 16 KiB block a millisecond, each sent if the flow lets it.
    const offer = setInterval(() => {
      if (sender.flow!.take(BLOCK)) sender.sent += BLOCK;
    }, 1);
    vi.advanceTimersByTime(1000);
    expect(sender.sent).toBe(1000 * BLOCK);
    qos!.update({ rate: 1 * MB });
    const before = sender.sent;
    vi.advanceTimersByTime(1000);
    clearInterval(offer);
    // A second of 1 MB/s and the bucket's depth at most.
    expect(sender.sent - before).toBeLessThanOrEqual(1 * MB + burstOf(1 * MB) + BLOCK);
    expect(sender.sent - before).toBeGreaterThan(0.9 * MB);
  });

  it('applies a raised limit to senders already waiting, within the next refill', () => {
    const sender = saturate(make({ rate: 1 * MB }), HASH_A);
    vi.advanceTimersByTime(2000);
    qos!.update({ rate: 10 * MB });
    const before = sender.sent;
    vi.advanceTimersByTime(1000);
    expect((sender.sent - before) / MB).toBeGreaterThan(9.5);
    expect((sender.sent - before) / MB).toBeLessThan(10.8);
  });

  it('uses altRate inside altWindow and rate outside, switching at the window ends', () => {
    // 12:00 now; the window opens at 12:01 for a minute.
    make({ rate: 4 * MB, altRate: 1 * MB, altWindow: '12:01-12:02' });
    expect(qos!.status()).toMatchObject({ effectiveRate: 4 * MB, altActive: false });
    vi.advanceTimersByTime(61_000);
    expect(qos!.status()).toMatchObject({ effectiveRate: 1 * MB, altActive: true });
    vi.advanceTimersByTime(60_000);
    expect(qos!.status()).toMatchObject({ effectiveRate: 4 * MB, altActive: false });
  });

  it('forgets a waiting flow that closes, and releases the per-address buckets with the last flow', () => {
    const sender = saturate(make({ rate: 1 * MB }), HASH_A);
    expect(qos!.status().waitingFlows).toBe(1);
    sender.flow!.close();
    expect(qos!.status().waitingFlows).toBe(0);
    vi.advanceTimersByTime(1000);
  });

  it('refuses settings it cannot apply, naming the field, and keeps the ones in effect', () => {
    make({ rate: MB });
    expect(() => qos!.update({ rate: -1 })).toThrow(/qos rate/);
    expect(() => qos!.update({ objectClasses: `${HASH_A}=nosuch` })).toThrow(/nosuch/);
    expect(() => qos!.update({ altWindow: '25:00-26:00' })).toThrow(/altWindow/);
    expect(() => qos!.update({ speed: 1 })).toThrow(/not a QoS setting/);
    expect(qos!.settings.rate).toBe(MB);
    expect(resolveQos({ rate: '5MiB', classes: 'gold:3:10MB' })).toMatchObject({
      rate: 5 * 1024 * 1024,
      classes: [{ name: 'gold', weight: 3, rate: 10 * MB }],
    });
  });
});
