import { describe, expect, it } from 'vitest';
import {
  decodeObject,
  decodePiecesRemoved,
  encodeObject,
  encodePiecesAdded,
  encodePiecesRemoved,
  RecordType,
  readFrames,
} from '../../src/store/records.ts';

const infoHash = 'ab'.repeat(20);

describe('index records', () => {
  it('round-trips an object record, including unicode names and no TTL', () => {
    const record = {
      infoHash,
      name: 'vidéo 🎬.mp4',
      pieceLength: 262_144,
      pieceCount: 9,
      length: 2_300_000,
      addedAt: 1_700_000_000_123,
      expiresAt: null,
      source: 'https://origin.example/v.mp4',
      bitfield: Buffer.from([0xff, 0x80]),
    };
    const { frames } = readFrames(encodeObject(record));
    expect(frames).toHaveLength(1);
    expect(frames[0]!.type).toBe(RecordType.object);
    expect({ ...decodeObject(frames[0]!.payload), bitfield: record.bitfield }).toEqual(record);
    expect([...decodeObject(frames[0]!.payload).bitfield]).toEqual([0xff, 0x80]);
  });

  it('stops at a torn tail and at a flipped byte, reporting where the intact log ends', () => {
    const first = encodePiecesAdded({ infoHash, pieceIndexes: [1, 2, 3] });
    const second = encodePiecesRemoved({ infoHash, pieceIndexes: [2], reason: 'corrupt' });
    const log = Buffer.concat([first, second]);
    expect(readFrames(log).frames).toHaveLength(2);
    expect(readFrames(log).validEnd).toBe(log.length);

    const torn = log.subarray(0, log.length - 3);
    expect(readFrames(torn)).toMatchObject({ validEnd: first.length });
    expect(readFrames(torn).frames).toHaveLength(1);

    const flipped = Buffer.from(log);
    flipped[first.length + 12]! ^= 0x01;
    expect(readFrames(flipped).validEnd).toBe(first.length);

    const removed = decodePiecesRemoved(readFrames(log).frames[1]!.payload);
    expect(removed).toEqual({ infoHash, pieceIndexes: [2], reason: 'corrupt' });
  });

  it('treats an absurd length as the end of the log rather than allocating it', () => {
    const garbage = Buffer.alloc(32, 0xff);
    expect(readFrames(garbage)).toEqual({ frames: [], validEnd: 0 });
  });
});
