import { describe, expect, it } from 'vitest';
import { Choker, type ChokerOptions } from '../../src/wire/index.ts';

class FakePeer {
  readonly name: string;
  choked = true;
  changes: boolean[] = [];
  constructor(name: string) {
    this.name = name;
  }
  setChoked(choked: boolean): void {
    this.choked = choked;
    this.changes.push(choked);
  }
}

function setup(options: Partial<ChokerOptions<FakePeer>>, count: number) {
  const choker = new Choker<FakePeer>(
    { uploadSlots: 2, optimisticSlots: 0, slotQuantumMs: 100, optimisticIntervalMs: 300, random: () => 0, ...options },
    0,
  );
  const peers = [...Array(count).keys()].map((i) => new FakePeer(`p${i}`));
  const unchoked = () =>
    peers
      .filter((p) => !p.choked)
      .map((p) => p.name)
      .sort();
  return { choker, peers, unchoked };
}

describe('Choker', () => {
  it('unchokes interested peers at once while slots are free, then queues the rest', () => {
    const { choker, peers, unchoked } = setup({}, 3);
    for (const p of peers) choker.setInterested(p, true, 0);
    expect(unchoked()).toEqual(['p0', 'p1']);
    expect(choker.stats()).toMatchObject({ regular: 2, waiting: 1 });
  });

  it('rotates a slot to the longest-waiting peer once its quantum is up, and not before', () => {
    const { choker, peers, unchoked } = setup({}, 4);
    for (const [i, p] of peers.entries()) choker.setInterested(p, true, i);
    choker.tick(99);
    expect(unchoked()).toEqual(['p0', 'p1']);
    choker.tick(100);
    expect(unchoked()).toEqual(['p1', 'p2']);
    choker.tick(200);
    // p1 (unchoked at 1) and p2 (at 100) are both done; p3 and then p0 waited longest.
    expect(unchoked()).toEqual(['p0', 'p3']);
    choker.tick(300);
    expect(unchoked()).toEqual(['p1', 'p2']);
    expect(choker.stats().rotations).toBe(5);
  });

  it('lets a peer that yields its slot (top-up: fed by other peers) go at the next tick, before its quantum', () => {
    const fed = new Set<string>();
    const { choker, peers, unchoked } = setup({ slotQuantumMs: 30_000, yieldsSlot: (p) => fed.has(p.name) }, 3);
    for (const [i, p] of peers.entries()) choker.setInterested(p, true, i);
    choker.tick(10);
    expect(unchoked()).toEqual(['p0', 'p1']);
    fed.add('p0');
    choker.tick(20);
    expect(unchoked()).toEqual(['p1', 'p2']);
    // p2 is fed too: it yields to p0, the one waiting (a fed peer still gets its turns, as with the quantum).
    fed.add('p2');
    choker.tick(30);
    expect(unchoked()).toEqual(['p0', 'p1']);
  });

  it('keeps peers unchoked when nobody waits', () => {
    const { choker, peers } = setup({}, 2);
    for (const p of peers) choker.setInterested(p, true, 0);
    choker.tick(10_000);
    expect(peers.map((p) => p.changes)).toEqual([[false], [false]]);
  });

  it('refills a slot at once when its peer leaves or loses interest, without choking the gone peer', () => {
    const { choker, peers, unchoked } = setup({ uploadSlots: 1 }, 3);
    for (const p of peers) choker.setInterested(p, true, 0);
    choker.remove(peers[0]!, 1);
    expect(unchoked()).toEqual(['p0', 'p1']); // p0 is gone: nothing is sent to it
    expect(peers[0]!.changes).toEqual([false]);
    choker.setInterested(peers[1]!, false, 2);
    expect(peers[1]!.choked).toBe(true);
    expect(peers[2]!.choked).toBe(false);
  });

  it('gives the optimistic slot to a random waiting peer and rotates it on its own clock', () => {
    let next = 0;
    const { choker, peers, unchoked } = setup({ uploadSlots: 1, optimisticSlots: 1, random: () => next }, 4);
    for (const p of peers) choker.setInterested(p, true, 0);
    // p0 takes the regular slot, p1 (the only one waiting then) the free optimistic slot.
    expect(unchoked()).toEqual(['p0', 'p1']);
    choker.tick(299);
    expect(unchoked()).toEqual(['p1', 'p2']); // regular quantum (100) is up: p0 -> p2; optimistic not yet
    next = 0.99;
    choker.tick(300);
    // The optimistic clock (300) is up: p1 out; the pick avoids p1 and takes the last of [p3, p0].
    expect(unchoked()).toEqual(['p0', 'p2']);
    expect(choker.stats()).toMatchObject({ regular: 1, optimistic: 1, waiting: 2 });
  });

  it('ignores repeated interest and peers it does not know', () => {
    const { choker, peers } = setup({ uploadSlots: 1 }, 2);
    choker.setInterested(peers[0]!, true, 0);
    choker.setInterested(peers[0]!, true, 1);
    choker.setInterested(peers[1]!, false, 1);
    choker.remove(peers[1]!, 2);
    expect(peers[0]!.changes).toEqual([false]);
    expect(peers[1]!.changes).toEqual([]);
  });
});
