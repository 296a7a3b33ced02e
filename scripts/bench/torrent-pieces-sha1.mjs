// Prints the SHA-1 of a .torrent's `pieces` string (to compare piece digests of two tools).
// usage: node scripts/bench/torrent-pieces-sha1.mjs FILE.torrent
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import bencode from 'bencode';

const torrent = bencode.decode(readFileSync(process.argv[2]));
console.log(createHash('sha1').update(torrent.info.pieces).digest('hex'));
