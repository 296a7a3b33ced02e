// Property: whatever bytes parseTorrent is given, it either returns metainfo that holds together or throws
// a MetainfoError: never a TypeError, a RangeError, a hang or a crash. Inputs are random mutations of a
// valid torrent, both of its bytes and of its decoded structure, from a fixed seed so failures replay.
import { createHash } from 'node:crypto';
import bencode, { type BencodeValue } from 'bencode';
import { describe, expect, it } from 'vitest';
import { MetainfoError } from '../../src/errors/index.ts';
import { buildMetainfo, encodeTorrent, type Metainfo, parseTorrent } from '../../src/metainfo/index.ts';
import { contentBytes, pieceHashesOf } from './helpers.ts';

const content = contentBytes(70_000, 9);
const valid = encodeTorrent(
  buildMetainfo({
    name: 'set',
    pieceLength: 16_384,
    multiFile: true,
    files: [
      { path: ['a', 'x.bin'], length: 30_000 },
      { path: ['empty'], length: 0 },
      { path: ['b.bin'], length: 40_000 },
    ],
    pieceHashes: pieceHashesOf(content, 16_384),
    announceList: [['http://t/a'], ['http://t/b']],
    urlList: ['http://seed/'],
    comment: 'c',
    creationDate: 1,
  }),
);

/** A small seeded generator (mulberry32), so every run tries the same inputs. */
function randomSource(seed: number): (below: number) => number {
  let state = seed;
  return (below) => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * below);
  };
}

const INTERESTING_BYTES = [...'0123456789:-deil'].map((character) => character.charCodeAt(0)).concat([0, 0xff, 0x2f]);

function mutateBytes(data: Buffer, random: (below: number) => number): Buffer {
  const bytes = [...data];
  const mutations = 1 + random(4);
  for (let i = 0; i < mutations; i++) {
    const at = random(bytes.length + 1);
    switch (random(6)) {
      case 0:
        bytes[at] = random(256);
        break;
      case 1:
        bytes[at] = INTERESTING_BYTES[random(INTERESTING_BYTES.length)]!;
        break;
      case 2:
        bytes.splice(at, 1 + random(8));
        break;
      case 3:
        bytes.splice(at, 0, ...bytes.slice(random(bytes.length), random(bytes.length)).slice(0, 64));
        break;
      case 4:
        bytes.length = at;
        break;
      default:
        bytes.splice(at, 0, INTERESTING_BYTES[random(INTERESTING_BYTES.length)]!);
    }
  }
  return Buffer.from(bytes);
}

const REPLACEMENTS: BencodeValue[] = [
  0,
  -1,
  1,
  2 ** 40,
  Number.MAX_SAFE_INTEGER,
  new Uint8Array(0),
  Buffer.from('..'),
  Buffer.from('a/b'),
  Buffer.from([0xff, 0xfe]),
  Buffer.alloc(20),
  Buffer.alloc(19),
  [],
  [Buffer.from('x')],
  [[]],
  {},
  { length: 1 },
  { path: [Buffer.from('p')] },
];

/** Replaces one random node of the decoded torrent, deletes it, or adds a key, then re-encodes. */
function mutateStructure(data: Buffer, random: (below: number) => number): Buffer {
  const root = bencode.decode(data);
  const containers: { holder: Record<string, BencodeValue> | BencodeValue[]; key: string | number }[] = [];
  const visit = (value: BencodeValue): void => {
    if (Array.isArray(value)) {
      value.forEach((item, index) => {
        containers.push({ holder: value, key: index });
        visit(item);
      });
    } else if (typeof value === 'object' && !(value instanceof Uint8Array)) {
      for (const key of Object.keys(value)) {
        containers.push({ holder: value, key });
        visit(value[key]!);
      }
    }
  };
  visit(root);
  const target = containers[random(containers.length)]!;
  const replacement = REPLACEMENTS[random(REPLACEMENTS.length)]!;
  const holder = target.holder as Record<string | number, BencodeValue | undefined>;
  switch (random(3)) {
    case 0:
      holder[target.key] = undefined;
      break;
    case 1:
      if (!Array.isArray(target.holder)) holder[['private', 'files', 'length', 'name.utf-8'][random(4)]!] = replacement;
      break;
    default:
      holder[target.key] = replacement;
  }
  return Buffer.from(bencode.encode(root));
}

function expectCoherent(metainfo: Metainfo): void {
  expect(metainfo.infoHash).toBe(createHash('sha1').update(metainfo.info).digest('hex'));
  expect(metainfo.pieceHashes.length).toBe(metainfo.pieceCount * 20);
  expect(metainfo.pieceCount).toBe(Math.ceil(metainfo.length / metainfo.pieceLength));
  let offset = 0;
  for (const file of metainfo.files) {
    expect(file.offset).toBe(offset);
    expect(Number.isSafeInteger(file.length) && file.length >= 0).toBe(true);
    offset += file.length;
  }
  expect(offset).toBe(metainfo.length);
  expect(parseTorrent(encodeTorrent(metainfo))).toEqual(metainfo);
}

function check(data: Buffer): 'accepted' | 'rejected' {
  try {
    expectCoherent(parseTorrent(data, 'fuzz'));
    return 'accepted';
  } catch (err) {
    if (!(err instanceof MetainfoError)) {
      throw new Error(`not a MetainfoError for input ${data.toString('base64')}: ${String(err)}`, { cause: err });
    }
    expect(err.message).toMatch(/^fuzz: ./);
    return 'rejected';
  }
}

describe('parseTorrent on mutated torrents', () => {
  it('accepts the unmutated torrent', () => {
    expect(check(valid)).toBe('accepted');
  });

  it('gives metainfo or a MetainfoError for byte mutations', () => {
    const random = randomSource(0x5eed);
    const outcomes = { accepted: 0, rejected: 0 };
    for (let i = 0; i < 4000; i++) outcomes[check(mutateBytes(valid, random))]++;
    // Both sides must be exercised, or the mutations are too weak (or too strong) to test anything.
    expect(outcomes.accepted).toBeGreaterThan(50);
    expect(outcomes.rejected).toBeGreaterThan(1000);
  });

  it('gives metainfo or a MetainfoError for structural mutations', () => {
    const random = randomSource(0xbe7c0de);
    const outcomes = { accepted: 0, rejected: 0 };
    for (let i = 0; i < 2000; i++) outcomes[check(mutateStructure(valid, random))]++;
    expect(outcomes.accepted).toBeGreaterThan(50);
    expect(outcomes.rejected).toBeGreaterThan(500);
  });
});
