// Driver of hash.sh: hashes one file with edgepeer's pool, as built (dist/), and prints one line of JSON.
// usage: node scripts/bench/hash-files.mjs FILE PIECE_LENGTH THREADS
// `callSeconds` times hashFiles alone, once the pool's threads have started (what a running agent pays);
// the process as a whole (Node start-up, pool start-up, exit) is timed from outside by hash.sh.
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { allocSharedBuffer, createHashPool } from '../../dist/src/hashing/index.js';

const [file, pieceLengthArg, threadsArg] = process.argv.slice(2);
if (file === undefined) throw new Error('usage: hash-files.mjs FILE PIECE_LENGTH THREADS');
const pieceLength = Number(pieceLengthArg ?? 1 << 20);
const threads = Number(threadsArg ?? 2);
const { size } = await stat(file);

const pool = createHashPool({ threads });
// One task per thread, at once: returns when every thread has loaded the worker module.
const probe = allocSharedBuffer(1 << 20);
await Promise.all(Array.from({ length: threads }, () => pool.sha1(probe)));

const started = process.hrtime.bigint();
const digests = await pool.hashFiles([{ path: file, length: size }], pieceLength);
const callSeconds = Number(process.hrtime.bigint() - started) / 1e9;
await pool.close();

console.log(
  JSON.stringify({
    bytes: size,
    pieces: digests.length / 20,
    callSeconds,
    // Compared with the `pieces` string of mktorrent's torrent of the same file.
    piecesSha1: createHash('sha1').update(digests).digest('hex'),
  }),
);
