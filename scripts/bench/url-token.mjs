// Cost of the signed URL token check per request (src/auth UrlGate.check), as built (dist/): a token seen
// before (remembered: a lookup), a new token each time (parse + HMAC-SHA256), and a refused one (bad
// signature). Prints ns per check, median of RUNS runs of N checks each.
// usage: node scripts/bench/url-token.mjs   env: N=200000 RUNS=5
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeyRing, signToken, UrlGate } from '../../dist/src/auth/index.js';

const N = Number(process.env.N ?? 200_000);
const RUNS = Number(process.env.RUNS ?? 5);
const dir = await mkdtemp(join(tmpdir(), 'edgepeer-bench-token-'));
await writeFile(join(dir, 'k'), 'ab'.repeat(32));
const keys = await KeyRing.load([{ id: 'k1', file: join(dir, 'k') }]);
const key = keys.get('k1');
const gate = new UrlGate({ keys });
const path = `/objects/${'ab'.repeat(20)}/movie.mp4`;
const exp = Math.floor(Date.now() / 1000) + 3600;
const same = signToken({ expires: exp, paths: [`/objects/${'ab'.repeat(20)}/`], keyId: 'k1' }, key);
// Distinct tokens (distinct expiries), more than the gate remembers, so each costs an HMAC.
const fresh = Array.from({ length: 8192 }, (_, i) =>
  signToken({ expires: exp + i, paths: [`/objects/${'ab'.repeat(20)}/`], keyId: 'k1' }, key),
);
const bad = same.replace(/.$/, same.endsWith('0') ? '1' : '0');

function measure(name, target) {
  const results = [];
  for (let run = 0; run < RUNS; run += 1) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < N; i += 1) target(i);
    results.push(Number(process.hrtime.bigint() - start) / N);
  }
  results.sort((a, b) => a - b);
  console.log(`${name.padEnd(34)} ${results[Math.floor(RUNS / 2)].toFixed(0).padStart(6)} ns/check`);
}

measure('remembered token (query)', () => gate.check(`${path}?__token__=${same}`, undefined, undefined, '127.0.0.1'));
measure('new token each time (HMAC)', (i) =>
  gate.check(`${path}?__token__=${fresh[i & 8191]}`, undefined, undefined, '127.0.0.1'),
);
measure('tampered token (refused)', () => gate.check(`${path}?__token__=${bad}`, undefined, undefined, '127.0.0.1'));
await rm(dir, { recursive: true, force: true });
