import { describe, expect, it } from 'vitest';
import { Bitfield, countSetBits } from '../../src/store/index.ts';

describe('Bitfield', () => {
  it('uses BitTorrent bit order: piece 0 is the high bit of byte 0', () => {
    const bitfield = new Bitfield(10);
    bitfield.set(0);
    bitfield.set(9);
    expect([...bitfield.toBuffer()]).toEqual([0b1000_0000, 0b0100_0000]);
    expect(bitfield.get(0)).toBe(true);
    expect(bitfield.get(1)).toBe(false);
    expect(bitfield.get(9)).toBe(true);
    expect(bitfield.count()).toBe(2);
  });

  it('keeps the count through set, clear and repeated set', () => {
    const bitfield = new Bitfield(20);
    expect(bitfield.set(3)).toBe(true);
    expect(bitfield.set(3)).toBe(false);
    expect(bitfield.set(3, false)).toBe(true);
    expect(bitfield.set(3, false)).toBe(false);
    expect(bitfield.count()).toBe(0);
    bitfield.setAll();
    expect(bitfield.count()).toBe(20);
    expect(bitfield.isComplete()).toBe(true);
  });

  it('leaves spare bits zero when every piece is set', () => {
    const bitfield = Bitfield.full(11);
    expect([...bitfield.toBuffer()]).toEqual([0xff, 0b1110_0000]);
    expect(bitfield.indexes(false)).toEqual([]);
  });

  it('refuses wire bitfields of the wrong size or with spare bits set', () => {
    expect(() => Bitfield.fromBuffer(Buffer.from([0xff]), 9)).toThrow(/must be 2 bytes/);
    expect(() => Bitfield.fromBuffer(Buffer.from([0xff, 0b0100_0000]), 9)).toThrow(/spare bits/);
    const parsed = Bitfield.fromBuffer(Buffer.from([0b1010_0000, 0b1000_0000]), 9);
    expect(parsed.indexes()).toEqual([0, 2, 8]);
    expect(parsed.count()).toBe(3);
  });

  it('answers false for indexes out of range and refuses to set them', () => {
    const bitfield = Bitfield.full(4);
    expect(bitfield.get(4)).toBe(false);
    expect(bitfield.get(-1)).toBe(false);
    expect(bitfield.get(1.5)).toBe(false);
    expect(() => bitfield.set(4)).toThrow(/out of range/);
  });

  it('hands out copies, not its own bytes', () => {
    const bitfield = new Bitfield(8);
    bitfield.toBuffer()[0] = 0xff;
    expect(bitfield.count()).toBe(0);
  });
});

describe("countSetBits (a peer's pieces from its bitfield as grown by haves)", () => {
  it('counts the first `length` bits in wire order, none beyond, none for missing bytes', () => {
    expect(countSetBits(Uint8Array.of(0xff, 0xff), 10)).toBe(10);
    expect(countSetBits(Uint8Array.of(0b1010_0000, 0b0100_0000), 10)).toBe(3);
    expect(countSetBits(Uint8Array.of(0x00, 0b0011_1111), 10)).toBe(0);
    expect(countSetBits(Uint8Array.of(0xff), 20)).toBe(8);
    expect(countSetBits(Uint8Array.of(0xff, 0xff, 0xff), 16)).toBe(16);
    expect(countSetBits(new Uint8Array(0), 5)).toBe(0);
  });
});
